//! Request input shared by the domains: PATCH semantics (a field left out keeps its value,
//! `null` clears it) and checks for fields several resources carry.
use serde::{Deserialize, Deserializer};

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
pub fn check_text(value: &str, min: usize, max: usize) -> Result<(), String> {
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("must not contain control characters".to_owned());
    }
    let chars = value.trim().chars().count();
    if chars < min {
        return Err(if min == 1 {
            "is required".to_owned()
        } else {
            format!("must be at least {min} characters")
        });
    }
    if chars > max {
        return Err(format!("must be at most {max} characters"));
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
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
