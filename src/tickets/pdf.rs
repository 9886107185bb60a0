//! A ticket as a one-page PDF to print or keep: the event, its time in the event's zone, the
//! place, type, seat and holder, the booking code, the QR of the signed code drawn as vector
//! squares, and the short code large enough to read aloud. Written with `pdf-writer` in the
//! standard fonts (Helvetica, Courier), which every reader has, so nothing is embedded; the
//! content stream stays uncompressed, so its text is there as written (a page is a few KB).
use actix_web::{web, HttpResponse};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use qrcode::{Color, QrCode};
use sqlx::PgPool;
use uuid::Uuid;

use super::{qr::QrError, Ticket};
use crate::auth::AuthUser;
use crate::catalog::zone::local_time;
use crate::error::{ApiError, Code};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/tickets/{id}/ticket.pdf").route(web::get().to(ticket_pdf)));
}

/// One of the caller's tickets as a printable PDF (`ticket-K7QF-9M2X.pdf`). A refunded or
/// transferred ticket no longer admits anyone, so it has none (409).
#[utoipa::path(get, path = "/v1/tickets/{id}/ticket.pdf", tag = "tickets", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "invalid_state: the ticket was refunded or transferred", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn ticket_pdf(
    pool: web::Data<PgPool>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let ticket = super::own_ticket(&pool, &user, *id).await?;
    let refused = |why: &str| Err(ApiError::new(Code::InvalidState, why.to_owned()));
    match ticket.status.as_str() {
        "void" => {
            return refused(
                "This ticket was refunded and no longer admits anyone, so it has no PDF.",
            )
        }
        "transferred" => return refused(
            "This ticket was given to someone else and no longer admits anyone, so it has no PDF.",
        ),
        _ => {}
    }
    let holder: String =
        sqlx::query_scalar("SELECT COALESCE(username, email) FROM users WHERE id = $1")
            .bind(user.id)
            .fetch_one(pool.get_ref())
            .await?;
    let filename = format!("ticket-{}.pdf", ticket.short_code);
    // drawing the QR and the page is CPU work: off the async workers
    let pdf = tokio::task::spawn_blocking(move || render(&ticket, &holder))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{filename}\""),
        ))
        // a refund or a check-in changes what it says
        .insert_header(("Cache-Control", "private, no-cache"))
        .body(pdf))
}

/// A4 in points, and the margin all round.
const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
/// The QR's side, quiet zone included.
const QR_SIDE: f32 = 190.0;
/// Modules of white border around the QR (the standard's quiet zone).
const QUIET: usize = 4;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");
const MONO: Name<'static> = Name(b"F3");

