//! Cluster mode: several real `boxoffice serve` processes on one database and one NATS, each
//! event owned by one node under a fenced lease. Buyers talk to any node; the owner is killed
//! with -9 or paused with SIGSTOP in the middle of a sale.
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::bus::Streams;
use crate::helpers::{eventually, expect_json, fresh_db_name, server_url, Server, TestApp, User};
use crate::payments::{check_out, wait_for_status, Webhook};

/// Seconds a node owns its events without renewing, in these tests.
const LEASE: u64 = 2;

/// `n` nodes on one fresh database and one fresh JetStream prefix; `apps[i]` talks to node `i`.
struct Nodes {
    url: String,
    streams: Streams,
    servers: Vec<Server>,
    apps: Vec<TestApp>,
}

impl Nodes {
    async fn start(n: usize) -> Self {
        let db_name = fresh_db_name();
        let url = format!("{}/{db_name}", server_url());
        let streams = Streams::new();
        let mut nodes = Self {
            url,
            streams,
            servers: Vec::new(),
            apps: Vec::new(),
        };
        // one after the other: the first creates and migrates the database
        for i in 0..n {
            let (server, port) = nodes.node(i);
            nodes.servers.push(server);
            nodes.apps.push(TestApp::attach(port, &db_name).await);
        }
        nodes
    }

    fn node(&self, i: usize) -> (Server, u16) {
        let name = format!("node-{i}");
        let lease = LEASE.to_string();
        Server::start_with(
            &self.url,
            &[
                ("BOXOFFICE__BUS__KIND", "jetstream"),
                ("BOXOFFICE__BUS__PREFIX", &self.streams.0),
                ("BOXOFFICE__CLUSTER__ENABLED", "true"),
                ("BOXOFFICE__CLUSTER__NODE_ID", &name),
                ("BOXOFFICE__CLUSTER__LEASE_SECONDS", &lease),
                // the tests log many buyers in at once from one address
                ("BOXOFFICE__AUTH__LOGIN_MAX_FAILURES_PER_IP", "1000"),
                crate::queue::MANY_JOINS,
            ],
        )
    }

    /// The node (index) that owns `event` now.
    async fn owner(&self, event: &str) -> usize {
        let node: String = sqlx::query_scalar(
            "SELECT node_id FROM event_leases WHERE event_id = $1::uuid AND expires_at > now()",
        )
        .bind(event)
        .fetch_one(&self.apps[0].pool)
        .await
        .expect("the event has an owner");
        node.trim_start_matches("node-").parse().unwrap()
    }
}

/// A node stopped with SIGSTOP, resumed with SIGCONT (also when the test fails).
struct Paused(String);

impl Paused {
    fn stop(server: &Server) -> Self {
        let paused = Self(server.0.id().to_string());
        paused.signal("-STOP");
        paused
    }

    fn resume(self) {}

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([name, &self.0])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        self.signal("-CONT");
    }
}

/// Holds `count` times through node `other` until it has taken `event` over from a paused
/// owner (503 while the owner's lease runs out).
async fn sold_elsewhere_once_taken_over(
    nodes: &Nodes,
    event: &str,
    other: usize,
    buyer: &User,
    body: &Value,
    count: usize,
) {
    let mut sold = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while sold < count {
        assert!(
            Instant::now() < deadline,
            "the other node never took the event over"
        );
        let response = nodes.apps[other].hold(buyer, body).await;
        match response.status() {
            StatusCode::CREATED => sold += 1,
            StatusCode::SERVICE_UNAVAILABLE => tokio::time::sleep(Duration::from_millis(100)).await,
            status => panic!("a hold answered {status}"),
        }
    }
    assert_eq!(nodes.owner(event).await, other);
}

/// An HTTP/1.1 request with a JSON body, as bytes a socket can take before its server runs.
fn raw_request(method: &str, path: &str, token: &str, body: &Value) -> String {
    let json = body.to_string();
    format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )
}

