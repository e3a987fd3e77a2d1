//! The pages' charts: inline SVG drawn on the server (no script, no library), each with a
//! title and description for screen readers, beside a table of the same figures. Two
//! kinds share one frame (`frame`: the title, the axes): the parent's position over time
//! (`positions`), and the reports' bars (`bars`; `bars_with_hidden` for a page with several
//! charts and counts too small to show, the public statistics).

use crate::domain::reports::public::SMALL;
use chrono::NaiveDate;
use std::fmt::Write as _;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 36.0;

/// The SVG for `points` (day, position; oldest first). Position 1 is drawn at the top:
/// moving up the queue reads as going up. `None` with fewer than two points (one point is
/// no movement; the page says so in words).
pub fn positions(points: &[(NaiveDate, u32)], title: &str, description: &str) -> Option<String> {
    if points.len() < 2 {
        return None;
    }
    let (first, last) = (points.first()?, points.last()?);
    let days = (last.0 - first.0).num_days().max(1) as f64;
    let worst = points.iter().map(|p| p.1).max().unwrap_or(1).max(2) as f64;
    let x =
        |day: NaiveDate| LEFT + (day - first.0).num_days() as f64 / days * (WIDTH - LEFT - RIGHT);
    // 1 at the top, `worst` at the bottom.
    let y =
        |position: u32| TOP + (f64::from(position) - 1.0) / (worst - 1.0) * (HEIGHT - TOP - BOTTOM);
    let mut path = String::new();
    for (i, (day, position)) in points.iter().enumerate() {
        // A step line: the position holds until the day it changes.
        if i == 0 {
            let _ = write!(path, "M{:.1},{:.1}", x(*day), y(*position));
        } else {
            let _ = write!(path, " H{:.1} V{:.1}", x(*day), y(*position));
        }
    }
    let mut svg = frame("chart", title, description);
    let _ = write!(
        svg,
        r#"<text x="{tx}" y="{y1}" text-anchor="end" dominant-baseline="middle">1</text><text x="{tx}" y="{yw}" text-anchor="end" dominant-baseline="middle">{worst}</text>"#,
        tx = LEFT - 6.0,
        y1 = y(1),
        yw = HEIGHT - BOTTOM
    );
    let _ = write!(
        svg,
        r#"<text x="{LEFT}" y="{ty}">{}</text><text x="{r}" y="{ty}" text-anchor="end">{}</text>"#,
        first.0.format("%d.%m.%Y"),
        last.0.format("%d.%m.%Y"),
        ty = HEIGHT - 10.0,
        r = WIDTH - RIGHT
    );
    let _ = write!(svg, r#"<path class="line" d="{path}"/>"#);
    let (lx, ly) = (x(last.0), y(last.1));
    let _ = write!(
        svg,
        r#"<circle cx="{lx:.1}" cy="{ly:.1}" r="5" fill="currentColor"/></svg>"#
    );
    Some(svg)
}

/// The opening of a chart: the SVG element with its title and description (their element
/// ids start with `id`, unique on the page), and the axes. The caller draws inside and
/// closes it.
fn frame(id: &str, title: &str, description: &str) -> String {
    let mut svg = String::new();
    let id = escape(id);
    let _ = write!(
        svg,
        r#"<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-title {id}-desc" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape(title),
        escape(description)
    );
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b}"/><line class="axis" x1="{LEFT}" y1="{b}" x2="{r}" y2="{b}"/>"#,
        b = HEIGHT - BOTTOM,
        r = WIDTH - RIGHT
    );
    svg
}

/// Grouped bars: one group per label (left to right), one bar per series in each (class
/// `bar s0`, `bar s1`, ...; the page's table says which is which). The axis runs from 0 to
/// the largest value. `None` when there is nothing above zero to draw.
pub fn bars(
    labels: &[String],
    series: &[Vec<u64>],
    title: &str,
    description: &str,
) -> Option<String> {
    let series: Vec<Vec<Option<u64>>> = series
        .iter()
        .map(|values| values.iter().copied().map(Some).collect())
        .collect();
    bars_with_hidden("chart", labels, &series, title, description)
}

