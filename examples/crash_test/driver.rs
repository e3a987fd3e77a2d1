//! One crash-test round against the real `kezek serve` binary.
//!
//! A round starts the service on a fresh database in its own directory (manual clock, so
//! that nothing falls due while it runs), creates a district and three kindergartens
//! through the admin API, and lets several client tasks send registrations, free-place
//! reports, hand-ins and declines concurrently. After a random 50–800 ms it kills the
//! service with SIGKILL (in one round of three, kills it again early in its restart),
//! starts it again on the same file and checks what survived:
//!
//! 1. every acknowledged operation (a 2xx answer reached the client) is in the journal;
//! 2. no operation is half there: the journal splits into whole commands that each match
//!    one operation the clients sent, and each present operation has all its rows (its
//!    Idempotency-Key record, its outbox messages, its application history rows), each
//!    absent one none; operations refused, or sent after the kill, are absent;
//! 3. the journal's order respects real time: an operation sent after another was
//!    acknowledged comes after it;
//! 4. a replay of the present operations, in journal order, in the reference model of
//!    `model.rs` gives the same registration numbers, places and referrals as the journal
//!    and as the answers the clients got, and the same final tables (applications,
//!    places, referrals) and queue order (read back over the public API, per cohort and
//!    per kindergarten) as the restarted service;
//! 5. the restarted service answers every acknowledged parent from its application, and a
//!    retry with the same Idempotency-Key of each operation found present is answered
//!    from the record, changing nothing;
//! 6. `kezek verify` passes on the file.
//!
//! The round's seed fixes its workload (the children, the choices of each client, the
//! moment of the kill); the interleaving of the clients and the point the kill lands in
//! are the machine's, which is the point.

use crate::model::{ChildState, Form, Issued, Model, PlaceState, Vacancy};
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
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

