//! The `kezek` command line: a thin front end over the library.

use anyhow::Context;
use chrono::Utc;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kezek::clock::{Clock, ManualClock, SystemClock};
use kezek::config::{self, ClockKind, Config};
use kezek::demo::{self, DemoOptions};
use kezek::service::Service;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

mod intake_cli;

#[derive(Parser)]
#[command(
    name = "kezek",
    version,
    about = "A fair, durable waiting list for kindergarten places"
)]
struct Cli {
    /// The SQLite database file [default: ./kezek.db; for `serve`, the configuration's].
    #[arg(long, global = true)]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Commands,
}

/// `serve`'s flags: each one given overrides its key of the configuration.
#[derive(clap::Args)]
struct ServeFlags {
    /// The configuration file (TOML; see kezek.example.toml); also KEZEK_CONFIG.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Fills an empty database with this many synthetic applications first.
    #[arg(long, value_name = "N")]
    demo: Option<usize>,
    /// `manual`: time moves only through POST /api/v1/admin/clock (for black-box tests
    /// that travel in time) [default: system].
    #[arg(long, value_enum)]
    clock: Option<ClockKind>,
    /// Parent look-ups per minute per client; 0 turns the limit off (load tests from one
    /// address) [default: 120].
    #[arg(long)]
    lookups_per_minute: Option<u32>,
    /// Where notifications to parents go: `file:DIR` (one .eml file per message;
    /// the default is `outbox/` beside the database),
    /// `smtp://[USER:PASS@]HOST[:PORT]?from=ADDRESS[&tls=required|opportunistic]`,
    /// `smtps://...` (TLS from the start, port 465), or `off` (messages wait in the
    /// outbox). USER, PASS and ADDRESS are percent-encoded (`@` is `%40`).
    #[arg(long, value_name = "CHANNEL", value_parser = notify_channel)]
    notify: Option<String>,
    /// The address parents reach the service at, printed in documents' verification
    /// links (e.g. https://kezek.example.kz). When absent, the bound address; required
    /// when listening on every interface (0.0.0.0, ::).
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Portal registrations an hour per client; 0 turns the quota off [default: 10].
    #[arg(long, value_name = "N")]
    registrations_per_client_per_hour: Option<u32>,
    /// Portal registrations an hour per applicant IIN; 0 turns the quota off [default: 5].
    #[arg(long, value_name = "N")]
    registrations_per_applicant_per_hour: Option<u32>,
    /// Writer commands waiting at once before writes answer 503 busy; 0: off [default: 1024].
    #[arg(long, value_name = "N")]
    pending_writes: Option<usize>,
    /// Seconds before an unanswered request gets 503 `timeout` [default: 10].
    #[arg(long, value_name = "SECONDS")]
    request_timeout_secs: Option<u64>,
    /// Seconds a client has to send a request's head, also the idle keep-alive timeout
    /// [default: 10].
    #[arg(long, value_name = "SECONDS")]
    header_read_timeout_secs: Option<u64>,
    /// Connections served at once; more wait to be accepted [default: 768].
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Seconds a shutdown waits for requests in flight [default: 20].
    #[arg(long, value_name = "SECONDS")]
    shutdown_grace_secs: Option<u64>,
    /// A reverse proxy whose X-Forwarded-For / Forwarded is believed (address or CIDR);
    /// repeat it for several. Replaces the file's list.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// The header the trusted proxies write [default: x-forwarded-for].
    #[arg(long, value_name = "HEADER", value_parser = ["x-forwarded-for", "forwarded"])]
    forwarded_header: Option<String>,
    /// Who checkpoints the WAL: `kezek` (PASSIVE every second, TRUNCATE past half of
    /// --wal-max-mb) or `litestream` (an external replicator owns checkpoints: PASSIVE
    /// only; README, Operations) [default: kezek].
    #[arg(long, value_enum)]
    checkpoints: Option<config::CheckpointsBy>,
    /// The WAL's bound when kezek checkpoints, in MiB [default: 64].
    #[arg(long, value_name = "MIB")]
    wal_max_mb: Option<u64>,
    /// The anchor file, the journal's head outside the database [default: <db>.anchor].
    #[arg(long, value_name = "FILE")]
    anchor: Option<PathBuf>,
    /// `development` or `production`: production without an identity provider is
    /// refused at start unless allowed (README, "Signing in") [default: development].
    #[arg(long, value_enum)]
    deployment: Option<config::Deployment>,
    /// The OpenID Connect provider's issuer URL that parents and staff sign in through
    /// (the rest in the file's [oidc] section) [default: none: access codes only].
    #[arg(long, value_name = "URL")]
    oidc_issuer: Option<String>,
}

