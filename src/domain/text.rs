//! Free text that comes from outside (names, addresses, document references, reasons):
//! what it may not hold.
//!
//! Control characters (Unicode category Cc) break the lines of logs, e-mails and CSV
//! exports, and can forge new ones. Format characters (Cf) are invisible: the
//! bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069) reorder what a
//! reader sees, so that a document reference or an address reads differently on a page, a
//! printed referral or an officer's screen than it is stored; zero-width characters make
//! two different strings look equal. None of them belongs in a name, an address or a
//! reason written in Kazakh or Russian, so they are refused, never silently removed: what
//! is stored is exactly what was sent, and what was sent is visible.

/// Why a text was refused. It names no character and no value: the text may be personal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the text holds a control, invisible or direction-changing character")]
pub struct UnsafeText;

/// Whether a character must not appear in free text: every control character, every
/// format character (Unicode 15's Cf list), and the line and paragraph separators.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}')
}

/// A one-line text: no unsafe character at all.
pub fn check_line(text: &str) -> Result<(), UnsafeText> {
    if text.chars().any(is_unsafe) {
        return Err(UnsafeText);
    }
    Ok(())
}

/// A text of several lines (a reason typed into a text area): line breaks are allowed,
/// nothing else that is unsafe.
pub fn check_paragraphs(text: &str) -> Result<(), UnsafeText> {
    if text.chars().any(|c| c != '\n' && c != '\r' && is_unsafe(c)) {
        return Err(UnsafeText);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kazakh_and_russian_text_passes() {
        for text in [
            "Әлихан Бөкейхан",
            "Астана, Мәңгілік Ел даңғылы 8, 12-пәтер",
            "№ 123/2026 от 01.02.2026 «ЦОН»",
            "O'Brien-Smith Jr.",
        ] {
            assert_eq!(check_line(text), Ok(()), "{text}");
        }
    }

    #[test]
    fn bidirectional_overrides_and_isolates_are_refused() {
        for c in ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}') {
            let text = format!("№ 12{c}34");
            assert_eq!(check_line(&text), Err(UnsafeText), "U+{:04X}", c as u32);
            assert_eq!(check_paragraphs(&text), Err(UnsafeText));
        }
    }

    #[test]
    fn control_and_invisible_characters_are_refused() {
        for c in [
            '\0', '\t', '\n', '\r', '\u{1B}', '\u{7F}', '\u{85}', '\u{200B}', '\u{200E}',
        ]
        .into_iter()
        .chain(['\u{FEFF}', '\u{2028}', '\u{00AD}', '\u{E0041}'])
        {
            let text = format!("a{c}b");
            assert_eq!(check_line(&text), Err(UnsafeText), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn paragraphs_keep_their_line_breaks_only() {
        assert_eq!(check_paragraphs("бір\nекі\r\nүш"), Ok(()));
        assert_eq!(check_paragraphs("бір\tекі"), Err(UnsafeText));
        assert_eq!(check_paragraphs("бір\u{2029}екі"), Err(UnsafeText));
    }
}
