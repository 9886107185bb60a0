//! Outgoing mail through lettre: `email.transport = "file"` writes each message as an `.eml`
//! file under `email.dir`; `"smtp"` sends through `email.smtp_host`:`email.smtp_port`. The
//! ticket mail carries every ticket with its QR inline (HTML and plain text) and, for the buyer,
//! the receipt: what was bought at which price, and who runs the event.
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{EmailSettings, EmailTransport};
use crate::input::escape_html;
use crate::tickets::{qr, Ticket};

/// Why a mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the mail could not be written to email.dir")]
    File(#[from] lettre::transport::file::Error),
    #[error("the SMTP server did not take the mail")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("the mail could not be built")]
    Build(#[from] lettre::error::Error),
    #[error("a ticket's QR could not be drawn")]
    Qr(#[from] qrcode::types::QrError),
    #[error("a ticket mail needs tickets")]
    NoTickets,
}

impl MailError {
    /// Whether sending it again cannot help: the SMTP server refused it for good (5xx, an
    /// address it will not take) or the mail itself is wrong. A full disk or an SMTP server that
    /// is down or busy (4xx) may pass later.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Smtp(error) => error.is_permanent(),
            Self::File(_) => false,
            Self::Build(_) | Self::Qr(_) | Self::NoTickets => true,
        }
    }
}

pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

enum Transport {
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl Mailer {
    /// Creates `email.dir` for the file transport.
    pub fn new(settings: &EmailSettings) -> std::io::Result<Self> {
        let from = settings
            .from
            .parse()
            .expect("email.from is checked when the settings load");
        let transport = match settings.transport {
            EmailTransport::File => {
                std::fs::create_dir_all(&settings.dir)?;
                Transport::File(AsyncFileTransport::new(&settings.dir))
            }
            EmailTransport::Smtp => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.smtp_host)
                    .port(settings.smtp_port)
                    .build(),
            ),
        };
        Ok(Self { from, transport })
    }

    pub async fn send(&self, message: Message) -> Result<(), MailError> {
        match &self.transport {
            Transport::File(file) => file.send(message).await.map(|_| ())?,
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ())?,
        }
        Ok(())
    }

    /// Who the mail comes from (`email.from`).
    pub fn from(&self) -> &Mailbox {
        &self.from
    }
}

/// What the buyer paid for, as the ticket mail's receipt shows it.
#[derive(Clone, Debug)]
pub struct Receipt {
    /// (ticket type, quantity, unit price in minor units)
    pub lines: Vec<(String, i32, i64)>,
    pub total: i64,
    pub currency: String,
    pub promo_code: Option<String>,
    pub payment_method: Option<String>,
    /// Who runs the event: their name (or address) and address.
    pub organizer: String,
    pub organizer_email: String,
}

impl Receipt {
    fn text(&self) -> String {
        let money = |minor| crate::money::format(minor, &self.currency);
        let mut text = String::from("Receipt\n");
        for (name, qty, price) in &self.lines {
            text.push_str(&format!(
                "  {qty} x {name} at {}: {}\n",
                money(*price),
                money(price * i64::from(*qty))
            ));
        }
        if let Some(code) = &self.promo_code {
            text.push_str(&format!("  Promo code {code} (included in the prices)\n"));
        }
        text.push_str(&format!("  Total paid: {}", money(self.total)));
        if let Some(method) = &self.payment_method {
            text.push_str(&format!(" by {}", method.replace('_', " ")));
        }
        text.push_str(&format!(
            "\nSold by {} <{}> through boxoffice.\n\n",
            self.organizer, self.organizer_email
        ));
        text
    }

    fn html(&self) -> String {
        let money = |minor| escape_html(&crate::money::format(minor, &self.currency));
        let mut html = String::from(
            "<h2>Receipt</h2><table style=\"border-collapse: collapse\"><tr><th align=\"left\">Ticket</th><th align=\"right\">Qty</th><th align=\"right\">Price</th><th align=\"right\">Amount</th></tr>",
        );
        for (name, qty, price) in &self.lines {
            html.push_str(&format!(
                "<tr><td>{}</td><td align=\"right\">{qty}</td><td align=\"right\">{}</td><td align=\"right\">{}</td></tr>",
                escape_html(name),
                money(*price),
                money(price * i64::from(*qty))
            ));
        }
        html.push_str(&format!(
            "<tr><th align=\"left\" colspan=\"3\">Total paid</th><th align=\"right\">{}</th></tr></table>",
            money(self.total)
        ));
        if let Some(code) = &self.promo_code {
            html.push_str(&format!(
                "<p>Promo code <b>{}</b>, included in the prices.</p>",
                escape_html(code)
            ));
        }
        html.push_str(&format!(
            "<p>Sold by {} (<a href=\"mailto:{email}\">{email}</a>) through boxoffice.</p>",
            escape_html(&self.organizer),
            email = escape_html(&self.organizer_email)
        ));
        html
    }
}

