//! What the anchor costs durable registrations (docs/PERFORMANCE.md, "The anchor's cost").
//!
//! The writer replaces `<db>.anchor` after every COMMIT that emitted events, before it
//! answers: one more small write, fsync and rename per batch. This registers through the
//! real service with the anchor beside the database (on the same disk, as deployed) and,
//! alternately, with the anchor on tmpfs (`/dev/shm`), where the same syscalls cost no disk
//! flush: the difference is what the anchor's durability costs. Rounds alternate so that a
//! noisy neighbour hurts both sides alike.
//!
//! First, the anchor's write alone, on the same disk: replacing the whole file (a temporary
//! file, fsync, rename: what every batch did before) against overwriting one slot in place
//! with `fdatasync` (what a batch does now), in alternating rounds.
//!
//!   cargo run --release --example anchor_cost [REGISTRATIONS_PER_ROUND] [ROUNDS]

use chrono::{Duration, Utc};
use kezek::clock::{Clock, ManualClock};
use kezek::demo::{self, FormGenerator};
use kezek::domain::local_date;
use kezek::service::{Service, StoreOptions};
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let per_round: usize = args.next().map_or(400, |a| a.parse().expect("a number"));
    let rounds: usize = args.next().map_or(3, |a| a.parse().expect("a number"));
    write_alone(rounds);
    let shm = tempfile::tempdir_in("/dev/shm").expect("tmpfs at /dev/shm");
    for submitters in [1, 16] {
        let mut rates = [Vec::new(), Vec::new()];
        for round in 0..rounds * 2 {
            let on_tmpfs = round % 2 == 1;
            let anchor = on_tmpfs.then(|| shm.path().join(format!("{submitters}-{round}.anchor")));
            rates[usize::from(on_tmpfs)].push(rate(per_round, submitters, anchor));
        }
        for (name, list) in ["same disk", "tmpfs"].iter().zip(&rates) {
            let median = median(list.clone());
            println!("{submitters:>2} submitters, anchor on {name:<9}: {median:>7.0} registrations/s (rounds: {list:.0?})");
        }
    }
}

/// The anchor's write on its own, the two ways, 200 writes a round, microseconds each.
fn write_alone(rounds: usize) {
    use kezek::store::anchor::{self, Anchor, AnchorFile};
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("alone.anchor");
    let head = |seq: u64| Anchor { seq, hash: [7; 32] };
    let file = AnchorFile::create(&path, head(0)).expect("the anchor file");
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..rounds * 2 {
        let in_place = round % 2 == 1;
        let started = Instant::now();
        for seq in 1..=200 {
            match in_place {
                true => file.advance(head(seq)).expect("written"),
                false => anchor::write(&path, head(seq)).expect("written"),
            }
        }
        times[usize::from(in_place)].push(started.elapsed().as_secs_f64() * 1e6 / 200.0);
    }
    for (name, list) in [
        "replaced (tmp, fsync, rename)",
        "in place (pwrite, fdatasync)",
    ]
    .iter()
    .zip(&times)
    {
        println!(
            "anchor write alone, {name:<30}: {:>7.0} µs (rounds: {list:.0?})",
            median(list.clone())
        );
    }
}

/// Durable registrations per second on a fresh database, `submitters` at once.
fn rate(count: usize, submitters: usize, anchor: Option<std::path::PathBuf>) -> f64 {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let clock = ManualClock::new(Utc::now() + Duration::days(400));
    let options = StoreOptions {
        anchor,
        ..StoreOptions::default()
    };
    let path = dir.path().join("cost.db");
    let service = Service::start_with(&path, Arc::new(clock.clone()), &options).expect("starts");
    let catalog = demo::ensure_catalog(&service).expect("the demo catalog");
    let mut forms = FormGenerator::new(&catalog, 4242);
    let today = local_date(clock.now());
    let all: Vec<_> = (0..count).map(|_| forms.form(today, 300)).collect();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let started = Instant::now();
    demo::register_concurrently(&service, &runtime, all, submitters);
    let elapsed = started.elapsed();
    service.shutdown();
    count as f64 / elapsed.as_secs_f64()
}

fn median(mut list: Vec<f64>) -> f64 {
    list.sort_by(f64::total_cmp);
    list[list.len() / 2]
}
