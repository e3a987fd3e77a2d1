//! The individual identification number (IIN, ЖСН / ИИН) of a resident of Kazakhstan.
//!
//! Twelve digits: `YYMMDD`, a century-and-sex digit, a four-digit serial and a check digit
//! (Government Decree No. 565 of 11.06.2003, No. 406 of 22.05.2007). Parsing checks all of
//! it, so an `Iin` value in hand is always well-formed and its birth date is a real date.
//! The `Debug` form masks the number: an IIN is personal data and must not reach a log.

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iin([u8; 12]);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

/// Why a string is not an IIN. Each variant is a distinct, testable failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IinError {
    #[error("an IIN has exactly 12 characters")]
    Length,
    #[error("an IIN has only digits")]
    NonDigit,
    #[error("the 7th digit of an IIN (century and sex) must be 1 to 6")]
    Century,
    #[error("the first six digits of an IIN are not a real date")]
    Date,
    #[error("the check digit of the IIN does not match")]
    CheckDigit,
}

const WEIGHTS_FIRST: [u32; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const WEIGHTS_SECOND: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];

impl Iin {
    /// What an erased person's IIN replays as (domain::personal): all zeros, which `parse`
    /// refuses (no century digit 0), so no form or file can give it to a real person.
    pub const ERASED: Iin = Iin([0; 12]);
    pub const ERASED_TEXT: &'static str = "000000000000";

    pub fn is_erased(&self) -> bool {
        *self == Iin::ERASED
    }

    /// An IIN as the journal and the tables store it: a real one, or the erased placeholder.
    /// Forms and files parse with `parse`, which refuses the placeholder.
    pub fn parse_stored(text: &str) -> Result<Iin, IinError> {
        if text == Iin::ERASED_TEXT {
            return Ok(Iin::ERASED);
        }
        Iin::parse(text)
    }

    /// Parses and checks an IIN.
    ///
    /// ```
    /// use kezek::domain::iin::{Iin, IinError, Sex};
    ///
    /// let child = Iin::parse("061211600012").unwrap();
    /// assert_eq!(child.birth_date().to_string(), "2006-12-11");
    /// assert_eq!(child.sex(), Sex::Female);
    /// assert_eq!(Iin::parse("061211600013"), Err(IinError::CheckDigit));
    /// ```
    pub fn parse(text: &str) -> Result<Iin, IinError> {
        let bytes = text.as_bytes();
        if bytes.len() != 12 {
            return Err(IinError::Length);
        }
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Err(IinError::NonDigit);
        }
        let mut digits = [0u8; 12];
        for (digit, byte) in digits.iter_mut().zip(bytes) {
            *digit = byte - b'0';
        }
        if !(1..=6).contains(&digits[6]) {
            return Err(IinError::Century);
        }
        if birth_date_of(&digits).is_none() {
            return Err(IinError::Date);
        }
        if check_digit(&digits) != Some(digits[11]) {
            return Err(IinError::CheckDigit);
        }
        Ok(Iin(digits))
    }

    pub fn birth_date(&self) -> NaiveDate {
        birth_date_of(&self.0).expect("an Iin is only built from a valid date")
    }

    pub fn sex(&self) -> Sex {
        if self.0[6] % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    pub fn as_string(&self) -> String {
        self.0
            .iter()
            .map(|digit| char::from(b'0' + digit))
            .collect()
    }

    /// The twelve digits as one number (at most 10^12, so 40 bits): the compact key by
    /// which the in-memory state finds a person's applications (`QueueState::applicants`).
    pub fn as_u64(&self) -> u64 {
        self.0
            .iter()
            .fold(0, |number, digit| number * 10 + u64::from(*digit))
    }

    /// The last four digits, enough for a person to recognise their own record on a
    /// printed form without revealing the number.
    pub fn masked(&self) -> String {
        let tail: String = self.0[8..].iter().map(|d| char::from(b'0' + d)).collect();
        format!("********{tail}")
    }

    /// Builds a valid IIN from a birth date, sex and serial; used by the demo generator and
    /// tests. Returns `None` when no check digit exists for this serial (the rare case where
    /// both weightings give 10), so callers try the next serial.
    pub fn synthesize(birth_date: NaiveDate, sex: Sex, serial: u16) -> Option<Iin> {
        use chrono::Datelike;
        let year = birth_date.year();
        let century_digit = match (year / 100, sex) {
            (18, Sex::Male) => 1,
            (18, Sex::Female) => 2,
            (19, Sex::Male) => 3,
            (19, Sex::Female) => 4,
            (20, Sex::Male) => 5,
            (20, Sex::Female) => 6,
            _ => return None,
        };
        let mut digits = [0u8; 12];
        let head = [(year % 100) as u32, birth_date.month(), birth_date.day()];
        for (i, value) in head.iter().enumerate() {
            digits[2 * i] = (value / 10) as u8;
            digits[2 * i + 1] = (value % 10) as u8;
        }
        digits[6] = century_digit;
        let serial = serial % 10_000;
        for (i, divisor) in [1000u16, 100, 10, 1].iter().enumerate() {
            digits[7 + i] = ((serial / divisor) % 10) as u8;
        }
        digits[11] = check_digit(&digits)?;
        Some(Iin(digits))
    }
}

