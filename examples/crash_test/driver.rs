//! One crash-test round against the real `kezek serve` binary.
//!
//! A round starts the service on a fresh database in its own directory (manual clock),
//! creates three districts with two kindergartens each through the admin API, and lets
//! several client tasks send a mix of operations concurrently (`MIX`): registrations (some
//! claiming a priority), free-place reports, hand-ins, declines, extensions, officers'
//! priority decisions, parents' amendments, moves to another district and enrolled
//! children's transfer requests, and moves of the manual clock by hours to days, so that referrals
//! expire and stop lists end while the load runs. After a random 50–800 ms it kills the
//! service with SIGKILL (in one round of three, kills it again early in its restart),
//! starts it again on the same file and checks what survived:
//!
//! 1. every acknowledged operation (a 2xx answer reached the client) is in the journal;
//! 2. no operation is half there: the journal splits into whole commands that each match
//!    one operation the clients sent (or a tick of the clock), and each present operation
//!    has all its rows (its Idempotency-Key record, its outbox messages, its application
//!    history rows), each absent one none; operations refused, or sent after the kill, are
//!    absent;
//! 3. the journal's order respects real time: an operation sent after another was
//!    acknowledged comes after it;
//! 4. a replay of the present operations and ticks, in journal order, in the reference
//!    model of `model.rs` gives the same registration numbers, tiers, places, referrals,
//!    expiries and ends of stop lists as the journal and as the answers the clients got,
//!    nothing that fell due before an acknowledged clock move is left pending, and the
//!    final tables (applications, places, referrals) and queue order (read back over the
//!    public API, per district, cohort and kindergarten) equal the restarted service's;
//! 5. the restarted service answers every acknowledged parent from its application, and a
//!    retry with the same Idempotency-Key of each operation found present is answered
//!    from the record, changing nothing;
//! 6. `kezek verify` passes on the file.
//!
//! A clock move takes the clients' lock exclusively, so no other operation is in flight
//! while time jumps: each operation is built from the time it is sent at, and the
//! workload stays valid (no desired start in the past, no decision on an expired
//! referral). The races left on purpose are a priority decision on an application that
//! a place went to (or that moved) meanwhile, and an amendment or a move of an application
//! that a place went to, or that was enrolled or moved, meanwhile; they may be refused
//! (409), and then must be absent.
//!
//! The round's seed fixes its workload (the children, the choices of each client, the
//! moment of the kill); the interleaving of the clients and the point the kill lands in
//! are the machine's, which is the point.

use crate::model::{ChildState, Due, Form, Issued, Model, PlaceState, Vacancy};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use kezek::domain::event::Event;
use kezek::domain::iin::{Iin, Sex};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The districts' codes; district `i + 1` is `DISTRICTS[i]` (created in this order).
pub const DISTRICTS: [&str; 3] = ["CRA", "CRB", "CRC"];
const KINDERGARTENS_PER_DISTRICT: u32 = 2;
const KINDERGARTENS: u32 = DISTRICTS.len() as u32 * KINDERGARTENS_PER_DISTRICT;
/// The categories claimed: one of each priority tier.
const CLAIMS: [&str; 2] = ["military_family", "large_family"];
/// Concurrent clients, drawn per round: from nearly one command per batch to batches of
/// several commands in flight when the kill lands.
const CLIENTS_MIN: usize = 2;
const CLIENTS_MAX: usize = 12;
/// One round in this many is killed a second time while it recovers, before it serves.
const RECOVERY_KILL_ONE_IN: u32 = 3;
const RECOVERY_KILL_MS_MAX: u64 = 40;
/// How long the clients send before the kill: from the first few batches to a few
/// hundred commands.
const LOAD_MS_MIN: u64 = 50;
const LOAD_MS_MAX: u64 = 800;
/// How far a clock move jumps, and how far the clock may move in a round: past referral
/// validity (five working days) and the stop list (ten days) a few times over.
const CLOCK_STEPS_HOURS: [i64; 6] = [1, 6, 24, 48, 72, 120];
const CLOCK_DAYS_MAX: i64 = 60;
/// A request the dead server never answers is cut off by the kill, not by this; it only
/// keeps a hung round from hanging the run.
pub(crate) const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The public queue's largest page.
const QUEUE_PAGE: usize = 500;

/// The kinds of operation the clients send, and how often (out of the weights' sum). A new
/// kind is a row here, a `Request` variant built in `Shared::build`, and its journal event
/// in `Check::split` and `Round::replay`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Register,
    Report,
    /// A hand-in or a decline of a referral a client learned of.
    Decide,
    Extend,
    Priority,
    MoveClock,
    /// A parent's amendment: new kindergartens, language or start, and always a new phone.
    Amend,
    /// A parent moves the application to another district.
    Move,
    /// A parent asks to transfer an enrolled child to the district's other kindergarten.
    Transfer,
}

const MIX: [(Kind, u32); 9] = [
    (Kind::Register, 38),
    (Kind::Report, 18),
    (Kind::Decide, 22),
    (Kind::Extend, 5),
    (Kind::Priority, 8),
    (Kind::MoveClock, 5),
    (Kind::Amend, 6),
    (Kind::Move, 3),
    (Kind::Transfer, 4),
];

fn district_code(district: u32) -> &'static str {
    DISTRICTS[district as usize - 1]
}

fn district_of(kindergarten: u32) -> u32 {
    (kindergarten - 1) / KINDERGARTENS_PER_DISTRICT + 1
}

fn kindergartens_of(district: u32) -> std::ops::RangeInclusive<u32> {
    let first = (district - 1) * KINDERGARTENS_PER_DISTRICT + 1;
    first..=first + KINDERGARTENS_PER_DISTRICT - 1
}

/// The local (UTC+5) date of an instant.
fn local_date(at: DateTime<Utc>) -> NaiveDate {
    (at + Duration::hours(5)).date_naive()
}

pub struct RoundConfig {
    pub seed: u64,
    /// The `kezek` binary.
    pub kezek: PathBuf,
    /// Where a failing round's directory is kept.
    pub keep_failed_in: PathBuf,
}

#[derive(Debug, Default)]
pub struct Counts {
    pub clients: usize,
    pub load_ms: u64,
    /// When the restart was itself killed, after how long.
    pub recovery_killed_ms: Option<u64>,
    pub sent: usize,
    pub acknowledged: usize,
    /// No answer (the kill cut it off), or a 5xx.
    pub unanswered: usize,
    /// Unanswered, and found in the journal after the restart.
    pub unanswered_present: usize,
    pub events: usize,
    /// Acknowledged clock moves, and what the journal's ticks did: referrals expired and
    /// stop lists ended.
    pub clock_moves: usize,
    pub expired: usize,
    pub released: usize,
    /// Priority decisions in the journal.
    pub decisions: usize,
    /// Amendments, moves and transfer requests in the journal.
    pub amended: usize,
    pub moved: usize,
    pub transfers: usize,
    /// Transfer referrals handed in, each freeing the child's old place.
    pub transferred: usize,
}

pub struct RoundReport {
    pub seed: u64,
    pub counts: Counts,
    /// What was wrong; empty when the round passed.
    pub problems: Vec<String>,
    /// The round's directory (database, server logs), kept when it failed.
    pub kept: Option<PathBuf>,
}

impl RoundReport {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Runs one round; never panics on what the service does wrong, it reports it.
pub fn run_round(config: &RoundConfig) -> RoundReport {
    run_round_of(config, false)
}

/// Runs one round of uploads (`uploads.rs`) instead of the queue's workload.
pub fn run_upload_round(config: &RoundConfig) -> RoundReport {
    run_round_of(config, true)
}

fn run_round_of(config: &RoundConfig, uploads: bool) -> RoundReport {
    let dir = tempfile::Builder::new()
        .prefix(&format!("kezek-crash-{}-", config.seed))
        .tempdir()
        .expect("a temporary directory");
    let mut round = Round {
        kezek: config.kezek.clone(),
        dir: dir.path().to_path_buf(),
        db: dir.path().join("kezek.db"),
        problems: Vec::new(),
        counts: Counts::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = if uploads {
        runtime.block_on(round.run_uploads(config.seed))
    } else {
        runtime.block_on(round.run(config.seed))
    };
    if let Err(problem) = result {
        round.problems.push(problem);
    }
    let kept = if round.problems.is_empty() {
        None
    } else {
        let target = config
            .keep_failed_in
            .join(format!("kezek-crash-{}", config.seed));
        let _ = std::fs::remove_dir_all(&target);
        let from = dir.keep();
        // A rename fails across file systems: then the round's directory stays where it is.
        Some(match std::fs::rename(&from, &target) {
            Ok(()) => target,
            Err(_) => from,
        })
    };
    RoundReport {
        seed: config.seed,
        counts: round.counts,
        problems: round.problems,
        kept,
    }
}

pub(crate) struct Round {
    pub(crate) kezek: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) db: PathBuf,
    pub(crate) problems: Vec<String>,
    pub(crate) counts: Counts,
}

/// A running `kezek serve`.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    /// Kept open: the server's stdout must not become a broken pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    pub(crate) fn kill(&mut self) {
        // SIGKILL on Unix: no destructor, no graceful shutdown, no final checkpoint.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The staff tokens and the time a round starts at.
struct Setup {
    admin: String,
    /// Kindergarten accounts' tokens, index `id - 1`.
    kindergartens: Vec<String>,
    /// Officers' tokens, index `district - 1`.
    officers: Vec<String>,
    /// The manual clock at the start.
    start: DateTime<Utc>,
}

#[derive(Clone, Debug)]
enum Auth {
    None,
    Bearer(String),
    AccessCode(String),
}

#[derive(Clone, Debug)]
struct HttpRequest {
    path: String,
    body: Option<Value>,
    auth: Auth,
    key: String,
}

/// A referral or application: (district, number).
type Id = (u32, u32);

#[derive(Clone, Debug)]
enum Request {
    Register { form: Form, iin: String },
    Report(Vacancy),
    HandIn { referral: Id, kindergarten: u32 },
    Decline { referral: Id, application: u32 },
    Extend { referral: Id, application: u32 },
    Priority { application: Id, verify: bool },
    MoveClock { to: DateTime<Utc> },
    Amend { application: Id, change: Change },
    Move { application: Id, to: Target },
    Transfer { application: Id, to: u32 },
}

/// What an amendment sends: the phone always (a new one each time, so that the journal's
/// amendment names its request), and some of kindergartens, language, desired start.
#[derive(Clone, Debug)]
struct Change {
    phone: String,
    choices: Option<Vec<u32>>,
    /// "any", "kk" or "ru".
    language: Option<String>,
    desired_start: Option<NaiveDate>,
}

/// Where a move goes, and what the application asks for there.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    district: u32,
    choices: Vec<u32>,
    /// `None`: any.
    language: Option<String>,
}

#[derive(Clone, Debug)]
enum Answer {
    /// No answer: the connection broke (the kill), or the client gave up.
    Unanswered(String),
    /// 5xx: the command may or may not have run (a timeout answers while it still runs).
    ServerError(u16, String),
    Refused(u16, String),
    Acknowledged {
        body: Value,
        replayed: bool,
        at: Instant,
    },
}

#[derive(Clone, Debug)]
struct Op {
    index: usize,
    request: Request,
    http: HttpRequest,
    sent_at: Instant,
    /// The manual clock when it was sent (a clock move: before it moved).
    clock: DateTime<Utc>,
    answer: Answer,
}

impl Op {
    fn acknowledged(&self) -> Option<&Value> {
        match &self.answer {
            Answer::Acknowledged { body, .. } => Some(body),
            _ => None,
        }
    }

    fn unanswered(&self) -> bool {
        matches!(self.answer, Answer::Unanswered(_) | Answer::ServerError(..))
    }

