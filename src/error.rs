//! The API's errors: one table of stable codes and their HTTP statuses, and the JSON shape
//! `{"error": {"code", "message", "details"?}}` every failure is answered with. Domain errors
//! name a [`Code`]; only this module turns codes into statuses.
use std::fmt;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident => ($name:literal, $status:ident),)*) => {
        /// Every error code the API answers with. The names are part of the API: never rename one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Code { $($(#[$doc])* $variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            pub fn status(self) -> StatusCode {
                match self { $(Code::$variant => StatusCode::$status,)* }
            }
        }
    };
}

codes! {
    /// The request could not be read: malformed JSON, a wrong type, a bad query string.
    BadRequest => ("bad_request", BAD_REQUEST),
    /// A scanned code that boxoffice did not sign.
    InvalidTicketCode => ("invalid_ticket_code", BAD_REQUEST),
    /// A `next_token` that this server did not hand out.
    InvalidNextToken => ("invalid_next_token", BAD_REQUEST),
    /// Missing, malformed or revoked credentials.
    Unauthorized => ("unauthorized", UNAUTHORIZED),
    /// The access token is past its `exp`: refresh it.
    TokenExpired => ("token_expired", UNAUTHORIZED),
    /// Wrong email or password (which one is not said).
    InvalidCredentials => ("invalid_credentials", UNAUTHORIZED),
    /// The payment webhook's `X-Boxoffice-Signature` is missing, malformed, stale or wrong.
    InvalidSignature => ("invalid_signature", UNAUTHORIZED),
    /// The refresh token is unknown, expired, used or revoked.
    InvalidRefreshToken => ("invalid_refresh_token", UNAUTHORIZED),
    /// Authenticated, but the role does not allow it.
    Forbidden => ("forbidden", FORBIDDEN),
    /// The event sells through its waiting room: join it (`POST /v1/events/{id}/queue`) and hold
    /// with the `admission_token` it gives once you are admitted.
    QueueRequired => ("queue_required", FORBIDDEN),
    /// The admission token's time (`admitted_until`) has passed.
    AdmissionExpired => ("admission_expired", FORBIDDEN),
    /// No such resource, or not one the caller may see.
    NotFound => ("not_found", NOT_FOUND),
    MethodNotAllowed => ("method_not_allowed", METHOD_NOT_ALLOWED),
    /// An account with this email exists.
    EmailTaken => ("email_taken", CONFLICT),
    UsernameTaken => ("username_taken", CONFLICT),
    /// The event has bookings or payments: cancel it instead of deleting it.
    EventHasSales => ("event_has_sales", CONFLICT),
    /// The ticket type has bookings, so its seats or capacity can no longer shrink.
    TicketTypeHasSales => ("ticket_type_has_sales", CONFLICT),
    /// The change does not fit the current state (e.g. editing a cancelled event).
    InvalidState => ("invalid_state", CONFLICT),
    /// A seat with this section, row and label exists in the event already.
    SeatExists => ("seat_exists", CONFLICT),
    /// Not enough admissions (or no block of seats) left for the request.
    SoldOut => ("sold_out", CONFLICT),
    /// A named seat is held or sold; `details` names it.
    SeatTaken => ("seat_taken", CONFLICT),
    /// The ticket type is not on sale now (before `sale_at`, after `sale_end`, or hidden).
    SaleNotOpen => ("sale_not_open", CONFLICT),
    /// More admissions than one order (`booking.max_per_order`) or one buyer (`max_per_user`) may have.
    OverLimit => ("over_limit", CONFLICT),
    /// The event was cancelled by its organizer: nothing more is sold.
    EventCancelled => ("event_cancelled", CONFLICT),
    /// The hold ran out (`expired_at` passed) and its seats went back on sale.
    HoldExpired => ("hold_expired", CONFLICT),
    /// The webhook names a booking (or transaction) that does not go with the payment.
    PaymentMismatch => ("payment_mismatch", CONFLICT),
    /// The gateway reported another amount or currency than the payment's; the payment is flagged.
    AmountMismatch => ("amount_mismatch", CONFLICT),
    /// The ticket was checked in before; the message says when.
    AlreadyCheckedIn => ("already_checked_in", CONFLICT),
    /// Checkout needs the buyer's contact information first.
    InformationRequired => ("information_required", CONFLICT),
    /// A request with this Idempotency-Key is still being answered; retry shortly.
    RequestInProgress => ("request_in_progress", CONFLICT),
    /// The event's waiting room is not open (before `queue.opens_at`), or the event has none.
    QueueNotOpen => ("queue_not_open", CONFLICT),
    /// The event's refund policy does not allow a buyer's refund (none, or its date passed).
    RefundNotAllowed => ("refund_not_allowed", CONFLICT),
    /// Every use of the promo code is taken (held or sold).
    PromoCodeUsedUp => ("promo_code_used_up", CONFLICT),
    /// A waiting-list join for a ticket type that can still sell the quantity asked.
    NotSoldOut => ("not_sold_out", CONFLICT),
    HoldNotExtendable => ("hold_not_extendable", CONFLICT),
    /// A refunded or transferred ticket's code at the door.
    TicketVoided => ("ticket_voided", CONFLICT),
    /// Joining this waiting room needs a proof of work: `details` carry the challenge.
    ChallengeRequired => ("challenge_required", PRECONDITION_REQUIRED),
    /// A seat id that is not part of the ticket type's seat map.
    UnknownSeat => ("unknown_seat", UNPROCESSABLE_ENTITY),
    /// The Idempotency-Key was used before for a different request.
    IdempotencyKeyReused => ("idempotency_key_reused", UNPROCESSABLE_ENTITY),
    PayloadTooLarge => ("payload_too_large", PAYLOAD_TOO_LARGE),
    UnsupportedMediaType => ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE),
    /// Well-formed input that breaks a rule; `details` lists each field.
    ValidationFailed => ("validation_failed", UNPROCESSABLE_ENTITY),
    /// Too many failed logins (or waiting-room joins from one address); `Retry-After` says when
    /// to try again.
    TooManyAttempts => ("too_many_attempts", TOO_MANY_REQUESTS),
    /// Something broke on our side; the cause is in the server log, not here.
    Internal => ("internal", INTERNAL_SERVER_ERROR),
    /// A dependency (the database) is down or overloaded; retry later.
    Unavailable => ("unavailable", SERVICE_UNAVAILABLE),
    /// The event's engine has more requests queued than it accepts; `Retry-After` says when to retry.
    Overloaded => ("overloaded", SERVICE_UNAVAILABLE),
}

