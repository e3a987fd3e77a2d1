//! The pages' sessions: a parent's (one application, opened with its number and access
//! code) and a staff member's (opened with the account's token). Both are cookies the
//! service signs and keeps nothing of: `HttpOnly` (no script reads them), `SameSite=Strict`
//! (no other site's page sends them), `Secure` behind HTTPS, and ending after a while.
//!
//! Neither cookie holds the secret it was opened with. A parent's holds the first 64 bits
//! of the access code's salted hash, compared with the current one on every request, so a
//! replacement code ends every session opened with the old one. A staff member's holds the
//! token's SHA-256 (what `staff_accounts` stores), looked up on every request, so a revoked
//! account is out at once.
//!
//! Forms that change something carry a CSRF token: an HMAC of the session cookie, so a
//! page can only post with a token issued to the same session.

use crate::domain::application::{ApplicationId, RegistrationNumber};
use crate::domain::catalog::DistrictId;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const PARENT_COOKIE: &str = "kezek_parent";
pub const STAFF_COOKIE: &str = "kezek_staff";
pub const LANG_COOKIE: &str = "kezek_lang";
/// A person signed in through the identity provider (issue 14).
pub const PERSON_COOKIE: &str = "kezek_person";

/// A signed-in person's session: its maximum age, after which they sign in again.
pub const PERSON_SESSION: Duration = Duration::hours(2);

/// A parent follows one application for a while, then signs in again with the code.
pub const PARENT_SESSION: Duration = Duration::hours(2);
/// A working day.
pub const STAFF_SESSION: Duration = Duration::hours(10);

/// Signs and checks the cookies; the secret is derived from the deployment's signing key.
#[derive(Clone)]
pub struct SessionKeys {
    secret: [u8; 32],
    /// Cookies carry `Secure` when the service is reached over HTTPS.
    pub secure: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParentSession {
    pub application: ApplicationId,
    /// The access-code hash prefix the session was opened with.
    pub access_prefix: u64,
    pub expires: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffSession {
    /// SHA-256 of the token, as `staff_accounts` keeps it.
    pub token_hash: [u8; 32],
    pub expires: DateTime<Utc>,
}

/// A person the identity provider vouched for, as their cookie says: the provider's subject,
/// the IIN and name from the ID token. Nothing secret: the person's own IIN, signed so that
/// no one can write another's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonSession {
    pub subject: String,
    /// 12 digits, checked when the token was.
    pub iin: String,
    pub name: Option<String>,
    pub expires: DateTime<Utc>,
}

/// A staff member signed in through the provider: the account's name and the subject it
/// was bound to, both checked against `staff_accounts` on every request (revoked or bound
/// elsewhere: out at once), and the issuer that vouched, checked against the provider staff
/// sign in through now (another configured since: out at once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffSubjectSession {
    pub name: String,
    pub subject: String,
    pub issuer: String,
    pub expires: DateTime<Utc>,
}

impl SessionKeys {
    pub fn new(secret: [u8; 32], secure: bool) -> SessionKeys {
        SessionKeys { secret, secure }
    }