    /// A refusal the workload allows: a priority decision, an amendment or a move of an
    /// application that a place went to (or that was enrolled or moved) while the request
    /// was on its way (see the module's note), and only that.
    fn refusal_allowed(&self) -> bool {
        let Answer::Refused(409, body) = &self.answer else {
            return false;
        };
        let code = serde_json::from_str::<Value>(body).map(|body| body["code"].clone());
        let code = code.as_ref().ok().and_then(Value::as_str).unwrap_or("");
        match &self.request {
            Request::Priority { .. } => code == "application_not_queued",
            Request::Amend { .. } | Request::Move { .. } => {
                ["application_not_queued", "referral_outstanding"].contains(&code)
            }
            _ => false,
        }
    }

    /// Clock moves are not commands of the journal: their ticks are, when anything fell due.
    fn journaled(&self) -> bool {
        !matches!(self.request, Request::MoveClock { .. })
    }

    fn describe(&self) -> String {
        let referral = |(d, n): &Id| format!("{}-R{n}", district_code(*d));
        let what = match &self.request {
            Request::Register { form, .. } => format!(
                "register in {} (born {}, language {}, kindergartens {:?}, from {}, claim {:?})",
                district_code(form.district),
                form.birth,
                form.language.as_deref().unwrap_or("any"),
                form.choices,
                form.desired_start,
                form.claim
            ),
            Request::Report(v) => format!(
                "report {} place(s) at kindergarten {} (born {}..{}, {}, from {})",
                v.count, v.kindergarten, v.born_from, v.born_to, v.language, v.available_from
            ),
            Request::HandIn { referral: r, .. } => format!("hand in {}", referral(r)),
            Request::Decline { referral: r, .. } => format!("decline {}", referral(r)),
            Request::Extend { referral: r, .. } => format!("extend {}", referral(r)),
            Request::Priority {
                application: (d, n),
                verify,
            } => format!(
                "{} the claim of {}-{n}",
                if *verify { "verify" } else { "reject" },
                district_code(*d)
            ),
            Request::MoveClock { to } => format!("move the clock to {to}"),
            Request::Amend {
                application: (d, n),
                change,
            } => format!("amend {}-{n} ({change:?})", district_code(*d)),
            Request::Move {
                application: (d, n),
                to,
            } => format!("move {}-{n} to {to:?}", district_code(*d)),
            Request::Transfer {
                application: (d, n),
                to,
            } => format!("transfer {}-{n} to kindergarten {to}", district_code(*d)),
        };
        let answer = match &self.answer {
            Answer::Unanswered(error) => format!("unanswered ({error})"),
            Answer::ServerError(status, body) => format!("answered {status} {body}"),
            Answer::Refused(status, _) => format!("refused {status}"),
            Answer::Acknowledged { .. } => "acknowledged".to_string(),
        };
        format!("op #{} {what}, {answer}", self.index)
    }
}

/// A referral the clients learned of from an answer, not yet handed in or declined.
#[derive(Clone, Copy, Debug)]
struct Known {
    district: u32,
    number: u32,
    kindergarten: u32,
    application: u32,
    valid_until: DateTime<Utc>,
    extended: bool,
}

/// What the client tasks share.
struct Shared {
    client: reqwest::Client,
    base: String,
    setup: Setup,
    /// The manual clock as the clients last set it. Every operation holds it shared while
    /// it is built, sent and learned from; a clock move holds it exclusively.
    clock: tokio::sync::RwLock<DateTime<Utc>>,
    stop: AtomicBool,
    next_index: AtomicUsize,
    /// IIN serials: one per registration, so that every child is new.
    next_serial: AtomicU32,
    /// Referrals nobody has decided yet; a client takes one out to decide it, so that no
    /// two clients decide the same referral.
    pool: Mutex<Vec<Known>>,
    /// Claims nobody has decided yet, taken out the same way.
    claims: Mutex<Vec<Id>>,
    /// Access codes by application, from the registrations' (and moves') answers.
    codes: Mutex<HashMap<Id, String>>,
    /// Applications a parent may amend or move: registered or moved to, not yet known to
    /// be enrolled or moved away. A move takes its application out.
    queued: Mutex<Vec<Id>>,
    /// Enrolled children (application, kindergarten) that may ask for a transfer, once.
    enrolled: Mutex<Vec<(Id, u32)>>,
    /// Applications that asked for a transfer: their later hand-ins are not new enrolments.
    transferring: Mutex<HashSet<Id>>,
    /// Phone serials: each amendment's phone is new.
    next_phone: AtomicU32,
    ops: Mutex<Vec<Op>>,
}

fn number_after(text: &str, prefix: &str) -> Option<u32> {
    text.strip_prefix(prefix)?.parse().ok()
}

/// "CRB-17" → (2, 17).
fn application_id(text: &str) -> Option<Id> {
    let (code, number) = text.split_once('-')?;
    let district = DISTRICTS.iter().position(|d| *d == code)? as u32 + 1;
    Some((district, number.parse().ok()?))
}

/// "CRB-R3" → (2, 3).
fn referral_id(text: &str) -> Option<Id> {
    let (code, rest) = text.split_once('-')?;
    let district = DISTRICTS.iter().position(|d| *d == code)? as u32 + 1;
    Some((district, number_after(rest, "R")?))
}

/// A referral view of an answer.
fn known_referral(view: &Value) -> Option<Known> {
    let (district, number) = referral_id(view["number"].as_str()?)?;
    let (_, application) = application_id(view["application"].as_str()?)?;
    Some(Known {
        district,
        number,
        application,
        kindergarten: u32::try_from(view["kindergarten"].as_u64()?).ok()?,
        valid_until: view["valid_until"].as_str()?.parse().ok()?,
        extended: view["extended"].as_bool().unwrap_or(false),
    })
}

impl Shared {
    /// The next operation, by `MIX`; a kind that has nothing to act on (no referral known
    /// yet, the clock's budget spent) becomes a registration.
    fn choose(&self, rng: &mut SmallRng, now: DateTime<Utc>) -> Request {
        let total: u32 = MIX.iter().map(|(_, w)| w).sum();
        let mut roll = rng.random_range(0..total);
        let kind = MIX
            .iter()
            .find(|(_, weight)| {
                let hit = roll < *weight;
                roll = roll.saturating_sub(*weight);
                hit
            })
            .map_or(Kind::Register, |(kind, _)| *kind);
        self.build(kind, rng, now)
            .unwrap_or_else(|| self.register(rng, local_date(now)))
    }

    fn build(&self, kind: Kind, rng: &mut SmallRng, now: DateTime<Utc>) -> Option<Request> {
        let today = local_date(now);
        match kind {
            Kind::Register => Some(self.register(rng, today)),
            Kind::Report => Some(self.report(rng, today)),
            Kind::Decide => self.decide_referral(rng),
            Kind::Extend => {
                let known = self.take_referral(rng, |k| {
                    !k.extended && self.code_known((k.district, k.application))
                })?;
                Some(Request::Extend {
                    referral: (known.district, known.number),
                    application: known.application,
                })
            }
            Kind::Priority => {
                let mut claims = self.claims.lock().expect("claims lock");
                if claims.is_empty() {
                    return None;
                }
                let at = rng.random_range(0..claims.len());
                Some(Request::Priority {
                    application: claims.swap_remove(at),
                    verify: rng.random_ratio(3, 4),
                })
            }
            Kind::Amend => self.amend(rng, today),
            Kind::Move => self.move_application(rng),
            Kind::Transfer => {
                let mut enrolled = self.enrolled.lock().expect("enrolled lock");
                if enrolled.is_empty() {
                    return None;
                }
                let at = rng.random_range(0..enrolled.len());
                let ((district, number), kindergarten) = enrolled.swap_remove(at);
                let other = kindergartens_of(district).find(|k| *k != kindergarten)?;
                self.transferring
                    .lock()
                    .expect("transferring lock")
                    .insert((district, number));
                Some(Request::Transfer {
                    application: (district, number),
                    to: other,
                })
            }
            Kind::MoveClock => {
                let step = CLOCK_STEPS_HOURS[rng.random_range(0..CLOCK_STEPS_HOURS.len())];
                let to = now + Duration::hours(step);
                (to <= self.setup.start + Duration::days(CLOCK_DAYS_MAX))
                    .then_some(Request::MoveClock { to })
            }
        }
    }

    /// An amendment of a queued application: a new phone, and in two of three cases new
    /// places wanted (kindergartens, language or start).
    fn amend(&self, rng: &mut SmallRng, today: NaiveDate) -> Option<Request> {
        let application = {
            let queued = self.queued.lock().expect("queued lock");
            *queued.get(rng.random_range(0..queued.len().max(1)))?
        };
        let serial = self.next_phone.fetch_add(1, Ordering::SeqCst);
        assert!(serial < 10_000_000, "phone serials run out");
        let mut change = Change {
            // As the service normalises it, so that the journal's amendment names it.
            phone: format!("+7702{serial:07}"),
            choices: None,
            language: None,
            desired_start: None,
        };
        match rng.random_range(0..6) {
            0 | 1 => change.choices = Some(self.choices(rng, application.0)),
            2 => change.language = Some(["any", "kk", "ru"][rng.random_range(0..3)].to_string()),
            3 => change.desired_start = Some(today + Duration::days(rng.random_range(0..60))),
            _ => {}
        }
        Some(Request::Amend {
            application,
            change,
        })
    }

    /// A move of a queued application to another district.
    fn move_application(&self, rng: &mut SmallRng) -> Option<Request> {
        let application = {
            let mut queued = self.queued.lock().expect("queued lock");
            if queued.is_empty() {
                return None;
            }
            let at = rng.random_range(0..queued.len());
            queued.swap_remove(at)
        };
        let others: Vec<u32> = (1..=DISTRICTS.len() as u32)
            .filter(|d| *d != application.0)
            .collect();
        let district = others[rng.random_range(0..others.len())];
        let language = match rng.random_range(0..3) {
            0 => Some("kk".to_string()),
            1 => Some("ru".to_string()),
            _ => None,
        };
        Some(Request::Move {
            application,
            to: Target {
                district,
                choices: self.choices(rng, district),
                language,
            },
        })
    }

    /// Kindergartens of `district` in an order of preference: none (any), one or two.
    fn choices(&self, rng: &mut SmallRng, district: u32) -> Vec<u32> {
        let mut choices: Vec<u32> = kindergartens_of(district).collect();
        let listed = match rng.random_range(0..10) {
            0..=2 => 0,
            3..=7 => 1,
            _ => 2,
        };
        for i in 0..listed {
            let j = rng.random_range(i..choices.len());
            choices.swap(i, j);
        }
        choices.truncate(listed);
        choices
    }

    fn code_known(&self, application: Id) -> bool {
        self.codes
            .lock()
            .expect("codes lock")
            .contains_key(&application)
    }

    /// Takes a known referral that `fits` out of the pool.
    fn take_referral(&self, rng: &mut SmallRng, fits: impl Fn(&Known) -> bool) -> Option<Known> {
        let mut pool = self.pool.lock().expect("pool lock");
        let candidates: Vec<usize> = (0..pool.len()).filter(|i| fits(&pool[*i])).collect();
        if candidates.is_empty() {
            return None;
        }
        Some(pool.swap_remove(candidates[rng.random_range(0..candidates.len())]))
    }

    /// A hand-in, or a decline when the parent's code is known.
    fn decide_referral(&self, rng: &mut SmallRng) -> Option<Request> {
        let known = self.take_referral(rng, |_| true)?;
        let referral = (known.district, known.number);
        // A decline needs the parent's code; the hand-in is the kindergarten's.
        Some(
            if self.code_known((known.district, known.application)) && rng.random_bool(0.5) {
                Request::Decline {
                    referral,
                    application: known.application,
                }
            } else {
                Request::HandIn {
                    referral,
                    kindergarten: known.kindergarten,
                }
            },
        )
    }