pub const DISTRICT: &str = "CRT";
const KINDERGARTENS: u32 = 3;
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
/// A request the dead server never answers is cut off by the kill, not by this; it only
/// keeps a hung round from hanging the run.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The public queue's largest page.
const QUEUE_PAGE: usize = 500;

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
    if let Err(problem) = runtime.block_on(round.run(config.seed)) {
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

struct Round {
    kezek: PathBuf,
    dir: PathBuf,
    db: PathBuf,
    problems: Vec<String>,
    counts: Counts,
}

/// A running `kezek serve`.
struct Server {
    child: Child,
    base: String,
    /// Kept open: the server's stdout must not become a broken pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    fn kill(&mut self) {
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

/// The staff tokens and the dates a round works with.
struct Setup {
    /// Kindergarten accounts' tokens, index `id - 1`.
    kindergartens: Vec<String>,
    /// The manual clock's local date, for the whole round.
    today: NaiveDate,
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

#[derive(Clone, Debug)]
enum Request {
    Register { form: Form, iin: String },
    Report(Vacancy),
    HandIn { referral: u32, kindergarten: u32 },
    Decline { referral: u32, application: u32 },
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

    fn describe(&self) -> String {
        let what = match &self.request {
            Request::Register { form, .. } => format!(
                "register (born {}, language {}, kindergartens {:?}, from {})",
                form.birth,
                form.language.as_deref().unwrap_or("any"),
                form.choices,
                form.desired_start
            ),
            Request::Report(v) => format!(
                "report {} place(s) at kindergarten {} (born {}..{}, {}, from {})",
                v.count, v.kindergarten, v.born_from, v.born_to, v.language, v.available_from
            ),
            Request::HandIn { referral, .. } => format!("hand in {DISTRICT}-R{referral}"),
            Request::Decline { referral, .. } => format!("decline {DISTRICT}-R{referral}"),
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
    number: u32,
    kindergarten: u32,
    application: u32,
}

/// What the client tasks share.
struct Shared {
    client: reqwest::Client,
    base: String,
    setup: Setup,
    stop: AtomicBool,
    next_index: AtomicUsize,
    /// IIN serials: one per registration, so that every child is new.
    next_serial: AtomicU32,
    /// Referrals nobody has decided yet; a client takes one out to decide it, so that no
    /// two clients decide the same referral.
    pool: Mutex<Vec<Known>>,
    /// Access codes by application number, from the registrations' answers.
    codes: Mutex<HashMap<u32, String>>,
    ops: Mutex<Vec<Op>>,
}

fn number_after(text: &str, prefix: &str) -> Option<u32> {
    text.strip_prefix(prefix)?.parse().ok()
}

fn application_number(text: &str) -> Option<u32> {
    number_after(text, &format!("{DISTRICT}-"))
}

fn referral_number(text: &str) -> Option<u32> {
    number_after(text, &format!("{DISTRICT}-R"))
}

/// A referral view of an answer as (number, place unknown, application, kindergarten).
fn known_referral(view: &Value) -> Option<Known> {
    Some(Known {
        number: referral_number(view["number"].as_str()?)?,
        application: application_number(view["application"].as_str()?)?,
        kindergarten: u32::try_from(view["kindergarten"].as_u64()?).ok()?,
    })
}

impl Shared {
    fn choose(&self, rng: &mut SmallRng) -> Request {
        let roll = rng.random_range(0..100);
        if roll < 35 {
            let taken = {
                let mut pool = self.pool.lock().expect("pool lock");
                (!pool.is_empty()).then(|| {
                    let at = rng.random_range(0..pool.len());
                    pool.swap_remove(at)
                })
            };
            if let Some(known) = taken {
                let code_known = self
                    .codes
                    .lock()
                    .expect("codes lock")
                    .contains_key(&known.application);
                // A decline needs the parent's code; the hand-in is the kindergarten's.
                return if code_known && rng.random_bool(0.5) {
                    Request::Decline {
                        referral: known.number,
                        application: known.application,
                    }
                } else {
                    Request::HandIn {
                        referral: known.number,
                        kindergarten: known.kindergarten,
                    }
                };
            }
        }
        let today = self.setup.today;
        let cohorts = [today.year() - 3, today.year() - 2];
        if roll < 55 {
            let year = cohorts[rng.random_range(0..2)];
            let (born_from, born_to) = match rng.random_range(0..10) {
                0..=6 => ((year, 1, 1), (year, 12, 31)),
                7 | 8 => ((year, 1, 1), (year, 6, 30)),
                _ => ((year, 7, 1), (year, 12, 31)),
            };
            let day = |(y, m, d): (i32, u32, u32)| NaiveDate::from_ymd_opt(y, m, d).expect("a day");
            return Request::Report(Vacancy {
                kindergarten: rng.random_range(1..=KINDERGARTENS),
                born_from: day(born_from),
                born_to: day(born_to),
                language: ["kk", "ru"][rng.random_range(0..2)].to_string(),
                count: rng.random_range(1..=3),
                available_from: today + Duration::days([0, 15, 45, 90][rng.random_range(0..4)]),
            });
        }
        let year = cohorts[rng.random_range(0..2)];
        let birth =
            NaiveDate::from_ymd_opt(year, rng.random_range(1..=12), rng.random_range(1..=28))
                .expect("a day");
        let language = match rng.random_range(0..10) {
            0..=3 => Some("kk".to_string()),
            4..=6 => Some("ru".to_string()),
            _ => None,
        };
        let mut choices: Vec<u32> = (1..=KINDERGARTENS).collect();
        let listed = match rng.random_range(0..10) {
            0..=2 => 0,
            3..=6 => 1,
            _ => 2,
        };
        for i in 0..listed {
            let j = rng.random_range(i..choices.len());
            choices.swap(i, j);
        }
        choices.truncate(listed);
        let sex = if rng.random_bool(0.5) {
            Sex::Male
        } else {
            Sex::Female
        };
        let iin = loop {
            let serial = self.next_serial.fetch_add(1, Ordering::SeqCst);
            // The IIN holds four digits of serial: beyond them children would repeat.
            assert!(serial < 10_000, "at most 9999 registrations a round");
            let serial = serial as u16;
            if let Some(iin) = Iin::synthesize(birth, sex, serial) {
                break iin.as_string();
            }
        };
        Request::Register {
            form: Form {
                birth,
                language,
                choices,
                desired_start: today + Duration::days([0, 0, 10, 30, 60][rng.random_range(0..5)]),
            },
            iin,
        }
    }

    fn http(&self, request: &Request, key: String) -> HttpRequest {
        let kindergarten_token =
            |id: u32| Auth::Bearer(self.setup.kindergartens[id as usize - 1].clone());
        match request {
            Request::Register { form, iin } => HttpRequest {
                path: "/api/v1/applications".into(),
                body: Some(json!({
                    "district": DISTRICT,
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
                })),
                auth: Auth::None,
                key,
            },
            Request::Report(v) => HttpRequest {
                path: format!("/api/v1/kindergartens/{}/vacancies", v.kindergarten),
                body: Some(json!({
                    "born_from": v.born_from.to_string(),
                    "born_to": v.born_to.to_string(),
                    "language": v.language,
                    "count": v.count,
                    "available_from": v.available_from.to_string(),
                })),
                auth: kindergarten_token(v.kindergarten),
                key,
            },
            Request::HandIn {
                referral,
                kindergarten,
            } => HttpRequest {
                path: format!("/api/v1/referrals/{DISTRICT}-R{referral}/hand-in"),
                body: None,
                auth: kindergarten_token(*kindergarten),
                key,
            },
            Request::Decline {
                referral,
                application,
            } => {
                let code = self.codes.lock().expect("codes lock")[application].clone();
                HttpRequest {
                    path: format!("/api/v1/referrals/{DISTRICT}-R{referral}/decline"),
                    body: None,
                    auth: Auth::AccessCode(code),
                    key,
                }
            }
        }
    }

    /// Learns the referrals and access codes an answer carries.
    fn learn(&self, request: &Request, body: &Value) {
        let mut referrals = Vec::new();
        match request {
            Request::Register { .. } => {
                if let (Some(number), Some(code)) = (
                    body["number"].as_str().and_then(application_number),
                    body["access_code"].as_str(),
                ) {
                    self.codes
                        .lock()
                        .expect("codes lock")
                        .insert(number, code.to_string());
                }
                referrals.extend(known_referral(&body["referral"]));
            }
            Request::Report(_) => {
                if let Some(list) = body["referrals"].as_array() {
                    referrals.extend(list.iter().filter_map(known_referral));
                }
            }
            Request::HandIn { .. } | Request::Decline { .. } => {}
        }
        self.pool.lock().expect("pool lock").extend(referrals);
    }
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

async fn client_task(shared: Arc<Shared>, mut rng: SmallRng) {
    while !shared.stop.load(Ordering::SeqCst) {
        let request = shared.choose(&mut rng);
        let key = format!("crash-{:016x}", rng.random::<u64>());
        let http = shared.http(&request, key);
        let index = shared.next_index.fetch_add(1, Ordering::SeqCst);
        let sent_at = Instant::now();
        let answer = send(&shared.client, &shared.base, &http).await;
        if let Answer::Acknowledged { body, .. } = &answer {
            shared.learn(&request, body);
        }
        let failed = !matches!(answer, Answer::Acknowledged { .. });
        shared.ops.lock().expect("ops lock").push(Op {
            index,
            request,
            http,
            sent_at,
            answer,
        });
        if failed {
            // The server is down (killed, or died): no tight loop of refused connections.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

impl Round {
    fn problem(&mut self, text: String) {
        self.problems.push(text);
    }

    fn log(&self, name: &str) -> Result<std::fs::File, String> {
        std::fs::File::create(self.dir.join(name)).map_err(|e| format!("creating {name}: {e}"))
    }

    fn start_server(&self, log: &str) -> Result<Server, String> {
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

    fn staff_add(&self, args: &[&str]) -> Result<String, String> {
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
        // move there, and far from a local midnight, so "today" is one day all round.
        let local_today = (Utc::now() + Duration::hours(5)).date_naive();
        let today = local_today + Duration::days(1);
        let now = Utc.from_utc_datetime(&today.and_hms_opt(7, 0, 0).expect("07:00"));
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
            post("/api/v1/admin/clock", json!({ "now": now })).await,
        )?;
        let names = |text: &str| json!({ "kk": text, "ru": text });
        check(
            "creating the district",
            post(
                "/api/v1/districts",
                json!({ "code": DISTRICT, "names": names("Сынақ"), "languages": ["kk", "ru"] }),
            )
            .await,
        )?;
        let mut kindergartens = Vec::new();
        for id in 1..=KINDERGARTENS {
            let body = json!({
                "district": DISTRICT,
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
        Ok(Setup {
            kindergartens,
            today,
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
            setup,
            stop: AtomicBool::new(false),
            next_index: AtomicUsize::new(1),
            next_serial: AtomicU32::new(1),
            pool: Mutex::new(Vec::new()),
            codes: Mutex::new(HashMap::new()),
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

    fn verify(&mut self) {
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
    HandIn(u32),
    Decline(u32),
}

impl JournalKind {
    fn describe(&self) -> String {
        match self {
            JournalKind::Register { number, .. } => format!("registration {DISTRICT}-{number}"),
            JournalKind::Report { places, .. } => format!("report of places {places:?}"),
            JournalKind::HandIn(r) => format!("hand-in of {DISTRICT}-R{r}"),
            JournalKind::Decline(r) => format!("decline of {DISTRICT}-R{r}"),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
struct ApplicationRow {
    status: String,
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
}

/// The database after the restart.
struct Check {
    journal: Vec<JournalOp>,
    /// Problems met while splitting the journal.
    journal_problems: Vec<String>,
    setup_events: usize,
    applications: BTreeMap<u32, ApplicationRow>,
    places: BTreeMap<u64, PlaceRow>,
    referrals: BTreeMap<u32, ReferralRow>,
    /// (scope, key) → the remembered outcome.
    idempotency: BTreeMap<(String, String), String>,
    /// (registration number, seq) of the application history.
    history: BTreeSet<(u32, u64)>,
    /// (seq, kind) of the outbox.
    outbox: BTreeSet<(u64, String)>,
    events: usize,
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

impl Check {
    fn read(db: &Path) -> Result<Check, String> {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let conn = rusqlite::Connection::open_with_flags(db, flags).map_err(|e| e.to_string())?;
        let events = rows(&conn, "SELECT seq, payload FROM events ORDER BY seq", |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
        })?;
        let mut check = Check {
            journal: Vec::new(),
            journal_problems: Vec::new(),
            setup_events: 0,
            events: events.len(),
            applications: rows(
                &conn,
                "SELECT registration_number, status, held_until IS NOT NULL, active \
                 FROM applications",
                |r| {
                    let row = ApplicationRow {
                        status: r.get(1)?,
                        held: r.get(2)?,
                        active: r.get(3)?,
                    };
                    Ok((r.get(0)?, row))
                },
            )?
            .into_iter()
            .collect(),
            places: rows(
                &conn,
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
            .collect(),
            referrals: rows(
                &conn,
                "SELECT number, place_id, application_number, kindergarten_id, status \
                 FROM referrals",
                |r| {
                    let row = ReferralRow {
                        place: r.get::<_, i64>(1)? as u64,
                        application: r.get(2)?,
                        kindergarten: r.get(3)?,
                        status: r.get(4)?,
                    };
                    Ok((r.get(0)?, row))
                },
            )?
            .into_iter()
            .collect(),
            idempotency: rows(
                &conn,
                "SELECT scope, key, outcome FROM idempotency_keys",
                |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)),
            )?
            .into_iter()
            .collect(),
            history: rows(
                &conn,
                "SELECT registration_number, seq FROM application_events",
                |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)),
            )?
            .into_iter()
            .collect(),
            outbox: rows(&conn, "SELECT seq, kind FROM outbox", |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
            })?
            .into_iter()
            .collect(),
        };
        for (seq, payload) in events {
            let event = Event::from_payload(&payload)
                .map_err(|e| format!("event {seq} does not decode: {e}"))?;
            check.split(seq, event)?;
        }
        Ok(check)
    }

    /// Splits the journal into commands: each of the workload's commands starts with one
    /// leading event; the referrals it issued and the access code follow it.
    fn split(&mut self, seq: u64, event: Event) -> Result<(), String> {
        let start = |kind| JournalOp {
            seq,
            kind,
            issued: Vec::new(),
            seqs: vec![seq],
        };
        match event {
            Event::DistrictCreated(_) | Event::KindergartenCreated(_) => {
                if !self.journal.is_empty() {
                    self.journal_problems
                        .push(format!("event {seq}: the catalog changed during the load"));
                }
                self.setup_events += 1;
            }
            Event::ApplicationRegistered(application) => {
                let choices = match &application.choices {
                    kezek::domain::application::Choices::Any => Vec::new(),
                    kezek::domain::application::Choices::Listed(list) => {
                        list.iter().map(|k| k.0).collect()
                    }
                };
                self.journal.push(start(JournalKind::Register {
                    number: application.id.number.0,
                    iin: application.child.iin.as_string(),
                    form: Form {
                        birth: application.child.birth_date,
                        language: application.language.map(|l| l.code().to_string()),
                        choices,
                        desired_start: application.desired_start,
                    },
                    registered_at_micros: application.registered_at.timestamp_micros(),
                    access_code: false,
                }));
            }
            Event::AccessCodeIssued { id, .. } => {
                let last = self.journal.last_mut();
                match last {
                    Some(JournalOp {
                        kind:
                            JournalKind::Register {
                                number,
                                access_code: access_code @ false,
                                ..
                            },
                        issued,
                        seqs,
                        ..
                    }) if *number == id.number.0 && issued.is_empty() => {
                        *access_code = true;
                        seqs.push(seq)
                    }
                    _ => self.journal_problems.push(format!(
                        "event {seq}: an access code for {DISTRICT}-{} outside its registration",
                        id.number.0
                    )),
                }
            }
            Event::PlacesReported { places } => {
                let Some(first) = places.first() else {
                    return Err(format!("event {seq}: a report of no places"));
                };
                self.journal.push(start(JournalKind::Report {
                    places: places.iter().map(|p| p.id.0).collect(),
                    vacancy: Vacancy {
                        kindergarten: first.kindergarten.0,
                        born_from: first.age_band.born_from,
                        born_to: first.age_band.born_to,
                        language: first.language.code().to_string(),
                        count: places.len() as u32,
                        available_from: first.available_from,
                    },
                }));
            }
            Event::ReferralHandedIn { id, .. } => {
                self.journal.push(start(JournalKind::HandIn(id.number.0)))
            }
            Event::ReferralLapsed { id, lapse, .. } => {
                if lapse != kezek::domain::referral::Lapse::Declined {
                    self.journal_problems.push(format!(
                        "event {seq}: a lapse other than a decline: {lapse:?}"
                    ));
                }
                self.journal.push(start(JournalKind::Decline(id.number.0)))
            }
            Event::ReferralIssued { referral, .. } => match self.journal.last_mut() {
                Some(op) => {
                    op.issued.push(Issued {
                        number: referral.id.number.0,
                        place: referral.place.0,
                        application: referral.application.number.0,
                        kindergarten: referral.kindergarten.0,
                    });
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

/// The idempotency scope of an operation, as the service keys it.
fn scope(op: &Op) -> String {
    match &op.request {
        Request::Register { .. } | Request::Decline { .. } => "portal".to_string(),
        Request::Report(v) => format!("staff:kindergarten-{}-1", v.kindergarten),
        Request::HandIn { kindergarten, .. } => format!("staff:kindergarten-{kindergarten}-1"),
    }
}

impl Round {
    /// The checks on the database; returns the model after the replay and, for each
    /// journal command, the index of its operation (`usize::MAX`: none).
    fn check(&mut self, ops: &[Op], killed_at: Instant, after: &Check) -> (Model, Vec<usize>) {
        self.counts.events = after.events;
        for problem in &after.journal_problems {
            self.problems.push(format!("journal: {problem}"));
        }
        if after.setup_events != 1 + KINDERGARTENS as usize {
            self.problem(format!(
                "journal: {} catalog events, expected {}",
                after.setup_events,
                1 + KINDERGARTENS
            ));
        }
        let matched = self.match_journal(ops, after);
        // 1. Acknowledged means present; refused or sent after the kill means absent.
        let present: BTreeMap<usize, usize> =
            matched.iter().enumerate().map(|(j, op)| (*op, j)).collect();
        for (i, op) in ops.iter().enumerate() {
            let found = present.contains_key(&i);
            match &op.answer {
                Answer::Acknowledged { replayed: true, .. } => self.problem(format!(
                    "{}: answered as a replay, but its key was new",
                    op.describe()
                )),
                Answer::Acknowledged { .. } if !found => self.problem(format!(
                    "LOST: {} is not in the journal after the restart",
                    op.describe()
                )),
                Answer::Refused(status, body) => {
                    self.problem(format!(
                        "{}: the workload sends only valid requests, got {status} {body}",
                        op.describe()
                    ));
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
        // 2. Whole or absent: the rows beside the events.
        self.check_rows(ops, &matched, after);
        // 3. Real-time order: B sent after A was acknowledged comes after A.
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
        // 4. The model, in journal order.
        let model = self.replay(ops, &matched, after);
        self.compare_tables(&model, after);
        (model, matched)
    }

    /// For each journal command, the index of the operation it is.
    fn match_journal(&mut self, ops: &[Op], after: &Check) -> Vec<usize> {
        let mut by_iin = HashMap::new();
        let mut by_places = HashMap::new();
        let mut by_hand_in = HashMap::new();
        let mut by_decline = HashMap::new();
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
                    by_hand_in.insert(*referral, i);
                }
                Request::Decline { referral, .. } => {
                    by_decline.insert(*referral, i);
                }
            }
        }
        let mut matched = Vec::new();
        let mut taken = BTreeSet::new();
        for journal_op in &after.journal {
            let op = match &journal_op.kind {
                JournalKind::Register { iin, .. } => by_iin.get(iin),
                JournalKind::Report { places, .. } => by_places.get(&places[0]),
                JournalKind::HandIn(r) => by_hand_in.get(r),
                JournalKind::Decline(r) => by_decline.get(r),
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
                    matched.push(usize::MAX);
                }
                None => {
                    self.problem(format!(
                        "PHANTOM: the journal's {} (event {}) matches no request any client \
                         sent (or its Idempotency-Key record is missing)",
                        journal_op.kind.describe(),
                        journal_op.seq
                    ));
                    matched.push(usize::MAX);
                }
            }
        }
        matched
    }

    /// The rows a command writes beside its events, all or none.
    fn check_rows(&mut self, ops: &[Op], matched: &[usize], after: &Check) {
        let present: BTreeSet<usize> = matched.iter().copied().collect();
        for (i, op) in ops.iter().enumerate() {
            let record = after.idempotency.contains_key(&record_key(op));
            let found = present.contains(&i);
            if record != found && !matches!(op.answer, Answer::Refused(..)) {
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
            if let JournalKind::Register {
                number,
                access_code,
                ..
            } = journal_op.kind
            {
                if !access_code {
                    self.problem(format!(
                        "HALF: {DISTRICT}-{number} (event {}) has no access code event",
                        journal_op.seq
                    ));
                }
                // The registration's own events (and referral at once) are its history.
                for seq in &journal_op.seqs {
                    if !after.history.contains(&(number, *seq)) {
                        self.problem(format!(
                            "HALF: {DISTRICT}-{number}: event {seq} is not in its history rows"
                        ));
                    }
                }
                if !after
                    .outbox
                    .contains(&(journal_op.seq, "registered".into()))
                {
                    self.problem(format!(
                        "HALF: {DISTRICT}-{number}: no 'registered' message for event {}",
                        journal_op.seq
                    ));
                }
            }
            if let JournalKind::HandIn(r) | JournalKind::Decline(r) = journal_op.kind {
                let holder = after.referrals.get(&r).map(|row| row.application);
                if !holder.is_some_and(|a| after.history.contains(&(a, journal_op.seq))) {
                    self.problem(format!(
                        "HALF: the {} (event {}) is not in the history of its application {holder:?}",
                        journal_op.kind.describe(),
                        journal_op.seq
                    ));
                }
            }
            for (seq, issued) in journal_op
                .seqs
                .iter()
                .rev()
                .zip(journal_op.issued.iter().rev())
            {
                if !after.outbox.contains(&(*seq, "referral_issued".into())) {
                    self.problem(format!(
                        "HALF: referral {DISTRICT}-R{}: no 'referral_issued' message for event {seq}",
                        issued.number
                    ));
                }
                if !after.history.contains(&(issued.application, *seq)) {
                    self.problem(format!(
                        "HALF: referral {DISTRICT}-R{} (event {seq}) is not in the history of \
                         {DISTRICT}-{}",
                        issued.number, issued.application
                    ));
                }
            }
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

    /// Replays the journal's commands, matched to what the clients sent, in the model;
    /// compares each command's effects with the journal and with the answer.
    fn replay(&mut self, ops: &[Op], matched: &[usize], after: &Check) -> Model {
        let mut model = Model::default();
        for (journal_op, &i) in after.journal.iter().zip(matched) {
            let Some(op) = ops.get(i) else { continue };
            let context = format!("{} (event {})", op.describe(), journal_op.seq);
            let step = match (&op.request, &journal_op.kind) {
                (Request::Register { form, .. }, JournalKind::Register { .. }) => {
                    self.replay_registration(&mut model, op, form, journal_op, &context)
                }
                (Request::Report(sent), JournalKind::Report { places, vacancy }) => {
                    if sent != vacancy {
                        self.problem(format!(
                            "{context}: recorded as {vacancy:?}, sent as {sent:?}"
                        ));
                    }
                    self.replay_report(&mut model, op, sent, places, &context)
                }
                (Request::HandIn { referral, .. }, JournalKind::HandIn(r)) if referral == r => {
                    model.hand_in(*r).map(|()| (Vec::new(), None))
                }
                (Request::Decline { referral, .. }, JournalKind::Decline(r)) if referral == r => {
                    model
                        .decline(*r)
                        .map(|next| (next.into_iter().collect(), None))
                }
                (_, kind) => Err(format!("matched to the journal's {kind:?}")),
            };
            let (expected, answered) = match step {
                Ok(step) => step,
                Err(e) => {
                    self.problem(format!("{context}: the model cannot take it: {e}"));
                    continue;
                }
            };
            if expected != journal_op.issued {
                self.problem(format!(
                    "REFERRALS: {context}: the model issues {expected:?}, the journal has {:?}",
                    journal_op.issued
                ));
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
        model
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
                "{context}: registered as {DISTRICT}-{number}, the model's next number is \
                 {model_number}"
            ));
        }
        let answered = op.acknowledged().map(|body| {
            let answered_number = body["number"].as_str().and_then(application_number);
            (answered_number, known_referral(&body["referral"]))
        });
        if let Some((answered_number, _)) = answered {
            if answered_number != Some(*number) {
                self.problem(format!(
                    "ANSWER: {context}: answered {answered_number:?}, the journal has \
                     {DISTRICT}-{number}"
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
        let expected: BTreeMap<u32, ApplicationRow> = model
            .children
            .iter()
            .map(|c| {
                let (status, held, active) = match c.state {
                    ChildState::Waiting { held } => ("queued", held, true),
                    ChildState::Referred(_) => ("referred", false, true),
                    ChildState::Enrolled => ("enrolled", false, false),
                };
                let row = ApplicationRow {
                    status: status.to_string(),
                    held,
                    active,
                };
                (c.number, row)
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
        let expected: BTreeMap<u32, ReferralRow> = model
            .referrals
            .iter()
            .map(|r| {
                let row = ReferralRow {
                    place: r.issued.place,
                    application: r.issued.application,
                    kindergarten: r.issued.kindergarten,
                    status: r.state.code().to_string(),
                };
                (r.issued.number, row)
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
        let cohorts = [setup.today.year() - 3, setup.today.year() - 2];
        for cohort in cohorts {
            for kindergarten in std::iter::once(None).chain((1..=KINDERGARTENS).map(Some)) {
                match self.queue(client, server, cohort, kindergarten).await {
                    Ok(found) => {
                        let expected = model.queue(cohort, kindergarten);
                        if found != expected {
                            self.problem(format!(
                                "QUEUE: cohort {cohort}, kindergarten {kindergarten:?}: the model \
                                 has (number, on stop list) {expected:?}, the service {found:?}"
                            ));
                        }
                    }
                    Err(e) => self.problem(e),
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
        cohort: i32,
        kindergarten: Option<u32>,
    ) -> Result<Vec<(u32, bool)>, String> {
        let mut entries = Vec::new();
        loop {
            let mut url = format!(
                "{}/api/v1/districts/{DISTRICT}/queue?cohort={cohort}&limit={QUEUE_PAGE}&offset={}",
                server.base,
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
                let number = entry["number"]
                    .as_str()
                    .and_then(application_number)
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
            let (Some(number), Some(code)) = (
                body["number"].as_str().and_then(application_number),
                body["access_code"].as_str(),
            ) else {
                self.problem(format!(
                    "{}: an answer without number or code",
                    op.describe()
                ));
                continue;
            };
            match parent_view(client, server, number, code).await {
                Ok(view) => self.compare_parent_view(model, number, &view),
                Err(e) => self.problem(format!("LOST: {}: after the restart, {e}", op.describe())),
            }
        }
    }

    /// The application's status and latest referral as the parent sees them, against the
    /// model.
    fn compare_parent_view(&mut self, model: &Model, number: u32, view: &Value) {
        let Some(child) = model.children.get(number as usize - 1) else {
            // Not in the model: `check` has reported the registration lost.
            return;
        };
        let status = match child.state {
            ChildState::Waiting { .. } => "queued",
            ChildState::Referred(_) => "referred",
            ChildState::Enrolled => "enrolled",
        };
        let latest = model
            .referrals
            .iter()
            .rev()
            .find(|r| r.issued.application == number)
            .map(|r| (r.issued.number, r.state.code()));
        let referral = &view["referral"];
        let shown = referral["number"]
            .as_str()
            .and_then(referral_number)
            .map(|n| (n, referral["status"].as_str().unwrap_or("")));
        if view["status"] != status || shown != latest {
            self.problem(format!(
                "PARENT: {DISTRICT}-{number}: the model has {status} (latest referral \
                 {latest:?}), the service shows {} (latest referral {shown:?})",
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
        // Every unanswered operation found present, and the first acknowledged one of each
        // kind, whose first answer the client has to compare with.
        let mut kinds_seen = HashSet::new();
        let retried: Vec<&Op> = ops
            .iter()
            .enumerate()
            .filter(|(i, op)| {
                present.contains(i)
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
    number: u32,
    code: &str,
) -> Result<Value, String> {
    let url = format!("{}/api/v1/applications/{DISTRICT}-{number}", server.base);
    let response = client
        .get(url)
        .header("X-Access-Code", code)
        .send()
        .await
        .map_err(|e| format!("{DISTRICT}-{number}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!(
            "{DISTRICT}-{number} with its code answers {}",
            response.status()
        ));
    }
    response
        .json()
        .await
        .map_err(|e| format!("{DISTRICT}-{number}: {e}"))
}
