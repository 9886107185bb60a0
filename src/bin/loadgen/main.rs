//! The load generator. `flash-sale` sells ticket types of a running boxoffice to many buyers over
//! keep-alive HTTP connections and checks afterwards that exactly what was answered is held;
//! `full-flow` buys (hold, information, checkout, signed webhook, confirmed); `baseline` runs the
//! classic one-transaction-per-hold design straight against the same PostgreSQL; `recovery`
//! restarts a server holding a sold-out event; `report` turns runs into a table and a plot.
mod baseline;
mod flow;
mod queue;
mod recovery;
mod report;
mod sale;
mod tally;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

use tally::{Latency, Tally};

#[derive(Parser)]
#[command(
    about = "Load generator for boxoffice: flash sales and purchases over HTTP, the SQL baseline, recovery, reports"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    /// Print one JSON object per run instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Free text kept with the run, such as the server setting under test
    /// (`booking.batch_max=256`); `report` groups runs by it.
    #[arg(long, global = true)]
    label: Option<String>,
}

/// Where the server under test is, and the load.
#[derive(Args, Clone)]
pub struct Load {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// More nodes of the same cluster (repeatable): connection i holds through node
    /// i mod (1 + nodes), `--url` being node 0; everything else goes to `--url`.
    #[arg(long = "node")]
    pub nodes: Vec<String>,
    /// The server's database: for the organizer's role and the final counts.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/boxoffice")]
    pub database_url: String,
    /// Admissions on sale in each event.
    #[arg(long, default_value_t = 10_000)]
    pub capacity: u32,
    /// Events on sale at once; connection i buys in event i mod events.
    #[arg(long, default_value_t = 1)]
    pub events: usize,
    /// Accounts buying; each connection uses them in turn.
    #[arg(long, default_value_t = 64)]
    pub buyers: usize,
    #[arg(long, default_value_t = 256)]
    pub connections: usize,
    /// Stop after this long even if not sold out.
    #[arg(long, default_value_t = 60)]
    pub duration_seconds: u64,
}

impl Load {
    fn duration(&self) -> Duration {
        Duration::from_secs(self.duration_seconds)
    }
}

#[derive(Subcommand)]
enum Scenario {
    /// Many buyers hold one admission each until every event is sold out.
    FlashSale(Load),
    /// Buyers hold, give their information, check out and pay through the signed webhook,
    /// each purchase ending when the booking reads `confirmed`.
    FullFlow {
        #[command(flatten)]
        load: Load,
        /// The server's `payment.webhook_secret`.
        #[arg(long, default_value = "dev-only-webhook-secret-change-me")]
        webhook_secret: String,
    },
    /// Accounts join one event's waiting room (`--entries` of them over `--connections`), then
    /// the sale starts; needs the server's `queue.joins_per_ip_per_minute` raised above
    /// `--entries`.
    QueueJoin {
        #[command(flatten)]
        load: Load,
        #[arg(long, default_value_t = 100_000)]
        entries: usize,
        /// The server's `auth.jwt_secret`: the accounts' tokens are signed with it.
        #[arg(long, default_value = "dev-only-jwt-secret-change-me-in-production")]
        jwt_secret: String,
    },
    /// The classic design: one transaction per hold straight against PostgreSQL.
    Baseline {
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/boxoffice")]
        database_url: String,
        #[arg(long, default_value_t = 10_000)]
        capacity: u32,
        /// Concurrent clients.
        #[arg(long, default_value_t = 256)]
        connections: usize,
        /// PostgreSQL connections the clients share, as an application's pool would (the
        /// server allows 100 in all): beyond it clients wait for a connection.
        #[arg(long, default_value_t = 80)]
        max_database_connections: usize,
        #[arg(long, default_value_t = 60)]
        duration_seconds: u64,
        #[arg(long, value_enum, default_value_t = Variant::RowLock)]
        variant: Variant,
    },
    /// Starts the server, sells one event out, kills the server (SIGKILL) and restarts it:
    /// how long until it is ready, and until the sold-out event answers again.
    Recovery {
        #[command(flatten)]
        load: Load,
        /// The server binary; it is started with `serve` and this process's environment.
        #[arg(long, default_value = "target/release/boxoffice")]
        server_bin: PathBuf,
    },
    /// Reads `--json` runs (one per line) and prints medians by scenario and connections, the
    /// ratio of boxoffice to the best baseline, and draws throughput and p99 against connections.
    Report {
        /// Files of JSON lines written by the other scenarios.
        inputs: Vec<PathBuf>,
        /// Where to draw the plot (SVG).
        #[arg(long)]
        plot: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// SELECT ... FOR UPDATE on the ticket type, check, UPDATE, INSERT, COMMIT.
    RowLock,
    /// UPDATE ... WHERE held < capacity, INSERT, COMMIT.
    Conditional,
}

/// What one run measured; `--json` prints it as one line.
#[derive(Serialize, Deserialize)]
pub struct Report {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub scenario: String,
    pub variant: Option<Variant>,
    pub connections: usize,
    pub events: usize,
    /// Admissions on sale, over all events.
    pub capacity: u64,
    /// Holds (flash-sale, baseline) or purchases (full-flow) that succeeded.
    pub completed: u64,
    pub per_second: f64,
    /// Answers by HTTP status (0: no answer); the baseline counts 201 held and 409 sold out.
    pub statuses: BTreeMap<u16, u64>,
    /// Answers other than success and 409.
    pub errors: u64,
    pub seconds: f64,
    /// Of the hold (flash-sale, baseline) or the whole purchase (full-flow).
    pub latency: Latency,
    /// Full-flow: each step's latency.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub steps: BTreeMap<String, Latency>,
    pub sold_out_after_seconds: Option<f64>,
    /// Live admissions (confirmed ones for full-flow) the database holds at the end.
    pub database_admissions: i64,
    /// Admissions the event pages still offer at the end.
    pub api_available: Option<i64>,
    /// The server's resident memory at the end, from its /metrics.
    pub server_rss_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<recovery::Restart>,
}

impl Report {
    /// A run of `scenario` that answered `tally` in `elapsed`, `completed` of them successes;
    /// what only some scenarios know is left empty for the caller to fill in.
    pub fn of(
        scenario: &str,
        connections: usize,
        tally: &Tally,
        ok: u16,
        completed: u64,
        elapsed: Duration,
    ) -> Self {
        Report {
            label: None,
            scenario: scenario.to_owned(),
            variant: None,
            connections,
            events: 1,
            capacity: 0,
            completed,
            per_second: completed as f64 / elapsed.as_secs_f64(),
            statuses: tally.statuses.clone(),
            errors: tally.errors(ok),
            seconds: elapsed.as_secs_f64(),
            latency: tally.latency(),
            steps: BTreeMap::new(),
            sold_out_after_seconds: None,
            database_admissions: 0,
            api_available: None,
            server_rss_bytes: None,
            recovery: None,
        }
    }