/// Each request written into a connection of its own to `app`'s node (which may be paused:
/// the kernel takes them).
fn written_to(app: &TestApp, requests: &[String]) -> Vec<std::net::TcpStream> {
    let address = app.address.trim_start_matches("http://");
    requests
        .iter()
        .map(|request| {
            let mut socket = std::net::TcpStream::connect(address).unwrap();
            std::io::Write::write_all(&mut socket, request.as_bytes()).unwrap();
            socket
        })
        .collect()
}

/// Status and body of the answer on each socket, read to the end.
fn answers_of(sockets: Vec<std::net::TcpStream>) -> Vec<(u16, String)> {
    sockets
        .into_iter()
        .map(|mut socket| {
            let mut response = String::new();
            std::io::Read::read_to_string(&mut socket, &mut response).unwrap();
            let status = response.split(' ').nth(1).and_then(|s| s.parse().ok());
            let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
            (status.unwrap_or(0), body.to_owned())
        })
        .collect()
}

/// A published general-admission event of `capacity`, created through node 0.
async fn event_of(app: &TestApp, capacity: i64) -> (String, String) {
    let organizer = app.organizer().await;
    let (event, ticket_type) = app
        .event_with(&organizer, json!({"number_seats": capacity}), None)
        .await;
    (event, ticket_type["id"].as_str().unwrap().to_owned())
}

/// Held admissions of the event as PostgreSQL has them.
async fn held_in_database(app: &TestApp, event: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COALESCE(sum(number_seats), 0)::bigint FROM bookings
         WHERE event_id = $1::uuid AND status = 'held'",
    )
    .bind(event)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// Every acknowledged booking is in the database, held, once.
async fn all_present(app: &TestApp, acknowledged: &[Value]) {
    let ids: Vec<uuid::Uuid> = acknowledged
        .iter()
        .map(|b| b["id"].as_str().unwrap().parse().unwrap())
        .collect();
    let found: i64 =
        sqlx::query_scalar("SELECT count(*) FROM bookings WHERE id = ANY($1) AND status = 'held'")
            .bind(&ids)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(found, ids.len() as i64, "an acknowledged hold is missing");
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "a booking was answered twice");
}

#[actix_web::test]
async fn three_nodes_sell_one_event_exactly_once_and_every_page_agrees() {
    const CAPACITY: i64 = 5_000;
    let nodes = Nodes::start(3).await;
    let (event, ticket_type) = event_of(&nodes.apps[0], CAPACITY).await;
    let buyers: Vec<User> = join_all((0..30).map(|_| nodes.apps[0].customer())).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type, "qty": 2});

    // 2,800 holds of two for 2,500 pairs: 48 connections, spread over the three nodes
    let answers: Mutex<(Vec<Value>, u32, u32)> = Mutex::new((Vec::new(), 0, 0));
    let next = std::sync::atomic::AtomicUsize::new(0);
    join_all((0..48).map(|c| {
        let (nodes, body, answers, next, buyers) = (&nodes, &body, &answers, &next, &buyers);
        async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 2_800 {
                let app = &nodes.apps[c % 3];
                let buyer = &buyers[c % buyers.len()];
                loop {
                    let response = app.hold(buyer, body).await;
                    match response.status() {
                        StatusCode::CREATED => {
                            let booking = response.json().await.unwrap();
                            answers.lock().unwrap().0.push(booking);
                        }
                        StatusCode::CONFLICT => answers.lock().unwrap().1 += 1,
                        StatusCode::SERVICE_UNAVAILABLE => {
                            answers.lock().unwrap().2 += 1;
                            continue;
                        }
                        other => panic!(
                            "a hold answered {other}: {}",
                            response.text().await.unwrap()
                        ),
                    }
                    break;
                }
            }
        }
    }))
    .await;
    let (held, refused, retried) = answers.into_inner().unwrap();
    println!(
        "held {} pairs, refused {refused}, retried {retried} answers 503",
        held.len()
    );
    assert_eq!(
        held.len() as i64 * 2,
        CAPACITY,
        "exactly the capacity is held"
    );
    assert_eq!(refused, 2_800 - 2_500, "the rest is refused with 409");
    all_present(&nodes.apps[0], &held).await;
    assert_eq!(held_in_database(&nodes.apps[0], &event).await, CAPACITY);

    // each node's event page says the same: nothing left
    for app in &nodes.apps {
        eventually(10, "every node's page shows the event sold out", || async {
            (app.available(&event).await == 0).then_some(())
        })
        .await;
    }
    // the holds were decided by one node, and the others forwarded to it
    let owner = nodes.owner(&event).await;
    assert!(owner < 3);
}

