//! Events' images: an organizer uploads one (PNG, JPEG, WebP or GIF, up to 2 MiB, checked by
//! its bytes), the server keeps it and makes it the event's banner, and serves it with a
//! validator; the address carries the image's hash, so browsers may keep it for good.
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use boxoffice_actors::ids::EventId;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::admin::{detail, not_cancelled, owned_event};
use crate::auth::Organizer;
use crate::config::Settings;
use crate::error::{ApiError, Code};

/// The largest image an organizer may upload.
pub const IMAGE_LIMIT: usize = 2 * 1024 * 1024;

/// The types taken, as `Content-Type` names them and as their bytes say they are.
const TYPES: [(&str, imagesize::ImageType, &str); 4] = [
    ("image/png", imagesize::ImageType::Png, "PNG"),
    ("image/jpeg", imagesize::ImageType::Jpeg, "JPEG"),
    ("image/webp", imagesize::ImageType::Webp, "WebP"),
    ("image/gif", imagesize::ImageType::Gif, "GIF"),
];

/// Wider or taller than this is not a banner.
const MAX_SIDE: usize = 10_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/events/{id}/image")
            .app_data(web::PayloadConfig::new(IMAGE_LIMIT))
            .route(web::put().to(upload))
            .route(web::delete().to(remove)),
    )
    .service(web::resource("/events/{id}/image").route(web::get().to(serve)));
}

/// Make the uploaded image (the request's body, its type in `Content-Type`) the event's banner.
#[utoipa::path(put, path = "/v1/admin/events/{id}/image", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/webp"), (Vec<u8> = "image/gif")), description = "a PNG, JPEG, WebP or GIF image of at most 2 MiB"),
    responses((status = 200, body = super::EventDetail, description = "the event, whose banner is now the image"),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, event_id = %id))]
pub async fn upload(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    not_cancelled(&event)?;
    let declared = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let Some(&(content_type, kind, name)) = TYPES.iter().find(|(t, ..)| *t == declared) else {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            "Upload a PNG, JPEG, WebP or GIF image (Content-Type image/png, image/jpeg, image/webp or image/gif).",
        ));
    };
    if body.is_empty() {
        return Err(ApiError::invalid(
            "image",
            "The file is empty: choose an image.",
        ));
    }
    let said = imagesize::image_type(&body).ok();
    if said != Some(kind) {
        return Err(ApiError::invalid(
            "image",
            format!("This file is not a {name} image: choose a PNG, JPEG, WebP or GIF file."),
        ));
    }
    match imagesize::blob_size(&body) {
        Ok(size)
            if size.width > 0 && size.height > 0 && size.width.max(size.height) <= MAX_SIDE => {}
        Ok(_) => {
            return Err(ApiError::invalid(
                "image",
                format!("The image must be at most {MAX_SIDE} pixels wide and high."),
            ))
        }
        Err(_) => {
            return Err(ApiError::invalid(
                "image",
                format!("This {name} image is damaged: it cannot be read."),
            ))
        }
    }
    let bytes = body.to_vec();
    let sha = web::block(move || {
        let sha = hex::encode(Sha256::digest(&bytes));
        (sha, bytes)
    })
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!("hashing the image: {e}")))?;
    let (sha, bytes) = sha;
    let banner = format!(
        "{}/v1/events/{}/image?v={}",
        settings.server.public_url.trim_end_matches('/'),
        event.id,
        &sha[..16]
    );
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO event_images (event_id, content_type, bytes, sha256) VALUES ($1, $2, $3, $4)
         ON CONFLICT (event_id) DO UPDATE
           SET content_type = EXCLUDED.content_type, bytes = EXCLUDED.bytes,
               sha256 = EXCLUDED.sha256, updated_at = now()",
    )
    .bind(event.id)
    .bind(content_type)
    .bind(&bytes)
    .bind(&sha)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE events SET banner = $2, updated_at = now() WHERE id = $1")
        .bind(event.id)
        .bind(&banner)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(bytes = bytes.len(), content_type, "event image uploaded");
    let event = owned_event(&pool, &user, event.id).await?;
    Ok(HttpResponse::Ok().json(detail(&pool, event).await?))
}

/// Remove the uploaded image; the event then has no banner (unless it names another address).
#[utoipa::path(delete, path = "/v1/admin/events/{id}/image", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = super::EventDetail), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
pub async fn remove(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    not_cancelled(&event)?;
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM event_images WHERE event_id = $1")
        .bind(event.id)
        .execute(&mut *tx)
        .await?;
    // a banner the organizer pointed elsewhere stays
    sqlx::query(
        "UPDATE events SET banner = NULL, updated_at = now()
         WHERE id = $1 AND banner LIKE '%/v1/events/' || id::text || '/image?v=%'",
    )
    .bind(event.id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let event = owned_event(&pool, &user, event.id).await?;
    Ok(HttpResponse::Ok().json(detail(&pool, event).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Version {
    /// The version the banner's address carries; with the current one the answer may be kept
    /// for good.
    pub v: Option<String>,
}

/// An event's uploaded image.
#[utoipa::path(get, path = "/v1/events/{id}/image", tag = "catalog", params(("id" = String, Path), Version),
    responses((status = 200, description = "the image, with an ETag", content_type = "image/png"),
        (status = 304, description = "If-None-Match names the current ETag"),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn serve(
    pool: web::Data<PgPool>,
    id: web::Path<EventId>,
    version: web::Query<Version>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let image: Option<(String, Vec<u8>, String)> =
        sqlx::query_as("SELECT content_type, bytes, sha256 FROM event_images WHERE event_id = $1")
            .bind(*id)
            .fetch_optional(pool.get_ref())
            .await?;
    let Some((content_type, bytes, sha)) = image else {
        return Err(ApiError::not_found("image"));
    };
    let tag = format!("\"{sha}\"");
    let current = version
        .v
        .as_deref()
        .is_some_and(|v| sha.starts_with(v) && v.len() >= 16);
    let mut answer = if crate::validators::unchanged(&request, &tag) {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    answer
        .insert_header((header::ETAG, tag.as_str()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CACHE_CONTROL,
            if current {
                "public, max-age=31536000, immutable"
            } else {
                "public, no-cache"
            },
        ));
    if crate::validators::unchanged(&request, &tag) {
        return Ok(answer.finish());
    }
    Ok(answer.content_type(content_type).body(bytes))
}
