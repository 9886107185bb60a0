//! The outbox dispatcher on its own, with consumers of the test's making, over the test's
//! database: stopping waits for the delivery in flight; a failing row gives up into a dead letter.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use boxoffice::outbox::{Consumers, DeliveryError, Dispatcher, Wake};
use tokio::sync::{watch, Notify};

use crate::helpers::{spawn_app, TestApp};

const SUBJECT: &[&str] = &["tests.probe"];

async fn write_row(app: &TestApp) -> i64 {
    write_row_of(app, SUBJECT[0]).await
}

async fn write_row_of(app: &TestApp, subject: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO outbox (subject, aggregate_id, payload) VALUES ($1, gen_random_uuid(), '{}')
         RETURNING id",
    )
    .bind(subject)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// A consumer of `subjects` that, on each row, says it entered and then waits to be released.
fn stuck_consumer(
    consumers: &mut Consumers,
    name: &'static str,
    subjects: &'static [&'static str],
) -> (Arc<Notify>, Arc<Notify>) {
    let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (inside, go_on) = (entered.clone(), release.clone());
    consumers.register(name, subjects, move |_| {
        let (inside, go_on) = (inside.clone(), go_on.clone());
        async move {
            inside.notify_one();
            go_on.notified().await;
            Ok(())
        }
    });
    (entered, release)
}

async fn row(app: &TestApp, id: i64) -> (bool, i32, Option<String>, Option<String>) {
    sqlx::query_as(
        "SELECT delivered_at IS NOT NULL, attempts, dead_consumer, last_error FROM outbox
         WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[actix_web::test]
async fn stopping_the_dispatcher_lets_the_delivery_in_flight_finish() {
    let app = spawn_app().await;
    let id = write_row(&app).await;
    let mut consumers = Consumers::default();
    let (entered, release) = stuck_consumer(&mut consumers, "probe", SUBJECT);
    let dispatcher = Dispatcher::new(app.pool.clone(), Wake::default(), consumers, 3);
    let (stop, stopped) = watch::channel(false);
    let running = actix_web::rt::spawn(dispatcher.run(stopped));
    entered.notified().await;

    stop.send(true).unwrap();
    // the consumer is still inside: the dispatcher cannot have finished
    actix_web::rt::task::yield_now().await;
    assert!(!running.is_finished(), "stopped mid-delivery");
    assert!(!row(&app, id).await.0);
    release.notify_one();
    tokio::time::timeout(std::time::Duration::from_secs(10), running)
        .await
        .expect("the dispatcher stops once its delivery is done")
        .unwrap();
    assert!(row(&app, id).await.0, "the delivery in flight was recorded");
}

#[actix_web::test]
async fn a_row_that_keeps_failing_becomes_a_dead_letter_after_max_attempts() {
    let app = spawn_app().await;
    let id = write_row(&app).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let mut consumers = Consumers::default();
    let counted = calls.clone();
    consumers.register("probe", SUBJECT, move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Err(DeliveryError::retry(anyhow::anyhow!("the probe is down"))) }
    });
    let dispatcher = Dispatcher::new(app.pool.clone(), Wake::default(), consumers, 2);

    dispatcher.deliver_all().await.unwrap();
    let (delivered, attempts, dead, error) = row(&app, id).await;
    assert_eq!((delivered, attempts, dead), (false, 1, None));
    assert_eq!(error.as_deref(), Some("the probe is down"));
    // its backoff has not passed: not tried again
    dispatcher.deliver_all().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    sqlx::query("UPDATE outbox SET next_attempt_at = now() WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    dispatcher.deliver_all().await.unwrap();
    let (delivered, attempts, dead, error) = row(&app, id).await;
    assert_eq!((delivered, attempts), (false, 2));
    assert_eq!(dead.as_deref(), Some("probe"));
    assert_eq!(
        error.as_deref(),
        Some("gave up after 2 attempts: the probe is down")
    );
    // dead: never tried again, whatever the time
    sqlx::query("UPDATE outbox SET next_attempt_at = now() WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    dispatcher.deliver_all().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// Each subject is delivered in a lane of its own: a consumer stuck on one subject (a mail
/// server that hangs) does not keep another subject's rows (a sale) from being delivered.
#[actix_web::test]
async fn a_stuck_subject_does_not_hold_up_another() {
    const STUCK: &[&str] = &["tests.stuck"];
    let app = spawn_app().await;
    let stuck = write_row_of(&app, STUCK[0]).await;
    let mut consumers = Consumers::default();
    let (entered, release) = stuck_consumer(&mut consumers, "stuck", STUCK);
    consumers.register("probe", SUBJECT, |_| async { Ok(()) });
    let dispatcher = Dispatcher::new(app.pool.clone(), Wake::default(), consumers, 3);
    let (stop, stopped) = watch::channel(false);
    let running = actix_web::rt::spawn(dispatcher.run(stopped));
    entered.notified().await;

    // written while the other lane is stuck, and delivered all the same
    let fast = write_row(&app).await;
    crate::helpers::eventually(10, "the other subject's row", || async {
        row(&app, fast).await.0.then_some(())
    })
    .await;
    assert!(!row(&app, stuck).await.0, "still in flight");
    release.notify_one();
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), running)
        .await
        .expect("the dispatcher stops")
        .unwrap();
    assert!(row(&app, stuck).await.0);
}
