//! The ticket mail: written as a file by default, sent to a real SMTP server otherwise.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use boxoffice::config::EmailTransport;

use boxoffice::auth::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    eventually, expect_error, expect_json, spawn_app, spawn_app_with, spawn_serving_app_with,
};
use crate::tickets::paid_for_two;

/// Checks a ticket mail for its recipient, subject, both parts and the inline QR images.
pub fn assert_ticket_mail(mail: &str, to: &str, codes: &[&str]) {
    assert!(mail.contains(&format!("To: {to}")), "{mail}");
    assert!(
        mail.contains("Subject: Your tickets for Night of Strings"),
        "{mail}"
    );
    assert!(
        mail.contains("multipart/alternative") && mail.contains("text/html"),
        "{mail}"
    );
    for code in codes {
        assert!(mail.contains(code), "code {code} missing: {mail}");
    }
    assert_eq!(
        mail.matches("Content-Type: image/png").count(),
        codes.len(),
        "{mail}"
    );
    assert!(mail.contains("Content-ID: <ticket-0>"), "{mail}");
}

/// The `.eml` files the file transport wrote under `dir` (none if it does not exist yet).
pub fn mail_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default()
}

/// The first ticket mail written under `dir`, once there is one.
pub async fn first_mail(dir: &std::path::Path) -> String {
    eventually(20, "the ticket mail", || async {
        let path = mail_files(dir).into_iter().next()?;
        std::fs::read_to_string(path).ok()
    })
    .await
}

pub fn codes(tickets: &[serde_json::Value]) -> Vec<&str> {
    tickets
        .iter()
        .map(|t| t["code"].as_str().unwrap())
        .collect()
}

#[actix_web::test]
async fn the_tickets_are_mailed_once_as_a_file_by_default() {
    let app = spawn_app().await;
    assert_eq!(app.settings.email.transport, EmailTransport::File);
    let (_, buyer, _, tickets) = paid_for_two(&app).await;
    let dir = app.settings.email.dir.clone();
    let mail = first_mail(&dir).await;
    assert_ticket_mail(&mail, &buyer.email, &codes(&tickets));
    let sent: i64 = sqlx::query_scalar("SELECT count(*) FROM sent_mail WHERE kind = 'tickets'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sent, 1);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "one mail, not one per delivery"
    );
}

/// An SMTP server (Python's standard `smtpd`) that prints every message it takes, followed by
/// `END MESSAGE`, and refuses each one with a permanent 550 while the file `refuse` exists;
/// it answers each message after the seconds of its third argument, and prints `SESSION` for
/// every client that connects.
const SMTP_SERVER: &str = r#"
import asyncore, os, smtpd, sys, time, warnings
warnings.simplefilter("ignore")
port, refuse, delay = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
class Server(smtpd.SMTPServer):
    def handle_accepted(self, conn, addr):
        print("SESSION", flush=True)
        super().handle_accepted(conn, addr)
    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        time.sleep(delay)
        if os.path.exists(refuse):
            return "550 5.1.1 mailbox unavailable"
        print(data, flush=True)
        print("END MESSAGE", flush=True)
Server(("127.0.0.1", port), None, decode_data=True)
print("LISTENING", flush=True)
asyncore.loop()
"#;

pub struct SmtpServer {
    child: Child,
    received: Arc<Mutex<String>>,
}

impl SmtpServer {
    /// Starts the server and waits until it listens.
    pub fn start(refuse: &std::path::Path) -> (Self, u16) {
        Self::answering_after(refuse, 0)
    }

