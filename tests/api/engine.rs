//! The event actors driven directly (no HTTP) over the real PostgreSQL journal: supervision,
//! backpressure, recovery from a snapshot plus the journal after it.
use std::sync::Arc;

use boxoffice::engine::journal::PgJournal;
use boxoffice::outbox::Wake;
use boxoffice_actors::clock::{Clock, ManualClock, SystemClock};
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::event_actor::{EngineError, EngineSettings};
use boxoffice_actors::ids::{BookingId, EventId, TicketTypeId, UserId};
use boxoffice_actors::inventory::{HoldRequest, ItemRequest, Rejection};
use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{eventually, spawn_app, TestApp};

/// A published event with one general-admission type of `capacity`, and a buyer's id.
async fn event(app: &TestApp, capacity: u32) -> (EventId, TicketTypeId, UserId) {
    let organizer = app.organizer().await;
    let (event, ticket_type) = app
        .event_with(&organizer, json!({"number_seats": capacity}), None)
        .await;
    let buyer = app.customer().await;
    (
        event.parse().unwrap(),
        ticket_type["id"].as_str().unwrap().parse().unwrap(),
        buyer.id.parse().unwrap(),
    )
}

/// A directory with a pool of its own: connections opened on an engine thread die with it,
/// so a directory dropped mid-test must not leave them to the next one.
async fn directory(app: &TestApp, settings: EngineSettings) -> EventDirectory {
    directory_on(app, settings, Arc::new(SystemClock)).await
}

async fn directory_on(
    app: &TestApp,
    settings: EngineSettings,
    clock: Arc<dyn Clock>,
) -> EventDirectory {
    let pool = sqlx::PgPool::connect(app.settings.database.url.expose())
        .await
        .unwrap();
    let journal = PgJournal::new(pool, Wake::default(), None);
    EventDirectory::new(Arc::new(journal), settings, clock)
}

pub fn request(ticket_type: TicketTypeId, user: UserId, qty: u32) -> HoldRequest {
    HoldRequest {
        booking: BookingId::new(),
        user,
        items: vec![ItemRequest {
            ticket_type,
            qty,
            seats: vec![],
        }],
        max_per_order: 10,
        promo: None,
    }
}

#[actix_web::test]
async fn a_panic_rebuilds_the_actor_from_the_journal_without_losing_a_hold() {
    let app = spawn_app().await;
    let (event, ticket_type, user) = event(&app, 3).await;
    let engine = directory(&app, EngineSettings::default()).await;

    let held = engine
        .hold(event, request(ticket_type, user, 2))
        .await
        .unwrap();
    engine.crash(event);
    // the crash is handled first; the actor reloads before it takes the next hold
    let refused = engine.hold(event, request(ticket_type, user, 2)).await;
    assert_eq!(refused, Err(EngineError::Rejected(Rejection::SoldOut)));
    assert!(engine.is_running(event));
    engine
        .hold(event, request(ticket_type, user, 1))
        .await
        .unwrap();
    let counts = engine.counts(ticket_type).unwrap();
    assert_eq!((counts.held, counts.sold, counts.capacity), (3, 0, 3));
    // and the first hold is still the buyer's to cancel
    engine.cancel(event, held.booking, user).await.unwrap();
    assert_eq!(engine.counts(ticket_type).unwrap().held, 1);
}

#[actix_web::test]
async fn a_full_mailbox_answers_overloaded_instead_of_queueing() {
    let app = spawn_app().await;
    let (event, ticket_type, user) = event(&app, 100).await;
    let engine = directory(
        &app,
        EngineSettings {
            mailbox_capacity: 1,
            ..EngineSettings::default()
        },
    )
    .await;

    // all sent before the fresh actor has loaded its event
    let answers =
        join_all((0..50).map(|_| engine.hold(event, request(ticket_type, user, 1)))).await;
    let held = answers.iter().filter(|a| a.is_ok()).count();
    let overloaded = answers
        .iter()
        .filter(|a| **a == Err(EngineError::Overloaded))
        .count();
    assert!(held >= 1, "{answers:?}");
    assert!(overloaded >= 1, "{answers:?}");
    assert_eq!(held + overloaded, 50, "{answers:?}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings WHERE event_id = $1")
        .bind(event)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, held as i64, "only what was answered is held");
}

