//! The recovery scenario: a server of our own sells an event out, is killed with SIGKILL, and is
//! started again; timed until `/readyz` answers and until the sold-out event answers a hold (its
//! actor has loaded every hold back from the journal).
use anyhow::Context;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::sale::{self, server_rss, Sale};
use crate::{Load, Report};

const START_WITHIN: Duration = Duration::from_secs(60);

#[derive(Serialize, Deserialize)]
pub struct Restart {
    /// Live admissions in the event when the server was killed.
    pub admissions: u64,
    /// From starting the process to `/readyz` answering 200.
    pub ready_seconds: f64,
    /// From starting the process to the first answer of a hold on the sold-out event.
    pub serving_seconds: f64,
    /// That answer's status: 409 (`sold_out`) when every hold came back.
    pub first_status: u16,
    pub rss_bytes_after_restart: Option<u64>,
}

impl std::fmt::Display for Restart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "restart with {} admissions held: ready after {:.3} s, the event answered {} after {:.3} s",
            self.admissions, self.ready_seconds, self.first_status, self.serving_seconds
        )
    }
}

/// The server process; killed when dropped.
struct Server(Child);

impl Server {
    fn start(bin: &Path) -> anyhow::Result<Self> {
        let mut command = Command::new(bin);
        command
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if std::env::var_os("BOXOFFICE__LOG__LEVEL").is_none() {
            command.env("BOXOFFICE__LOG__LEVEL", "warn");
        }
        command
            .spawn()
            .map(Server)
            .with_context(|| bin.display().to_string())
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `/readyz` until it answers 200.
async fn ready(client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_WITHIN;
    loop {
        let response = client.get(format!("{url}/readyz")).send().await;
        if response.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(anyhow::anyhow!(
                "{url} was not ready within {START_WITHIN:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

pub async fn run(load: &Load, bin: &Path) -> anyhow::Result<Report> {
    let url = load.url.trim_end_matches('/');
    let client = reqwest::Client::new();
    let mut server = Server::start(bin)?;
    ready(&client, url).await?;
    let sale = Sale::set_up(&Load {
        events: 1,
        ..load.clone()
    })
    .await?;
    let mut report = sale::sell(&sale, load.duration()).await?;
    server.kill();

    let started = Instant::now();
    let _server = Server::start(bin)?;
    ready(&client, url).await?;
    let ready_seconds = started.elapsed().as_secs_f64();
    let event = &sale.events[0];
    let first_status = loop {
        match sale::hold(&sale.api, event, &sale.buyer(0).token).await {
            (0 | 503, _) if started.elapsed() < START_WITHIN => {
                tokio::time::sleep(Duration::from_millis(2)).await
            }
            (status, _) => break status,
        }
    };
    report.recovery = Some(Restart {
        admissions: report.database_admissions as u64,
        ready_seconds,
        serving_seconds: started.elapsed().as_secs_f64(),
        first_status,
        rss_bytes_after_restart: server_rss(&sale.api).await,
    });
    report.scenario = "recovery".into();
    Ok(report)
}
