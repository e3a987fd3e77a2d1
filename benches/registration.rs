//! Durable registrations through the real service: validation, the writer thread's group
//! commit (one SQLite transaction per batch, `synchronous=FULL`, so every acknowledged
//! registration has been fsynced), the hash-chained journal, and the in-memory index.
//!
//! Target (2-core machine): ≥ 10,000 durable registrations per second with 64 concurrent
//! submitters. The single-submitter case shows the cost of one commit (one fsync) per
//! registration, which is what group commit exists to amortise.
//!
//! `registration/64_submitters_1m` runs on a copy of the 1M-application demo database (if
//! it exists; see scripts/bench), so SQLite's B-trees and the index are at target size.
//! Set KEZEK_BENCH_DB to use another database, or to an empty string to skip it.
//!
//! Run one case with a filter, e.g. `cargo bench --bench registration -- 64_submitters`.

use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kezek::clock::Clock;
use kezek::demo::{self, FormGenerator};
use kezek::domain::application::RegistrationForm;
use kezek::domain::local_date;
use kezek::service::Service;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

const SUBMITTERS: usize = 64;

/// A clock that moves one microsecond each time it is read. The writer reads it once per
/// batch, so the number of distinct `recorded_at` values in the journal is the number of
/// transactions: that is how the bench reports the mean batch size.
struct TickingClock {
    start_micros: i64,
    ticks: AtomicI64,
}

impl Clock for TickingClock {
    fn now(&self) -> DateTime<Utc> {
        let tick = self.ticks.fetch_add(1, Ordering::Relaxed);
        DateTime::from_timestamp_micros(self.start_micros + tick).expect("in range")
    }
}

/// A running service on a database of its own, and a source of fresh valid forms.
struct Bench {
    service: Service,
    forms: FormGenerator,
    clock: Arc<TickingClock>,
    path: PathBuf,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Bench {
    /// A service on an empty database (with the demo catalog), or on a copy of `from`.
    fn new(from: Option<&Path>) -> Bench {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("bench.db");
        if let Some(from) = from {
            std::fs::copy(from, &path).expect("copy the database");
        }
        // A year after now: the children these forms invent are born after every child of
        // a demo database, so their IINs cannot collide with one already queued.
        let clock = Arc::new(TickingClock {
            start_micros: (Utc::now() + Duration::days(400)).timestamp_micros(),
            ticks: AtomicI64::new(0),
        });
        if let Ok(sql) = std::env::var("KEZEK_EXPERIMENT_SQL") {
            kezek::store::Store::open(&path)
                .expect("open")
                .connection_for_tests()
                .execute_batch(&sql)
                .expect("experiment sql");
        }
        let started = Instant::now();
        let service = Service::start(&path, clock.clone()).expect("the service starts");
        let catalog = demo::ensure_catalog(&service).expect("the demo catalog");
        eprintln!(
            "service started on {} queued applications in {:.2?}",
            service.read().waiting.len(),
            started.elapsed()
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        Bench {
            service,
            forms: FormGenerator::new(&catalog, 4242),
            clock,
            path,
            runtime,
            _dir: dir,
        }
    }

    fn forms(&mut self, n: u64) -> Vec<RegistrationForm> {
        let today = local_date(self.clock.now());
        (0..n).map(|_| self.forms.form(today, 300)).collect()
    }

    /// Registers `forms` from `submitters` concurrent tasks, each awaiting one registration
    /// before sending the next (as an HTTP handler does). Returns the wall time.
    fn register_all(&self, forms: Vec<RegistrationForm>, submitters: usize) -> StdDuration {
        let started = Instant::now();
        demo::register_concurrently(&self.service, &self.runtime, forms, submitters);
        started.elapsed()
    }
}

impl Bench {
    /// The journal's last sequence number.
    fn last_seq(&self) -> i64 {
        let conn = kezek::store::Store::open_reader(&self.path).expect("a reader");
        conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |row| {
            row.get(0)
        })
        .expect("the journal")
    }

    /// Where a case starts: the journal's end and the bytes written so far.
    fn mark(&self) -> Mark {
        Mark {
            seq: self.last_seq(),
            written: written_bytes(),
        }
    }

    /// How many registrations after `since`, in how many transactions, and how many bytes
    /// the process wrote for each (WAL frames, checkpoints): the writer is bound by those
    /// bytes, and unlike the rate they do not depend on how fast the disk is today.
    fn report_batches(&self, case: &str, mark: Mark) {
        let since = mark.seq;
        let conn = kezek::store::Store::open_reader(&self.path).expect("a reader");
        let (registrations, commits): (i64, i64) = conn
            .query_row(
                "SELECT count(*), count(DISTINCT recorded_at) FROM events \
                 WHERE seq > ?1 AND kind = 'application_registered'",
                [since],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .expect("the journal");
        eprintln!(
            "{case}: {registrations} registrations in {commits} transactions, \
             {:.1} per transaction on average",
            registrations as f64 / commits.max(1) as f64
        );
        if let (Some(before), Some(after)) = (mark.written, written_bytes()) {
            let per = |bytes: u64| bytes as f64 / registrations.max(1) as f64;
            eprintln!(
                "{case}: {:.0} B passed to write(2) and {:.0} B written to storage per registration",
                per(after.0 - before.0),
                per(after.1 - before.1)
            );
        }
    }
}

fn one_million_db() -> Option<PathBuf> {
    let path = match std::env::var("KEZEK_BENCH_DB") {
        Ok(path) if path.is_empty() => return None,
        Ok(path) => PathBuf::from(path),
        Err(_) => {
            let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
            Path::new(&target).join("bench-data/demo-1m.db")
        }
    };
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "{} is missing: skipping registration/64_submitters_1m (scripts/bench makes it)",
            path.display()
        );
        None
    }
}

