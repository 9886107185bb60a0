//! Amounts in minor units (the API's `price`, `total_price`, `amount`) written for people, for
//! the texts the server composes itself (notifications); the site formats its own.

/// How many digits of `currency` (ISO 4217) follow the decimal point: 0 for the yen or the
/// dong, 3 for the dinars, 2 otherwise.
fn decimals(currency: &str) -> u32 {
    const NONE: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
        "VUV", "XAF", "XOF", "XPF",
    ];
    const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    if NONE.contains(&currency) {
        0
    } else if THREE.contains(&currency) {
        3
    } else {
        2
    }
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
}
