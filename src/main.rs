use std::process::ExitCode;

use boxoffice::auth::store::grant_role;
use boxoffice::cli::{Cli, Command};
use boxoffice::config::Settings;
use boxoffice::startup::Application;
use boxoffice::{database, demo, telemetry};
use clap::Parser;

/// mimalloc rather than glibc's malloc: argon2id's 19 MiB blocks, hashed on many blocking
/// threads, left glibc's per-thread arenas holding 1.5 GiB after 130 logins (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => return fail(e),
    };
    if matches!(cli.command, Some(Command::Demo)) {
        // the in-process server's request logs, and its warning for the 409 of registering an
        // account that exists, would bury the summary (RUST_LOG still wins)
        settings.log.level = "warn,tracing_actix_web=error".to_owned();
    }
    telemetry::init(&settings.log);
    actix_web::rt::System::new().block_on(run(cli.command.unwrap_or(Command::Serve), settings))
}

async fn run(command: Command, settings: Settings) -> ExitCode {
    match command {
        Command::Serve => match Application::build(settings).await {
            Ok(app) => match app.run_until_stopped().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(e),
            },
            Err(e) => fail(e),
        },
        Command::Migrate => match database::connect_and_migrate(&settings).await {
            Ok(_) => {
                println!(
                    "migrations applied to {}",
                    settings.database_target().unwrap_or_default()
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::GrantRole { email, role } => {
            let pool = match database::connect_and_migrate(&settings).await {
                Ok(pool) => pool,
                Err(e) => return fail(e),
            };
            match grant_role(&pool, &email, role).await {
                Ok(_) => {
                    println!("{email} is now {}", role.as_str());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Command::Demo => match demo::run(settings).await {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    }
}

/// One line on stderr, no backtrace.
fn fail(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("boxoffice: {error}");
    ExitCode::FAILURE
}
