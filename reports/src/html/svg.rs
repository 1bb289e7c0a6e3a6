//! The swimlane timeline of a run as inline SVG: simulated time across, one row per lane grouped by
//! subject, the run's findings in red, its faults as bands over every lane, and the client's
//! acknowledged messages per bucket at the bottom.
//!
//! Everything is drawn from the [`Timeline`] and the findings alone, in their order, with coordinates
//! printed to one decimal: the same run gives the same bytes. Every shape carries a `<title>`, which
//! browsers show as a tooltip, so the exact interval of anything drawn is a hover away.

use super::escape::escape;
use crate::finding::FindingRecord;
use crate::text::format_ms;
use crate::timeline::{FaultBand, Lane, Segment, Timeline, Tone};
use std::fmt::Write as _;

/// The drawing's width in SVG units; it scales to the page's width (`viewBox`).
const WIDTH: f64 = 1000.0;
/// Room on the left for group headings and lane labels.
const LABEL_WIDTH: f64 = 190.0;
/// Room on the right so the last tick label is not cut.
const RIGHT_MARGIN: f64 = 30.0;
/// The band at the top holding the time axis's labels.
const AXIS_HEIGHT: f64 = 26.0;
const HEADING_HEIGHT: f64 = 20.0;
const ROW_HEIGHT: f64 = 18.0;
const BAR_HEIGHT: f64 = 14.0;
const THROUGHPUT_HEIGHT: f64 = 48.0;
/// Roughly the width of one character at the 10-unit font, to decide whether a text fits in a shape.
const CHARACTER_WIDTH: f64 = 6.0;
/// A finding of a single instance still gets a visible mark.
const MINIMUM_MARK_WIDTH: f64 = 3.0;
const LABEL_CHARACTERS: usize = 30;
const VIOLATION_COLOUR: &str = "#c81e1e";
const FAULT_COLOUR: &str = "#f08c00";

/// The inline `<svg id="timeline">` of a run: the time axis, `timeline`'s lanes under their group
/// headings, `findings` in red over their first..last interval, fault bands over every lane, and the
/// throughput. A timeline with nothing in it still draws its axis.
pub fn timeline_svg(timeline: &Timeline, findings: &[FindingRecord]) -> String {
    let scale = Scale { duration_ms: timeline.duration_ms };
    let mut rows = Rows { body: String::new(), y: AXIS_HEIGHT };
    for (group, lanes) in lane_groups(&timeline.lanes) {
        rows.heading(group);
        for lane in lanes {
            rows.lane(&scale, group, lane);
        }
    }
    rows.findings(&scale, findings);
    rows.faults(&scale, &timeline.faults);
    rows.throughput(&scale, &timeline.throughput, timeline.throughput_bucket_ms);
    if rows.y == AXIS_HEIGHT {
        rows.note("nothing was recorded on this timeline");
    }
    let height = rows.y + 6.0;
    let mut svg = String::with_capacity(rows.body.len() + 4096);
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"timeline\" viewBox=\"0 0 {WIDTH} {h}\" \
         width=\"{WIDTH}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"10\" role=\"img\" \
         aria-label=\"timeline of the run over {d} of simulated time\">",
        h = number(height),
        d = format_ms(timeline.duration_ms),
    );
    let _ = writeln!(
        svg,
        "<rect class=\"background\" x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{}\" fill=\"#ffffff\"/>",
        number(height)
    );
    axis(&mut svg, &scale, height);
    svg.push_str(&rows.body);
    fault_bands(&mut svg, &scale, &timeline.faults, height);
    svg.push_str("</svg>\n");
    svg
}

/// Maps simulated time onto the drawing's x axis.
struct Scale {
    duration_ms: u64,
}

impl Scale {
    fn x(&self, ms: u64) -> f64 {
        // A run of no length still gets an axis; times past the end are drawn at the end.
        let duration = self.duration_ms.max(1);
        let ms = ms.min(duration);
        LABEL_WIDTH + (WIDTH - LABEL_WIDTH - RIGHT_MARGIN) * (ms as f64 / duration as f64)
    }

