//! Seat maps: an organizer describes sections, rows and seats (with ranks for "best"); this
//! module checks the description and turns it into seat rows for one seat-mapped ticket type.
use std::collections::HashSet;

use boxoffice_actors::ids::{EventId, SeatId, TicketTypeId};
use serde::Deserialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::error::{violated_constraint, ApiError, Code, Validation};

/// The most seats one ticket type's map may have.
pub const MAX_SEATS: usize = 100_000;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeatMapRequest {
    /// Only for `POST /v1/admin/events/{id}/seats`: which ticket type the map is for.
    pub ticket_type_id: Option<TicketTypeId>,
    pub sections: Vec<Section>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Section {
    #[schema(example = "Floor")]
    pub name: String,
    pub rows: Vec<Row>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Row {
    #[schema(example = "A")]
    pub label: String,
    /// Rank of every seat in the row unless a seat says otherwise (lower is better). Defaults
    /// to the row's place in the map, so front rows are best.
    pub rank: Option<i32>,
    pub seats: RowSeats,
}

/// A row's seats: a count (labelled 1..n), labels, or seats with their own rank or position.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RowSeats {
    Count(u32),
    Seats(Vec<SeatSpec>),
}

#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SeatSpec {
    Label(String),
    Detailed {
        label: String,
        rank: Option<i32>,
        /// Place in the row; leave a gap for an aisle (seats are adjacent when positions differ by one).
        position: Option<i32>,
    },
}

/// One seat ready to store.
#[derive(Debug)]
pub struct NewSeat {
    pub section: String,
    pub row: String,
    pub label: String,
    pub row_index: i32,
    pub position: i32,
    pub rank: i32,
}

impl SeatMapRequest {
    /// Every seat of the map, or 422 naming what is wrong.
    pub fn seats(&self) -> Result<Vec<NewSeat>, ApiError> {
        let mut validation = Validation::new();
        let mut seats = Vec::new();
        let mut total = 0;
        let mut places = HashSet::new();
        let mut row_index = 0;
        validation.check(
            !self.sections.is_empty(),
            "sections",
            "must list at least one section",
        );
        for (s, section) in self.sections.iter().enumerate() {
            let section_name = section.name.trim();
            let at = format!("sections[{s}]");
            validation.check(
                (1..=50).contains(&section_name.chars().count()),
                &format!("{at}.name"),
                "must be 1 to 50 characters",
            );
            validation.check(
                !section.rows.is_empty(),
                &format!("{at}.rows"),
                "must list at least one row",
            );
            for (r, row) in section.rows.iter().enumerate() {
                row_index += 1;
                let at = format!("{at}.rows[{r}]");
                let row_label = row.label.trim();
                validation.check(
                    (1..=20).contains(&row_label.chars().count()),
                    &format!("{at}.label"),
                    "must be 1 to 20 characters",
                );
                let row_rank = row.rank.unwrap_or(row_index);
                validation.check(row_rank >= 0, &format!("{at}.rank"), "must not be negative");
                let specs: Vec<(String, Option<i32>, Option<i32>)> = match &row.seats {
                    RowSeats::Count(n) if *n as usize > MAX_SEATS => {
                        validation.fail(
                            &format!("{at}.seats"),
                            format!("a map has at most {MAX_SEATS} seats"),
                        );
                        Vec::new()
                    }
                    RowSeats::Count(n) => (1..=*n).map(|i| (i.to_string(), None, None)).collect(),
                    RowSeats::Seats(list) => list
                        .iter()
                        .map(|spec| match spec {
                            SeatSpec::Label(label) => (label.trim().to_owned(), None, None),
                            SeatSpec::Detailed {
                                label,
                                rank,
                                position,
                            } => (label.trim().to_owned(), *rank, *position),
                        })
                        .collect(),
                };
                validation.check(
                    !specs.is_empty(),
                    &format!("{at}.seats"),
                    "must have at least one seat",
                );
                let mut positions = HashSet::new();
                for (i, (label, rank, position)) in specs.into_iter().enumerate() {
                    let at = format!("{at}.seats[{i}]");
                    let position = position.unwrap_or(i as i32 + 1);
                    let rank = rank.unwrap_or(row_rank);
                    validation.check(
                        (1..=20).contains(&label.chars().count()),
                        &at,
                        "label must be 1 to 20 characters",
                    );
                    validation.check(rank >= 0, &at, "rank must not be negative");
                    validation.check(
                        positions.insert(position),
                        &at,
                        "position is used twice in this row",
                    );
                    if !places.insert((
                        section_name.to_owned(),
                        row_label.to_owned(),
                        label.clone(),
                    )) {
                        validation.fail(
                            &at,
                            format!("seat {section_name} {row_label} {label} is listed twice"),
                        );
                    }
                    total += 1;
                    // a map already refused is only checked further, not kept
                    if !validation.failed() {
                        seats.push(NewSeat {
                            section: section_name.to_owned(),
                            row: row_label.to_owned(),
                            label,
                            row_index,
                            position,
                            rank,
                        });
                    }
                }
                if total > MAX_SEATS {
                    validation.fail("sections", format!("a map has at most {MAX_SEATS} seats"));
                    return Err(validation.finish().unwrap_err());
                }
            }
        }
        validation.finish()?;
        Ok(seats)
    }
}

