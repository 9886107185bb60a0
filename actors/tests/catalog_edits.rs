//! Catalog edits through a running event actor, on a journal kept in memory: an edit waits for
//! the decisions queued before it, is refused when it would strand one, and its write runs
//! between two batches, with the actor's memory following at once.
use std::sync::{Arc, Mutex};

use boxoffice_actors::clock::SystemClock;
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::event_actor::{EditError, EngineError, EngineSettings};
use boxoffice_actors::ids::{BookingId, EventId, SeatId, TicketTypeId, UserId};
use boxoffice_actors::inventory::{
    Hold, HoldRequest, InventoryEdit, ItemRequest, Rejection, SeatSpec, Stranded, TicketTypeSpec,
};
use boxoffice_actors::journal::{
    Batch, BoxFuture, CatalogWrite, EventStatus, Journal, JournalError, Loaded, Written,
};
use tokio::sync::oneshot;
use uuid::Uuid;

/// What the journal saw, in order: "commit N" for a batch of N decisions, "write" for an edit.
type Log = Arc<Mutex<Vec<String>>>;

struct Memory {
    types: Vec<TicketTypeSpec>,
    log: Log,
}

impl Journal for Memory {
    fn load(&self, _: EventId) -> BoxFuture<Result<Option<Loaded>, JournalError>> {
        let loaded = Loaded {
            status: EventStatus::Published,
            types: self.types.clone(),
            holds: Vec::new(),
            waitlist: Vec::new(),
            version: 0,
        };
        Box::pin(async move { Ok(Some(loaded)) })
    }

    fn commit(&self, batch: &Batch) -> BoxFuture<Result<(), JournalError>> {
        self.log
            .lock()
            .unwrap()
            .push(format!("commit {}", batch.changes.len()));
        Box::pin(async { Ok(()) })
    }

    fn snapshot(
        &self,
        _: EventId,
        _: u64,
        _: Vec<Arc<Hold>>,
    ) -> BoxFuture<Result<(), JournalError>> {
        Box::pin(async { Ok(()) })
    }
}

fn general(capacity: u32) -> TicketTypeSpec {
    TicketTypeSpec {
        id: TicketTypeId(Uuid::from_u128(1)),
        capacity,
        price: 100,
        currency: "USD".into(),
        sale_at: None,
        sale_end: None,
        max_per_user: None,
        seats: Vec::new(),
    }
}

fn seated(seats: u128) -> TicketTypeSpec {
    TicketTypeSpec {
        id: TicketTypeId(Uuid::from_u128(2)),
        capacity: seats as u32,
        seats: (0..seats)
            .map(|i| SeatSpec {
                id: SeatId(Uuid::from_u128(100 + i)),
                row: 1,
                position: i as i32,
                rank: 1,
            })
            .collect(),
        ..general(0)
    }
}

fn one_of(ticket_type: &TicketTypeSpec) -> HoldRequest {
    HoldRequest {
        booking: BookingId::new(),
        user: UserId(Uuid::now_v7()),
        items: vec![ItemRequest {
            ticket_type: ticket_type.id,
            qty: 1,
            seats: Vec::new(),
        }],
        max_per_order: 10,
        promo: None,
    }
}

fn engine(types: Vec<TicketTypeSpec>) -> (Arc<EventDirectory>, Log) {
    let log = Log::default();
    let journal = Memory {
        types,
        log: log.clone(),
    };
    let directory = EventDirectory::new(
        Arc::new(journal),
        EngineSettings::default(),
        Arc::new(SystemClock),
    );
    (Arc::new(directory), log)
}

/// Decisions committed so far.
fn decisions(log: &Log) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter_map(|entry| entry.strip_prefix("commit "))
        .map(|n| n.parse::<usize>().unwrap())
        .sum()
}

/// A write that logs itself and hands back `types`.
fn writes(log: &Log, types: Vec<TicketTypeSpec>) -> CatalogWrite<&'static str> {
    let log = log.clone();
    Box::new(
        move || -> BoxFuture<Result<Written<&'static str>, JournalError>> {
            Box::pin(async move {
                log.lock().unwrap().push("write".into());
                Ok(Written {
                    types: Some(types),
                    answer: "saved",
                })
            })
        },
    )
}

