//! Configuration: `config.toml` (built into the binary as the defaults, then read from disk),
//! overridden by `BOXOFFICE__SECTION__KEY` environment variables. Loading checks every key and
//! names the one at fault; production mode refuses the development secrets.
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

/// The file shipped in the repository; its values are the defaults for every key.
const DEFAULTS: &str = include_str!("../config.toml");
const ENV_PREFIX: &str = "BOXOFFICE__";

/// A value that must never reach a log line or an error message.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub booking: BookingSettings,
    pub auth: AuthSettings,
    pub payment: PaymentSettings,
    pub tickets: TicketSettings,
    pub email: EmailSettings,
    pub outbox: OutboxSettings,
    pub bus: BusSettings,
    pub cluster: ClusterSettings,
    pub queue: QueueLimits,
    pub waitlist: WaitlistSettings,
    pub log: LogSettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitlistSettings {
    /// How long the hold offered to a waiting-list entry lasts, at least 1.
    pub offer_minutes: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueLimits {
    /// Waiting-room joins one client address may make per minute (across events), at least 1.
    pub joins_per_ip_per_minute: u32,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Development,
    Production,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: SocketAddr,
    pub mode: Mode,
    pub workers: usize,
    pub shutdown_timeout_seconds: u64,
    pub json_limit_bytes: usize,
    pub seat_map_limit_bytes: usize,
    pub trust_forwarded_for: bool,
    pub public_url: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// May carry a password: shown only through [`DatabaseSettings::target`].
    pub url: Secret,
    pub max_connections: u32,
    pub connect_timeout_seconds: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingSettings {
    pub hold_seconds: u64,
    pub extend_seconds: u64,
    pub max_per_order: u32,
    pub mailbox_capacity: usize,
    pub batch_max: usize,
    pub snapshot_every_changes: u64,
    pub snapshot_every_seconds: u64,
    pub engine_threads: usize,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub jwt_secret: Secret,
    pub access_ttl_seconds: u64,
    pub refresh_ttl_seconds: u64,
    /// failures for one account from one client address
    pub login_max_failures_per_account: u32,
    pub login_max_failures_per_ip: u32,
    pub login_window_seconds: u64,
    /// failures for one account from all addresses before its attempts are spaced out
    pub login_account_free_failures: u32,
    pub login_account_first_delay_seconds: u64,
    pub login_account_max_delay_seconds: u64,
    pub register_max_per_ip: u32,
    pub register_window_seconds: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    pub provider: String,
    pub webhook_secret: Secret,
    pub allow_sandbox_in_production: bool,
    /// Calls to the provider for one refund before it is `failed` and listed for the organizer;
    /// between them the outbox's backoff (1 s, 2 s, 4 s, ...).
    pub refund_attempts: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketSettings {
    pub signing_key: Secret,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EmailTransport {
    File,
    Smtp,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    pub transport: EmailTransport,
    pub dir: PathBuf,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub from: String,
    /// Ticket mails drawn and sent at once (with `smtp`, each is a session with the server).
    pub concurrency: usize,
}

/// How domain events travel: `local` delivers outbox rows in this process; `jetstream`
/// publishes them to NATS JetStream and consumes them from there.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BusKind {
    Local,
    Jetstream,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusSettings {
    pub kind: BusKind,
    pub nats_url: String,
    /// Put before every subject (and, upper-cased, every stream name), so that several
    /// deployments, or tests, can share one NATS; empty in production.
    pub prefix: String,
    /// How long JetStream waits for a consumer's ack before it delivers the message again (a
    /// server that died mid-delivery is redelivered after this long); at least 1.
    pub ack_wait_seconds: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    pub enabled: bool,
    /// Empty: the host name and the listening port.
    pub node_id: String,
    /// Empty: `http://` + `server.bind`'s address + the listening port.
    pub advertise_url: String,
    /// Signs what the nodes forward to each other.
    pub secret: Secret,
    pub lease_seconds: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    /// Attempts of a failing delivery before it becomes a dead letter.
    pub max_attempts: u32,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

/// Why the configuration was refused; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    fn key(key: &str, problem: impl fmt::Display) -> Self {
        Self(format!("`{key}` {problem}"))
    }
}

impl Settings {
    /// Defaults, then `path` (or `./config.toml` when it exists), then the environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        match path {
            Some(path) if !path.is_file() => {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )))
            }
            Some(path) => figment = figment.merge(Toml::file(path)),
            None if Path::new("config.toml").is_file() => {
                figment = figment.merge(Toml::file("config.toml"))
            }
            None => {}
        }
        Self::from_figment(figment.merge(Env::prefixed(ENV_PREFIX).split("__")))
    }

    /// The defaults with `overrides` (TOML text) on top, for tests and tools.
    pub fn from_toml(overrides: &str) -> Result<Self, ConfigError> {
        Self::from_figment(Figment::from(Toml::string(DEFAULTS)).merge(Toml::string(overrides)))
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(|errors| {
            ConfigError(
                errors
                    .into_iter()
                    .map(describe)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            (
                "server.json_limit_bytes",
                self.server.json_limit_bytes as u64,
            ),
            (
                "server.seat_map_limit_bytes",
                self.server.seat_map_limit_bytes as u64,
            ),
            (
                "database.max_connections",
                self.database.max_connections.into(),
            ),
            (
                "database.connect_timeout_seconds",
                self.database.connect_timeout_seconds,
            ),
            ("booking.hold_seconds", self.booking.hold_seconds),
            ("booking.extend_seconds", self.booking.extend_seconds),
            ("waitlist.offer_minutes", self.waitlist.offer_minutes),
            ("outbox.max_attempts", self.outbox.max_attempts.into()),
            (
                "payment.refund_attempts",
                self.payment.refund_attempts.into(),
            ),
            ("booking.max_per_order", self.booking.max_per_order.into()),
            (
                "booking.mailbox_capacity",
                self.booking.mailbox_capacity as u64,
            ),
            ("booking.batch_max", self.booking.batch_max as u64),
            (
                "booking.snapshot_every_changes",
                self.booking.snapshot_every_changes,
            ),
            (
                "booking.snapshot_every_seconds",
                self.booking.snapshot_every_seconds,
            ),
            ("booking.engine_threads", self.booking.engine_threads as u64),
            ("auth.access_ttl_seconds", self.auth.access_ttl_seconds),
            ("auth.refresh_ttl_seconds", self.auth.refresh_ttl_seconds),
            (
                "auth.login_max_failures_per_account",
                self.auth.login_max_failures_per_account.into(),
            ),
            (
                "auth.login_max_failures_per_ip",
                self.auth.login_max_failures_per_ip.into(),
            ),
            ("auth.login_window_seconds", self.auth.login_window_seconds),
            (
                "auth.login_account_free_failures",
                self.auth.login_account_free_failures.into(),
            ),
            (
                "auth.login_account_first_delay_seconds",
                self.auth.login_account_first_delay_seconds,
            ),
            (
                "auth.register_max_per_ip",
                self.auth.register_max_per_ip.into(),
            ),
            (
                "auth.register_window_seconds",
                self.auth.register_window_seconds,
            ),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::key(key, "must be greater than 0"));
            }
        }
        if self.auth.login_account_max_delay_seconds < self.auth.login_account_first_delay_seconds {
            return Err(ConfigError::key(
                "auth.login_account_max_delay_seconds",
                "must be at least auth.login_account_first_delay_seconds",
            ));
        }
        if self.database_target().is_none() {
            return Err(ConfigError::key(
                "database.url",
                "is not a PostgreSQL URL (postgres://user@host:port/database)",
            ));
        }
        if self.payment.provider != "sandbox" {
            return Err(ConfigError::key(
                "payment.provider",
                format!(
                    "is {:?}; the only provider built in is \"sandbox\"",
                    self.payment.provider
                ),
            ));
        }
        let prefix = &self.bus.prefix;
        let token = |t: &str| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        let tokens_with_dots = prefix
            .strip_suffix('.')
            .is_some_and(|head| head.split('.').all(token));
        if !prefix.is_empty() && !tokens_with_dots {
            return Err(ConfigError::key(
                "bus.prefix",
                "must be empty or subject tokens (letters, digits, _ and -) each followed by a dot, such as \"staging.\"",
            ));
        }
        if self.bus.ack_wait_seconds == 0 {
            return Err(ConfigError::key(
                "bus.ack_wait_seconds",
                "must be at least 1 (seconds JetStream waits for an ack before redelivering)",
            ));
        }
        if !self.bus.nats_url.starts_with("nats://") && !self.bus.nats_url.starts_with("tls://") {
            return Err(ConfigError::key(
                "bus.nats_url",
                "must be a nats:// (or tls://) address such as nats://127.0.0.1:4222",
            ));
        }
        if self.cluster.enabled && self.bus.kind != BusKind::Jetstream {
            return Err(ConfigError::key(
                "cluster.enabled",
                "needs bus.kind = \"jetstream\": the nodes share their domain events through NATS",
            ));
        }
        if self.queue.joins_per_ip_per_minute == 0 {
            return Err(ConfigError::key(
                "queue.joins_per_ip_per_minute",
                "must be at least 1",
            ));
        }
        if self.cluster.lease_seconds == 0 {
            return Err(ConfigError::key(
                "cluster.lease_seconds",
                "must be at least 1 (seconds a node owns its events without renewing)",
            ));
        }
        let url = &self.cluster.advertise_url;
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::key(
                "cluster.advertise_url",
                "must be empty or an http:// address the other nodes reach this one at",
            ));
        }
        if self.email.concurrency == 0 {
            return Err(ConfigError::key(
                "email.concurrency",
                "must be at least 1 (ticket mails sent at once)",
            ));
        }
        if self.email.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::key(
                "email.from",
                "is not a mail address such as \"name <a@b.c>\"",
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return Err(ConfigError::key(
                "log.level",
                format!("is not a tracing filter: {e}"),
            ));
        }
        if self.server.mode == Mode::Production {
            self.refuse_development_defaults()?;
        }
        Ok(())
    }

    fn refuse_development_defaults(&self) -> Result<(), ConfigError> {
        let defaults = Self::development_defaults();
        let mut secrets = vec![
            (
                "auth.jwt_secret",
                &self.auth.jwt_secret,
                &defaults.auth.jwt_secret,
            ),
            (
                "payment.webhook_secret",
                &self.payment.webhook_secret,
                &defaults.payment.webhook_secret,
            ),
            (
                "tickets.signing_key",
                &self.tickets.signing_key,
                &defaults.tickets.signing_key,
            ),
        ];
        if self.cluster.enabled {
            secrets.push((
                "cluster.secret",
                &self.cluster.secret,
                &defaults.cluster.secret,
            ));
        }
        for (key, value, default) in secrets {
            if value == default {
                return Err(ConfigError::key(
                    key,
                    "still has its development default; production needs a secret of its own",
                ));
            }
            if value.expose().len() < 32 {
                return Err(ConfigError::key(
                    key,
                    "must be at least 32 bytes in production",
                ));
            }
        }
        if self.payment.provider == "sandbox" && !self.payment.allow_sandbox_in_production {
            return Err(ConfigError::key(
                "payment.provider",
                "is \"sandbox\", which takes no real money; set payment.allow_sandbox_in_production = true to run it anyway",
            ));
        }
        Ok(())
    }

    fn development_defaults() -> Settings {
        Figment::from(Toml::string(DEFAULTS))
            .extract()
            .expect("the built-in config.toml is valid")
    }

    /// `host:port/database` of `database.url`, without user or password, for messages.
    pub fn database_target(&self) -> Option<String> {
        let options: sqlx::postgres::PgConnectOptions = self.database.url.expose().parse().ok()?;
        Some(format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("postgres")
        ))
    }

    /// The login throttle's share of the settings.
    pub fn login_limits(&self) -> crate::auth::LoginLimits {
        let auth = &self.auth;
        crate::auth::LoginLimits {
            per_account_address: auth.login_max_failures_per_account,
            per_address: auth.login_max_failures_per_ip,
            account_free: auth.login_account_free_failures,
            first_delay: Duration::from_secs(auth.login_account_first_delay_seconds),
            max_delay: Duration::from_secs(auth.login_account_max_delay_seconds),
            window: Duration::from_secs(auth.login_window_seconds),
        }
    }

    /// The engine's share of the settings.
    pub fn engine(&self) -> boxoffice_actors::event_actor::EngineSettings {
        let booking = &self.booking;
        boxoffice_actors::event_actor::EngineSettings {
            hold_seconds: booking.hold_seconds,
            offer_seconds: self.waitlist.offer_minutes.saturating_mul(60),
            mailbox_capacity: booking.mailbox_capacity,
            batch_max: booking.batch_max,
            snapshot_every_changes: booking.snapshot_every_changes,
            snapshot_every_seconds: booking.snapshot_every_seconds,
            threads: booking.engine_threads,
        }
    }
}

