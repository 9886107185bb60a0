//! The event catalog: events, their ticket types and seat maps. `public` serves buyers
//! (published events only, full-text search); `admin` lets organizers run their own events.
//! The queries both sides share live in `store`; edits that touch inventory go through the
//! event's engine (`edit`).
pub mod admin;
pub mod edit;
pub mod image;
pub mod public;
pub mod seat_map;
pub mod store;
pub mod zone;

use boxoffice_actors::ids::{EventId, SeatId, TicketTypeId, UserId};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

pub const CATEGORIES: &[&str] = &["music", "concert", "sports", "film", "other"];

/// The document's names for [`CATEGORIES`] (the API reads and writes them as strings).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Category {
    Music,
    Concert,
    Sports,
    Film,
    Other,
}

/// The document's names for an event's statuses, as the admin listing filters them.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum EventStatus {
    Draft,
    Published,
    Cancelled,
}

pub fn check_category(category: &str) -> Result<(), crate::input::Invalid> {
    if CATEGORIES.contains(&category) {
        Ok(())
    } else {
        Err(crate::input::Invalid(format!(
            "must be one of {}",
            CATEGORIES.join(", ")
        )))
    }
}

/// An event as buyers and organizers see it.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Event {
    pub id: EventId,
    pub organizer_id: UserId,
    pub name: String,
    pub title: String,
    pub description: String,
    /// music, concert, sports, film or other
    pub category: String,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub banner: Option<String>,
    pub location: String,
    /// `draft` until published, then `published`; `cancelled` when called off
    pub status: String,
    pub published_at: Option<DateTime<Utc>>,
    /// The lowest price among the event's ticket types on sale, in minor units.
    pub price_from: Option<i64>,
    pub currency: Option<String>,
    /// The event's waiting room, if it has one set (its settings; see `/v1/events/{id}/queue`).
    #[schema(value_type = Option<crate::queue::QueueSettings>)]
    pub queue: Option<sqlx::types::Json<crate::queue::QueueSettings>>,
    /// The refund policy: until then a buyer may cancel a paid booking and get its price back.
    /// Absent (the default): only the organizer refunds.
    pub refund_until: Option<DateTime<Utc>>,
    /// The IANA time zone its times are shown in, e.g. `America/Denver`.
    pub time_zone: String,
    /// Whether each ticket carries an attendee's name, given with the booking's information.
    pub attendee_names: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A kind of admission: price, capacity, sale window.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct TicketType {
    pub id: TicketTypeId,
    pub event_id: EventId,
    pub position: i32,
    pub name: String,
    pub description: String,
    pub image_url: Option<String>,
    /// `active` (sold) or `hidden` (not offered)
    pub status: String,
    /// Capacity: admissions of this type in all.
    pub number_seats: i32,
    /// Admissions not held or sold right now.
    pub available: i64,
    /// Minor units of `currency`.
    pub price: i64,
    pub currency: String,
    pub sale_at: Option<DateTime<Utc>>,
    pub sale_end: Option<DateTime<Utc>>,
    pub seat_mapped: bool,
    /// Admissions one buyer may hold or buy in all; none when null.
    pub max_per_user: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An event with its ticket types.
#[derive(Serialize, ToSchema)]
pub struct EventDetail {
    #[serde(flatten)]
    pub event: Event,
    pub ticket_types: Vec<TicketType>,
    /// With `?promo_code=`: what the code gives (its hidden types are then in `ticket_types`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promo: Option<crate::promos::PromoOffer>,
}

/// One seat of a seat map with its current status.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Seat {
    pub id: SeatId,
    pub ticket_type_id: TicketTypeId,
    pub section: String,
    #[sqlx(rename = "row_label")]
    pub row: String,
    #[sqlx(rename = "seat_label")]
    pub label: String,
    /// Order of the row in the map.
    pub row_index: i32,
    /// Order within the row; seats one apart are side by side.
    pub position: i32,
    /// Lower is better.
    pub rank: i32,
    /// `free`, `held` or `sold`
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct SeatMap {
    pub event_id: EventId,
    pub seats: Vec<Seat>,
}