    fn report(&self, rng: &mut SmallRng, today: NaiveDate) -> Request {
        let year = self.cohorts()[rng.random_range(0..2)];
        let (born_from, born_to) = match rng.random_range(0..10) {
            0..=6 => ((year, 1, 1), (year, 12, 31)),
            7 | 8 => ((year, 1, 1), (year, 6, 30)),
            _ => ((year, 7, 1), (year, 12, 31)),
        };
        let day = |(y, m, d): (i32, u32, u32)| NaiveDate::from_ymd_opt(y, m, d).expect("a day");
        let kindergarten = rng.random_range(1..=KINDERGARTENS);
        Request::Report(Vacancy {
            district: district_of(kindergarten),
            kindergarten,
            born_from: day(born_from),
            born_to: day(born_to),
            language: ["kk", "ru"][rng.random_range(0..2)].to_string(),
            count: rng.random_range(1..=3),
            available_from: today + Duration::days([0, 15, 45, 90][rng.random_range(0..4)]),
        })
    }

    /// The birth years of the children registered: three and two years before the start.
    fn cohorts(&self) -> [i32; 2] {
        let year = local_date(self.setup.start).year();
        [year - 3, year - 2]
    }

    fn register(&self, rng: &mut SmallRng, today: NaiveDate) -> Request {
        let year = self.cohorts()[rng.random_range(0..2)];
        let birth =
            NaiveDate::from_ymd_opt(year, rng.random_range(1..=12), rng.random_range(1..=28))
                .expect("a day");
        let language = match rng.random_range(0..10) {
            0..=3 => Some("kk".to_string()),
            4..=6 => Some("ru".to_string()),
            _ => None,
        };
        let district = rng.random_range(1..=DISTRICTS.len() as u32);
        let choices = self.choices(rng, district);
        let claim = match rng.random_range(0..10) {
            0 => Some(CLAIMS[0].to_string()),
            1 | 2 => Some(CLAIMS[1].to_string()),
            _ => None,
        };
        Request::Register {
            iin: self.new_iin(rng, birth),
            form: Form {
                district,
                birth,
                language,
                choices,
                desired_start: today + Duration::days([0, 0, 10, 30, 60][rng.random_range(0..5)]),
                claim,
            },
        }
    }

    fn new_iin(&self, rng: &mut SmallRng, birth: NaiveDate) -> String {
        let sex = if rng.random_bool(0.5) {
            Sex::Male
        } else {
            Sex::Female
        };
        loop {
            let serial = self.next_serial.fetch_add(1, Ordering::SeqCst);
            // The IIN holds four digits of serial: beyond them children would repeat.
            assert!(serial < 10_000, "at most 9999 registrations a round");
            if let Some(iin) = Iin::synthesize(birth, sex, serial as u16) {
                return iin.as_string();
            }
        }
    }

    fn http(&self, request: &Request, key: String) -> HttpRequest {
        let bearer = |token: &String| Auth::Bearer(token.clone());
        let kindergarten_token = |id: u32| bearer(&self.setup.kindergartens[id as usize - 1]);
        let parent = |district: u32, application: u32| {
            let codes = self.codes.lock().expect("codes lock");
            Auth::AccessCode(codes[&(district, application)].clone())
        };
        let referral_path = |(d, n): Id, action: &str| {
            format!("/api/v1/referrals/{}-R{n}/{action}", district_code(d))
        };
        let (path, body, auth) = match request {
            Request::Register { form, iin } => (
                "/api/v1/applications".to_string(),
                Some(registration_body(form, iin)),
                Auth::None,
            ),
            Request::Report(v) => (
                format!("/api/v1/kindergartens/{}/vacancies", v.kindergarten),
                Some(json!({
                    "born_from": v.born_from.to_string(),
                    "born_to": v.born_to.to_string(),
                    "language": v.language,
                    "count": v.count,
                    "available_from": v.available_from.to_string(),
                })),
                kindergarten_token(v.kindergarten),
            ),
            Request::HandIn {
                referral,
                kindergarten,
            } => (
                referral_path(*referral, "hand-in"),
                None,
                kindergarten_token(*kindergarten),
            ),
            Request::Decline {
                referral,
                application,
            } => (
                referral_path(*referral, "decline"),
                None,
                parent(referral.0, *application),
            ),
            Request::Extend {
                referral,
                application,
            } => (
                referral_path(*referral, "extend"),
                None,
                parent(referral.0, *application),
            ),
            Request::Priority {
                application: (d, n),
                verify,
            } => {
                let path = format!("/api/v1/applications/{}-{n}/priority/", district_code(*d));
                let officer = bearer(&self.setup.officers[*d as usize - 1]);
                if *verify {
                    (path + "verify", None, officer)
                } else {
                    let body = json!({ "reason": "Құжат расталмады / Документ не подтверждён" });
                    (path + "reject", Some(body), officer)
                }
            }
            Request::MoveClock { to } => (
                "/api/v1/admin/clock".to_string(),
                Some(json!({ "now": to })),
                bearer(&self.setup.admin),
            ),
            Request::Amend {
                application: (d, n),
                change,
            } => {
                let mut body = json!({ "applicant_phone": change.phone });
                if let Some(choices) = &change.choices {
                    body["kindergartens"] = json!(choices);
                }
                if let Some(language) = &change.language {
                    body["language"] = json!(language);
                }
                if let Some(start) = change.desired_start {
                    body["desired_start"] = json!(start.to_string());
                }
                (
                    format!("/api/v1/applications/{}-{n}/amend", district_code(*d)),
                    Some(body),
                    parent(*d, *n),
                )
            }
            Request::Move {
                application: (d, n),
                to,
            } => (
                format!("/api/v1/applications/{}-{n}/move", district_code(*d)),
                Some(json!({
                    "district": district_code(to.district),
                    "kindergartens": to.choices,
                    "language": to.language.as_deref().unwrap_or("any"),
                })),
                parent(*d, *n),
            ),
            Request::Transfer {
                application: (d, n),
                to,
            } => (
                format!("/api/v1/applications/{}-{n}/transfer", district_code(*d)),
                Some(json!({ "kindergartens": [to] })),
                parent(*d, *n),
            ),
        };
        HttpRequest {
            path,
            body,
            auth,
            key,
        }
    }

    /// Learns the referrals, access codes and claims an answer carries.
    fn learn(&self, request: &Request, body: &Value) {
        let mut referrals = Vec::new();
        match request {
            Request::Register { form, .. } => {
                if let (Some(id), Some(code)) = (
                    body["number"].as_str().and_then(application_id),
                    body["access_code"].as_str(),
                ) {
                    self.codes
                        .lock()
                        .expect("codes lock")
                        .insert(id, code.to_string());
                    if form.claim.is_some() {
                        self.claims.lock().expect("claims lock").push(id);
                    }
                    self.queued.lock().expect("queued lock").push(id);
                }
                referrals.extend(known_referral(&body["referral"]));
            }
            Request::Amend { .. } | Request::Transfer { .. } => {
                referrals.extend(known_referral(&body["referral"]))
            }
            Request::Move { application, .. } => {
                if let (Some(id), Some(code)) = (
                    body["number"].as_str().and_then(application_id),
                    body["access_code"].as_str(),
                ) {
                    self.codes
                        .lock()
                        .expect("codes lock")
                        .insert(id, code.to_string());
                    // An undecided claim goes with the application.
                    let mut claims = self.claims.lock().expect("claims lock");
                    if let Some(claim) = claims.iter_mut().find(|c| *c == application) {
                        *claim = id;
                    }
                    drop(claims);
                    self.queued.lock().expect("queued lock").push(id);
                }
                referrals.extend(known_referral(&body["referral"]));
            }
            Request::HandIn { referral, .. } => {
                // A first enrolment may ask for a transfer later; a transfer's may not.
                if let Some(known) = known_referral(body) {
                    let application = (referral.0, known.application);
                    self.queued
                        .lock()
                        .expect("queued lock")
                        .retain(|id| *id != application);
                    let transferring = self
                        .transferring
                        .lock()
                        .expect("transferring lock")
                        .contains(&application);
                    if !transferring && self.code_known(application) {
                        self.enrolled
                            .lock()
                            .expect("enrolled lock")
                            .push((application, known.kindergarten));
                    }
                }
            }
            Request::Report(_) => {
                if let Some(list) = body["referrals"].as_array() {
                    referrals.extend(list.iter().filter_map(known_referral));
                }
            }
            // Back into the pool, extended: it may still be handed in or declined.
            Request::Extend { .. } => referrals.extend(known_referral(body)),
            Request::Decline { .. } | Request::Priority { .. } | Request::MoveClock { .. } => {}
        }
        self.pool.lock().expect("pool lock").extend(referrals);
    }

    /// After an acknowledged clock move: the referrals that expired are no longer anyone's
    /// to decide.
    fn forget_expired(&self, now: DateTime<Utc>) {
        self.pool
            .lock()
            .expect("pool lock")
            .retain(|k| k.valid_until > now);
    }
}

/// Kindergarten ids of a choice; empty: any.
fn choice_ids(choices: &kezek::domain::application::Choices) -> Vec<u32> {
    match choices {
        kezek::domain::application::Choices::Any => Vec::new(),
        kezek::domain::application::Choices::Listed(list) => list.iter().map(|k| k.0).collect(),
    }
}

pub(crate) fn registration_body(form: &Form, iin: &str) -> Value {
    let mut body = json!({
        "district": district_code(form.district),
        "child_iin": iin,
        "child_full_name": "Сынақ Бала",
        "child_birth_date": form.birth.to_string(),
        "applicant_iin": "791028302728",
        "applicant_full_name": "Сынақ Ата-ана",
        "applicant_phone": "+7 701 000 00 00",
        "applicant_address": "Астана, Сынақ көшесі 1",
        "applicant_relation": "mother",
        "desired_start": form.desired_start.to_string(),
        "kindergartens": form.choices,
        "language": form.language.as_deref().unwrap_or("any"),
    });
    if let Some(category) = &form.claim {
        body["priority_category"] = json!(category);
        body["priority_document"] = json!("№ 123 / 2026");
    }
    body
}

async fn send(client: &reqwest::Client, base: &str, http: &HttpRequest) -> Answer {
    let mut builder = client
        .post(format!("{base}{}", http.path))
        .header("Idempotency-Key", &http.key);
    builder = match &http.auth {
        Auth::None => builder,
        Auth::Bearer(token) => builder.bearer_auth(token),
        Auth::AccessCode(code) => builder.header("X-Access-Code", code),
    };
    if let Some(body) = &http.body {
        builder = builder.json(body);
    }
    let response = match builder.send().await {
        Ok(response) => response,
        Err(error) => return Answer::Unanswered(error.to_string()),
    };
    let status = response.status().as_u16();
    let replayed = response.headers().contains_key("idempotent-replayed");
    let text = match response.text().await {
        Ok(text) => text,
        // The head came, the body did not: the client has no acknowledgement.
        Err(error) => return Answer::Unanswered(error.to_string()),
    };
    match status {
        200..=299 => match serde_json::from_str(&text) {
            Ok(body) => Answer::Acknowledged {
                body,
                replayed,
                at: Instant::now(),
            },
            Err(_) => Answer::ServerError(status, format!("not JSON: {text}")),
        },
        500..=599 => Answer::ServerError(status, text),
        _ => Answer::Refused(status, text),
    }
}

/// One operation, built and sent at the clock it holds; a clock move holds it alone.
/// Returns whether it failed.
async fn one_op(shared: &Shared, rng: &mut SmallRng) -> bool {
    let held = shared.clock.read().await;
    let now = *held;
    let request = shared.choose(rng, now);
    let (mut held, mut exclusive) = (Some(held), None);
    if let Request::MoveClock { .. } = request {
        drop(held.take());
        let guard = shared.clock.write().await;
        // Another client moved it meanwhile: this move is no longer the one chosen.
        if *guard != now {
            return false;
        }
        exclusive = Some(guard);
    }
    let key = format!("crash-{:016x}", rng.random::<u64>());
    let http = shared.http(&request, key);
    let index = shared.next_index.fetch_add(1, Ordering::SeqCst);
    let sent_at = Instant::now();
    let answer = send(&shared.client, &shared.base, &http).await;
    if let Answer::Acknowledged { body, .. } = &answer {
        shared.learn(&request, body);
        if let (Request::MoveClock { to }, Some(guard)) = (&request, exclusive.as_mut()) {
            **guard = *to;
            shared.forget_expired(*to);
        }
    }
    drop((exclusive, held));
    let failed = !matches!(answer, Answer::Acknowledged { .. });
    shared.ops.lock().expect("ops lock").push(Op {
        index,
        request,
        http,
        sent_at,
        clock: now,
        answer,
    });
    failed
}