    fn unit(&self) -> &'static str {
        if self.scenario == "full-flow" {
            "purchases"
        } else if self.scenario == "queue-join" {
            "joins"
        } else {
            "holds"
        }
    }

    fn print(&self, json: bool) {
        if json {
            println!(
                "{}",
                serde_json::to_string(self).expect("reports serialize")
            );
            return;
        }
        let variant = match self.variant {
            Some(Variant::RowLock) => " (row lock)",
            Some(Variant::Conditional) => " (conditional update)",
            None => "",
        };
        println!(
            "{}{variant}: {} connections, {} event(s), capacity {}",
            self.scenario, self.connections, self.events, self.capacity
        );
        println!(
            "  {} {} in {:.2} s = {:.0}/s; answers {:?}, errors {}",
            self.completed,
            self.unit(),
            self.seconds,
            self.per_second,
            self.statuses,
            self.errors
        );
        println!("  latency {}", self.latency);
        for (step, latency) in &self.steps {
            println!("    {step}: {latency}");
        }
        let sold_out = self
            .sold_out_after_seconds
            .map(|s| format!("{s:.2} s"))
            .unwrap_or_else(|| "-".into());
        println!(
            "  sold out after {sold_out}; database {} admissions; pages offer {}; server RSS {}",
            self.database_admissions,
            self.api_available.map_or("-".into(), |a| a.to_string()),
            self.server_rss_bytes
                .map_or("-".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0)),
        );
        if let Some(restart) = &self.recovery {
            println!("  {restart}");
        }
    }

    /// What must hold after any run: the database has exactly what was answered, and a sold-out
    /// sale sold exactly its capacity.
    fn check(&self) -> anyhow::Result<()> {
        if self.database_admissions != self.completed as i64 {
            return Err(anyhow::anyhow!(
                "{} {} were answered but the database has {} admissions",
                self.completed,
                self.unit(),
                self.database_admissions
            ));
        }
        if let Some(available) = self.api_available {
            if available != self.capacity as i64 - self.completed as i64 {
                return Err(anyhow::anyhow!(
                    "{} of {} held, but the event pages offer {available}",
                    self.completed,
                    self.capacity
                ));
            }
        }
        let holds = matches!(self.scenario.as_str(), "flash-sale" | "recovery");
        if self.sold_out_after_seconds.is_some() && holds && self.completed != self.capacity {
            return Err(anyhow::anyhow!(
                "sold out after {} holds of {}",
                self.completed,
                self.capacity
            ));
        }
        match &self.recovery {
            Some(restart)
                if self.sold_out_after_seconds.is_some() && restart.first_status != 409 =>
            {
                Err(anyhow::anyhow!(
                    "after the restart the sold-out event answered {}",
                    restart.first_status
                ))
            }
            _ => Ok(()),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut report = match cli.scenario {
        Scenario::FlashSale(load) => sale::flash_sale(&load).await?,
        Scenario::QueueJoin {
            load,
            entries,
            jwt_secret,
        } => queue::queue_join(&load, entries, &jwt_secret).await?,
        Scenario::FullFlow {
            load,
            webhook_secret,
        } => flow::full_flow(&load, &webhook_secret).await?,
        Scenario::Baseline {
            database_url,
            capacity,
            connections,
            max_database_connections,
            duration_seconds,
            variant,
        } => {
            baseline::run(baseline::Options {
                database_url,
                capacity,
                connections,
                max_database_connections,
                duration: Duration::from_secs(duration_seconds),
                variant,
            })
            .await?
        }
        Scenario::Recovery { load, server_bin } => recovery::run(&load, &server_bin).await?,
        Scenario::Report { inputs, plot } => return report::run(&inputs, plot.as_deref()),
    };
    report.label = cli.label;
    report.print(cli.json);
    report.check()
}