    fn mac(&self, label: &str, payload: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(label.as_bytes());
        mac.update(b"\0");
        mac.update(payload.as_bytes());
        // 128 bits: forging one is as hard as guessing the secret.
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    fn seal(&self, payload: String) -> String {
        let mac = self.mac("cookie", &payload);
        format!("{payload}.{mac}")
    }

    /// The payload of a cookie value whose MAC is right, compared in constant time.
    fn open<'a>(&self, value: &'a str) -> Option<&'a str> {
        let (payload, mac) = value.rsplit_once('.')?;
        let expected = self.mac("cookie", payload);
        constant_time_eq(mac.as_bytes(), expected.as_bytes()).then_some(payload)
    }

    pub fn parent_cookie(&self, session: &ParentSession) -> String {
        self.seal(format!(
            "p1.{}.{}.{:016x}.{}",
            session.application.district.0,
            session.application.number.0,
            session.access_prefix,
            session.expires.timestamp()
        ))
    }

    pub fn parent(&self, value: &str, now: DateTime<Utc>) -> Option<ParentSession> {
        let payload = self.open(value)?;
        let mut parts = payload.split('.');
        if parts.next()? != "p1" {
            return None;
        }
        let district = parts.next()?.parse().ok()?;
        let number = parts.next()?.parse().ok()?;
        let access_prefix = u64::from_str_radix(parts.next()?, 16).ok()?;
        let expires = DateTime::from_timestamp(parts.next()?.parse().ok()?, 0)?;
        if parts.next().is_some() || expires <= now {
            return None;
        }
        Some(ParentSession {
            application: ApplicationId {
                district: DistrictId(district),
                number: RegistrationNumber(number),
            },
            access_prefix,
            expires,
        })
    }

    pub fn staff_cookie(&self, session: &StaffSession) -> String {
        self.seal(format!(
            "s1.{}.{}",
            hex::encode(session.token_hash),
            session.expires.timestamp()
        ))
    }

    pub fn staff(&self, value: &str, now: DateTime<Utc>) -> Option<StaffSession> {
        let payload = self.open(value)?;
        let mut parts = payload.split('.');
        if parts.next()? != "s1" {
            return None;
        }
        let token_hash = hex::decode(parts.next()?).ok()?.try_into().ok()?;
        let expires = DateTime::from_timestamp(parts.next()?.parse().ok()?, 0)?;
        if parts.next().is_some() || expires <= now {
            return None;
        }
        Some(StaffSession {
            token_hash,
            expires,
        })
    }

    pub fn person_cookie(&self, session: &PersonSession) -> String {
        self.seal(format!(
            "i1.{}.{}.{}.{}",
            hex::encode(&session.subject),
            session.iin,
            hex::encode(session.name.as_deref().unwrap_or("")),
            session.expires.timestamp()
        ))
    }

    pub fn person(&self, value: &str, now: DateTime<Utc>) -> Option<PersonSession> {
        let payload = self.open(value)?;
        let mut parts = payload.split('.');
        if parts.next()? != "i1" {
            return None;
        }
        let subject = String::from_utf8(hex::decode(parts.next()?).ok()?).ok()?;
        let iin = parts.next()?.to_string();
        let name = String::from_utf8(hex::decode(parts.next()?).ok()?).ok()?;
        let expires = DateTime::from_timestamp(parts.next()?.parse().ok()?, 0)?;
        if parts.next().is_some() || expires <= now {
            return None;
        }
        Some(PersonSession {
            subject,
            iin,
            name: (!name.is_empty()).then_some(name),
            expires,
        })
    }

    pub fn staff_subject_cookie(&self, session: &StaffSubjectSession) -> String {
        self.seal(format!(
            "s3.{}.{}.{}.{}",
            hex::encode(&session.name),
            hex::encode(&session.subject),
            hex::encode(&session.issuer),
            session.expires.timestamp()
        ))
    }

    pub fn staff_subject(&self, value: &str, now: DateTime<Utc>) -> Option<StaffSubjectSession> {
        let payload = self.open(value)?;
        let mut parts = payload.split('.');
        // "s2" sessions (before issuers were named) are no longer read: signed out.
        if parts.next()? != "s3" {
            return None;
        }
        let name = String::from_utf8(hex::decode(parts.next()?).ok()?).ok()?;
        let subject = String::from_utf8(hex::decode(parts.next()?).ok()?).ok()?;
        let issuer = String::from_utf8(hex::decode(parts.next()?).ok()?).ok()?;
        let expires = DateTime::from_timestamp(parts.next()?.parse().ok()?, 0)?;
        if parts.next().is_some() || expires <= now {
            return None;
        }
        Some(StaffSubjectSession {
            name,
            subject,
            issuer,
            expires,
        })
    }

    /// The cookie of a started sign-in: its state, so that the answer is taken only from
    /// the browser that asked.
    pub fn signin_cookie(&self, state: &str, expires: DateTime<Utc>) -> String {
        self.seal(format!("o1.{state}.{}", expires.timestamp()))
    }

    pub fn signin_state(&self, value: &str, now: DateTime<Utc>) -> Option<String> {
        let payload = self.open(value)?;
        let mut parts = payload.split('.');
        if parts.next()? != "o1" {
            return None;
        }
        let state = parts.next()?.to_string();
        let expires = DateTime::from_timestamp(parts.next()?.parse().ok()?, 0)?;
        if parts.next().is_some() || expires <= now {
            return None;
        }
        Some(state)
    }

    /// A `Set-Cookie` value sent back on the provider's redirect: `SameSite=Lax`, because a
    /// Strict cookie is not sent on a navigation that another site (the provider) started.
    /// It holds only the state of a sign-in, good for one answer.
    pub fn set_lax_cookie(&self, name: &str, value: &str, max_age: Duration) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{name}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            max_age.num_seconds().max(0)
        )
    }

    /// The CSRF token for forms of the session whose cookie value this is.
    pub fn csrf(&self, cookie_value: &str) -> String {
        self.mac("csrf", cookie_value)
    }

    pub fn csrf_matches(&self, cookie_value: &str, token: &str) -> bool {
        constant_time_eq(self.csrf(cookie_value).as_bytes(), token.as_bytes())
    }

    /// A `Set-Cookie` value. `max_age` of zero removes the cookie.
    pub fn set_cookie(&self, name: &str, value: &str, max_age: Duration) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{name}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
            max_age.num_seconds().max(0)
        )
    }
}

