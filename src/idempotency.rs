//! `Idempotency-Key` on POSTs that create something: the first request with a key claims it,
//! and for 24 hours the same user sending the same key gets that first answer again instead of
//! a second action (a buyer retrying a hold after a timeout does not hold seats twice).
use std::future::Future;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use boxoffice_actors::ids::UserId;
use sqlx::PgPool;

use crate::error::{ApiError, Code};

pub const HEADER: &str = "Idempotency-Key";
/// Set on an answer that replays the first one.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";
const KEEP_HOURS: i32 = 24;

/// The request's key, if it sent one: 1 to 255 visible ASCII characters.
pub fn key_of(request: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = request.headers().get(HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(key.to_owned()))
        }
        _ => Err(ApiError::new(
            Code::BadRequest,
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )),
    }
}

/// Answers with `action`'s outcome, once per (user, key): a repeat replays the stored answer;
/// a repeat with a different request is 422 `idempotency_key_reused`; one that arrives while
/// the first is still running is 409 `request_in_progress`. Server-side failures (5xx) are not
/// kept, so the client may retry them with the same key.
pub async fn once<Fut>(
    pool: &PgPool,
    user: UserId,
    key: Option<String>,
    endpoint: &str,
    body: &[u8],
    action: Fut,
) -> Result<HttpResponse, ApiError>
where
    Fut: Future<Output = Result<(StatusCode, serde_json::Value), ApiError>> + 'static,
{
    let Some(key) = key else {
        let (status, body) = action.await?;
        return Ok(HttpResponse::build(status).json(body));
    };
    let hash = crate::input::sha256_hex(&[endpoint.as_bytes(), b"\0", body].concat());
    // a key past its 24 hours is free again
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, endpoint, request_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, key) DO UPDATE
           SET endpoint = EXCLUDED.endpoint, request_hash = EXCLUDED.request_hash,
               response_status = NULL, response_body = NULL, created_at = now()
           WHERE idempotency_keys.created_at < now() - make_interval(hours => $5)",
    )
    .bind(user)
    .bind(&key)
    .bind(endpoint)
    .bind(&hash)
    .bind(KEEP_HOURS)
    .execute(pool)
    .await?
    .rows_affected()
        == 1;
    if !claimed {
        return replay(pool, user, &key, &hash).await;
    }
    // finished and recorded even if the client hangs up meanwhile: its retry must find the answer
    let pool = pool.clone();
    let task = actix_web::rt::spawn(async move {
        let outcome = action.await;
        if let Err(error) = record(&pool, user, &key, &outcome).await {
            tracing::error!(%error, "idempotent answer not recorded");
        }
        outcome
    });
    let (status, body) = task.await.map_err(ApiError::internal)??;
    Ok(HttpResponse::build(status).json(body))
}

/// Keeps the answer for replays; a server-side failure frees the key instead.
async fn record(
    pool: &PgPool,
    user: UserId,
    key: &str,
    outcome: &Result<(StatusCode, serde_json::Value), ApiError>,
) -> Result<(), sqlx::Error> {
    let (status, body) = match outcome {
        Ok((status, body)) => (*status, body.clone()),
        Err(error) => (error.status_code(), error.body()),
    };
    if status.is_server_error() {
        sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2")
            .bind(user)
            .bind(key)
            .execute(pool)
            .await?;
    } else {
        sqlx::query(
            "UPDATE idempotency_keys SET response_status = $3, response_body = $4
             WHERE user_id = $1 AND key = $2",
        )
        .bind(user)
        .bind(key)
        .bind(i32::from(status.as_u16()))
        .bind(&body)
        .execute(pool)
        .await?;
    }
    Ok(())
}

async fn replay(
    pool: &PgPool,
    user: UserId,
    key: &str,
    hash: &str,
) -> Result<HttpResponse, ApiError> {
    let stored: Option<(String, Option<i32>, Option<serde_json::Value>)> = sqlx::query_as(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys
         WHERE user_id = $1 AND key = $2",
    )
    .bind(user)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    match stored {
        Some((stored_hash, _, _)) if stored_hash != hash => Err(ApiError::new(
            Code::IdempotencyKeyReused,
            "this Idempotency-Key was used for a different request; use a new key",
        )),
        Some((_, Some(status), Some(body))) => {
            let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
            Ok(HttpResponse::build(status)
                .insert_header((REPLAYED_HEADER, "true"))
                .json(body))
        }
        // claimed by a request still running (or one that vanished between our two queries)
        _ => Err(ApiError::new(
            Code::RequestInProgress,
            "a request with this Idempotency-Key is still being answered",
        )
        .retry_after(1)),
    }
}
