//! Per-client rate limits on parents' look-ups, so that nobody can walk the application
//! numbers or guess access codes.
//!
//! Two quotas, both GCRA buckets from `governor`:
//! - look-ups, per client address: every look-up spends one unit;
//! - wrong access codes, per client address *and application*: every wrong code spends one
//!   unit, and while this quota is spent that client's look-ups of that application are
//!   refused too (a peek at it spends nothing). A guesser is stopped after a handful of
//!   wrong codes on an application; other clients, and this client's other applications,
//!   are untouched, so a parent's right code is never refused because someone else (behind
//!   the same proxy or NAT) guessed at another application.
//!
//! The documents' verification endpoint has a quota of its own (`VerificationLimit`).
//!
//! The clock is a type parameter so that tests drive it by hand and are exact.

use crate::domain::application::ApplicationId;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::{DefaultKeyedStateStore, ShrinkableKeyedStateStore};
use governor::state::StateStore;
use governor::{NotUntil, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

/// The quotas, per client address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitConfig {
    /// Sustained look-ups a minute. 0 switches the look-up quota off (benchmarks).
    pub lookups_per_minute: u32,
    /// Look-ups allowed at once, on top of nothing spent yet. 0 counts as 1.
    pub lookup_burst: u32,
    /// Sustained wrong access codes an hour, per client and application. 0 switches the
    /// wrong-code quota off.
    pub wrong_codes_per_hour: u32,
    /// Wrong codes allowed at once before the client is stopped. 0 counts as 1.
    pub wrong_code_burst: u32,
}

impl Default for LimitConfig {
    /// 120 look-ups a minute (30 at once): far above a parent refreshing a page, far below a
    /// crawler. 20 wrong codes an hour (10 at once): enough for typos, nothing for guessing.
    fn default() -> Self {
        LimitConfig {
            lookups_per_minute: 120,
            lookup_burst: 30,
            wrong_codes_per_hour: 20,
            wrong_code_burst: 10,
        }
    }
}

type LookupLimiter<C> =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, C, NoOpMiddleware<<C as Clock>::Instant>>;
type WrongCodeLimiter<C> =
    RateLimiter<Probe, PeekableStore, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The two quotas of every client address.
#[derive(Debug)]
pub struct ParentLimits<C: Clock = DefaultClock> {
    /// `None` when the look-up quota is off.
    lookups: Option<LookupLimiter<C>>,
    /// `None` when the wrong-code quota is off.
    wrong_codes: Option<WrongCodeLimiter<C>>,
    clock: C,
}

impl ParentLimits<DefaultClock> {
    pub fn new(config: LimitConfig) -> Self {
        ParentLimits::with_clock(config, DefaultClock::default())
    }
}