#[actix_web::test]
async fn recovery_reads_the_snapshot_and_the_journal_after_it() {
    snapshot_then_journal(false, false).await;
}

#[actix_web::test]
async fn recovery_reads_a_json_snapshot_written_before_binary_snapshots() {
    snapshot_then_journal(true, false).await;
}

#[actix_web::test]
async fn recovery_replays_the_journal_past_a_snapshot_of_an_older_layout() {
    snapshot_then_journal(false, true).await;
}

/// Two holds (then a snapshot), a cancel only the journal knows, and a fresh engine that must
/// see one admission left; `as_json` first rewrites the snapshot as servers before migration
/// 0011 wrote it, `unmarked` as servers before 0017 did (holds without their promo code).
async fn snapshot_then_journal(as_json: bool, unmarked: bool) {
    let app = spawn_app().await;
    let (event, ticket_type, user) = event(&app, 3).await;
    let settings = EngineSettings {
        snapshot_every_changes: 2,
        ..EngineSettings::default()
    };
    let first = directory(&app, settings.clone()).await;
    let a = first
        .hold(event, request(ticket_type, user, 1))
        .await
        .unwrap();
    first
        .hold(event, request(ticket_type, user, 1))
        .await
        .unwrap();
    let version: i64 = eventually(5, "the snapshot", || snapshot_version(&app, event)).await;
    assert_eq!(version, 2);
    if as_json {
        let holds = snapshot_holds(&app, event).await;
        assert_eq!(holds.len(), 2);
        sqlx::query(
            "UPDATE inventory_snapshots SET state = $2, encoded = NULL WHERE event_id = $1",
        )
        .bind(event)
        .bind(serde_json::to_value(&holds).unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    }
    if unmarked {
        // the layout before holds named their promo code: no format mark, and one field less,
        // which the loader must not misread
        #[derive(serde::Serialize)]
        struct Before<'a> {
            booking: boxoffice_actors::ids::BookingId,
            user: UserId,
            items: &'a [(TicketTypeId, u32, i64)],
            seats: &'a [(TicketTypeId, boxoffice_actors::ids::SeatId)],
            currency: &'a str,
            held_at: i64,
            expires_at: i64,
            state: boxoffice_actors::inventory::HoldState,
        }
        let holds = snapshot_holds(&app, event).await;
        let before: Vec<Before> = holds
            .iter()
            .map(|h| Before {
                booking: h.booking,
                user: h.user,
                items: &h.items,
                seats: &h.seats,
                currency: &h.currency,
                held_at: h.held_at,
                expires_at: h.expires_at,
                state: h.state,
            })
            .collect();
        sqlx::query("UPDATE inventory_snapshots SET encoded = $2 WHERE event_id = $1")
            .bind(event)
            .bind(postcard::to_stdvec(&before).unwrap())
            .execute(&app.pool)
            .await
            .unwrap();
    }
    // after the snapshot: a cancel that only the journal knows
    first.cancel(event, a.booking, user).await.unwrap();
    drop(first);

    let second = directory(&app, settings).await;
    second
        .hold(event, request(ticket_type, user, 2))
        .await
        .unwrap();
    let refused = second.hold(event, request(ticket_type, user, 1)).await;
    assert_eq!(refused, Err(EngineError::Rejected(Rejection::SoldOut)));
    let counts = second.counts(ticket_type).unwrap();
    assert_eq!((counts.held, counts.capacity), (3, 3));
}