async fn client_task(shared: Arc<Shared>, mut rng: SmallRng) {
    while !shared.stop.load(Ordering::SeqCst) {
        if one_op(&shared, &mut rng).await {
            // The server is down (killed, or died): no tight loop of refused connections.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

impl Round {
    pub(crate) fn problem(&mut self, text: String) {
        self.problems.push(text);
    }

    fn log(&self, name: &str) -> Result<std::fs::File, String> {
        std::fs::File::create(self.dir.join(name)).map_err(|e| format!("creating {name}: {e}"))
    }

    pub(crate) fn start_server(&self, log: &str) -> Result<Server, String> {
        let mut child = Command::new(&self.kezek)
            .arg("--db")
            .arg(&self.db)
            .args(["serve", "--addr", "127.0.0.1:0", "--clock", "manual"])
            // One client address sends everything: no per-address lookup limit.
            .args(["--lookups-per-minute", "0", "--notify", "off"])
            // Nor registration quotas (src/http/admission.rs): one address registers all.
            .args(["--registrations-per-client-per-hour", "0"])
            .args(["--registrations-per-applicant-per-hour", "0"])
            .stdout(Stdio::piped())
            .stderr(self.log(log)?)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.kezek.display()))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        loop {
            line.clear();
            match stdout.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("the server did not start; see {log}"));
                }
                Ok(_) => {}
            }
            if let Some(base) = line.trim().strip_prefix("listening on ") {
                return Ok(Server {
                    base: base.to_string(),
                    child,
                    _stdout: stdout,
                });
            }
        }
    }

    pub(crate) fn staff_add(&self, args: &[&str]) -> Result<String, String> {
        let output = Command::new(&self.kezek)
            .arg("--db")
            .arg(&self.db)
            .args(["staff", "add"])
            .args(args)
            .output()
            .map_err(|e| format!("running staff add: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "staff add {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    async fn setup(
        &self,
        client: &reqwest::Client,
        server: &Server,
        admin: String,
    ) -> Result<Setup, String> {
        // Tomorrow's local noon (UTC+5): ahead of the real clock, so the manual clock may
        // move there, and far from a local midnight.
        let local_today = (Utc::now() + Duration::hours(5)).date_naive();
        let today = local_today + Duration::days(1);
        let start = Utc.from_utc_datetime(&today.and_hms_opt(7, 0, 0).expect("07:00"));
        let post = |path: &str, body: Value| {
            client
                .post(format!("{}{path}", server.base))
                .bearer_auth(&admin)
                .json(&body)
                .send()
        };
        let check = |what: &str, response: reqwest::Result<reqwest::Response>| match response {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("setup: {what} answered {}", r.status())),
            Err(e) => Err(format!("setup: {what}: {e}")),
        };
        check(
            "setting the clock",
            post("/api/v1/admin/clock", json!({ "now": start })).await,
        )?;
        let names = |text: &str| json!({ "kk": text, "ru": text });
        let (mut kindergartens, mut officers) = (Vec::new(), Vec::new());
        for (d, code) in DISTRICTS.iter().enumerate() {
            let district = json!({ "code": code, "names": names(code), "languages": ["kk", "ru"] });
            check(
                "creating a district",
                post("/api/v1/districts", district).await,
            )?;
            officers.push(self.staff_add(&["--role", "officer", "--district", code])?);
            for id in kindergartens_of(d as u32 + 1) {
                let body = json!({
                    "district": code,
                    "number": id.to_string(),
                    "names": names(&format!("№ {id}")),
                    "address": format!("Астана, {id}"),
                });
                check(
                    "creating a kindergarten",
                    post("/api/v1/kindergartens", body).await,
                )?;
                let id = id.to_string();
                kindergartens.push(self.staff_add(&[
                    "--role",
                    "kindergarten",
                    "--kindergarten",
                    &id,
                ])?);
            }
        }
        Ok(Setup {
            admin,
            kindergartens,
            officers,
            start,
        })
    }

    async fn run(&mut self, seed: u64) -> Result<(), String> {
        let mut rng = SmallRng::seed_from_u64(seed);
        let admin = self.staff_add(&["--role", "admin"])?;
        let server = self.start_server("server-1.log")?;
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        let setup = self.setup(&client, &server, admin).await?;
        let shared = Arc::new(Shared {
            client: client.clone(),
            base: server.base.clone(),
            clock: tokio::sync::RwLock::new(setup.start),
            setup,
            stop: AtomicBool::new(false),
            next_index: AtomicUsize::new(1),
            next_serial: AtomicU32::new(1),
            pool: Mutex::new(Vec::new()),
            claims: Mutex::new(Vec::new()),
            codes: Mutex::new(HashMap::new()),
            queued: Mutex::new(Vec::new()),
            enrolled: Mutex::new(Vec::new()),
            transferring: Mutex::new(HashSet::new()),
            next_phone: AtomicU32::new(0),
            ops: Mutex::new(Vec::new()),
        });
        let (ops, killed_at) = self.load(&shared, server, &mut rng).await?;
        if rng.random_ratio(1, RECOVERY_KILL_ONE_IN) {
            let after_ms = rng.random_range(0..=RECOVERY_KILL_MS_MAX);
            self.counts.recovery_killed_ms = Some(after_ms);
            self.kill_while_recovering(after_ms).await?;
        }
        let restarted = self.start_server("server-2.log")?;
        let after = Check::read(&self.db)?;
        let (model, matched) = self.check(&ops, killed_at, &after);
        self.check_api(&client, &restarted, &shared.setup, &ops, &model, &matched)
            .await;
        drop(restarted);
        self.verify();
        Ok(())
    }

    /// Concurrent clients until the kill; returns every operation sent, in the order sent,
    /// and the instant the server was dead.
    async fn load(
        &mut self,
        shared: &Arc<Shared>,
        mut server: Server,
        rng: &mut SmallRng,
    ) -> Result<(Vec<Op>, Instant), String> {
        let clients = rng.random_range(CLIENTS_MIN..=CLIENTS_MAX);
        self.counts.clients = clients;
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let task_rng = SmallRng::seed_from_u64(rng.random());
                tokio::spawn(client_task(Arc::clone(shared), task_rng))
            })
            .collect();
        let load_ms = rng.random_range(LOAD_MS_MIN..=LOAD_MS_MAX);
        self.counts.load_ms = load_ms;
        tokio::time::sleep(std::time::Duration::from_millis(load_ms)).await;
        server.kill();
        let killed_at = Instant::now();
        shared.stop.store(true, Ordering::SeqCst);
        for task in tasks {
            task.await
                .map_err(|e| format!("a client task panicked: {e}"))?;
        }
        let mut ops = std::mem::take(&mut *shared.ops.lock().expect("ops lock"));
        ops.sort_by_key(|op| op.index);
        self.counts.sent = ops.len();
        self.counts.acknowledged = ops.iter().filter(|o| o.acknowledged().is_some()).count();
        self.counts.unanswered = ops.iter().filter(|o| o.unanswered()).count();
        self.counts.clock_moves = ops
            .iter()
            .filter(|o| !o.journaled() && o.acknowledged().is_some())
            .count();
        Ok((ops, killed_at))
    }

    /// A second crash, during recovery: the service is killed while it opens the file,
    /// rebuilds its state or has just started serving.
    async fn kill_while_recovering(&self, after_ms: u64) -> Result<(), String> {
        let mut child = Command::new(&self.kezek)
            .arg("--db")
            .arg(&self.db)
            .args(["serve", "--addr", "127.0.0.1:0", "--clock", "manual"])
            .args(["--notify", "off"])
            .stdout(Stdio::null())
            .stderr(self.log("server-recovery.log")?)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.kezek.display()))?;
        tokio::time::sleep(std::time::Duration::from_millis(after_ms)).await;
        let _ = child.kill();
        let _ = child.wait();
        Ok(())
    }

    pub(crate) fn verify(&mut self) {
        match Command::new(&self.kezek)
            .arg("--db")
            .arg(&self.db)
            .arg("verify")
            .output()
        {
            Ok(output) if output.status.success() => {}
            Ok(output) => self.problem(format!(
                "kezek verify failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )),
            Err(e) => self.problem(format!("running kezek verify: {e}")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// What the restarted service has: the journal split into commands, and the tables.
// ---------------------------------------------------------------------------------------

/// One command as the journal has it: its leading event and the referrals it issued.
#[derive(Debug)]
struct JournalOp {
    seq: u64,
    kind: JournalKind,
    issued: Vec<Issued>,
    /// Each issued referral's (issued_at, valid_until), in microseconds.
    terms: Vec<(i64, i64)>,
    /// Every event of the command.
    seqs: Vec<u64>,
}

#[derive(Debug)]
enum JournalKind {
    Register {
        number: u32,
        iin: String,
        form: Form,
        registered_at_micros: i64,
        /// Its access code's event follows it.
        access_code: bool,
    },
    Report {
        places: Vec<u64>,
        vacancy: Vacancy,
    },
    /// A hand-in; a transfer's frees the child's old place as a new one (id, as reported).
    HandIn {
        referral: Id,
        at: i64,
        freed: Option<(u64, Vacancy)>,
    },
    /// The amendable values after the amendment (the phone names the request).
    Amend {
        application: Id,
        phone: String,
        choices: Vec<u32>,
        language: Option<String>,
        desired_start: NaiveDate,
    },
    Move {
        from: Id,
        to: Id,
        target: Target,
        registered_at_micros: i64,
        tier: u8,
        /// Its access code's event follows it.
        access_code: bool,
    },
    Transfer {
        application: Id,
        requested_at_micros: i64,
        choices: Vec<u32>,
    },
    Decline {
        referral: Id,
        at: i64,
        held_until: i64,
    },
    Extend {
        referral: Id,
        valid_until: i64,
    },
    /// `Some(tier)`: verified.
    Priority {
        application: Id,
        verified: Option<u8>,
    },
    /// What fell due at one instant, processed by a tick (nobody's request): stop lists
    /// ended and referrals expired, each expiry with the end of its child's stop list.
    Tick {
        at: i64,
        due: Vec<Due>,
        held_until: Vec<(Due, i64)>,
    },
}

impl JournalKind {
    fn describe(&self) -> String {
        let referral = |(d, n): &Id| format!("{}-R{n}", district_code(*d));
        match self {
            JournalKind::Register { number, form, .. } => {
                format!("registration {}-{number}", district_code(form.district))
            }
            JournalKind::Report { places, .. } => format!("report of places {places:?}"),
            JournalKind::HandIn { referral: r, .. } => format!("hand-in of {}", referral(r)),
            JournalKind::Amend {
                application: (d, n),
                ..
            } => format!("amendment of {}-{n}", district_code(*d)),
            JournalKind::Move {
                from: (d, n), to, ..
            } => format!("move of {}-{n} to {to:?}", district_code(*d)),
            JournalKind::Transfer {
                application: (d, n),
                ..
            } => format!("transfer request of {}-{n}", district_code(*d)),
            JournalKind::Decline { referral: r, .. } => format!("decline of {}", referral(r)),
            JournalKind::Extend { referral: r, .. } => format!("extension of {}", referral(r)),
            JournalKind::Priority {
                application: (d, n),
                ..
            } => format!("priority decision on {}-{n}", district_code(*d)),
            JournalKind::Tick { at, due, .. } => format!("tick at {at}: {due:?}"),
        }
    }

    /// The application whose history holds the command's leading event, when the command
    /// names it (a referral's holder is looked up in the referrals table).
    fn subject(&self, after: &Check) -> Option<Id> {
        let holder = |(d, n): &Id| Some((*d, after.referrals.get(&(*d, *n))?.application));
        match self {
            JournalKind::Register { number, form, .. } => Some((form.district, *number)),
            JournalKind::HandIn { referral: r, .. }
            | JournalKind::Decline { referral: r, .. }
            | JournalKind::Extend { referral: r, .. } => holder(r),
            JournalKind::Priority { application, .. }
            | JournalKind::Amend { application, .. }
            | JournalKind::Transfer { application, .. } => Some(*application),
            JournalKind::Move { from, .. } => Some(*from),
            JournalKind::Report { .. } | JournalKind::Tick { .. } => None,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
struct ApplicationRow {
    status: String,
    tier: u8,
    held: bool,
    active: bool,
}

#[derive(Debug, PartialEq, Eq)]
struct PlaceRow {
    kindergarten: u32,
    filled: bool,
}

#[derive(Debug, PartialEq, Eq)]
struct ReferralRow {
    place: u64,
    application: u32,
    kindergarten: u32,
    status: String,
    extended: bool,
}

/// The database after the restart.
struct Check {
    journal: Vec<JournalOp>,
    /// Problems met while splitting the journal.
    journal_problems: Vec<String>,
    setup_events: usize,
    applications: BTreeMap<Id, ApplicationRow>,
    places: BTreeMap<u64, PlaceRow>,
    referrals: BTreeMap<Id, ReferralRow>,
    /// (scope, key) → the remembered outcome.
    idempotency: BTreeMap<(String, String), String>,
    /// (district, registration number, seq) of the application history.
    history: BTreeSet<(u32, u32, u64)>,
    /// (seq, kind) of the outbox.
    outbox: BTreeSet<(u64, String)>,
    events: usize,
    /// Referrals issued to transfer requests, as the journal goes.
    transfer_referrals: HashSet<Id>,
}

/// Every row of `sql`, each turned into an item by `row`.
fn rows<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, String> {
    let error = |e: rusqlite::Error| format!("reading the database ({sql}): {e}");
    let mut statement = conn.prepare(sql).map_err(error)?;
    let items = statement
        .query_map([], row)
        .map_err(error)?
        .collect::<Result<_, _>>()
        .map_err(error)?;
    Ok(items)
}

fn read_tables(conn: &rusqlite::Connection, check: &mut Check) -> Result<(), String> {
    check.applications = rows(
        conn,
        "SELECT district_id, registration_number, status, tier, held_until IS NOT NULL, active \
         FROM applications",
        |r| {
            let row = ApplicationRow {
                status: r.get(2)?,
                tier: r.get(3)?,
                held: r.get(4)?,
                active: r.get(5)?,
            };
            Ok(((r.get(0)?, r.get(1)?), row))
        },
    )?
    .into_iter()
    .collect();
    check.places = rows(
        conn,
        "SELECT id, kindergarten_id, filled FROM places",
        |r| {
            let row = PlaceRow {
                kindergarten: r.get(1)?,
                filled: r.get(2)?,
            };
            Ok((r.get::<_, i64>(0)? as u64, row))
        },
    )?
    .into_iter()
    .collect();
    check.referrals = rows(
        conn,
        "SELECT district_id, number, place_id, application_number, kindergarten_id, status, \
         extended FROM referrals",
        |r| {
            let row = ReferralRow {
                place: r.get::<_, i64>(2)? as u64,
                application: r.get(3)?,
                kindergarten: r.get(4)?,
                status: r.get(5)?,
                extended: r.get(6)?,
            };
            Ok(((r.get(0)?, r.get(1)?), row))
        },
    )?
    .into_iter()
    .collect();
    check.idempotency = rows(
        conn,
        "SELECT scope, key, outcome FROM idempotency_keys",
        |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)),
    )?
    .into_iter()
    .collect();
    check.history = rows(
        conn,
        "SELECT district_id, registration_number, seq FROM application_events",
        |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)),
    )?
    .into_iter()
    .collect();
    check.outbox = rows(conn, "SELECT seq, kind FROM outbox", |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
    })?
    .into_iter()
    .collect();
    Ok(())
}

impl Check {
    fn read(db: &Path) -> Result<Check, String> {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let conn = rusqlite::Connection::open_with_flags(db, flags).map_err(|e| e.to_string())?;
        // Each event joined with its personal part, as the service's own replay reads it.
        let mut events = Vec::new();
        kezek::store::for_each_event(&conn, |recorded| {
            events.push((recorded.seq, recorded.event().map_err(|e| e.to_string())));
            Ok(true)
        })
        .map_err(|e| e.to_string())?;
        let mut check = Check {
            journal: Vec::new(),
            journal_problems: Vec::new(),
            setup_events: 0,
            events: events.len(),
            applications: BTreeMap::new(),
            places: BTreeMap::new(),
            referrals: BTreeMap::new(),
            idempotency: BTreeMap::new(),
            history: BTreeSet::new(),
            outbox: BTreeSet::new(),
            transfer_referrals: HashSet::new(),
        };
        read_tables(&conn, &mut check)?;
        for (seq, event) in events {
            let event = event.map_err(|e| format!("event {seq} does not decode: {e}"))?;
            check.split(seq, event)?;
        }
        Ok(check)
    }

    fn start(&mut self, seq: u64, kind: JournalKind) {
        self.journal.push(JournalOp {
            seq,
            kind,
            issued: Vec::new(),
            terms: Vec::new(),
            seqs: vec![seq],
        });
    }

    /// Splits the journal into commands: each of the workload's commands starts with one
    /// leading event; the referrals it issued and the access code follow it. A tick's
    /// events at one instant (ends of stop lists, then expiries, then referrals) are one.
    fn split(&mut self, seq: u64, event: Event) -> Result<(), String> {
        match event {
            Event::DistrictCreated(_) | Event::KindergartenCreated(_) => {
                if !self.journal.is_empty() {
                    self.journal_problems
                        .push(format!("event {seq}: the catalog changed during the load"));
                }
                self.setup_events += 1;
            }
            Event::ApplicationRegistered(application) => self.registered(seq, &application),
            Event::AccessCodeIssued { id, .. } => {
                self.access_code(seq, (id.district.0, id.number.0))
            }
            Event::PlacesReported { places } => self.reported(seq, &places)?,
            Event::ReferralHandedIn { id, at } => self.start(
                seq,
                JournalKind::HandIn {
                    referral: (id.district.0, id.number.0),
                    at: at.timestamp_micros(),
                    freed: None,
                },
            ),
            Event::ApplicationAmended { id, amendment } => self.start(
                seq,
                JournalKind::Amend {
                    application: (id.district.0, id.number.0),
                    phone: amendment.phone.clone(),
                    choices: choice_ids(&amendment.choices),
                    language: amendment.language.map(|l| l.code().to_string()),
                    desired_start: amendment.desired_start,
                },
            ),
            Event::ApplicationMoved { from, to } => self.start(
                seq,
                JournalKind::Move {
                    from: (from.district.0, from.number.0),
                    to: (to.id.district.0, to.id.number.0),
                    target: Target {
                        district: to.id.district.0,
                        choices: choice_ids(&to.choices),
                        language: to.language.map(|l| l.code().to_string()),
                    },
                    registered_at_micros: to.registered_at.timestamp_micros(),
                    tier: to.tier.as_u8(),
                    access_code: false,
                },
            ),
            Event::TransferRequested(request) => self.start(
                seq,
                JournalKind::Transfer {
                    application: (request.id.district.0, request.id.number.0),
                    requested_at_micros: request.requested_at.timestamp_micros(),
                    choices: request.choices.iter().map(|k| k.0).collect(),
                },
            ),
            Event::ReferralExtended { id, valid_until } => self.start(
                seq,
                JournalKind::Extend {
                    referral: (id.district.0, id.number.0),
                    valid_until: valid_until.timestamp_micros(),
                },
            ),
            Event::PriorityVerified { id, tier } => self.start(
                seq,
                JournalKind::Priority {
                    application: (id.district.0, id.number.0),
                    verified: Some(tier.as_u8()),
                },
            ),
            Event::PriorityRejected { id, .. } => self.start(
                seq,
                JournalKind::Priority {
                    application: (id.district.0, id.number.0),
                    verified: None,
                },
            ),
            Event::ReferralLapsed {
                id,
                lapse,
                at,
                held_until,
                ..
            } => self.lapsed(seq, (id.district.0, id.number.0), &lapse, at, held_until),
            Event::StopListEnded { id, at } => {
                let due = Due::StopListEnds(id.district.0, id.number.0);
                self.tick(seq, at.timestamp_micros(), due, None)
            }
            Event::ReferralIssued { referral, .. } => match self.journal.last_mut() {
                Some(op) => {
                    if referral.transfer {
                        self.transfer_referrals
                            .insert((referral.id.district.0, referral.id.number.0));
                    }
                    op.issued.push(Issued {
                        district: referral.id.district.0,
                        number: referral.id.number.0,
                        place: referral.place.0,
                        application: referral.application.number.0,
                        kindergarten: referral.kindergarten.0,
                    });
                    op.terms.push((
                        referral.issued_at.timestamp_micros(),
                        referral.valid_until.timestamp_micros(),
                    ));
                    op.seqs.push(seq);
                }
                None => self
                    .journal_problems
                    .push(format!("event {seq}: a referral before any command")),
            },
            other => self.journal_problems.push(format!(
                "event {seq}: {} is not part of this workload",
                other.kind()
            )),
        }
        Ok(())
    }

    fn registered(&mut self, seq: u64, application: &kezek::domain::application::Application) {
        let choices = choice_ids(&application.choices);
        let kind = JournalKind::Register {
            number: application.id.number.0,
            iin: application.child.iin.as_string(),
            form: Form {
                district: application.id.district.0,
                birth: application.child.birth_date,
                language: application.language.map(|l| l.code().to_string()),
                choices,
                desired_start: application.desired_start,
                claim: application.priority.as_ref().map(|p| p.category.clone()),
            },
            registered_at_micros: application.registered_at.timestamp_micros(),
            access_code: false,
        };
        self.start(seq, kind);
    }

    fn reported(
        &mut self,
        seq: u64,
        places: &[kezek::domain::referral::FreePlace],
    ) -> Result<(), String> {
        let Some(first) = places.first() else {
            return Err(format!("event {seq}: a report of no places"));
        };
        let vacancy = Vacancy {
            district: first.district.0,
            kindergarten: first.kindergarten.0,
            born_from: first.age_band.born_from,
            born_to: first.age_band.born_to,
            language: first.language.code().to_string(),
            count: places.len() as u32,
            available_from: first.available_from,
        };
        // A transfer handed in frees the child's old place in the same command.
        if let Some(JournalOp {
            kind: JournalKind::HandIn {
                referral, freed, ..
            },
            issued,
            seqs,
            ..
        }) = self.journal.last_mut()
        {
            if self.transfer_referrals.contains(referral) && freed.is_none() && issued.is_empty() {
                *freed = Some((first.id.0, vacancy));
                seqs.push(seq);
                return Ok(());
            }
        }
        let kind = JournalKind::Report {
            places: places.iter().map(|p| p.id.0).collect(),
            vacancy,
        };
        self.start(seq, kind);
        Ok(())
    }

    /// A decline is a client's command; an expiry is part of a tick.
    fn lapsed(
        &mut self,
        seq: u64,
        referral: Id,
        lapse: &kezek::domain::referral::Lapse,
        at: DateTime<Utc>,
        held_until: DateTime<Utc>,
    ) {
        let (at, held_until) = (at.timestamp_micros(), held_until.timestamp_micros());
        match lapse {
            kezek::domain::referral::Lapse::Declined => self.start(
                seq,
                JournalKind::Decline {
                    referral,
                    at,
                    held_until,
                },
            ),
            kezek::domain::referral::Lapse::Expired => {
                let due = Due::ReferralExpires(referral.0, referral.1);
                self.tick(seq, at, due, Some(held_until))
            }
            other => self.journal_problems.push(format!(
                "event {seq}: a lapse this workload does not cause: {other:?}"
            )),
        }
    }

    fn access_code(&mut self, seq: u64, application: Id) {
        if let Some(JournalOp {
            kind:
                JournalKind::Move {
                    to,
                    access_code: access_code @ false,
                    ..
                },
            issued,
            seqs,
            ..
        }) = self.journal.last_mut()
        {
            if *to == application && issued.is_empty() {
                *access_code = true;
                seqs.push(seq);
                return;
            }
        }
        match self.journal.last_mut() {
            Some(JournalOp {
                kind:
                    JournalKind::Register {
                        number,
                        form,
                        access_code: access_code @ false,
                        ..
                    },
                issued,
                seqs,
                ..
            }) if (form.district, *number) == application && issued.is_empty() => {
                *access_code = true;
                seqs.push(seq)
            }
            _ => self.journal_problems.push(format!(
                "event {seq}: an access code for {application:?} outside its registration"
            )),
        }
    }

    /// Adds what fell due at `at` to the tick of that instant, or starts one.
    fn tick(&mut self, seq: u64, at: i64, item: Due, held: Option<i64>) {
        match self.journal.last_mut() {
            Some(JournalOp {
                kind:
                    JournalKind::Tick {
                        at: tick_at,
                        due,
                        held_until,
                    },
                issued,
                seqs,
                ..
            }) if *tick_at == at && issued.is_empty() => {
                due.push(item);
                held_until.extend(held.map(|h| (item, h)));
                seqs.push(seq);
            }
            _ => self.start(
                seq,
                JournalKind::Tick {
                    at,
                    due: vec![item],
                    held_until: held.map(|h| (item, h)).into_iter().collect(),
                },
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The checks.
// ---------------------------------------------------------------------------------------

/// The op's Idempotency-Key as the service files it: the table holds the key's hash and
/// the answer sealed with the key (kezek::service::idempotency).
fn idempotency(op: &Op) -> kezek::service::Idempotency {
    kezek::service::Idempotency {
        scope: scope(op),
        key: op.http.key.clone(),
        fingerprint: [0; 32],
    }
}

/// The record of the op's key: (scope, stored key).
fn record_key(op: &Op) -> (String, String) {
    (
        scope(op),
        kezek::service::idempotency::stored_key(&idempotency(op)),
    )
}

/// The answer remembered for the op's key, opened.
fn remembered(after: &Check, op: &Op) -> Option<String> {
    let sealed = after.idempotency.get(&record_key(op))?;
    kezek::service::idempotency::open(&idempotency(op), sealed)
}

/// The idempotency scope of an operation, as the service keys it (staff accounts are
/// named by `kezek staff add`: role, scope, serial).
fn scope(op: &Op) -> String {
    match &op.request {
        Request::Register { .. }
        | Request::Decline { .. }
        | Request::Extend { .. }
        | Request::Amend { .. }
        | Request::Move { .. }
        | Request::Transfer { .. } => "portal".to_string(),
        Request::Report(v) => format!("staff:kindergarten-{}-1", v.kindergarten),
        Request::HandIn { kindergarten, .. } => format!("staff:kindergarten-{kindergarten}-1"),
        Request::Priority {
            application: (d, _),
            ..
        } => format!("staff:officer-d{d}-1"),
        Request::MoveClock { .. } => "staff:admin-1".to_string(),
    }
}

/// Operations sent before this clock time may have had their Idempotency-Key records
/// forgotten: a tick forgets those older than the window, and the clock went this far.
fn forgettable_before(ops: &[Op]) -> DateTime<Utc> {
    let window = Duration::hours(kezek::store::IDEMPOTENCY_WINDOW_HOURS);
    ops.iter()
        .filter_map(|op| match op.request {
            Request::MoveClock { to } => Some(to - window),
            _ => None,
        })
        .max()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The journal command a tick is: no client's operation.
const TICK: usize = usize::MAX - 1;
/// A journal command no operation matches (already reported).
const UNMATCHED: usize = usize::MAX;

impl Round {
    /// The checks on the database; returns the model after the replay and, for each
    /// journal command, the index of its operation (`TICK`, `UNMATCHED`: none).
    fn check(&mut self, ops: &[Op], killed_at: Instant, after: &Check) -> (Model, Vec<usize>) {
        self.counts.events = after.events;
        for problem in &after.journal_problems {
            self.problems.push(format!("journal: {problem}"));
        }
        let catalog_events = DISTRICTS.len() + KINDERGARTENS as usize;
        if after.setup_events != catalog_events {
            self.problem(format!(
                "journal: {} catalog events, expected {catalog_events}",
                after.setup_events
            ));
        }
        let matched = self.match_journal(ops, after);
        let present: BTreeMap<usize, usize> =
            matched.iter().enumerate().map(|(j, op)| (*op, j)).collect();
        self.check_presence(ops, &present, killed_at);
        // 2. Whole or absent: the rows beside the events.
        self.check_rows(ops, &matched, after);
        self.check_order(ops, &present, after);
        // 4. The model, in journal order.
        let model = self.replay(ops, &matched, after);
        self.check_nothing_pending(ops, &model);
        self.compare_tables(&model, after);
        (model, matched)
    }

    /// 1. Acknowledged means present; refused or sent after the kill means absent.
    fn check_presence(&mut self, ops: &[Op], present: &BTreeMap<usize, usize>, killed_at: Instant) {
        for (i, op) in ops.iter().enumerate() {
            let found = present.contains_key(&i);
            match &op.answer {
                Answer::Acknowledged { replayed: true, .. } => self.problem(format!(
                    "{}: answered as a replay, but its key was new",
                    op.describe()
                )),
                Answer::Acknowledged { .. } if !found && op.journaled() => self.problem(format!(
                    "LOST: {} is not in the journal after the restart",
                    op.describe()
                )),
                Answer::Refused(status, body) => {
                    if !op.refusal_allowed() {
                        self.problem(format!(
                            "{}: the workload sends only valid requests, got {status} {body}",
                            op.describe()
                        ));
                    }
                    if found {
                        self.problem(format!("{}: refused, yet in the journal", op.describe()));
                    }
                }
                _ if found && op.sent_at > killed_at => self.problem(format!(
                    "{}: sent after the kill, yet in the journal",
                    op.describe()
                )),
                _ => {}
            }
            if op.unanswered() && found {
                self.counts.unanswered_present += 1;
            }
        }
    }

    /// 3. Real-time order: B sent after A was acknowledged comes after A.
    fn check_order(&mut self, ops: &[Op], present: &BTreeMap<usize, usize>, after: &Check) {
        let seq_of = |i: usize| present.get(&i).map(|j| after.journal[*j].seq);
        let mut acked: Vec<(Instant, u64, usize)> = ops
            .iter()
            .enumerate()
            .filter_map(|(i, op)| match op.answer {
                Answer::Acknowledged { at, .. } => Some((at, seq_of(i)?, i)),
                _ => None,
            })
            .collect();
        acked.sort();
        for (i, op) in ops.iter().enumerate() {
            let Some(seq) = seq_of(i) else { continue };
            if let Some((_, earlier_seq, earlier)) = acked
                .iter()
                .filter(|(at, _, _)| *at < op.sent_at)
                .find(|(_, s, _)| *s > seq)
            {
                self.problem(format!(
                    "ORDER: {} (event {seq}) was sent after {} was acknowledged, yet comes \
                     before it (event {earlier_seq})",
                    op.describe(),
                    ops[*earlier].describe()
                ));
            }
        }
    }

    /// An acknowledged clock move processed everything due by then: the model, after the
    /// replay, has no deadline left at or before the latest one.
    fn check_nothing_pending(&mut self, ops: &[Op], model: &Model) {
        let latest = ops
            .iter()
            .filter(|op| op.acknowledged().is_some())
            .filter_map(|op| match op.request {
                Request::MoveClock { to } => Some(to),
                _ => None,
            })
            .max();
        let Some(latest) = latest else { return };
        for (at, due) in model.deadlines() {
            if at <= latest.timestamp_micros() {
                self.problem(format!(
                    "MISSED: {due:?} fell due at {at}, before the acknowledged move of the \
                     clock to {latest}, and was never processed"
                ));
            }
        }
    }

    /// For each journal command, the index of the operation it is.
    fn match_journal(&mut self, ops: &[Op], after: &Check) -> Vec<usize> {
        let mut by_iin = HashMap::new();
        let mut by_phone = HashMap::new();
        let mut by_places = HashMap::new();
        // (what, district, number): referral and application actions.
        let mut by_target = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            match &op.request {
                Request::Register { iin, .. } => {
                    by_iin.insert(iin.clone(), i);
                }
                Request::Report(_) => {
                    // The answer names the places; without one, the record of the key does.
                    let outcome = op.acknowledged().cloned().or_else(|| {
                        let remembered = remembered(after, op)?;
                        let outcome: Value = serde_json::from_str(&remembered).ok()?;
                        let places = &outcome["PlacesReported"]["places"];
                        Some(json!({ "places": places }))
                    });
                    if let Some(first) = outcome.and_then(|o| o["places"][0].as_u64()) {
                        by_places.insert(first, i);
                    }
                }
                Request::HandIn { referral, .. } => {
                    by_target.insert(("hand-in", *referral), i);
                }
                Request::Decline { referral, .. } => {
                    by_target.insert(("decline", *referral), i);
                }
                Request::Extend { referral, .. } => {
                    by_target.insert(("extend", *referral), i);
                }
                Request::Priority { application, .. } => {
                    by_target.insert(("priority", *application), i);
                }
                Request::Amend { change, .. } => {
                    by_phone.insert(change.phone.clone(), i);
                }
                Request::Move { application, .. } => {
                    by_target.insert(("move", *application), i);
                }
                Request::Transfer { application, .. } => {
                    by_target.insert(("transfer", *application), i);
                }
                Request::MoveClock { .. } => {}
            }
        }
        let mut matched = Vec::new();
        let mut taken = BTreeSet::new();
        for journal_op in &after.journal {
            let op = match &journal_op.kind {
                JournalKind::Register { iin, .. } => by_iin.get(iin),
                JournalKind::Report { places, .. } => by_places.get(&places[0]),
                JournalKind::HandIn { referral, .. } => by_target.get(&("hand-in", *referral)),
                JournalKind::Amend { phone, .. } => by_phone.get(phone),
                JournalKind::Move { from, .. } => by_target.get(&("move", *from)),
                JournalKind::Transfer { application, .. } => {
                    by_target.get(&("transfer", *application))
                }
                JournalKind::Decline { referral, .. } => by_target.get(&("decline", *referral)),
                JournalKind::Extend { referral, .. } => by_target.get(&("extend", *referral)),
                JournalKind::Priority { application, .. } => {
                    by_target.get(&("priority", *application))
                }
                JournalKind::Tick { .. } => {
                    matched.push(TICK);
                    continue;
                }
            };
            match op {
                Some(&i) if taken.insert(i) => matched.push(i),
                Some(&i) => {
                    self.problem(format!(
                        "TWICE: the journal's {} (event {}) is {} a second time",
                        journal_op.kind.describe(),
                        journal_op.seq,
                        ops[i].describe()
                    ));
                    matched.push(UNMATCHED);
                }
                None => {
                    self.problem(format!(
                        "PHANTOM: the journal's {} (event {}) matches no request any client \
                         sent (or its Idempotency-Key record is missing)",
                        journal_op.kind.describe(),
                        journal_op.seq
                    ));
                    matched.push(UNMATCHED);
                }
            }
        }
        matched
    }

    /// The rows a command writes beside its events, all or none.
    fn check_rows(&mut self, ops: &[Op], matched: &[usize], after: &Check) {
        let present: BTreeSet<usize> = matched.iter().copied().collect();
        let forgettable = forgettable_before(ops);
        for (i, op) in ops.iter().enumerate() {
            let record = after.idempotency.contains_key(&record_key(op));
            let found = present.contains(&i);
            let forgotten = found && !record && op.clock < forgettable;
            if record != found && !forgotten && !matches!(op.answer, Answer::Refused(..)) {
                self.problem(format!(
                    "HALF: {}: {} the journal, but its Idempotency-Key record is {}",
                    op.describe(),
                    if found { "in" } else { "not in" },
                    if record { "there" } else { "missing" }
                ));
            }
        }
        let keys: BTreeSet<(String, String)> = ops.iter().map(record_key).collect();
        for key in after.idempotency.keys() {
            if !keys.contains(key) {
                self.problem(format!("an Idempotency-Key record {key:?} nobody sent"));
            }
        }
        self.check_event_rows(after);
    }

    /// Each journal command's rows beside its events: history rows, outbox messages, the
    /// access code; and no message of an event that is not there.
    fn check_event_rows(&mut self, after: &Check) {
        for journal_op in &after.journal {
            let described = journal_op.kind.describe();
            if let JournalKind::Register {
                access_code,
                form,
                number,
                ..
            } = &journal_op.kind
            {
                if !access_code {
                    self.problem(format!(
                        "HALF: {described} (event {}) has no access code event",
                        journal_op.seq
                    ));
                }
                // The registration's own events (and referral at once) are its history.
                let (district, number) = (form.district, *number);
                for seq in &journal_op.seqs {
                    if !after.history.contains(&(district, number, *seq)) {
                        self.problem(format!(
                            "HALF: {described}: event {seq} is not in its history rows"
                        ));
                    }
                }
                if !after
                    .outbox
                    .contains(&(journal_op.seq, "registered".into()))
                {
                    self.problem(format!(
                        "HALF: {described}: no 'registered' message for event {}",
                        journal_op.seq
                    ));
                }
            }
            let subject = journal_op.kind.subject(after);
            if !matches!(journal_op.kind, JournalKind::Register { .. })
                && subject.is_some_and(|(d, n)| !after.history.contains(&(d, n, journal_op.seq)))
            {
                self.problem(format!(
                    "HALF: the {described} (event {}) is not in the history of its application \
                     {subject:?}",
                    journal_op.seq
                ));
            }
            self.check_issued_rows(journal_op, after);
        }
        let seqs: BTreeSet<u64> = after.journal.iter().flat_map(|j| j.seqs.clone()).collect();
        for (seq, kind) in &after.outbox {
            if !seqs.contains(seq) {
                self.problem(format!(
                    "HALF: an outbox message ({kind}) of event {seq}, not a workload event"
                ));
            }
        }
    }

    /// Each referral a command issued has its message and its history row.
    fn check_issued_rows(&mut self, journal_op: &JournalOp, after: &Check) {
        for (seq, issued) in journal_op
            .seqs
            .iter()
            .rev()
            .zip(journal_op.issued.iter().rev())
        {
            let code = district_code(issued.district);
            if !after.outbox.contains(&(*seq, "referral_issued".into())) {
                self.problem(format!(
                    "HALF: referral {code}-R{}: no 'referral_issued' message for event {seq}",
                    issued.number
                ));
            }
            if !after
                .history
                .contains(&(issued.district, issued.application, *seq))
            {
                self.problem(format!(
                    "HALF: referral {code}-R{} (event {seq}) is not in the history of {code}-{}",
                    issued.number, issued.application
                ));
            }
        }
    }

    /// Replays the journal's commands, matched to what the clients sent, and its ticks in
    /// the model; compares each command's effects with the journal and with the answer.
    fn replay(&mut self, ops: &[Op], matched: &[usize], after: &Check) -> Model {
        let mut model = Model::new(DISTRICTS.len() as u32);
        let latest_move = ops
            .iter()
            .filter_map(|op| match op.request {
                Request::MoveClock { to } => Some(to.timestamp_micros()),
                _ => None,
            })
            .max();
        for (journal_op, &i) in after.journal.iter().zip(matched) {
            let (context, step) = if let JournalKind::Tick {
                at,
                due,
                held_until,
            } = &journal_op.kind
            {
                let context = format!("{} (event {})", journal_op.kind.describe(), journal_op.seq);
                if latest_move.is_none_or(|latest| *at > latest) {
                    self.problem(format!(
                        "{context}: processed, yet the clock was never moved that far"
                    ));
                }
                self.counts.expired += held_until.len();
                self.counts.released += due.len() - held_until.len();
                (context, model.tick(*at, due, held_until).map(|r| (r, None)))
            } else {
                let Some(op) = ops.get(i) else { continue };
                let context = format!("{} (event {})", op.describe(), journal_op.seq);
                let step = self.replay_op(&mut model, op, journal_op, &context);
                (context, step)
            };
            let (expected, answered) = match step {
                Ok(step) => step,
                Err(e) => {
                    self.problem(format!("{context}: the model cannot take it: {e}"));
                    continue;
                }
            };
            self.compare_issued(&mut model, journal_op, &expected, answered, &context);
        }
        model
    }

    /// One client's operation in the model: the referrals it issues there, and the
    /// referral numbers its answer gave (if it was answered).
    fn replay_op(
        &mut self,
        model: &mut Model,
        op: &Op,
        journal_op: &JournalOp,
        context: &str,
    ) -> Result<(Vec<Issued>, Option<Vec<u32>>), String> {
        match (&op.request, &journal_op.kind) {
            (Request::Register { form, .. }, JournalKind::Register { .. }) => {
                self.replay_registration(model, op, form, journal_op, context)
            }
            (Request::Report(sent), JournalKind::Report { places, vacancy }) => {
                if sent != vacancy {
                    self.problem(format!(
                        "{context}: recorded as {vacancy:?}, sent as {sent:?}"
                    ));
                }
                self.replay_report(model, op, sent, places, context)
            }
            (
                Request::HandIn { referral, .. },
                JournalKind::HandIn {
                    referral: r,
                    at,
                    freed,
                },
            ) if referral == r => {
                let model_freed = model.hand_in(r.0, r.1, *at)?;
                self.counts.transferred += usize::from(freed.is_some());
                let place = |f: &Option<(u64, Vacancy)>| f.as_ref().map(|(id, _)| *id);
                let found = freed
                    .as_ref()
                    .map(|(id, vacancy)| (*id, &model.places[*id as usize - 1].vacancy == vacancy));
                if place(freed) != model_freed.map(|(id, _)| id)
                    || found.is_some_and(|(_, same)| !same)
                {
                    return Err(format!(
                        "the journal frees {freed:?}, the model {:?}",
                        model_freed.map(|(id, _)| &model.places[id as usize - 1])
                    ));
                }
                Ok((model_freed.and_then(|(_, r)| r).into_iter().collect(), None))
            }
            (Request::Amend { .. }, JournalKind::Amend { .. }) => {
                self.counts.amended += 1;
                self.replay_amendment(model, op, &journal_op.kind)
            }
            (Request::Move { application, to }, JournalKind::Move { .. }) => {
                self.counts.moved += 1;
                self.replay_move(model, op, (application, to), &journal_op.kind)
            }
            (
                Request::Transfer { application, to },
                JournalKind::Transfer {
                    application: a,
                    requested_at_micros,
                    choices,
                },
            ) if application == a && *choices == [*to] => {
                self.counts.transfers += 1;
                let issued =
                    model.request_transfer(a.0, a.1, choices.clone(), *requested_at_micros)?;
                let answered = op.acknowledged().map(|body| {
                    known_referral(&body["referral"])
                        .map(|r| r.number)
                        .into_iter()
                        .collect()
                });
                // The answer names the child's own referral; the others went to others.
                let own: Vec<u32> = issued
                    .iter()
                    .filter(|r| r.application == a.1)
                    .map(|r| r.number)
                    .collect();
                if answered
                    .as_ref()
                    .is_some_and(|answered: &Vec<u32>| *answered != own)
                {
                    return Err(format!(
                        "answered {answered:?}, the model's own referral {own:?}"
                    ));
                }
                Ok((issued, None))
            }
            (
                Request::Decline { referral, .. },
                JournalKind::Decline {
                    referral: r,
                    at,
                    held_until,
                },
            ) if referral == r => model
                .decline(r.0, r.1, *at, *held_until)
                .map(|next| (next.into_iter().collect(), None)),
            (
                Request::Extend { referral, .. },
                JournalKind::Extend {
                    referral: r,
                    valid_until,
                },
            ) if referral == r => model
                .extend(r.0, r.1, *valid_until)
                .map(|()| (Vec::new(), None)),
            (
                Request::Priority {
                    application,
                    verify,
                },
                JournalKind::Priority {
                    application: a,
                    verified,
                },
            ) if application == a && *verify == verified.is_some() => {
                self.counts.decisions += 1;
                model
                    .decide(a.0, a.1, *verified)
                    .map(|()| (Vec::new(), None))
            }
            (_, kind) => Err(format!("matched to the journal's {kind:?}")),
        }
    }

    /// An amendment in the model: the journal's values must be what was sent applied to the
    /// model's application; the referral at once against the answer's.
    fn replay_amendment(
        &mut self,
        model: &mut Model,
        op: &Op,
        kind: &JournalKind,
    ) -> Result<(Vec<Issued>, Option<Vec<u32>>), String> {
        let (
            Request::Amend {
                application,
                change,
            },
            JournalKind::Amend {
                application: a,
                choices,
                language,
                desired_start,
                ..
            },
        ) = (&op.request, kind)
        else {
            unreachable!("matched by kind")
        };
        let before = model
            .child(a.0, a.1)
            .ok_or_else(|| format!("{a:?} was never registered"))?
            .form
            .clone();
        let sent_language = change
            .language
            .as_ref()
            .map(|l| (l != "any").then(|| l.clone()));
        let expected = (
            change.choices.clone().unwrap_or(before.choices),
            sent_language.unwrap_or(before.language),
            change.desired_start.unwrap_or(before.desired_start),
        );
        if application != a || expected != (choices.clone(), language.clone(), *desired_start) {
            return Err(format!(
                "recorded as {kind:?}, the model expects {expected:?} for {application:?}"
            ));
        }
        let referral = model.amend(a.0, a.1, choices.clone(), language.clone(), *desired_start)?;
        let answered = op.acknowledged().map(|body| {
            known_referral(&body["referral"])
                .map(|r| r.number)
                .into_iter()
                .collect()
        });
        Ok((referral.into_iter().collect(), answered))
    }

    /// A move in the model: the new number, time and tier against the journal's and the
    /// answer's; the referral at once against the answer's.
    fn replay_move(
        &mut self,
        model: &mut Model,
        op: &Op,
        (application, sent): (&Id, &Target),
        kind: &JournalKind,
    ) -> Result<(Vec<Issued>, Option<Vec<u32>>), String> {
        let JournalKind::Move {
            from,
            to,
            target,
            registered_at_micros,
            tier,
            access_code,
        } = kind
        else {
            unreachable!("matched by kind")
        };
        if from != application || target != sent || !access_code {
            return Err(format!("recorded as {kind:?}, sent as {sent:?}"));
        }
        let before = model
            .child(from.0, from.1)
            .map(|c| (c.registered_at_micros, c.tier))
            .ok_or_else(|| format!("{from:?} was never registered"))?;
        if before != (*registered_at_micros, *tier) {
            return Err(format!(
                "moved with time and tier {:?}, the policy keeps {before:?}",
                (registered_at_micros, tier)
            ));
        }
        let (number, referral) = model.move_to(
            *from,
            target.district,
            target.choices.clone(),
            target.language.clone(),
        )?;
        if (target.district, number) != *to {
            return Err(format!(
                "moved to {to:?}, the model's next number is {number}"
            ));
        }
        let answered = op.acknowledged().map(|body| {
            let id = body["number"].as_str().and_then(application_id);
            (id, known_referral(&body["referral"]).map(|r| r.number))
        });
        if let Some((id, _)) = answered {
            if id != Some(*to) {
                return Err(format!("ANSWER: answered {id:?}, the journal has {to:?}"));
            }
        }
        Ok((
            referral.into_iter().collect(),
            answered.map(|(_, r)| r.into_iter().collect()),
        ))
    }

    /// The referrals the model issued against the journal's and the answer's; the
    /// journal's deadlines go into the model.
    fn compare_issued(
        &mut self,
        model: &mut Model,
        journal_op: &JournalOp,
        expected: &[Issued],
        answered: Option<Vec<u32>>,
        context: &str,
    ) {
        if expected != journal_op.issued {
            self.problem(format!(
                "REFERRALS: {context}: the model issues {expected:?}, the journal has {:?}",
                journal_op.issued
            ));
            return;
        }
        for (issued, (issued_at, valid_until)) in journal_op.issued.iter().zip(&journal_op.terms) {
            if let Err(e) =
                model.set_terms(issued.district, issued.number, *issued_at, *valid_until)
            {
                self.problem(format!("{context}: {e}"));
            }
        }
        let journal: Vec<u32> = journal_op.issued.iter().map(|r| r.number).collect();
        if answered
            .as_ref()
            .is_some_and(|answered| *answered != journal)
        {
            self.problem(format!(
                "ANSWER: {context}: answered referrals {answered:?}, the journal has {journal:?}"
            ));
        }
    }

    /// The model's referrals for a registration, and the referral numbers its answer gave.
    fn replay_registration(
        &mut self,
        model: &mut Model,
        op: &Op,
        form: &Form,
        journal_op: &JournalOp,
        context: &str,
    ) -> Result<(Vec<Issued>, Option<Vec<u32>>), String> {
        let JournalKind::Register {
            number,
            form: recorded,
            registered_at_micros,
            ..
        } = &journal_op.kind
        else {
            unreachable!("matched by kind")
        };
        if form != recorded {
            self.problem(format!(
                "{context}: recorded as {recorded:?}, sent as {form:?}"
            ));
        }
        let (model_number, referral) = model.register(form.clone(), *registered_at_micros);
        if model_number != *number {
            self.problem(format!(
                "{context}: registered as number {number}, the model's next number is \
                 {model_number}"
            ));
        }
        let answered = op.acknowledged().map(|body| {
            let answered_id = body["number"].as_str().and_then(application_id);
            (answered_id, known_referral(&body["referral"]))
        });
        if let Some((answered_id, _)) = answered {
            if answered_id != Some((form.district, *number)) {
                self.problem(format!(
                    "ANSWER: {context}: answered {answered_id:?}, the journal has number {number}"
                ));
            }
        }
        let answered =
            answered.map(|(_, referral)| referral.map(|r| r.number).into_iter().collect());
        Ok((referral.into_iter().collect(), answered))
    }

    /// The model's referrals for a report, and the referral numbers its answer gave.
    fn replay_report(
        &mut self,
        model: &mut Model,
        op: &Op,
        sent: &Vacancy,
        places: &[u64],
        context: &str,
    ) -> Result<(Vec<Issued>, Option<Vec<u32>>), String> {
        let (model_places, referrals) = model.report(sent.clone());
        if model_places != places {
            self.problem(format!(
                "{context}: places {places:?} in the journal, the model's are {model_places:?}"
            ));
        }
        let Some(body) = op.acknowledged() else {
            return Ok((referrals, None));
        };
        let answered_places: Vec<u64> = body["places"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        if answered_places != places {
            self.problem(format!(
                "ANSWER: {context}: answered places {answered_places:?}, the journal has {places:?}"
            ));
        }
        let answered = body["referrals"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(known_referral)
                    .map(|k| k.number)
                    .collect()
            })
            .unwrap_or_default();
        Ok((referrals, Some(answered)))
    }

    fn compare_tables(&mut self, model: &Model, after: &Check) {
        let expected: BTreeMap<Id, ApplicationRow> = model
            .books
            .iter()
            .flat_map(|book| &book.children)
            .map(|c| {
                let (status, held, active) = match c.state {
                    ChildState::Waiting { held_until } => ("queued", held_until.is_some(), true),
                    ChildState::Referred(_) => ("referred", false, true),
                    ChildState::Enrolled => ("enrolled", false, false),
                    ChildState::Moved => ("moved", false, false),
                };
                let row = ApplicationRow {
                    status: status.to_string(),
                    tier: c.tier,
                    held,
                    active,
                };
                ((c.district, c.number), row)
            })
            .collect();
        self.compare("application", &expected, &after.applications);
        let expected: BTreeMap<u64, PlaceRow> = model
            .places
            .iter()
            .map(|p| {
                let row = PlaceRow {
                    kindergarten: p.vacancy.kindergarten,
                    filled: p.state == PlaceState::Filled,
                };
                (p.id, row)
            })
            .collect();
        self.compare("place", &expected, &after.places);
        let expected: BTreeMap<Id, ReferralRow> = model
            .books
            .iter()
            .flat_map(|book| &book.referrals)
            .map(|r| {
                let row = ReferralRow {
                    place: r.issued.place,
                    application: r.issued.application,
                    kindergarten: r.issued.kindergarten,
                    status: r.state.code().to_string(),
                    extended: r.extended,
                };
                ((r.issued.district, r.issued.number), row)
            })
            .collect();
        self.compare("referral", &expected, &after.referrals);
    }

    fn compare<K: Ord + std::fmt::Debug + Copy, V: PartialEq + std::fmt::Debug>(
        &mut self,
        what: &str,
        expected: &BTreeMap<K, V>,
        found: &BTreeMap<K, V>,
    ) {
        let keys: BTreeSet<K> = expected.keys().chain(found.keys()).copied().collect();
        for key in keys {
            let (e, f) = (expected.get(&key), found.get(&key));
            if e != f {
                self.problem(format!(
                    "TABLE: {what} {key:?}: the model has {e:?}, the database {f:?}"
                ));
            }
        }
    }

    /// The restarted service, over HTTP: queue order, each acknowledged parent's view, and
    /// replays of the operations found present.
    async fn check_api(
        &mut self,
        client: &reqwest::Client,
        server: &Server,
        setup: &Setup,
        ops: &[Op],
        model: &Model,
        matched: &[usize],
    ) {
        let year = local_date(setup.start).year();
        for district in 1..=DISTRICTS.len() as u32 {
            for cohort in [year - 3, year - 2] {
                let all = std::iter::once(None);
                for kindergarten in all.chain(kindergartens_of(district).map(Some)) {
                    let found = self
                        .queue(client, server, district, cohort, kindergarten)
                        .await;
                    match found {
                        Ok(found) => {
                            let expected = model.queue(district, cohort, kindergarten);
                            if found != expected {
                                self.problem(format!(
                                    "QUEUE: {}, cohort {cohort}, kindergarten {kindergarten:?}: \
                                     the model has (number, on stop list) {expected:?}, the \
                                     service {found:?}",
                                    district_code(district)
                                ));
                            }
                        }
                        Err(e) => self.problem(e),
                    }
                }
            }
        }
        self.check_parents(client, server, ops, model).await;
        self.check_retries(client, server, ops, matched).await;
    }

    async fn queue(
        &self,
        client: &reqwest::Client,
        server: &Server,
        district: u32,
        cohort: i32,
        kindergarten: Option<u32>,
    ) -> Result<Vec<(u32, bool)>, String> {
        let mut entries = Vec::new();
        loop {
            let mut url = format!(
                "{}/api/v1/districts/{}/queue?cohort={cohort}&limit={QUEUE_PAGE}&offset={}",
                server.base,
                district_code(district),
                entries.len()
            );
            if let Some(k) = kindergarten {
                url.push_str(&format!("&kindergarten={k}"));
            }
            let page: Value = client
                .get(&url)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| format!("reading the queue: {e}"))?
                .json()
                .await
                .map_err(|e| format!("reading the queue: {e}"))?;
            let list = page["entries"].as_array().cloned().unwrap_or_default();
            for entry in &list {
                let (_, number) = entry["number"]
                    .as_str()
                    .and_then(application_id)
                    .ok_or_else(|| format!("a queue entry without a number: {entry}"))?;
                entries.push((number, entry["on_stop_list"].as_bool() == Some(true)));
            }
            if list.len() < QUEUE_PAGE {
                return Ok(entries);
            }
        }
    }

    /// Every acknowledged registration opens with its code and shows the model's status.
    async fn check_parents(
        &mut self,
        client: &reqwest::Client,
        server: &Server,
        ops: &[Op],
        model: &Model,
    ) {
        for op in ops {
            let (Request::Register { .. }, Some(body)) = (&op.request, op.acknowledged()) else {
                continue;
            };
            let (Some(id), Some(code)) = (
                body["number"].as_str().and_then(application_id),
                body["access_code"].as_str(),
            ) else {
                self.problem(format!(
                    "{}: an answer without number or code",
                    op.describe()
                ));
                continue;
            };
            match parent_view(client, server, id, code).await {
                Ok(view) => self.compare_parent_view(model, id, &view),
                Err(e) => self.problem(format!("LOST: {}: after the restart, {e}", op.describe())),
            }
        }
    }

    /// The application's status, tier and latest referral as the parent sees them, against
    /// the model.
    fn compare_parent_view(&mut self, model: &Model, (district, number): Id, view: &Value) {
        let Some(child) = model.child(district, number) else {
            // Not in the model: `check` has reported the registration lost.
            return;
        };
        let status = match child.state {
            ChildState::Waiting { .. } => "queued",
            ChildState::Referred(_) => "referred",
            ChildState::Enrolled => "enrolled",
            ChildState::Moved => "moved",
        };
        let latest = model.books[district as usize - 1]
            .referrals
            .iter()
            .rev()
            .find(|r| r.issued.application == number)
            .map(|r| (r.issued.number, r.state.code()));
        let referral = &view["referral"];
        let shown = referral["number"]
            .as_str()
            .and_then(referral_id)
            .map(|(_, n)| (n, referral["status"].as_str().unwrap_or("")));
        if view["status"] != status || shown != latest {
            self.problem(format!(
                "PARENT: {}-{number}: the model has {status} (latest referral {latest:?}), the \
                 service shows {} (latest referral {shown:?})",
                district_code(district),
                view["status"]
            ));
        }
    }

    /// A retry of an operation found present is answered from its record: the same answer,
    /// marked as a replay, and nothing runs again.
    async fn check_retries(
        &mut self,
        client: &reqwest::Client,
        server: &Server,
        ops: &[Op],
        matched: &[usize],
    ) {
        let present: BTreeSet<usize> = matched.iter().copied().collect();
        let forgettable = forgettable_before(ops);
        // Every unanswered operation found present, and the first acknowledged one of each
        // kind, whose first answer the client has to compare with; a record the window may
        // have forgotten answers nothing.
        let mut kinds_seen = HashSet::new();
        let retried: Vec<&Op> = ops
            .iter()
            .enumerate()
            .filter(|(i, op)| {
                present.contains(i)
                    && op.clock >= forgettable
                    && (op.unanswered()
                        || (op.acknowledged().is_some()
                            && kinds_seen.insert(std::mem::discriminant(&op.request))))
            })
            .map(|(_, op)| op)
            .collect();
        for op in retried {
            match send(client, &server.base, &op.http).await {
                Answer::Acknowledged {
                    body,
                    replayed: true,
                    ..
                } => {
                    if let Some(first) = op.acknowledged() {
                        if *first != body {
                            self.problem(format!(
                                "RETRY: {}: the replay answers {body}, the first answer was {first}",
                                op.describe()
                            ));
                        }
                    }
                }
                other => self.problem(format!(
                    "RETRY: {}: present, yet a retry with its key was answered {other:?}, not \
                     as a replay",
                    op.describe()
                )),
            }
        }
    }
}

/// GET the application as its parent: number and access code.
async fn parent_view(
    client: &reqwest::Client,
    server: &Server,
    (district, number): Id,
    code: &str,
) -> Result<Value, String> {
    let name = format!("{}-{number}", district_code(district));
    let url = format!("{}/api/v1/applications/{name}", server.base);
    let response = client
        .get(url)
        .header("X-Access-Code", code)
        .send()
        .await
        .map_err(|e| format!("{name}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!(
            "{name} with its code answers {}",
            response.status()
        ));
    }
    response.json().await.map_err(|e| format!("{name}: {e}"))
}