#[actix_web::test]
async fn a_kill_9_of_the_owner_loses_no_acknowledged_hold_and_another_node_takes_over() {
    const CAPACITY: i64 = 2_000;
    let mut nodes = Nodes::start(3).await;
    let (event, ticket_type) = event_of(&nodes.apps[0], CAPACITY).await;
    let buyers: Vec<User> = join_all((0..12).map(|_| nodes.apps[0].customer())).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type, "qty": 1});
    // the event gets its owner with the first hold
    let first = expect_json(
        nodes.apps[1].hold(&buyers[0], &body).await,
        StatusCode::CREATED,
    )
    .await;
    let owner = nodes.owner(&event).await;
    let survivors: Vec<usize> = (0..3).filter(|&i| i != owner).collect();

    let acknowledged: Mutex<Vec<Value>> = Mutex::new(vec![first]);
    let killed_at: Mutex<Option<Instant>> = Mutex::new(None);
    let first_after_kill: Mutex<Option<Instant>> = Mutex::new(None);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let Nodes { servers, apps, .. } = &mut nodes;
    let apps = &*apps;
    let clients = (0..24).map(|c| {
        let (body, acknowledged, buyers, stop) = (&body, &acknowledged, &buyers, &stop);
        let (survivors, killed_at, first_after_kill) = (&survivors, &killed_at, &first_after_kill);
        async move {
            // a third of the buyers talk to the owner until it dies, the rest to the others
            let app = if c % 3 == 0 {
                &apps[owner]
            } else {
                &apps[survivors[c % 2]]
            };
            let mut app = app;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let sent_at = Instant::now();
                let sent = app
                    .request(
                        reqwest::Method::POST,
                        "/v1/bookings/hold",
                        Some(&buyers[c % 12].access_token),
                    )
                    .json(body)
                    .send()
                    .await;
                let Ok(response) = sent else {
                    // the owner is gone: this buyer goes to another node
                    app = &apps[survivors[c % 2]];
                    continue;
                };
                match response.status() {
                    StatusCode::CREATED => {
                        if let Ok(booking) = response.json::<Value>().await {
                            let now = Instant::now();
                            // a hold asked for after the kill: the new owner answered it
                            if killed_at.lock().unwrap().is_some_and(|at| sent_at > at) {
                                first_after_kill.lock().unwrap().get_or_insert(now);
                            }
                            acknowledged.lock().unwrap().push(booking);
                        }
                    }
                    StatusCode::CONFLICT => break,
                    StatusCode::SERVICE_UNAVAILABLE => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    other => panic!("a hold answered {other}"),
                }
            }
        }
    });
    let killer = async {
        eventually(60, "the first holds", || async {
            (acknowledged.lock().unwrap().len() >= 200).then_some(())
        })
        .await;
        servers[owner].kill_9();
        *killed_at.lock().unwrap() = Some(Instant::now());
        eventually(60, "a hold after the kill", || async {
            first_after_kill.lock().unwrap().map(|_| ())
        })
        .await;
        let count = acknowledged.lock().unwrap().len();
        eventually(60, "more holds after the takeover", || async {
            (acknowledged.lock().unwrap().len() >= count + 100).then_some(())
        })
        .await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    };
    futures_util::future::join(join_all(clients), killer).await;
    let killed = killed_at.into_inner().unwrap().unwrap();
    let served = first_after_kill.into_inner().unwrap().unwrap();
    println!(
        "failover: the first hold after the kill -9 was answered {} ms after it (lease {LEASE} s)",
        served.duration_since(killed).as_millis()
    );
    let acknowledged = acknowledged.into_inner().unwrap();
    let app = &nodes.apps[survivors[0]];
    all_present(app, &acknowledged).await;
    let held = held_in_database(app, &event).await;
    assert!(
        held >= acknowledged.len() as i64,
        "held {held} < acknowledged"
    );
    // held + available = capacity, on every node that lives
    for &i in &survivors {
        let app = &nodes.apps[i];
        eventually(10, "the page agrees with the database", || async {
            (app.available(&event).await == CAPACITY - held).then_some(())
        })
        .await;
    }
    // the lease moved on with a higher epoch
    let epoch: i64 = sqlx::query_scalar("SELECT epoch FROM event_leases WHERE event_id = $1::uuid")
        .bind(&event)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(epoch >= 2, "epoch {epoch}");
    assert_ne!(nodes.owner(&event).await, owner);
}