/// The ticket's page; `holder` is who it belongs to (the account's username, else its email).
pub fn render(ticket: &Ticket, holder: &str) -> Result<Vec<u8>, QrError> {
    let qr = QrCode::new(ticket.code.as_bytes())?;
    let mut page = Page::new();
    let left = MARGIN;
    let width = PAGE_WIDTH - 2.0 * MARGIN;
    let mut y = PAGE_HEIGHT - MARGIN;

    y -= 10.0;
    page.text(BOLD, 10.0, 0.45, left, y, "TICKET");
    y -= 34.0;
    for line in wrap(&ticket.event.name, BOLD, 26.0, width, 3) {
        page.text(BOLD, 26.0, 0.0, left, y, &line);
        y -= 31.0;
    }
    y -= 2.0;
    let zone = &ticket.event.time_zone;
    page.text(
        REGULAR,
        15.0,
        0.0,
        left,
        y,
        &local_time(ticket.event.start_at, zone),
    );
    y -= 18.0;
    let ends = format!("Ends {}", local_time(ticket.event.end_at, zone));
    page.text(REGULAR, 11.0, 0.4, left, y, &ends);
    y -= 22.0;
    for line in wrap(&ticket.event.location, REGULAR, 15.0, width, 2) {
        page.text(REGULAR, 15.0, 0.0, left, y, &line);
        y -= 19.0;
    }
    y -= 8.0;
    page.rule(left, y, width);
    y -= 30.0;

    // the details on the left, the QR beside them on the right
    let qr_top = y + 12.0;
    let column = width - QR_SIDE - 24.0;
    let seat = match &ticket.seat {
        Some(seat) => format!("{}, row {}, seat {}", seat.section, seat.row, seat.label),
        None => "General admission".to_owned(),
    };
    let mut details = vec![
        ("Ticket type", ticket.ticket_type_name.clone()),
        ("Seat", seat),
    ];
    if let Some(name) = &ticket.attendee_name {
        details.push(("Name on ticket", name.clone()));
    }
    details.push(("Holder", holder.to_owned()));
    details.push(("Booking", ticket.booking_code.clone()));
    if let Some(at) = ticket.checked_in_at {
        details.push(("Checked in", local_time(at, zone)));
    }
    for (label, value) in details {
        page.text(BOLD, 8.5, 0.45, left, y, &label.to_uppercase());
        y -= 16.0;
        for line in wrap(&value, REGULAR, 13.0, column, 2) {
            page.text(REGULAR, 13.0, 0.0, left, y, &line);
            y -= 16.0;
        }
        y -= 10.0;
    }
    page.qr(&qr, PAGE_WIDTH - MARGIN - QR_SIDE, qr_top - QR_SIDE);

    y = y.min(qr_top - QR_SIDE) - 48.0;
    // Courier: every character is 0.6 em wide, so the code centres exactly
    let code_size = 40.0;
    let code_width = ticket.short_code.chars().count() as f32 * 0.6 * code_size;
    page.text(
        MONO,
        code_size,
        0.0,
        (PAGE_WIDTH - code_width) / 2.0,
        y,
        &ticket.short_code,
    );
    y -= 26.0;
    let note = "Show the QR code at the door. If it will not scan, the door can type this code.";
    let note_width = text_width(note, REGULAR, 10.0);
    page.text(REGULAR, 10.0, 0.4, (PAGE_WIDTH - note_width) / 2.0, y, note);

    let title = format!("Ticket {}: {}", ticket.short_code, ticket.event.name);
    Ok(page.finish(&title))
}

/// The page's content stream as it is drawn.
struct Page {
    content: Content,
}

impl Page {
    fn new() -> Self {
        Self {
            content: Content::new(),
        }
    }

    /// One line of `text` at (`x`, `y`) in `font` at `size`, in `gray` (0 is black).
    fn text(&mut self, font: Name, size: f32, gray: f32, x: f32, y: f32, text: &str) {
        self.content
            .set_fill_gray(gray)
            .begin_text()
            .set_font(font, size)
            .next_line(x, y)
            .show(Str(&win_ansi(text)))
            .end_text();
    }

    fn rule(&mut self, x: f32, y: f32, width: f32) {
        self.content
            .set_stroke_gray(0.8)
            .set_line_width(0.75)
            .move_to(x, y)
            .line_to(x + width, y)
            .stroke();
    }

    /// The QR with its quiet zone in a `QR_SIDE` square whose lower left corner is (`x`, `y`):
    /// each row's runs of dark modules as one filled rectangle.
    fn qr(&mut self, qr: &QrCode, x: f32, y: f32) {
        let modules = qr.width();
        let colors = qr.to_colors();
        let unit = QR_SIDE / (modules + 2 * QUIET) as f32;
        self.content.set_fill_gray(0.0);
        for row in 0..modules {
            let top = y + QR_SIDE - (QUIET + row) as f32 * unit;
            let mut col = 0;
            while col < modules {
                if colors[row * modules + col] != Color::Dark {
                    col += 1;
                    continue;
                }
                let start = col;
                while col < modules && colors[row * modules + col] == Color::Dark {
                    col += 1;
                }
                self.content.rect(
                    x + (QUIET + start) as f32 * unit,
                    top - unit,
                    (col - start) as f32 * unit,
                    unit,
                );
            }
        }
        self.content.fill_nonzero();
    }

