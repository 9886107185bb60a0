//! The seed's topics on NATS JetStream (`bus.kind = "jetstream"`), against the real NATS at
//! 127.0.0.1:4222. Each test has a subject prefix (and streams) of its own, deleted at its end.
use boxoffice::auth::Role;
use boxoffice::bus::Bus;
use boxoffice::config::{BusKind, EmailTransport};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{eventually, expect_json, spawn_serving_app_with, TestApp};
use crate::mail::{assert_ticket_mail, codes, first_mail, mail_files, refusal_flag, SmtpServer};
use crate::tickets::paid_for_two;

const NATS: &str = "nats://127.0.0.1:4222";

/// The app as `serve` runs it, on JetStream under a fresh prefix; `configure` on top.
async fn on_jetstream(
    configure: impl FnOnce(&mut boxoffice::config::Settings),
) -> (TestApp, Streams) {
    on_bus(BusKind::Jetstream, configure).await
}

/// The app as `serve` runs it on the bus `kind` (under a fresh prefix on JetStream).
async fn on_bus(
    kind: BusKind,
    configure: impl FnOnce(&mut boxoffice::config::Settings),
) -> (TestApp, Streams) {
    let streams = Streams::new();
    let prefix = streams.0.clone();
    let app = spawn_serving_app_with(|s| {
        s.bus.kind = kind;
        s.bus.prefix = prefix;
        configure(s);
    })
    .await;
    (app, streams)
}

/// The test's streams (under the prefix it holds), deleted when it ends however it ends.
pub struct Streams(pub String);

impl Streams {
    /// A fresh prefix.
    pub fn new() -> Self {
        Self(format!("t{}.", Uuid::now_v7().simple()))
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        let prefix = self.0.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(client) = async_nats::connect(NATS).await {
                    let js = async_nats::jetstream::new(client);
                    for (base, _) in boxoffice::bus::STREAMS {
                        let _ = js.delete_stream(Bus::stream_name(&prefix, base)).await;
                    }
                }
            });
        })
        .join();
    }
}

/// Waits until every durable consumer of the prefix's streams has acked everything it was
/// given and has nothing left to take: no message will be delivered again.
pub async fn all_acked(prefix: &str) {
    let client = async_nats::connect(NATS)
        .await
        .expect("NATS runs at 127.0.0.1:4222");
    let js = async_nats::jetstream::new(client);
    eventually(30, "every message acked", || async {
        for (base, _) in boxoffice::bus::STREAMS {
            let stream = js.get_stream(Bus::stream_name(prefix, base)).await.ok()?;
            let names: Vec<String> = stream
                .consumer_names()
                .filter_map(|name| async move { name.ok() })
                .collect()
                .await;
            for name in names {
                let info = stream.consumer_info(&name).await.ok()?;
                if info.num_ack_pending > 0 || info.num_pending > 0 {
                    return None;
                }
            }
        }
        Some(())
    })
    .await;
}

#[actix_web::test]
async fn the_seed_flow_runs_on_jetstream_and_publishes_one_payment_success() {
    let (app, streams) = on_jetstream(|_| {}).await;
    let prefix = streams.0.clone();
    let nats = async_nats::connect(NATS)
        .await
        .expect("NATS runs at 127.0.0.1:4222");
    let mut payments = nats.subscribe(format!("{prefix}payments.>")).await.unwrap();

    let (_, buyer, _, tickets) = paid_for_two(&app).await;
    assert_eq!(tickets.len(), 2);
    let mail = first_mail(&app.settings.email.dir).await;
    assert_ticket_mail(&mail, &buyer.email, &codes(&tickets));
    let kinds = eventually(20, "the notifications", || async {
        let page = expect_json(
            app.get("/v1/notifications", Some(&buyer.access_token))
                .await,
            StatusCode::OK,
        )
        .await;
        let kinds: Vec<String> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["kind"].as_str().unwrap().to_owned())
            .collect();
        (kinds.len() >= 2).then_some(kinds)
    })
    .await;
    assert!(kinds.contains(&"payment_succeeded".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"tickets_issued".to_owned()), "{kinds:?}");

    // everything the subscriber got before a marker sent after the sale
    let marker = format!("{prefix}payments.marker");
    nats.publish(marker.clone(), "end".into()).await.unwrap();
    nats.flush().await.unwrap();
    let mut succeeded = 0;
    while let Some(message) = payments.next().await {
        let subject = message.subject.as_str();
        if subject == marker {
            break;
        }
        if subject == format!("{prefix}payments.succeeded") {
            let payload: Value = serde_json::from_slice(&message.payload).unwrap();
            assert!(payload["payment_id"].is_string(), "{payload}");
            succeeded += 1;
        }
    }
    assert_eq!(succeeded, 1, "one payments.succeeded for the one payment");
    let delivered: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(delivered, 0, "every row handed to the stream");
}