impl ServeFlags {
    /// The flags given, as keys of the configuration.
    fn overrides(&self, db: Option<&Path>) -> Vec<config::Override> {
        use config::given;
        let trusted = (!self.trusted_proxies.is_empty()).then_some(&self.trusted_proxies);
        [
            given("db", db),
            given("addr", self.addr),
            given("demo", self.demo),
            given("clock", self.clock),
            given("notify", self.notify.as_ref()),
            given("public_url", self.public_url.as_ref()),
            given("limits.lookups_per_minute", self.lookups_per_minute),
            given(
                "limits.registrations_per_client_per_hour",
                self.registrations_per_client_per_hour,
            ),
            given(
                "limits.registrations_per_applicant_per_hour",
                self.registrations_per_applicant_per_hour,
            ),
            given("limits.pending_writes", self.pending_writes),
            given("http.request_timeout_secs", self.request_timeout_secs),
            given(
                "http.header_read_timeout_secs",
                self.header_read_timeout_secs,
            ),
            given("http.max_connections", self.max_connections),
            given("http.shutdown_grace_secs", self.shutdown_grace_secs),
            given("proxy.header", self.forwarded_header.as_ref()),
            given("proxy.trusted", trusted),
            given("store.checkpoints", self.checkpoints),
            given("store.wal_max_mb", self.wal_max_mb),
            given("store.anchor", self.anchor.as_ref()),
            given("deployment", self.deployment),
            given("oidc.issuer", self.oidc_issuer.as_ref()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Checks a `--notify` channel as it is typed and keeps its text for the configuration.
fn notify_channel(spec: &str) -> Result<String, String> {
    kezek::notify::NotifyTo::parse(spec).map(|_| spec.to_string())
}

#[derive(Subcommand)]
enum Commands {
    /// Runs the service. Every flag is also a key of the configuration file
    /// (kezek.example.toml) and a KEZEK_* variable; a flag beats both.
    Serve(Box<ServeFlags>),
    /// Fills the database with realistic synthetic data.
    Demo {
        #[arg(long, default_value_t = 10_000)]
        applications: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Replays the event log and checks it against the tables and the index, SQLite's
    /// integrity, the uniqueness rules and the anchor.
    Verify {
        /// SQLite's full `integrity_check` of every table (slower) instead of its
        /// `quick_check` (which the tables with unique rules get in full anyway).
        #[arg(long)]
        full: bool,
        /// The anchor file, when the service keeps it elsewhere [default: <db>.anchor].
        #[arg(long, value_name = "FILE")]
        anchor: Option<PathBuf>,
    },
    /// Simulates a city-year on a new database (a temporary one unless --db is given) under
    /// the manual clock and prints throughput and fairness figures, justified envy among
    /// them. The same seed prints the same figures, but for wall-clock throughput.
    Simulate {
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 30_000)]
        registrations: usize,
        #[arg(long, default_value_t = 400)]
        kindergartens: usize,
        /// Runs the same city-year and seed under several policies (place by place, the
        /// intake round, the 1 : 3 cycle off and on, families' together rule off) and prints
        /// the audit's figures side by side as a Markdown table.
        #[arg(long)]
        compare: bool,
        /// With --compare, only these columns (comma-separated): place_by_place, round,
        /// round_1_3_off, round_1_3_on, round_together_off [default: all].
        #[arg(long, value_delimiter = ',', requires = "compare")]
        policies: Vec<String>,
    },
    /// Writes an open-data snapshot into DIR: the anonymised queue and the protocol of places
    /// and referrals as CSV and JSON, their Frictionless data package and data dictionary,
    /// cut at one journal sequence number and signed with the deployment's key (the one
    /// beside the database). Safe while the service runs.
    Export {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Checks an open-data snapshot: the signature of its data package and every file's size
    /// and SHA-256. The key is --public-key (as GET /api/v1/keys publishes it), or the
    /// service's at --url, or the one beside --db. With --url it also checks that the chain
    /// head the snapshot names is the service's journal at that sequence number
    /// (GET /api/v1/chain/{seq}).
    CheckExport {
        dir: PathBuf,
        #[arg(long, value_name = "BASE64URL")]
        public_key: Option<String>,
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// Brings in an existing queue from an earlier system's CSV export (README, "Importing
    /// an existing queue"): original registration times and old numbers kept. Prints each
    /// refused row's line, code and column; exits 1 if any row was refused. Running it again
    /// takes only the rows not yet taken.
    Import {
        file: PathBuf,
        /// Checks every row and reports, storing nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// The intake round (issue 18): `--dry-run --district D` prints what the open round would
    /// give now (each place: kindergarten, group, child's number, rank of the choice; the
    /// figures), reading only; `open` and `close` journal as the API's do.
    Intake {
        #[command(subcommand)]
        action: Option<intake_cli::IntakeAction>,
        #[arg(long)]
        dry_run: bool,
        /// The district's code or id (with --dry-run).
        #[arg(long)]
        district: Option<String>,
    },
    /// Staff accounts: add one (its token is printed once), list them, revoke one.
    Staff {
        #[command(subcommand)]
        action: StaffAction,
    },
}

#[derive(Subcommand)]
enum StaffAction {
    /// Adds an account and prints its bearer token, once; only its hash is stored.
    Add {
        #[arg(long, value_parser = ["admin", "officer", "operator", "kindergarten"])]
        role: String,
        /// The district code (officer, operator), e.g. ESL.
        #[arg(long)]
        district: Option<String>,
        /// The kindergarten id (kindergarten accounts).
        #[arg(long)]
        kindergarten: Option<u32>,
        /// The account's name as the journal will show it; made up from the role if absent.
        #[arg(long)]
        name: Option<String>,
    },
    List,
    /// Revokes an account at once; its token stops working.
    Revoke {
        name: String,
    },
    /// Binds an account to its holder's subject at the provider staff sign in through
    /// ([oidc.staff] when configured, else [oidc]): signing in there as that subject opens
    /// the account's pages (README, "Signing in").
    Bind {
        name: String,
        /// The holder's subject at that provider: its `sub`, or the claim named by
        /// oidc.staff.subject_claim (e.g. Entra ID's `oid`).
        #[arg(long)]
        subject: String,
    },
}

/// Every file and folder this process makes is its owner's alone: the database and its WAL
/// and shared memory, the signing key, the outbox, and whatever a later feature writes
/// (backups, anchors) hold personal data or secrets. The store and the outbox also set
/// their modes explicitly (`store::files`), so the library is safe without this; this
/// covers what they do not know of, such as SQLite's temporary files.
fn owner_only_files() {
    #[cfg(unix)]
    // SAFETY: umask(2) only sets the process's file mode mask; it cannot fail and touches
    // no memory. It runs first in main, before any thread that could create files.
    unsafe {
        libc::umask(0o077);
    }
}

/// See Cargo.toml: the server's many small per-request allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    use std::io::IsTerminal;
    owner_only_files();
    tracing_subscriber::fmt()
        // Colours for a person at a terminal; plain text for a log file or a journal.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "kezek=info,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let matches = Cli::command().get_matches();
    // Whether --db was typed: `simulate` writes to a temporary file unless told where.
    let db_given = matches.value_source("db") == Some(clap::parser::ValueSource::CommandLine);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let db = cli
        .db
        .clone()
        .unwrap_or_else(|| PathBuf::from("./kezek.db"));
    let result = match cli.command {
        Commands::Serve(flags) => {
            match Config::load(flags.config.as_deref(), &flags.overrides(cli.db.as_deref())) {
                Ok(config) => serve(config),
                Err(error) => Err(anyhow::anyhow!("the configuration: {error}")),
            }
        }
        Commands::Demo { applications, seed } => run_demo(&db, applications, seed),
        Commands::Verify { full, anchor } => verify(&db, full, anchor),
        Commands::Simulate {
            seed,
            registrations,
            kindergartens,
            compare,
            policies,
        } => {
            let options = kezek::simulate::SimulateOptions {
                seed,
                registrations,
                kindergartens,
            };
            match compare {
                true => simulate_compare(&options, &policies),
                false => simulate(db_given.then_some(db.as_path()), &options),
            }
        }
        Commands::Import { file, dry_run } => import(&db, &file, dry_run),
        Commands::Staff { action } => staff(&db, action),
        Commands::Intake {
            action,
            dry_run,
            district,
        } => intake_cli::run(&db, action, dry_run, district),
        Commands::Export { out } => export(&db, &out),
        Commands::CheckExport {
            dir,
            public_key,
            url,
        } => check_export(&db, &dir, public_key, url),
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
    // The demo cancels the messages it leaves undelivered (its parents are made up), and it
    // cannot tell a real parent's message from its own: it fills only an empty database.
    if db.exists() && kezek::store::holds_applications(db)? {
        anyhow::bail!(
            "{} holds applications already; kezek demo fills only a new or empty database, \
             and touches nothing here",
            db.display()
        );
    }
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
    // Synthetic parents get no messages: their addresses are made up.
    let cancelled = kezek::store::cancel_undelivered_messages(db, Utc::now())?;
    tracing::info!(cancelled, "demo notifications cancelled, not sent");
    println!(
        "registered {} applications ({} refused), priorities verified {}, rejected {}",
        summary.registered,
        summary.refused,
        summary.priorities_verified,
        summary.priorities_rejected
    );
    Ok(ExitCode::SUCCESS)
}

fn import(db: &Path, file: &Path, dry_run: bool) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let service = Service::start(db, Arc::new(SystemClock))
        .with_context(|| format!("opening {}", db.display()))?;
    // A bar for a person at a terminal; nothing in a log.
    let bar = match std::io::stderr().is_terminal() {
        true => ProgressBar::new(0).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} rows, {per_sec}, eta {eta}")
                .expect("the template is valid"),
        ),
        false => ProgressBar::hidden(),
    };
    let options = kezek::import::ImportOptions {
        dry_run,
        ..Default::default()
    };
    let result = kezek::import::import_file(&service, file, &options, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    service.shutdown();
    let summary = result.with_context(|| format!("importing {}", file.display()))?;
    for refused in &summary.refused {
        println!(
            "line {}: {} ({})",
            refused.line, refused.code, refused.field
        );
    }
    let verb = if dry_run { "would take" } else { "took" };
    println!(
        "{} rows, {verb} {}, {} already taken before, {} refused; file SHA-256 {}",
        summary.rows,
        summary.taken,
        summary.already_taken,
        summary.refused.len(),
        summary.file_sha256
    );
    Ok(match summary.refused.is_empty() {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(1),
    })
}

fn simulate(
    db: Option<&Path>,
    options: &kezek::simulate::SimulateOptions,
) -> anyhow::Result<ExitCode> {
    // A directory of our own in the temporary directory: the database and its WAL files.
    let scratch = std::env::temp_dir().join(format!("kezek-simulate-{}", std::process::id()));
    let path = match db {
        Some(path) => path.to_path_buf(),
        None => {
            std::fs::create_dir_all(&scratch)
                .with_context(|| format!("creating {}", scratch.display()))?;
            scratch.join("kezek.db")
        }
    };
    let days = kezek::simulate::days_simulated();
    let bar = ProgressBar::new(days).with_style(
        ProgressStyle::with_template("{bar:40} {msg} ({pos}/{len} days), eta {eta}")
            .expect("the template is valid"),
    );
    let result = kezek::simulate::run(&path, options, |day| {
        bar.set_message(day.to_string());
        bar.inc(1);
    });
    bar.finish_and_clear();
    if db.is_none() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    let simulation = result.with_context(|| format!("simulating on {}", path.display()))?;
    print!("{simulation}");
    Ok(if simulation.figures.all_clear() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// `kezek simulate --compare`: each policy on a temporary database of its own.
fn simulate_compare(
    options: &kezek::simulate::SimulateOptions,
    keys: &[String],
) -> anyhow::Result<ExitCode> {
    use kezek::simulate::{compare, SimPolicy};
    let policies = match keys.is_empty() {
        true => SimPolicy::compared(),
        false => {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            SimPolicy::by_keys(&keys)
                .map_err(|unknown| anyhow::anyhow!("no policy is called {unknown}"))?
        }
    };
    let scratch = std::env::temp_dir().join(format!("kezek-compare-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let columns = compare::run(options, &policies, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    let columns = columns.context("simulating")?;
    println!(
        "seed {}, {} registrations, {} kindergartens",
        options.seed, options.registrations, options.kindergartens
    );
    print!("{}", compare::table(&columns));
    // A column that fails a check names its first cases, for whoever has to find the bug.
    for (name, figures) in columns.iter().filter(|(_, f)| !f.all_clear()) {
        eprintln!("{name}: not clear");
        for example in &figures.audit.envy.examples {
            eprintln!("  {example}");
        }
    }
    Ok(match columns.iter().all(|(_, f)| f.all_clear()) {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(2),
    })
}

fn staff(db: &Path, action: StaffAction) -> anyhow::Result<ExitCode> {
    use kezek::domain::staff::{self as accounts, Role, Scope, StaffAccount};
    use kezek::store::staff as table;
    // Store::open migrates a new file; with the service running it only opens: accounts are
    // the one table a second process may write beside the service's writer.
    let store =
        kezek::store::Store::open(db).with_context(|| format!("opening {}", db.display()))?;
    let conn = store.connection_for_tests();
    match action {
        StaffAction::Add {
            role,
            district,
            kindergarten,
            name,
        } => {
            let role = Role::parse(&role).expect("clap checked the role");
            let scope = match (role, district, kindergarten) {
                (Role::Admin, None, None) => Scope::Everywhere,
                (Role::Officer | Role::Operator, Some(code), None) => {
                    let id = table::district_by_code(conn, &code.to_ascii_uppercase())?
                        .with_context(|| format!("no district with code {code}"))?;
                    Scope::District(id)
                }
                (Role::Kindergarten, None, Some(id)) => {
                    Scope::Kindergarten(kezek::domain::catalog::KindergartenId(id))
                }
                _ => anyhow::bail!(
                    "admin takes no scope; officer and operator take --district CODE; \
                     kindergarten takes --kindergarten ID"
                ),
            };
            let name = match name {
                Some(name) => name,
                None => table::free_name(conn, role, scope)?,
            };
            if !accounts::valid_name(&name) {
                anyhow::bail!("a name is 1 to 64 of a-z, 0-9, '-', '_', '.'");
            }
            let token = accounts::generate_token(&mut rand::rng());
            let account = StaffAccount { name, role, scope };
            table::add(conn, &account, &accounts::token_hash(&token), Utc::now())?;
            eprintln!(
                "added {} ({}); its token is shown this once, keep it secret:",
                account.name,
                role.code()
            );
            println!("{token}");
        }
        StaffAction::List => {
            for (account, revoked) in table::list(conn)? {
                let scope = match account.scope {
                    Scope::Everywhere => "everywhere".to_string(),
                    Scope::District(d) => format!("district {}", d.0),
                    Scope::Kindergarten(k) => format!("kindergarten {}", k.0),
                };
                let state = if revoked { "revoked" } else { "active" };
                println!(
                    "{}\t{}\t{scope}\t{state}",
                    account.name,
                    account.role.code()
                );
            }
        }
        StaffAction::Revoke { name } => {
            if !table::revoke(conn, &name, Utc::now())? {
                anyhow::bail!("no active account named {name}");
            }
            println!("revoked {name}");
        }
        StaffAction::Bind { name, subject } => {
            if subject.trim().is_empty() {
                anyhow::bail!("--subject must not be empty");
            }
            if !kezek::store::identity::bind_subject(conn, &name, subject.trim())? {
                anyhow::bail!("no active account named {name}");
            }
            println!("bound {name} to the provider's subject");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(db: &Path, full: bool, anchor: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    use kezek::store::integrity::Depth;
    let depth = if full { Depth::Full } else { Depth::Quick };
    let anchor = anchor.unwrap_or_else(|| kezek::store::anchor::anchor_path(db));
    match kezek::verify::verify_at(db, depth, &anchor) {
        Ok(report) => {
            println!(
                "ok: {} events replayed, {} applications, {} referrals and {} waiting entries match; \
                 the staff access log's {} entries link up; {} attached files match their \
                 journaled SHA-256",
                report.events, report.applications, report.referrals, report.waiting,
                report.staff_views, report.attachments
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            println!("FAILED: {failure}");
            Ok(ExitCode::from(2))
        }
    }
}

/// The directory the signing key lives in: the database's.
fn key_directory(db: &Path) -> &Path {
    db.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn export(db: &Path, out: &Path) -> anyhow::Result<ExitCode> {
    if !db.exists() {
        anyhow::bail!("no database at {}", db.display());
    }
    let signer = kezek::documents::DocumentSigner::load_or_create(key_directory(db))
        .context("the document signing key")?;
    let mut conn = kezek::store::Store::open_reader(db)?;
    let started = std::time::Instant::now();
    let snapshot = kezek::opendata::cut_into(&mut conn, &signer, Utc::now(), out)?;
    println!(
        "ok: snapshot at journal sequence {} (chain head {}) written to {} in {:.1?}",
        snapshot.seq,
        snapshot.head,
        out.display(),
        started.elapsed()
    );
    Ok(ExitCode::SUCCESS)
}

fn check_export(
    db: &Path,
    dir: &Path,
    public_key: Option<String>,
    url: Option<String>,
) -> anyhow::Result<ExitCode> {
    let published = match (&public_key, &url) {
        (Some(key), _) => Some(key.clone()),
        (None, Some(url)) => Some(published_key(url)?),
        (None, None) => None,
    };
    let key = match published {
        Some(text) => kezek::opendata::verifying_key(&text)
            .context("--public-key is not a base64url Ed25519 key")?,
        None => kezek::documents::DocumentSigner::load_or_create(key_directory(db))
            .context("the document signing key")?
            .verifying_key(),
    };
    let chain_checked = url.is_some();
    let checked = match kezek::opendata::check(dir, &key) {
        Ok(checked) => checked,
        Err(failure) => {
            println!("FAILED: {failure}");
            return Ok(ExitCode::from(2));
        }
    };
    if let Some(url) = url {
        let hash = published_chain_hash(&url, checked.seq)?;
        if hash.as_deref() != Some(checked.chain_head.as_str()) {
            println!(
                "FAILED: the service's journal at sequence {} is not the chain head the snapshot names",
                checked.seq
            );
            return Ok(ExitCode::from(2));
        }
    }
    println!(
        "ok: signed by key {}, {} files as signed, cut at journal sequence {} (chain head {}){}",
        checked.key_id,
        checked.files,
        checked.seq,
        checked.chain_head,
        if chain_checked {
            ", which the service's journal holds"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// GETs `path` from the service at `base` as JSON (a check run from anywhere, so a plain
/// client with a timeout).
fn get_json(base: &str, path: &str) -> anyhow::Result<Option<serde_json::Value>> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        let response = client.get(&url).send().await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = response.error_for_status()?;
        Ok(Some(response.json().await?))
    })
}

/// The deployment's public key as `GET /api/v1/keys` publishes it.
fn published_key(base: &str) -> anyhow::Result<String> {
    let keys = get_json(base, "/api/v1/keys")?.context("the service publishes no keys")?;
    keys[0]["public_key"]
        .as_str()
        .map(str::to_string)
        .context("the service's key list has no public_key")
}

/// The hash of the service's journal at `seq` (`GET /api/v1/chain/{seq}`), if it has one.
fn published_chain_hash(base: &str, seq: u64) -> anyhow::Result<Option<String>> {
    Ok(get_json(base, &format!("/api/v1/chain/{seq}"))?
        .and_then(|link| link["hash"].as_str().map(str::to_string)))
}

fn serve(config: Config) -> anyhow::Result<ExitCode> {
    // On stderr with the log: what this process was told, from all four layers.
    tracing::info!("effective configuration:\n{}", config.printable());
    let db = config.db.as_path();
    let store = config.store.options();
    // Before anything is opened: a service on every interface needs its public address.
    kezek::http::public_url_for(config.public_url.as_deref(), config.addr)
        .map_err(anyhow::Error::msg)?;
    // A production deployment signs its parents in, or says it chose not to.
    config.check_identity().map_err(anyhow::Error::msg)?;
    // The providers' sections hold together, before anything is opened (the address given
    // here is only a stand-in: the checks do not depend on it).
    kezek::http::oidc::OidcConfig::from_settings(&config.oidc, "http://localhost")
        .and(kezek::http::oidc::OidcConfig::staff_from_settings(
            &config.oidc,
            "http://localhost",
        ))
        .map_err(anyhow::Error::msg)?;
    if let Some(applications) = config.demo {
        let empty = !db.exists();
        if empty {
            run_demo(db, applications, 42)?;
        } else {
            tracing::info!("the database exists; --demo adds nothing to it");
        }
    }
    // A manual clock resumes where the journal stopped, never before it: a restart must not
    // send time back behind what is recorded.
    let manual_clock = (config.clock == ClockKind::Manual).then(|| {
        let recorded = kezek::store::last_recorded_at(db).ok().flatten();
        ManualClock::new(recorded.map_or(Utc::now(), |at| at.max(Utc::now())))
    });
    let clock: Arc<dyn Clock> = match &manual_clock {
        Some(manual) => Arc::new(manual.clone()),
        None => Arc::new(SystemClock),
    };
    let notify = match &config.notify {
        Some(spec) => kezek::notify::NotifyTo::parse(spec)
            .map_err(|error| anyhow::anyhow!("the configuration's notify: {error}"))?,
        None => kezek::notify::NotifyTo::beside(db),
    };
    let service = match notify.open()? {
        Some(channel) => {
            tracing::info!(channel = ?notify, "notifications on");
            let sender = config.outbox.sender();
            Service::start_notifying(db, Arc::clone(&clock), &store, channel, sender)
        }
        None => {
            tracing::info!("notifications off: messages wait in the outbox");
            Service::start_with(db, Arc::clone(&clock), &store)
        }
    }
    .with_context(|| format!("opening {}", db.display()))?;
    tracing::info!(waiting = service.read().waiting.len(), "state rebuilt");
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("binding {}", config.addr))?;
        let bound = listener.local_addr().context("reading the bound address")?;
        // Before the port is announced: whoever reads it may signal at once.
        let shutdown = kezek::http::server::shutdown_signal();
        // On stdout, so that scripts and tests that start with port 0 learn the port.
        println!("listening on http://{bound}");
        tracing::info!(%bound, "listening");
        let mut http = kezek::http::HttpConfig::from_config(&config);
        let public_url = kezek::http::public_url_for(config.public_url.as_deref(), bound)
            .map_err(anyhow::Error::msg)?;
        tracing::info!(%public_url, "documents' verification links");
        http.oidc = kezek::http::oidc::OidcConfig::from_settings(&config.oidc, &public_url)
            .map_err(anyhow::Error::msg)?;
        http.staff_oidc =
            kezek::http::oidc::OidcConfig::staff_from_settings(&config.oidc, &public_url)
                .map_err(anyhow::Error::msg)?;
        http.public_url = Some(public_url);
        // The signing key is read (or made, on the first start) before serving, so a key
        // that cannot be read stops the start with a clear error instead of a panic.
        let directory = db
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let signer = Arc::new(
            kezek::documents::DocumentSigner::load_or_create(directory)
                .context("the document signing key")?,
        );
        http.signer = Some(Arc::clone(&signer));
        // The daily open-data snapshots: the first at start (if today has none), then
        // after each local midnight; a thread of its own, reading on its own connection.
        let open_data = config
            .open_data
            .dir
            .clone()
            .unwrap_or_else(|| kezek::opendata::default_dir(db));
        kezek::opendata::spawn_daily(
            db.to_path_buf(),
            open_data,
            signer,
            Arc::clone(&clock),
            config.open_data.keep_days,
        )
        .context("the open-data thread")?;
        let router = kezek::http::router(service.clone(), db.to_path_buf(), manual_clock, http);
        let settings = kezek::http::server::ServerSettings::from_config(&config);
        kezek::http::server::serve(listener, router, settings, shutdown).await;
        anyhow::Ok(())
    })?;
    // Tasks still holding the service (a request past the grace period) go with the
    // runtime, so that this handle is the last: the writer then finishes its batch, the
    // sender stops and the database is checkpointed and closed.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    service.shutdown();
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
