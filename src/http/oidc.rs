//! Signing in through an OpenID Connect provider (issue 14): the stand-in for the state
//! portal, where the applicant signs in with their IIN and the request's applicant must be
//! the signed-in person (seed 004).
//!
//! The flow is the authorization code with PKCE (`openidconnect` builds the request and
//! verifies the ID token). What a sign-in started here keeps until its answer comes back
//! (the PKCE verifier, the nonce, where to go after) stays in this process, keyed by the
//! `state`; the browser holds only the state, in a signed cookie, so that an answer is
//! taken only from the browser that asked. Each state is taken once: its answer presented
//! again is `signin_replayed`, whatever the provider would say of the code, and an ID token
//! whose nonce is not the one this sign-in sent is refused the same way.
//!
//! The provider's discovery document and keys are fetched on first use and kept for an
//! hour; a token signed with a key id they do not have fetches them again (keys rotate), at
//! most once every few seconds, so forged key ids cannot make us flood the provider.
//!
//! The API takes the provider's ID token itself as `Authorization: Bearer <ID token>`
//! (an API client runs the flow and checks its own nonce): signature, issuer, audience
//! and expiry are checked as for the pages.
//!
//! Staff may sign in through another provider than parents (`[oidc.staff]`, a staff
//! directory): then there are two `Provider`s, each with its own client, keys and waiting
//! sign-ins, and each answer comes back to its own path (`CALLBACK_PATH`,
//! `STAFF_CALLBACK_PATH`), so an answer of one is never taken by the other. A staff member
//! is known by a subject (`subject_claim`), never by an IIN.
//!
//! Every failure is a row of the error table (`error.rs`), never a 500: a bad signature,
//! another audience, an expired token, a replayed state or nonce, an IIN claim missing or
//! malformed, a provider that does not answer. Nothing is stored by a failed sign-in, and
//! the person can start again.

use super::error::{self, ErrorKind};
use crate::config::{OidcSettings, StaffOidcSettings};
use crate::domain::iin::Iin;
use base64::Engine;
use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadataWithLogout, RedirectUrl, RequestTokenError, Scope,
    SignatureVerificationError, TokenResponse,
};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The path the provider sends the browser back to.
pub const CALLBACK_PATH: &str = "/signin/callback";
/// The path a separate staff provider (`[oidc.staff]`) sends the browser back to.
pub const STAFF_CALLBACK_PATH: &str = "/signin/staff/callback";
/// The cookie that binds a sign-in's answer to the browser that started it.
pub const SIGNIN_COOKIE: &str = "kezek_signin";
/// How long a started sign-in waits for its answer.
pub const PENDING_TTL: chrono::Duration = chrono::Duration::minutes(10);
/// Sign-ins waiting at once; past it the oldest is forgotten (its person starts again).
const PENDING_MAX: usize = 10_000;
/// How long the discovery document and keys are kept.
const METADATA_MAX_AGE: Duration = Duration::from_secs(3600);
/// The least time between two fetches forced by an unknown key id.
const REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(5);
/// The longest name taken from a token.
const NAME_CHARS_MAX: usize = 200;
/// The longest staff subject taken from a token (`oid`, `sub` and the like are far shorter).
const SUBJECT_CHARS_MAX: usize = 255;

/// The provider as this deployment uses it; built from the configuration's `[oidc]`.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    /// Empty for a staff provider: staff are known by their subject.
    pub iin_claim: String,
    pub iin_prefix: String,
    /// Empty: names come from the form.
    pub name_claim: String,
    /// The claim that names a staff member (matched against an account's bound subject).
    pub subject_claim: String,
    pub timeout: Duration,
    /// `<public url>/signin/callback`.
    pub redirect_url: String,
    /// `<public url>/`, where the provider's end-session endpoint sends the browser back.
    pub post_logout_url: String,
}

