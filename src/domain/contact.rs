//! Contact details a parent gives: the e-mail address.
//!
//! An e-mail address goes into the `To:` header of the messages the sender writes, so it
//! must be exactly one mailbox: one RFC 5322 addr-spec, parsed by the `email_address`
//! crate (lettre's own dependency), without a display name (`Name <a@b>`), without a
//! second address (`victim,attacker@evil.example` is not an addr-spec: a comma is no
//! `atext`), without a quoted local part or a domain literal (both legal, neither used by
//! a parent, and both ways to smuggle characters past other parsers), and with a dotted
//! domain (no `user@localhost`).

use email_address::{EmailAddress, Options};

/// RFC 5321's limit on a path, which bounds the address.
const EMAIL_CHARS_MAX: usize = 254;

/// Why an address was refused; it names no part of the address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not one plain e-mail address")]
pub struct EmailInvalid;

/// The address as sent (surrounding spaces removed), if it is one plain addr-spec.
pub fn parse_email(text: &str) -> Result<String, EmailInvalid> {
    let text = text.trim();
    if text.is_empty()
        || text.len() > EMAIL_CHARS_MAX
        || text.contains('"')
        || super::text::check_line(text).is_err()
    {
        return Err(EmailInvalid);
    }
    let options = Options::default()
        .without_display_text()
        .without_domain_literal()
        .with_required_tld();
    let address = EmailAddress::parse_with_options(text, options).map_err(|_| EmailInvalid)?;
    // The crate answers the address it read; anything else means it read something else.
    if address.as_str() != text {
        return Err(EmailInvalid);
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_addresses_pass() {
        for address in [
            "aigerim@example.kz",
            "a.b+queue@mail.example.com",
            "user_1@sub.domain.kz",
            "  spaced@example.kz ",
        ] {
            assert_eq!(
                parse_email(address).as_deref(),
                Ok(address.trim()),
                "{address}"
            );
        }
    }

    #[test]
    fn a_second_recipient_a_display_name_or_a_header_are_refused() {
        for address in [
            "a,b@x.example",
            "a,b@x",
            "victim,attacker@evil.example",
            "victim@example.kz,attacker@evil.example",
            "victim@example.kz attacker@evil.example",
            "Victim <victim@example.kz>",
            "<victim@example.kz>",
            "victim@example.kz\r\nBcc: attacker@evil.example",
            "vic\ntim@example.kz",
            "vic\u{0}tim@example.kz",
            "vic\u{202E}tim@example.kz",
            "\"a,b\"@example.kz",
            "victim@[127.0.0.1]",
            "victim@localhost",
            "@example.kz",
            "victim@",
            "victim",
            "",
        ] {
            assert_eq!(parse_email(address), Err(EmailInvalid), "{address:?}");
        }
    }

    #[test]
    fn an_address_longer_than_a_path_is_refused() {
        let long = format!("{}@example.kz", "a".repeat(250));
        assert_eq!(parse_email(&long), Err(EmailInvalid));
    }
}