/// Whether two byte strings are equal, in time that depends only on their lengths: a MAC
/// compared byte by byte with an early exit leaks how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of one cookie from a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn keys() -> SessionKeys {
        SessionKeys::new([7; 32], false)
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 4, 0, 0).unwrap()
    }

    fn parent() -> ParentSession {
        ParentSession {
            application: ApplicationId {
                district: DistrictId(1),
                number: RegistrationNumber(17),
            },
            access_prefix: 0xdead_beef_0123_4567,
            expires: now() + PARENT_SESSION,
        }
    }

    #[test]
    fn a_parent_cookie_opens_until_it_expires() {
        let value = keys().parent_cookie(&parent());
        assert_eq!(keys().parent(&value, now()), Some(parent()));
        assert_eq!(keys().parent(&value, now() + PARENT_SESSION), None);
    }

    #[test]
    fn every_changed_character_of_a_cookie_is_refused() {
        let value = keys().parent_cookie(&parent());
        for (i, c) in value.char_indices() {
            let replacement = if c == '1' { '2' } else { '1' };
            let mut forged = value.clone();
            forged.replace_range(i..i + 1, &replacement.to_string());
            assert_eq!(
                keys().parent(&forged, now()),
                None,
                "changed at {i}: {forged}"
            );
        }
    }

    #[test]
    fn another_deployments_cookie_is_refused() {
        let value = keys().parent_cookie(&parent());
        let other = SessionKeys::new([8; 32], false);
        assert_eq!(other.parent(&value, now()), None);
        // Nor does a parent's cookie pass as a staff member's.
        assert_eq!(keys().staff(&value, now()), None);
    }

    #[test]
    fn a_staff_cookie_round_trips_and_holds_only_the_token_hash() {
        let session = StaffSession {
            token_hash: [0xab; 32],
            expires: now() + STAFF_SESSION,
        };
        let value = keys().staff_cookie(&session);
        assert!(value.starts_with(&format!("s1.{}.", "ab".repeat(32))));
        assert_eq!(keys().staff(&value, now()), Some(session));
        assert_eq!(keys().staff(&value, now() + STAFF_SESSION), None);
    }

    #[test]
    fn a_person_cookie_round_trips_and_refuses_forgery() {
        let session = PersonSession {
            subject: "sub.with.dots".into(),
            iin: "061211600012".into(),
            name: Some("Нұрланова Айгүл".into()),
            expires: now() + PERSON_SESSION,
        };
        let value = keys().person_cookie(&session);
        assert_eq!(keys().person(&value, now()), Some(session.clone()));
        assert_eq!(keys().person(&value, now() + PERSON_SESSION), None);
        let forged = value.replacen("061211600012", "791028302728", 1);
        assert_eq!(keys().person(&forged, now()), None);
        assert_eq!(keys().parent(&value, now()), None);
        let staff = StaffSubjectSession {
            name: "officer-esl".into(),
            subject: "sub".into(),
            issuer: "https://staff.example.kz/realms/staff".into(),
            expires: now() + STAFF_SESSION,
        };
        let value = keys().staff_subject_cookie(&staff);
        assert_eq!(keys().staff_subject(&value, now()), Some(staff));
        assert_eq!(keys().person(&value, now()), None);
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let keys = keys();
        let one = keys.parent_cookie(&parent());
        let mut other_session = parent();
        other_session.application.number = RegistrationNumber(18);
        let other = keys.parent_cookie(&other_session);
        let token = keys.csrf(&one);
        assert!(keys.csrf_matches(&one, &token));
        assert!(!keys.csrf_matches(&other, &token));
        assert!(!keys.csrf_matches(&one, ""));
    }

    #[test]
    fn cookies_are_read_by_name() {
        let header = "a=1; kezek_lang=ru; kezek_parent=p1.x";
        assert_eq!(cookie(header, LANG_COOKIE), Some("ru"));
        assert_eq!(cookie(header, PARENT_COOKIE), Some("p1.x"));
        assert_eq!(cookie(header, STAFF_COOKIE), None);
    }

    #[test]
    fn set_cookie_is_http_only_and_strict() {
        let line = SessionKeys::new([1; 32], true).set_cookie("n", "v", Duration::hours(1));
        assert_eq!(
            line,
            "n=v; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict; Secure"
        );
    }
}