impl OidcConfig {
    /// `None` when no issuer is configured (access codes only).
    pub fn from_settings(
        settings: &OidcSettings,
        public_url: &str,
    ) -> Result<Option<OidcConfig>, String> {
        let Some(issuer) = settings.issuer.as_deref().map(str::trim) else {
            return Ok(None);
        };
        if issuer.is_empty() {
            return Ok(None);
        }
        IssuerUrl::new(issuer.to_string()).map_err(|e| format!("oidc.issuer: {e}"))?;
        if settings.iin_claim.trim().is_empty() {
            return Err("oidc.iin_claim must name a claim".into());
        }
        let public_url = public_url.trim_end_matches('/');
        Ok(Some(OidcConfig {
            issuer: issuer.to_string(),
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone(),
            scopes: settings.scopes.clone(),
            iin_claim: settings.iin_claim.clone(),
            iin_prefix: settings.iin_prefix.clone(),
            name_claim: settings.name_claim.clone(),
            subject_claim: "sub".to_string(),
            timeout: Duration::from_secs(settings.timeout_secs.max(1)),
            redirect_url: format!("{public_url}{CALLBACK_PATH}"),
            post_logout_url: format!("{public_url}/"),
        }))
    }

    /// The staff provider of `[oidc.staff]`; `None` when the section is absent (staff then
    /// sign in through the parents' provider, `from_settings`).
    pub fn staff_from_settings(
        settings: &OidcSettings,
        public_url: &str,
    ) -> Result<Option<OidcConfig>, String> {
        let Some(staff) = &settings.staff else {
            return Ok(None);
        };
        let issuer = staff.issuer.trim();
        if issuer.is_empty() {
            return Err(
                "oidc.staff.issuer must name the staff provider (or remove [oidc.staff] \
                        to sign staff in through [oidc])"
                    .into(),
            );
        }
        IssuerUrl::new(issuer.to_string()).map_err(|e| format!("oidc.staff.issuer: {e}"))?;
        let parents = settings.issuer.as_deref().map(str::trim);
        if parents == Some(issuer) && settings.client_id == staff.client_id {
            return Err(
                "[oidc.staff] names the parents' provider and client: remove it to sign \
                        staff in through [oidc]"
                    .into(),
            );
        }
        if staff.subject_claim.trim().is_empty() {
            return Err("oidc.staff.subject_claim must name a claim".into());
        }
        let public_url = public_url.trim_end_matches('/');
        Ok(Some(OidcConfig {
            issuer: issuer.to_string(),
            client_id: staff.client_id.clone(),
            client_secret: staff.client_secret.clone(),
            scopes: staff.scopes.clone(),
            iin_claim: String::new(),
            iin_prefix: String::new(),
            name_claim: String::new(),
            subject_claim: staff.subject_claim.trim().to_string(),
            timeout: Duration::from_secs(staff.timeout_secs.max(1)),
            redirect_url: staff_redirect(staff, public_url)?,
            post_logout_url: format!("{public_url}/"),
        }))
    }
}

/// The staff provider's redirect URI: the configured one, whose path must be ours, or
/// `<public_url>/signin/staff/callback`.
fn staff_redirect(staff: &StaffOidcSettings, public_url: &str) -> Result<String, String> {
    let Some(url) = staff.redirect_url.as_deref().map(str::trim) else {
        return Ok(format!("{public_url}{STAFF_CALLBACK_PATH}"));
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("oidc.staff.redirect_url: {e}"))?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.path() != STAFF_CALLBACK_PATH {
        return Err(format!(
            "oidc.staff.redirect_url must be an http(s) address ending in {STAFF_CALLBACK_PATH}"
        ));
    }
    Ok(url.to_string())
}

/// A person the provider vouched for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The provider's stable identifier of the person (`sub`).
    pub subject: String,
    pub iin: Iin,
    /// The full name, when the provider gives it (`name_claim`).
    pub name: Option<String>,
}

/// Why a sign-in or a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInError {
    ProviderDown,
    /// No sign-in was started here with this state, or it expired.
    StateInvalid,
    /// The answer (or the ID token in it) was used before.
    Replayed,
    /// The provider answered with an error (the person cancelled, the code was refused).
    Denied,
    Signature,
    Audience,
    Expired,
    Invalid,
    IinMissing,
    IinInvalid,
    /// A staff provider's token without the configured subject claim.
    SubjectMissing,
}

impl SignInError {
    pub fn kind(self) -> ErrorKind {
        match self {
            SignInError::ProviderDown => error::PROVIDER_UNAVAILABLE,
            SignInError::StateInvalid => error::SIGNIN_STATE_INVALID,
            SignInError::Replayed => error::SIGNIN_REPLAYED,
            SignInError::Denied => error::SIGNIN_DENIED,
            SignInError::Signature => error::TOKEN_SIGNATURE_INVALID,
            SignInError::Audience => error::TOKEN_AUDIENCE_INVALID,
            SignInError::Expired => error::TOKEN_EXPIRED,
            SignInError::Invalid => error::TOKEN_INVALID,
            SignInError::IinMissing => error::IIN_CLAIM_MISSING,
            SignInError::IinInvalid => error::IIN_CLAIM_INVALID,
            SignInError::SubjectMissing => error::SUBJECT_CLAIM_MISSING,
        }
    }
}

