//! The column decoders of `src/store/codec.rs` on arbitrary bytes: the text and integer
//! columns start-up and `verify` read back (`choices`, dates, times, languages, tiers and the
//! unit enums stored by their serde names).
//!
//! Properties: a damaged column is an error, never a panic; what decodes encodes back to a
//! value that decodes equal (and, for the canonical encodings, to the same text).
#![no_main]

use kezek::domain::application::{
    ApplicationStatus, Channel, ClaimStatus, RefusalReason, Relation, Satisfaction,
};
use kezek::domain::iin::Sex;
use kezek::domain::referral::ReferralStatus;
use kezek::store::codec::*;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector % 4 == 3 {
        // An integer column: the time in microseconds, and the tier.
        let mut bytes = [0u8; 8];
        let n = rest.len().min(8);
        bytes[..n].copy_from_slice(&rest[..n]);
        let value = i64::from_le_bytes(bytes);
        if let Ok(time) = micros_to_time(value) {
            assert_eq!(time.timestamp_micros(), value);
        }
        if let Ok(tier) = tier_parse(value) {
            assert_eq!(i64::from(tier.as_u8()), value);
        }
        return;
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match selector % 4 {
        0 => {
            if let Ok(choices) = choices_parse(Some(text)) {
                let encoded = choices_text(&choices);
                assert_eq!(choices_parse(encoded.as_deref()), Ok(choices));
            }
        }
        1 => {
            if let Ok(date) = date_parse(text) {
                assert_eq!(date_parse(&date_text(date)), Ok(date));
            }
            if let Ok(Some(language)) = language_parse(Some(text)) {
                assert_eq!(language.code(), text);
            }
        }
        _ => {
            enum_round_trip::<ApplicationStatus>(text);
            enum_round_trip::<Channel>(text);
            enum_round_trip::<ClaimStatus>(text);
            enum_round_trip::<Relation>(text);
            enum_round_trip::<RefusalReason>(text);
            enum_round_trip::<Satisfaction>(text);
            enum_round_trip::<ReferralStatus>(text);
            enum_round_trip::<Sex>(text);
        }
    }
});

/// A unit enum is stored as its serde name: what `enum_parse` accepts is exactly that name.
fn enum_round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(text: &str) {
    if let Ok(value) = enum_parse::<T>(text) {
        assert_eq!(enum_text(&value), text);
        assert_eq!(enum_parse::<T>(&enum_text(&value)), Ok(value));
    }
}