    /// The left edge and width of `from_ms..to_ms`, at least `minimum` wide.
    fn span(&self, from_ms: u64, to_ms: u64, minimum: f64) -> (f64, f64) {
        let left = self.x(from_ms);
        (left, (self.x(to_ms) - left).max(minimum))
    }

    /// Tick times: a round step giving at most about ten ticks, from 0 to the end.
    fn ticks(&self) -> Vec<u64> {
        const STEPS: [u64; 26] = [
            1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000,
            300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000,
        ];
        let fallback = self.duration_ms.div_ceil(10).next_multiple_of(3_600_000);
        let step = STEPS.into_iter().find(|step| self.duration_ms / step <= 10).unwrap_or(fallback);
        (0..=self.duration_ms / step).map(|index| index * step).collect()
    }
}

/// The lanes grouped by subject, groups in order of first appearance and lanes in their own order,
/// so a group is drawn together even if the harness listed its lanes apart.
fn lane_groups(lanes: &[Lane]) -> Vec<(&str, Vec<&Lane>)> {
    let mut groups: Vec<(&str, Vec<&Lane>)> = Vec::new();
    for lane in lanes {
        match groups.iter_mut().find(|(group, _)| *group == lane.group) {
            Some((_, members)) => members.push(lane),
            None => groups.push((lane.group.as_str(), vec![lane])),
        }
    }
    groups
}

/// The axis along the top: a tick label and a grid line down the whole drawing at each tick.
fn axis(svg: &mut String, scale: &Scale, height: f64) {
    let plot_right = WIDTH - RIGHT_MARGIN;
    let _ = writeln!(
        svg,
        "<path class=\"axis\" d=\"M{LABEL_WIDTH} {a} H{plot_right}\" stroke=\"#52606d\" fill=\"none\"/>",
        a = number(AXIS_HEIGHT - 2.0),
    );
    for tick in scale.ticks() {
        let x = number(scale.x(tick));
        let _ = writeln!(
            svg,
            "<path class=\"grid\" d=\"M{x} {top} V{bottom}\" stroke=\"#e4e7eb\" fill=\"none\"/>\
             <text x=\"{x}\" y=\"14\" text-anchor=\"middle\" fill=\"#52606d\">{label}</text>",
            top = number(AXIS_HEIGHT - 6.0),
            bottom = number(height),
            label = escape(&format_ms(tick)),
        );
    }
}

/// Each fault as a translucent band over every lane. The bands let the pointer through to the
/// segments beneath (their tooltips matter more); the fault's own tooltip is on its row.
fn fault_bands(svg: &mut String, scale: &Scale, faults: &[FaultBand], height: f64) {
    for fault in faults {
        let (left, width) = scale.span(fault.from_ms, fault.to_ms, 1.0);
        let _ = writeln!(
            svg,
            "<rect class=\"fault-band\" x=\"{}\" y=\"{AXIS_HEIGHT}\" width=\"{}\" height=\"{}\" \
             fill=\"{FAULT_COLOUR}\" fill-opacity=\"0.12\" pointer-events=\"none\"/>",
            number(left),
            number(width),
            number(height - AXIS_HEIGHT),
        );
    }
}

/// The rows below the axis, drawn top to bottom: `y` is where the next row starts.
struct Rows {
    body: String,
    y: f64,
}

impl Rows {
    /// A group's heading across the label column.
    fn heading(&mut self, text: &str) {
        let _ = writeln!(
            self.body,
            "<text class=\"heading\" x=\"4\" y=\"{}\" font-weight=\"bold\" font-size=\"11\">{}<title>{}</title></text>",
            number(self.y + 14.0),
            escape(&shortened(text)),
            escape(text),
        );
        self.y += HEADING_HEIGHT;
    }

