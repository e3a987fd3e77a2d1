//! Staff accounts and what each role may do where.
//!
//! An account is bound to its scope: an officer or an operator to one district, a
//! kindergarten account to one kindergarten, an admin to none (the catalog and settings).
//! Its bearer token is random and shown once; only its SHA-256 is kept, which is enough for
//! a 256-bit secret (no one can guess it, so no slow hash is needed).

use super::catalog::{DistrictId, KindergartenId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    /// An education officer of a district office.
    Officer,
    /// A front-office operator of a public service centre, serving one district.
    Operator,
    Kindergarten,
}

impl Role {
    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Officer => "officer",
            Role::Operator => "operator",
            Role::Kindergarten => "kindergarten",
        }
    }

    pub fn parse(code: &str) -> Option<Role> {
        [
            Role::Admin,
            Role::Officer,
            Role::Operator,
            Role::Kindergarten,
        ]
        .into_iter()
        .find(|role| role.code() == code)
    }
}

/// Where an account may act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Scope {
    Everywhere,
    District(DistrictId),
    Kindergarten(KindergartenId),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffAccount {
    /// Unique; events name the account as "staff:<name>".
    pub name: String,
    pub role: Role,
    pub scope: Scope,
}

impl StaffAccount {
    /// Whether the account acts for `district` (officers and operators of that district).
    pub fn serves_district(&self, district: DistrictId) -> bool {
        self.scope == Scope::District(district)
    }
}

/// An account name: 1 to 64 of a-z, 0-9, '-', '_', '.'; it appears in the journal.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

/// A new bearer token: "kzk_" and 64 hex digits of the caller's randomness (256 bits).
pub fn generate_token(rng: &mut impl rand::Rng) -> String {
    let bytes: [u8; 32] = rng.random();
    format!("kzk_{}", hex::encode(bytes))
}

pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn tokens_are_long_random_and_hash_stably() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let a = generate_token(&mut rng);
        let b = generate_token(&mut rng);
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(token_hash(&a), token_hash(&a.clone()));
        assert_ne!(token_hash(&a), token_hash(&b));
    }

    #[test]
    fn names_are_plain() {
        assert!(valid_name("officer-esl-1"));
        assert!(!valid_name(""));
        assert!(!valid_name("Officer"));
        assert!(!valid_name("a b"));
        assert!(!valid_name(&"a".repeat(65)));
        assert_eq!(Role::parse("operator"), Some(Role::Operator));
        assert_eq!(Role::parse("root"), None);
    }
}
