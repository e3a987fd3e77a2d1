//! The journal's event decoder (`Event::from_payload`) on arbitrary bytes.
//!
//! `verify`, start-up and the document rebuilder all decode payloads read back from the
//! database; a damaged row must come back as an error, never a panic. What decodes must
//! round-trip: encoding it gives a payload that decodes to the same event, the encoding is
//! canonical (encoding that again gives the same bytes), the stored kind is the payload's
//! `type` tag, and sealing it into a recorded event gives a chain the checker accepts and
//! a public form and personal part that join back into the event.
#![no_main]

use chrono::{TimeZone, Utc};
use kezek::domain::event::{Actor, ChainChecker, Event, RecordedEvent, GENESIS_HASH};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(event) = Event::from_payload(payload) else {
        return;
    };
    let encoded = event.to_payload();
    let decoded = Event::from_payload(&encoded).expect("an encoded event decodes");
    assert_eq!(decoded, event, "round trip changed the event");
    assert_eq!(
        decoded.to_payload(),
        encoded,
        "the encoding is not canonical"
    );

    let tagged: serde_json::Value = serde_json::from_str(&encoded).expect("a payload is JSON");
    assert_eq!(tagged["type"].as_str(), Some(event.kind()));

    let recorded_at = Utc.with_ymd_and_hms(2026, 11, 20, 4, 0, 0).unwrap();
    let salt = [7; 16];
    let first = RecordedEvent::seal(0, GENESIS_HASH, recorded_at, Actor::system(), &event, salt);
    let second = RecordedEvent::seal(1, first.hash, recorded_at, Actor::portal(), &decoded, salt);
    // Its public form and personal part join back into the same event.
    assert_eq!(first.event().expect("a sealed event decodes"), event);
    assert_eq!(first.expected_hash(), first.hash);
    let mut checker = ChainChecker::default();
    checker
        .check(&first)
        .expect("a sealed event continues the genesis");
    checker
        .check(&second)
        .expect("a sealed event continues its predecessor");
});
