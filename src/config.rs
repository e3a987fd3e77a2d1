//! The service's settings: one struct, [`Config`], filled from four layers, each over the
//! one before: the defaults written here, a TOML file (`--config FILE` or `KEZEK_CONFIG`),
//! `KEZEK_*` environment variables, and the command line's flags. So a flag beats the
//! environment, which beats the file, which beats the default.
//!
//! A file's key `[http] max_connections = 512` is the variable
//! `KEZEK_HTTP__MAX_CONNECTIONS=512` (sections are joined by a double underscore) and, where
//! `serve` has a flag for it, `--max-connections 512`. Unknown keys are refused, so a typo
//! is an error at start instead of a setting silently ignored. `kezek.example.toml` in the
//! repository lists every key with its default.
//!
//! To add a setting: a field in the section it belongs to (or a new section struct, one
//! field of `Config`), its default in that struct's `Default`, a line in
//! `kezek.example.toml`, and, if it is secret, its redaction in [`Config::printable`].

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The variable that names the configuration file when `--config` is absent.
pub const CONFIG_FILE_VARIABLE: &str = "KEZEK_CONFIG";
/// The prefix of the environment variables that override the file.
pub const ENV_PREFIX: &str = "KEZEK_";

/// Everything `kezek serve` is told. The top-level keys are the flags `serve` has always had.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The SQLite database file.
    pub db: PathBuf,
    /// The address to listen on (port 0: any free port, printed at start).
    pub addr: SocketAddr,
    /// Fills an empty database with this many synthetic applications first.
    pub demo: Option<usize>,
    /// `system`, or `manual`: time moves only through `POST /api/v1/admin/clock`.
    pub clock: ClockKind,
    /// Where notifications go: `file:DIR`, `smtp://…`, `smtps://…` or `off`; `file:` and
    /// `outbox/` beside the database when absent. May hold a password: never printed.
    pub notify: Option<String>,
    /// The address parents reach the service at, printed in documents' verification links;
    /// the bound address when absent, never a request's Host (see `http::public_url_for`).
    pub public_url: Option<String>,
    pub http: HttpSettings,
    pub limits: LimitSettings,
    pub proxy: ProxySettings,
    pub store: StoreSettings,
    pub outbox: OutboxSettings,
    /// `development` (the default: a demo, a test, a small trial) or `production`. A
    /// production deployment without an identity provider is refused at start unless
    /// `oidc.allow_production_without_provider` says so (README, "Signing in").
    pub deployment: Deployment,
    pub oidc: OidcSettings,
    pub open_data: OpenDataSettings,
    pub attachments: AttachmentSettings,
}

/// The daily open-data snapshots (src/opendata.rs), cut at local midnight and served at
/// `/api/v1/open-data`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenDataSettings {
    /// Where they are kept, one folder per day; `<db>.open-data/` beside the database when
    /// absent.
    pub dir: Option<PathBuf>,
    /// How many days of them are kept; 0 makes none.
    pub keep_days: u32,
}

impl Default for OpenDataSettings {
    fn default() -> Self {
        OpenDataSettings {
            dir: None,
            keep_days: 30,
        }
    }
}

/// Documents attached to an application (issue 19, `domain::attachment`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttachmentSettings {
    /// The largest file, in MiB; a larger upload is refused (413) before it is read whole.
    pub file_max_mb: u64,
    /// Files one application may hold.
    pub files_max: u32,
    /// All of one application's files together, in MiB.
    pub total_max_mb: u64,
    /// A ClamAV daemon every file is scanned by before it is accepted: its Unix socket's
    /// path, or `tcp:host:port`. Absent: files are not scanned. When set and the daemon
    /// does not answer, uploads are refused (503), never accepted unscanned.
    pub clamd: Option<String>,
}

/// A scan of a certificate is well under 10 MiB; ten files cover every document a claim
/// and a birth certificate need with room for re-sends, and 30 MiB bounds what one
/// application adds to the database (and to every replica and backup).
impl Default for AttachmentSettings {
    fn default() -> Self {
        AttachmentSettings {
            file_max_mb: 10,
            files_max: 10,
            total_max_mb: 30,
            clamd: None,
        }
    }
}

