//! Crash safety, in CI: a few rounds of the crash test (`examples/crash_test/`) against the
//! real binary. Each round loads the service from concurrent clients (registrations with and
//! without priority claims in three districts, free places, hand-ins, declines, extensions,
//! officers' priority decisions, parents' amendments, moves and transfer requests, and a manual clock moved forward so that referrals expire
//! and stop lists end), kills it with SIGKILL at a random moment, restarts it, and checks
//! that every acknowledged operation survived, that no operation is half there, that the
//! queue and the referrals equal a replay in a reference model, and that `kezek verify`
//! passes. `scripts/crash-test N` runs more. The upload rounds (`uploads.rs`) kill it while
//! parents attach documents: every acknowledged file is there with its journaled hash and
//! no row or event is orphaned (`scripts/crash-test N --uploads` runs more).

#[path = "../examples/crash_test/driver.rs"]
mod driver;
#[path = "../examples/crash_test/model.rs"]
mod model;
#[path = "../examples/crash_test/uploads.rs"]
mod uploads;

/// Few enough to keep `cargo test` quick; each round is a fresh database and kill.
const ROUNDS: u64 = 3;

#[test]
fn acknowledged_operations_survive_sigkill_whole_and_in_order() {
    let first_seed: u64 = rand::random();
    let mut failures = Vec::new();
    let mut acknowledged = 0;
    for round in 0..ROUNDS {
        let config = driver::RoundConfig {
            seed: first_seed.wrapping_add(round),
            kezek: env!("CARGO_BIN_EXE_kezek").into(),
            keep_failed_in: std::env::temp_dir(),
        };
        let report = driver::run_round(&config);
        let c = &report.counts;
        eprintln!(
            "seed {}: {} sent, {} acknowledged, {} unanswered ({} present); {} clock moves, {} \
             expired, {} released, {} priority decisions, {} amendments, {} moves, {} transfers",
            report.seed,
            c.sent,
            c.acknowledged,
            c.unanswered,
            c.unanswered_present,
            c.clock_moves,
            c.expired,
            c.released,
            c.decisions,
            c.amended,
            c.moved,
            c.transfers
        );
        acknowledged += c.acknowledged;
        if !report.passed() {
            failures.push(format!(
                "seed {} (reproduce: scripts/crash-test 1 --seed {}; kept in {:?}):\n  {}",
                report.seed,
                report.seed,
                report.kept,
                report.problems.join("\n  ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Rounds that acknowledged nothing would pass without testing anything.
    assert!(
        acknowledged > 0,
        "no operation was acknowledged in {ROUNDS} rounds"
    );
}

/// Upload rounds: fewer, each a few hundred files at most.
const UPLOAD_ROUNDS: u64 = 2;

#[test]
fn acknowledged_uploads_survive_sigkill_with_their_journaled_hash() {
    let first_seed: u64 = rand::random();
    let mut failures = Vec::new();
    let mut acknowledged = 0;
    for round in 0..UPLOAD_ROUNDS {
        let config = driver::RoundConfig {
            seed: first_seed.wrapping_add(round),
            kezek: env!("CARGO_BIN_EXE_kezek").into(),
            keep_failed_in: std::env::temp_dir(),
        };
        let report = driver::run_upload_round(&config);
        let c = &report.counts;
        eprintln!(
            "uploads seed {}: {} clients, killed after {} ms; {} sent, {} acknowledged, {} \
             unanswered ({} present), {} files stored",
            report.seed,
            c.clients,
            c.load_ms,
            c.sent,
            c.acknowledged,
            c.unanswered,
            c.unanswered_present,
            c.events
        );
        acknowledged += c.acknowledged;
        if !report.passed() {
            failures.push(format!(
                "seed {} (reproduce: scripts/crash-test 1 --uploads --seed {}; kept in {:?}):\n  {}",
                report.seed,
                report.seed,
                report.kept,
                report.problems.join("\n  ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        acknowledged > 0,
        "no upload was acknowledged in {UPLOAD_ROUNDS} rounds"
    );
}
