//! Admission control for writes, so that a flood slows the flood and not everyone else.
//!
//! - Registrations from the portal are counted per client (its address, see `proxy`) and
//!   per applicant (the parent's IIN as typed), each a GCRA bucket from `governor` that
//!   holds an hour's quota: one address cannot register thousands of made-up children, and
//!   one applicant cannot be registered over and over from many addresses. Staff register
//!   for many parents from one office: their accounts are not counted.
//! - Every write through the API waits in the writer's one queue; past a ceiling of waiting
//!   commands a new write is answered 503 `busy` with `Retry-After` at once, instead of
//!   queueing behind a backlog it would only lengthen.

use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// The quotas and the ceiling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// Portal registrations an hour per client; 0 switches the quota off.
    pub registrations_per_client_per_hour: u32,
    /// Portal registrations an hour per applicant IIN; 0 switches the quota off.
    pub registrations_per_applicant_per_hour: u32,
    /// Writer commands waiting at once before writes are refused; 0 switches it off.
    pub pending_writes: usize,
}

impl AdmissionConfig {
    /// Nothing counted: the library's default, for embedding and tests that register many
    /// applications from one address. The service's defaults are in `config.rs`.
    pub const OFF: AdmissionConfig = AdmissionConfig {
        registrations_per_client_per_hour: 0,
        registrations_per_applicant_per_hour: 0,
        pending_writes: 0,
    };
}

type Limiter<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// Why a write was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// A registration quota is spent: retry after this many seconds.
    Registrations(u64),
    /// The writer's queue is full.
    Busy,
}

#[derive(Debug)]
pub struct Admission {
    per_client: Option<Limiter<IpAddr>>,
    per_applicant: Option<Limiter<String>>,
    pending_writes: usize,
    /// Refusals so far, for /metrics: registrations over a quota, writes over the ceiling.
    throttled: AtomicU64,
    busy: AtomicU64,
}

/// A keyed quota of `per_hour` an hour, all of it at once; `None` for 0 (off).
fn hourly<K: std::hash::Hash + Eq + Clone>(per_hour: u32) -> Option<Limiter<K>> {
    NonZeroU32::new(per_hour)
        .map(|rate| RateLimiter::keyed(Quota::per_hour(rate).allow_burst(rate)))
}

/// Spends `units` of `key`'s quota, or answers how long to wait.
fn spend<K: std::hash::Hash + Eq + Clone>(
    limiter: &Limiter<K>,
    key: &K,
    units: NonZeroU32,
) -> Result<(), Refused> {
    use governor::clock::Clock;
    match limiter.check_key_n(key, units) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(refusal)) => {
            let wait = refusal.wait_time_from(DefaultClock::default().now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            Err(Refused::Registrations(seconds.max(1)))
        }
        Err(_more_than_the_quota) => Err(Refused::Registrations(60 * 60)),
    }
}

/// The longest applicant key remembered: an IIN is 12 digits; a longer text is invalid and
/// only its start is kept, so that no request can make the map hold large keys.
const APPLICANT_KEY_CHARS: usize = 16;

impl Admission {
    pub fn new(config: AdmissionConfig) -> Admission {
        Admission {
            per_client: hourly(config.registrations_per_client_per_hour),
            per_applicant: hourly(config.registrations_per_applicant_per_hour),
            pending_writes: config.pending_writes,
            throttled: AtomicU64::new(0),
            busy: AtomicU64::new(0),
        }
    }

