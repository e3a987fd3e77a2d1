//! Parents' access codes: what, besides the application number, a parent shows to read or act
//! on the application. The number is printed on paper and guessable; the code is random.
//! An IIN is never an authenticator: it is written on too many forms.
//!
//! Only a salted hash is kept (in the journal and the applications table): whoever reads the
//! database cannot act as the parent. The salt is the application's identity, so one hash
//! computation tests one code against one application, never against all of them.

use super::application::ApplicationId;
use sha2::{Digest, Sha256};

/// Crockford's base32 alphabet: no I, L, O or U, so a code read aloud or copied by hand from
/// paper is not mistaken.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 12 symbols of 5 bits: 60 bits, shown as three groups of four.
const SYMBOLS: usize = 12;

/// A fresh code, `XXXX-XXXX-XXXX`, from the caller's random source.
pub fn generate(rng: &mut impl rand::Rng) -> String {
    let mut code = String::with_capacity(SYMBOLS + 2);
    for i in 0..SYMBOLS {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        code.push(ALPHABET[rng.random_range(0..32)] as char);
    }
    code
}

/// The code as typed, reduced to its symbols: case, spaces and dashes do not matter, and the
/// letters people confuse with digits (O, I, L) read as those digits, as Crockford intends.
/// `None` if it cannot be a code at all.
fn normalize(typed: &str) -> Option<String> {
    let mut symbols = String::with_capacity(SYMBOLS);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        symbols.push(c);
    }
    (symbols.len() == SYMBOLS).then_some(symbols)
}

/// The stored form: hex SHA-256 over a domain tag, the application's identity and the code.
pub fn hash(id: ApplicationId, code: &str) -> Option<String> {
    let symbols = normalize(code)?;
    let mut hasher = Sha256::new();
    hasher.update(b"kezek access code v1\0");
    hasher.update(id.district.0.to_be_bytes());
    hasher.update(id.number.0.to_be_bytes());
    hasher.update(symbols.as_bytes());
    Some(hex::encode(hasher.finalize()))
}

/// The first 64 bits of a stored hash: what the service keeps in memory to check a code
/// without reading the database. A guess matches them with probability 2^-64, below the
/// 2^-60 of guessing the code itself, so the check is as strong as the code.
pub fn prefix(stored: &str) -> Option<u64> {
    stored
        .get(..16)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
}

/// Whether `typed` is the code whose hash begins with `stored_prefix`.
pub fn matches_prefix(id: ApplicationId, typed: &str, stored_prefix: u64) -> bool {
    hash(id, typed).and_then(|candidate| prefix(&candidate)) == Some(stored_prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::application::RegistrationNumber;
    use crate::domain::catalog::DistrictId;
    use rand::SeedableRng;

    fn id(number: u32) -> ApplicationId {
        ApplicationId {
            district: DistrictId(1),
            number: RegistrationNumber(number),
        }
    }

    #[test]
    fn a_code_matches_its_own_hash_however_it_is_typed() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let code = generate(&mut rng);
        assert_eq!(code.len(), 14);
        assert_eq!(code.matches('-').count(), 2);
        let stored = hash(id(5), &code).expect("a generated code is well-formed");
        assert!(matches_prefix(id(5), &code, prefix(&stored).unwrap()));
        let sloppy = code.to_lowercase().replace('-', " ").replace('0', "o");
        assert!(matches_prefix(id(5), &sloppy, prefix(&stored).unwrap()));
    }

    #[test]
    fn a_code_does_not_open_another_application_nor_does_a_near_miss() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(8);
        let code = generate(&mut rng);
        let stored = prefix(&hash(id(5), &code).unwrap()).unwrap();
        assert!(
            !matches_prefix(id(6), &code, stored),
            "salted by the application"
        );
        let mut other = code.clone().into_bytes();
        other[0] = if other[0] == b'A' { b'B' } else { b'A' };
        assert!(!matches_prefix(
            id(5),
            std::str::from_utf8(&other).unwrap(),
            stored
        ));
        assert!(!matches_prefix(id(5), "", stored));
        assert!(
            !matches_prefix(id(5), "ABCD-EFGH-JKMN-P", stored),
            "too long"
        );
        assert!(
            !matches_prefix(id(5), "ABCD-EFGH-JKMU", stored),
            "U is not a symbol"
        );
    }

    #[test]
    fn the_prefix_opens_what_the_hash_opens() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(10);
        let code = generate(&mut rng);
        let stored = hash(id(5), &code).unwrap();
        let short = prefix(&stored).unwrap();
        assert_eq!(format!("{short:016x}"), stored[..16]);
        assert!(matches_prefix(id(5), &code.to_lowercase(), short));
        assert!(!matches_prefix(id(6), &code, short));
        assert!(!matches_prefix(id(5), "0000-0000-0000", short));
        assert_eq!(prefix("not hex at all, not hex at all"), None);
    }

    #[test]
    fn codes_differ() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(9);
        let codes: std::collections::HashSet<String> =
            (0..1000).map(|_| generate(&mut rng)).collect();
        assert_eq!(codes.len(), 1000);
    }
}