impl<C: Clock + Clone> ParentLimits<C> {
    /// Limits that read the time from `clock` (tests pass a `FakeRelativeClock`).
    pub fn with_clock(config: LimitConfig, clock: C) -> Self {
        let lookups = NonZeroU32::new(config.lookups_per_minute).map(|rate| {
            let quota = Quota::per_minute(rate).allow_burst(at_least_one(config.lookup_burst));
            RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock.clone())
        });
        let wrong_codes = NonZeroU32::new(config.wrong_codes_per_hour).map(|rate| {
            let quota = Quota::per_hour(rate).allow_burst(at_least_one(config.wrong_code_burst));
            RateLimiter::new(quota, PeekableStore::default(), clock.clone())
        });
        ParentLimits {
            lookups,
            wrong_codes,
            clock,
        }
    }

    /// Spends one look-up of `ip`, or refuses with the whole seconds to wait (at least 1).
    /// Also refuses, spending nothing, while the wrong-code quota of `ip` on `application`
    /// (`None`: a number that names no application) is spent.
    pub fn check_lookup(&self, ip: IpAddr, application: Option<ApplicationId>) -> Result<(), u64> {
        if let Some(wrong_codes) = &self.wrong_codes {
            let peek = Probe {
                ip,
                application,
                peek: true,
            };
            wrong_codes
                .check_key(&peek)
                .map_err(|refusal| self.seconds_until(&refusal))?;
        }
        if let Some(lookups) = &self.lookups {
            lookups
                .check_key(&ip)
                .map_err(|refusal| self.seconds_until(&refusal))?;
        }
        Ok(())
    }

    /// Spends one unit of the wrong-code quota of `ip` on `application`. Past the quota there
    /// is nothing left to spend: the client stays refused there until the quota refills.
    pub fn wrong_code(&self, ip: IpAddr, application: Option<ApplicationId>) {
        if let Some(wrong_codes) = &self.wrong_codes {
            let spend = Probe {
                ip,
                application,
                peek: false,
            };
            // A refusal here means the quota is already spent: look-ups are refused anyway.
            let _ = wrong_codes.check_key(&spend);
        }
    }

    /// Forgets the addresses whose quotas are full again, so the maps hold only recent
    /// clients. Call it from a periodic task (every minute or so).
    pub fn retain_recent(&self) {
        if let Some(lookups) = &self.lookups {
            lookups.retain_recent();
            lookups.shrink_to_fit();
        }
        if let Some(wrong_codes) = &self.wrong_codes {
            wrong_codes.retain_recent();
            wrong_codes.shrink_to_fit();
        }
    }

    /// How many addresses each quota remembers: (look-ups, wrong codes).
    pub fn remembered(&self) -> (usize, usize) {
        (
            self.lookups.as_ref().map_or(0, |limiter| limiter.len()),
            self.wrong_codes.as_ref().map_or(0, |limiter| limiter.len()),
        )
    }

    fn seconds_until(&self, refusal: &NotUntil<C::Instant>) -> u64 {
        seconds_until(&self.clock, refusal)
    }
}

/// Whole seconds, rounded up, until a refused client may try again; never 0, so a
/// `Retry-After` never invites an immediate retry.
fn seconds_until<C: Clock>(clock: &C, refusal: &NotUntil<C::Instant>) -> u64 {
    let wait = refusal.wait_time_from(clock.now());
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

/// The documents' verification endpoint's own quota, per client address. Anyone may check
/// a printed document; nobody may walk the document numbers through the endpoint, and its
/// spending is apart from parents' look-ups, so checking papers never locks a parent out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerificationQuota {
    /// Sustained checks a minute. 0 switches the quota off.
    pub per_minute: u32,
    /// Checks allowed at once. 0 counts as 1.
    pub burst: u32,
}

impl Default for VerificationQuota {
    /// 30 a minute (10 at once): a person scanning a pile of referrals at a desk, not a
    /// crawler.
    fn default() -> Self {
        VerificationQuota {
            per_minute: 30,
            burst: 10,
        }
    }
}

/// The verification quota of every client address.
#[derive(Debug)]
pub struct VerificationLimit<C: Clock = DefaultClock> {
    /// `None` when the quota is off.
    checks: Option<LookupLimiter<C>>,
    clock: C,
}

impl VerificationLimit<DefaultClock> {
    pub fn new(quota: VerificationQuota) -> Self {
        VerificationLimit::with_clock(quota, DefaultClock::default())
    }
}

impl<C: Clock + Clone> VerificationLimit<C> {
    pub fn with_clock(quota: VerificationQuota, clock: C) -> Self {
        let checks = NonZeroU32::new(quota.per_minute).map(|rate| {
            let quota = Quota::per_minute(rate).allow_burst(at_least_one(quota.burst));
            RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock.clone())
        });
        VerificationLimit { checks, clock }
    }

    /// Spends one check of `ip`, or refuses with the whole seconds to wait (at least 1).
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        match &self.checks {
            Some(checks) => checks
                .check_key(&ip)
                .map_err(|refusal| seconds_until(&self.clock, &refusal)),
            None => Ok(()),
        }
    }

    /// As `ParentLimits::retain_recent`.
    pub fn retain_recent(&self) {
        if let Some(checks) = &self.checks {
            checks.retain_recent();
            checks.shrink_to_fit();
        }
    }
}

fn at_least_one(burst: u32) -> NonZeroU32 {
    NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN)
}

