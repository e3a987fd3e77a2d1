//! The `kezek` command line: a thin front end over the library.

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kezek::clock::{Clock, ManualClock, SystemClock};
use kezek::demo::{self, DemoOptions};
use kezek::service::Service;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "kezek",
    version,
    about = "A fair, durable waiting list for kindergarten places"
)]
struct Cli {
    /// The SQLite database file.
    #[arg(long, global = true, default_value = "./kezek.db")]
    db: PathBuf,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ClockKind {
    System,
    Manual,
}

#[derive(Subcommand)]
enum Commands {
    /// Runs the service.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Fills an empty database with this many synthetic applications first.
        #[arg(long, value_name = "N")]
        demo: Option<usize>,
        /// `manual`: time moves only through POST /api/v1/admin/clock (for black-box tests
        /// that travel in time).
        #[arg(long, value_enum, default_value_t = ClockKind::System)]
        clock: ClockKind,
    },
    /// Fills the database with realistic synthetic data.
    Demo {
        #[arg(long, default_value_t = 10_000)]
        applications: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Replays the event log and checks it against the tables and the index.
    Verify,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "kezek=info,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Serve { addr, demo, clock } => serve(&cli.db, addr, demo, clock),
        Commands::Demo { applications, seed } => run_demo(&cli.db, applications, seed),
        Commands::Verify => verify(&cli.db),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_demo(db: &Path, applications: usize, seed: u64) -> anyhow::Result<ExitCode> {
    let end = Utc::now();
    let clock = ManualClock::new(end);
    let service = Service::start(db, Arc::new(clock.clone()))
        .with_context(|| format!("opening {}", db.display()))?;
    let bar = ProgressBar::new(applications as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} applications, {per_sec}, eta {eta}")
            .expect("the template is valid"),
    );
    let options = DemoOptions { applications, seed };
    let summary = demo::populate(&service, &clock, end, &options, |done| {
        bar.set_position(done as u64)
    })?;
    bar.finish();
    service.shutdown();
    println!(
        "registered {} applications ({} refused), priorities verified {}, rejected {}",
        summary.registered,
        summary.refused,
        summary.priorities_verified,
        summary.priorities_rejected
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(db: &Path) -> anyhow::Result<ExitCode> {
    match kezek::verify::verify(db) {
        Ok(report) => {
            println!(
                "ok: {} events replayed, {} applications, {} referrals and {} waiting entries match",
                report.events, report.applications, report.referrals, report.waiting
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            println!("FAILED: {failure}");
            Ok(ExitCode::from(2))
        }
    }
}

fn serve(
    db: &Path,
    addr: SocketAddr,
    demo_applications: Option<usize>,
    clock_kind: ClockKind,
) -> anyhow::Result<ExitCode> {
    if let Some(applications) = demo_applications {
        let empty = !db.exists();
        if empty {
            run_demo(db, applications, 42)?;
        } else {
            tracing::info!("the database exists; --demo adds nothing to it");
        }
    }
    let manual_clock = (clock_kind == ClockKind::Manual).then(|| ManualClock::new(Utc::now()));
    let clock: Arc<dyn Clock> = match &manual_clock {
        Some(manual) => Arc::new(manual.clone()),
        None => Arc::new(SystemClock),
    };
    let service = Service::start(db, clock).with_context(|| format!("opening {}", db.display()))?;
    tracing::info!(waiting = service.read().waiting.len(), "state rebuilt");
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let bound = listener.local_addr().context("reading the bound address")?;
        // On stdout, so that scripts and tests that start with port 0 learn the port.
        println!("listening on http://{bound}");
        tracing::info!(%bound, "listening");
        axum::serve(listener, kezek::http::router(service.clone(), manual_clock))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("serving")
    })?;
    service.shutdown();
    Ok(ExitCode::SUCCESS)
}
