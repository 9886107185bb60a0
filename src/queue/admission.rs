//! Who gets in and when: the pace admissions flow at (a pure function of what the event has left
//! and what admitted buyers did so far), the admission token a buyer holds with, and the
//! proof of work a join may have to carry.
use boxoffice_actors::ids::{EventId, UserId};
use boxoffice_actors::inventory::Millis;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// What the pace is computed from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pace {
    /// Admissions of the event neither held nor sold.
    pub available: u64,
    /// Admitted, admission still running, no hold yet.
    pub outstanding: u64,
    /// Admitted buyers who held.
    pub holders: u64,
    /// Admitted buyers whose admission ran out without a hold.
    pub lapsed: u64,
    /// Admissions (tickets) the holders' bookings took.
    pub admissions_held: u64,
    /// `queue.admit_at_once`: most admissions outstanding at a time.
    pub at_once: u64,
    /// Entries still waiting, in order.
    pub waiting: u64,
}

impl Pace {
    /// The share of admitted buyers who hold, with one holder and one lapsed buyer assumed
    /// before anything is observed (so the first admissions assume one in two).
    pub fn hold_share(&self) -> f64 {
        (self.holders as f64 + 1.0) / ((self.holders + self.lapsed) as f64 + 2.0)
    }

    /// Admissions one hold takes, starting from two.
    pub fn per_hold(&self) -> f64 {
        (self.admissions_held as f64 + 2.0) / (self.holders as f64 + 1.0)
    }

    /// How many more to admit now: enough outstanding admissions that, at the observed hold
    /// share and size, they would take what is left, never more than `at_once` outstanding,
    /// and none once nothing is left (everything is held or sold).
    pub fn to_admit(&self) -> u64 {
        if self.available == 0 {
            return 0;
        }
        let demand = (self.available as f64 / (self.hold_share() * self.per_hold())).ceil() as u64;
        demand
            .max(1)
            .min(self.at_once)
            .saturating_sub(self.outstanding)
            .min(self.waiting)
    }
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, purpose: &str, event: EventId, user: UserId, value: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("boxoffice {purpose}\n{event}\n{user}\n{value}").as_bytes());
    mac
}

/// An admission token: `<admitted_until in Unix ms>.<HMAC-SHA256 in hex>`, bound to the account
/// and the event by the MAC (keyed with `auth.jwt_secret`, which every node of a cluster has).
pub fn sign(secret: &str, event: EventId, user: UserId, until: Millis) -> String {
    let tag = mac(secret, "admission", event, user, &until.to_string()).finalize();
    format!("{until}.{}", hex::encode(tag.into_bytes()))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenCheck {
    Valid,
    /// Genuine, for this account and event, but its time is up.
    Expired,
    /// Malformed, forged, or another account's or event's.
    Invalid,
}

pub fn verify(secret: &str, token: &str, event: EventId, user: UserId, now: Millis) -> TokenCheck {
    let Some((until, tag)) = token.split_once('.') else {
        return TokenCheck::Invalid;
    };
    let (Ok(until_ms), Ok(tag)) = (until.parse::<Millis>(), hex::decode(tag)) else {
        return TokenCheck::Invalid;
    };
    if mac(secret, "admission", event, user, until)
        .verify_slice(&tag)
        .is_err()
    {
        return TokenCheck::Invalid;
    }
    if now >= until_ms {
        TokenCheck::Expired
    } else {
        TokenCheck::Valid
    }
}

/// How long one proof-of-work challenge stays answerable.
pub const CHALLENGE_MILLIS: Millis = 10 * 60 * 1000;

/// The challenge for `user` joining `event` in the window `now` falls in: a hex string the
/// client extends with a nonce until SHA-256(`challenge:nonce`) starts with `bits` zero bits.
/// Bound to the account, so one answer does not serve a farm of accounts.
pub fn challenge(secret: &str, event: EventId, user: UserId, now: Millis) -> String {
    let window = now.div_euclid(CHALLENGE_MILLIS);
    let tag = mac(secret, "challenge", event, user, &window.to_string()).finalize();
    format!("{window}-{}", hex::encode(&tag.into_bytes()[..12]))
}

/// Whether `nonce` answers `given`, a challenge of this or the previous window.
pub fn solved(
    secret: &str,
    event: EventId,
    user: UserId,
    now: Millis,
    given: &str,
    nonce: &str,
    bits: u32,
) -> bool {
    let current = challenge(secret, event, user, now);
    let previous = challenge(secret, event, user, now - CHALLENGE_MILLIS);
    (given == current || given == previous) && leading_zero_bits(given, nonce) >= bits
}

pub fn leading_zero_bits(challenge: &str, nonce: &str) -> u32 {
    let digest = Sha256::digest(format!("{challenge}:{nonce}").as_bytes());
    let mut bits = 0;
    for byte in digest {
        if byte == 0 {
            bits += 8;
        } else {
            return bits + byte.leading_zeros();
        }
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pace(available: u64, outstanding: u64) -> Pace {
        Pace {
            available,
            outstanding,
            at_once: 50,
            waiting: 1_000,
            ..Pace::default()
        }
    }

    #[test]
    fn admissions_follow_what_is_left_and_stop_at_the_cap() {
        assert_eq!(pace(100, 0).to_admit(), 50, "capped by admit_at_once");
        assert_eq!(pace(100, 50).to_admit(), 0);
        assert_eq!(pace(0, 0).to_admit(), 0, "nothing left, nobody admitted");
        // 2 left, one in two holds, two tickets a hold: two admissions cover it
        assert_eq!(pace(2, 0).to_admit(), 2);
        let mut eager = pace(10, 0);
        (eager.holders, eager.admissions_held) = (99, 99);
        assert_eq!(
            eager.to_admit(),
            10,
            "buyers who all hold one ticket: one each"
        );
        let waiting = Pace {
            waiting: 3,
            ..pace(100, 0)
        };
        assert_eq!(waiting.to_admit(), 3);
    }

    #[test]
    fn a_token_is_bound_to_account_event_and_time() {
        let (event, user) = (EventId::new(), UserId::new());
        let token = sign("s", event, user, 1_000);
        assert_eq!(verify("s", &token, event, user, 999), TokenCheck::Valid);
        assert_eq!(verify("s", &token, event, user, 1_000), TokenCheck::Expired);
        assert_eq!(
            verify("s", &token, EventId::new(), user, 0),
            TokenCheck::Invalid
        );
        assert_eq!(
            verify("s", &token, event, UserId::new(), 0),
            TokenCheck::Invalid
        );
        assert_eq!(verify("t", &token, event, user, 0), TokenCheck::Invalid);
        let later = token.replacen("1000.", "9000.", 1);
        assert_eq!(verify("s", &later, event, user, 0), TokenCheck::Invalid);
        assert_eq!(verify("s", "garbage", event, user, 0), TokenCheck::Invalid);
    }

    #[test]
    fn a_challenge_takes_work_and_is_the_accounts_own() {
        let (event, user) = (EventId::new(), UserId::new());
        let challenge = challenge("s", event, user, 5_000);
        let nonce = (0u64..)
            .find(|n| leading_zero_bits(&challenge, &n.to_string()) >= 8)
            .unwrap()
            .to_string();
        assert!(solved("s", event, user, 5_000, &challenge, &nonce, 8));
        assert!(!solved(
            "s",
            event,
            UserId::new(),
            5_000,
            &challenge,
            &nonce,
            8
        ));
        assert!(!solved(
            "s",
            event,
            user,
            5_000 + 2 * CHALLENGE_MILLIS,
            &challenge,
            &nonce,
            8
        ));
    }
}
