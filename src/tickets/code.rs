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

/// Crockford's base32 alphabet: no I, L, O or U, so no character reads as another.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The code a person types when the QR will not scan, e.g. `K7QF-9M2X`: the first 40 bits of
/// SHA-256 of the signed `code` in Crockford base32. `attempt` (0 first) salts the hash, as
/// `<code>#<attempt>`, for the rare ticket whose short code another of its event has (one pair
/// in 2^40); migration 0023's `ticket_short_code` is the same derivation in SQL.
pub fn short_code(code: &str, attempt: u32) -> String {
    use sha2::Digest;
    let digest = if attempt == 0 {
        Sha256::digest(code.as_bytes())
    } else {
        Sha256::digest(format!("{code}#{attempt}").as_bytes())
    };
    let bits = digest[..5]
        .iter()
        .fold(0u64, |bits, &byte| bits << 8 | u64::from(byte));
    let mut short = String::with_capacity(9);
    for i in 0..8 {
        if i == 4 {
            short.push('-');
        }
        short.push(char::from(CROCKFORD[(bits >> (35 - 5 * i) & 31) as usize]));
    }
    short
}

/// A typed short code as [`short_code`] writes it, or `None` if it cannot be one: eight
/// Crockford base32 characters in any case, with or without the dash (or spaces), I and L read
/// as 1 and O as 0, as Crockford's decoding does.
pub fn parse_short(input: &str) -> Option<String> {
    let mut short = String::with_capacity(9);
    for c in input.chars().filter(|c| *c != '-' && !c.is_whitespace()) {
        let c = match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            c if c.is_ascii() && CROCKFORD.contains(&(c as u8)) => c,
            _ => return None,
        };
        if short.len() == 4 {
            short.push('-');
        }
        if short.len() == 9 {
            return None;
        }
        short.push(c);
    }
    (short.len() == 9).then_some(short)
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

    #[test]
    fn a_short_code_is_eight_crockford_characters_the_same_for_the_same_code() {
        let code = sign("key", Uuid::now_v7(), EventId::new());
        let short = short_code(&code, 0);
        assert_eq!(short, short_code(&code, 0));
        assert_eq!(short.len(), 9);
        assert_eq!(&short[4..5], "-");
        assert!(short
            .chars()
            .filter(|c| *c != '-')
            .all(|c| CROCKFORD.contains(&(c as u8))));
        assert_ne!(short, short_code(&code, 1), "another attempt, another code");
        // SHA-256("abc") starts ba 78 16 bf 8f: 10111 01001 11100 00001 01101 01111 11100 01111
        assert_eq!(short_code("abc", 0), "Q9W1-DFWF");
    }

    #[test]
    fn a_typed_short_code_is_read_in_any_case_with_or_without_its_dash() {
        for typed in [
            "Q9W1-DFWF",
            "q9w1dfwf",
            " q9w1 - dfwf ",
            "Q9WI-DFWF",
            "Q9Wl-DFWF",
        ] {
            assert_eq!(
                parse_short(typed).as_deref(),
                Some("Q9W1-DFWF"),
                "{typed:?}"
            );
        }
        assert_eq!(parse_short("0OO0-oooo").as_deref(), Some("0000-0000"));
        for junk in [
            "",
            "N9W1-DFW",
            "N9W1-DFWFF",
            "N9W1-DFWU",
            "N9W1-DFW!",
            "N9W1.DFWF",
            "ÄBCD-EFGH",
        ] {
            assert_eq!(parse_short(junk), None, "{junk:?}");
        }
    }
}