#[actix_web::test]
async fn a_paused_owner_that_comes_back_writes_nothing_and_answers_only_what_was_journaled() {
    // small, so a zombie deciding from its stale memory (one held, seven free) would oversell
    const CAPACITY: i64 = 8;
    let nodes = Nodes::start(2).await;
    let (event, ticket_type) = event_of(&nodes.apps[0], CAPACITY).await;
    let buyers: Vec<User> = join_all((0..CAPACITY).map(|_| nodes.apps[0].customer())).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type, "qty": 1});
    expect_json(
        nodes.apps[0].hold(&buyers[0], &body).await,
        StatusCode::CREATED,
    )
    .await;
    let zombie = nodes.owner(&event).await;
    let other = 1 - zombie;
    let old_epoch: i64 =
        sqlx::query_scalar("SELECT epoch FROM event_leases WHERE event_id = $1::uuid")
            .bind(&event)
            .fetch_one(&nodes.apps[0].pool)
            .await
            .unwrap();

    let paused = Paused::stop(&nodes.servers[zombie]);
    sold_elsewhere_once_taken_over(&nodes, &event, other, &buyers[0], &body, 5).await;
    let sold_elsewhere = 5;

    // ten holds are written into the paused node's sockets before it wakes, so its actor,
    // which still believes it owns the event, is the first to see them
    let requests: Vec<String> = buyers
        .iter()
        .cycle()
        .take(10)
        .map(|buyer| raw_request("POST", "/v1/bookings/hold", &buyer.access_token, &body))
        .collect();
    let sockets = written_to(&nodes.apps[zombie], &requests);
    paused.resume();
    let mut answered = Vec::new();
    let mut refused = 0;
    for (status, body) in answers_of(sockets) {
        match status {
            201 => answered.push(serde_json::from_str::<Value>(&body).unwrap()),
            409 => refused += 1,
            503 => {}
            status => panic!("the old owner answered {status}: {body}"),
        }
    }
    // what it answered 201 the new owner journaled; the rest was refused: nothing oversold
    let held = held_in_database(&nodes.apps[other], &event).await;
    assert!(held <= CAPACITY, "held {held} of {CAPACITY}");
    assert_eq!(held, 1 + sold_elsewhere + answered.len() as i64);
    assert!(
        !answered.is_empty() && refused > 0,
        "{} held, {refused} refused",
        answered.len()
    );
    all_present(&nodes.apps[other], &answered).await;
    let left = CAPACITY - held;
    assert_eq!(nodes.apps[other].available(&event).await, left);
    eventually(10, "the old owner's page agrees", || async {
        (nodes.apps[zombie].available(&event).await == left).then_some(())
    })
    .await;

    // and a write under the old epoch is refused by the fence
    let fenced = sqlx::query("SELECT boxoffice_fence($1::uuid, $2)")
        .bind(&event)
        .bind(old_epoch)
        .execute(&nodes.apps[0].pool)
        .await
        .unwrap_err();
    let code = fenced.as_database_error().and_then(|e| e.code()).unwrap();
    assert_eq!(code, "BXF01");
}