/// One field that failed validation.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// The seat a `seat_taken` detail is about: its id, and its section, row and label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat: Option<crate::bookings::BookedSeat>,
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    /// At most [`MAX_DETAILS`].
    pub details: Vec<FieldError>,
    /// Field errors found beyond `details`, only counted.
    pub more_details: u64,
    pub retry_after_seconds: Option<u64>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
            more_details: 0,
            retry_after_seconds: None,
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotFound, format!("{what} not found"))
    }

    /// 422 for one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Validation::new()
            .fail(field, message)
            .finish()
            .expect_err("a failed check is an error")
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    /// An unexpected failure: the cause chain goes to the log, the client gets a generic message.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        let cause = error.into();
        tracing::error!(error = %format_args!("{cause:#}"), "request failed");
        Self::new(Code::Internal, "internal error; it has been logged")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

/// The error body, as documented in the OpenAPI document.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case code, e.g. `sold_out`, `validation_failed`.
    pub code: String,
    pub message: String,
    /// At most 100 entries, each problem once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<FieldError>,
    /// How many more problems were found than `details` lists; absent when none.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_details: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(seconds) = self.retry_after_seconds {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if matches!(self.code, Code::Unauthorized | Code::TokenExpired) {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(self.body())
    }
}

impl ApiError {
    /// The JSON the client receives.
    pub fn body(&self) -> serde_json::Value {
        serde_json::to_value(ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str().to_owned(),
                message: self.message.clone(),
                details: self.details.clone(),
                more_details: self.more_details,
            },
        })
        .expect("the error body serializes")
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!(error = %error, "database unavailable");
                Self::new(
                    Code::Unavailable,
                    "the database is unavailable; retry shortly",
                )
                .retry_after(1)
            }
            sqlx::Error::Database(db) => match db.code().as_deref() {
                // a value the database cannot hold (a NUL byte, a number out of range) that
                // validation let through: still the client's input, never a 500
                Some(code) if code.starts_with("22") => {
                    tracing::warn!(sqlstate = code, error = %db, "input refused by the database");
                    Self::new(Code::BadRequest, "a value in the request cannot be stored (e.g. it contains a NUL character)")
                }
                Some("23514") => {
                    tracing::warn!(
                        constraint = db.constraint(),
                        "check constraint refused input"
                    );
                    Self::new(
                        Code::ValidationFailed,
                        format!(
                            "a value breaks the rule {}",
                            db.constraint().unwrap_or("of the schema")
                        ),
                    )
                }
                _ => Self::internal(sqlx::Error::Database(db)),
            },
            other => Self::internal(other),
        }
    }
}

/// The name of the unique or check constraint a database error broke, if that is what it is.
pub fn violated_constraint(error: &sqlx::Error) -> Option<&str> {
    error.as_database_error().and_then(|e| e.constraint())
}

/// The most field errors one answer lists: a request with a million bad fields gets an answer
/// of bounded size, the rest counted in `more_details`.
pub const MAX_DETAILS: usize = 100;

/// How many of the details the message repeats.
const DETAILS_IN_MESSAGE: usize = 3;