impl AttachmentSettings {
    pub fn limits(&self) -> crate::domain::attachment::AttachmentLimits {
        const MIB: u64 = 1024 * 1024;
        crate::domain::attachment::AttachmentLimits {
            file_bytes_max: self.file_max_mb.saturating_mul(MIB),
            files_max: self.files_max,
            total_bytes_max: self.total_max_mb.saturating_mul(MIB),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Deployment {
    #[default]
    Development,
    Production,
}

/// The OpenID Connect provider parents and staff sign in through (src/http/oidc.rs). No
/// `issuer`: no provider, and parents use access codes as before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcSettings {
    /// The provider's issuer URL; its discovery document is `<issuer>/.well-known/openid-configuration`.
    pub issuer: Option<String>,
    /// This service's client id at the provider.
    pub client_id: String,
    /// The client secret (a confidential client); absent for a public client with PKCE
    /// only. Never printed.
    pub client_secret: Option<String>,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// The ID token's claim that carries the person's IIN.
    pub iin_claim: String,
    /// A prefix the provider writes before the 12 digits (e.g. `IIN`, as in the subject of
    /// the national certificates), removed before the IIN is checked; empty: none.
    pub iin_prefix: String,
    /// The claim with the person's full name; empty: the name is taken from the form.
    pub name_claim: String,
    /// Seconds a call to the provider may take before it counts as down.
    pub timeout_secs: u64,
    /// Whether a production deployment may run without a provider (access codes only, with
    /// the squatting that allows: README, "Signing in").
    pub allow_production_without_provider: bool,
    /// `[oidc.staff]`: another provider for staff (a municipality's staff directory:
    /// Keycloak, Entra ID…). Present: staff sign in there only, and this section's provider
    /// signs in parents only. Absent: staff sign in through this section's provider.
    pub staff: Option<StaffOidcSettings>,
}

/// The provider staff sign in through when it is not the parents' one (`[oidc.staff]`).
/// Staff are known by the subject their account is bound to (`kezek staff bind`), not by
/// an IIN: a staff directory need not carry one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaffOidcSettings {
    /// The staff provider's issuer URL (required in this section).
    pub issuer: String,
    /// This service's client id at the staff provider.
    pub client_id: String,
    /// Its client secret (prefer `KEZEK_OIDC__STAFF__CLIENT_SECRET`); never printed.
    pub client_secret: Option<String>,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// The ID token's claim that names the staff member, matched against the subject an
    /// account is bound to: `sub` by default; `oid` for Entra ID, whose `sub` differs per
    /// application while `oid` is the person's in the whole tenant.
    pub subject_claim: String,
    /// Where the staff provider sends the browser back; `<public_url>/signin/staff/callback`
    /// when absent. Another host (an internal name staff reach the service by) may be
    /// given; the path must be `/signin/staff/callback`.
    pub redirect_url: Option<String>,
    /// Seconds a call to the staff provider may take before it counts as down.
    pub timeout_secs: u64,
}

impl Default for StaffOidcSettings {
    fn default() -> Self {
        StaffOidcSettings {
            issuer: String::new(),
            client_id: "kezek".to_string(),
            client_secret: None,
            scopes: vec!["profile".to_string()],
            subject_claim: "sub".to_string(),
            redirect_url: None,
            timeout_secs: 10,
        }
    }
}

impl Default for OidcSettings {
    fn default() -> Self {
        OidcSettings {
            issuer: None,
            client_id: "kezek".to_string(),
            client_secret: None,
            scopes: vec!["profile".to_string()],
            iin_claim: "iin".to_string(),
            iin_prefix: String::new(),
            name_claim: "name".to_string(),
            timeout_secs: 10,
            allow_production_without_provider: false,
            staff: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ClockKind {
    #[default]
    System,
    Manual,
}

/// Connections and requests: what a slow or silent client may hold, and for how long.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// A request not answered within this many seconds gets 503 `timeout`.
    pub request_timeout_secs: u64,
    /// Seconds a client has to send a request's whole head (request line and headers),
    /// counted from when the connection opens or falls idle after its previous answer. So
    /// it is also the idle keep-alive timeout: hyper runs the one timer for both.
    pub header_read_timeout_secs: u64,
    /// Connections served at once. Past it, new connections wait in the kernel's accept
    /// queue (backlog) until one closes: nothing is refused that a moment's patience would
    /// serve, and the timeouts above bound how long any one connection holds its place.
    pub max_connections: usize,
    /// Seconds a shutdown (SIGTERM, SIGINT) waits for requests in flight before it stops
    /// serving them.
    pub shutdown_grace_secs: u64,
}

/// Per-client and global quotas (see `src/http/limits.rs` and `src/http/admission.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Parent look-ups a minute per client; 0 turns the limit off (load tests).
    pub lookups_per_minute: u32,
    /// Look-ups allowed at once before the rate applies.
    pub lookup_burst: u32,
    /// Wrong access codes an hour per client and application; 0 turns the limit off.
    pub wrong_codes_per_hour: u32,
    /// Wrong codes allowed at once before that client is stopped on that application.
    pub wrong_code_burst: u32,
    /// Registrations an hour per client; 0 turns the limit off.
    pub registrations_per_client_per_hour: u32,
    /// Registrations an hour per applicant (the parent's IIN); 0 turns the limit off.
    pub registrations_per_applicant_per_hour: u32,
    /// Writer commands waiting at once; past it, writes answer 503 with `Retry-After`.
    pub pending_writes: usize,
}

/// Which peers are reverse proxies whose forwarding headers are believed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxySettings {
    /// Addresses or networks (`10.0.0.0/8`, `127.0.0.1/32`) of the proxies in front of the
    /// service. Empty: no proxy is believed and every client is its peer address.
    pub trusted: Vec<IpNet>,
    /// The header they write: `x-forwarded-for` or `forwarded` (RFC 7239). Only this one is
    /// read: a proxy that writes the other passes a client's forgery of this one untouched.
    pub header: crate::http::proxy::ForwardedHeader,
}

/// The messages to parents once delivered (src/notify/sender.rs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxSettings {
    /// Days a delivered message is kept before the sender purges it; 0: for ever.
    /// Messages not delivered are never purged.
    pub keep_delivered_days: u32,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            keep_delivered_days: crate::notify::KEEP_DELIVERED_DAYS_DEFAULT,
        }
    }
}