#[actix_web::test]
async fn a_buyer_on_one_node_hears_of_a_payment_settled_through_another() {
    let nodes = Nodes::start(2).await;
    let (a, b) = (&nodes.apps[0], &nodes.apps[1]);
    let organizer = b.organizer().await;
    let buyer = b.customer().await;
    let (event, ticket_type) = b.event_with(&organizer, json!({}), None).await;

    let stream = a
        .get(
            &format!(
                "/v1/notifications/stream?access_token={}",
                buyer.access_token
            ),
            None,
        )
        .await;
    assert_eq!(stream.status(), StatusCode::OK);
    let mut chunks = stream.bytes_stream();

    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});
    let booking = expect_json(b.hold(&buyer, &body).await, StatusCode::CREATED).await;
    let booking = check_out(b, &buyer, &booking).await;
    let transaction = format!("txn-{}", booking["id"].as_str().unwrap());
    expect_json(
        Webhook::new(b, &booking, &transaction).send(b).await,
        StatusCode::OK,
    )
    .await;
    wait_for_status(b, &buyer, &booking, "confirmed").await;

    let mut received = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !received.contains("payment_succeeded") {
        let chunk = tokio::time::timeout_at(deadline, chunks.next())
            .await
            .unwrap_or_else(|_| panic!("node A's stream heard nothing in 20 s; got {received:?}"))
            .expect("the stream stays open")
            .unwrap();
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        received.contains(booking["id"].as_str().unwrap()),
        "{received}"
    );
}

#[actix_web::test]
async fn login_failures_on_different_nodes_count_together() {
    let nodes = Nodes::start(2).await;
    let owner = nodes.apps[0].customer().await;
    let limit = nodes.apps[0].settings.auth.login_max_failures_per_account;
    // alternating: each node sees only half of the guesses
    for i in 0..limit as usize {
        let guess = nodes.apps[i % 2]
            .login(&owner.email, "wrong password")
            .await;
        assert_eq!(guess.status(), StatusCode::UNAUTHORIZED);
    }
    for app in &nodes.apps {
        let refused = app.login(&owner.email, "wrong password").await;
        assert_eq!(
            refused.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "on {}",
            app.address
        );
    }
}

#[actix_web::test]
async fn an_edit_sent_to_a_paused_owner_is_checked_against_the_new_owners_inventory() {
    let nodes = Nodes::start(2).await;
    let organizer = nodes.apps[0].organizer().await;
    let (event, ticket_type) = nodes.apps[0]
        .event_with(&organizer, json!({"number_seats": 8}), None)
        .await;
    let buyer = nodes.apps[0].customer().await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});
    expect_json(nodes.apps[0].hold(&buyer, &body).await, StatusCode::CREATED).await;
    let zombie = nodes.owner(&event).await;
    let other = 1 - zombie;

    let paused = Paused::stop(&nodes.servers[zombie]);
    sold_elsewhere_once_taken_over(&nodes, &event, other, &buyer, &body, 5).await;
    // the paused owner knows of one hold: lowering the capacity to 2 would look fine to it
    let path = format!(
        "/v1/admin/events/{event}/ticket_types/{}",
        ticket_type["id"].as_str().unwrap()
    );
    let edit = raw_request(
        "PATCH",
        &path,
        &organizer.access_token,
        &json!({"number_seats": 2}),
    );
    let sockets = written_to(&nodes.apps[zombie], &[edit]);
    paused.resume();
    let (status, answer) = answers_of(sockets).pop().unwrap();
    assert!(
        status == 409 || status == 503,
        "the old owner answered {status}: {answer}"
    );
    if status == 409 {
        assert!(answer.contains("ticket_type_has_sales"), "{answer}");
    }
    let capacity: i32 = sqlx::query_scalar("SELECT qty FROM ticket_types WHERE id = $1::uuid")
        .bind(ticket_type["id"].as_str().unwrap())
        .fetch_one(&nodes.apps[0].pool)
        .await
        .unwrap();
    assert_eq!(capacity, 8, "the capacity stayed above what is held");
}

