//! The page of one run: what ran, how it went against what the scenario expected, what broke (the
//! findings), the figures, the notes, the command that replays it, and its timeline.

use super::escape::escape;
use super::page::{code, command_block, document, judgement_class, table};
use super::svg::timeline_svg;
use crate::record::RunRecord;
use crate::text::format_ms;
use crate::timeline::Timeline;
use std::fmt::Write as _;

/// The self-contained HTML page of `run`, with `timeline` drawn under its findings.
pub fn run_page(run: &RunRecord, timeline: &Timeline) -> String {
    let mut body = String::new();
    header(&mut body, run);
    findings(&mut body, run);
    metrics(&mut body, run);
    notes(&mut body, run);
    body.push_str("<h2>Replay</h2>\n");
    body.push_str(&command_block(&run.replay));
    body.push_str("<h2>Timeline</h2>\n");
    body.push_str(
        "<p class=\"muted\">Simulated time across; hover over a bar for its state and interval. \
         Orange bands are faults in force, red bars are violations.</p>\n",
    );
    body.push_str(&timeline_svg(timeline, &run.findings));
    document(&format!("{} seed {}: {}", run.scenario, run.seed, run.verdict), &body)
}

/// The scenario, the seed, the verdict against the expectation, and the fingerprints.
fn header(out: &mut String, run: &RunRecord) {
    let expected = run.expected.as_deref().unwrap_or("pass");
    let judgement = if run.as_expected {
        "as expected".to_string()
    } else {
        format!("NOT as expected (exit {})", run.exit_code)
    };
    let _ =
        writeln!(out, "<h1>{} <span class=\"muted\">seed {}</span></h1>", escape(&run.scenario), run.seed);
    let _ = writeln!(out, "<p>Scenario file {}</p>", code(&run.scenario_path));
    let _ = writeln!(
        out,
        "<p>Verdict <span class=\"verdict {}\">{}</span>, expected {}: <strong>{}</strong></p>",
        judgement_class(run.as_expected),
        escape(&run.verdict),
        escape(expected),
        escape(&judgement),
    );
    if let Some(surprise) = &run.surprise {
        let _ = writeln!(out, "<p>Surprise: {}</p>", code(surprise));
    }
    if !run.fault_signature.is_empty() {
        let _ = writeln!(out, "<p>Faults in force: {}</p>", escape(&run.fault_signature.join(", ")));
    }
    let _ = writeln!(
        out,
        "<p class=\"muted\">Scenario sha256 {}<br/>History sha256 {}</p>",
        code(&run.scenario_sha256),
        code(&run.history_sha256),
    );
}

/// The findings as a table: check, subject, how often, when, and the first and last explanation.
fn findings(out: &mut String, run: &RunRecord) {
    out.push_str("<h2>Findings</h2>\n");
    if run.findings.is_empty() {
        out.push_str("<p>No violations.</p>\n");
        return;
    }
    let _ = writeln!(out, "<p>{} violations in {} findings.</p>", run.violation_count, run.findings.len());
    let rows: Vec<Vec<String>> = run
        .findings
        .iter()
        .map(|finding| {
            vec![
                escape(&finding.check),
                escape(&finding.subject),
                finding.count.to_string(),
                escape(&format_ms(finding.first_ms)),
                escape(&format_ms(finding.last_ms)),
                escape(&finding.first),
                escape(finding.last.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    let header = ["check", "subject", "count", "first at", "last at", "first instance", "last instance"];
    table(out, &header, &["count", "first at", "last at"], &rows);
}

/// The figures measured over the run.
fn metrics(out: &mut String, run: &RunRecord) {
    let metrics = &run.metrics;
    let lost_window = match metrics.lost_window_ms {
        Some((first, last)) => format!("acknowledged {} to {}", format_ms(first), format_ms(last)),
        None => String::new(),
    };
    let rows = [
        ("acknowledged messages", metrics.acked.to_string(), String::new()),
        ("lost acknowledged messages", metrics.lost_acked.to_string(), lost_window),
        ("duplicates", metrics.duplicates.to_string(), String::new()),
        (
            "recovery time (RTO)",
            format_ms(metrics.rto_ms),
            "longest outage outside the declared window".to_string(),
        ),
        ("failovers", metrics.failovers.to_string(), String::new()),
        ("simulated time", format_ms(metrics.simulated_ms), String::new()),
        ("history events", metrics.events.to_string(), String::new()),
    ];
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(name, value, note)| vec![escape(name), escape(&value), escape(&note)])
        .collect();
    out.push_str("<h2>Metrics</h2>\n");
    table(out, &["metric", "value", "note"], &["value"], &rows);
}

/// What could not be checked and why.
fn notes(out: &mut String, run: &RunRecord) {
    if run.notes.is_empty() {
        return;
    }
    out.push_str("<h2>Notes</h2>\n<ul>\n");
    for note in &run.notes {
        let _ = writeln!(out, "<li>{}</li>", escape(note));
    }
    out.push_str("</ul>\n");
}