/// On JetStream too, a mail the server refuses for good is one dead letter, listed, and
/// delivered once when replayed after the cause is fixed.
#[actix_web::test]
async fn a_refused_mail_is_a_dead_letter_on_jetstream_too() {
    let refuse = refusal_flag();
    std::fs::write(&refuse, "").unwrap();
    let (smtp, port) = SmtpServer::start(&refuse);
    let (app, _streams) = on_jetstream(|s| {
        s.email.transport = EmailTransport::Smtp;
        s.email.smtp_port = port;
    })
    .await;
    let admin = app.with_role(Role::Admin).await;
    let (_, buyer, _, tickets) = paid_for_two(&app).await;
    let letters = eventually(20, "the dead letter", || async {
        let page = expect_json(
            app.get("/v1/admin/dead_letters", Some(&admin.access_token))
                .await,
            StatusCode::OK,
        )
        .await;
        let letters = page["data"].as_array().unwrap().clone();
        (!letters.is_empty()).then_some(letters)
    })
    .await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["subject"], "tickets.issued");
    assert_eq!(letters[0]["consumer"], "mailer");
    assert!(letters[0]["reason"].as_str().unwrap().contains("550"));
    assert!(!smtp.received().contains("END MESSAGE"));

    std::fs::remove_file(&refuse).unwrap();
    let replay = format!("/v1/admin/dead_letters/{}/replay", letters[0]["id"]);
    expect_json(
        app.post(&replay, Some(&admin.access_token), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let mail = smtp.wait_for_messages(1).await;
    assert_ticket_mail(&mail, &buyer.email, &codes(&tickets));
    eventually(20, "no dead letter left", || async {
        let page = expect_json(
            app.get("/v1/admin/dead_letters", Some(&admin.access_token))
                .await,
            StatusCode::OK,
        )
        .await;
        (page["data"] == json!([])).then_some(())
    })
    .await;
}

/// A NATS server of this test's own (the machine's `nats-server`, JetStream on, its store in a
/// temporary directory), so the test can stop and restart it without touching other tests.
struct PrivateNats {
    child: Option<std::process::Child>,
    port: u16,
    store: std::path::PathBuf,
}

impl PrivateNats {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store = std::env::temp_dir().join(format!("boxoffice-nats-{}", Uuid::now_v7()));
        let mut nats = Self {
            child: None,
            port,
            store,
        };
        nats.restart();
        nats
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts it (again, on the same port and store) and waits until it listens.
    fn restart(&mut self) {
        let child = std::process::Command::new(
            std::env::var("NATS_SERVER").unwrap_or_else(|_| "/usr/sbin/nats-server".into()),
        )
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-js",
            "-sd",
        ])
        .arg(&self.store)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nats-server runs");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "nats-server listens");
            std::thread::yield_now();
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// With NATS down, holds and the webhook still answer (they only write PostgreSQL) and nothing
/// is delivered; once NATS is back, the sale, the tickets and the mail happen, once each.
#[actix_web::test]
async fn with_nats_down_sales_go_on_and_are_delivered_once_it_is_back() {
    use crate::payments::{booking_status, check_out, wait_for_status, Webhook};

    let mut nats = PrivateNats::start();
    let url = nats.url();
    let app = spawn_serving_app_with(|s| {
        s.bus.kind = BusKind::Jetstream;
        s.bus.nats_url = url;
    })
    .await;
    let organizer = app.organizer().await;
    let (event, ticket_type) = app.event_with(&organizer, json!({}), None).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 2});
    let buyer = app.customer().await;
    let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    let booking = check_out(&app, &buyer, &booking).await;

    nats.stop();
    let other = app.customer().await;
    expect_json(app.hold(&other, &body).await, StatusCode::CREATED).await;
    let paid = Webhook::new(&app, &booking, "txn-while-down")
        .send(&app)
        .await;
    assert_eq!(paid.status(), StatusCode::OK);
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE subject = 'payments.succeeded' AND delivered_at IS NULL",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(waiting, 1, "the payment waits in the outbox");
    assert_eq!(
        booking_status(&app, &buyer, &booking).await,
        "pending_payment",
        "nothing delivered"
    );

    nats.restart();
    wait_for_status(&app, &buyer, &booking, "confirmed").await;
    let dir = app.settings.email.dir.clone();
    first_mail(&dir).await;
    app.wait_for_count(
        30,
        "SELECT count(*) FROM outbox WHERE delivered_at IS NULL",
        0,
    )
    .await;
    let tickets: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tickets WHERE booking_id = $1::uuid")
            .bind(booking["id"].as_str().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(tickets, 2, "one ticket per admission, issued once");
    assert_eq!(mail_files(&dir).len(), 1, "mailed once");
}