impl OutboxSettings {
    /// The sender's settings these describe.
    pub fn sender(&self) -> crate::notify::SenderConfig {
        let days = self.keep_delivered_days;
        crate::notify::SenderConfig {
            keep_delivered: (days > 0).then(|| chrono::Duration::days(days.into())),
            ..crate::notify::SenderConfig::default()
        }
    }
}

/// The database's WAL checkpoints (src/store/checkpoint.rs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// Who checkpoints the WAL: Kezek, or an external replicator (Litestream).
    pub checkpoints: CheckpointsBy,
    /// The WAL's bound in MiB when Kezek checkpoints: a TRUNCATE checkpoint runs once it
    /// passes half of it.
    pub wal_max_mb: u64,
    /// The anchor file (the journal's head outside the database); `<db>.anchor` if absent.
    pub anchor: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CheckpointsBy {
    #[default]
    Kezek,
    Litestream,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            checkpoints: CheckpointsBy::Kezek,
            wal_max_mb: crate::store::checkpoint::WAL_MAX_BYTES_DEFAULT / (1024 * 1024),
            anchor: None,
        }
    }
}

impl StoreSettings {
    /// The store's options these settings describe.
    pub fn options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            checkpoints: self.checkpoints(),
            anchor: self.anchor.clone(),
        }
    }

    fn checkpoints(&self) -> crate::store::checkpoint::Policy {
        use crate::store::checkpoint::Policy;
        match self.checkpoints {
            CheckpointsBy::Kezek => Policy::Own {
                wal_max_bytes: self.wal_max_mb.saturating_mul(1024 * 1024),
            },
            CheckpointsBy::Litestream => Policy::External,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            db: PathBuf::from("./kezek.db"),
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            demo: None,
            clock: ClockKind::System,
            notify: None,
            public_url: None,
            http: HttpSettings::default(),
            limits: LimitSettings::default(),
            proxy: ProxySettings::default(),
            store: StoreSettings::default(),
            outbox: OutboxSettings::default(),
            deployment: Deployment::Development,
            oidc: OidcSettings::default(),
            open_data: OpenDataSettings::default(),
            attachments: AttachmentSettings::default(),
        }
    }
}