fn weighted_sum_mod_11(digits: &[u8; 12], weights: &[u32; 11]) -> u32 {
    digits[..11]
        .iter()
        .zip(weights)
        .map(|(digit, weight)| u32::from(*digit) * weight)
        .sum::<u32>()
        % 11
}

fn check_digit(digits: &[u8; 12]) -> Option<u8> {
    let first = weighted_sum_mod_11(digits, &WEIGHTS_FIRST);
    if first != 10 {
        return Some(first as u8);
    }
    let second = weighted_sum_mod_11(digits, &WEIGHTS_SECOND);
    (second != 10).then_some(second as u8)
}

fn birth_date_of(digits: &[u8; 12]) -> Option<NaiveDate> {
    let pair = |i: usize| u32::from(digits[i]) * 10 + u32::from(digits[i + 1]);
    let century = match digits[6] {
        1 | 2 => 1800,
        3 | 4 => 1900,
        5 | 6 => 2000,
        _ => return None,
    };
    NaiveDate::from_ymd_opt(century + pair(0) as i32, pair(2), pair(4))
}

impl fmt::Debug for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iin({})", self.masked())
    }
}

impl Serialize for Iin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.as_string())
    }
}

impl<'de> Deserialize<'de> for Iin {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Iin::parse_stored(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn known_valid_numbers_parse_with_their_birth_date_and_sex() {
        let child = Iin::parse("061211600012").unwrap();
        assert_eq!(child.birth_date(), date(2006, 12, 11));
        assert_eq!(child.sex(), Sex::Female);
        let adult = Iin::parse("791028302728").unwrap();
        assert_eq!(adult.birth_date(), date(1979, 10, 28));
        assert_eq!(adult.sex(), Sex::Male);
    }

    #[test]
    fn every_single_digit_change_of_the_check_digit_is_refused() {
        for replacement in b'0'..=b'9' {
            let mut text = *b"061211600012";
            if text[11] == replacement {
                continue;
            }
            text[11] = replacement;
            let text = std::str::from_utf8(&text).unwrap();
            assert_eq!(Iin::parse(text), Err(IinError::CheckDigit), "{text}");
        }
    }

    #[test]
    fn a_changed_serial_digit_breaks_the_check() {
        assert_eq!(Iin::parse("061211600112"), Err(IinError::CheckDigit));
        let changed = |position: usize| {
            (b'0'..=b'9')
                .filter(move |r| b"791028302728"[position] != *r)
                .map(move |r| {
                    let mut text = *b"791028302728";
                    text[position] = r;
                    Iin::parse(std::str::from_utf8(&text).unwrap())
                })
        };
        // Digits 8 to 10 have weights 8, 9, 10 on the first pass: every change is caught.
        for position in 7..10 {
            assert!(
                changed(position).all(|r| r == Err(IinError::CheckDigit)),
                "{position}"
            );
        }
        // The 11th digit's first weight is 11, which is 0 mod 11: the decree's algorithm
        // cannot see a change there when the first pass decides. We follow the decree.
        assert!(changed(10).all(|r| r.is_ok()));
    }

    #[test]
    fn corrupted_variants_get_their_own_error() {
        assert_eq!(Iin::parse("06121160001"), Err(IinError::Length));
        assert_eq!(Iin::parse("0612116000123"), Err(IinError::Length));
        assert_eq!(Iin::parse(""), Err(IinError::Length));
        assert_eq!(Iin::parse("06121160001a"), Err(IinError::NonDigit));
        assert_eq!(Iin::parse("0612 1600012"), Err(IinError::NonDigit));
        assert_eq!(Iin::parse("٠٦١٢١١٦٠٠٠١٢"), Err(IinError::Length));
        assert_eq!(Iin::parse("061211000012"), Err(IinError::Century));
        assert_eq!(Iin::parse("061211700012"), Err(IinError::Century));
        assert_eq!(Iin::parse("061311600012"), Err(IinError::Date));
        assert_eq!(Iin::parse("060230600012"), Err(IinError::Date));
        assert_eq!(Iin::parse("061200600012"), Err(IinError::Date));
    }

    #[test]
    fn synthesized_numbers_round_trip_through_parse() {
        let mut made = 0;
        for serial in 0..500u16 {
            for sex in [Sex::Male, Sex::Female] {
                let birth = date(2021, 2, 28);
                if let Some(iin) = Iin::synthesize(birth, sex, serial) {
                    let parsed = Iin::parse(&iin.as_string()).unwrap();
                    assert_eq!(parsed, iin);
                    assert_eq!(parsed.birth_date(), birth);
                    assert_eq!(parsed.sex(), sex);
                    made += 1;
                }
            }
        }
        // About one serial in eleven has no check digit; the rest must all be usable.
        assert!(made > 850, "only {made} of 1000 serials gave a valid IIN");
    }

    #[test]
    fn debug_output_does_not_reveal_the_number() {
        let iin = Iin::parse("061211600012").unwrap();
        let shown = format!("{iin:?}");
        assert!(!shown.contains("061211"), "{shown}");
        assert!(shown.ends_with("0012)"), "{shown}");
    }
}
