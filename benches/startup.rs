//! Start-up and memory at one million applications, on the demo database that
//! `scripts/bench` makes once (`kezek --db <target>/bench-data/demo-1m.db demo
//! --applications 1000000`) and reuses.
//!
//! Targets (2-core machine, 1M applications): start-up rebuild including the hash-chain
//! check ≤ 5 s; index memory ≤ 256 bytes per application. Also reported, for information:
//! the parts of start-up, `position` and `first_fit` on the index rebuilt from the real
//! demo data (a cross-check of the synthetic `waiting_list` bench), and `kezek verify`.
//!
//! Not a criterion bench: each run takes seconds, so it takes the median of a few runs.
//! Environment: KEZEK_BENCH_DB (database, default `$CARGO_TARGET_DIR/bench-data/demo-1m.db`),
//! KEZEK_BENCH_RUNS (runs per measurement, default 5), KEZEK_BENCH_VERIFY_RUNS (default 3,
//! 0 skips verify). Arguments name the parts to run (`startup memory queries verify`);
//! none runs all. Example: `cargo bench --bench startup -- memory`.

use chrono::Datelike;
use kezek::domain::application::ApplicationId;
use kezek::domain::catalog::DistrictId;
use kezek::domain::event::ChainChecker;
use kezek::domain::waiting_list::Place;
use kezek::store::{self, Store};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Counts the bytes the program has asked for and not yet given back (the allocator's own
/// overhead per block is not included; the RSS figure next to it does include it).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        new
    }
}

fn grew(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn database() -> PathBuf {
    match std::env::var("KEZEK_BENCH_DB") {
        Ok(path) if !path.is_empty() => PathBuf::from(path),
        _ => {
            let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
            Path::new(&target).join("bench-data/demo-1m.db")
        }
    }
}

struct Stats(Vec<Duration>);

impl Stats {
    fn median(&self) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        sorted[sorted.len() / 2]
    }

    fn min(&self) -> Duration {
        *self.0.iter().min().expect("at least one run")
    }

    fn max(&self) -> Duration {
        *self.0.iter().max().expect("at least one run")
    }

    fn line(&self, name: &str) -> String {
        format!(
            "{name:<44} median {:>9.3?}  (min {:.3?}, max {:.3?}, {} runs)",
            self.median(),
            self.min(),
            self.max(),
            self.0.len()
        )
    }
}

fn repeat(runs: usize, mut run: impl FnMut() -> Duration) -> Stats {
    Stats((0..runs).map(|_| run()).collect())
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let run = |part: &str| wanted.is_empty() || wanted.iter().any(|w| part.contains(w.as_str()));
    let db = database();
    if !db.exists() {
        eprintln!(
            "{} does not exist; make it with scripts/bench (or set KEZEK_BENCH_DB)",
            db.display()
        );
        std::process::exit(1);
    }
    // A database made by an older binary is brought to this schema first, so that every
    // part below (some open read-only) sees the tables it expects.
    drop(Store::open(&db).expect("the bench database opens and migrates"));
    let runs = env_usize("KEZEK_BENCH_RUNS", 5).max(1);
    println!("database: {}", db.display());

    // Memory first: before anything else has grown and freed the heap, the RSS figure is
    // clean.
    if run("memory") {
        memory(&db);
    }
    if run("startup") {
        startup(&db, runs);
    }
    if run("queries") {
        queries(&db, runs);
    }
    let verify_runs = env_usize("KEZEK_BENCH_VERIFY_RUNS", 3);
    if run("verify") && verify_runs > 0 {
        let stats = repeat(verify_runs, || {
            let started = Instant::now();
            let report = kezek::verify::verify(&db).expect("the demo database verifies");
            black_box(report);
            started.elapsed()
        });
        println!("{}", stats.line("verify (kezek verify, in process)"));
    }
}

/// One start as the service makes it, and its close.
struct TimedStart {
    start: Duration,
    close: Duration,
    waiting: usize,
}

/// Opens `db` as the writer and loads it, asserting what the start checked (`RowsOnly`:
/// sealed by the last close; `Sqlite`: no seal, as after a crash), then closes it.
fn timed_start(db: &Path, options: &store::StoreOptions, expected: store::Checks) -> TimedStart {
    let started = Instant::now();
    let store = Store::open_writer(db, options).expect("opens");
    let loaded = store.load().expect("loads");
    let start = started.elapsed();
    assert_eq!(loaded.checks, expected);
    let waiting = loaded.state.waiting.len();
    let closing = Instant::now();
    // As the writer's clean close: the reports' aggregates saved, then the seal.
    store
        .save_reports(loaded.head.0, &loaded.state.reports)
        .expect("the reports' aggregates saved");
    drop(loaded);
    drop(store);
    TimedStart {
        start,
        close: closing.elapsed(),
        waiting,
    }
}

