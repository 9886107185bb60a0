//! Ticket codes: what a ticket's QR carries. `<ticket id><event id>` in base64url, a dot, and a
//! truncated HMAC-SHA256 of them under `tickets.signing_key`, so a scanner can tell a forged code
//! from a real one, and which event it is for, without the database.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use boxoffice_actors::ids::EventId;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// Bytes of the MAC kept: 128 bits, plenty against guessing, short enough for a dense QR.
const MAC_BYTES: usize = 16;

fn mac(key: &str, payload: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(payload);
    mac
}

pub fn sign(key: &str, ticket: Uuid, event: EventId) -> String {
    let mut payload = Vec::with_capacity(32);
    payload.extend_from_slice(ticket.as_bytes());
    payload.extend_from_slice(event.0.as_bytes());
    let tag = mac(key, &payload).finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&payload),
        URL_SAFE_NO_PAD.encode(&tag[..MAC_BYTES])
    )
}

/// The ticket and event a genuine code names; `None` for anything this key did not sign.
pub fn verify(key: &str, code: &str) -> Option<(Uuid, EventId)> {
    let (payload, tag) = code.trim().split_once('.')?;
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    if payload.len() != 32 || tag.len() != MAC_BYTES {
        return None;
    }
    mac(key, &payload).verify_truncated_left(&tag).ok()?;
    let ticket = Uuid::from_slice(&payload[..16]).ok()?;
    let event = Uuid::from_slice(&payload[16..]).ok()?;
    Some((ticket, event.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_code_verifies_and_names_its_ticket_and_event() {
        let (ticket, event) = (Uuid::now_v7(), EventId::new());
        let code = sign("key", ticket, event);
        assert_eq!(verify("key", &code), Some((ticket, event)));
        assert_eq!(verify("key", &format!("  {code}\n")), Some((ticket, event)));
    }

    #[test]
    fn forged_or_damaged_codes_are_refused() {
        let code = sign("key", Uuid::now_v7(), EventId::new());
        assert_eq!(verify("other-key", &code), None);
        let (payload, tag) = code.split_once('.').unwrap();
        let other = sign("key", Uuid::now_v7(), EventId::new());
        let (other_payload, _) = other.split_once('.').unwrap();
        assert_eq!(verify("key", &format!("{other_payload}.{tag}")), None);
        assert_eq!(verify("key", &format!("{payload}.{}", &tag[1..])), None);
        for junk in ["", ".", "abc", "abc.def", "not base64!.x"] {
            assert_eq!(verify("key", junk), None, "{junk}");
        }
    }
}
