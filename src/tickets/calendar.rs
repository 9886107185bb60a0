//! An event for the buyer's calendar: `GET /v1/events/{id}/calendar.ics`, one VEVENT in
//! iCalendar (RFC 5545). Written here, a few lines with their escaping and folding, rather than
//! with a crate: the maintained one (`icalendar`) needs a newer Rust than this project's and
//! brings a parser we would not use.
use actix_web::{web, HttpResponse};
use boxoffice_actors::ids::EventId;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::catalog::store::{find_event, Scope};
use crate::catalog::Event;
use crate::config::Settings;
use crate::error::ApiError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/events/{id}/calendar.ics").route(web::get().to(calendar_ics)));
}

/// A published (or cancelled) event as an iCalendar file with one VEVENT, its times in UTC.
#[utoipa::path(get, path = "/v1/events/{id}/calendar.ics", tag = "catalog", params(("id" = String, Path)),
    responses((status = 200, content_type = "text/calendar", body = String),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn calendar_ics(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    id: web::Path<EventId>,
) -> Result<HttpResponse, ApiError> {
    // what the catalog shows: a published or cancelled event, never a draft
    let event = find_event(&pool, *id, Scope::Published)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    let ics = calendar(&event, &settings.server.public_url, Utc::now());
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}.ics\"", file_name(&event.name)),
        ))
        .body(ics))
}

/// Characters of the description kept: a calendar shows a summary, the page has the rest.
const DESCRIPTION_CHARS: usize = 500;

/// The event's calendar, lines ended by CRLF, stamped `now`.
pub fn calendar(event: &Event, public_url: &str, now: DateTime<Utc>) -> String {
    let url = format!("{}/events/{}", public_url.trim_end_matches('/'), event.id);
    let description: String = event.description.chars().take(DESCRIPTION_CHARS).collect();
    let status = if event.status == "cancelled" {
        "CANCELLED"
    } else {
        "CONFIRMED"
    };
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//boxoffice//boxoffice//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}@boxoffice", event.id),
        format!("DTSTAMP:{}", utc(now)),
        format!("DTSTART:{}", utc(event.start_at)),
        format!("DTEND:{}", utc(event.end_at)),
        format!("LAST-MODIFIED:{}", utc(event.updated_at)),
        format!("SUMMARY:{}", escape(&event.name)),
        format!("LOCATION:{}", escape(&event.location)),
        format!("DESCRIPTION:{}", escape(&description)),
        format!("URL:{url}"),
        format!("STATUS:{status}"),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    let mut ics = String::new();
    for line in lines {
        fold(&mut ics, &line);
    }
    ics
}

/// A UTC DATE-TIME: `20261205T023000Z`.
fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value (RFC 5545 3.3.11): backslash, semicolon and comma escaped, line breaks as `\n`.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            ';' => escaped.push_str("\\;"),
            ',' => escaped.push_str("\\,"),
            '\r' => {
                chars.next_if_eq(&'\n');
                escaped.push_str("\\n");
            }
            '\n' => escaped.push_str("\\n"),
            // no other control character may appear in a value
            c if c.is_control() => escaped.push(' '),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Octets in a content line before its CRLF (RFC 5545 3.1); a continuation's leading space
/// counts.
const LINE_OCTETS: usize = 75;

/// Appends `line` folded: past 75 octets it goes on in lines that begin with one space, each
/// break between two characters (never inside a UTF-8 sequence), each line ended by CRLF.
fn fold(out: &mut String, line: &str) {
    let mut room = LINE_OCTETS;
    for c in line.chars() {
        if c.len_utf8() > room {
            out.push_str("\r\n ");
            room = LINE_OCTETS - 1;
        }
        out.push(c);
        room -= c.len_utf8();
    }
    out.push_str("\r\n");
}

/// The event's name as a file name: ASCII letters and digits, words joined by dashes
/// ("Jazz & Blues Night" gives `jazz-blues-night`); "event" when nothing is left.
fn file_name(name: &str) -> String {
    let mut file = String::new();
    for word in name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if file.len() + word.len() > 60 {
            break;
        }
        if !file.is_empty() {
            file.push('-');
        }
        file.push_str(&word.to_ascii_lowercase());
    }
    if file.is_empty() {
        "event".to_owned()
    } else {
        file
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_escape_what_rfc_5545_reserves() {
        assert_eq!(
            escape("Jazz, Blues; and \\ more\nnext\r\nlast\rend"),
            "Jazz\\, Blues\\; and \\\\ more\\nnext\\nlast\\nend"
        );
        assert_eq!(escape("tab\there"), "tab here");
        assert_eq!(escape("Zoë"), "Zoë");
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_a_character() {
        let mut out = String::new();
        let line = format!("SUMMARY:{}", "é".repeat(100));
        fold(&mut out, &line);
        assert!(out.ends_with("\r\n"));
        let lines: Vec<&str> = out.trim_end_matches("\r\n").split("\r\n").collect();
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.len() <= LINE_OCTETS), "{lines:?}");
        assert!(lines[1..].iter().all(|l| l.starts_with(' ')));
        // unfolding (dropping each CRLF and the space after it) gives the line back
        assert_eq!(out.trim_end_matches("\r\n").replace("\r\n ", ""), line);
        let mut short = String::new();
        fold(&mut short, "VERSION:2.0");
        assert_eq!(short, "VERSION:2.0\r\n");
        // exactly 75 octets stays one line, 76 folds
        let mut edge = String::new();
        fold(&mut edge, &"x".repeat(75));
        assert_eq!(edge.matches("\r\n").count(), 1);
        edge.clear();
        fold(&mut edge, &"x".repeat(76));
        assert_eq!(edge, format!("{}\r\n x\r\n", "x".repeat(75)));
    }

    #[test]
    fn the_file_is_named_after_the_event() {
        assert_eq!(file_name("Jazz & Blues Night"), "jazz-blues-night");
        assert_eq!(file_name("Café \"Live\""), "caf-live");
        assert_eq!(file_name("東京"), "event");
        assert!(file_name(&"word ".repeat(40)).len() <= 60);
    }
}
