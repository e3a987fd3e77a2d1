//! The crash test: rounds of concurrent load against the real `kezek serve`, each ended by
//! SIGKILL at a random moment, then a restart and the checks described in `driver.rs`.
//!
//! Usage: `crash_test [--rounds N] [--seed S] [--kezek PATH] [--keep-failed DIR] [--uploads]`
//!
//! With `--uploads`, each round is the upload round of `uploads.rs` (parents attaching
//! documents while the service is killed) instead of the queue's workload.
//!
//! Round `i` runs with seed `S + i` (S random unless given, and printed): `--seed S
//! --rounds 1` runs the same workload again. The last line is "N passed, M failed"; the
//! exit status is 1 if any round failed. A failing round's directory (the database and
//! both servers' logs) is kept in `--keep-failed` (default: the system's temporary
//! directory). `scripts/crash-test` builds and runs this.

mod driver;
mod model;
mod uploads;

use driver::{run_round, run_upload_round, RoundConfig};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

struct Options {
    rounds: u64,
    seed: Option<u64>,
    kezek: PathBuf,
    keep_failed_in: PathBuf,
    uploads: bool,
}

/// Problems printed per failing round.
const PROBLEMS_SHOWN: usize = 30;

const USAGE: &str =
    "usage: crash_test [--rounds N] [--seed S] [--kezek PATH] [--keep-failed DIR] [--uploads]";

fn parse() -> Result<Options, String> {
    // Beside this example's binary: target/<profile>/examples/crash_test → target/<profile>/kezek.
    let default_kezek = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("kezek")))
        .unwrap_or_else(|| PathBuf::from("kezek"));
    let mut options = Options {
        rounds: 3,
        seed: None,
        kezek: default_kezek,
        keep_failed_in: std::env::temp_dir(),
        uploads: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--rounds" => {
                options.rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?
            }
            "--seed" => options.seed = Some(value()?.parse().map_err(|e| format!("--seed: {e}"))?),
            "--kezek" => options.kezek = PathBuf::from(value()?),
            "--keep-failed" => options.keep_failed_in = PathBuf::from(value()?),
            "--uploads" => options.uploads = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if !options.kezek.is_file() {
        return Err(format!(
            "no kezek binary at {} (build it first, or pass --kezek)",
            options.kezek.display()
        ));
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let first_seed = options.seed.unwrap_or_else(rand::random);
    println!(
        "crash test: {} round(s), seeds from {first_seed}, binary {}",
        options.rounds,
        options.kezek.display()
    );
    let started = Instant::now();
    let (mut passed, mut failed) = (0u64, 0u64);
    let mut totals = driver::Counts::default();
    for round in 0..options.rounds {
        let config = RoundConfig {
            seed: first_seed.wrapping_add(round),
            kezek: options.kezek.clone(),
            keep_failed_in: options.keep_failed_in.clone(),
        };
        let report = if options.uploads {
            run_upload_round(&config)
        } else {
            run_round(&config)
        };
        let c = &report.counts;
        let recovery = match c.recovery_killed_ms {
            Some(ms) => format!(", killed again {ms} ms into the restart"),
            None => String::new(),
        };
        let summary = format!(
            "round {} seed {}: {} clients, killed after {} ms{recovery}; {} sent, {} \
             acknowledged, {} unanswered ({} of them present); {} events; {} clock moves, {} \
             expired, {} released from the stop list, {} priority decisions, {} amendments, {} \
             moves, {} transfer requests ({} handed in)",
            round + 1,
            report.seed,
            c.clients,
            c.load_ms,
            c.sent,
            c.acknowledged,
            c.unanswered,
            c.unanswered_present,
            c.events,
            c.clock_moves,
            c.expired,
            c.released,
            c.decisions,
            c.amended,
            c.moved,
            c.transfers,
            c.transferred
        );
        totals.sent += c.sent;
        totals.acknowledged += c.acknowledged;
        totals.unanswered += c.unanswered;
        totals.unanswered_present += c.unanswered_present;
        totals.clock_moves += c.clock_moves;
        totals.expired += c.expired;
        totals.released += c.released;
        totals.decisions += c.decisions;
        totals.amended += c.amended;
        totals.moved += c.moved;
        totals.transfers += c.transfers;
        totals.transferred += c.transferred;
        if report.passed() {
            passed += 1;
            println!("{summary}: ok");
        } else {
            failed += 1;
            println!("{summary}: FAILED");
            // The first differences tell the story; the rest usually follow from them.
            for problem in report.problems.iter().take(PROBLEMS_SHOWN) {
                println!("  {problem}");
            }
            if report.problems.len() > PROBLEMS_SHOWN {
                println!("  ... and {} more", report.problems.len() - PROBLEMS_SHOWN);
            }
            if let Some(dir) = &report.kept {
                println!("  kept for inspection: {}", dir.display());
            }
        }
    }
    println!(
        "totals: {} operations sent, {} acknowledged, {} unanswered at the kill ({} of them \
         found present); {} clock moves, {} referrals expired, {} stop lists ended, {} \
         priority decisions, {} amendments, {} moves, {} transfer requests ({} handed in); {:.1} s",
        totals.sent,
        totals.acknowledged,
        totals.unanswered,
        totals.unanswered_present,
        totals.clock_moves,
        totals.expired,
        totals.released,
        totals.decisions,
        totals.amended,
        totals.moved,
        totals.transfers,
        totals.transferred,
        started.elapsed().as_secs_f64()
    );
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
