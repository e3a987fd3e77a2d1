//! Histories an application's parent can see, computed from what the journal recorded.

use super::application::RegistrationNumber;
use super::local_date;
use chrono::{DateTime, NaiveDate, Utc};

/// One entry into (+1) or exit from (-1) a district's birth-year cohort of the waiting list,
/// as the store keeps it: the event's sequence number and time, the entry's order key
/// (`QueueKey::order_key`) and registration number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CohortMove {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub order_key: i64,
    pub number: u32,
    pub delta: i8,
}

/// The application's position in its cohort at the end of each local day on which it
/// changed, oldest first, from the cohort's moves in journal order (at least all those
/// with a key up to the application's own general-tier key).
///
/// The position is one plus the others present with a smaller key, `(order_key, number)`
/// compared in that order (the number breaks ties of time). The application's own key takes
/// few values (a verified or dropped priority), so one counter per value suffices; days it
/// was not waiting (holding a referral) have no point.
pub fn daily_positions(me: RegistrationNumber, moves: &[CohortMove]) -> Vec<(NaiveDate, u32)> {
    let me = me.0;
    let mut keys: Vec<i64> = moves
        .iter()
        .filter(|m| m.number == me)
        .map(|m| m.order_key)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut ahead = vec![0i64; keys.len()];
    let mut mine: Option<usize> = None;
    let mut points: Vec<(NaiveDate, u32)> = Vec::new();
    let mut i = 0;
    while i < moves.len() {
        let seq = moves[i].seq;
        let date = local_date(moves[i].at);
        while i < moves.len() && moves[i].seq == seq {
            let m = moves[i];
            if m.number == me {
                let index = keys
                    .binary_search(&m.order_key)
                    .expect("own keys were collected");
                mine = (m.delta > 0).then_some(index);
            } else {
                for (key, count) in keys.iter().zip(ahead.iter_mut()) {
                    if (m.order_key, m.number) < (*key, me) {
                        *count += i64::from(m.delta);
                    }
                }
            }
            i += 1;
        }
        if let Some(index) = mine {
            let position = u32::try_from(ahead[index] + 1).expect("a count of entries");
            match points.last_mut() {
                Some(last) if last.0 == date => last.1 = position,
                _ => points.push((date, position)),
            }
        }
    }
    points.dedup_by(|later, earlier| later.1 == earlier.1);
    points
}