/// The mail with a booking's tickets, each with its QR as an inline PNG, and the buyer's
/// `receipt` (none for a ticket someone gave away). QR rendering is CPU work: call this off the
/// async workers.
pub fn tickets_message(
    from: Mailbox,
    to: Mailbox,
    booking_code: &str,
    tickets: &[Ticket],
    receipt: Option<&Receipt>,
) -> Result<Message, MailError> {
    let Some(first) = tickets.first() else {
        return Err(MailError::NoTickets);
    };
    let event = &first.event;
    // as people at the venue read it, e.g. "Fri 4 Dec 2026, 19:30 MST"
    let when = format!(
        "{} to {}",
        crate::catalog::zone::local_time(event.start_at, &event.time_zone),
        crate::catalog::zone::local_time(event.end_at, &event.time_zone)
    );
    let mut text = format!(
        "Your tickets for {} ({when}, {}). Booking {booking_code}.\n\n",
        event.name, event.location
    );
    let mut html = format!(
            "<html><body style=\"font-family: sans-serif\"><h1>Your tickets for {}</h1><p>{}, {}<br>Booking <b>{booking_code}</b></p>",
            escape_html(&event.name),
            escape_html(&when),
            escape_html(&event.location)
        );
    let mut images = Vec::with_capacity(tickets.len());
    for (n, ticket) in tickets.iter().enumerate() {
        let place = ticket
            .seat
            .as_ref()
            .map(|s| format!("{}, row {}, seat {}", s.section, s.row, s.label))
            .unwrap_or_else(|| "general admission".into());
        let place = match &ticket.attendee_name {
            Some(name) => format!("{place}, for {name}"),
            None => place,
        };
        text.push_str(&format!(
            "Ticket {}: {} - {place}\nShort code (to type at the door): {}\nCode: {}\n\n",
            ticket.admission_no, ticket.ticket_type_name, ticket.short_code, ticket.code
        ));
        html.push_str(&format!(
                "<div style=\"margin: 1em 0\"><h2>Ticket {}: {}</h2><p>{}</p><img src=\"cid:ticket-{n}\" alt=\"QR code\" width=\"240\" height=\"240\"><p style=\"font-size: 1.5em\"><b>{}</b></p><p><code>{}</code></p></div>",
                ticket.admission_no,
                escape_html(&ticket.ticket_type_name),
                escape_html(&place),
                escape_html(&ticket.short_code),
                escape_html(&ticket.code)
            ));
        let png = qr::png(&ticket.code)?;
        images.push(
            Attachment::new_inline(format!("ticket-{n}"))
                .body(png, ContentType::parse("image/png").expect("a valid type")),
        );
    }
    text.push_str(
        "Show the code (or its QR) at the door. Each ticket lets one person in once.\n\n",
    );
    html.push_str("<p>Show the QR at the door. Each ticket lets one person in once.</p>");
    if let Some(receipt) = receipt {
        text.push_str(&receipt.text());
        html.push_str(&receipt.html());
    }
    html.push_str("</body></html>");
    let mut related = MultiPart::related().singlepart(SinglePart::html(html));
    for image in images {
        related = related.singlepart(image);
    }
    Message::builder()
        .from(from)
        .to(to)
        .subject(format!("Your tickets for {}", event.name))
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(text))
                .multipart(related),
        )
        .map_err(MailError::from)
}

/// A plain-text mail, sent once per (`kind`, `aggregate`): [`claim`]ed before the mail server
/// is talked to, with no transaction open meanwhile, and marked sent after, so a redelivered
/// event does not mail twice.
pub async fn send_once(
    pool: &sqlx::PgPool,
    mailer: &Mailer,
    kind: &str,
    aggregate: uuid::Uuid,
    to: &str,
    subject: &str,
    text: String,
) -> Result<(), OnceError> {
    let address: Mailbox = to
        .parse::<lettre::Address>()
        .map_err(|e| OnceError::BadAddress(to.to_owned(), e))?
        .into();
    if !claim(pool, kind, aggregate, to).await? {
        return Ok(());
    }
    let message = Message::builder()
        .from(mailer.from().clone())
        .to(address)
        .subject(subject)
        .singlepart(SinglePart::plain(text))
        .map_err(MailError::from)?;
    mailer.send(message).await?;
    mark_sent(pool, kind, aggregate).await?;
    Ok(())
}

/// Claims the mail (`kind`, `aggregate`) in `sent_mail`, committed; `false` if it was sent
/// already. A claim never marked sent (the server refused it, or we stopped in between) is
/// claimed again.
pub async fn claim(
    pool: &sqlx::PgPool,
    kind: &str,
    aggregate: uuid::Uuid,
    recipient: &str,
) -> Result<bool, sqlx::Error> {
    let sent: Option<Option<chrono::DateTime<chrono::Utc>>> = sqlx::query_scalar(
        "WITH claim AS (
             INSERT INTO sent_mail (id, kind, aggregate_id, recipient) VALUES ($1, $2, $3, $4)
             ON CONFLICT (kind, aggregate_id) DO NOTHING RETURNING sent_at)
         SELECT sent_at FROM claim
         UNION ALL SELECT sent_at FROM sent_mail WHERE kind = $2 AND aggregate_id = $3
         LIMIT 1",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(kind)
    .bind(aggregate)
    .bind(recipient)
    .fetch_optional(pool)
    .await?;
    Ok(sent.flatten().is_none())
}

/// The claimed mail went out.
pub async fn mark_sent(
    pool: &sqlx::PgPool,
    kind: &str,
    aggregate: uuid::Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sent_mail SET sent_at = now() WHERE kind = $1 AND aggregate_id = $2")
        .bind(kind)
        .bind(aggregate)
        .execute(pool)
        .await?;
    Ok(())
}

/// Why [`send_once`] did not send.
#[derive(Debug, thiserror::Error)]
pub enum OnceError {
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("the mail database failed")]
    Database(#[from] sqlx::Error),
    #[error("the address {0:?} cannot be mailed")]
    BadAddress(String, #[source] lettre::address::AddressError),
}

impl From<OnceError> for crate::outbox::DeliveryError {
    fn from(error: OnceError) -> Self {
        let permanent = match &error {
            OnceError::Mail(mail) => mail.is_permanent(),
            OnceError::BadAddress(..) => true,
            OnceError::Database(_) => false,
        };
        if permanent {
            Self::refused(error)
        } else {
            Self::retry(error)
        }
    }
}