/// A mail server that accepts connections and never answers: every ticket mail hangs.
pub fn hanging_smtp() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// While the mailer hangs on its server, purchases keep being confirmed: one slow consumer
/// holds up neither the sale nor the tickets, on either bus.
async fn a_hanging_mail_server_does_not_hold_up_sales(kind: BusKind) {
    use crate::payments::{check_out, wait_for_status, Webhook};

    let (_listener, port) = hanging_smtp();
    let (app, _streams) = on_bus(kind, |s| {
        s.email.transport = EmailTransport::Smtp;
        s.email.smtp_port = port;
    })
    .await;
    let organizer = app.organizer().await;
    let (event, ticket_type) = app.event_with(&organizer, json!({}), None).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});
    for n in 0..5 {
        let buyer = app.customer().await;
        let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
        let booking = check_out(&app, &buyer, &booking).await;
        let paid = Webhook::new(&app, &booking, &format!("txn-{n}"))
            .send(&app)
            .await;
        assert_eq!(paid.status(), StatusCode::OK);
        wait_for_status(&app, &buyer, &booking, "confirmed").await;
    }
    let issued: i64 = eventually(20, "every booking's ticket", || async {
        let issued: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        (issued == 5).then_some(issued)
    })
    .await;
    assert_eq!(issued, 5);
    let mailed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sent_mail WHERE sent_at IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(mailed, 0, "the mail server never answered");
}

#[actix_web::test]
async fn a_hanging_mail_server_does_not_hold_up_sales_on_the_local_bus() {
    a_hanging_mail_server_does_not_hold_up_sales(BusKind::Local).await;
}

#[actix_web::test]
async fn a_hanging_mail_server_does_not_hold_up_sales_on_jetstream() {
    a_hanging_mail_server_does_not_hold_up_sales(BusKind::Jetstream).await;
}

/// A consumer slower than the ack wait keeps its message: it tells JetStream it is still
/// working, so the mail is not handed to a second mailer meanwhile, and is sent once.
#[actix_web::test]
async fn a_mail_slower_than_the_ack_wait_is_sent_once() {
    let (smtp, port) = SmtpServer::answering_after(&refusal_flag(), 4);
    let (app, streams) = on_jetstream(|s| {
        s.email.transport = EmailTransport::Smtp;
        s.email.smtp_port = port;
        s.bus.ack_wait_seconds = 1;
    })
    .await;
    paid_for_two(&app).await;
    smtp.wait_for_messages(1).await;
    app.wait_for_count(
        20,
        "SELECT count(*) FROM sent_mail WHERE sent_at IS NOT NULL",
        1,
    )
    .await;
    all_acked(&streams.0).await;
    // a second mailer would have connected a second after the first, while it still waited
    let received = smtp.received();
    assert_eq!(
        received.matches("SESSION").count(),
        1,
        "one mail session: {received}"
    );
    assert_eq!(received.matches("END MESSAGE").count(), 1, "sent once");
}