/// Who the sign-in is for: a parent (the pages' person session) or a staff member (the
/// account bound to the subject).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Parent,
    Staff,
}

/// A started sign-in, kept until its answer comes back.
struct Pending {
    purpose: Purpose,
    nonce: Nonce,
    verifier: String,
    next: String,
    started: DateTime<Utc>,
}

/// An ID token whose signature, issuer, audience and expiry (and nonce) hold: who it names
/// is then read as a parent (`Provider::person`) or a staff member (`Provider::staff_subject`).
#[derive(Clone, Debug)]
pub struct Verified {
    /// The token's `sub`.
    subject: String,
    /// Its payload: the provider's word, the signature holding.
    claims: serde_json::Value,
}

/// What a finished sign-in gives the page that receives the answer.
pub struct SignedIn {
    pub verified: Verified,
    pub purpose: Purpose,
    /// The local path to go to (checked to be one of ours when the sign-in started).
    pub next: String,
}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

struct Cached {
    metadata: ProviderMetadataWithLogout,
    fetched: Instant,
}

/// The configured provider: its metadata and keys, and the sign-ins waiting for answers.
pub struct Provider {
    config: OidcConfig,
    http: reqwest::Client,
    /// A tokio mutex: held across the fetch, so concurrent first sign-ins fetch once.
    metadata: tokio::sync::Mutex<Option<Cached>>,
    /// A std mutex: held for a map operation, never across an await.
    pending: Mutex<HashMap<String, Pending>>,
    /// States whose answer was taken, until they would have expired: a second answer for
    /// one of them is a replay.
    taken: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl Provider {
    pub fn new(config: OidcConfig) -> Provider {
        let http = reqwest::Client::builder()
            // A provider's answer is never followed to another address (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .build()
            .expect("a client with rustls and no redirects builds");
        Provider {
            config,
            http,
            metadata: tokio::sync::Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
            taken: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// The discovery document and keys, fetched when absent, old, or `refresh` (a token
    /// named a key they lack; at most once per `REFRESH_MIN_INTERVAL`).
    async fn metadata(&self, refresh: bool) -> Result<ProviderMetadataWithLogout, SignInError> {
        let mut cached = self.metadata.lock().await;
        let fresh = cached.as_ref().is_some_and(|c| {
            let age = c.fetched.elapsed();
            age < METADATA_MAX_AGE && !(refresh && age >= REFRESH_MIN_INTERVAL)
        });
        if !fresh {
            let issuer = IssuerUrl::new(self.config.issuer.clone())
                .map_err(|_| SignInError::ProviderDown)?;
            match ProviderMetadataWithLogout::discover_async(issuer, &self.http).await {
                Ok(metadata) => {
                    *cached = Some(Cached {
                        metadata,
                        fetched: Instant::now(),
                    })
                }
                Err(error) => {
                    tracing::warn!(%error, "the identity provider's metadata or keys cannot be fetched");
                    // Keys we still hold verify tokens while the provider is away.
                    if cached.is_none() {
                        return Err(SignInError::ProviderDown);
                    }
                }
            }
        }
        Ok(cached.as_ref().expect("fetched or kept").metadata.clone())
    }

    fn client(&self, metadata: ProviderMetadataWithLogout) -> Result<Client, SignInError> {
        let redirect =
            RedirectUrl::new(self.config.redirect_url.clone()).map_err(|_| SignInError::Invalid)?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a sign-in: the provider's address to send the browser to, and the state the
    /// browser's cookie must carry back. `next` is a local path (checked by the caller).
    pub async fn begin(
        &self,
        purpose: Purpose,
        next: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, String), SignInError> {
        let client = self.client(self.metadata(false).await?)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        let state = state.secret().clone();
        let mut pending = self.pending.lock().expect("pending lock");
        pending.retain(|_, p| now - p.started < PENDING_TTL);
        if pending.len() >= PENDING_MAX {
            let oldest = pending
                .iter()
                .min_by_key(|(_, p)| p.started)
                .map(|(state, _)| state.clone());
            if let Some(oldest) = oldest {
                pending.remove(&oldest);
            }
        }
        pending.insert(
            state.clone(),
            Pending {
                purpose,
                nonce,
                verifier: verifier.secret().clone(),
                next: next.to_string(),
                started: now,
            },
        );
        Ok((url.to_string(), state))
    }

    /// Takes the started sign-in `state` names, once. `cookie_state` is the state the
    /// browser's cookie carries: an answer is taken only from the browser that asked.
    fn take(
        &self,
        state: &str,
        cookie_state: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Pending, SignInError> {
        let mut taken = self.taken.lock().expect("taken lock");
        taken.retain(|_, at| now - *at < PENDING_TTL);
        if taken.contains_key(state) {
            return Err(SignInError::Replayed);
        }
        if cookie_state.is_none_or(|c| !constant_time_eq(c.as_bytes(), state.as_bytes())) {
            return Err(SignInError::StateInvalid);
        }
        let pending = self.pending.lock().expect("pending lock").remove(state);
        let pending = pending
            .filter(|p| now - p.started < PENDING_TTL)
            .ok_or(SignInError::StateInvalid)?;
        if taken.len() < PENDING_MAX {
            taken.insert(state.to_string(), now);
        }
        Ok(pending)
    }

    /// The provider's answer at the callback: `code` and `state`, or `error`.
    pub async fn finish(
        &self,
        answer: &CallbackAnswer,
        cookie_state: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SignedIn, SignInError> {
        let state = answer.state.as_deref().ok_or(SignInError::StateInvalid)?;
        let pending = self.take(state, cookie_state, now)?;
        if answer.error.is_some() {
            return Err(SignInError::Denied);
        }
        let code = answer.code.clone().ok_or(SignInError::Denied)?;
        let client = self.client(self.metadata(false).await?)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|_| SignInError::ProviderDown)?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
            .request_async(&self.http)
            .await
            .map_err(|error| match error {
                RequestTokenError::ServerResponse(_) => SignInError::Denied,
                RequestTokenError::Request(_) => SignInError::ProviderDown,
                RequestTokenError::Parse(..) | RequestTokenError::Other(_) => SignInError::Invalid,
            })?;
        let token = response.id_token().ok_or(SignInError::Invalid)?.to_string();
        let verified = self.verify_token(&token, Some(&pending.nonce), now).await?;
        Ok(SignedIn {
            verified,
            purpose: pending.purpose,
            next: pending.next,
        })
    }

    /// Verifies an ID token and reads the parent from it (their IIN and name).
    pub async fn verify(
        &self,
        jwt: &str,
        nonce: Option<&Nonce>,
        now: DateTime<Utc>,
    ) -> Result<Identity, SignInError> {
        let verified = self.verify_token(jwt, nonce, now).await?;
        self.person(&verified)
    }

    /// Verifies an ID token and reads the staff member's subject from it.
    pub async fn verify_staff(
        &self,
        jwt: &str,
        nonce: Option<&Nonce>,
        now: DateTime<Utc>,
    ) -> Result<String, SignInError> {
        let verified = self.verify_token(jwt, nonce, now).await?;
        self.staff_subject(&verified)
    }

    /// Verifies an ID token: signature with the provider's keys, issuer, audience, expiry
    /// at `now`, and the nonce when one is expected.
    pub async fn verify_token(
        &self,
        jwt: &str,
        nonce: Option<&Nonce>,
        now: DateTime<Utc>,
    ) -> Result<Verified, SignInError> {
        let token = CoreIdToken::from_str(jwt).map_err(|_| SignInError::Invalid)?;
        let mut refresh = false;
        let subject = loop {
            let client = self.client(self.metadata(refresh).await?)?;
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(ALLOWED_ALGS.to_vec())
                .set_time_fn(move || now);
            let claims = match nonce {
                Some(nonce) => token.claims(&verifier, nonce),
                None => token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
            };
            match claims {
                Ok(claims) => break claims.subject().to_string(),
                Err(ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                )) if !refresh => refresh = true,
                Err(error) => return Err(verification_error(&error)),
            }
        };
        // The signature holds: the payload's other claims are the provider's word.
        let claims = payload(jwt).ok_or(SignInError::Invalid)?;
        Ok(Verified { subject, claims })
    }

    /// The parent a verified token names: their IIN (required) and name.
    pub fn person(&self, verified: &Verified) -> Result<Identity, SignInError> {
        let iin = self.iin_of(&verified.claims)?;
        let name = self.name_of(&verified.claims);
        Ok(Identity {
            subject: verified.subject.clone(),
            iin,
            name,
        })
    }

    /// The staff member a verified token names: the `subject_claim` (`sub` by default), as
    /// an account is bound to it. No IIN is asked: a staff directory need not have one.
    pub fn staff_subject(&self, verified: &Verified) -> Result<String, SignInError> {
        subject_of(&self.config.subject_claim, verified)
    }

    fn iin_of(&self, claims: &serde_json::Value) -> Result<Iin, SignInError> {
        match claims.get(&self.config.iin_claim) {
            None | Some(serde_json::Value::Null) => Err(SignInError::IinMissing),
            Some(serde_json::Value::String(text)) => {
                let digits = text
                    .trim()
                    .strip_prefix(self.config.iin_prefix.as_str())
                    .ok_or(SignInError::IinInvalid)?;
                Iin::parse(digits).map_err(|_| SignInError::IinInvalid)
            }
            Some(_) => Err(SignInError::IinInvalid),
        }
    }

    fn name_of(&self, claims: &serde_json::Value) -> Option<String> {
        if self.config.name_claim.is_empty() {
            return None;
        }
        let name = claims.get(&self.config.name_claim)?.as_str()?.trim();
        (!name.is_empty() && name.chars().count() <= NAME_CHARS_MAX).then(|| name.to_string())
    }

    /// Where to send the browser to end its session at the provider too, if it has an
    /// end-session endpoint (RP-Initiated Logout); fetched metadata only, never a wait.
    pub async fn end_session_url(&self) -> Option<String> {
        let metadata = self.metadata(false).await.ok()?;
        let endpoint = metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()?;
        let mut url = endpoint.url().clone();
        url.query_pairs_mut()
            .append_pair("client_id", &self.config.client_id)
            .append_pair("post_logout_redirect_uri", &self.config.post_logout_url);
        Some(url.to_string())
    }
}

/// The signature algorithms a token may use: the provider's choice among the common
/// asymmetric ones (never `none`, never a MAC keyed by something a client knows).
const ALLOWED_ALGS: &[CoreJwsSigningAlgorithm] = &[
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

fn verification_error(error: &ClaimsVerificationError) -> SignInError {
    match error {
        ClaimsVerificationError::Expired(_) => SignInError::Expired,
        ClaimsVerificationError::InvalidAudience(_) => SignInError::Audience,
        // The token was issued for another sign-in than the one that received it.
        ClaimsVerificationError::InvalidNonce(_) => SignInError::Replayed,
        ClaimsVerificationError::SignatureVerification(_) => SignInError::Signature,
        _ => SignInError::Invalid,
    }
}

fn subject_of(claim: &str, verified: &Verified) -> Result<String, SignInError> {
    if claim == "sub" {
        return Ok(verified.subject.clone());
    }
    let subject = verified
        .claims
        .get(claim)
        .and_then(serde_json::Value::as_str)
        .map(str::trim)
        .ok_or(SignInError::SubjectMissing)?;
    if subject.is_empty() || subject.chars().count() > SUBJECT_CHARS_MAX {
        return Err(SignInError::SubjectMissing);
    }
    Ok(subject.to_string())
}

/// A JWT's payload as JSON (its signature is checked apart).
fn payload(jwt: &str) -> Option<serde_json::Value> {
    let middle = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(middle.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Whether a bearer token looks like a JWT (three base64url parts) rather than a staff
/// token (`kzk_…`).
pub fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.split('.').count() == 3
}

/// The provider's answer as the callback's query string carries it.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct CallbackAnswer {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refused registrations per signed-in person (issue 14): each `already_queued` answer
/// counts; past `max` in an hour, the person's registrations are refused before they reach
/// the queue (`registration_attempts_limited`), so a person cannot go on probing which
/// children are queued. Time is the service's clock, passed in.
pub struct RefusalQuota {
    max: usize,
    window: chrono::Duration,
    refusals: Mutex<HashMap<String, Vec<DateTime<Utc>>>>,
}

/// People tracked at once; past it the quiet ones are forgotten first.
const QUOTA_PEOPLE_MAX: usize = 100_000;

impl RefusalQuota {
    pub fn new(max: usize) -> RefusalQuota {
        RefusalQuota {
            max,
            window: chrono::Duration::hours(1),
            refusals: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `person` may try again, if they are past the quota now.
    pub fn exhausted(&self, person: &str, now: DateTime<Utc>) -> Option<u64> {
        let mut refusals = self.refusals.lock().expect("quota lock");
        let times = refusals.get_mut(person)?;
        times.retain(|at| now - *at < self.window);
        if times.len() < self.max {
            return None;
        }
        let oldest = *times.iter().min().expect("at least max > 0 entries");
        Some(((oldest + self.window - now).num_seconds().max(1)) as u64)
    }

    /// Counts one refusal of `person`.
    pub fn refused(&self, person: &str, now: DateTime<Utc>) {
        let mut refusals = self.refusals.lock().expect("quota lock");
        if refusals.len() >= QUOTA_PEOPLE_MAX && !refusals.contains_key(person) {
            let window = self.window;
            refusals.retain(|_, times| times.iter().any(|at| now - *at < window));
        }
        refusals.entry(person.to_string()).or_default().push(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_quota_counts_refusals_in_the_last_hour() {
        let quota = RefusalQuota::new(3);
        let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 4, 0, 0).unwrap();
        for i in 0..3 {
            assert_eq!(quota.exhausted("a", t0), None, "after {i}");
            quota.refused("a", t0);
        }
        assert_eq!(quota.exhausted("a", t0), Some(3600));
        assert_eq!(quota.exhausted("b", t0), None, "per person");
        let later = t0 + chrono::Duration::minutes(61);
        assert_eq!(quota.exhausted("a", later), None, "an hour later");
    }

    #[test]
    fn a_staff_subject_is_the_configured_claim_and_never_empty() {
        let verified = Verified {
            subject: "pairwise-sub".into(),
            claims: serde_json::json!({"oid": "0f1e-oid", "blank": " ", "number": 7}),
        };
        assert_eq!(subject_of("sub", &verified), Ok("pairwise-sub".into()));
        assert_eq!(subject_of("oid", &verified), Ok("0f1e-oid".into()));
        for claim in ["absent", "blank", "number"] {
            assert_eq!(
                subject_of(claim, &verified),
                Err(SignInError::SubjectMissing),
                "{claim}"
            );
        }
    }

    #[test]
    fn a_staff_section_is_checked_and_gets_its_own_callback() {
        let mut settings = OidcSettings {
            issuer: Some("https://portal.example.kz".into()),
            ..OidcSettings::default()
        };
        let base = "https://kezek.example.kz/";
        assert!(OidcConfig::staff_from_settings(&settings, base)
            .unwrap()
            .is_none());
        settings.staff = Some(StaffOidcSettings::default());
        let empty = OidcConfig::staff_from_settings(&settings, base).unwrap_err();
        assert!(empty.contains("oidc.staff.issuer"), "{empty}");
        settings.staff = Some(StaffOidcSettings {
            issuer: "https://portal.example.kz".into(),
            ..StaffOidcSettings::default()
        });
        let same = OidcConfig::staff_from_settings(&settings, base).unwrap_err();
        assert!(same.contains("remove it"), "{same}");
        settings.staff = Some(StaffOidcSettings {
            issuer: "https://sso.example.kz/realms/staff".into(),
            client_id: "kezek-staff".into(),
            ..StaffOidcSettings::default()
        });
        let staff = OidcConfig::staff_from_settings(&settings, base)
            .unwrap()
            .unwrap();
        assert_eq!(
            staff.redirect_url,
            "https://kezek.example.kz/signin/staff/callback"
        );
        assert_eq!(staff.subject_claim, "sub");
        assert!(staff.iin_claim.is_empty(), "staff are not asked for an IIN");
        if let Some(section) = settings.staff.as_mut() {
            section.redirect_url = Some("https://kezek.internal/elsewhere".into());
        }
        assert!(OidcConfig::staff_from_settings(&settings, base).is_err());
        if let Some(section) = settings.staff.as_mut() {
            section.redirect_url = Some("https://kezek.internal/signin/staff/callback".into());
        }
        let staff = OidcConfig::staff_from_settings(&settings, base)
            .unwrap()
            .unwrap();
        assert_eq!(
            staff.redirect_url,
            "https://kezek.internal/signin/staff/callback"
        );
    }

    #[test]
    fn a_payload_is_read_from_the_middle_part() {
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"iin":"1"}"#);
        let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{body}.sig");
        assert!(looks_like_jwt(&jwt));
        assert!(!looks_like_jwt("kzk_0123"));
        assert_eq!(payload(&jwt).unwrap()["iin"], "1");
    }
}
