//! The engine's hot paths: inventory decisions, best-available seat selection on a 50,000-seat
//! venue, and an event actor's round trip (with a journal that stores nothing, so the figure is
//! the actor's own cost; durable holds over HTTP are measured by the load generator).
use std::sync::Arc;
use std::time::{Duration, Instant};

use boxoffice_actors::clock::SystemClock;
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::event_actor::EngineSettings;
use boxoffice_actors::ids::{BookingId, EventId, SeatId, TicketTypeId, UserId};
use boxoffice_actors::inventory::{
    EventInventory, HoldRequest, ItemRequest, SeatSpec, TicketTypeSpec,
};
use boxoffice_actors::journal::{Batch, BoxFuture, EventStatus, Journal, JournalError, Loaded};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use futures_util::future::join_all;

fn general(capacity: u32) -> TicketTypeSpec {
    TicketTypeSpec {
        id: TicketTypeId::new(),
        capacity,
        price: 100_000,
        currency: "VND".into(),
        sale_at: None,
        sale_end: None,
        max_per_user: None,
        seats: Vec::new(),
    }
}

/// `rows` rows of `per_row` seats; front rows rank best.
fn venue(rows: u32, per_row: i32) -> TicketTypeSpec {
    let seats = (0..rows)
        .flat_map(|row| {
            (0..per_row).map(move |position| SeatSpec {
                id: SeatId::new(),
                row,
                position,
                rank: row as i32,
            })
        })
        .collect::<Vec<_>>();
    TicketTypeSpec {
        capacity: seats.len() as u32,
        seats,
        ..general(1)
    }
}

fn request(ticket_type: TicketTypeId, qty: u32) -> HoldRequest {
    HoldRequest {
        booking: BookingId::new(),
        user: UserId::new(),
        items: vec![ItemRequest {
            ticket_type,
            qty,
            seats: Vec::new(),
        }],
        max_per_order: 10,
        promo: None,
    }
}

fn inventory(c: &mut Criterion) {
    let mut group = c.benchmark_group("inventory");
    group.throughput(Throughput::Elements(2));
    let spec = general(1_000_000);
    let id = spec.id;
    let mut inventory = EventInventory::new(vec![spec]);
    let user = UserId::new();
    // a decision is a hold or a release: two per iteration
    group.bench_function("hold_release_general_admission", |b| {
        b.iter_batched(
            || HoldRequest {
                user,
                ..request(id, 2)
            },
            |request| {
                let booking = inventory.hold(&request, 0, 1).unwrap().booking;
                inventory.release(booking).unwrap();
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn best_available(c: &mut Criterion) {
    let mut group = c.benchmark_group("best_available_50k_seats");
    // 100 rows of 500 seats
    let spec = venue(100, 500);
    let id = spec.id;
    let empty = EventInventory::new(vec![spec.clone()]);
    // the front half sold in blocks, so the search has to walk 50 rows to find room
    let mut half = EventInventory::new(vec![spec]);
    while half.counts(id).map(|(held, _, _)| held).unwrap() < 25_000 {
        half.hold(&request(id, 10), 0, i64::MAX).unwrap();
    }
    for (name, inventory) in [("empty_venue", empty), ("front_half_taken", half)] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || (inventory.clone(), request(id, 4)),
                |(mut inventory, request)| {
                    inventory.hold(&request, 0, 1).unwrap();
                    inventory
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// Loads a published event with one large ticket type and stores nothing.
struct NullJournal(TicketTypeSpec);

impl Journal for NullJournal {
    fn load(&self, _: EventId) -> BoxFuture<Result<Option<Loaded>, JournalError>> {
        let types = vec![self.0.clone()];
        Box::pin(async move {
            Ok(Some(Loaded {
                status: EventStatus::Published,
                types,
                holds: Vec::new(),
                waitlist: Vec::new(),
                version: 0,
            }))
        })
    }

    fn commit(&self, _: &Batch) -> BoxFuture<Result<(), JournalError>> {
        Box::pin(async { Ok(()) })
    }

    fn snapshot(
        &self,
        _: EventId,
        _: u64,
        _: Vec<Arc<boxoffice_actors::inventory::Hold>>,
    ) -> BoxFuture<Result<(), JournalError>> {
        Box::pin(async { Ok(()) })
    }
}

fn actor_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("actor_round_trip");
    for senders in [1usize, 64] {
        group.throughput(Throughput::Elements(senders as u64));
        group.bench_function(format!("{senders}_senders"), |b| {
            let system = actix::System::new();
            let spec = general(u32::MAX);
            let ticket_type = spec.id;
            let event = EventId::new();
            let engine = system.block_on(async {
                EventDirectory::new(
                    Arc::new(NullJournal(spec)),
                    EngineSettings {
                        snapshot_every_changes: u64::MAX,
                        snapshot_every_seconds: u64::MAX / 4,
                        ..EngineSettings::default()
                    },
                    Arc::new(SystemClock),
                )
            });
            b.iter_custom(|iterations| {
                system.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iterations {
                        join_all((0..senders).map(|_| engine.hold(event, request(ticket_type, 1))))
                            .await
                            .into_iter()
                            .for_each(|answer| {
                                answer.unwrap();
                            });
                    }
                    started.elapsed()
                })
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = inventory, best_available, actor_round_trip
}
criterion_main!(benches);
