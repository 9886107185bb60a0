//! Amounts in minor units (the API's `price`, `total_price`, `amount`) written for people, for
//! the texts the server composes itself (notifications); the site formats its own.

/// The ISO 4217 currency of `code` that money can be counted in (not a metal or a fund).
fn currency(code: &str) -> Option<iso_currency::Currency> {
    iso_currency::Currency::from_code(code).filter(|c| c.exponent().is_some())
}

/// Whether `code` is an ISO 4217 currency that prices can be given in.
pub fn is_currency(code: &str) -> bool {
    currency(code).is_some()
}

/// How many digits of `currency` follow the decimal point (0 for the yen or the dong, 3 for the
/// dinars), from the ISO 4217 table; 2 for a code it does not know.
fn decimals(code: &str) -> u32 {
    currency(code)
        .and_then(|c| c.exponent())
        .map_or(2, u32::from)
}

/// 9000, "USD" -> "90.00 USD"; 1500000, "VND" -> "1,500,000 VND".
pub fn format(minor: i64, currency: &str) -> String {
    let places = decimals(currency);
    let unit = 10_i64.pow(places);
    let whole = (minor.unsigned_abs() / unit as u64).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if minor < 0 { "-" } else { "" };
    if places == 0 {
        format!("{sign}{grouped} {currency}")
    } else {
        let fraction = minor.unsigned_abs() % unit as u64;
        format!(
            "{sign}{grouped}.{fraction:0width$} {currency}",
            width = places as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn minor_units_become_the_amount_people_read() {
        assert_eq!(format(9000, "USD"), "90.00 USD");
        assert_eq!(format(5, "EUR"), "0.05 EUR");
        assert_eq!(format(123_456_789, "USD"), "1,234,567.89 USD");
        assert_eq!(format(1_500_000, "VND"), "1,500,000 VND");
        assert_eq!(format(1_234, "KWD"), "1.234 KWD");
        assert_eq!(format(-250, "USD"), "-2.50 USD");
        assert_eq!(format(0, "JPY"), "0 JPY");
    }

    #[test]
    fn currencies_are_iso_4217_codes_money_is_counted_in() {
        assert!(super::is_currency("USD") && super::is_currency("VND"));
        for code in ["ABC", "usd", "XAU", ""] {
            assert!(!super::is_currency(code), "{code} was taken for a currency");
        }
    }
}