/// Replaces the ticket type's seats with `seats` and sets its capacity to their number, in
/// the caller's transaction (see `catalog::edit`).
pub async fn replace(
    tx: &mut PgConnection,
    event: EventId,
    ticket_type: TicketTypeId,
    seats: &[NewSeat],
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM seats WHERE ticket_type_id = $1")
        .bind(ticket_type)
        .execute(&mut *tx)
        .await?;
    for chunk in seats.chunks(10_000) {
        let ids: Vec<SeatId> = chunk.iter().map(|_| SeatId::new()).collect();
        sqlx::query(
            "INSERT INTO seats (id, event_id, ticket_type_id, section, row_label, seat_label, row_index, position, rank)
             SELECT id, $2, $3, section, row_label, seat_label, row_index, position, rank
             FROM UNNEST($1::UUID[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::INT[], $8::INT[], $9::INT[])
                  AS s (id, section, row_label, seat_label, row_index, position, rank)",
        )
        .bind(&ids)
        .bind(event)
        .bind(ticket_type)
        .bind(chunk.iter().map(|s| s.section.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.row.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.label.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.row_index).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.position).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.rank).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await
        .map_err(|e| match violated_constraint(&e) {
            Some("seats_place_key") => ApiError::new(
                Code::SeatExists,
                "a seat with the same section, row and label belongs to another ticket type of this event",
            ),
            _ => e.into(),
        })?;
    }
    if !seats.is_empty() {
        sqlx::query("UPDATE ticket_types SET qty = $2 WHERE id = $1")
            .bind(ticket_type)
            .bind(seats.len() as i32)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Vec<NewSeat>, ApiError> {
        serde_json::from_str::<SeatMapRequest>(json)
            .unwrap()
            .seats()
    }

    #[test]
    fn counts_labels_and_detailed_seats_expand_with_default_ranks() {
        let seats = parse(
            r#"{"sections": [{"name": "Floor", "rows": [
                {"label": "A", "seats": 3},
                {"label": "B", "seats": ["1", "2"], "rank": 7},
                {"label": "C", "seats": [{"label": "1", "rank": 0}, {"label": "2", "position": 5}]}
            ]}]}"#,
        )
        .unwrap();
        assert_eq!(seats.len(), 7);
        assert_eq!(
            (
                seats[0].row.as_str(),
                seats[0].label.as_str(),
                seats[0].rank,
                seats[0].position
            ),
            ("A", "1", 1, 1)
        );
        assert_eq!((seats[3].rank, seats[3].row_index), (7, 2));
        assert_eq!((seats[5].rank, seats[6].rank, seats[6].position), (0, 3, 5));
    }

    #[test]
    fn duplicates_and_empty_parts_are_refused_by_field() {
        let err = parse(
            r#"{"sections": [{"name": "F", "rows": [{"label": "A", "seats": ["1", "1"]}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.code, Code::ValidationFailed);
        assert!(
            err.details
                .iter()
                .any(|d| d.field == "sections[0].rows[0].seats[1]"),
            "{:?}",
            err.details
        );
        let err = parse(r#"{"sections": [{"name": "", "rows": []}]}"#).unwrap_err();
        assert_eq!(err.details.len(), 2);
        assert!(parse(r#"{"sections": []}"#).is_err());
        assert!(parse(
            r#"{"sections": [{"name": "F", "rows": [{"label": "A", "seats": 100001}]}]}"#
        )
        .is_err());
    }
}