/// Why: the service serves nothing until the waiting list is rebuilt, the whole journal's
/// hash chain is checked and the file's integrity is known; a restart at 1M must stay short.
/// Measured as the service starts (`Store::open_writer` + `Store::load`), twice: after a
/// clean close, whose seal lets the start skip SQLite's checks of the file (seal.rs), and
/// after a crash (no seal), which runs them.
fn startup(db: &Path, runs: usize) {
    let options = store::StoreOptions::default();
    // One untimed run first, so every timed run reads a warm page cache (a reboot's cold
    // cache is a disk benchmark, not ours); its clean close seals the file.
    // Its close saves the reports' aggregates as the writer's does, so the sealed starts
    // read them (the first start of a database without them replays the journal).
    drop(Store::open_writer(db, &options).map(|s| {
        let loaded = s.load().expect("loads");
        s.save_reports(loaded.head.0, &loaded.state.reports)
            .expect("the reports' aggregates saved");
    }));
    let mut waiting = 0;
    let mut closes = Vec::new();
    let sealed = repeat(runs, || {
        let run = timed_start(db, &options, store::Checks::RowsOnly);
        waiting = run.waiting;
        closes.push(run.close);
        run.start
    });
    println!("applications waiting: {waiting}");
    println!(
        "{}",
        sealed.line("startup after a clean close (sealed): open_writer + load (target 5 s)")
    );
    println!(
        "{}",
        Stats(closes).line("  close: final checkpoint and the seal")
    );
    let crashed = repeat(runs, || {
        store::seal::remove(db).expect("the seal removed, as a crash leaves none");
        timed_start(db, &options, store::Checks::Sqlite).start
    });
    println!(
        "{}",
        crashed.line("startup after a crash (no seal, SQLite's checks): open_writer + load")
    );
    let digest = repeat(runs, || {
        let started = Instant::now();
        black_box(store::seal::intact(db));
        started.elapsed()
    });
    println!("{}", digest.line("  part: the seal's digest of the files"));
    let sqlite_checks = repeat(runs.min(3), || {
        let conn = Store::open_reader(db).expect("opens");
        let started = Instant::now();
        store::integrity::check(&conn, store::integrity::Depth::Quick).expect("intact");
        started.elapsed()
    });
    println!(
        "{}",
        sqlite_checks.line("  part: SQLite's checks and the rules (one thread)")
    );
    let rules = repeat(runs, || {
        let conn = Store::open_reader(db).expect("opens");
        let started = Instant::now();
        store::integrity::unique_rules(&conn).expect("intact");
        started.elapsed()
    });
    println!("{}", rules.line("  part: the uniqueness rules on the rows"));
    let index = repeat(runs, || {
        let conn = Store::open_reader(db).expect("opens");
        let started = Instant::now();
        let catalog = store::load_catalog(&conn).expect("catalog");
        let list = store::load_waiting_list(&conn).expect("waiting list");
        let elapsed = started.elapsed();
        black_box((catalog, list));
        elapsed
    });
    println!("{}", index.line("  part: load_catalog + load_waiting_list"));
    let chain = repeat(runs, || {
        let conn = Store::open_reader(db).expect("opens");
        let started = Instant::now();
        let mut checker = ChainChecker::default();
        store::for_each_event(&conn, |event| {
            checker.check(&event).expect("an intact chain");
            Ok(true)
        })
        .expect("events");
        black_box(checker.head());
        started.elapsed()
    });
    println!("{}", chain.line("  part: hash-chain check (all events)"));
    let read_only = repeat(runs, || {
        let conn = Store::open_reader(db).expect("opens");
        let started = Instant::now();
        let mut events = 0u64;
        store::for_each_event(&conn, |event| {
            events += 1;
            black_box(event);
            Ok(true)
        })
        .expect("events");
        black_box(events);
        started.elapsed()
    });
    println!(
        "{}",
        read_only.line("  part: reading the events, no hashing")
    );
}

/// Why: the whole index lives in memory on a modest server; its size per application
/// decides how many applications one machine can hold.
fn memory(db: &Path) {
    let conn = Store::open_reader(db).expect("opens");
    let live_before = LIVE.load(Ordering::Relaxed);
    let rss_before = rss_bytes();
    PEAK.store(live_before, Ordering::Relaxed);
    let list = store::load_waiting_list(&conn).expect("waiting list");
    let live = LIVE.load(Ordering::Relaxed) - live_before;
    let peak = PEAK.load(Ordering::Relaxed) - live_before;
    let rss = rss_bytes().saturating_sub(rss_before);
    let n = list.len();
    println!("index of {n} applications (load_waiting_list):");
    println!(
        "  live heap {:>7.1} MiB = {:>6.1} bytes/application (target 256)",
        live as f64 / 1048576.0,
        live as f64 / n as f64
    );
    println!(
        "  RSS growth {:>6.1} MiB = {:>6.1} bytes/application (incl. allocator overhead)",
        rss as f64 / 1048576.0,
        rss as f64 / n as f64
    );
    println!(
        "  peak heap while building {:>6.1} MiB (the rows are read into a Vec and sorted first)",
        peak as f64 / 1048576.0
    );
    println!(
        "  per entry: Waiting {} bytes (+ its RegistrationNumber in the entries map), \
         QueueKey {} bytes in each of its sets",
        std::mem::size_of::<kezek::domain::waiting_list::Waiting>(),
        std::mem::size_of::<kezek::domain::application::QueueKey>()
    );
    drop(list);
    // The whole in-memory state, as the service holds it: the index above plus the catalog,
    // places, referrals, deadlines and the access-code prefixes parents are checked against.
    let live_before = LIVE.load(Ordering::Relaxed);
    let state = store::load_state(&conn).expect("state");
    let live = LIVE.load(Ordering::Relaxed) - live_before;
    println!(
        "  whole state (load_state) {:>6.1} MiB = {:>6.1} bytes/application, of which {} \
         access-code prefixes",
        live as f64 / 1048576.0,
        live as f64 / n as f64,
        state.access.len()
    );
    drop(state);
    // The reports' aggregates (issue 17), which the service holds beside the state (a replay
    // of the journal makes them here; the replay's own memory is gone when it returns).
    let live_before = LIVE.load(Ordering::Relaxed);
    let reports = store::load_reports(&conn).expect("reports");
    let live = LIVE.load(Ordering::Relaxed) - live_before;
    println!(
        "  reports' aggregates {:>6.1} MiB = {:>6.1} bytes/application",
        live as f64 / 1048576.0,
        live as f64 / n as f64
    );
    drop(reports);
}

