//! At-least-once delivery: domain events written but not delivered when the server dies are
//! delivered after it restarts, and delivering every event again changes nothing: one
//! payment, one sale, one set of tickets, one mail, one notification each.
use reqwest::StatusCode;
use serde_json::json;

use boxoffice::payments::{store, WebhookBody};

use crate::helpers::User;
use crate::helpers::{eventually, expect_json, fresh_db_name, server_url, Server, TestApp};
use crate::payments::check_out;

async fn all_delivered(app: &TestApp) {
    app.wait_for_count(
        20,
        "SELECT count(*) FROM outbox WHERE delivered_at IS NULL",
        0,
    )
    .await;
}

#[actix_web::test]
async fn undelivered_events_are_delivered_after_a_restart_and_redelivery_changes_nothing() {
    delivered_once_across_kill_9(&[]).await;
}

/// On JetStream, the rows a crash left unmarked are published again after the restart; the
/// stream's duplicate window drops them, and the consumers change nothing besides.
#[actix_web::test]
async fn on_jetstream_a_crash_before_the_mark_republishes_and_changes_nothing() {
    let streams = crate::bus::Streams::new();
    let prefix = streams.0.clone();
    delivered_once_across_kill_9(&[
        ("BOXOFFICE__BUS__KIND", "jetstream"),
        ("BOXOFFICE__BUS__PREFIX", prefix.as_str()),
    ])
    .await;
}

/// One payment, one sale, one set of two tickets, one mail.
async fn sold_once(app: &TestApp) {
    for (what, sql, expected) in [
        (
            "payments",
            "SELECT count(*) FROM payments WHERE status = 'succeeded'",
            1,
        ),
        ("tickets", "SELECT count(*) FROM tickets", 2),
        (
            "sales",
            "SELECT count(*) FROM outbox WHERE subject = 'bookings.paid'",
            1,
        ),
        (
            "tickets.issued",
            "SELECT count(*) FROM outbox WHERE subject = 'tickets.issued'",
            1,
        ),
        ("mails", "SELECT count(*) FROM sent_mail", 1),
    ] {
        assert_eq!(app.count(sql).await, expected, "{what}");
    }
}

/// A server started with `extra` settings on a fresh database, and a buyer's booking of two
/// admissions checked out on it.
struct CheckedOut {
    server: Server,
    app: TestApp,
    url: String,
    buyer: User,
    booking: serde_json::Value,
}

async fn checked_out_on_a_server(extra: &[(&str, &str)]) -> CheckedOut {
    let db_name = fresh_db_name();
    let url = format!("{}/{db_name}", server_url());
    let (server, port) = Server::start_with(&url, extra);
    let app = TestApp::attach(port, &db_name).await;
    let organizer = app.organizer().await;
    let buyer = app.customer().await;
    let (event, ticket_type) = app.event_with(&organizer, json!({}), None).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 2});
    let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    let booking = check_out(&app, &buyer, &booking).await;
    CheckedOut {
        server,
        app,
        url,
        buyer,
        booking,
    }
}

