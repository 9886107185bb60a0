//! Events' time zones: the IANA names organizers give, the zone a venue's city suggests, and an
//! instant as people at the venue read it ("Sat 5 Dec 2026, 19:30 MST").
use chrono::{DateTime, Utc};
use chrono_tz::{Tz, TZ_VARIANTS};

use crate::input::Invalid;

/// The zone of an IANA name such as `America/Denver` (as written; `UTC` too).
pub fn check_time_zone(name: &str) -> Result<Tz, Invalid> {
    name.parse::<Tz>().map_err(|_| {
        Invalid(format!(
            "\"{}\" is not a time zone we know: give its IANA name, such as Europe/Berlin or America/Denver",
            name.chars().take(60).collect::<String>()
        ))
    })
}

/// The zone whose city a venue's location names ("Red Rocks, Denver" is America/Denver), the
/// longest such city when several match; none when no city is named.
pub fn zone_of_location(location: &str) -> Option<Tz> {
    let words: Vec<String> = location
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    TZ_VARIANTS
        .iter()
        // deprecated aliases (US/Mountain, Etc/…) are not cities; canonical names have a region
        .filter(|tz| {
            let name = tz.name();
            name.contains('/')
                && !name.starts_with("Etc/")
                && name.starts_with(char::is_uppercase)
                && !["US/", "Canada/", "Brazil/", "Chile/", "Mexico/"]
                    .iter()
                    .any(|p| name.starts_with(p))
        })
        .filter_map(|tz| {
            let city: Vec<String> = tz
                .name()
                .rsplit('/')
                .next()?
                .split('_')
                .map(str::to_lowercase)
                .collect();
            let named = words.windows(city.len()).any(|w| w == city.as_slice());
            named.then_some((city.len(), *tz))
        })
        .max_by_key(|(words, tz)| (*words, std::cmp::Reverse(tz.name())))
        .map(|(_, tz)| tz)
}

/// "Sat 5 Dec 2026, 19:30 MST": `at` in `zone` (UTC when the name is not a zone).
pub fn local_time(at: DateTime<Utc>, zone: &str) -> String {
    let zone: Tz = zone.parse().unwrap_or(Tz::UTC);
    at.with_timezone(&zone)
        .format("%a %-d %b %Y, %H:%M %Z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_city_in_the_location_gives_its_zone() {
        for (location, zone) in [
            ("Red Rocks Amphitheatre, Denver, CO", Some("America/Denver")),
            ("Madison Square Garden, New York", Some("America/New_York")),
            ("O2 Arena, London", Some("Europe/London")),
            ("Tempodrom, berlin", Some("Europe/Berlin")),
            ("Main Hall", None),
            ("", None),
        ] {
            assert_eq!(
                zone_of_location(location).map(|z| z.name()),
                zone,
                "{location}"
            );
        }
    }

    #[test]
    fn names_are_checked_and_times_read_at_the_venue() {
        assert!(check_time_zone("America/Denver").is_ok());
        assert!(check_time_zone("UTC").is_ok());
        assert!(check_time_zone("Mars/Olympus").is_err());
        let at = "2026-12-05T02:30:00Z".parse().unwrap();
        assert_eq!(
            local_time(at, "America/Denver"),
            "Fri 4 Dec 2026, 19:30 MST"
        );
        assert_eq!(local_time(at, "UTC"), "Sat 5 Dec 2026, 02:30 UTC");
    }
}