/// Why: a cross-check of the synthetic `waiting_list` bench on the index rebuilt from the
/// real demo data; random ids and places, median over batches of 10,000 calls.
fn queries(db: &Path, runs: usize) {
    let conn = Store::open_reader(db).expect("opens");
    let catalog = store::load_catalog(&conn).expect("catalog");
    let list = store::load_waiting_list(&conn).expect("waiting list");
    let ids: Vec<ApplicationId> = list
        .iter()
        .map(|(district, waiting)| ApplicationId {
            district,
            number: waiting.key.number,
        })
        .collect();
    let groups: Vec<_> = catalog.groups.values().collect();
    let kindergartens = &catalog.kindergartens;
    let today = kezek::domain::local_date(chrono::Utc::now());
    let mut rng = SmallRng::seed_from_u64(11);
    const BATCH: usize = 10_000;
    let batches = (runs * 4).max(10);
    let sample_ids: Vec<ApplicationId> = (0..BATCH)
        .map(|_| ids[rng.random_range(0..ids.len())])
        .collect();
    // A place is a free seat in one of the catalog's groups, available today.
    let places: Vec<(DistrictId, Place)> = (0..BATCH)
        .map(|_| {
            let group = groups[rng.random_range(0..groups.len())];
            let district = kindergartens[&group.kindergarten].district;
            let place = Place {
                kindergarten: group.kindergarten,
                age_band: group.age_band,
                language: group.language,
                available_from: today,
            };
            (district, place)
        })
        .collect();
    let position = repeat(batches, || {
        let started = Instant::now();
        for id in &sample_ids {
            black_box(list.position(black_box(*id)));
        }
        started.elapsed() / BATCH as u32
    });
    println!(
        "{}",
        position.line("position on demo data, per call (target 2 µs)")
    );
    let mut found = 0;
    let first_fit = repeat(batches, || {
        let started = Instant::now();
        for (district, place) in &places {
            found += usize::from(black_box(list.first_fit(*district, black_box(place))).is_some());
        }
        started.elapsed() / BATCH as u32
    });
    println!(
        "{}",
        first_fit.line("first_fit on demo data, per call (target 50 µs)")
    );
    println!(
        "  first_fit found an application for {:.1}% of places",
        100.0 * found as f64 / (batches * BATCH) as f64
    );
    // The tail: first_fit walks its sets until an application fits, so a place few fit
    // costs more than the median one. Timed one call at a time (adds ~20 ns each).
    let time_one = |(district, place): &(DistrictId, Place)| {
        let started = Instant::now();
        black_box(list.first_fit(*district, black_box(place)));
        started.elapsed()
    };
    let mut each: Vec<(Duration, usize)> = places
        .iter()
        .enumerate()
        .map(|(i, place)| (time_one(place), i))
        .collect();
    each.sort();
    // The slowest place again, to tell a slow place from a descheduled call.
    let slowest = &places[each[each.len() - 1].1];
    let again = (0..5).map(|_| time_one(slowest)).min().expect("five runs");
    let each: Vec<Duration> = each.into_iter().map(|(d, _)| d).collect();
    println!(
        "  first_fit per place: p50 {:.2?}, p99 {:.2?}, max {:.2?} ({} places); \
         the slowest place again: {again:.2?} ({:?} in district {})",
        each[each.len() / 2],
        each[each.len() * 99 / 100],
        each[each.len() - 1],
        each.len(),
        slowest.1,
        slowest.0 .0,
    );
    // The catalog's groups are by birth year; check the bands are what the bench assumes.
    let years: std::collections::BTreeSet<i32> =
        groups.iter().map(|g| g.age_band.born_from.year()).collect();
    println!("  group birth years in the catalog: {years:?}");
}
