//! What an account is made of, checked when built: an email address and a password.
use std::fmt;

use crate::input::Invalid;

/// A syntactically plausible, lower-cased email address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let email = input.trim().to_lowercase();
        if email.is_empty() {
            return Err("is required");
        }
        if email.len() > 254 {
            return Err("is longer than 254 characters");
        }
        // the mailer's own address type decides what can be sent to; a registered address is
        // one the ticket mail can reach
        let address: lettre::Address = email.parse().map_err(|_| "is not an email address")?;
        let domain = address.domain();
        // and a domain people can be reached at, not a single host name
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err("is not an email address");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password that meets the policy. Its Debug never shows it.
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(input: String) -> Result<Self, Invalid> {
        let chars = input.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(Invalid(format!(
                "must be at least {} characters",
                Self::MIN_CHARS
            )));
        }
        if chars > Self::MAX_CHARS {
            return Err(Invalid(format!(
                "must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if input.trim().is_empty() {
            return Err(Invalid("must not be only spaces".to_owned()));
        }
        Ok(Self(input))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
    }

    #[test]
    fn implausible_emails_are_refused() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@@example.com",
            "ada@example..com",
            "ada@.example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn passwords_follow_the_length_policy() {
        assert!(NewPassword::parse("short".into()).is_err());
        assert!(NewPassword::parse("        ".into()).is_err());
        assert!(NewPassword::parse("x".repeat(129)).is_err());
        assert!(NewPassword::parse("correct horse".into()).is_ok());
        assert_eq!(
            format!("{:?}", NewPassword::parse("correct horse".into()).unwrap()),
            "NewPassword(..)"
        );
    }
}
