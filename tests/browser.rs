//! Browser scenarios: each `web-tests/<name>.mjs` runs with node in a real headless Chromium
//! against the real binary, started on a free port of its own with `server.public_url` set to
//! that address (so payment `checkout_url`s lead back to it) and a fresh database. The helpers
//! the scenarios share are in `web-tests/lib.mjs`; the README's "Browser tests" says what they
//! need and where their screenshots go.
//!
//! A new scenario is a file `web-tests/<name>.mjs` and its name in `scenarios!` below, with a
//! [`Setup`] after it when it needs more than the default server.
#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use helpers::{boxoffice, fresh_db_name, server_url, test_settings, Server, TestApp, PASSWORD};

macro_rules! scenarios {
    ($($name:ident $(($setup:expr))?),* $(,)?) => {$(
        #[actix_web::test]
        async fn $name() {
            #[allow(unused_mut, unused_assignments)]
            let mut setup = Setup::DEFAULT;
            $(setup = $setup;)?
            scenario(stringify!($name), setup).await;
        }
    )*};
}

scenarios!(
    smoke,
    search,
    buyer,
    organizer,
    editing,
    account,
    keyboard,
    phone,
    expiry(Setup {
        // long enough to fill the page in, short enough to watch it run out
        env: &[("BOXOFFICE__BOOKING__HOLD_SECONDS", "8")],
        ..Setup::DEFAULT
    }),
    demo(Setup {
        demo: true,
        ..Setup::DEFAULT
    }),
    back,
    taken,
    queue,
    after(Setup {
        // a refund the sandbox refuses fails at its first attempt, so its Retry shows at once
        env: &[("BOXOFFICE__PAYMENT__REFUND_ATTEMPTS", "1")],
        ..Setup::DEFAULT
    }),
    waitlist(Setup {
        // a hold that runs out while the scenario watches, with time to join the list before
        env: &[("BOXOFFICE__BOOKING__HOLD_SECONDS", "10")],
        ..Setup::DEFAULT
    }),
    dashboard,
    live,
    warning(Setup {
        // the warning comes a minute before the end: ten seconds after the hold
        env: &[("BOXOFFICE__BOOKING__HOLD_SECONDS", "70")],
        ..Setup::DEFAULT
    }),
    declined,
    timezone,
    downloads,
);

/// What a scenario needs beyond a fresh server with an organizer account.
struct Setup {
    /// Settings for the server (`BOXOFFICE__...` variables).
    env: &'static [(&'static str, &'static str)],
    /// Run `boxoffice demo` against the server's database once it is up, as the README tells a
    /// newcomer to; the scenario gets DEMO_BUYER_EMAIL / DEMO_BUYER_PASSWORD.
    demo: bool,
}

impl Setup {
    const DEFAULT: Setup = Setup {
        env: &[],
        demo: false,
    };
}

/// The browser the scenarios drive; `CHROMIUM` overrides it (web-tests/lib.mjs reads it too).
fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

fn web_tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web-tests")
}

/// `$SCREENSHOT_DIR` when set, else `browser-screenshots` in the target directory (the one
/// this test binary was built in: `$CARGO_TARGET_DIR`, or `target/`).
fn screenshot_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("SCREENSHOT_DIR") {
        return PathBuf::from(dir);
    }
    // <target>/debug/boxoffice
    let binary = Path::new(env!("CARGO_BIN_EXE_boxoffice"));
    binary
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")))
        .join("browser-screenshots")
}

/// Scenarios run one at a time: each is a server and a Chromium, and the machine may be small.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Starts a server on a fresh database, runs `node web-tests/<name>.mjs` against it, and
/// fails unless the scenario exits with status 0.
async fn scenario(name: &str, setup: Setup) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let script = web_tests_dir().join(format!("{name}.mjs"));
    assert!(script.is_file(), "no scenario {}", script.display());
    check_prerequisites();
    install_packages();

    let artifacts = screenshot_root().join(name);
    std::fs::create_dir_all(&artifacts)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", artifacts.display()));
    let server_log = artifacts.join("server.log");
    let db_name = fresh_db_name();
    let mail_dir = test_settings(&db_name).email.dir;
    let database_url = format!("{}/{db_name}", server_url());
    let (server, port) = start_server(&database_url, &mail_dir, &server_log, setup.env).await;
    let site = Site {
        _server: server,
        app: TestApp::attach(port, &db_name).await,
    };
    let organizer = site.app.organizer().await;
    if setup.demo {
        seed_demo(&database_url, &site.app.address);
    }

    let timeout = Duration::from_secs(
        std::env::var("SCENARIO_TIMEOUT_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(180)
            + 60,
    );
    let mut command = Command::new("node");
    command
        .current_dir(web_tests_dir())
        .arg(&script)
        .env("BASE_URL", &site.app.address)
        .env("SCREENSHOT_DIR", screenshot_root())
        .env("CHROMIUM", chromium())
        .env("ORGANIZER_EMAIL", &organizer.email)
        .env("ORGANIZER_PASSWORD", PASSWORD)
        .env("MAIL_DIR", &mail_dir)
        .env("DEMO_BUYER_EMAIL", boxoffice::demo::BUYER.email)
        .env("DEMO_BUYER_PASSWORD", boxoffice::demo::BUYER.password);
    let (status, output) = run_streaming(command, timeout).await;
    drop(site);
    assert!(
        status == Some(0),
        "browser scenario {name} failed ({}); its screenshots and server.log are in {}\n\
         --- output of node web-tests/{name}.mjs ---\n{output}{}",
        match status {
            Some(code) => format!("exit status {code}"),
            None => format!("killed after {} s", timeout.as_secs()),
        },
        artifacts.display(),
        server_problems(&server_log),
    );
}