/// The waiting room of an event lives on its owner: joins through either node land in one
/// queue, both nodes tell every buyer the same place, the stream works through the node that
/// does not own the event, a hold through it needs the owner's admission, and when the owner
/// is killed the other node serves the very same queue.
#[actix_web::test]
async fn a_waiting_room_is_one_queue_whichever_node_a_buyer_uses() {
    let mut nodes = Nodes::start(2).await;
    let (a, b) = (&nodes.apps[0], &nodes.apps[1]);
    let buyers = a.accounts(40).await;
    let now = chrono::Utc::now();
    let (event, ticket_type, _) =
        crate::queue::queued_event(a, 100, 5, chrono::Duration::seconds(6), now).await;
    let (first, second) = buyers.split_at(20);
    crate::queue::join_all_of(a, &event, first).await;
    crate::queue::join_all_of(b, &event, second).await;
    assert!(
        chrono::Utc::now() < now + chrono::Duration::seconds(6),
        "joined before the start"
    );
    let owner = nodes.owner(&event).await;
    let other = &nodes.apps[1 - owner];
    // the stream through the node that does not own the event: the shuffle comes through it
    let waiter = &buyers[39];
    let mut stream = other
        .get(
            &format!(
                "/v1/events/{event}/queue/stream?access_token={}",
                waiter.access_token
            ),
            None,
        )
        .await
        .bytes_stream();
    let mut seen = String::new();
    let placed = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(chunk)) = stream.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            let statuses = seen
                .lines()
                .filter_map(|line| line.strip_prefix("data: "))
                .filter_map(|data| serde_json::from_str::<Value>(data).ok());
            if statuses
                .into_iter()
                .any(|s| s["position"].is_u64() || s["status"] == "admitted")
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(placed, Ok(true), "the stream said: {seen}");
    eventually(30, "five admitted", || async {
        (a.count("SELECT count(*) FROM queue_entries WHERE admitted_at IS NOT NULL")
            .await
            == 5)
            .then_some(())
    })
    .await;
    let through_a = crate::queue::statuses(a, &event, &buyers).await;
    let through_b = crate::queue::statuses(b, &event, &buyers).await;
    let place = |s: &Value| {
        (
            s["status"].clone(),
            s["position"].clone(),
            s["admission_token"].clone(),
        )
    };
    let (a_places, b_places): (Vec<_>, Vec<_>) = (
        through_a.iter().map(place).collect(),
        through_b.iter().map(place).collect(),
    );
    assert_eq!(a_places, b_places, "both nodes tell the same place");
    assert_eq!(a.count("SELECT count(*) FROM queue_entries").await, 40);

    let admitted = through_a
        .iter()
        .position(|s| s["status"] == "admitted")
        .unwrap();
    let waiting = through_a
        .iter()
        .position(|s| s["status"] == "waiting")
        .unwrap();
    let body = |token: Option<&str>| json!({"event_id": event, "ticket_type_id": ticket_type, "qty": 1, "admission_token": token});
    let refused = other.hold(&buyers[waiting], &body(None)).await;
    crate::helpers::expect_error(refused, StatusCode::FORBIDDEN, "queue_required").await;
    let token = through_a[admitted]["admission_token"].as_str();
    let held = other.hold(&buyers[admitted], &body(token)).await;
    assert_eq!(held.status(), StatusCode::CREATED);

    // the holder's slot goes to the next in line; then the owner is killed, and the other node,
    // taking the event over, rebuilds the same queue from the database
    let admitted_count = || async {
        a.count("SELECT count(*) FROM queue_entries WHERE admitted_at IS NOT NULL")
            .await
    };
    eventually(30, "the next one admitted", || async {
        (admitted_count().await == 6).then_some(())
    })
    .await;
    let before: Vec<_> = crate::queue::statuses(other, &event, &buyers)
        .await
        .iter()
        .map(place)
        .collect();
    nodes.servers[owner].kill_9();
    let me = format!("/v1/events/{event}/queue/me");
    eventually(60, "the queue served by the surviving node", || async {
        let answer = other.get(&me, Some(&buyers[0].access_token)).await;
        (answer.status() == StatusCode::OK).then_some(())
    })
    .await;
    let after: Vec<_> = crate::queue::statuses(other, &event, &buyers)
        .await
        .iter()
        .map(place)
        .collect();
    assert_eq!(before, after, "the same places after the owner's kill -9");
    assert_eq!(admitted_count().await, 6);
    assert_eq!(
        nodes.owner(&event).await,
        1 - owner,
        "the surviving node owns the event"
    );
}

