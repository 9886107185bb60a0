//! The ticket mail: written as a file by default, sent to a real SMTP server otherwise.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use boxoffice::config::EmailTransport;

use crate::helpers::{eventually, spawn_app, spawn_app_with};
use crate::tickets::paid_for_two;

/// Checks a ticket mail for its recipient, subject, both parts and the inline QR images.
fn assert_ticket_mail(mail: &str, to: &str, codes: &[&str]) {
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

fn codes(tickets: &[serde_json::Value]) -> Vec<&str> {
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
    let mail = eventually(10, "the mail file", || async {
        let entry = std::fs::read_dir(&dir)
            .ok()?
            .flatten()
            .find(|e| e.path().extension().is_some_and(|x| x == "eml"))?;
        std::fs::read_to_string(entry.path()).ok()
    })
    .await;
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

/// Python's standard SMTP server, printing every message it receives.
struct SmtpServer {
    child: Child,
    received: Arc<Mutex<String>>,
}

impl SmtpServer {
    fn start() -> (Self, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-W",
                "ignore",
                "-m",
                "smtpd",
                "-n",
                "-c",
                "DebuggingServer",
                &format!("127.0.0.1:{port}"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs");
        let stdout = child.stdout.take().unwrap();
        let received = Arc::new(Mutex::new(String::new()));
        let sink = received.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        (Self { child, received }, port)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[actix_web::test]
async fn the_tickets_reach_a_real_smtp_server() {
    let (smtp, port) = SmtpServer::start();
    // wait until it listens
    eventually(10, "the SMTP server", || async {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .ok()
            .map(|_| ())
    })
    .await;
    let app = spawn_app_with(|s| {
        s.email.transport = EmailTransport::Smtp;
        s.email.smtp_port = port;
    })
    .await;
    let (_, buyer, _, tickets) = paid_for_two(&app).await;
    let mail = eventually(15, "the message at the SMTP server", || async {
        let all = smtp.received.lock().unwrap().clone();
        all.contains("END MESSAGE").then_some(all)
    })
    .await;
    assert_ticket_mail(&mail, &buyer.email, &codes(&tickets));
}

/// The dispatcher delivers several bookings at a time: with a pool of 4 connections, twelve
/// purchases paid at once are all confirmed and mailed without one delivery failing (a mail
/// that took a second connection inside its transaction used to starve the pool).
#[actix_web::test]
async fn many_purchases_paid_at_once_are_all_mailed_with_a_small_pool() {
    use crate::helpers::expect_json;
    use crate::payments::{check_out, wait_for_status, Webhook};
    use reqwest::StatusCode;
    use serde_json::json;

    let app = spawn_app_with(|s| s.database.max_connections = 4).await;
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
        let mails = std::fs::read_dir(&dir)
            .ok()?
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .count();
        (mails == 12).then_some(())
    })
    .await;
    let retried: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE attempts > 0")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(retried, 0, "no delivery failed");
}
