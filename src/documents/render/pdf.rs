//! A [`Page`] as a PDF on A4, with krilla.
//!
//! Why krilla: it embeds a subset of the TrueType font as a CID font, shapes text with
//! rustybuzz, and writes the ToUnicode map, so the text layer reads back exactly (search,
//! copy, screen readers; the test reads the child's name with ә ғ қ ң ө ұ ү һ і from it). It is
//! maintained as typst's PDF back end. printpdf would need us to do the subsetting and
//! the Unicode map right ourselves.
//!
//! krilla draws; it does not lay out. Layout is here, in two steps: [`layout`] breaks the
//! page's text into lines (measured with the font's advances) and places them, page by page,
//! as [`Op`]s; [`draw`] hands the ops to krilla. The content fits one A4 page; only a long
//! refusal motivation flows onto a second, and the check block always sits at the foot of
//! the last page.

use super::qr;
use super::texts::{Block, Page, Run};
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::text::{Font, TextDirection};
use krilla::Document;
use std::sync::LazyLock;

/// DejaVu Sans (Bitstream Vera licence, `assets/fonts/LICENSE`): it covers Kazakh Cyrillic
/// (ә ғ қ ң ө ұ ү һ і) and ships with Debian. Compiled in: rendering reads no file.
static REGULAR_TTF: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");

static REGULAR: LazyLock<Face> = LazyLock::new(|| Face::new(REGULAR_TTF));
static BOLD: LazyLock<Face> = LazyLock::new(|| Face::new(BOLD_TTF));

/// A font for drawing (krilla) and for measuring (ttf-parser), parsed once per process.
struct Face {
    font: Font,
    metrics: ttf_parser::Face<'static>,
}

impl Face {
    fn new(bytes: &'static [u8]) -> Face {
        Face {
            font: Font::new(bytes.into(), 0).expect("the embedded font parses"),
            metrics: ttf_parser::Face::parse(bytes, 0).expect("the embedded font parses"),
        }
    }

    /// The advance width of `text` at `size`, without kerning (which only narrows it, so a
    /// line measured to fit does fit).
    fn width(&self, text: &str, size: f32) -> f32 {
        let per_em = f32::from(self.metrics.units_per_em());
        let units: u32 = text
            .chars()
            .map(|c| {
                self.metrics
                    .glyph_index(c)
                    .and_then(|glyph| self.metrics.glyph_hor_advance(glyph))
                    .map_or(0, u32::from)
            })
            .sum();
        units as f32 * size / per_em
    }
}

fn face(strong: bool) -> &'static Face {
    if strong {
        &BOLD
    } else {
        &REGULAR
    }
}

// A4 in points, and the margins of the regulations' forms (left wider, for filing).
const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const LEFT: f32 = 62.0;
const RIGHT: f32 = PAGE_WIDTH - 51.0;
const TOP: f32 = 51.0;
const BOTTOM: f32 = PAGE_HEIGHT - 45.0;
const WIDTH: f32 = RIGHT - LEFT;

const BODY_SIZE: f32 = 11.0;
const BODY_LEADING: f32 = 15.5;
const LABEL_SIZE: f32 = 9.5;
const LABEL_LEADING: f32 = 13.5;
const LABEL_WIDTH: f32 = 168.0;
const QR_SIZE: f32 = 92.0;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Ink {
    Black,
    Grey,
}

/// One drawing operation, in points from the page's top left corner.
#[derive(Clone, Debug, PartialEq)]
enum Op {
    /// `y` is the baseline.
    Text {
        x: f32,
        y: f32,
        size: f32,
        strong: bool,
        ink: Ink,
        text: String,
    },
    Rect {
        x: f32,
        y: f32,
        width: f32,
        height: f32,
    },
}

/// A piece of a word in one style; words break only where a piece is followed by a space.
#[derive(Clone, Debug)]
struct Piece {
    text: String,
    strong: bool,
    space_after: bool,
    break_after: bool,
}

fn pieces(runs: &[Run]) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    for run in runs {
        for (index, line) in run.text.split('\n').enumerate() {
            if index > 0 {
                match out.last_mut() {
                    Some(last) => last.break_after = true,
                    None => continue,
                }
            }
            let words: Vec<&str> = line.split(' ').collect();
            for (i, word) in words.iter().enumerate() {
                let space_after = i + 1 < words.len();
                if word.is_empty() {
                    // A space at the run's edge: it separates from the previous piece.
                    if space_after || i > 0 {
                        if let Some(last) = out.last_mut() {
                            last.space_after = true;
                        }
                    }
                    continue;
                }
                // "№" never ends a line: it is glued, space and all, to its number.
                let glued = *word == "№" && space_after;
                out.push(Piece {
                    text: if glued {
                        "№ ".into()
                    } else {
                        (*word).to_string()
                    },
                    strong: run.strong,
                    space_after: space_after && !glued,
                    break_after: false,
                });
            }
        }
    }
    out
}