#[actix_web::test]
async fn one_batch_can_release_a_seat_and_sell_it_again() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let map = json!({"sections": [{"name": "Box", "rows": [{"label": "A", "seats": 1}]}]});
    let (event, ticket_type) = app
        .event_with(&organizer, json!({"seat_mapped": true}), Some(map))
        .await;
    let (event, ticket_type): (EventId, TicketTypeId) = (
        event.parse().unwrap(),
        ticket_type["id"].as_str().unwrap().parse().unwrap(),
    );
    let first_buyer: UserId = app.customer().await.id.parse().unwrap();
    let second_buyer: UserId = app.customer().await.id.parse().unwrap();
    let first = directory(&app, EngineSettings::default()).await;
    let held = first
        .hold(event, request(ticket_type, first_buyer, 1))
        .await
        .unwrap();
    let seat = held.seats[0];
    drop(first);

    // both reach a fresh actor while it loads, so they are decided in one drain: one batch
    let second = directory(&app, EngineSettings::default()).await;
    let named = HoldRequest {
        items: vec![ItemRequest {
            ticket_type,
            qty: 1,
            seats: vec![seat.1],
        }],
        ..request(ticket_type, second_buyer, 1)
    };
    let (cancelled, sold_again) = futures_util::future::join(
        second.cancel(event, held.booking, first_buyer),
        second.hold(event, named),
    )
    .await;
    cancelled.unwrap();
    let sold_again = sold_again.unwrap();
    assert_eq!(sold_again.seats, vec![seat]);
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM bookings WHERE id = ANY($1)")
        .bind(vec![held.booking, sold_again.booking])
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0], versions[1], "written by one batch");
    let active: i64 =
        sqlx::query_scalar("SELECT count(*) FROM booking_seats WHERE active AND seat_id = $1")
            .bind(seat.1)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(active, 1);
}

/// The snapshot row's journal version, if one was written.
/// The holds in the event's snapshot, as the journal encoded them.
async fn snapshot_holds(app: &TestApp, event: EventId) -> Vec<boxoffice_actors::inventory::Hold> {
    let encoded: Vec<u8> =
        sqlx::query_scalar("SELECT encoded FROM inventory_snapshots WHERE event_id = $1")
            .bind(event)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let (_, holds): (u32, Vec<boxoffice_actors::inventory::Hold>) =
        postcard::from_bytes(&encoded).unwrap();
    holds
}

async fn snapshot_version(app: &TestApp, event: EventId) -> Option<i64> {
    sqlx::query_scalar("SELECT version FROM inventory_snapshots WHERE event_id = $1")
        .bind(event)
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_snapshot_is_taken_once_its_interval_has_passed_on_the_engine_clock() {
    let app = spawn_app().await;
    let (event, ticket_type, user) = event(&app, 10).await;
    let clock = ManualClock::new();
    let settings = EngineSettings {
        snapshot_every_changes: 1_000,
        snapshot_every_seconds: 60,
        ..EngineSettings::default()
    };
    let engine = directory_on(&app, settings, clock.clone()).await;
    for _ in 0..2 {
        engine
            .hold(event, request(ticket_type, user, 1))
            .await
            .unwrap();
    }
    assert_eq!(snapshot_version(&app, event).await, None, "59 s too early");
    clock.advance(std::time::Duration::from_secs(60));
    engine
        .hold(event, request(ticket_type, user, 1))
        .await
        .unwrap();
    // the snapshot is written beside the mailbox, after the third commit
    let version = eventually(5, "the snapshot", || snapshot_version(&app, event)).await;
    assert_eq!(version, 3);
}

#[actix_web::test]
async fn holds_expire_when_the_engine_clock_reaches_their_deadline_and_not_before() {
    let app = spawn_app().await;
    let (event, ticket_type, user) = event(&app, 2).await;
    let clock = ManualClock::new();
    let settings = EngineSettings {
        hold_seconds: 900,
        ..EngineSettings::default()
    };
    let engine = directory_on(&app, settings, clock.clone()).await;
    let held = engine
        .hold(event, request(ticket_type, user, 2))
        .await
        .unwrap();
    clock.advance(std::time::Duration::from_secs(899));
    let refused = engine.hold(event, request(ticket_type, user, 1)).await;
    assert_eq!(refused, Err(EngineError::Rejected(Rejection::SoldOut)));
    clock.advance(std::time::Duration::from_secs(1));
    let status: String = eventually(5, "the hold to expire", || async {
        let status: String = sqlx::query_scalar("SELECT status FROM bookings WHERE id = $1")
            .bind(held.booking)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        (status != "held").then_some(status)
    })
    .await;
    assert_eq!(status, "expired");
    engine
        .hold(event, request(ticket_type, user, 2))
        .await
        .expect("the expired hold's admissions are free again");
}
