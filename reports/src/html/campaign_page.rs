//! The page of a campaign: which drill ran what plan, how each scenario went, each failure group once
//! with how to reproduce it, and how recovery time and data loss spread across the seeds.

use super::escape::escape;
use super::page::{code, command_block, document, judgement_class, table};
use crate::record::{CampaignRecord, FailureGroup, RunRecord, ScenarioSummary};
use crate::text::{format_ms, seed_list, verdict_counts};
use std::fmt::Write as _;

/// How many bars a distribution's histogram has at most.
const HISTOGRAM_BINS: u64 = 10;

/// The self-contained HTML page of `campaign`. `run_page_link` gives the relative address of a run's
/// own page, or `None` when the campaign wrote none for it; failure groups link their first run's.
pub fn campaign_page(
    campaign: &CampaignRecord,
    run_page_link: &dyn Fn(&RunRecord) -> Option<String>,
) -> String {
    let mut body = String::new();
    header(&mut body, campaign);
    scenarios(&mut body, campaign, run_page_link);
    groups(&mut body, campaign, run_page_link);
    distributions(&mut body, campaign);
    document("drill campaign", &body)
}

/// Provenance, plan and outcome.
fn header(out: &mut String, campaign: &CampaignRecord) {
    let provenance = &campaign.provenance;
    let plan = &campaign.plan;
    out.push_str("<h1>drill campaign</h1>\n");
    let _ = writeln!(
        out,
        "<p>drill {} at commit {}</p>",
        escape(&provenance.drill_version),
        code(&provenance.drill_commit)
    );
    let shard = match plan.shard {
        Some(shard) => format!(", shard {}/{}", shard.index, shard.count),
        None => String::new(),
    };
    let completion = match (&campaign.complete, &campaign.stopped) {
        (true, _) => "complete".to_string(),
        (false, Some(reason)) => format!("incomplete: stopped by {reason}"),
        (false, None) => "incomplete".to_string(),
    };
    let _ = writeln!(
        out,
        "<p>Plan: seeds {} to {}{}, {} runs planned, {} recorded ({})</p>",
        plan.first_seed,
        plan.last_seed,
        escape(&shard),
        plan.planned_runs,
        campaign.runs.len(),
        escape(&completion),
    );
    let outcome = if campaign.unexpected == 0 {
        "every run as expected".to_string()
    } else {
        format!("{} runs NOT as expected", campaign.unexpected)
    };
    let _ = writeln!(
        out,
        "<p>Outcome: <span class=\"verdict {}\">{}</span>, exit code {}</p>",
        judgement_class(campaign.unexpected == 0),
        escape(&outcome),
        campaign.exit_code,
    );
}

/// How many run pages a scenario's row links at most; the rest are in `runs/`.
const PAGES_SHOWN: usize = 8;

/// One row per scenario: runs, how many as expected, verdicts, the worst figures, the failing seeds,
/// and links to the pages of its runs that broke a property (a caught hazard's included).
fn scenarios(
    out: &mut String,
    campaign: &CampaignRecord,
    run_page_link: &dyn Fn(&RunRecord) -> Option<String>,
) {
    out.push_str("<h2>Scenarios</h2>\n");
    let rows: Vec<Vec<String>> = campaign
        .scenarios
        .iter()
        .map(|summary| {
            let mut row = scenario_row(summary);
            row.push(page_links(campaign, summary, run_page_link));
            row
        })
        .collect();
    let header = [
        "scenario",
        "runs",
        "as expected",
        "verdicts",
        "worst RTO",
        "max lost",
        "failing seeds",
        "run pages",
    ];
    table(out, &header, &["runs", "as expected", "worst RTO", "max lost"], &rows);
}