/// A laid-out line: segments of one style each, with their x offsets.
type Line = Vec<(f32, bool, String)>;

/// Breaks `runs` into lines at most `width` wide at `size`; a word wider than a line (a
/// link) is cut between characters.
fn break_lines(runs: &[Run], size: f32, width: f32) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    let mut line: Line = Vec::new();
    let mut x = 0.0f32;
    // The space owed before the next word, if the line goes on.
    let mut pending_space: Option<bool> = None;
    let mut word: Vec<Piece> = Vec::new();
    let all = pieces(runs);
    let count = all.len();
    for (index, piece) in all.into_iter().enumerate() {
        let ends_word = piece.space_after || piece.break_after || index + 1 == count;
        let hard_break = piece.break_after;
        word.push(piece);
        if !ends_word {
            continue;
        }
        let word_width: f32 = word
            .iter()
            .map(|p| face(p.strong).width(&p.text, size))
            .sum();
        let space = pending_space.map_or(0.0, |strong| face(strong).width(" ", size));
        if !line.is_empty() && x + space + word_width > width {
            lines.push(std::mem::take(&mut line));
            x = 0.0;
        } else if !line.is_empty() {
            push(&mut line, x, pending_space.unwrap_or(false), " ");
            x += space;
        }
        for piece in word.drain(..) {
            for chunk in cut(&piece.text, piece.strong, size, width, x) {
                if chunk.new_line {
                    lines.push(std::mem::take(&mut line));
                    x = 0.0;
                }
                push(&mut line, x, piece.strong, &chunk.text);
                x += face(piece.strong).width(&chunk.text, size);
            }
            pending_space = piece.space_after.then_some(piece.strong);
        }
        if hard_break {
            lines.push(std::mem::take(&mut line));
            x = 0.0;
            pending_space = None;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Appends text to the line, extending the last segment when the style is the same.
fn push(line: &mut Line, x: f32, strong: bool, text: &str) {
    match line.last_mut() {
        Some((_, last_strong, last)) if *last_strong == strong => last.push_str(text),
        _ => line.push((x, strong, text.to_string())),
    }
}

struct Chunk {
    text: String,
    new_line: bool,
}

/// `text` from `x` on, cut where it would pass `width`.
fn cut(text: &str, strong: bool, size: f32, width: f32, mut x: f32) -> Vec<Chunk> {
    let face = face(strong);
    if x + face.width(text, size) <= width {
        return vec![Chunk {
            text: text.to_string(),
            new_line: false,
        }];
    }
    let mut chunks = vec![Chunk {
        text: String::new(),
        new_line: false,
    }];
    for c in text.chars() {
        let advance = face.width(c.encode_utf8(&mut [0; 4]), size);
        let current = chunks.last_mut().expect("one chunk at least");
        if x + advance > width && !(current.text.is_empty() && x == 0.0) {
            chunks.push(Chunk {
                text: String::new(),
                new_line: true,
            });
            x = 0.0;
        }
        chunks.last_mut().expect("one chunk at least").text.push(c);
        x += advance;
    }
    chunks.retain(|c| !c.text.is_empty() || c.new_line);
    chunks
}

/// Where the next line goes, and the pages laid out so far.
struct Layout {
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Layout {
    fn new() -> Layout {
        Layout {
            pages: vec![Vec::new()],
            y: TOP,
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("one page at least")
    }

    /// Starts a new page unless `height` more fits above `limit`.
    fn room(&mut self, height: f32, limit: f32) {
        if self.y + height > limit {
            self.pages.push(Vec::new());
            self.y = TOP;
        }
    }

    /// Lines of text from `x`; `center` centres each line within `width`.
    #[allow(clippy::too_many_arguments)]
    fn text(
        &mut self,
        runs: &[Run],
        x: f32,
        width: f32,
        size: f32,
        leading: f32,
        ink: Ink,
        center: bool,
    ) {
        for line in break_lines(runs, size, width) {
            self.room(leading, BOTTOM);
            let shift = if center {
                let used = line.last().map_or(0.0, |(at, strong, text)| {
                    at + face(*strong).width(text, size)
                });
                (width - used).max(0.0) / 2.0
            } else {
                0.0
            };
            let baseline = self.y + size;
            for (at, strong, text) in line {
                self.ops().push(Op::Text {
                    x: x + shift + at,
                    y: baseline,
                    size,
                    strong,
                    ink,
                    text,
                });
            }
            self.y += leading;
        }
    }

    fn rule(&mut self, y: f32, thickness: f32) {
        self.ops().push(Op::Rect {
            x: LEFT,
            y,
            width: WIDTH,
            height: thickness,
        });
    }

    fn frame(&mut self, x: f32, y: f32, width: f32, height: f32) {
        let t = 0.8;
        let ops = self.ops();
        ops.push(Op::Rect {
            x,
            y,
            width,
            height: t,
        });
        ops.push(Op::Rect {
            x,
            y: y + height - t,
            width,
            height: t,
        });
        ops.push(Op::Rect {
            x,
            y,
            width: t,
            height,
        });
        ops.push(Op::Rect {
            x: x + width - t,
            y,
            width: t,
            height,
        });
    }
}

fn heading(layout: &mut Layout, page: &Page) {
    let center = |text: &str, strong: bool| {
        vec![Run {
            text: text.to_string(),
            strong,
        }]
    };
    layout.text(
        &center(&page.issuer[0], true),
        LEFT,
        WIDTH,
        12.0,
        16.0,
        Ink::Black,
        true,
    );
    layout.text(
        &center(&page.issuer[1], false),
        LEFT,
        WIDTH,
        10.5,
        14.0,
        Ink::Black,
        true,
    );
    layout.y += 5.0;
    let y = layout.y;
    layout.rule(y, 0.6);
    layout.y += 26.0;
    let title = page.title.to_uppercase();
    layout.text(
        &center(&title, true),
        LEFT,
        WIDTH,
        15.0,
        20.0,
        Ink::Black,
        true,
    );
    if let Some(subtitle) = &page.subtitle {
        layout.text(
            &center(subtitle, false),
            LEFT,
            WIDTH,
            BODY_SIZE,
            BODY_LEADING,
            Ink::Black,
            true,
        );
    }
    layout.y += 4.0;
    layout.text(
        &center(&page.number, true),
        LEFT,
        WIDTH,
        13.0,
        18.0,
        Ink::Black,
        true,
    );
    layout.y += 14.0;
}

fn fields(layout: &mut Layout, fields: &[(String, String)]) {
    let value_x = LEFT + LABEL_WIDTH + 10.0;
    let value_width = RIGHT - value_x;
    for (label, value) in fields {
        let label = [Run {
            text: label.clone(),
            strong: false,
        }];
        let value = [Run {
            text: value.clone(),
            strong: true,
        }];
        let label_lines = break_lines(&label, LABEL_SIZE, LABEL_WIDTH).len().max(1);
        let value_lines = break_lines(&value, BODY_SIZE, value_width).len().max(1);
        let height = (label_lines as f32 * LABEL_LEADING).max(value_lines as f32 * BODY_LEADING);
        layout.room(height, BOTTOM);
        let top = layout.y;
        // The label sits on the value's first baseline.
        layout.y = top + (BODY_SIZE - LABEL_SIZE);
        layout.text(
            &label,
            LEFT,
            LABEL_WIDTH,
            LABEL_SIZE,
            LABEL_LEADING,
            Ink::Grey,
            false,
        );
        layout.y = top;
        layout.text(
            &value,
            value_x,
            value_width,
            BODY_SIZE,
            BODY_LEADING,
            Ink::Black,
            false,
        );
        layout.y = top + height + 4.0;
    }
    layout.y += 6.0;
}

fn blocks(layout: &mut Layout, page: &Page) {
    for block in &page.blocks {
        match block {
            Block::Paragraph(runs) => {
                layout.text(
                    runs,
                    LEFT,
                    WIDTH,
                    BODY_SIZE,
                    BODY_LEADING,
                    Ink::Black,
                    false,
                );
                layout.y += 9.0;
            }
            Block::Fields(rows) => fields(layout, rows),
            Block::Notice(runs) => {
                let pad = 9.0;
                let lines = break_lines(runs, BODY_SIZE, WIDTH - 2.0 * pad).len();
                let height = lines as f32 * BODY_LEADING + 2.0 * pad - 3.0;
                layout.room(height, BOTTOM);
                let top = layout.y;
                layout.frame(LEFT, top, WIDTH, height);
                layout.y = top + pad - 1.0;
                layout.text(
                    runs,
                    LEFT + pad,
                    WIDTH - 2.0 * pad,
                    BODY_SIZE,
                    BODY_LEADING,
                    Ink::Black,
                    false,
                );
                layout.y = top + height + 12.0;
            }
        }
    }
    layout.y += 8.0;
    let officer = [
        Run {
            text: format!("{}: ", page.officer.0),
            strong: false,
        },
        Run {
            text: page.officer.1.clone(),
            strong: true,
        },
    ];
    layout.text(
        &officer,
        LEFT,
        WIDTH,
        BODY_SIZE,
        BODY_LEADING,
        Ink::Black,
        false,
    );
}

/// The check block: QR code on the left, how to use it on the right, the footnote below;
/// anchored to the foot of the last page.
fn check(layout: &mut Layout, page: &Page) {
    let check = &page.check;
    let text_x = LEFT + QR_SIZE + 14.0;
    let text_width = RIGHT - text_x;
    let plain = |text: &str| {
        vec![Run {
            text: text.to_string(),
            strong: false,
        }]
    };
    // Measure first: lay the block out on a scratch layout at y = 0.
    let mut scratch = Layout::new();
    scratch.y = 0.0;
    let column = |scratch: &mut Layout| {
        scratch.text(
            &plain(&check.prompt),
            text_x,
            text_width,
            8.5,
            11.5,
            Ink::Black,
            false,
        );
        scratch.y += 2.0;
        scratch.text(
            &plain(&check.link),
            text_x,
            text_width,
            7.0,
            9.5,
            Ink::Black,
            false,
        );
        scratch.y += 3.0;
        scratch.text(
            &plain(&check.document),
            text_x,
            text_width,
            8.0,
            11.0,
            Ink::Black,
            false,
        );
        scratch.text(
            &plain(&check.key),
            text_x,
            text_width,
            8.0,
            11.0,
            Ink::Black,
            false,
        );
    };
    column(&mut scratch);
    let upper = scratch.y.max(QR_SIZE);
    scratch.y = upper + 6.0;
    scratch.text(
        &plain(&check.footnote),
        LEFT,
        WIDTH,
        7.0,
        9.5,
        Ink::Grey,
        false,
    );
    let height = scratch.y + 10.0;
    // Now place it for real at the foot of the page.
    let top = BOTTOM - height;
    layout.room(12.0, top - 12.0);
    layout.y = top;
    layout.rule(top, 0.6);
    layout.y = top + 10.0;
    let code_top = layout.y;
    let matrix = qr::encode(&check.link);
    let module = QR_SIZE / matrix.width as f32;
    for (x, y, length) in &matrix.runs {
        layout.ops().push(Op::Rect {
            x: LEFT + *x as f32 * module,
            y: code_top + *y as f32 * module,
            width: *length as f32 * module,
            height: module,
        });
    }
    column(layout);
    layout.y = code_top + upper + 6.0;
    layout.text(
        &plain(&check.footnote),
        LEFT,
        WIDTH,
        7.0,
        9.5,
        Ink::Grey,
        false,
    );
}

fn layout(page: &Page) -> Vec<Vec<Op>> {
    let mut layout = Layout::new();
    heading(&mut layout, page);
    blocks(&mut layout, page);
    check(&mut layout, page);
    let count = layout.pages.len();
    if count > 1 {
        for (index, ops) in layout.pages.iter_mut().enumerate() {
            let label = format!("{} / {count}", index + 1);
            let x = RIGHT - REGULAR.width(&label, 7.0);
            ops.push(Op::Text {
                x,
                y: PAGE_HEIGHT - 24.0,
                size: 7.0,
                strong: false,
                ink: Ink::Grey,
                text: label,
            });
        }
    }
    layout.pages
}

fn fill(ink: Ink) -> Fill {
    let color = match ink {
        Ink::Black => rgb::Color::new(17, 17, 17),
        Ink::Grey => rgb::Color::new(85, 85, 85),
    };
    Fill {
        paint: color.into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }
}

fn draw(pages: &[Vec<Op>], page: &Page) -> Vec<u8> {
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("{} {}", page.title, page.number))
            .language(page.language.code().to_string()),
    );
    for ops in pages {
        let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).expect("A4 is a size");
        let mut sheet = document.start_page_with(settings);
        let mut surface = sheet.surface();
        let mut rects = PathBuilder::new();
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    strong,
                    ink,
                    text,
                } => {
                    surface.set_fill(Some(fill(*ink)));
                    surface.draw_text(
                        Point::from_xy(*x, *y),
                        face(*strong).font.clone(),
                        *size,
                        text,
                        false,
                        TextDirection::Auto,
                    );
                }
                Op::Rect {
                    x,
                    y,
                    width,
                    height,
                } => {
                    if let Some(rect) = Rect::from_xywh(*x, *y, *width, *height) {
                        rects.push_rect(rect);
                    }
                }
            }
        }
        if let Some(path) = rects.finish() {
            surface.set_fill(Some(fill(Ink::Black)));
            surface.draw_path(&path);
        }
        surface.finish();
        sheet.finish();
    }
    document.finish().expect("krilla writes the document")
}

