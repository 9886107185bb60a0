//! Reaching PostgreSQL at start: connect, create the database if it is missing, run the
//! migrations. Failures come back as one line that says where we tried and what to do.
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, PgPool};

use crate::config::Settings;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error(
        "could not connect to PostgreSQL at {target}: {cause}. Is the server running? Start it \
         (e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) or point \
         database.url / BOXOFFICE__DATABASE__URL at a running server"
    )]
    Unreachable { target: String, cause: String },
    #[error("could not create database {target}: {cause}")]
    Create { target: String, cause: String },
    #[error("migrations failed on {target}: {cause}")]
    Migrate { target: String, cause: String },
}

/// Connects to `database.url`, creating the database when it does not exist, and migrates it.
pub async fn connect_and_migrate(settings: &Settings) -> Result<PgPool, DatabaseError> {
    let pool = connect(settings).await?;
    migrate(settings, &pool).await?;
    Ok(pool)
}

pub async fn connect(settings: &Settings) -> Result<PgPool, DatabaseError> {
    let target = settings.database_target().unwrap_or_default();
    let options = connect_options(settings);
    let timeout = Duration::from_secs(settings.database.connect_timeout_seconds);
    let unreachable = |cause: String| DatabaseError::Unreachable {
        target: target.clone(),
        cause,
    };

    match try_connect(&options, timeout).await {
        Ok(conn) => drop(conn),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
            create_database(&options, timeout, &target).await?;
        }
        Err(e) => return Err(unreachable(describe(&e))),
    }

    PgPoolOptions::new()
        .max_connections(settings.database.max_connections)
        .acquire_timeout(timeout)
        .connect_with(options)
        .await
        .map_err(|e| unreachable(describe(&e)))
}

pub async fn migrate(settings: &Settings, pool: &PgPool) -> Result<(), DatabaseError> {
    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| DatabaseError::Migrate {
            target: settings.database_target().unwrap_or_default(),
            cause: e.to_string(),
        })
}

fn connect_options(settings: &Settings) -> PgConnectOptions {
    settings
        .database
        .url
        .expose()
        .parse::<PgConnectOptions>()
        .expect("database.url was checked when the configuration loaded")
        .application_name("boxoffice")
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500))
}

async fn try_connect(
    options: &PgConnectOptions,
    timeout: Duration,
) -> Result<PgConnection, sqlx::Error> {
    match tokio::time::timeout(timeout, PgConnection::connect_with(options)).await {
        Ok(result) => result,
        Err(_) => Err(sqlx::Error::PoolTimedOut),
    }
}

async fn create_database(
    options: &PgConnectOptions,
    timeout: Duration,
    target: &str,
) -> Result<(), DatabaseError> {
    let name = options.get_database().unwrap_or("postgres").to_owned();
    let maintenance = options.clone().database("postgres");
    let mut conn =
        try_connect(&maintenance, timeout)
            .await
            .map_err(|e| DatabaseError::Unreachable {
                target: target.to_owned(),
                cause: describe(&e),
            })?;
    let statement = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
    match conn.execute(statement.as_str()).await {
        Ok(_) => tracing::info!(database = %name, "created the database"),
        // another process created it between our two connections
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
        Err(e) => {
            return Err(DatabaseError::Create {
                target: target.to_owned(),
                cause: describe(&e),
            })
        }
    }
    let _ = conn.close().await;
    Ok(())
}

fn describe(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::PoolTimedOut => "timed out".to_owned(),
        sqlx::Error::Io(e) => e.to_string(),
        other => other.to_string(),
    }
}