#[actix::test]
async fn a_capacity_edit_sees_the_holds_queued_before_it_and_takes_effect_at_once() {
    let event = EventId::new();
    let (engine, log) = engine(vec![general(10)]);
    let edits = |capacity| {
        vec![InventoryEdit::Capacity {
            ticket_type: general(0).id,
            capacity,
        }]
    };
    // five holds, then the cut, in one mailbox: the cut is checked against all five
    let holds: Vec<_> = (0..5)
        .map(|_| {
            let engine = engine.clone();
            actix::spawn(async move { engine.hold(event, one_of(&general(10))).await })
        })
        .collect();
    let refused = {
        let (engine, write) = (engine.clone(), writes(&log, vec![general(4)]));
        actix::spawn(async move { engine.edit(event, edits(4), write).await })
    };
    for hold in holds {
        hold.await.unwrap().unwrap();
    }
    assert_eq!(
        refused.await.unwrap(),
        Err(EditError::Stranded(Stranded::Admissions {
            ticket_type: general(0).id,
            taken: 5
        }))
    );
    assert_eq!(decisions(&log), 5);
    assert!(
        !log.lock().unwrap().contains(&"write".to_owned()),
        "the refused write ran"
    );

    let saved = engine
        .edit(event, edits(6), writes(&log, vec![general(6)]))
        .await;
    assert_eq!(saved, Ok("saved"));
    let counts = engine.counts(general(0).id).unwrap();
    assert_eq!((counts.capacity, counts.held), (6, 5));
    engine.hold(event, one_of(&general(6))).await.unwrap();
    assert_eq!(
        engine.hold(event, one_of(&general(6))).await,
        Err(EngineError::Rejected(Rejection::SoldOut))
    );
    let log = log.lock().unwrap();
    assert_eq!(log[log.len() - 2..], ["write", "commit 1"]);
}

#[actix::test]
async fn no_batch_is_written_while_an_edit_writes() {
    let event = EventId::new();
    let (engine, log) = engine(vec![general(10), seated(3)]);
    engine.hold(event, one_of(&general(10))).await.unwrap();

    let (started, write_started) = oneshot::channel();
    let (go, may_finish) = oneshot::channel::<()>();
    let write_log = log.clone();
    let write: CatalogWrite<()> =
        Box::new(move || -> BoxFuture<Result<Written<()>, JournalError>> {
            Box::pin(async move {
                let _ = started.send(());
                let _ = may_finish.await;
                write_log.lock().unwrap().push("write".into());
                Ok(Written {
                    types: Some(vec![general(10), seated(2)]),
                    answer: (),
                })
            })
        });
    let edit = {
        let engine = engine.clone();
        let edits = vec![InventoryEdit::Seats {
            ticket_type: seated(0).id,
        }];
        actix::spawn(async move { engine.edit(event, edits, write).await })
    };
    write_started.await.unwrap();
    // sent while the write is under way: decided and written only after it
    let hold = {
        let engine = engine.clone();
        actix::spawn(async move { engine.hold(event, one_of(&seated(2))).await })
    };
    go.send(()).unwrap();
    edit.await.unwrap().unwrap();
    let hold = hold.await.unwrap().unwrap();
    assert_eq!(hold.seats.len(), 1);
    assert!(
        hold.seats[0].1 != SeatId(Uuid::from_u128(102)),
        "a removed seat was held"
    );
    assert_eq!(*log.lock().unwrap(), ["commit 1", "write", "commit 1"]);

    // a held seat pins the map; the refusal names it
    let refused = engine
        .edit(
            event,
            vec![InventoryEdit::Seats {
                ticket_type: seated(0).id,
            }],
            writes(&log, vec![general(10)]),
        )
        .await;
    assert_eq!(
        refused,
        Err(EditError::Stranded(Stranded::Seats {
            ticket_type: seated(0).id,
            seats: vec![hold.seats[0].1],
            taken: 1
        }))
    );
}