pub fn render(page: &Page) -> Vec<u8> {
    draw(&layout(page), page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::render::{samples, texts, Language, Seal};

    fn seal() -> Seal {
        Seal {
            base_url: "https://kezek.example.kz".into(),
            signature: "x".repeat(86),
            key_id: "0123456789abcdef".into(),
        }
    }

    fn texts_of(pages: &[Vec<Op>]) -> Vec<(f32, f32, f32, bool, String)> {
        pages
            .iter()
            .flatten()
            .filter_map(|op| match op {
                Op::Text {
                    x,
                    y,
                    size,
                    strong,
                    text,
                    ..
                } => Some((*x, *y, *size, *strong, text.clone())),
                Op::Rect { .. } => None,
            })
            .collect()
    }

    #[test]
    fn every_line_stays_within_the_margins_and_lines_do_not_overlap() {
        let mut long = samples::refusal();
        long.refusal_text = Some("Ұзақ дәлелдеме. ".repeat(125));
        for data in [
            samples::notice(),
            samples::referral(),
            samples::refusal(),
            long,
        ] {
            for language in [Language::Kazakh, Language::Russian] {
                let page = texts::compose(&data, language, &seal());
                let pages = layout(&page);
                let mut lines: Vec<(usize, f32, f32, f32)> = Vec::new();
                for (number, ops) in pages.iter().enumerate() {
                    for (x, y, size, strong, text) in texts_of(std::slice::from_ref(ops)) {
                        let right = x + face(strong).width(&text, size);
                        assert!(
                            x >= LEFT - 0.01 && right <= RIGHT + 0.01,
                            "{text}: {x}..{right}"
                        );
                        assert!(
                            y - size >= TOP - 0.01 && y <= PAGE_HEIGHT - 20.0,
                            "{text} at {y}"
                        );
                        lines.push((number, x, right, y));
                    }
                }
                // Two texts on one page share no space: different baselines are at least a
                // small leading apart, or they sit side by side.
                for (i, a) in lines.iter().enumerate() {
                    for b in &lines[i + 1..] {
                        if a.0 != b.0 {
                            continue;
                        }
                        let apart =
                            (a.3 - b.3).abs() >= 8.9 || a.2 <= b.1 + 0.01 || b.2 <= a.1 + 0.01;
                        assert!(apart, "{a:?} overlaps {b:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_long_motivation_flows_onto_a_second_page_with_the_check_at_the_end() {
        let mut long = samples::refusal();
        long.refusal_text = Some("Ұзақ дәлелдеме. ".repeat(125));
        let pages = layout(&texts::compose(&long, Language::Kazakh, &seal()));
        assert_eq!(pages.len(), 2);
        let last = texts_of(&pages[1..]);
        assert!(last.iter().any(|t| t.4.starts_with("Қолтаңба кілті")));
        assert!(last.iter().any(|t| t.4 == "2 / 2"));
        let one = layout(&texts::compose(
            &samples::refusal(),
            Language::Kazakh,
            &seal(),
        ));
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn words_glued_across_runs_stay_together_and_links_are_cut() {
        let runs = [
            Run {
                text: "под номером ".into(),
                strong: false,
            },
            Run {
                text: "№ ESL-17".into(),
                strong: true,
            },
            Run {
                text: ".".into(),
                strong: false,
            },
        ];
        let lines = break_lines(&runs, 11.0, 1000.0);
        assert_eq!(lines.len(), 1);
        // Where the line is too short, "№" goes down with its number.
        let narrow = break_lines(&runs, 11.0, REGULAR.width("под номером №", 11.0) + 1.0);
        assert_eq!(narrow.len(), 2);
        assert_eq!(narrow[1][0].2, "№ ESL-17");
        let text: String = lines[0].iter().map(|s| s.2.as_str()).collect();
        assert_eq!(text, "под номером № ESL-17.");
        let link = [Run {
            text: "https://x/".to_string() + &"a".repeat(200),
            strong: false,
        }];
        let lines = break_lines(&link, 7.0, 300.0);
        assert!(lines.len() > 1);
        let joined: String = lines.iter().flatten().map(|s| s.2.as_str()).collect();
        assert_eq!(joined, link[0].text);
        let broken = [Run {
            text: "a\nb c".into(),
            strong: false,
        }];
        assert_eq!(break_lines(&broken, 11.0, 1000.0).len(), 2);
    }
}
