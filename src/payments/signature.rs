//! The payment webhook's signature: `X-Boxoffice-Signature: t=<unix seconds>,v1=<hex>` where the
//! hex is HMAC-SHA256(secret, "<t>.<raw query string>.<raw body>"). The sandbox gateway signs
//! with [`sign`]; the webhook checks with [`verify`] (constant time, 5-minute tolerance).
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "X-Boxoffice-Signature";
/// How far the signing time may be from ours, either way.
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Boxoffice-Signature header is missing")]
    Missing,
    #[error("the X-Boxoffice-Signature header is not t=<unix seconds>,v1=<hex>")]
    Malformed,
    #[error("the signature was made more than 5 minutes from now")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

fn mac(secret: &str, t: i64, query: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(query.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for a request signed at `t`.
pub fn sign(secret: &str, t: i64, query: &str, body: &[u8]) -> String {
    let digest = mac(secret, t, query, body).finalize().into_bytes();
    format!("t={t},v1={}", hex::encode(digest))
}

/// Checks `header` against the request as received, at time `now` (unix seconds).
pub fn verify(
    secret: &str,
    header: Option<&str>,
    query: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (t, v1) = t.zip(v1).ok_or(SignatureError::Malformed)?;
    if (now - t).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    mac(secret, t, query, body)
        .verify_slice(&v1)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec";
    const QUERY: &str = "payment_code=P&booking_id=B&transaction_id=T";
    const BODY: &[u8] = br#"{"status":"succeeded","amount":100,"currency":"VND"}"#;

    #[test]
    fn a_signed_request_verifies_within_the_tolerance() {
        let header = sign(SECRET, 1_000, QUERY, BODY);
        assert!(header.starts_with("t=1000,v1="));
        assert_eq!(verify(SECRET, Some(&header), QUERY, BODY, 1_000), Ok(()));
        assert_eq!(verify(SECRET, Some(&header), QUERY, BODY, 1_300), Ok(()));
        assert_eq!(
            verify(SECRET, Some(&header), QUERY, BODY, 1_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(&header), QUERY, BODY, 699),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn any_change_to_secret_query_body_or_time_breaks_the_signature() {
        let header = sign(SECRET, 1_000, QUERY, BODY);
        let mismatch = Err(SignatureError::Mismatch);
        assert_eq!(verify("other", Some(&header), QUERY, BODY, 1_000), mismatch);
        assert_eq!(
            verify(SECRET, Some(&header), "payment_code=Q", BODY, 1_000),
            mismatch
        );
        assert_eq!(verify(SECRET, Some(&header), QUERY, b"{}", 1_000), mismatch);
        let moved = header.replace("t=1000", "t=1001");
        assert_eq!(verify(SECRET, Some(&moved), QUERY, BODY, 1_000), mismatch);
    }

    #[test]
    fn missing_or_malformed_headers_are_named() {
        assert_eq!(
            verify(SECRET, None, QUERY, BODY, 0),
            Err(SignatureError::Missing)
        );
        for header in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=0g", "t=1,v1=abc"] {
            assert_eq!(
                verify(SECRET, Some(header), QUERY, BODY, 1),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
    }
}
