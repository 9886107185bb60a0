//! The waiting room: the pre-queue's shuffle anyone can recompute from the revealed seed,
//! admissions paced by what is left, holds refused without a valid admission, and a queue that
//! survives kill -9.
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::helpers::{
    eventually, expect_error, expect_json, fresh_db_name, server_url, spawn_app_with, Server,
    TestApp, User,
};

/// Every test joins from one address: the per-address cap is the subject of one test only.
fn many_joins(settings: &mut boxoffice::config::Settings) {
    settings.queue.joins_per_ip_per_minute = 100_000;
}

pub(crate) const MANY_JOINS: (&str, &str) = ("BOXOFFICE__QUEUE__JOINS_PER_IP_PER_MINUTE", "100000");

/// A published event with one ticket type of `seats` admissions behind a queue that opened an
/// hour ago and starts `starts_in` from the app's clock; (event id, ticket type id).
pub(crate) async fn queued_event(
    app: &TestApp,
    seats: i64,
    admit_at_once: u32,
    starts_in: chrono::Duration,
    now: chrono::DateTime<chrono::Utc>,
) -> (String, String, User) {
    let organizer = app.organizer().await;
    let (event, ticket_type) = app
        .event_with(
            &organizer,
            json!({"number_seats": seats, "max_per_user": null}),
            None,
        )
        .await;
    let queue = json!({"queue": {
        "enabled": true,
        "opens_at": (now - chrono::Duration::hours(1)).to_rfc3339(),
        "starts_at": (now + starts_in).to_rfc3339(),
        "admit_minutes": 10,
        "admit_at_once": admit_at_once,
        "challenge_bits": 0,
    }});
    let edited = expect_json(
        app.patch(
            &format!("/v1/admin/events/{event}"),
            Some(&organizer.access_token),
            &queue,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(edited["queue"]["admit_at_once"], admit_at_once);
    (
        event,
        ticket_type["id"].as_str().unwrap().to_owned(),
        organizer,
    )
}

fn clock_now(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    use boxoffice_actors::clock::Clock;
    let millis = app.clock.as_ref().expect("a manual clock").now();
    chrono::DateTime::from_timestamp_millis(millis).unwrap()
}

pub(crate) async fn join_all_of(app: &TestApp, event: &str, buyers: &[User]) {
    let path = format!("/v1/events/{event}/queue");
    stream::iter(buyers)
        .for_each_concurrent(32, |buyer| {
            let path = path.clone();
            async move {
                let joined = expect_json(
                    app.post(&path, Some(&buyer.access_token), &json!({})).await,
                    StatusCode::OK,
                )
                .await;
                assert!(
                    ["waiting", "admitted", "sold_out"]
                        .contains(&joined["status"].as_str().unwrap()),
                    "{joined}"
                );
            }
        })
        .await;
}

pub(crate) async fn statuses(app: &TestApp, event: &str, buyers: &[User]) -> Vec<Value> {
    let path = format!("/v1/events/{event}/queue/me");
    stream::iter(buyers)
        .map(|buyer| {
            let path = path.clone();
            async move {
                expect_json(
                    app.get(&path, Some(&buyer.access_token)).await,
                    StatusCode::OK,
                )
                .await
            }
        })
        .buffered(32)
        .collect()
        .await
}

async fn public(app: &TestApp, event: &str) -> Value {
    expect_json(
        app.get(&format!("/v1/events/{event}/queue"), None).await,
        StatusCode::OK,
    )
    .await
}

/// The order anyone can recompute: accounts by SHA-256(seed ‖ account id bytes).
fn recomputed(seed_hex: &str, buyers: &[User]) -> Vec<String> {
    let seed = hex::decode(seed_hex).unwrap();
    let mut keyed: Vec<(Vec<u8>, String)> = buyers
        .iter()
        .map(|b| {
            let id = Uuid::parse_str(&b.id).unwrap();
            let mut hash = Sha256::new();
            hash.update(&seed);
            hash.update(id.as_bytes());
            (hash.finalize().to_vec(), b.id.clone())
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, id)| id).collect()
}

async fn admitted_count(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM queue_entries WHERE admitted_at IS NOT NULL")
        .await
}

#[actix_web::test]
async fn the_prequeue_is_served_in_the_order_the_revealed_seed_gives() {
    let app = spawn_app_with(many_joins).await;
    let now = clock_now(&app);
    let (event, _, _) = queued_event(&app, 1_000, 5, chrono::Duration::minutes(30), now).await;
    let buyers = app.accounts(2_000).await;

    let before = public(&app, &event).await;
    assert!(
        before["seed"].is_null(),
        "the seed stays secret until the start"
    );
    let commitment = before["seed_sha256"].as_str().unwrap().to_owned();
    join_all_of(&app, &event, &buyers).await;
    // joining again is the same entry
    let again = expect_json(
        app.post(
            &format!("/v1/events/{event}/queue"),
            Some(&buyers[0].access_token),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["status"], "waiting");
    assert!(
        again["position"].is_null(),
        "places are drawn at the start: {again}"
    );
    assert_eq!(app.count("SELECT count(*) FROM queue_entries").await, 2_000);

    app.advance(Duration::from_secs(31 * 60));
    let revealed = eventually(20, "the seed revealed", || async {
        let queue = public(&app, &event).await;
        queue["seed"].as_str().map(str::to_owned)
    })
    .await;
    assert_eq!(
        hex::encode(Sha256::digest(hex::decode(&revealed).unwrap())),
        commitment
    );
    eventually(20, "the first five admitted", || async {
        (admitted_count(&app).await == 5).then_some(())
    })
    .await;

    let order = recomputed(&revealed, &buyers);
    let served = statuses(&app, &event, &buyers).await;
    let mut by_place = vec![String::new(); buyers.len()];
    for (buyer, status) in buyers.iter().zip(&served) {
        let place = match status["status"].as_str().unwrap() {
            "admitted" => order.iter().position(|id| *id == buyer.id).unwrap(),
            "waiting" => status["position"].as_u64().unwrap() as usize + 4,
            other => panic!("unexpected status {other}"),
        };
        by_place[place] = buyer.id.clone();
    }
    assert_eq!(by_place, order, "the served order is the recomputed one");
    let admitted: Vec<&String> = buyers
        .iter()
        .zip(&served)
        .filter(|(_, s)| s["status"] == "admitted")
        .map(|(b, _)| &b.id)
        .collect();
    assert_eq!(admitted.len(), 5);
    assert!(
        admitted.iter().all(|id| order[..5].contains(id)),
        "admitted from the head"
    );
    assert_ne!(
        order[0], buyers[0].id,
        "joining first bought no advantage this time"
    );

    // a later arrival queues behind the whole pre-queue
    let late = app.accounts(1).await;
    let joined = expect_json(
        app.post(
            &format!("/v1/events/{event}/queue"),
            Some(&late[0].access_token),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(joined["position"], 1_996, "{joined}");
}

/// A sale of `seats` whose queue `buyers` joined before the start, started, with its first
/// `admit_at_once` admitted.
struct Started {
    app: TestApp,
    event: String,
    ticket_type: String,
    organizer: User,
    buyers: Vec<User>,
}

async fn started(seats: i64, admit_at_once: u32, buyers: usize) -> Started {
    let app = spawn_app_with(many_joins).await;
    let now = clock_now(&app);
    let (event, ticket_type, organizer) = queued_event(
        &app,
        seats,
        admit_at_once,
        chrono::Duration::minutes(1),
        now,
    )
    .await;
    let buyers = app.accounts(buyers).await;
    join_all_of(&app, &event, &buyers).await;
    app.advance(Duration::from_secs(61));
    eventually(20, "the first admitted", || async {
        (admitted_count(&app).await == i64::from(admit_at_once)).then_some(())
    })
    .await;
    Started {
        app,
        event,
        ticket_type,
        organizer,
        buyers,
    }
}

#[actix_web::test]
async fn admissions_stop_at_the_cap_the_queue_hears_sold_out_and_expiring_holds_admit_more() {
    let Started {
        app,
        event,
        ticket_type,
        organizer,
        buyers,
    } = started(100, 50, 1_000).await;

    let first = statuses(&app, &event, &buyers).await;
    let admitted: Vec<(usize, String)> = first
        .iter()
        .enumerate()
        .filter(|(_, s)| s["status"] == "admitted")
        .map(|(i, s)| (i, s["admission_token"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        admitted.len(),
        50,
        "no more than admit_at_once while seats remain"
    );
    // the last in line: while seats remain, holders' slots go to the next people, so someone
    // near the head may well be let in before the last seat goes
    let waiting = (0..first.len())
        .filter(|&i| first[i]["status"] == "waiting")
        .max_by_key(|&i| first[i]["position"].as_u64())
        .expect("someone still waits");

    // a waiter's stream is open before the last seat goes
    let mut stream = app
        .get(
            &format!(
                "/v1/events/{event}/queue/stream?access_token={}",
                buyers[waiting].access_token
            ),
            None,
        )
        .await
        .bytes_stream();
    let body = |token: &str| json!({"event_id": event, "ticket_type_id": ticket_type, "qty": 2, "admission_token": token});
    let view = format!("/v1/admin/events/{event}/queue");
    for (i, token) in &admitted {
        let held = app.hold(&buyers[*i], &body(token)).await;
        assert_eq!(held.status(), StatusCode::CREATED);
        // seats remain, so the room may admit the next people, never past 50 without a hold
        let tally = expect_json(
            app.get(&view, Some(&organizer.access_token)).await,
            StatusCode::OK,
        )
        .await;
        assert!(tally["admitted"].as_i64().unwrap() <= 50, "{tally}");
    }
    assert_eq!(app.available(&event).await, 0);
    let mut seen = String::new();
    let told = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(chunk)) = stream.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("\"status\":\"sold_out\"") {
                return true;
            }
        }
        false
    })
    .await;
    let after = statuses(&app, &event, &buyers[waiting..waiting + 1]).await;
    assert_eq!(
        told,
        Ok(true),
        "the stream said: {seen}; /me says {}; {} admitted",
        after[0],
        admitted_count(&app).await
    );
    assert_eq!(after[0]["status"], "sold_out");
    let sold_out_with = admitted_count(&app).await;
    app.advance(Duration::from_secs(1));
    let tally = expect_json(
        app.get(&view, Some(&organizer.access_token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(tally["holding"], 50, "{tally}");
    assert_eq!(
        admitted_count(&app).await,
        sold_out_with,
        "nobody admitted once all is held"
    );

    // the holds run out: seats come back and the next in line are admitted
    app.expire_holds();
    eventually(20, "more admitted", || async {
        (admitted_count(&app).await > 50).then_some(())
    })
    .await;
    let next = statuses(&app, &event, &buyers).await;
    assert!(
        next.iter().any(|s| s["status"] == "admitted"),
        "the next people are in"
    );
    assert!(next.iter().filter(|s| s["status"] == "admitted").count() <= 50);
}

#[actix_web::test]
async fn holds_need_this_accounts_live_admission() {
    let Started {
        app,
        event,
        ticket_type,
        buyers,
        ..
    } = started(100, 2, 3).await;
    let all = statuses(&app, &event, &buyers).await;
    let admitted: Vec<usize> = (0..3).filter(|&i| all[i]["status"] == "admitted").collect();
    let outsider = (0..3).find(|i| !admitted.contains(i)).unwrap();
    let (mine, theirs) = (admitted[0], admitted[1]);
    let token = all[mine]["admission_token"].as_str().unwrap();
    let hold = |token: Option<&str>| {
        let mut body = json!({"event_id": event, "ticket_type_id": ticket_type, "qty": 1});
        if let Some(token) = token {
            body["admission_token"] = json!(token);
        }
        body
    };

    let refused = app.hold(&buyers[outsider], &hold(None)).await;
    expect_error(refused, StatusCode::FORBIDDEN, "queue_required").await;
    let foreign = app.hold(&buyers[outsider], &hold(Some(token))).await;
    expect_error(foreign, StatusCode::FORBIDDEN, "queue_required").await;
    let forged = token.replacen(|c: char| c.is_ascii_digit(), "9", 1);
    let refused = app.hold(&buyers[mine], &hold(Some(&forged))).await;
    expect_error(refused, StatusCode::FORBIDDEN, "queue_required").await;
    let garbage = app.hold(&buyers[mine], &hold(Some("not-a-token"))).await;
    expect_error(garbage, StatusCode::FORBIDDEN, "queue_required").await;

    // the header works as well as the field
    let held = app
        .request(
            reqwest::Method::POST,
            "/v1/bookings/hold",
            Some(&buyers[mine].access_token),
        )
        .header("X-Admission-Token", token)
        .json(&hold(None))
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), StatusCode::CREATED);

    let theirs_token = all[theirs]["admission_token"].as_str().unwrap().to_owned();
    app.advance(Duration::from_secs(11 * 60));
    let late = app.hold(&buyers[theirs], &hold(Some(&theirs_token))).await;
    expect_error(late, StatusCode::FORBIDDEN, "admission_expired").await;
    let me = statuses(&app, &event, &buyers[theirs..theirs + 1]).await;
    assert_eq!(me[0]["status"], "expired");
}

#[actix_web::test]
async fn settings_are_checked_and_frozen_once_the_sale_starts() {
    let app = spawn_app_with(many_joins).await;
    let now = clock_now(&app);
    let (event, _, organizer) = queued_event(&app, 10, 5, chrono::Duration::minutes(1), now).await;
    let path = format!("/v1/admin/events/{event}");
    let token = Some(organizer.access_token.as_str());
    let settings = |minutes: u32, opens: i64| {
        json!({"queue": {"enabled": true, "opens_at": (now + chrono::Duration::minutes(opens)).to_rfc3339(),
            "starts_at": (now + chrono::Duration::minutes(1)).to_rfc3339(), "admit_minutes": minutes,
            "admit_at_once": 5, "challenge_bits": 0}})
    };
    let bad = app.patch(&path, token, &settings(0, 5)).await;
    let error = expect_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(
        crate::helpers::error_fields(&error),
        ["queue.opens_at", "queue.admit_minutes"]
    );
    let view = expect_json(
        app.get(&format!("{path}/queue"), token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["waiting"], 0);
    assert_eq!(
        view["admit_minutes"], 10,
        "the refused change left the settings alone"
    );

    let buyer = &app.accounts(1).await[0];
    let missing = app
        .get(&format!("/v1/events/{}/queue", Uuid::now_v7()), None)
        .await;
    expect_error(missing, StatusCode::NOT_FOUND, "not_found").await;
    let me = app
        .get(
            &format!("/v1/events/{event}/queue/me"),
            Some(&buyer.access_token),
        )
        .await;
    expect_error(me, StatusCode::NOT_FOUND, "not_found").await;

    app.advance(Duration::from_secs(61));
    eventually(20, "the shuffle", || async {
        public(&app, &event).await["seed"].as_str().map(|_| ())
    })
    .await;
    let frozen = app.patch(&path, token, &settings(20, -60)).await;
    expect_error(frozen, StatusCode::CONFLICT, "invalid_state").await;
}

/// kill -9 of the server with a full queue: every position and admission is the same after
/// the restart.
#[actix_web::test]
async fn a_queue_survives_kill_9_with_its_order_and_admissions() {
    let db_name = fresh_db_name();
    let url = format!("{}/{db_name}", server_url());
    let (mut server, port) = Server::start_with(&url, &[MANY_JOINS]);
    let mut app = TestApp::attach(port, &db_name).await;
    let buyers = app.accounts(300).await;
    // the start is far enough off for the organizer and 300 joins, then the test waits for it
    let now = chrono::Utc::now();
    let (event, _, _) = queued_event(&app, 1_000, 10, chrono::Duration::seconds(8), now).await;
    join_all_of(&app, &event, &buyers).await;
    assert!(
        chrono::Utc::now() < now + chrono::Duration::seconds(8),
        "joined before the start"
    );
    eventually(30, "the shuffle and ten admissions", || async {
        (admitted_count(&app).await == 10 && public(&app, &event).await["seed"].is_string())
            .then_some(())
    })
    .await;
    let before = statuses(&app, &event, &buyers).await;

    server.kill_9();
    let (restarted, port) = Server::start_with(&url, &[MANY_JOINS]);
    let _server = restarted;
    app.reattach(port);
    let after = statuses(&app, &event, &buyers).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b["status"], a["status"]);
        assert_eq!(b["position"], a["position"]);
        assert_eq!(b["admitted_until"], a["admitted_until"]);
    }
    assert_eq!(admitted_count(&app).await, 10);
}

#[actix_web::test]
async fn one_address_joins_a_few_times_a_minute_and_may_have_to_prove_work() {
    let app = crate::helpers::spawn_app_with(|s| s.queue.joins_per_ip_per_minute = 3).await;
    let now = clock_now(&app);
    let (event, _, organizer) = queued_event(&app, 10, 5, chrono::Duration::minutes(5), now).await;
    let buyers = app.accounts(4).await;
    join_all_of(&app, &event, &buyers[..3]).await;
    let path = format!("/v1/events/{event}/queue");
    let capped = app
        .post(&path, Some(&buyers[3].access_token), &json!({}))
        .await;
    assert!(capped.headers().contains_key("retry-after"));
    expect_error(capped, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // joining again is not a new join: the cap does not stop it
    let again = app
        .post(&path, Some(&buyers[0].access_token), &json!({}))
        .await;
    assert_eq!(again.status(), StatusCode::OK);

    // with a proof of work asked, a join without one gets the challenge, a wrong answer too
    let app = spawn_app_with(many_joins).await;
    let now = clock_now(&app);
    let (event, _, organizer2) = queued_event(&app, 10, 5, chrono::Duration::minutes(5), now).await;
    drop(organizer);
    let settings = json!({"queue": {"enabled": true, "opens_at": (now - chrono::Duration::hours(1)).to_rfc3339(),
        "starts_at": (now + chrono::Duration::minutes(5)).to_rfc3339(), "admit_minutes": 10,
        "admit_at_once": 5, "challenge_bits": 8}});
    let saved = app
        .patch(
            &format!("/v1/admin/events/{event}"),
            Some(&organizer2.access_token),
            &settings,
        )
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    let buyer = &app.accounts(1).await[0];
    let path = format!("/v1/events/{event}/queue");
    let asked = app.post(&path, Some(&buyer.access_token), &json!({})).await;
    let asked = expect_error(
        asked,
        StatusCode::PRECONDITION_REQUIRED,
        "challenge_required",
    )
    .await;
    let challenge = asked["details"][0]["message"].as_str().unwrap().to_owned();
    let zero_bits = |nonce: &str| {
        let digest = Sha256::digest(format!("{challenge}:{nonce}").as_bytes());
        digest[0] == 0
    };
    let wrong = (0u64..)
        .map(|n| n.to_string())
        .find(|n| !zero_bits(n))
        .unwrap();
    let refused = app
        .post(
            &path,
            Some(&buyer.access_token),
            &json!({"challenge": challenge, "nonce": wrong}),
        )
        .await;
    expect_error(
        refused,
        StatusCode::PRECONDITION_REQUIRED,
        "challenge_required",
    )
    .await;
    let right = (0u64..)
        .map(|n| n.to_string())
        .find(|n| zero_bits(n))
        .unwrap();
    let joined = app
        .post(
            &path,
            Some(&buyer.access_token),
            &json!({"challenge": challenge, "nonce": right}),
        )
        .await;
    assert_eq!(
        expect_json(joined, StatusCode::OK).await["status"],
        "waiting"
    );
}
