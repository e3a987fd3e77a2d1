//! `kezek intake`: the administrator's intake round at the command line (issue 18). The dry
//! run reads the database only (safe beside a running service) and prints what the close
//! would give now; `open` and `close` go through the service's writer, journaled as the
//! API's do (they need the service stopped: one writer per database).

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Subcommand;
use kezek::clock::SystemClock;
use kezek::domain::catalog::KindergartenId;
use kezek::domain::event::Actor;
use kezek::domain::intake::RoundId;
use kezek::domain::numbers as ids;
use kezek::http::intake::dry_run_view;
use kezek::service::{Command, Outcome, Service};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum IntakeAction {
    /// Opens a round: the district's places reported for --places-for are collected until
    /// --closes-at, then allocated together.
    Open {
        #[arg(long)]
        district: String,
        /// YYYY-MM-DD, today or later.
        #[arg(long)]
        places_for: NaiveDate,
        /// RFC 3339, e.g. 2027-08-25T13:00:00Z; after now, no later than the places' date.
        #[arg(long)]
        closes_at: DateTime<Utc>,
        /// Kindergarten ids, comma-separated: the order "any kindergarten" children take
        /// them in [default: the catalog's].
        #[arg(long, value_delimiter = ',')]
        any_order: Vec<u32>,
    },
    /// Closes a round now: its allocation and every referral in one command.
    Close {
        #[arg(long)]
        round: u32,
    },
}

/// `kezek intake --dry-run --district D`, or `open`/`close`.
pub fn run(
    db: &Path,
    action: Option<IntakeAction>,
    dry_run: bool,
    district: Option<String>,
) -> anyhow::Result<ExitCode> {
    match (action, dry_run, district) {
        (Some(action), false, None) => write(db, action),
        (None, true, Some(district)) => print_dry_run(db, &district),
        _ => anyhow::bail!("kezek intake --dry-run --district CODE, or kezek intake open|close"),
    }
}

fn print_dry_run(db: &Path, district: &str) -> anyhow::Result<ExitCode> {
    if !db.exists() {
        anyhow::bail!("no database at {}", db.display());
    }
    let conn = kezek::store::Store::open_reader(db)?;
    let state = kezek::store::load_state(&conn)?;
    let id = ids::parse_district(&state.catalog, district)
        .with_context(|| format!("no district {district}"))?;
    let round = state
        .open_round_in(id)
        .with_context(|| format!("no round is open in {district}"))?;
    let view = dry_run_view(&state, round.id, Utc::now()).expect("the round is open");
    println!(
        "round {} of {}: places for {}, closes at {}",
        view.round, view.district, view.places_for, view.closes_at
    );
    println!("kindergarten\tgroup\tchild\trank");
    for place in &view.placements {
        println!(
            "{}\t{}\t{}\t{}{}",
            place.kindergarten_number,
            place.group.as_deref().unwrap_or("-"),
            place.application,
            place.rank,
            if place.transfer { " (transfer)" } else { "" }
        );
    }
    let f = &view.figures;
    println!(
        "places {}, placed {}, at first choice {:.1}%, mean rank {:.2}, unfilled {}, families passed {}",
        f.places,
        f.placed,
        f.first_choice_share * 100.0,
        f.mean_rank,
        f.unfilled,
        view.families_passed.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn write(db: &Path, action: IntakeAction) -> anyhow::Result<ExitCode> {
    let service = Service::start(db, Arc::new(SystemClock))
        .with_context(|| format!("opening {}", db.display()))?;
    let command = match action {
        IntakeAction::Open {
            district,
            places_for,
            closes_at,
            any_order,
        } => {
            let Some(district) = ids::parse_district(&service.read().catalog, &district) else {
                service.shutdown();
                anyhow::bail!("no district {district}");
            };
            Command::OpenIntakeRound {
                district,
                places_for,
                closes_at,
                any_order: any_order.into_iter().map(KindergartenId).collect(),
            }
        }
        IntakeAction::Close { round } => Command::CloseIntakeRound {
            round: RoundId(round),
        },
    };
    let answer = service.submit_blocking(command, Actor::staff("cli"));
    service.shutdown();
    match answer.context("refused")? {
        Outcome::RoundOpened(id) => println!("round {} opened", id.0),
        Outcome::RoundClosed {
            referrals,
            unfilled,
            passed,
        } => println!(
            "closed: {} referrals issued, {} places unfilled, {} families passed",
            referrals.len(),
            unfilled.len(),
            passed.len()
        ),
        other => anyhow::bail!("unexpected answer {other:?}"),
    }
    Ok(ExitCode::SUCCESS)
}