    /// A line of text across the plot, where the rows would be.
    fn note(&mut self, text: &str) {
        let _ = writeln!(
            self.body,
            "<text class=\"note\" x=\"{}\" y=\"{}\" fill=\"#616e7c\" font-style=\"italic\">{}</text>",
            number(LABEL_WIDTH + 4.0),
            number(self.y + 14.0),
            escape(text),
        );
        self.y += HEADING_HEIGHT;
    }

    /// A row's label in the label column and a faint line along it; returns the bar's top.
    fn row(&mut self, label: &str) -> f64 {
        let bar_top = self.y + (ROW_HEIGHT - BAR_HEIGHT) / 2.0;
        let _ = writeln!(
            self.body,
            "<text class=\"label\" x=\"14\" y=\"{}\" fill=\"#323f4b\">{}<title>{}</title></text>\
             <path d=\"M{LABEL_WIDTH} {} H{}\" stroke=\"#f0f4f8\" fill=\"none\"/>",
            number(self.y + 13.0),
            escape(&shortened(label)),
            escape(label),
            number(self.y + ROW_HEIGHT / 2.0),
            number(WIDTH - RIGHT_MARGIN),
        );
        self.y += ROW_HEIGHT;
        bar_top
    }

    fn lane(&mut self, scale: &Scale, group: &str, lane: &Lane) {
        let top = self.row(&lane.label);
        for segment in &lane.segments {
            let tooltip = format!(
                "{group} {}: {}, {} to {}",
                lane.label,
                segment.text,
                format_ms(segment.from_ms),
                format_ms(segment.to_ms)
            );
            self.segment(scale, segment, top, &tooltip);
        }
    }

    /// One state as a bar in its tone's colour, with its text inside when it fits.
    fn segment(&mut self, scale: &Scale, segment: &Segment, top: f64, tooltip: &str) {
        let (left, width) = scale.span(segment.from_ms, segment.to_ms, 1.0);
        let (class, fill) = tone_style(segment.tone);
        let _ = write!(
            self.body,
            "<rect class=\"segment {class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{BAR_HEIGHT}\" \
             fill=\"{fill}\" stroke=\"#ffffff\" stroke-width=\"0.5\"><title>{}</title></rect>",
            number(left),
            number(top),
            number(width),
            escape(tooltip),
        );
        if fits(&segment.text, width) {
            let _ = write!(
                self.body,
                "<text x=\"{}\" y=\"{}\" fill=\"#102a43\" pointer-events=\"none\">{}</text>",
                number(left + 3.0),
                number(top + 10.5),
                escape(&segment.text),
            );
        }
        self.body.push('\n');
    }

    /// The findings in red, one row per check and subject (in order of their first finding), each
    /// finding over its first..last interval.
    fn findings(&mut self, scale: &Scale, findings: &[FindingRecord]) {
        if findings.is_empty() {
            return;
        }
        self.heading("violations");
        let mut rows: Vec<(&str, &str)> = Vec::new();
        for finding in findings {
            if !rows.contains(&(finding.check.as_str(), finding.subject.as_str())) {
                rows.push((finding.check.as_str(), finding.subject.as_str()));
            }
        }
        for (check, subject) in rows {
            let top = self.row(&format!("{check} on {subject}"));
            for finding in findings.iter().filter(|f| f.check == check && f.subject == subject) {
                self.finding(scale, finding, top);
            }
        }
    }

    fn finding(&mut self, scale: &Scale, finding: &FindingRecord, top: f64) {
        let (left, width) = scale.span(finding.first_ms, finding.last_ms, MINIMUM_MARK_WIDTH);
        let times = finding.times();
        let tooltip = format!("{} on {}: {times}; first: {}", finding.check, finding.subject, finding.first);
        let _ = writeln!(
            self.body,
            "<rect class=\"violation\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{BAR_HEIGHT}\" \
             fill=\"{VIOLATION_COLOUR}\" fill-opacity=\"0.85\"><title>{}</title></rect>",
            number(left),
            number(top),
            number(width),
            escape(&tooltip),
        );
    }

