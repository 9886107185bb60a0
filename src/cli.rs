//! The command line: `serve`, `migrate`, `grant-role`, `demo`.
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::auth::Role;

#[derive(Parser)]
#[command(name = "boxoffice", version, about = "Ticket reservation engine")]
pub struct Cli {
    /// Configuration file read instead of ./config.toml (environment variables still override it).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create and migrate the database if needed, then serve the API (the default).
    Serve,
    /// Create the database if needed and apply the migrations, then exit.
    Migrate,
    /// Give an account the organizer or admin role (it applies from its next login or refresh).
    GrantRole {
        email: String,
        #[arg(value_parser = |s: &str| s.parse::<Role>())]
        role: Role,
    },
    /// Create demo accounts and published events through the API (again: nothing new), then exit.
    Demo,
}
