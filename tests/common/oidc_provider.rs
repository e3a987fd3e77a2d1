//! The real OpenID Connect provider of the tests (tests/oidc/provider.mjs, `oidc-provider`
//! from npm, installed by scripts/install-test-deps), on a port of its own, stopped when
//! dropped. Included by the tests that sign people in (`#[path] mod oidc_provider;`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The provider, stopped when dropped.
pub struct Provider {
    child: Child,
    pub issuer: String,
}

impl Provider {
    /// Starts it on `port` (0: any free one), with `redirect` as Kezek's redirect URI.
    pub fn start(redirect: &str, port: u16) -> Provider {
        Provider::start_directory(redirect, port, "portal")
    }

    /// Starts a staff directory instead (`--directory staff`: client `kezek-staff`, its own
    /// people), as `[oidc.staff]` points Kezek at.
    pub fn start_staff(redirect: &str, port: u16) -> Provider {
        Provider::start_directory(redirect, port, "staff")
    }

    fn start_directory(redirect: &str, port: u16, directory: &str) -> Provider {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc");
        assert!(
            std::path::Path::new(dir)
                .join("node_modules/oidc-provider")
                .exists(),
            "oidc-provider is not installed: run scripts/install-test-deps"
        );
        let mut child = Command::new("node")
            .arg(format!("{dir}/provider.mjs"))
            .args(["--port", &port.to_string(), "--redirect", redirect])
            .args(["--directory", directory])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        // Drained while it runs: a closed pipe would end the provider at its next line.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let issuer = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the provider did not start: {line:?}"))
            .to_string();
        Provider { child, issuer }
    }

    pub fn port(&self) -> u16 {
        self.issuer.rsplit(':').next().unwrap().parse().unwrap()
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Kezek's `[oidc]` settings for this provider, with `base` as Kezek's public address.
pub fn config(issuer: &str, base: &str) -> Option<kezek::http::oidc::OidcConfig> {
    let settings = kezek::config::OidcSettings {
        issuer: Some(issuer.to_string()),
        client_secret: Some("kezek-test-secret".into()),
        timeout_secs: 3,
        ..Default::default()
    };
    kezek::http::oidc::OidcConfig::from_settings(&settings, base).unwrap()
}

/// Kezek's `[oidc.staff]` settings for a staff directory started by `start_staff`, staff
/// named by `subject_claim`.
pub fn staff_config(
    parents_issuer: Option<&str>,
    staff_issuer: &str,
    base: &str,
    subject_claim: &str,
) -> Option<kezek::http::oidc::OidcConfig> {
    let settings = kezek::config::OidcSettings {
        issuer: parents_issuer.map(str::to_string),
        staff: Some(kezek::config::StaffOidcSettings {
            issuer: staff_issuer.to_string(),
            client_id: "kezek-staff".into(),
            client_secret: Some("kezek-staff-test-secret".into()),
            subject_claim: subject_claim.into(),
            timeout_secs: 3,
            ..Default::default()
        }),
        ..Default::default()
    };
    kezek::http::oidc::OidcConfig::staff_from_settings(&settings, base).unwrap()
}
