//! The IIN parser on arbitrary text, and the IIN builder on arbitrary parts.
//!
//! Properties: `Iin::parse` never panics; what it accepts re-formats to exactly the digits
//! given, parses again to the same value, has the birth date and sex its digits say, and is
//! masked in `Debug`; what it refuses is refused for the first check that fails. An IIN
//! built by `Iin::synthesize` parses back to itself with the date and sex it was built from.
#![no_main]

use chrono::{Datelike, NaiveDate};
use kezek::domain::iin::{Iin, IinError, Sex};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_parse(text);
    }
    if data.len() >= 7 {
        check_synthesize(data);
    }
});

fn check_parse(text: &str) {
    match Iin::parse(text) {
        Ok(iin) => {
            assert_eq!(
                iin.as_string(),
                text,
                "an accepted IIN re-formats to its input"
            );
            assert_eq!(Iin::parse(&iin.as_string()), Ok(iin));
            let digits = text.as_bytes();
            let birth = iin.birth_date();
            let two = |i: usize| u32::from(digits[i] - b'0') * 10 + u32::from(digits[i + 1] - b'0');
            assert_eq!(birth.year() % 100, two(0) as i32);
            assert_eq!(birth.month(), two(2));
            assert_eq!(birth.day(), two(4));
            let male = (digits[6] - b'0') % 2 == 1;
            assert_eq!(iin.sex() == Sex::Male, male);
            // Personal data: Debug shows only the last four digits.
            let shown = format!("{iin:?}");
            assert!(
                !shown.contains(&text[..8]),
                "Debug reveals the IIN: {shown}"
            );
            assert!(iin.masked().ends_with(&text[8..]));
        }
        Err(IinError::Length) => assert_ne!(text.len(), 12),
        Err(IinError::NonDigit) => {
            assert_eq!(text.len(), 12);
            assert!(!text.bytes().all(|b| b.is_ascii_digit()));
        }
        Err(IinError::Century) => assert!(!(b'1'..=b'6').contains(&text.as_bytes()[6])),
        Err(IinError::Date) | Err(IinError::CheckDigit) => {
            assert!(text.bytes().all(|b| b.is_ascii_digit()) && text.len() == 12)
        }
    }
}

fn check_synthesize(data: &[u8]) {
    let year = 1800 + i32::from(u16::from_le_bytes([data[0], data[1]]) % 300);
    let ordinal = 1 + u32::from(u16::from_le_bytes([data[2], data[3]]) % 366);
    let Some(birth) = NaiveDate::from_yo_opt(year, ordinal) else {
        return;
    };
    let sex = if data[4] % 2 == 0 {
        Sex::Female
    } else {
        Sex::Male
    };
    let serial = u16::from_le_bytes([data[5], data[6]]);
    if let Some(iin) = Iin::synthesize(birth, sex, serial) {
        let parsed = Iin::parse(&iin.as_string()).expect("a synthesized IIN parses");
        assert_eq!(parsed, iin);
        assert_eq!(parsed.birth_date(), birth);
        assert_eq!(parsed.sex(), sex);
    }
}