    /// One row per fault: its interval as an orange bar with the fault's label beside it.
    fn faults(&mut self, scale: &Scale, faults: &[FaultBand]) {
        if faults.is_empty() {
            return;
        }
        self.heading("faults");
        for (index, fault) in faults.iter().enumerate() {
            let top = self.row(&format!("fault {}", index + 1));
            let (left, width) = scale.span(fault.from_ms, fault.to_ms, MINIMUM_MARK_WIDTH);
            let tooltip =
                format!("{}, {} to {}", fault.label, format_ms(fault.from_ms), format_ms(fault.to_ms));
            // The label goes on the side of the bar with more room, so it stays inside the drawing.
            let (text_x, anchor) = if left - LABEL_WIDTH > WIDTH - RIGHT_MARGIN - (left + width) {
                (left - 3.0, "end")
            } else {
                (left + width + 3.0, "start")
            };
            let _ = writeln!(
                self.body,
                "<rect class=\"fault\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{BAR_HEIGHT}\" fill=\"{FAULT_COLOUR}\" \
                 fill-opacity=\"0.7\"><title>{t}</title></rect><text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" \
                 fill=\"#7c2d12\">{}<title>{t}</title></text>",
                number(left),
                number(top),
                number(width),
                number(text_x),
                number(top + 10.5),
                escape(&fault.label),
                t = escape(&tooltip),
            );
        }
    }

    /// Acknowledged messages per bucket as a bar chart, scaled to the busiest bucket.
    fn throughput(&mut self, scale: &Scale, buckets: &[u64], bucket_ms: u64) {
        if buckets.is_empty() || bucket_ms == 0 {
            return;
        }
        self.heading("throughput");
        let peak = buckets.iter().copied().max().unwrap_or(0).max(1);
        let _ = writeln!(
            self.body,
            "<text class=\"label\" x=\"14\" y=\"{}\" fill=\"#323f4b\">acknowledged per {}</text>\
             <text x=\"14\" y=\"{}\" fill=\"#616e7c\">peak {peak}</text>",
            number(self.y + 13.0),
            escape(&format_ms(bucket_ms)),
            number(self.y + 26.0),
        );
        let baseline = self.y + THROUGHPUT_HEIGHT - 2.0;
        for (index, &acked) in buckets.iter().enumerate() {
            let from_ms = bucket_ms.saturating_mul(index as u64);
            let to_ms = from_ms.saturating_add(bucket_ms);
            let (left, width) = scale.span(from_ms, to_ms, 0.5);
            let height = (THROUGHPUT_HEIGHT - 6.0) * (acked as f64 / peak as f64);
            let _ = writeln!(
                self.body,
                "<rect class=\"throughput\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#2f80ed\">\
                 <title>{acked} acknowledged, {} to {}</title></rect>",
                number(left),
                number(baseline - height),
                number((width - 0.5).max(0.5)),
                number(height),
                escape(&format_ms(from_ms)),
                escape(&format_ms(to_ms)),
            );
        }
        self.y += THROUGHPUT_HEIGHT;
    }
}

/// The CSS class and fill of a tone: light enough that dark text on it reads.
fn tone_style(tone: Tone) -> (&'static str, &'static str) {
    match tone {
        Tone::Good => ("good", "#8fd19e"),
        Tone::Warn => ("warn", "#f7d070"),
        Tone::Bad => ("bad", "#f29b9b"),
        Tone::Neutral => ("neutral", "#cbd2d9"),
    }
}

/// Whether `text` fits inside a shape `width` wide.
fn fits(text: &str, width: f64) -> bool {
    !text.is_empty() && (text.chars().count() as f64) * CHARACTER_WIDTH + 6.0 <= width
}

/// A label cut to what fits the label column (the whole text is in its tooltip).
fn shortened(text: &str) -> String {
    if text.chars().count() <= LABEL_CHARACTERS {
        return text.to_string();
    }
    let mut short: String = text.chars().take(LABEL_CHARACTERS - 1).collect();
    short.push('…');
    short
}

/// A coordinate to one decimal, without a trailing `.0`: short and the same on every machine.
fn number(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}
