//! Request input shared by the domains: JSON bodies that must be objects, PATCH semantics (a
//! field left out keeps its value, `null` clears it) and checks for fields several resources
//! carry (URLs, text, dates).
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::{DateTime, Datelike, Utc};
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::error::{ApiError, Code};

/// `T` read only from a JSON object. Derived struct deserializers also take a JSON array as
/// the fields in order (`[null, null]` would clear a profile's username and avatar), which is
/// not what the document promises.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(ObjectVisitor(std::marker::PhantomData))
            .map(Object)
    }
}

/// A JSON body read from bytes the handler already holds (to fingerprint or verify them).
pub fn json_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice::<Object<T>>(body)
        .map(|object| object.0)
        .map_err(|e| ApiError::new(Code::BadRequest, format!("invalid JSON body: {e}")))
}

/// `web::Json`, but only an object is accepted as the body (see [`Object`]). Size and content
/// type errors are the shared `JsonConfig`'s.
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Json::<Object<T>>::from_request(req, payload);
        Box::pin(async move { Ok(Json(body.await?.into_inner().0)) })
    }
}

/// A JSON body's bytes, for handlers that must keep them as sent (to verify a signature or
/// fingerprint an idempotent request) before parsing them with [`json_object`]. The same rules
/// as [`Json`]: `Content-Type: application/json` (415 otherwise) and at most
/// `server.json_limit_bytes` (413), both answered in the API's error shape.
pub struct JsonBytes(pub web::Bytes);

/// The largest JSON body, `server.json_limit_bytes`, for [`JsonBytes`].
#[derive(Clone, Copy, Debug)]
pub struct JsonLimit(pub usize);

impl FromRequest for JsonBytes {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<JsonLimit>()
            .expect("JsonLimit is registered with the app")
            .0;
        let is_json = actix_web::HttpMessage::mime_type(req)
            .ok()
            .flatten()
            .is_some_and(|mime| {
                mime.subtype() == actix_web::mime::JSON
                    || mime.suffix() == Some(actix_web::mime::JSON)
            });
        let too_large = |length: usize| {
            ApiError::new(
                Code::PayloadTooLarge,
                format!("body of {length} bytes is over the limit of {limit}"),
            )
        };
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let refused = if !is_json {
            Some(ApiError::new(
                Code::UnsupportedMediaType,
                "send the body as JSON with Content-Type: application/json",
            ))
        } else {
            declared.filter(|&n| n > limit).map(too_large)
        };
        let mut payload = payload.take();
        Box::pin(async move {
            if let Some(error) = refused {
                return Err(error);
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = futures_util::StreamExt::next(&mut payload).await {
                let chunk = chunk.map_err(|e| {
                    ApiError::new(Code::BadRequest, format!("unreadable body: {e}"))
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::new(
                        Code::PayloadTooLarge,
                        format!("body is over the limit of {limit} bytes"),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(JsonBytes(body.freeze()))
        })
    }
}

/// Why a field's value is refused: the sentence its `details[].message` says.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl From<Invalid> for String {
    fn from(invalid: Invalid) -> Self {
        invalid.0
    }
}

/// The years an event or sale date may fall in. A date outside them is a typing mistake
/// (year 0, 20255) rather than a plan, and would sort and display oddly everywhere.
pub const DATE_YEARS: std::ops::RangeInclusive<i32> = 2000..=2999;

/// An event or sale date within [`DATE_YEARS`].
pub fn check_date(at: DateTime<Utc>) -> Result<(), Invalid> {
    if DATE_YEARS.contains(&at.year()) {
        Ok(())
    } else {
        Err(Invalid(format!(
            "must be in the years {} to {}",
            DATE_YEARS.start(),
            DATE_YEARS.end()
        )))
    }
}

/// For `Option<Option<T>>` PATCH fields: absent is `None`, `null` is `Some(None)`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// An absolute http(s) URL of reasonable length, as used for banners, images and avatars.
pub fn check_url(url: &str) -> Result<(), &'static str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("must be an http:// or https:// URL")?;
    if url.len() > 2048 {
        return Err("must be at most 2048 characters");
    }
    if rest.is_empty()
        || rest.starts_with('/')
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("must be an http:// or https:// URL");
    }
    Ok(())
}

/// Checks a text field's length in characters, after trimming, and that it holds no control
/// characters but line breaks and tabs.
pub fn check_text(value: &str, min: usize, max: usize) -> Result<(), Invalid> {
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Invalid("must not contain control characters".to_owned()));
    }
    let chars = value.trim().chars().count();
    if chars < min {
        return Err(Invalid(if min == 1 {
            "is required".to_owned()
        } else {
            format!("must be at least {min} characters")
        }));
    }
    if chars > max {
        return Err(Invalid(format!("must be at most {max} characters")));
    }
    Ok(())
}

/// `text` safe to place in HTML text or a quoted attribute.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// SHA-256 of `data` in lower-case hex: how tokens and request fingerprints are stored.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_absolute_http() {
        assert!(check_url("https://cdn.example.com/a.png").is_ok());
        for bad in [
            "",
            "ftp://x.io/a",
            "https://",
            "https:///x",
            "javascript:alert(1)",
            "https://a b.io",
        ] {
            assert!(check_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn text_is_checked_for_length_and_control_characters() {
        assert!(check_text("  Night  ", 1, 5).is_ok());
        assert!(check_text("   ", 1, 5).is_err());
        assert!(check_text("toolong", 1, 5).is_err());
        assert!(check_text("line\nbreak\tand tab", 0, 50).is_ok());
        assert!(check_text("nul\0byte", 0, 50).is_err());
    }

    #[test]
    fn nullable_tells_absent_from_null() {
        #[derive(Deserialize)]
        struct Patch {
            #[serde(default, deserialize_with = "nullable")]
            avatar: Option<Option<String>>,
        }
        let absent: Patch = serde_json::from_str("{}").unwrap();
        let null: Patch = serde_json::from_str(r#"{"avatar": null}"#).unwrap();
        let set: Patch = serde_json::from_str(r#"{"avatar": "x"}"#).unwrap();
        assert_eq!(absent.avatar, None);
        assert_eq!(null.avatar, Some(None));
        assert_eq!(set.avatar, Some(Some("x".to_owned())));
    }
}
