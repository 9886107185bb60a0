//! The waiting room's costs at scale: the memory one waiting entry takes (a counting allocator
//! around building a room of 1,000,000), the shuffle that gives 1,000,000 pre-queued entries
//! their places at the start, and the fan-out to waiters when the queue moves (each waiter's
//! status recomputed and formatted, as each open stream does; the sockets are not in it).
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use boxoffice::queue::room::Room;
use boxoffice::queue::store::{EntryRow, Round, Stored};
use boxoffice::queue::{order, QueueSettings};
use boxoffice_actors::ids::{EventId, UserId};
use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const STARTS_MS: i64 = 1_900_000_000_000;

fn stored() -> Stored {
    Stored {
        settings: QueueSettings {
            enabled: true,
            opens_at: Utc.timestamp_millis_opt(STARTS_MS - 3_600_000).unwrap(),
            starts_at: Utc.timestamp_millis_opt(STARTS_MS).unwrap(),
            admit_minutes: 10,
            admit_at_once: 1_000,
            challenge_bits: 0,
        },
        seed: order::new_seed().to_vec(),
        shuffled_at: None,
        event_status: "published".into(),
    }
}

/// A room with `n` entries that joined before the start, not shuffled yet.
fn prequeue(n: usize) -> (Room, Vec<UserId>) {
    let users: Vec<UserId> = (0..n).map(|_| UserId::new()).collect();
    let joined = Utc.timestamp_millis_opt(STARTS_MS - 60_000).unwrap();
    let rows = users
        .iter()
        .map(|&user_id| EntryRow {
            user_id,
            joined_at: joined,
            admitted_until: None,
            held: None,
        })
        .collect();
    (
        Room::new(EventId::new(), stored(), rows, STARTS_MS - 1),
        users,
    )
}

/// Bytes a room holds per waiting entry, once shuffled (so the order is in it too).
fn memory_per_entry(n: usize) -> f64 {
    let users: Vec<UserId> = (0..n).map(|_| UserId::new()).collect();
    let before = LIVE.load(Ordering::Relaxed);
    let mut room = Room::new(EventId::new(), stored(), Vec::new(), STARTS_MS - 1);
    room.apply(&Round {
        joins: users.iter().map(|&u| (u, 0, 0)).collect(),
        ..Round::default()
    });
    let drawn = order::shuffle(&room.seed, &room.prequeue());
    room.shuffled_as(drawn);
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    drop(room);
    bytes as f64 / n as f64
}

fn room(c: &mut Criterion) {
    let per_entry = memory_per_entry(1_000_000);
    println!("queue/memory: {per_entry:.1} bytes per waiting entry at 1,000,000 entries");

    let mut group = c.benchmark_group("queue");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    // from the start to every pre-queued entry having its place: the draw and placing it
    group.bench_function("shuffle_1m", |b| {
        b.iter_batched(
            || prequeue(1_000_000).0,
            |mut room| {
                let drawn = order::shuffle(&room.seed, &room.prequeue());
                room.shuffled_as(drawn);
                room
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();

    // one move of the queue seen by 100,000 waiters: each recomputes its standing and
    // serializes it, on the runtime's threads, as the streams do
    let mut group = c.benchmark_group("queue_fanout");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let (mut shuffled, users) = prequeue(100_000);
    let drawn = order::shuffle(&shuffled.seed, &shuffled.prequeue());
    shuffled.shuffled_as(drawn);
    shuffled.available = 1_000;
    let shared = Arc::new(RwLock::new(shuffled));
    let users = Arc::new(users);
    group.bench_function("100k_waiters", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (tx, rx) = tokio::sync::watch::channel(0u64);
                let parked = Arc::new(AtomicUsize::new(0));
                let waiters: Vec<_> = (0..users.len())
                    .map(|i| {
                        let (mut rx, room, users) = (rx.clone(), shared.clone(), users.clone());
                        let parked = parked.clone();
                        runtime.spawn(async move {
                            parked.fetch_add(1, Ordering::Relaxed);
                            rx.changed().await.unwrap();
                            let standing =
                                room.read().unwrap().standing(users[i], STARTS_MS + 1_000);
                            format!("{standing:?}").len()
                        })
                    })
                    .collect();
                // every waiter has started and holds the version before the move
                while parked.load(Ordering::Relaxed) < users.len() {
                    std::thread::yield_now();
                }
                let started = Instant::now();
                tx.send_modify(|v| *v += 1);
                runtime.block_on(async {
                    for waiter in waiters {
                        waiter.await.unwrap();
                    }
                });
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, room);
criterion_main!(benches);
