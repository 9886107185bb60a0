//! The demo's data: its events, their ticket types and seat maps. Plain values; `super` puts
//! them on a server through the API.
use serde_json::{json, Value};

pub struct EventSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// Also names its banner, `web/banner-<category>.svg`.
    pub category: &'static str,
    pub location: &'static str,
    pub days_ahead: i64,
    /// Minutes after midnight UTC on that day.
    pub starts_at_minute: i64,
    pub duration_minutes: i64,
    pub ticket_types: &'static [TicketSpec],
}

impl EventSpec {
    /// The address of the event's banner on the site at `site` (no trailing slash).
    pub fn banner(&self, site: &str) -> String {
        format!("{site}/assets/banner-{}.svg", self.category)
    }
}

pub struct TicketSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// US cents.
    pub price: i64,
    /// Ignored for a seat-mapped type: its seats are its capacity.
    pub capacity: i64,
    pub max_per_user: Option<i64>,
    pub seats: Option<SeatBlock>,
}

/// Rows of equal length in one section of a seat map.
pub struct SeatBlock {
    pub section: &'static str,
    pub rows: &'static [&'static str],
    pub seats_per_row: u32,
}

impl SeatBlock {
    pub fn count(&self) -> i64 {
        self.rows.len() as i64 * i64::from(self.seats_per_row)
    }

    pub fn request(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|label| json!({"label": label, "seats": self.seats_per_row}))
            .collect();
        json!({"sections": [{"name": self.section, "rows": rows}]})
    }
}

pub const CURRENCY: &str = "USD";

/// The demo catalog: each category once, names unique (a run recognises its events by name).
pub const EVENTS: &[EventSpec] = &[
    EventSpec {
        name: "Beethoven's Ninth",
        title: "City Symphony Orchestra and the Grand Chorus",
        description: "The City Symphony Orchestra and a 120-voice chorus close their season with \
            Beethoven's Symphony No. 9 in D minor, the \"Choral\", conducted by Maria Lindqvist. \
            The evening opens with Wagner's Siegfried Idyll.\n\nEvery seat is numbered: pick \
            yours on the seat map, or let us find the best ones still free.",
        category: "concert",
        location: "Meridian Concert Hall, 200 Lakeshore Drive, Chicago",
        days_ahead: 14,
        starts_at_minute: 19 * 60 + 30,
        duration_minutes: 150,
        ticket_types: &[
            TicketSpec {
                name: "Front Stalls",
                description: "Rows A to C, closest to the orchestra.",
                price: 12_000,
                capacity: 0,
                max_per_user: None,
                seats: Some(SeatBlock {
                    section: "Front Stalls",
                    rows: &["A", "B", "C"],
                    seats_per_row: 12,
                }),
            },
            TicketSpec {
                name: "Stalls",
                description: "Rows D to H, with the whole stage in view.",
                price: 7_500,
                capacity: 0,
                max_per_user: None,
                seats: Some(SeatBlock {
                    section: "Stalls",
                    rows: &["D", "E", "F", "G", "H"],
                    seats_per_row: 12,
                }),
            },
        ],
    },
    EventSpec {
        name: "Harbor City FC vs. Northside United",
        title: "League Cup semi-final",
        description: "The derby nobody wanted this early: Harbor City FC host Northside United \
            for a place in the League Cup final. Gates open 90 minutes before kick-off; the \
            fan zone outside the north gate has food trucks and live music.",
        category: "sports",
        location: "Harbor City Stadium, 1 Pier Road, Seattle",
        days_ahead: 21,
        starts_at_minute: 18 * 60,
        duration_minutes: 120,
        ticket_types: &[
            TicketSpec {
                name: "Main Stand",
                description: "Covered seating along the halfway line.",
                price: 5_500,
                capacity: 1_500,
                max_per_user: None,
                seats: None,
            },
            TicketSpec {
                name: "Home End",
                description: "Standing behind the goal with the home supporters.",
                price: 3_500,
                capacity: 3_000,
                max_per_user: None,
                seats: None,
            },
        ],
    },
    EventSpec {
        name: "Casablanca under the Stars",
        title: "Open-air cinema: the 1942 classic, restored in 4K",
        description: "Humphrey Bogart and Ingrid Bergman on a twelve-metre screen by the river. \
            The lawn opens at 19:30 for picnics; the film starts at sunset. Headphones are \
            handed out at the gate, so the city stays quiet and you hear every line.",
        category: "film",
        location: "Riverside Park Lawn, Austin",
        days_ahead: 30,
        starts_at_minute: 20 * 60 + 30,
        duration_minutes: 120,
        ticket_types: &[
            TicketSpec {
                name: "Lawn",
                description: "Bring a blanket and sit where you like.",
                price: 1_500,
                capacity: 400,
                max_per_user: None,
                seats: None,
            },
            TicketSpec {
                name: "Deck chair",
                description: "A deck chair and a blanket, set out for you.",
                price: 2_500,
                capacity: 80,
                max_per_user: None,
                seats: None,
            },
        ],
    },
    EventSpec {
        name: "Summer Sound Festival",
        title: "Twelve bands, two stages, one long day",
        description: "Indie, soul and electronic acts from noon to midnight across two stages, \
            with street food, a craft market and a silent disco after dark. Re-entry is \
            allowed all day.",
        category: "music",
        location: "Greenfield Park, Denver",
        days_ahead: 45,
        starts_at_minute: 14 * 60,
        duration_minutes: 600,
        ticket_types: &[
            TicketSpec {
                name: "General admission",
                description: "All-day entry to both stages.",
                price: 5_900,
                capacity: 5_000,
                max_per_user: None,
                seats: None,
            },
            TicketSpec {
                name: "VIP",
                description:
                    "Fast-lane entry, the VIP deck by the main stage and two drink tokens.",
                price: 14_900,
                capacity: 250,
                max_per_user: Some(4),
                seats: None,
            },
        ],
    },
    EventSpec {
        name: "Laugh Track: Stand-up Comedy Night",
        title: "Five comedians, one microphone",
        description: "Five of the city's sharpest stand-ups try out their new hours, hosted by \
            Dee Okafor. Expect strong language and a front row that gets talked to. Doors at \
            19:15; the bar stays open through the show.",
        category: "other",
        location: "The Velvet Room, 48 Bleecker Street, New York",
        days_ahead: 60,
        starts_at_minute: 20 * 60,
        duration_minutes: 120,
        ticket_types: &[TicketSpec {
            name: "General admission",
            description: "Unreserved seating; first come, first seated.",
            price: 2_500,
            capacity: 200,
            max_per_user: None,
            seats: None,
        }],
    },
];