/// A key of the wrong-code quota: the address and the application, and whether the check
/// only looks.
///
/// Equality and hashing see only the address and the application; `peek` travels with the
/// key into
/// [`PeekableStore`], the one place where governor hands us both the key and the decision.
#[derive(Clone, Copy, Debug)]
struct Probe {
    ip: IpAddr,
    application: Option<ApplicationId>,
    peek: bool,
}

impl Probe {
    fn key(&self) -> CodeKey {
        (self.ip, self.application)
    }
}

/// Whose wrong codes on what.
type CodeKey = (IpAddr, Option<ApplicationId>);

impl PartialEq for Probe {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Probe {}

impl std::hash::Hash for Probe {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

/// governor's keyed store, plus checks that only look: governor's own GCRA decides, but a
/// peek's decision is never written back. This is how a look-up asks "is the wrong-code
/// quota spent?" exactly, without spending it.
#[derive(Debug, Default)]
struct PeekableStore {
    inner: DefaultKeyedStateStore<CodeKey>,
}

impl StateStore for PeekableStore {
    type Key = Probe;

    fn measure_and_replace<T, F, E>(&self, key: &Probe, decide: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        if !key.peek {
            return self.inner.measure_and_replace(&key.key(), decide);
        }
        // The store writes back only on `Ok`; answering `Err` with the decision inside keeps
        // the state as it was.
        let looked = self
            .inner
            .measure_and_replace(&key.key(), |state| match decide(state) {
                Ok((allowed, _next_state)) => Err(Ok(allowed)),
                Err(refused) => Err(Err(refused)),
            });
        match looked {
            Ok(allowed) => Ok(allowed),
            Err(decision) => decision,
        }
    }
}

impl ShrinkableKeyedStateStore<Probe> for PeekableStore {
    fn retain_recent(&self, drop_below: Nanos) {
        ShrinkableKeyedStateStore::retain_recent(&self.inner, drop_below);
    }

    fn shrink_to_fit(&self) {
        ShrinkableKeyedStateStore::shrink_to_fit(&self.inner);
    }

    fn len(&self) -> usize {
        ShrinkableKeyedStateStore::len(&self.inner)
    }

    fn is_empty(&self) -> bool {
        ShrinkableKeyedStateStore::is_empty(&self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use std::time::Duration;

    const ONE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const TWO: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));
    const APP: Option<ApplicationId> = Some(application(1));
    const OTHER_APP: Option<ApplicationId> = Some(application(2));

    const fn application(number: u32) -> ApplicationId {
        ApplicationId {
            district: crate::domain::catalog::DistrictId(1),
            number: crate::domain::application::RegistrationNumber(number),
        }
    }

    #[test]
    fn verifications_have_their_own_quota_per_address() {
        let clock = FakeRelativeClock::default();
        let quota = VerificationQuota {
            per_minute: 60,
            burst: 3,
        };
        let limit = VerificationLimit::with_clock(quota, clock.clone());
        for n in 0..3 {
            assert_eq!(limit.check(ONE), Ok(()), "check {n}");
        }
        assert_eq!(limit.check(ONE), Err(1));
        assert_eq!(limit.check(TWO), Ok(()), "another address is not held back");
        clock.advance(Duration::from_secs(1));
        assert_eq!(limit.check(ONE), Ok(()));
        let off = VerificationQuota {
            per_minute: 0,
            burst: 0,
        };
        let unlimited = VerificationLimit::with_clock(off, clock);
        assert!((0..100).all(|_| unlimited.check(ONE).is_ok()));
    }

    fn limits(config: LimitConfig) -> (ParentLimits<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (ParentLimits::with_clock(config, clock.clone()), clock)
    }

    #[test]
    fn the_look_up_after_the_burst_is_refused_and_time_restores_it() {
        let config = LimitConfig::default();
        let (limits, clock) = limits(config);
        for n in 0..config.lookup_burst {
            assert_eq!(limits.check_lookup(ONE, APP), Ok(()), "look-up {n}");
        }
        // 120 a minute: one unit back every 500 ms.
        assert_eq!(limits.check_lookup(ONE, APP), Err(1));
        assert_eq!(
            limits.check_lookup(TWO, APP),
            Ok(()),
            "another address is untouched"
        );

        clock.advance(Duration::from_millis(499));
        assert!(limits.check_lookup(ONE, APP).is_err());
        clock.advance(Duration::from_millis(1));
        assert_eq!(limits.check_lookup(ONE, APP), Ok(()));
        assert!(
            limits.check_lookup(ONE, APP).is_err(),
            "only one unit came back"
        );
    }