/// The start of a case: see `Bench::mark`.
#[derive(Clone, Copy)]
struct Mark {
    seq: i64,
    written: Option<(u64, u64)>,
}

/// This process's `wchar` and `write_bytes` from /proc/self/io (Linux only).
fn written_bytes() -> Option<(u64, u64)> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    let field = |name: &str| {
        io.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse::<u64>().ok())
    };
    Some((field("wchar:")?, field("write_bytes:")?))
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("registration");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.measurement_time(StdDuration::from_secs(10));
    group.warm_up_time(StdDuration::from_secs(2));

    // Built on first use, so a filter that skips every case skips building it.
    let mut fresh: Option<Bench> = None;

    // Why: the latency floor. Each registration waits for its own COMMIT (an fsync), so
    // this is roughly 1 / (commit time); it is what a quiet office sees.
    let mut since = None;
    group.bench_function("1_submitter", |b| {
        let bench = fresh.get_or_insert_with(|| Bench::new(None));
        since.get_or_insert_with(|| bench.mark());
        b.iter_custom(|iters| {
            let forms = bench.forms(iters);
            bench.register_all(forms, 1)
        })
    });
    if let (Some(bench), Some(since)) = (&fresh, since) {
        bench.report_batches("1_submitter", since);
    }

    // Why: the target. 64 parents submitting at once, each waiting for its
    // answer: group commit must turn them into few transactions.
    let mut since = None;
    group.bench_function("64_submitters", |b| {
        let bench = fresh.get_or_insert_with(|| Bench::new(None));
        since.get_or_insert_with(|| bench.mark());
        b.iter_custom(|iters| concurrent(bench, iters))
    });
    if let (Some(bench), Some(since)) = (&fresh, since) {
        bench.report_batches("64_submitters", since);
    }
    if let Some(bench) = fresh.take() {
        bench.service.shutdown();
    }

    // Why: the same at the size the target speaks of (1M queued, a 1 GB database), where
    // SQLite's indexes and the in-memory sets are deeper than in an empty database.
    if let Some(db) = one_million_db() {
        let mut big: Option<Bench> = None;
        let mut since = None;
        group.bench_function("64_submitters_1m", |b| {
            let bench = big.get_or_insert_with(|| Bench::new(Some(&db)));
            since.get_or_insert_with(|| bench.mark());
            b.iter_custom(|iters| concurrent(bench, iters))
        });
        if let (Some(bench), Some(since)) = (&big, since) {
            bench.report_batches("64_submitters_1m", since);
        }
        if let Some(bench) = big.take() {
            bench.service.shutdown();
        }
    }
    group.finish();
}

/// `iters` registrations from 64 submitters (at least one each; the time is scaled back).
fn concurrent(bench: &mut Bench, iters: u64) -> StdDuration {
    let forms = bench.forms(iters.max(SUBMITTERS as u64));
    let n = forms.len() as u64;
    bench
        .register_all(forms, SUBMITTERS)
        .mul_f64(iters as f64 / n as f64)
}

criterion_group!(registration, benches);
criterion_main!(registration);