/// As `bars`, with the title's and description's ids starting with `id` (a page with
/// several charts), and values that may be hidden (`None`: a count too small to publish).
/// A hidden value draws no bar, only "<5" at its foot: the reader sees that there is a
/// count there, and nothing of its size (no bar height to measure against the axis).
pub fn bars_with_hidden(
    id: &str,
    labels: &[String],
    series: &[Vec<Option<u64>>],
    title: &str,
    description: &str,
) -> Option<String> {
    let largest = series
        .iter()
        .flatten()
        .flatten()
        .copied()
        .max()
        .filter(|v| *v > 0)? as f64;
    let groups = labels.len().max(1) as f64;
    let band = (WIDTH - LEFT - RIGHT) / groups;
    let bar = band * 0.8 / series.len().max(1) as f64;
    let y = |value: u64| TOP + (1.0 - value as f64 / largest) * (HEIGHT - TOP - BOTTOM);
    let mut svg = frame(id, title, description);
    let _ = write!(
        svg,
        r#"<text x="{tx}" y="{TOP}" text-anchor="end" dominant-baseline="middle">{largest}</text><text x="{tx}" y="{b}" text-anchor="end" dominant-baseline="middle">0</text>"#,
        tx = LEFT - 6.0,
        b = HEIGHT - BOTTOM
    );
    for (i, values) in series.iter().enumerate() {
        for (group, value) in values.iter().enumerate() {
            let x = LEFT + group as f64 * band + band * 0.1 + i as f64 * bar;
            let Some(value) = value else {
                let _ = write!(
                    svg,
                    r#"<text class="hidden" x="{cx:.1}" y="{ty:.1}" text-anchor="middle">&lt;{SMALL}</text>"#,
                    cx = x + bar / 2.0,
                    ty = HEIGHT - BOTTOM - 4.0
                );
                continue;
            };
            let top = y(*value);
            let _ = write!(
                svg,
                r#"<rect class="bar s{i}" x="{x:.1}" y="{top:.1}" width="{bar:.1}" height="{h:.1}"/>"#,
                h = HEIGHT - BOTTOM - top
            );
        }
    }
    if let (Some(first), Some(last)) = (labels.first(), labels.last()) {
        let _ = write!(
            svg,
            r#"<text x="{LEFT}" y="{ty}">{}</text><text x="{r}" y="{ty}" text-anchor="end">{}</text>"#,
            escape(first),
            escape(last),
            ty = HEIGHT - 10.0,
            r = WIDTH - RIGHT
        );
    }
    svg.push_str("</svg>");
    Some(svg)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn a_better_position_is_drawn_higher() {
        let svg = positions(&[(day(1), 9), (day(5), 3)], "t", "d").unwrap();
        // Position 9 (the worst) at the bottom; position 3 a quarter of the way down.
        let bottom = HEIGHT - BOTTOM;
        let three = TOP + 2.0 / 8.0 * (HEIGHT - TOP - BOTTOM);
        let expected = format!(
            "d=\"M{LEFT:.1},{bottom:.1} H{:.1} V{three:.1}\"",
            WIDTH - RIGHT
        );
        assert!(svg.contains(&expected), "{svg}");
    }

    #[test]
    fn titles_are_escaped_and_nothing_is_drawn_without_points() {
        let svg = positions(&[(day(1), 1), (day(2), 1)], "<b>", "&").unwrap();
        assert!(svg.contains("<title id=\"chart-title\">&lt;b&gt;</title>"));
        assert!(svg.contains("<desc id=\"chart-desc\">&amp;</desc>"));
        assert_eq!(positions(&[], "t", "d"), None);
        assert_eq!(positions(&[(day(1), 4)], "t", "d"), None);
    }

    #[test]
    fn the_largest_bar_reaches_the_top_and_half_of_it_halfway() {
        let labels = vec!["a".to_string(), "b".to_string()];
        let svg = bars(&labels, &[vec![10, 5]], "t", "d").unwrap();
        let half = TOP + 0.5 * (HEIGHT - TOP - BOTTOM);
        assert!(svg.contains(&format!("y=\"{TOP:.1}\"")), "{svg}");
        assert!(svg.contains(&format!("y=\"{half:.1}\"")), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 2);
        assert_eq!(bars(&labels, &[vec![0, 0]], "t", "d"), None);
    }

    #[test]
    fn a_hidden_count_draws_no_bar_and_each_chart_names_its_own_title() {
        let labels = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let svg =
            bars_with_hidden("queue", &labels, &[vec![Some(8), None, Some(0)]], "t", "d").unwrap();
        // Two bars (8 and a zero-high 0), no bar for the hidden one, a "<5" mark instead.
        assert_eq!(svg.matches("<rect").count(), 2, "{svg}");
        assert_eq!(svg.matches("&lt;5</text>").count(), 1, "{svg}");
        assert!(svg.contains(r#"aria-labelledby="queue-title queue-desc""#));
        assert!(svg.contains(r#"<title id="queue-title">t</title>"#));
        // Nothing but hidden counts: nothing to draw.
        assert_eq!(
            bars_with_hidden("q", &labels, &[vec![None, None, None]], "t", "d"),
            None
        );
    }
}