    #[test]
    fn spent_wrong_codes_stop_look_ups_until_the_quota_refills() {
        let config = LimitConfig::default();
        let (limits, clock) = limits(config);
        for _ in 0..config.wrong_code_burst - 1 {
            limits.wrong_code(ONE, APP);
        }
        assert_eq!(
            limits.check_lookup(ONE, APP),
            Ok(()),
            "one wrong code is left"
        );
        limits.wrong_code(ONE, APP);

        // 20 an hour: one unit back every 180 s.
        assert_eq!(limits.check_lookup(ONE, APP), Err(180));
        assert_eq!(
            limits.check_lookup(TWO, APP),
            Ok(()),
            "another address is untouched"
        );

        // Refused look-ups spend nothing: the look-up quota is still almost full, and the
        // peek did not spend wrong codes either (else the wait would grow).
        for _ in 0..100 {
            assert_eq!(limits.check_lookup(ONE, APP), Err(180));
        }
        clock.advance(Duration::from_secs(179));
        assert_eq!(limits.check_lookup(ONE, APP), Err(1));
        clock.advance(Duration::from_secs(1));
        for n in 0..config.lookup_burst - 1 {
            assert_eq!(limits.check_lookup(ONE, APP), Ok(()), "look-up {n}");
        }
        limits.wrong_code(ONE, APP);
        assert_eq!(
            limits.check_lookup(ONE, APP),
            Err(180),
            "one more wrong code stops it again"
        );
    }

    #[test]
    fn wrong_codes_stop_that_client_on_that_application_only() {
        let config = LimitConfig::default();
        let (limits, _clock) = limits(config);
        for _ in 0..config.wrong_code_burst {
            limits.wrong_code(ONE, APP);
        }
        assert_eq!(limits.check_lookup(ONE, APP), Err(180));
        assert_eq!(limits.check_lookup(TWO, APP), Ok(()), "another client");
        assert_eq!(
            limits.check_lookup(ONE, OTHER_APP),
            Ok(()),
            "another application"
        );
        assert_eq!(limits.check_lookup(ONE, None), Ok(()), "no application");
    }

    #[test]
    fn a_peek_spends_no_wrong_code() {
        let config = LimitConfig {
            lookups_per_minute: 0,
            wrong_code_burst: 2,
            ..LimitConfig::default()
        };
        let (limits, _clock) = limits(config);
        for _ in 0..1000 {
            assert_eq!(limits.check_lookup(ONE, APP), Ok(()));
        }
        limits.wrong_code(ONE, APP);
        assert_eq!(limits.check_lookup(ONE, APP), Ok(()));
        limits.wrong_code(ONE, APP);
        assert!(limits.check_lookup(ONE, APP).is_err());
    }

    #[test]
    fn zero_look_ups_a_minute_means_unlimited() {
        let config = LimitConfig {
            lookups_per_minute: 0,
            wrong_codes_per_hour: 0,
            ..LimitConfig::default()
        };
        let (limits, _clock) = limits(config);
        for _ in 0..10_000 {
            limits.wrong_code(ONE, APP);
            assert_eq!(limits.check_lookup(ONE, APP), Ok(()));
        }
        assert_eq!(limits.remembered(), (0, 0));
    }

    #[test]
    fn retain_recent_forgets_clients_whose_quotas_are_full_again() {
        let (limits, clock) = limits(LimitConfig::default());
        limits.check_lookup(ONE, APP).unwrap();
        limits.wrong_code(TWO, APP);
        limits.check_lookup(TWO, APP).unwrap();
        assert_eq!(
            limits.remembered(),
            (2, 2),
            "a peek leaves a fresh state behind"
        );
        limits.retain_recent();
        assert_eq!(limits.remembered(), (2, 1), "the fresh state goes at once");

        clock.advance(Duration::from_secs(60 * 60));
        limits.retain_recent();
        assert_eq!(limits.remembered(), (0, 0));
    }
}