    /// A server that takes `seconds` over each message before it answers.
    pub fn answering_after(refuse: &std::path::Path, seconds: u64) -> (Self, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("python3")
            .args(["-u", "-W", "ignore", "-c", SMTP_SERVER, &port.to_string()])
            .arg(refuse)
            .arg(seconds.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs");
        let stdout = child.stdout.take().unwrap();
        let received = Arc::new(Mutex::new(String::new()));
        let sink = received.clone();
        let (listening, up) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line == "LISTENING" {
                    let _ = listening.send(());
                    continue;
                }
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        up.recv_timeout(std::time::Duration::from_secs(30))
            .expect("the SMTP server listens");
        (Self { child, received }, port)
    }

    pub fn received(&self) -> String {
        self.received.lock().unwrap().clone()
    }

    /// What the server printed once it has printed `count` messages (it prints a message before
    /// it answers the client, but its output reaches this test beside that answer).
    pub async fn wait_for_messages(&self, count: usize) -> String {
        let mail = eventually(10, "the message at the SMTP server", || async {
            let all = self.received();
            (all.matches("END MESSAGE").count() >= count).then_some(all)
        })
        .await;
        assert_eq!(mail.matches("END MESSAGE").count(), count, "{mail}");
        mail
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A path no file is at (yet), for [`SmtpServer::start`].
pub fn refusal_flag() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("boxoffice-smtp-refuse-{}", uuid::Uuid::now_v7()))
}

pub fn smtp_app(port: u16) -> impl FnOnce(&mut boxoffice::config::Settings) {
    move |s| {
        s.email.transport = EmailTransport::Smtp;
        s.email.smtp_port = port;
    }
}

#[actix_web::test]
async fn the_tickets_reach_a_real_smtp_server() {
    let (smtp, port) = SmtpServer::start(&refusal_flag());
    let app = spawn_app_with(smtp_app(port)).await;
    let (_, buyer, _, tickets) = paid_for_two(&app).await;
    let mail = smtp.wait_for_messages(1).await;
    assert_ticket_mail(&mail, &buyer.email, &codes(&tickets));
}

/// A mail the SMTP server refuses for good is not retried forever: it becomes one dead letter,
/// which an admin sees with its reason and replays once the cause is fixed; it is then
/// delivered, once.
#[actix_web::test]
async fn a_refused_mail_becomes_a_dead_letter_that_an_admin_replays_once_fixed() {
    let refuse = refusal_flag();
    std::fs::write(&refuse, "").unwrap();
    let (smtp, port) = SmtpServer::start(&refuse);
    let app = spawn_app_with(smtp_app(port)).await;
    let admin = app.with_role(Role::Admin).await;
    let (_, buyer, _, tickets) = paid_for_two(&app).await;

    let letters = expect_json(
        app.get("/v1/admin/dead_letters", Some(&admin.access_token))
            .await,
        StatusCode::OK,
    )
    .await;
    let letters = letters["data"].as_array().unwrap().clone();
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(letter["subject"], "tickets.issued");
    assert_eq!(letter["consumer"], "mailer");
    assert_eq!(letter["attempts"], 1, "refused for good: not retried");
    let reason = letter["reason"].as_str().unwrap();
    assert!(reason.contains("550"), "{reason}");
    assert!(!smtp.received().contains("END MESSAGE"));
    // buried, not due: delivering again does not retry it
    app.settle().await;
    assert!(!smtp.received().contains("END MESSAGE"));
    expect_error(
        app.get("/v1/admin/dead_letters", Some(&buyer.access_token))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    std::fs::remove_file(&refuse).unwrap();
    let replay = format!("/v1/admin/dead_letters/{}/replay", letter["id"]);
    let replayed = expect_json(
        app.post(&replay, Some(&admin.access_token), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replayed["id"], letter["id"]);
    app.settle().await;
    let mail = smtp.wait_for_messages(1).await;
    assert_ticket_mail(&mail, &buyer.email, &codes(&tickets));

    // delivered: no dead letter left, nothing to replay, and nothing sent twice
    let letters = expect_json(
        app.get("/v1/admin/dead_letters", Some(&admin.access_token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(letters["data"], json!([]));
    expect_error(
        app.post(&replay, Some(&admin.access_token), &json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    app.settle().await;
    assert_eq!(smtp.received().matches("END MESSAGE").count(), 1);
}

/// The dispatcher delivers several bookings at a time: with a pool of 4 connections, twelve
/// purchases paid at once are all confirmed and mailed without one delivery failing (a mail
/// that took a second connection inside its transaction used to starve the pool).
#[actix_web::test]
async fn many_purchases_paid_at_once_are_all_mailed_with_a_small_pool() {
    use crate::payments::{check_out, wait_for_status, Webhook};

    // the dispatcher as the server runs it, in the background
    let app = spawn_serving_app_with(|s| s.database.max_connections = 4).await;
    let organizer = app.organizer().await;
    let (event, ticket_type) = app.event_with(&organizer, json!({}), None).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});
    let mut purchases = Vec::new();
    for _ in 0..12 {
        let buyer = app.customer().await;
        let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
        let booking = check_out(&app, &buyer, &booking).await;
        purchases.push((buyer, booking));
    }
    let payments = purchases.iter().map(|(_, booking)| async {
        let transaction = format!("txn-{}", booking["id"].as_str().unwrap());
        Webhook::new(&app, booking, &transaction)
            .send(&app)
            .await
            .status()
    });
    for status in futures_util::future::join_all(payments).await {
        assert_eq!(status, StatusCode::OK);
    }
    for (buyer, booking) in &purchases {
        wait_for_status(&app, buyer, booking, "confirmed").await;
    }
    let dir = app.settings.email.dir.clone();
    eventually(20, "twelve mail files", || async {
        (mail_files(&dir).len() == 12).then_some(())
    })
    .await;
    // every consumer is done (the notifier too): a query still in flight when the test's
    // runtime is torn down would abort the whole test binary
    app.wait_for_count(
        20,
        "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL",
        0,
    )
    .await;
    let retried: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE attempts > 0")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(retried, 0, "no delivery failed");
}

#[actix_web::test]
async fn the_ticket_mail_gives_the_venue_s_time_and_a_receipt_with_prices_and_the_organizer() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let buyer = app.customer().await;
    let event = app
        .create_event(
            &organizer,
            json!({"location": "Red Rocks, Denver", "start_at": "2027-03-02T02:30:00Z", "end_at": "2027-03-02T05:00:00Z"}),
        )
        .await;
    let id = event["id"].as_str().unwrap();
    let ticket_type = app
        .create_ticket_type(
            &organizer,
            id,
            json!({"name": "Lawn", "price": 450000, "currency": "VND"}),
        )
        .await;
    app.api
        .publish(&organizer.access_token, id)
        .await
        .expect("published");
    let body = json!({"event_id": id, "ticket_type_id": ticket_type["id"], "qty": 2});
    let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    let booking = crate::payments::check_out(&app, &buyer, &booking).await;
    crate::payments::pay(&app, &booking).await;
    let tickets = crate::tickets::tickets_of(&app, &buyer, 2).await;
    let short = format!(
        "Short code (to type at the door): {}",
        tickets[0]["short_code"].as_str().unwrap()
    );
    // quoted-printable soft line breaks joined, so sentences read whole
    let mail = first_mail(&app.settings.email.dir)
        .await
        .replace("=\r\n", "")
        .replace("=3D", "=");
    for said in [
        // 02:30 UTC is the evening before in Denver
        "Mon 1 Mar 2027, 19:30 MST to Mon 1 Mar 2027, 22:00 MST",
        "2 x Lawn at 450,000 VND: 900,000 VND",
        "Total paid: 900,000 VND by card",
        &short,
        &format!("Sold by {}", organizer.email),
    ] {
        assert!(mail.contains(said), "{said:?} missing: {mail}");
    }
    assert!(!mail.contains("UTC"), "{mail}");
}