/// One extraction error as "`section.key` problem (from source)". Figment keeps the case of
/// environment variable names in its paths; keys are lower case everywhere else.
fn describe(error: figment::Error) -> String {
    let key = error.path.join(".").to_lowercase();
    let source = error
        .metadata
        .as_ref()
        .map(|m| match &m.source {
            Some(source) => format!(" (from {source})"),
            None => format!(" (from {})", m.name),
        })
        .unwrap_or_default();
    if key.is_empty() {
        format!("{}{source}", error.kind)
    } else {
        format!("`{key}` {}{source}", error.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_is_valid_and_in_development_mode() {
        let settings = Settings::from_toml("").unwrap();
        assert_eq!(settings.server.mode, Mode::Development);
        assert_eq!(settings.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.booking.hold_seconds, 900);
        assert_eq!(settings.booking.max_per_order, 10);
        assert_eq!(settings.auth.access_ttl_seconds, 900);
        assert_eq!(settings.auth.refresh_ttl_seconds, 2_592_000);
        assert_eq!(settings.email.transport, EmailTransport::File);
        assert_eq!(
            settings.database_target().unwrap(),
            "127.0.0.1:5432/boxoffice"
        );
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = Settings::from_toml("[booking]\nhold_seconds = \"soon\"").unwrap_err();
        assert!(err.to_string().contains("booking.hold_seconds"), "{err}");
        let err = Settings::from_toml("[booking]\nhold_seconds = 0").unwrap_err();
        assert!(err.to_string().contains("booking.hold_seconds"), "{err}");
        let err = Settings::from_toml("[server]\nbind = \"localhost\"").unwrap_err();
        assert!(err.to_string().contains("server.bind"), "{err}");
        let err = Settings::from_toml("[server]\nmode = \"prod\"").unwrap_err();
        assert!(err.to_string().contains("server.mode"), "{err}");
        let err = Settings::from_toml("[auth]\nlogin_account_max_delay_seconds = 0").unwrap_err();
        assert!(
            err.to_string()
                .contains("auth.login_account_max_delay_seconds"),
            "{err}"
        );
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail signature
    fn an_environment_override_applies_and_its_errors_name_the_key() {
        // Jail: a private environment and working directory for the closure
        figment::Jail::expect_with(|jail| {
            jail.set_env("BOXOFFICE__SERVER__BIND", "127.0.0.1:9000");
            let settings = Settings::load(None).unwrap();
            assert_eq!(settings.server.bind.to_string(), "127.0.0.1:9000");
            jail.set_env("BOXOFFICE__BOOKING__HOLD_SECONDS", "soon");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("`booking.hold_seconds`"), "{err}");
            assert!(err.contains("environment"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn the_bus_is_local_by_default_and_its_prefix_and_url_are_checked() {
        let settings = Settings::from_toml("").unwrap();
        assert_eq!(settings.bus.kind, BusKind::Local);
        assert_eq!(settings.bus.nats_url, "nats://127.0.0.1:4222");
        for good in ["", "staging.", "t1.a-b."] {
            let toml = format!("[bus]\nkind = \"jetstream\"\nprefix = \"{good}\"");
            Settings::from_toml(&toml).unwrap_or_else(|e| panic!("{good:?}: {e}"));
        }
        for bad in ["staging", ".x.", "a..", "a b."] {
            let err = Settings::from_toml(&format!("[bus]\nprefix = \"{bad}\"")).unwrap_err();
            assert!(err.to_string().contains("bus.prefix"), "{bad:?}: {err}");
        }
        let err = Settings::from_toml("[bus]\nnats_url = \"127.0.0.1:4222\"").unwrap_err();
        assert!(err.to_string().contains("bus.nats_url"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let err = Settings::from_toml("[booking]\nhold_secs = 60").unwrap_err();
        assert!(err.to_string().contains("hold_secs"), "{err}");
    }

    #[test]
    fn production_refuses_each_development_secret() {
        let strong = "x".repeat(40);
        let all_set = format!(
            "[server]\nmode = \"production\"\n[auth]\njwt_secret = \"{strong}a\"\n\
             [payment]\nwebhook_secret = \"{strong}b\"\nallow_sandbox_in_production = true\n\
             [tickets]\nsigning_key = \"{strong}c\"\n"
        );
        Settings::from_toml(&all_set).expect("production with its own secrets starts");

        for key in ["jwt_secret", "webhook_secret", "signing_key"] {
            let left_default = all_set
                .lines()
                .filter(|line| !line.starts_with(key))
                .collect::<Vec<_>>()
                .join("\n");
            let err = Settings::from_toml(&left_default).unwrap_err();
            assert!(err.to_string().contains(key), "{key}: {err}");
            assert!(err.to_string().contains("development default"), "{err}");
        }

        let short = all_set.replace(&format!("{strong}a"), "short");
        assert!(Settings::from_toml(&short)
            .unwrap_err()
            .to_string()
            .contains("auth.jwt_secret"));

        let sandbox = all_set.replace("allow_sandbox_in_production = true", "");
        let err = Settings::from_toml(&sandbox).unwrap_err();
        assert!(err.to_string().contains("payment.provider"), "{err}");

        let cluster = format!("{all_set}[bus]\nkind = \"jetstream\"\n[cluster]\nenabled = true\n");
        let err = Settings::from_toml(&cluster).unwrap_err();
        assert!(err.to_string().contains("cluster.secret"), "{err}");
        Settings::from_toml(&format!("{cluster}secret = \"{strong}d\"\n"))
            .expect("a cluster with its own secret starts in production");
    }

    #[test]
    fn cluster_mode_needs_the_jetstream_bus() {
        let err = Settings::from_toml("[cluster]\nenabled = true\n").unwrap_err();
        assert!(err.to_string().contains("cluster.enabled"), "{err}");
        assert!(err.to_string().contains("jetstream"), "{err}");
        Settings::from_toml("[bus]\nkind = \"jetstream\"\n[cluster]\nenabled = true\n")
            .expect("cluster mode on the JetStream bus starts");
    }

    #[test]
    fn secrets_do_not_print() {
        let settings = Settings::from_toml("").unwrap();
        let printed = format!("{settings:?}");
        assert!(!printed.contains("dev-only"), "{printed}");
        assert!(!printed.contains("postgres://"), "{printed}");
    }
}