/// The server and the database it uses: the server stops first, then the database is dropped.
struct Site {
    _server: Server,
    app: TestApp,
}

/// Node 20+ and Chromium must be installed; say how to install them rather than skip.
fn check_prerequisites() {
    let node = Command::new("node").arg("--version").output();
    let version = match &node {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        }
        _ => panic!(
            "the browser tests need Node.js 20 or newer (`node` and `npm` on PATH), which was \
             not found: install it from https://nodejs.org/en/download (Debian 12's own `nodejs` \
             package is 18, too old)"
        ),
    };
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 20,
        "the browser tests need Node.js 20 or newer (https://nodejs.org/en/download); \
         `node --version` says {version}"
    );
    let chromium = chromium();
    assert!(
        chromium.is_file(),
        "the browser tests need Chromium at {}, which is missing: install it with \
         `sudo apt-get install -y chromium` (Debian), or point CHROMIUM at a Chromium binary \
         (.ci/run installs it)",
        chromium.display()
    );
}

/// `npm ci` in web-tests when its packages are missing or older than package-lock.json, so a
/// fresh clone works under a plain `cargo test`.
fn install_packages() {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _guard = INSTALL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = web_tests_dir();
    let modified = |path: PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let installed = modified(dir.join("node_modules/.package-lock.json"));
    let locked = modified(dir.join("package-lock.json"));
    let current = dir
        .join("node_modules/playwright-core/package.json")
        .is_file()
        && matches!((installed, locked), (Some(i), Some(l)) if i >= l);
    if current {
        return;
    }
    println!(
        "installing the browser tests' packages: npm ci in {}",
        dir.display()
    );
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("the browser tests need npm (it comes with Node.js) to run `npm ci`: {e}")
        });
    assert!(
        output.status.success(),
        "`npm ci` in {} failed ({}):\n{}{}",
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `boxoffice demo` against the running server's database, with its public URL (where the
/// demo's banners are served).
fn seed_demo(database_url: &str, public_url: &str) {
    let output = boxoffice(
        &["demo"],
        &[
            ("BOXOFFICE__DATABASE__URL", database_url),
            ("BOXOFFICE__SERVER__PUBLIC_URL", public_url),
        ],
    )
    .output()
    .expect("boxoffice demo runs");
    assert!(
        output.status.success(),
        "boxoffice demo failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `boxoffice serve` on a free port with `server.public_url` set to it and `env` on top,
/// logging to `log`; retries on another port if the chosen one was taken meanwhile.
async fn start_server(
    database_url: &str,
    mail_dir: &Path,
    log: &Path,
    env: &[(&str, &str)],
) -> (Server, u16) {
    let mut failures = Vec::new();
    for _ in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let address = format!("127.0.0.1:{port}");
        let public_url = format!("http://{address}");
        let file = std::fs::File::create(log)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", log.display()));
        let mut settings = vec![
            ("BOXOFFICE__DATABASE__URL", database_url),
            ("BOXOFFICE__SERVER__BIND", &address),
            ("BOXOFFICE__SERVER__PUBLIC_URL", &public_url),
            ("BOXOFFICE__SERVER__WORKERS", "2"),
            ("BOXOFFICE__EMAIL__DIR", mail_dir.to_str().unwrap()),
            ("BOXOFFICE__LOG__LEVEL", "info"),
        ];
        settings.extend_from_slice(env);
        let child = boxoffice(&["serve"], &settings)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("the boxoffice binary starts");
        let mut server = Server(child);
        match ready(&mut server, port).await {
            Ok(()) => return (server, port),
            Err(failure) => failures.push(failure),
        }
    }
    panic!(
        "the server did not start; see {}:\n{}",
        log.display(),
        failures.join("\n")
    );
}

/// Waits for `GET /readyz` to answer 200, or the server to exit.
async fn ready(server: &mut Server, port: u16) -> Result<(), String> {
    let url = format!("http://127.0.0.1:{port}/readyz");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            return Err(format!("the server on port {port} exited ({status})"));
        }
        if let Ok(response) = client.get(&url).send().await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the server on port {port} was not ready after 60 s"
            ));
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `command`, printing its output as it comes (cargo test shows it on failure, or live
/// with `--nocapture`) and collecting it. The exit code, or None if it ran out of time.
async fn run_streaming(mut command: Command, timeout: Duration) -> (Option<i32>, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let output = Arc::new(Mutex::new(String::new()));
    let readers = [
        relay(child.stdout.take().unwrap(), output.clone(), false),
        relay(child.stderr.take().unwrap(), output.clone(), true),
    ];
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status.code().unwrap_or(-1));
        }
        if Instant::now() > deadline {
            // SIGTERM first: node closes its Chromium on it
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            actix_web::rt::time::sleep(Duration::from_secs(5)).await;
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    // the pipes close when node exits (Chromium does not hold them); never hang on them
    let until = Instant::now() + Duration::from_secs(5);
    while readers.iter().any(|r| !r.is_finished()) && Instant::now() < until {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let output = output.lock().unwrap().clone();
    (status, output)
}

fn relay(
    stream: impl Read + Send + 'static,
    output: Arc<Mutex<String>>,
    stderr: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if stderr {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
            let mut output = output.lock().unwrap();
            output.push_str(&line);
            output.push('\n');
        }
    })
}

/// The server's last warnings and errors, for the failure message.
fn server_problems(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let problems: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("\"level\":\"WARN\"") || l.contains("\"level\":\"ERROR\""))
        .collect();
    if problems.is_empty() {
        return String::new();
    }
    let last = &problems[problems.len().saturating_sub(20)..];
    format!(
        "--- the server's last warnings and errors ({}) ---\n{}\n",
        log.display(),
        last.join("\n")
    )
}