/// `seed 1, seed 2, … (+N more)`, each a link to that run's page.
fn page_links(
    campaign: &CampaignRecord,
    summary: &ScenarioSummary,
    run_page_link: &dyn Fn(&RunRecord) -> Option<String>,
) -> String {
    let pages: Vec<(u64, String)> = campaign
        .runs
        .iter()
        .filter(|run| run.scenario_path == summary.scenario_path)
        .filter_map(|run| run_page_link(run).map(|link| (run.seed, link)))
        .collect();
    if pages.is_empty() {
        return "-".to_string();
    }
    let mut links: Vec<String> = pages
        .iter()
        .take(PAGES_SHOWN)
        .map(|(seed, link)| format!("<a href=\"{}\">seed {seed}</a>", escape(link)))
        .collect();
    if pages.len() > PAGES_SHOWN {
        links.push(format!("(+{} more)", pages.len() - PAGES_SHOWN));
    }
    links.join(", ")
}

fn scenario_row(summary: &ScenarioSummary) -> Vec<String> {
    let failing =
        if summary.failing_seeds.is_empty() { "-".to_string() } else { seed_list(&summary.failing_seeds) };
    vec![
        format!("{}<br/>{}", escape(&summary.scenario), code(&summary.scenario_path)),
        summary.runs.to_string(),
        format!(
            "<span class=\"verdict {}\">{}/{}</span>",
            judgement_class(summary.all_as_expected()),
            summary.as_expected,
            summary.runs
        ),
        escape(&verdict_counts(summary)),
        escape(&format_ms(summary.worst_rto_ms)),
        summary.max_lost_acked.to_string(),
        escape(&failing),
    ]
}

/// Each failure group once: what broke under which faults, on which seeds, and how to see it again.
fn groups(out: &mut String, campaign: &CampaignRecord, run_page_link: &dyn Fn(&RunRecord) -> Option<String>) {
    out.push_str("<h2>Failure groups</h2>\n");
    if campaign.groups.is_empty() {
        out.push_str("<p>None: every run went as its scenario expects.</p>\n");
        return;
    }
    for (index, group) in campaign.groups.iter().enumerate() {
        let first_run = campaign
            .runs
            .iter()
            .find(|run| run.scenario_path == group.scenario_path && run.seed == group.first_seed);
        group_section(out, index + 1, group, first_run.and_then(run_page_link));
    }
}

fn group_section(out: &mut String, number: usize, group: &FailureGroup, link: Option<String>) {
    let faults = if group.fault_signature.is_empty() {
        "no fault in force".to_string()
    } else {
        format!("with {}", group.fault_signature.join(", "))
    };
    let _ = writeln!(
        out,
        "<h3>{number}. {} {} {}</h3>",
        escape(&group.scenario),
        code(&group.check),
        escape(&faults)
    );
    let runs = if group.count == 1 { "1 run".to_string() } else { format!("{} runs", group.count) };
    let first = match link {
        Some(href) => format!("<a href=\"{}\">seed {}</a>", escape(&href), group.first_seed),
        None => format!("seed {}", group.first_seed),
    };
    let _ = writeln!(
        out,
        "<p>{} in {}: {}; first {first}</p>",
        escape(&runs),
        code(&group.scenario_path),
        escape(&seed_list(&group.seeds)),
    );
    out.push_str("<p>Replay the first:</p>\n");
    out.push_str(&command_block(&group.replay));
    if let Some(shrunk) = &group.shrunk {
        let _ = writeln!(
            out,
            "<p>Shrunk reproduction {} ({} of {} faults, reproduces {}, found in {} runs):</p>",
            code(&shrunk.path),
            shrunk.faults,
            shrunk.realised_faults,
            code(&shrunk.check),
            shrunk.runs,
        );
        out.push_str(&command_block(&shrunk.replay));
    } else if let Some(note) = &group.shrink_note {
        let _ = writeln!(out, "<p class=\"muted\">Not shrunk: {}</p>", escape(note));
    }
}