/// A payment lands while the server is down (killed with -9); after the restart it is sold,
/// ticketed and mailed; then every row is marked undelivered again (as if each delivery had
/// been lost just before it was recorded) and the server killed and restarted once more.
async fn delivered_once_across_kill_9(extra: &[(&str, &str)]) {
    let CheckedOut {
        mut server,
        mut app,
        url,
        buyer,
        booking,
    } = checked_out_on_a_server(extra).await;
    let id = booking["id"].as_str().unwrap().to_owned();
    let token = Some(buyer.access_token.as_str());
    server.kill_9();

    // the gateway's success lands while no server runs: the payment and its outbox row are
    // written (as the webhook writes them), nobody has delivered the row
    let paid = WebhookBody {
        status: "succeeded".into(),
        amount: booking["total_price"].as_i64().unwrap(),
        currency: "VND".into(),
    };
    let code = booking["payment"]["payment_code"].as_str().unwrap();
    store::settle(
        &app.pool,
        "sandbox",
        code,
        id.parse().unwrap(),
        "txn-restart",
        &paid,
    )
    .await
    .unwrap();
    assert_eq!(app.count("SELECT count(*) FROM outbox WHERE subject = 'payments.succeeded' AND delivered_at IS NULL").await, 1);

    let (mut server, port) = Server::start_with(&url, extra);
    app.reattach(port);
    all_delivered(&app).await;
    // handed over is not yet acted on, on JetStream: wait for the effects themselves
    eventually(
        20,
        "the sale, the tickets, the mail and the notifications",
        || async {
            let done = app.count("SELECT count(*) FROM tickets").await == 2
                && app
                    .count("SELECT count(*) FROM sent_mail WHERE sent_at IS NOT NULL")
                    .await
                    == 1
                && app.count("SELECT count(*) FROM notifications").await >= 2;
            done.then_some(())
        },
    )
    .await;
    let read = expect_json(
        app.get(&format!("/v1/bookings/{id}"), token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["status"], "confirmed");

    // as if every delivery had been lost just before it was recorded
    sqlx::query("UPDATE outbox SET delivered_at = NULL")
        .execute(&app.pool)
        .await
        .unwrap();
    server.kill_9();
    let (_server, port) = Server::start_with(&url, extra);
    app.reattach(port);
    all_delivered(&app).await;

    sold_once(&app).await;
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE kind = 'tickets_issued'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE kind = 'payment_succeeded'")
            .await,
        1
    );
    let tickets = expect_json(app.get("/v1/tickets", token).await, StatusCode::OK).await;
    assert_eq!(tickets["data"].as_array().unwrap().len(), 2);
}

/// kill -9 in the middle of a consumer's effect: the mailer has claimed the ticket mail and is
/// talking to a mail server that does not answer when the server dies. The message was never
/// acked, so JetStream delivers it again after the restart (after `bus.ack_wait_seconds`); the
/// claim, never marked sent, is sent then, once; and nothing is left to deliver.
#[actix_web::test]
async fn on_jetstream_a_crash_in_the_middle_of_the_mail_sends_it_once_after_the_restart() {
    use crate::mail::{refusal_flag, SmtpServer};
    use crate::payments::{wait_for_status, Webhook};

    let streams = crate::bus::Streams::new();
    let prefix = streams.0.clone();
    let (_hanging, hanging_port) = crate::bus::hanging_smtp();
    let hanging_port = hanging_port.to_string();
    let on_jetstream = [
        ("BOXOFFICE__BUS__KIND", "jetstream"),
        ("BOXOFFICE__BUS__PREFIX", prefix.as_str()),
        ("BOXOFFICE__BUS__ACK_WAIT_SECONDS", "2"),
        ("BOXOFFICE__EMAIL__TRANSPORT", "smtp"),
    ];
    let hanging = [
        on_jetstream.as_slice(),
        &[("BOXOFFICE__EMAIL__SMTP_PORT", hanging_port.as_str())],
    ]
    .concat();
    let CheckedOut {
        mut server,
        mut app,
        url,
        buyer,
        booking,
    } = checked_out_on_a_server(&hanging).await;
    let paid = Webhook::new(&app, &booking, "txn-mid-mail")
        .send(&app)
        .await;
    assert_eq!(paid.status(), StatusCode::OK);
    wait_for_status(&app, &buyer, &booking, "confirmed").await;
    // the mail is claimed and its SMTP session hangs: the mailer is in the middle of its effect
    app.wait_for_count(
        20,
        "SELECT count(*) FROM sent_mail WHERE sent_at IS NULL",
        1,
    )
    .await;
    server.kill_9();

    let (smtp, smtp_port) = SmtpServer::start(&refusal_flag());
    let smtp_port = smtp_port.to_string();
    let answering = [
        on_jetstream.as_slice(),
        &[("BOXOFFICE__EMAIL__SMTP_PORT", smtp_port.as_str())],
    ]
    .concat();
    let (_server, port) = Server::start_with(&url, &answering);
    app.reattach(port);
    smtp.wait_for_messages(1).await;
    app.wait_for_count(
        20,
        "SELECT count(*) FROM sent_mail WHERE sent_at IS NOT NULL",
        1,
    )
    .await;
    // nothing more will come: every consumer has acked everything
    crate::bus::all_acked(&prefix).await;
    assert_eq!(
        smtp.received().matches("END MESSAGE").count(),
        1,
        "mailed once"
    );
    sold_once(&app).await;
}