    fn finish(self, title: &str) -> Vec<u8> {
        let (catalog, pages, page, contents, info) = (
            Ref::new(1),
            Ref::new(2),
            Ref::new(3),
            Ref::new(4),
            Ref::new(5),
        );
        let fonts = [
            (REGULAR, Ref::new(6), "Helvetica"),
            (BOLD, Ref::new(7), "Helvetica-Bold"),
            (MONO, Ref::new(8), "Courier-Bold"),
        ];
        let mut pdf = Pdf::new();
        pdf.catalog(catalog).pages(pages);
        pdf.pages(pages).kids([page]).count(1);
        let mut writer = pdf.page(page);
        writer
            .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .parent(pages)
            .contents(contents);
        let mut resources = writer.resources();
        let mut names = resources.fonts();
        for (name, id, _) in fonts {
            names.pair(name, id);
        }
        names.finish();
        resources.finish();
        writer.finish();
        for (_, id, base) in fonts {
            pdf.type1_font(id)
                .base_font(Name(base.as_bytes()))
                .encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        pdf.stream(contents, &self.content.finish());
        pdf.document_info(info)
            .title(TextStr(title))
            .producer(TextStr("boxoffice"));
        pdf.finish()
    }
}

/// `text` in WinAnsiEncoding, the standard fonts' encoding here: Latin-1 and the few
/// typographic marks it adds; anything else as `?`, control characters as spaces.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '‚' => 0x82,
            'ƒ' => 0x83,
            '„' => 0x84,
            '…' => 0x85,
            '†' => 0x86,
            '‡' => 0x87,
            'ˆ' => 0x88,
            '‰' => 0x89,
            'Š' => 0x8a,
            '‹' => 0x8b,
            'Œ' => 0x8c,
            'Ž' => 0x8e,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '˜' => 0x98,
            '™' => 0x99,
            'š' => 0x9a,
            '›' => 0x9b,
            'œ' => 0x9c,
            'ž' => 0x9e,
            'Ÿ' => 0x9f,
            c if c.is_control() => b' ',
            _ => b'?',
        })
        .collect()
}

/// Helvetica's and Helvetica-Bold's advance widths (thousandths of an em) for ' ' to '~'.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

/// How wide `text` is set in `font` at `size`, in points (other characters than ASCII counted
/// as a digit's width, near enough to wrap by).
fn text_width(text: &str, font: Name, size: f32) -> f32 {
    let widths = if font == BOLD {
        &HELVETICA_BOLD
    } else if font == MONO {
        &[600; 95]
    } else {
        &HELVETICA
    };
    let units: u32 = text
        .chars()
        .map(|c| match c {
            ' '..='~' => u32::from(widths[c as usize - 32]),
            _ => 556,
        })
        .sum();
    units as f32 / 1000.0 * size
}