/// Collects field errors and answers 422 with them (at most [`MAX_DETAILS`]) at once.
#[derive(Default)]
pub struct Validation {
    details: Vec<FieldError>,
    more: u64,
}

impl Validation {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(&mut self, ok: bool, field: &str, message: impl Into<String>) -> &mut Self {
        if !ok {
            self.fail(field, message);
        }
        self
    }

    pub fn fail(&mut self, field: &str, message: impl Into<String>) -> &mut Self {
        if self.details.len() < MAX_DETAILS {
            self.details.push(FieldError {
                field: field.to_owned(),
                message: message.into(),
                seat: None,
            });
        } else {
            self.more += 1;
        }
        self
    }

    /// Whether any check failed so far.
    pub fn failed(&self) -> bool {
        !self.details.is_empty()
    }

    pub fn finish(&mut self) -> Result<(), ApiError> {
        if self.details.is_empty() {
            return Ok(());
        }
        let details = std::mem::take(&mut self.details);
        let more = std::mem::take(&mut self.more);
        let mut message = details
            .iter()
            .take(DETAILS_IN_MESSAGE)
            .map(|d| format!("{}: {}", d.field, d.message))
            .collect::<Vec<_>>()
            .join("; ");
        let unsaid = (details.len() - details.len().min(DETAILS_IN_MESSAGE)) as u64 + more;
        if unsaid > 0 {
            message.push_str(&format!("; and {unsaid} more (see details)"));
        }
        Err(ApiError {
            details,
            more_details: more,
            ..ApiError::new(Code::ValidationFailed, message)
        })
    }
}

/// Turns extractor failures (bad JSON, bad query, bad path) into the error shape.
pub mod extractors {
    use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
    use actix_web::{web, HttpRequest};

    use super::{ApiError, Code};

    pub fn json_config(limit: usize) -> web::JsonConfig {
        web::JsonConfig::default()
            .limit(limit)
            .error_handler(json_error)
    }

    fn json_error(error: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
        let api = match &error {
            JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::new(
                Code::PayloadTooLarge,
                format!("body of {length} bytes is over the limit of {limit}"),
            ),
            JsonPayloadError::Overflow { limit } => ApiError::new(
                Code::PayloadTooLarge,
                format!("body is over the limit of {limit} bytes"),
            ),
            JsonPayloadError::ContentType => ApiError::new(
                Code::UnsupportedMediaType,
                "send the body as JSON with Content-Type: application/json",
            ),
            JsonPayloadError::Deserialize(e) if e.is_data() => {
                ApiError::new(Code::BadRequest, format!("invalid JSON body: {e}"))
            }
            JsonPayloadError::Deserialize(e) => {
                ApiError::new(Code::BadRequest, format!("malformed JSON: {e}"))
            }
            other => ApiError::new(Code::BadRequest, format!("unreadable body: {other}")),
        };
        api.into()
    }

    pub fn query_config() -> web::QueryConfig {
        web::QueryConfig::default().error_handler(|error: QueryPayloadError, _| {
            ApiError::new(Code::BadRequest, format!("invalid query string: {error}")).into()
        })
    }

    /// A path id that does not parse cannot name anything that exists.
    pub fn path_config() -> web::PathConfig {
        web::PathConfig::default()
            .error_handler(|_: PathError, _| ApiError::new(Code::NotFound, "not found").into())
    }
}

/// Answers routes that do not exist (404) and methods a route does not have (405).
pub async fn no_route(request: HttpRequest) -> ApiError {
    let path = request.path();
    if request.match_pattern().is_some() {
        ApiError::new(
            Code::MethodNotAllowed,
            format!("{} is not allowed on {path}", request.method()),
        )
    } else {
        ApiError::new(
            Code::NotFound,
            format!("no route {} {path}", request.method()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_map_to_4xx_or_5xx() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "{name} twice");
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name}"
            );
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }

    #[test]
    fn validation_collects_every_field() {
        let err = Validation::new()
            .check(false, "email", "is not an email address")
            .check(true, "name", "unused")
            .check(false, "password", "is too short")
            .finish()
            .unwrap_err();
        assert_eq!(err.code, Code::ValidationFailed);
        assert_eq!(err.details.len(), 2);
        assert_eq!(err.details[1].field, "password");
    }

    #[test]
    fn validation_lists_at_most_max_details_and_counts_the_rest() {
        let mut validation = Validation::new();
        for i in 0..1_000 {
            validation.fail(&format!("seats[{i}]"), "label must be 1 to 20 characters");
        }
        let err = validation.finish().unwrap_err();
        assert_eq!(err.details.len(), MAX_DETAILS);
        assert_eq!(err.more_details, 900);
        assert!(
            err.message.ends_with("and 997 more (see details)"),
            "{}",
            err.message
        );
        assert_eq!(err.body()["error"]["more_details"], 900);
        let one = ApiError::invalid("email", "is required");
        assert!(one.body()["error"].get("more_details").is_none());
    }
}