/// Per scenario, how recovery time and lost acknowledged messages spread across its seeds.
fn distributions(out: &mut String, campaign: &CampaignRecord) {
    out.push_str("<h2>Distributions across seeds</h2>\n");
    let mut rows = Vec::new();
    for summary in &campaign.scenarios {
        let runs: Vec<&RunRecord> =
            campaign.runs.iter().filter(|run| run.scenario_path == summary.scenario_path).collect();
        let rto: Vec<u64> = runs.iter().map(|run| run.metrics.rto_ms).collect();
        let lost: Vec<u64> = runs.iter().map(|run| run.metrics.lost_acked).collect();
        rows.push(distribution_row(&summary.scenario, "RTO", &rto, &format_ms));
        rows.push(distribution_row(&summary.scenario, "lost acknowledged", &lost, &|lost: u64| {
            lost.to_string()
        }));
    }
    let header = ["scenario", "figure", "min", "median", "p90", "max", "histogram"];
    table(out, &header, &["min", "median", "p90", "max"], &rows);
}

fn distribution_row(
    scenario: &str,
    figure: &str,
    values: &[u64],
    show: &dyn Fn(u64) -> String,
) -> Vec<String> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let cell =
        |percent: usize| percentile(&sorted, percent).map_or("-".to_string(), |value| escape(&show(value)));
    vec![
        escape(scenario),
        escape(figure),
        cell(0),
        cell(50),
        cell(90),
        cell(100),
        histogram_svg(&sorted, show),
    ]
}

/// The nearest-rank percentile of ascending `sorted` (0 is the minimum, 100 the maximum): always a
/// value some seed really had.
fn percentile(sorted: &[u64], percent: usize) -> Option<u64> {
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// A small bar chart of ascending `sorted` over equal bins from its minimum to its maximum, each bar
/// with a tooltip giving its range and how many seeds fell in it.
fn histogram_svg(sorted: &[u64], show: &dyn Fn(u64) -> String) -> String {
    const WIDTH: u64 = 200;
    const HEIGHT: u64 = 36;
    let (Some(&low), Some(&high)) = (sorted.first(), sorted.last()) else {
        return "-".to_string();
    };
    // Values from 0 to 2^64-1 span 2^64 of them: the span needs the wider type.
    let span = u128::from(high - low) + 1;
    let bins = u64::try_from(u128::from(HISTOGRAM_BINS).min(span)).unwrap_or(HISTOGRAM_BINS);
    let mut counts = vec![0u64; usize::try_from(bins).unwrap_or(1)];
    for &value in sorted {
        let bin = u128::from(value - low) * u128::from(bins) / span;
        counts[usize::try_from(bin).unwrap_or(0)] += 1;
    }
    let peak = counts.iter().copied().max().unwrap_or(1).max(1);
    let bar_width = WIDTH / bins;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"histogram\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         width=\"{WIDTH}\" height=\"{HEIGHT}\">"
    );
    for (index, &count) in (0u64..).zip(&counts) {
        let from = low.saturating_add(bin_start(index, span, bins));
        let to = low.saturating_add(bin_start(index + 1, span, bins) - 1);
        let height = (HEIGHT - 2) * count / peak;
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{height}\" fill=\"#2f80ed\"><title>{count} seeds: {} to {}</title></rect>",
            index * bar_width,
            HEIGHT - height,
            bar_width.saturating_sub(1).max(1),
            escape(&show(from)),
            escape(&show(to)),
        );
    }
    let _ = write!(svg, "<path d=\"M0 {HEIGHT} H{WIDTH}\" stroke=\"#9aa5b1\" fill=\"none\"/></svg>");
    svg
}

/// The offset from the minimum where bin `index` of `bins` over `span` values starts.
fn bin_start(index: u64, span: u128, bins: u64) -> u64 {
    let start = (u128::from(index) * span).div_ceil(u128::from(bins));
    u64::try_from(start).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_of_the_smallest_and_the_largest_value_draws_without_overflow() {
        let svg = histogram_svg(&[0, u64::MAX], &|value| value.to_string());
        assert_eq!(svg.matches("<rect").count(), 10, "{svg}");
        assert!(svg.contains("1 seeds: 0 to"), "{svg}");
    }
}