impl Default for HttpSettings {
    /// 10 s for a request's head is generous for any real client on a slow mobile link and
    /// short enough that 1,000 silent connections last only as long; 1,024 connections fit
    /// the common default of 1,024 open files with room for the database and the outbox.
    fn default() -> Self {
        HttpSettings {
            request_timeout_secs: 10,
            header_read_timeout_secs: 10,
            max_connections: 768,
            shutdown_grace_secs: 20,
        }
    }
}

impl Default for LimitSettings {
    /// Look-ups and codes as before (src/http/limits.rs). A family registers a few children
    /// a year; 10 an hour from one address leaves room for a shared connection (a school, a
    /// public service centre), and 5 per applicant for a large family or a correction.
    fn default() -> Self {
        let look_ups = crate::http::limits::LimitConfig::default();
        LimitSettings {
            lookups_per_minute: look_ups.lookups_per_minute,
            lookup_burst: look_ups.lookup_burst,
            wrong_codes_per_hour: look_ups.wrong_codes_per_hour,
            wrong_code_burst: look_ups.wrong_code_burst,
            registrations_per_client_per_hour: 10,
            registrations_per_applicant_per_hour: 5,
            pending_writes: 1024,
        }
    }
}

/// A flag given on the command line, as a key of the configuration (`limits.lookups_per_minute`)
/// and its value; the flags' layer is a list of these.
pub type Override = (&'static str, figment::value::Value);

impl Config {
    /// The layers merged: defaults, then `file` (when given, else `KEZEK_CONFIG`'s file, else
    /// none), then `KEZEK_*` variables, then `flags`.
    pub fn load(file: Option<&Path>, flags: &[Override]) -> Result<Config, Box<figment::Error>> {
        Config::figment(file, flags).extract().map_err(Box::new)
    }

    fn figment(file: Option<&Path>, flags: &[Override]) -> Figment {
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(CONFIG_FILE_VARIABLE).map(PathBuf::from));
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            // `file` (not `Toml::file`'s search upwards): a named file that is missing is an
            // error, not an empty layer.
            figment = figment.merge(Toml::file_exact(file));
        }
        // Only variables that name a key of ours: others share the prefix (KEZEK_BENCH_DB,
        // KEZEK_SCREENSHOTS) and must not be refused as unknown keys.
        let keys = top_level_keys();
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .filter(move |key| {
                    let first = key.as_str().split("__").next().unwrap_or("");
                    keys.iter().any(|k| k.eq_ignore_ascii_case(first))
                })
                .split("__")
                .lowercase(true),
        );
        for (key, value) in flags {
            figment = figment.merge(Serialized::default(key, value.clone()));
        }
        figment
    }

    /// The settings as TOML, secrets replaced: what the service prints at start.
    pub fn printable(&self) -> String {
        let mut shown = self.clone();
        if let Some(notify) = &shown.notify {
            shown.notify = Some(redact_channel(notify));
        }
        if shown.oidc.client_secret.is_some() {
            shown.oidc.client_secret = Some("***".to_string());
        }
        if let Some(staff) = shown
            .oidc
            .staff
            .as_mut()
            .filter(|s| s.client_secret.is_some())
        {
            staff.client_secret = Some("***".to_string());
        }
        toml::to_string(&shown).expect("the configuration serialises")
    }

    /// Refuses a production deployment without an identity provider, unless allowed: there
    /// anyone who knows a child's IIN can register the child and hold its access code.
    pub fn check_identity(&self) -> Result<(), String> {
        let without = self
            .oidc
            .issuer
            .as_deref()
            .is_none_or(|i| i.trim().is_empty());
        if self.deployment == Deployment::Production
            && without
            && !self.oidc.allow_production_without_provider
        {
            return Err(
                "a production deployment needs an identity provider ([oidc] issuer): \
                        without one, anyone who knows a child's IIN can register the child \
                        (README, \"Signing in\"); set oidc.allow_production_without_provider \
                        = true to run with access codes only"
                    .to_string(),
            );
        }
        Ok(())
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.http.request_timeout_secs)
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.http.header_read_timeout_secs)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.http.shutdown_grace_secs)
    }
}

