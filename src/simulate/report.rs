//! The figures a simulation produces and the report printed from them. `Figures` is what a
//! seed decides (two runs of a seed give equal `Figures`); `Throughput` is wall-clock time
//! and varies from run to run.

use super::audit::AuditFigures;
use crate::domain::catalog::{DistrictId, Tier};
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

const LABEL_WIDTH: usize = 46;
const VALUE_WIDTH: usize = 10;
const SECONDS_PER_DAY: f64 = 86_400.0;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistrictSummary {
    pub id: DistrictId,
    pub code: &'static str,
    pub interleave: bool,
    pub kindergartens: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figures {
    pub seed: u64,
    pub registrations_planned: usize,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub districts: Vec<DistrictSummary>,
    /// Every command the simulation sent, the catalog's and its own ticks included.
    pub commands_submitted: u64,
    /// Refusals and conflicts by code or text.
    pub commands_refused: BTreeMap<String, u64>,
    /// Planned actions that no longer applied when their day came.
    pub actions_moot: u64,
    pub audit: AuditFigures,
    /// `QueueState::check_invariants` at the end of the run.
    pub invariants: Result<(), String>,
    /// `kezek verify` on the finished database: the events it replayed.
    pub verify: Result<u64, String>,
}

impl Figures {
    pub fn justified_envy(&self) -> u64 {
        self.audit.envy.justified_envy
    }

    /// No envy and every other check passed: what `kezek simulate` exits 0 on.
    pub fn all_clear(&self) -> bool {
        let envy = &self.audit.envy;
        envy.justified_envy == 0
            && envy.unfit_recipients == 0
            && envy.split_families == 0
            && envy.cycle_disagreements == 0
            && envy.stop_list_disagreements == 0
            && envy.idle_places_at_end == 0
            && self.invariants.is_ok()
            && self.verify.is_ok()
    }

    pub fn referrals_issued(&self) -> u64 {
        self.audit.referrals_issued
    }

    /// Of `tier`'s first referrals: how many, the median and 90th-percentile wait from
    /// registration in days, and the median days past the wanted start.
    pub fn wait_days(&self, tier: Tier) -> Option<TierWait> {
        let waits = self
            .audit
            .waits_seconds
            .get(&tier)
            .filter(|w| !w.is_empty())?;
        let late = self.audit.late_days.get(&tier)?;
        Some(TierWait {
            referrals: waits.len(),
            median_days: nearest_rank(waits, 0.5) as f64 / SECONDS_PER_DAY,
            p90_days: nearest_rank(waits, 0.9) as f64 / SECONDS_PER_DAY,
            median_days_past_wanted_start: nearest_rank(late, 0.5),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TierWait {
    pub referrals: usize,
    pub median_days: f64,
    pub p90_days: f64,
    pub median_days_past_wanted_start: i64,
}

/// The value at `share` of a sorted, non-empty list (nearest rank).
fn nearest_rank(sorted: &[i64], share: f64) -> i64 {
    let index = ((share * sorted.len() as f64).ceil() as usize).max(1) - 1;
    sorted[index]
}

#[derive(Clone, Debug)]
pub struct Throughput {
    /// From the service's start to its stop after the last simulated day.
    pub wall: Duration,
    pub commands: u64,
    /// Events in the journal (the catalog's included).
    pub events: u64,
    pub audit_and_verify: Duration,
}

impl Throughput {
    fn per_second(&self, count: u64) -> f64 {
        count as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

pub struct Simulation {
    pub figures: Figures,
    pub throughput: Throughput,
}

fn line(f: &mut fmt::Formatter<'_>, label: &str, value: impl fmt::Display) -> fmt::Result {
    writeln!(f, "  {label:<LABEL_WIDTH$}{value:>VALUE_WIDTH$}")
}

fn yes_no(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

impl fmt::Display for Simulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let figures = &self.figures;
        figures.fmt_heading(f)?;
        figures.fmt_districts(f)?;
        figures.fmt_queue(f)?;
        figures.fmt_waits(f)?;
        figures.fmt_fairness(f)?;
        self.fmt_throughput(f)
    }
}

impl Figures {
    fn fmt_heading(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kindergartens: usize = self.districts.iter().map(|d| d.kindergartens).sum();
        writeln!(
            f,
            "kezek simulate: seed {}, {} registrations, {} kindergartens in {} districts",
            self.seed,
            self.registrations_planned,
            kindergartens,
            self.districts.len()
        )?;
        writeln!(
            f,
            "manual clock: registrations only from {} (weekly), then every day of {} to {} \
             with free places; the service restarted on {}-07-01\n",
            self.first_day,
            super::YEAR,
            self.last_day,
            super::YEAR
        )
    }

    fn fmt_districts(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  {:<10}{:>10}{:>15}{:>12}{:>16}{:>16}",
            "district", "1:3", "kindergartens", "referrals", "contested 1:3", "justified envy"
        )?;
        for district in &self.districts {
            let envy = self
                .audit
                .envy
                .per_district
                .get(&district.id)
                .copied()
                .unwrap_or_default();
            writeln!(
                f,
                "  {:<10}{:>10}{:>15}{:>12}{:>16}{:>16}",
                district.code,
                yes_no(district.interleave),
                district.kindergartens,
                envy.referrals_checked,
                envy.contested_interleave,
                envy.justified_envy
            )?;
        }
        writeln!(f)
    }

    fn fmt_queue(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let audit = &self.audit;
        writeln!(f, "queue")?;
        line(f, "registrations accepted", audit.registrations)?;
        for (reason, count) in &self.commands_refused {
            line(f, &format!("commands refused: {reason}"), count)?;
        }
        line(f, "priority claims verified", audit.priorities_verified)?;
        line(f, "priority claims rejected", audit.priorities_rejected)?;
        line(f, "withdrawn by the parent", audit.withdrawn)?;
        line(f, "aged out (reached school age waiting)", audit.aged_out)?;
        line(f, "families registered together (twins)", audit.families)?;
        line(
            f,
            "families passed over, waiting to be together",
            audit.family_passes,
        )?;
        line(f, "amendments", audit.amended)?;
        line(f, "moved to another district", audit.moved)?;
        line(
            f,
            "transfer requests of enrolled children",
            audit.transfers_requested,
        )?;
        line(f, "transfers handed in", audit.transfers_handed_in)?;
        line(
            f,
            "waiting at the end (on the stop list included)",
            audit.waiting_at_end,
        )?;
        line(f, "planned actions moot when due", self.actions_moot)?;
        writeln!(f, "free places and referrals")?;
        line(f, "free places reported", audit.places_reported)?;
        line(
            f,
            "open at the end (fitting nobody waiting)",
            audit.open_places_at_end,
        )?;
        line(f, "referrals issued", audit.referrals_issued)?;
        line(f, "handed in (child enrolled)", audit.handed_in)?;
        line(f, "declined", audit.declined)?;
        line(
            f,
            "expired (no-show; child to the stop list)",
            audit.expired,
        )?;
        line(f, "revoked", audit.revoked)?;
        line(f, "extended on request", audit.extended)?;
        line(f, "live at the end", audit.live_at_end)?;
        writeln!(f)
    }

    fn fmt_waits(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "wait for the first referral, days (tier when referred)")?;
        writeln!(
            f,
            "  {:<16}{:>12}{:>18}{:>10}{:>26}",
            "tier", "referrals", "median from reg.", "p90", "median past wanted start"
        )?;
        let tiers = [
            (Tier::OutOfTurn, "out of turn"),
            (Tier::First, "first priority"),
            (Tier::General, "general"),
        ];
        for (tier, name) in tiers {
            match self.wait_days(tier) {
                Some(wait) => writeln!(
                    f,
                    "  {name:<16}{:>12}{:>18.1}{:>10.1}{:>26}",
                    wait.referrals,
                    wait.median_days,
                    wait.p90_days,
                    wait.median_days_past_wanted_start
                )?,
                None => writeln!(f, "  {name:<16}{:>12}{:>18}{:>10}{:>26}", 0, "-", "-", "-")?,
            }
        }
        writeln!(f)
    }

    fn fmt_fairness(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let envy = &self.audit.envy;
        writeln!(
            f,
            "fairness (the journal replayed into an independent model)"
        )?;
        line(f, "referrals checked", envy.referrals_checked)?;
        line(f, "JUSTIFIED ENVY (must be 0)", envy.justified_envy)?;
        line(f, "referrals with envy", envy.referrals_with_envy)?;
        line(
            f,
            "families together split (must be 0)",
            envy.split_families,
        )?;
        line(
            f,
            "referrals to a child that did not fit",
            envy.unfit_recipients,
        )?;
        line(
            f,
            "contested 1:3 decisions (both tiers fitted)",
            envy.contested_interleave,
        )?;
        line(
            f,
            "recorded 1:3 cycle differs from model",
            envy.cycle_disagreements,
        )?;
        line(
            f,
            "stop lists not ended when set",
            envy.stop_list_disagreements,
        )?;
        line(
            f,
            "open places a waiting child fits, at the end",
            envy.idle_places_at_end,
        )?;
        let invariants = match &self.invariants {
            Ok(()) => "ok".to_string(),
            Err(broken) => format!("BROKEN: {broken}"),
        };
        line(f, "service invariants at the end", invariants)?;
        let verify = match &self.verify {
            Ok(events) => format!("ok, {events} events"),
            Err(failure) => format!("FAILED: {failure}"),
        };
        line(f, "kezek verify", verify)?;
        for example in &envy.examples {
            writeln!(f, "  case: {example}")?;
        }
        writeln!(f)
    }
}

impl Simulation {
    fn fmt_throughput(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.throughput;
        writeln!(
            f,
            "throughput (wall clock: the only figures a seed does not fix)"
        )?;
        let seconds = t.wall.as_secs_f64();
        line(f, "simulated year, wall time", format!("{seconds:.1} s"))?;
        line(f, "commands (catalog and ticks included)", t.commands)?;
        line(
            f,
            "commands per second",
            format!("{:.0}", t.per_second(t.commands)),
        )?;
        line(f, "events recorded", t.events)?;
        line(
            f,
            "events per second",
            format!("{:.0}", t.per_second(t.events)),
        )?;
        let audit = t.audit_and_verify.as_secs_f64();
        line(f, "audit and verify afterwards", format!("{audit:.1} s"))
    }
}
