//! Conditional GETs: a strong ETag of what an answer says, and 304 Not Modified without the body
//! when the client already has it (site assets, live availability polled by event pages, images).
use std::hash::{DefaultHasher, Hash, Hasher};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};

/// A strong validator for `body`, quoted as the ETag header wants it.
pub fn etag(body: impl Hash) -> String {
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

/// Whether the request's `If-None-Match` names `tag` (or is `*`).
pub fn unchanged(request: &HttpRequest, tag: &str) -> bool {
    request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| matches!(t.trim(), "*") || t.trim() == tag)
        })
}

/// `answer` (a 200 builder with its headers set) with `body` and its ETag, or 304 with the tag
/// alone when the client has it already.
pub fn answer<B>(
    request: &HttpRequest,
    mut answer: HttpResponseBuilder,
    content_type: &str,
    body: B,
) -> HttpResponse
where
    B: actix_web::body::MessageBody + AsRef<[u8]> + 'static,
{
    let tag = etag(body.as_ref());
    answer.insert_header((header::ETAG, tag.as_str()));
    if unchanged(request, &tag) {
        let mut response = answer.finish();
        *response.status_mut() = actix_web::http::StatusCode::NOT_MODIFIED;
        return response;
    }
    answer.content_type(content_type).body(body)
}

/// JSON with its ETag, revalidated on every request (`no-cache`): pages poll it cheaply.
pub fn json<T: serde::Serialize>(request: &HttpRequest, value: &T) -> HttpResponse {
    let body = serde_json::to_vec(value).expect("answers serialize");
    let mut builder = HttpResponse::Ok();
    builder.insert_header((header::CACHE_CONTROL, "no-cache"));
    answer(request, builder, "application/json", body)
}