/// The names of `Config`'s fields, sections among them.
fn top_level_keys() -> Vec<String> {
    // A default with every optional field set, so that each field serialises.
    let full = Config {
        demo: Some(0),
        notify: Some(String::new()),
        public_url: Some(String::new()),
        ..Config::default()
    };
    match figment::value::Value::serialize(full) {
        Ok(figment::value::Value::Dict(_, dict)) => dict.into_keys().collect(),
        _ => unreachable!("a struct serialises to a dictionary"),
    }
}

/// A notification channel without its user and password: `smtp://…@host` keeps the host.
fn redact_channel(spec: &str) -> String {
    match spec.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
                None => spec.to_string(),
            }
        }
        None => spec.to_string(),
    }
}

/// A flag's value as a configuration value (for [`Config::load`]'s `flags`).
pub fn flag<T: Serialize>(key: &'static str, value: T) -> Override {
    let value = figment::value::Value::serialize(value).expect("a flag's value serialises");
    (key, value)
}

/// [`flag`] for a flag that may be absent: `None` overrides nothing.
pub fn given<T: Serialize>(key: &'static str, value: Option<T>) -> Option<Override> {
    value.map(|value| flag(key, value))
}

#[cfg(test)]
// figment's Jail closures answer figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn the_defaults_stand_without_file_environment_or_flags() {
        Jail::expect_with(|_jail| {
            assert_eq!(Config::load(None, &[]).unwrap(), Config::default());
            Ok(())
        });
    }

    #[test]
    fn a_flag_beats_the_environment_which_beats_the_file() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "kezek.toml",
                r#"
                    addr = "0.0.0.0:9000"
                    public_url = "https://file.example"
                    [http]
                    max_connections = 10
                    [limits]
                    lookups_per_minute = 7
                "#,
            )?;
            jail.set_env("KEZEK_PUBLIC_URL", "https://env.example");
            jail.set_env("KEZEK_HTTP__MAX_CONNECTIONS", "20");
            jail.set_env("KEZEK_NOTIFY", "off");
            jail.set_env("KEZEK_BENCH_DB", "not ours, ignored");
            let flags = [flag("limits.lookups_per_minute", 0u32)];
            let config = Config::load(Some(Path::new("kezek.toml")), &flags).unwrap();
            assert_eq!(config.addr, "0.0.0.0:9000".parse().unwrap(), "the file's");
            assert_eq!(config.public_url.as_deref(), Some("https://env.example"));
            assert_eq!(config.http.max_connections, 20, "the environment's");
            assert_eq!(config.notify.as_deref(), Some("off"));
            assert_eq!(config.limits.lookups_per_minute, 0, "the flag's");
            assert_eq!(
                config.http.header_read_timeout_secs,
                HttpSettings::default().header_read_timeout_secs,
                "the default"
            );
            Ok(())
        });
    }

    #[test]
    fn a_staff_provider_is_its_own_section_with_its_secret_from_the_environment() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "kezek.toml",
                r#"
                    [oidc]
                    issuer = "https://portal.example.kz"
                    [oidc.staff]
                    issuer = "https://sso.akimat.example.kz/realms/staff"
                    client_id = "kezek-staff"
                    subject_claim = "oid"
                "#,
            )?;
            jail.set_env("KEZEK_OIDC__STAFF__CLIENT_SECRET", "from-the-environment");
            let config = Config::load(Some(Path::new("kezek.toml")), &[]).unwrap();
            let staff = config.oidc.staff.expect("the section");
            assert_eq!(staff.issuer, "https://sso.akimat.example.kz/realms/staff");
            assert_eq!(staff.client_id, "kezek-staff");
            assert_eq!(staff.subject_claim, "oid");
            assert_eq!(staff.client_secret.as_deref(), Some("from-the-environment"));
            assert_eq!(staff.scopes, vec!["profile".to_string()], "the default");
            assert_eq!(config.oidc.client_id, "kezek", "the parents' own");
            Ok(())
        });
    }

    #[test]
    fn the_file_may_be_named_by_the_environment() {
        Jail::expect_with(|jail| {
            jail.create_file("elsewhere.toml", "[proxy]\ntrusted = [\"10.0.0.0/8\"]\n")?;
            jail.set_env(CONFIG_FILE_VARIABLE, "elsewhere.toml");
            let config = Config::load(None, &[]).unwrap();
            assert_eq!(config.proxy.trusted, vec!["10.0.0.0/8".parse().unwrap()]);
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_or_a_missing_file_is_an_error() {
        Jail::expect_with(|jail| {
            jail.create_file("typo.toml", "[http]\nmax_conections = 5\n")?;
            let error = Config::load(Some(Path::new("typo.toml")), &[]).unwrap_err();
            assert!(error.to_string().contains("max_conections"), "{error}");
            assert!(Config::load(Some(Path::new("absent.toml")), &[]).is_err());
            Ok(())
        });
    }

    #[test]
    fn the_example_file_parses_to_the_defaults() {
        // kezek.example.toml documents every key with its default: it must say the truth.
        Jail::expect_with(|_jail| {
            let example = concat!(env!("CARGO_MANIFEST_DIR"), "/kezek.example.toml");
            let config = Config::load(Some(Path::new(example)), &[]).unwrap();
            assert_eq!(config, Config::default());
            Ok(())
        });
    }

    #[test]
    fn production_without_a_provider_is_refused_unless_allowed() {
        let mut config = Config {
            deployment: Deployment::Production,
            ..Config::default()
        };
        assert!(config
            .check_identity()
            .unwrap_err()
            .contains("identity provider"));
        config.oidc.allow_production_without_provider = true;
        assert_eq!(config.check_identity(), Ok(()));
        config.oidc.allow_production_without_provider = false;
        config.oidc.issuer = Some("https://id.example.kz".into());
        assert_eq!(config.check_identity(), Ok(()));
        assert_eq!(
            Config::default().check_identity(),
            Ok(()),
            "development runs without"
        );
    }

    #[test]
    fn the_printed_configuration_hides_the_client_secret() {
        let mut config = Config::default();
        config.oidc.client_secret = Some("cl13nt-s3cret".into());
        config.oidc.staff = Some(StaffOidcSettings {
            issuer: "https://staff.example.kz".into(),
            client_secret: Some("st4ff-s3cret".into()),
            ..StaffOidcSettings::default()
        });
        let printed = config.printable();
        assert!(!printed.contains("cl13nt-s3cret"), "{printed}");
        assert!(!printed.contains("st4ff-s3cret"), "{printed}");
        assert!(printed.contains("https://staff.example.kz"), "{printed}");
    }

    #[test]
    fn the_printed_configuration_hides_the_smtp_password() {
        let config = Config {
            notify: Some("smtp://kezek:s3cret@mail.example:587?from=a%40b.kz".into()),
            ..Config::default()
        };
        let printed = config.printable();
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(printed.contains("mail.example:587"), "{printed}");
    }
}
