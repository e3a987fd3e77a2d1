//! The verification link as a QR code: the module matrix, and its dark modules merged into
//! horizontal runs, which both renderers draw as filled rectangles (vector, sharp at any
//! printer's resolution).

use qrcode::{Color, EcLevel, QrCode};

/// The quiet zone the QR specification asks for around the code, in modules.
pub const QUIET_MODULES: usize = 4;

/// A QR code: `width` modules a side (quiet zone included) and its dark runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matrix {
    pub width: usize,
    /// `(x, y, length)` in modules, from the top left corner of the quiet zone.
    pub runs: Vec<(usize, usize, usize)>,
}

/// Medium error correction (15 %): a printed code survives a crease or a stamp, and a
/// 160-character link still fits a version small enough to scan at 30 mm.
pub fn encode(text: &str) -> Matrix {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .expect("a verification link is far below a QR code's capacity");
    let side = code.width();
    let colors = code.to_colors();
    let mut runs = Vec::new();
    for y in 0..side {
        let mut x = 0;
        while x < side {
            if colors[y * side + x] == Color::Dark {
                let start = x;
                while x < side && colors[y * side + x] == Color::Dark {
                    x += 1;
                }
                runs.push((start + QUIET_MODULES, y + QUIET_MODULES, x - start));
            } else {
                x += 1;
            }
        }
    }
    Matrix {
        width: side + 2 * QUIET_MODULES,
        runs,
    }
}

impl Matrix {
    /// An inline SVG of `size` (a CSS length), one path, no external reference.
    pub fn svg(&self, size: &str, label: &str) -> String {
        let mut path = String::with_capacity(self.runs.len() * 16);
        for (x, y, length) in &self.runs {
            path.push_str(&format!("M{x} {y}h{length}v1h-{length}z"));
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {w}\" width=\"{size}\" \
             height=\"{size}\" shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"{label}\">\
             <rect width=\"{w}\" height=\"{w}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>",
            w = self.width,
            label = super::html::escape(label),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_exactly_the_dark_modules() {
        let text = "https://kezek.example.kz/api/v1/documents/referral-ESL-R5/verify?v=0&sig=x";
        let code = QrCode::with_error_correction_level(text, EcLevel::M).unwrap();
        let matrix = encode(text);
        assert_eq!(matrix.width, code.width() + 8);
        let dark: usize = matrix.runs.iter().map(|r| r.2).sum();
        let expected = code
            .to_colors()
            .iter()
            .filter(|c| **c == Color::Dark)
            .count();
        assert_eq!(dark, expected);
        // The finder pattern's top row: seven dark modules at the quiet zone's corner.
        assert_eq!(matrix.runs[0], (4, 4, 7));
    }
}
