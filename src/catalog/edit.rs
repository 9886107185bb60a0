//! Catalog edits that touch inventory (capacities, seat maps, removed ticket types) go through
//! the event's engine: it refuses what would strand a booking, then runs the write between two
//! of its batches, in one transaction that reads the event's ticket types back for it.
use std::future::Future;

use boxoffice_actors::event_actor::EditError;
use boxoffice_actors::ids::{EventId, SeatId};
use boxoffice_actors::inventory::{InventoryEdit, Stranded, TicketTypeSpec};
use boxoffice_actors::journal::{BoxFuture, CatalogWrite, JournalError, Written};
use sqlx::{PgPool, Postgres, Transaction};

use boxoffice_actors::directory::EventDirectory;

use crate::engine::journal;
use crate::error::{ApiError, Code};

pub type Tx = Transaction<'static, Postgres>;

type WriteFuture<T> = BoxFuture<Result<Written<Result<T, ApiError>>, JournalError>>;

/// Runs `write` in the event's engine once `edits` are known to strand nothing; `then` ends
/// the refusal's message ("... are held or sold, so {then}"). `write` gets the transaction
/// and hands it back with its answer; an error from it rolls everything back.
pub async fn through_engine<T, F, Fut>(
    pool: &PgPool,
    engine: &EventDirectory,
    event: EventId,
    edits: Vec<InventoryEdit>,
    then: &str,
    write: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(Tx) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(Tx, T), ApiError>> + Send + 'static,
{
    let db = pool.clone();
    let placement = engine.placement();
    let write: CatalogWrite<Result<T, ApiError>> = Box::new(move || -> WriteFuture<T> {
        Box::pin(async move {
            let mut tx = db.begin().await.map_err(journal::write_error)?;
            if let Some(placement) = placement {
                // in a cluster the edit is fenced like a batch: a node that lost the event
                // cannot change its catalog behind the new owner's back
                let epoch = placement.epoch(event).ok_or(JournalError::Fenced)?;
                journal::fence(&mut tx, event, epoch)
                    .await
                    .map_err(journal::write_error)?;
            }
            Ok(match in_transaction(tx, event, write).await {
                Ok((types, answer)) => Written {
                    types: Some(types),
                    answer: Ok(answer),
                },
                Err(error) => Written {
                    types: None,
                    answer: Err(error),
                },
            })
        })
    });
    match engine.edit(event, edits, write).await {
        Ok(answer) => answer,
        Err(EditError::Stranded(stranded)) => Err(refusal(pool, stranded, then).await),
        Err(EditError::Engine(error)) => Err(error.into()),
    }
}

async fn in_transaction<T, F, Fut>(
    tx: Tx,
    event: EventId,
    write: F,
) -> Result<(Vec<TicketTypeSpec>, T), ApiError>
where
    F: FnOnce(Tx) -> Fut,
    Fut: Future<Output = Result<(Tx, T), ApiError>>,
{
    let (mut tx, answer) = write(tx).await?;
    let types = journal::ticket_types(&mut tx, event).await?;
    tx.commit().await?;
    Ok((types, answer))
}

/// The 409 for an edit the engine refused, naming taken seats by their labels.
async fn refusal(pool: &PgPool, stranded: Stranded, then: &str) -> ApiError {
    let message = match stranded {
        Stranded::Admissions { taken, .. } => {
            format!("{taken} admissions of this ticket type are held or sold, so {then}")
        }
        Stranded::Seats { seats, taken, .. } => match seat_labels(pool, &seats).await {
            Ok(labels) if !labels.is_empty() => {
                let more = (taken as usize).saturating_sub(labels.len());
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                format!(
                    "seats {}{more} are held or sold, so {then}",
                    labels.join("; ")
                )
            }
            _ => format!("{taken} seats of this ticket type are held or sold, so {then}"),
        },
    };
    ApiError::new(Code::TicketTypeHasSales, message)
}

/// "Floor, row A, seat 1" for each seat, in map order.
async fn seat_labels(pool: &PgPool, seats: &[SeatId]) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT section || ', row ' || row_label || ', seat ' || seat_label FROM seats
         WHERE id = ANY($1) ORDER BY row_index, position",
    )
    .bind(seats)
    .fetch_all(pool)
    .await
}