#[actix_web::test]
async fn a_refund_through_either_node_puts_its_seat_back_on_sale_at_the_owner() {
    let nodes = Nodes::start(2).await;
    let a = &nodes.apps[0];
    let organizer = a.organizer().await;
    let buyer = a.customer().await;
    let map = json!({"sections": [{"name": "Stalls", "rows": [{"label": "A", "seats": 2}]}]});
    let (event, ticket_type) = a
        .event_with(&organizer, json!({"seat_mapped": true}), Some(map))
        .await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 2});
    let booking = expect_json(a.hold(&buyer, &body).await, StatusCode::CREATED).await;
    let booking = check_out(a, &buyer, &booking).await;
    let transaction = format!("txn-{}", booking["id"].as_str().unwrap());
    expect_json(
        Webhook::new(a, &booking, &transaction).send(a).await,
        StatusCode::OK,
    )
    .await;
    let tickets = crate::tickets::tickets_of(a, &buyer, 2).await;
    // asked of the node that does not own the event: its actor is reached over the network
    let other = &nodes.apps[1 - nodes.owner(&event).await];
    let refunded = expect_json(
        crate::refunds::refund(
            other,
            &organizer,
            booking["id"].as_str().unwrap(),
            json!({"tickets": [tickets[0]["id"]]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(refunded["tickets"].as_array().unwrap().len(), 1);
    let seat = tickets[0]["seat"]["id"].as_str().unwrap().to_owned();
    eventually(20, "the refunded seat free again", || async {
        (crate::refunds::free_seats(other, &event).await == vec![seat.clone()]).then_some(())
    })
    .await;
    let again =
        json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1, "seats": [seat]});
    let newcomer = other.customer().await;
    expect_json(other.hold(&newcomer, &again).await, StatusCode::CREATED).await;
    eventually(20, "the refund given back", || async {
        let status: String = sqlx::query_scalar("SELECT status FROM refunds WHERE id = $1::uuid")
            .bind(refunded["id"].as_str().unwrap())
            .fetch_one(&other.pool)
            .await
            .unwrap();
        (status == "succeeded").then_some(())
    })
    .await;
}

#[actix_web::test]
async fn a_waiting_list_joined_through_either_node_is_the_owner_actors_line() {
    let nodes = Nodes::start(2).await;
    let a = &nodes.apps[0];
    let organizer = a.organizer().await;
    let (event, ticket_type) = a
        .event_with(&organizer, json!({"number_seats": 1}), None)
        .await;
    let buyer = a.customer().await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});
    let held = expect_json(a.hold(&buyer, &body).await, StatusCode::CREATED).await;
    // joined on the node that does not own the event: its actor takes the join over the network
    let other = &nodes.apps[1 - nodes.owner(&event).await];
    let waiter = other.customer().await;
    let wait = json!({"ticket_type_id": ticket_type["id"]});
    expect_json(
        crate::waitlist::join(other, &waiter, &event, wait).await,
        StatusCode::CREATED,
    )
    .await;
    crate::waitlist::cancel(other, &buyer, &held).await;
    let offered = crate::waitlist::entry_with_status(other, &waiter, &event, "offered").await;
    assert!(offered["booking_id"].is_string(), "{offered}");
    let late = other.customer().await;
    crate::helpers::expect_error(
        other.hold(&late, &body).await,
        StatusCode::CONFLICT,
        "sold_out",
    )
    .await;
}
