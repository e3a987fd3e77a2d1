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
}

/// A keyed quota of `per_hour` an hour, all of it at once; `None` for 0 (off).
fn hourly<K: std::hash::Hash + Eq + Clone>(per_hour: u32) -> Option<Limiter<K>> {
    NonZeroU32::new(per_hour)
        .map(|rate| RateLimiter::keyed(Quota::per_hour(rate).allow_burst(rate)))
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
        }
    }

    /// Spends one registration of `client` and one of `applicant`, or refuses. A client
    /// refused spends nothing of the applicant's quota.
    pub fn registration(&self, client: IpAddr, applicant: &str) -> Result<(), Refused> {
        let clock = DefaultClock::default();
        let wait = |refusal: governor::NotUntil<_>| {
            use governor::clock::Clock;
            let wait = refusal.wait_time_from(clock.now());
            Refused::Registrations((wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1))
        };
        if let Some(limiter) = &self.per_client {
            limiter.check_key(&client).map_err(wait)?;
        }
        if let Some(limiter) = &self.per_applicant {
            let key: String = applicant.trim().chars().take(APPLICANT_KEY_CHARS).collect();
            limiter.check_key(&key).map_err(wait)?;
        }
        Ok(())
    }

    /// Whether a write may join a queue where `pending` commands already wait.
    pub fn write(&self, pending: usize) -> Result<(), Refused> {
        if self.pending_writes > 0 && pending >= self.pending_writes {
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
            assert_eq!(admission.registration(ONE, &format!("{n}")), Ok(()));
        }
        // Three an hour: one comes back in 20 minutes.
        match admission.registration(ONE, "x") {
            Err(Refused::Registrations(wait)) => assert!((1_190..=1_200).contains(&wait)),
            other => panic!("{other:?}"),
        }
        assert_eq!(admission.registration(TWO, "x"), Ok(()));
    }

    #[test]
    fn an_applicant_past_its_quota_is_refused_from_any_client() {
        let admission = admission(0, 2);
        assert_eq!(admission.registration(ONE, "791028302728"), Ok(()));
        assert_eq!(admission.registration(TWO, " 791028302728 "), Ok(()));
        assert!(admission.registration(TWO, "791028302728").is_err());
        assert_eq!(admission.registration(TWO, "880101300123"), Ok(()));
    }

    #[test]
    fn a_client_refused_spends_nothing_of_the_applicants_quota() {
        let admission = admission(1, 1);
        assert_eq!(admission.registration(ONE, "a"), Ok(()));
        assert!(admission.registration(ONE, "b").is_err());
        assert_eq!(admission.registration(TWO, "b"), Ok(()), "b was not spent");
    }

    #[test]
    fn writes_are_refused_at_the_ceiling_only() {
        let admission = Admission::new(AdmissionConfig {
            pending_writes: 4,
            ..AdmissionConfig::OFF
        });
        assert_eq!(admission.write(3), Ok(()));
        assert_eq!(admission.write(4), Err(Refused::Busy));
        assert_eq!(
            Admission::new(AdmissionConfig::OFF).write(1_000_000),
            Ok(())
        );
    }
}