    /// Spends `children` registrations (a family registers several at once) of `client`
    /// and of `applicant`, or refuses. A client refused spends nothing of the applicant's
    /// quota; more children than a whole quota are refused for an hour.
    pub fn registration(
        &self,
        client: IpAddr,
        applicant: &str,
        children: usize,
    ) -> Result<(), Refused> {
        let units =
            NonZeroU32::new(u32::try_from(children).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
        let spent = self.spend_both(client, applicant, units);
        if spent.is_err() {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
        spent
    }

    fn spend_both(
        &self,
        client: IpAddr,
        applicant: &str,
        units: NonZeroU32,
    ) -> Result<(), Refused> {
        if let Some(limiter) = &self.per_client {
            spend(limiter, &client, units)?;
        }
        if let Some(limiter) = &self.per_applicant {
            let key: String = applicant.trim().chars().take(APPLICANT_KEY_CHARS).collect();
            spend(limiter, &key, units)?;
        }
        Ok(())
    }

    /// Registrations refused so far for a quota.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// Writes refused so far at the ceiling.
    pub fn busy(&self) -> u64 {
        self.busy.load(Ordering::Relaxed)
    }

    /// Whether a write may join a queue where `pending` commands already wait.
    pub fn write(&self, pending: usize) -> Result<(), Refused> {
        if self.pending_writes > 0 && pending >= self.pending_writes {
            self.busy.fetch_add(1, Ordering::Relaxed);
            return Err(Refused::Busy);
        }
        Ok(())
    }

    /// Forgets clients and applicants whose quotas are full again (call every minute).
    pub fn retain_recent(&self) {
        if let Some(limiter) = &self.per_client {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.per_applicant {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const TWO: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn admission(per_client: u32, per_applicant: u32) -> Admission {
        Admission::new(AdmissionConfig {
            registrations_per_client_per_hour: per_client,
            registrations_per_applicant_per_hour: per_applicant,
            pending_writes: 0,
        })
    }

    #[test]
    fn a_client_past_its_hourly_quota_is_refused_and_others_are_not() {
        let admission = admission(3, 0);
        for n in 0..3 {
            assert_eq!(admission.registration(ONE, &format!("{n}"), 1), Ok(()));
        }
        // Three an hour: one comes back in 20 minutes.
        match admission.registration(ONE, "x", 1) {
            Err(Refused::Registrations(wait)) => assert!((1_190..=1_200).contains(&wait)),
            other => panic!("{other:?}"),
        }
        assert_eq!(admission.registration(TWO, "x", 1), Ok(()));
        assert_eq!(admission.throttled(), 1);
    }

    #[test]
    fn an_applicant_past_its_quota_is_refused_from_any_client() {
        let admission = admission(0, 2);
        assert_eq!(admission.registration(ONE, "791028302728", 1), Ok(()));
        assert_eq!(admission.registration(TWO, " 791028302728 ", 1), Ok(()));
        assert!(admission.registration(TWO, "791028302728", 1).is_err());
        assert_eq!(admission.registration(TWO, "880101300123", 1), Ok(()));
    }

    #[test]
    fn a_client_refused_spends_nothing_of_the_applicants_quota() {
        let admission = admission(1, 1);
        assert_eq!(admission.registration(ONE, "a", 1), Ok(()));
        assert!(admission.registration(ONE, "b", 1).is_err());
        assert_eq!(
            admission.registration(TWO, "b", 1),
            Ok(()),
            "b was not spent"
        );
    }

    #[test]
    fn a_family_spends_one_unit_per_child() {
        let admission = admission(5, 0);
        assert_eq!(admission.registration(ONE, "a", 3), Ok(()));
        assert!(
            admission.registration(ONE, "a", 3).is_err(),
            "2 left, not 3"
        );
        assert_eq!(admission.registration(ONE, "a", 2), Ok(()));
        assert_eq!(
            admission.registration(TWO, "b", 6),
            Err(Refused::Registrations(3600)),
            "more than a whole quota"
        );
    }

    #[test]
    fn writes_are_refused_at_the_ceiling_only() {
        let admission = Admission::new(AdmissionConfig {
            pending_writes: 4,
            ..AdmissionConfig::OFF
        });
        assert_eq!(admission.write(3), Ok(()));
        assert_eq!(admission.write(4), Err(Refused::Busy));
        assert_eq!(admission.busy(), 1);
        assert_eq!(
            Admission::new(AdmissionConfig::OFF).write(1_000_000),
            Ok(())
        );
    }
}