/// `text` in lines no wider than `width`, broken between words (inside a word too long for a
/// line), at most `max_lines`: the last one then ends in "…".
fn wrap(text: &str, font: Name, size: f32, width: f32, max_lines: usize) -> Vec<String> {
    let fits = |line: &str| text_width(line, font, size) <= width;
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let joined = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if fits(&joined) {
            line = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            line.push(c);
            if !fits(&line) {
                line.pop();
                lines.push(std::mem::replace(&mut line, c.to_string()));
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        let last = &mut lines[max_lines - 1];
        while !last.is_empty() && !fits(&format!("{last}…")) {
            last.pop();
        }
        *last = format!("{}…", last.trim_end());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::{TicketEvent, TicketSeat};
    use boxoffice_actors::ids::{BookingId, EventId, SeatId, TicketTypeId};
    use chrono::{TimeZone, Utc};

    fn ticket() -> Ticket {
        Ticket {
            id: Uuid::now_v7(),
            code: "a-signed-code.with-its-mac".into(),
            short_code: "K7QF-9M2X".into(),
            status: "valid".into(),
            qr_url: String::new(),
            checked_in_at: None,
            issued_at: Utc::now(),
            admission_no: 1,
            booking_id: BookingId::new(),
            booking_code: "BK-1234".into(),
            payment_id: Uuid::now_v7(),
            event: TicketEvent {
                id: EventId::new(),
                name: "Café (Live) at Red Rocks".into(),
                start_at: Utc.with_ymd_and_hms(2026, 12, 5, 2, 30, 0).unwrap(),
                end_at: Utc.with_ymd_and_hms(2026, 12, 5, 5, 0, 0).unwrap(),
                location: "Red Rocks Amphitheatre, Denver, CO".into(),
                time_zone: "America/Denver".into(),
            },
            ticket_type_id: TicketTypeId::new(),
            ticket_type_name: "Stalls".into(),
            seat: Some(TicketSeat {
                id: SeatId::new(),
                section: "Stalls".into(),
                row: "A".into(),
                label: "1".into(),
            }),
            attendee_name: Some("Ada Lovelace".into()),
            transferred_to: None,
        }
    }

    #[test]
    fn the_page_is_a_pdf_whose_text_is_there_as_written() {
        let pdf = render(&ticket(), "ada").unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.ends_with(b"%%EOF") || pdf.ends_with(b"%%EOF\n"));
        let text = String::from_utf8_lossy(&pdf);
        for shown in [
            "(K7QF-9M2X) Tj",
            "(Ada Lovelace) Tj",
            "(BK-1234) Tj",
            "(Stalls, row A, seat 1) Tj",
        ] {
            assert!(text.contains(shown), "{shown} in the content stream");
        }
        // 19:30 in Denver on the 4th, in its own zone's name
        assert!(text.contains("(Fri 4 Dec 2026, 19:30 MST) Tj"), "{text}");
        // the é is one WinAnsi byte, so that line is written as hex
        let cafe = win_ansi("Café (Live) at Red Rocks");
        let hex: String = cafe.iter().map(|b| format!("{b:02X}")).collect();
        assert!(
            text.to_uppercase().contains(&format!("<{hex}>")),
            "the name in hex"
        );
        assert!(text.contains("/BaseFont /Courier-Bold"));
        assert!(text.contains(" re"), "the QR's squares");
    }

    #[test]
    fn the_qr_modules_are_drawn_as_squares_row_by_row() {
        let qr = QrCode::new(b"hello").unwrap();
        let mut page = Page::new();
        page.qr(&qr, 0.0, 0.0);
        let content = String::from_utf8(page.content.finish().to_vec()).unwrap();
        let colors = qr.to_colors();
        // one rectangle per run of dark modules in a row
        let runs: usize = colors
            .chunks(qr.width())
            .map(|row| {
                row.iter()
                    .zip(std::iter::once(&Color::Light).chain(row.iter()))
                    .filter(|(c, before)| **c == Color::Dark && **before == Color::Light)
                    .count()
            })
            .sum();
        assert_eq!(content.matches(" re").count(), runs);
        assert!(content.trim_end().ends_with('f'));
    }

    #[test]
    fn long_text_wraps_between_words_and_ends_in_an_ellipsis_past_its_lines() {
        let lines = wrap(
            "The quick brown fox jumps over the lazy dog",
            REGULAR,
            12.0,
            100.0,
            9,
        );
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| text_width(l, REGULAR, 12.0) <= 100.0));
        assert_eq!(
            lines.join(" "),
            "The quick brown fox jumps over the lazy dog"
        );
        let cut = wrap(
            "The quick brown fox jumps over the lazy dog",
            REGULAR,
            12.0,
            100.0,
            2,
        );
        assert_eq!(cut.len(), 2);
        assert!(cut[1].ends_with('…'));
        let word = wrap(&"W".repeat(40), BOLD, 12.0, 100.0, 9);
        assert!(word.len() > 1 && word.iter().all(|l| text_width(l, BOLD, 12.0) <= 100.0));
        assert!(wrap("", REGULAR, 12.0, 100.0, 2).is_empty());
    }

    #[test]
    fn text_outside_win_ansi_becomes_question_marks() {
        assert_eq!(win_ansi("Zoë – “hi” €5"), b"Zo\xeb \x96 \x93hi\x94 \x805");
        assert_eq!(win_ansi("東京\n"), b"?? ");
    }
}
