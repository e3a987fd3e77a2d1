//! How an idempotency record is kept. Its answer can carry a secret (a registration's answer
//! holds the access code, which is otherwise never stored), so the table holds neither the
//! client's key nor the answer in the clear: the key as its SHA-256, the answer encrypted
//! with a keystream that only the raw key derives. Whoever reads the database cannot replay
//! or read an answer without the key; the client who retries has it.
//!
//! The keystream is SHA-256 in counter mode over the key (a PRF used as a stream cipher).
//! Each key seals exactly one answer, so a stream is never reused; integrity comes from the
//! lookup itself (only the right key finds the record) and from the answer's JSON parse.

use super::Idempotency;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// What the table stores in place of the key.
pub fn stored_key(idempotency: &Idempotency) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"kezek idempotency key v1\0");
    hasher.update(idempotency.scope.as_bytes());
    hasher.update(b"\0");
    hasher.update(idempotency.key.as_bytes());
    hex::encode(hasher.finalize())
}

fn keystream_xor(idempotency: &Idempotency, bytes: &mut [u8]) {
    for (counter, chunk) in bytes.chunks_mut(32).enumerate() {
        let mut hasher = Sha256::new();
        hasher.update(b"kezek idempotency answer v1\0");
        hasher.update(idempotency.scope.as_bytes());
        hasher.update(b"\0");
        hasher.update(idempotency.key.as_bytes());
        hasher.update((counter as u64).to_be_bytes());
        let block = hasher.finalize();
        for (byte, key) in chunk.iter_mut().zip(block.iter()) {
            *byte ^= key;
        }
    }
}

/// The answer as stored.
pub fn seal(idempotency: &Idempotency, answer: &str) -> String {
    let mut bytes = answer.as_bytes().to_vec();
    keystream_xor(idempotency, &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored answer back; `None` if it is not one this key sealed.
pub fn open(idempotency: &Idempotency, sealed: &str) -> Option<String> {
    let mut bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    keystream_xor(idempotency, &mut bytes);
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(key: &str) -> Idempotency {
        Idempotency {
            scope: "portal".into(),
            key: key.into(),
            fingerprint: [0; 32],
        }
    }

    #[test]
    fn an_answer_opens_with_its_key_only() {
        let answer = r#"{"Registered":{"access_code":"WW1Y-2G64-R3MC"}}"#.repeat(3);
        let sealed = seal(&key("k-1"), &answer);
        assert!(!sealed.contains("WW1Y"), "{sealed}");
        assert_eq!(open(&key("k-1"), &sealed).as_deref(), Some(answer.as_str()));
        assert_ne!(open(&key("k-2"), &sealed).as_deref(), Some(answer.as_str()));
        assert_ne!(seal(&key("k-2"), &answer), sealed);
    }

    #[test]
    fn the_stored_key_hides_the_key_and_keeps_scopes_apart() {
        let stored = stored_key(&key("my-key-123"));
        assert_eq!(stored.len(), 64);
        assert!(!stored.contains("my-key-123"));
        let mut staff = key("my-key-123");
        staff.scope = "staff:officer".into();
        assert_ne!(stored_key(&staff), stored);
    }
}
