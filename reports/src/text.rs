//! The terminal renderer: a run summary, a progress line per scenario and the campaign table.
//!
//! Plain text without colour or control characters, so it reads the same in a terminal, a CI log and
//! a file. No line ends in whitespace.

use crate::record::{CampaignRecord, FailureGroup, RunRecord, ScenarioSummary};
use std::fmt::Write as _;

/// The run's violations as findings: one line per check, subject and interval, with the count and
/// the first (and last) instance.
fn findings(out: &mut String, run: &RunRecord) {
    if run.findings.is_empty() {
        line(out, format_args!("violations  none"));
        return;
    }
    line(out, format_args!("violations  {} in {} findings", run.violation_count, run.findings.len()));
    let check_width = run.findings.iter().map(|finding| finding.check.len()).max().unwrap_or(0);
    for finding in &run.findings {
        let span = finding.times();
        line(out, format_args!("  {:<check_width$}  {}: {span}", finding.check, finding.subject));
        line(out, format_args!("    first: {}", finding.first));
        if let Some(last) = &finding.last {
            line(out, format_args!("    last:  {last}"));
        }
    }
}

/// What `drill run` prints for a person: verdict, expectation, violations, metrics, fingerprint and
/// the replay command.
pub fn run_summary(run: &RunRecord) -> String {
    let mut out = String::new();
    let expected = run.expected.as_deref().unwrap_or("pass");
    let judgement = if run.as_expected {
        "as expected".to_string()
    } else {
        format!("NOT as expected (exit {})", run.exit_code)
    };
    line(&mut out, format_args!("scenario    {} ({}), seed {}", run.scenario, run.scenario_path, run.seed));
    line(&mut out, format_args!("verdict     {}, expected {expected}: {judgement}", run.verdict));
    findings(&mut out, run);
    let metrics = &run.metrics;
    let lost_window = match metrics.lost_window_ms {
        Some((first, last)) => format!(" (acknowledged {} to {})", format_ms(first), format_ms(last)),
        None => String::new(),
    };
    line(
        &mut out,
        format_args!(
            "metrics     acked {}, lost acked {}{lost_window}, duplicates {}, rto {}, failovers {}",
            metrics.acked,
            metrics.lost_acked,
            metrics.duplicates,
            format_ms(metrics.rto_ms),
            metrics.failovers
        ),
    );
    line(
        &mut out,
        format_args!("simulated   {} in {} events", format_ms(metrics.simulated_ms), metrics.events),
    );
    for note in &run.notes {
        line(&mut out, format_args!("note        {note}"));
    }
    line(&mut out, format_args!("history     sha256 {}", run.history_sha256));
    line(&mut out, format_args!("replay      {}", run.replay));
    out
}

/// One line saying how a scenario's runs went, printed as each scenario of a campaign finishes.
pub fn progress_line(summary: &ScenarioSummary) -> String {
    let status = if summary.all_as_expected() { "ok" } else { "UNEXPECTED" };
    let mut text = format!(
        "{status:<10} {} ({}): {}/{} as expected, {}",
        summary.scenario,
        summary.scenario_path,
        summary.as_expected,
        summary.runs,
        verdict_counts(summary)
    );
    if !summary.failing_seeds.is_empty() {
        let _ = write!(text, ", failing {}", seed_list(&summary.failing_seeds));
    }
    text
}

/// The campaign table: scenario | seeds | as expected | verdicts | worst rto | lost | failures, then a
/// total and each failure group once (check, fault signature, count, first seed, replay command and
/// any shrunk reproduction), however many seeds it holds.
pub fn campaign_table(campaign: &CampaignRecord) -> String {
    let header = ["scenario", "seeds", "as expected", "verdicts", "worst rto", "lost", "failures"];
    let mut rows: Vec<[String; 7]> = vec![header.map(str::to_string)];
    for summary in &campaign.scenarios {
        rows.push([
            summary.scenario.clone(),
            summary.runs.to_string(),
            format!("{}/{}", summary.as_expected, summary.runs),
            verdict_counts(summary),
            format_ms(summary.worst_rto_ms),
            summary.max_lost_acked.to_string(),
            if summary.failing_seeds.is_empty() {
                "-".to_string()
            } else {
                seed_list(&summary.failing_seeds)
            },
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    // Numbers read best right-aligned; text left-aligned.
    let right_aligned = [false, true, true, false, true, true, false];
    let mut out = String::new();
    for row in &rows {
        let mut text = String::new();
        for (index, cell) in row.iter().enumerate() {
            if index > 0 {
                text.push_str("  ");
            }
            let pad = " ".repeat(widths[index] - cell.chars().count());
            if right_aligned[index] {
                text.push_str(&pad);
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.push_str(&pad);
            }
        }
        line(&mut out, format_args!("{}", text.trim_end()));
    }
    let total = campaign.runs.len();
    let scenarios = campaign.scenarios.len();
    if campaign.unexpected == 0 {
        line(&mut out, format_args!("{total} runs of {scenarios} scenarios, all as expected"));
    } else {
        line(
            &mut out,
            format_args!("{total} runs of {scenarios} scenarios, {} not as expected", campaign.unexpected),
        );
        let groups = campaign.groups.len();
        line(&mut out, format_args!("{groups} failure group{}:", if groups == 1 { "" } else { "s" }));
        for group in &campaign.groups {
            group_lines(&mut out, group);
        }
    }
    out
}

/// One failure group: what broke with which faults in force, how often, and how to see it again.
fn group_lines(out: &mut String, group: &FailureGroup) {
    let faults = if group.fault_signature.is_empty() {
        "no fault in force".to_string()
    } else {
        format!("with {}", group.fault_signature.join(", "))
    };
    let runs = if group.count == 1 { "1 run".to_string() } else { format!("{} runs", group.count) };
    line(
        out,
        format_args!(
            "  {} {} {faults}: {runs}, first seed {}",
            group.scenario, group.check, group.first_seed
        ),
    );
    line(out, format_args!("    replay: {}", group.replay));
    if let Some(shrunk) = &group.shrunk {
        line(
            out,
            format_args!(
                "    shrunk: {} ({} of {} faults, {})",
                shrunk.replay, shrunk.faults, shrunk.realised_faults, shrunk.check
            ),
        );
    } else if let Some(note) = &group.shrink_note {
        line(out, format_args!("    not shrunk: {note}"));
    }
}

/// A duration in milliseconds for people: `250ms`, `12.5s`, `2m05s`, `1h00m00s`.
pub fn format_ms(ms: u64) -> String {
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let fraction = ms % 1_000;
    let seconds = ms / 1_000;
    let fraction_text = if fraction == 0 {
        String::new()
    } else {
        format!(".{fraction:03}").trim_end_matches('0').to_string()
    };
    match (seconds / 3_600, seconds / 60 % 60, seconds % 60) {
        (0, 0, s) => format!("{s}{fraction_text}s"),
        (0, m, s) => format!("{m}m{s:02}{fraction_text}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}{fraction_text}s"),
    }
}

/// `pass 3, fail 1`: verdicts in the order pass, fail, liveness, then any other name.
pub(crate) fn verdict_counts(summary: &ScenarioSummary) -> String {
    let known = ["pass", "fail", "liveness"];
    let mut parts: Vec<String> = known
        .iter()
        .filter_map(|verdict| summary.verdicts.get(*verdict).map(|count| format!("{verdict} {count}")))
        .collect();
    parts.extend(
        summary
            .verdicts
            .iter()
            .filter(|(verdict, _)| !known.contains(&verdict.as_str()))
            .map(|(verdict, count)| format!("{verdict} {count}")),
    );
    parts.join(", ")
}

/// `seed 3` or `seeds 2, 3, 5`, cut short after eight seeds.
pub(crate) fn seed_list(seeds: &[u64]) -> String {
    const SHOWN: usize = 8;
    let shown: Vec<String> = seeds.iter().take(SHOWN).map(u64::to_string).collect();
    let mut text = format!("{} {}", if seeds.len() == 1 { "seed" } else { "seeds" }, shown.join(", "));
    if seeds.len() > SHOWN {
        let _ = write!(text, " (+{} more)", seeds.len() - SHOWN);
    }
    text
}

fn line(out: &mut String, arguments: std::fmt::Arguments<'_>) {
    // Writing into a String cannot fail.
    let _ = out.write_fmt(arguments);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ViolationRecord;
    use crate::record::tests::{campaign_of, run};

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(format_ms(0), "0ms");
        assert_eq!(format_ms(250), "250ms");
        assert_eq!(format_ms(1_000), "1s");
        assert_eq!(format_ms(12_500), "12.5s");
        assert_eq!(format_ms(125_000), "2m05s");
        assert_eq!(format_ms(3_600_000), "1h00m00s");
        assert_eq!(format_ms(3_661_001), "1h01m01.001s");
    }

    #[test]
    fn a_run_summary_gives_verdict_findings_metrics_fingerprint_and_replay_command() {
        let mut record = run("suites/hazards/no-witness.toml", 4);
        record.verdict = "fail".into();
        record.expected = Some("split-brain".into());
        let instance = |time_ms: u64| ViolationRecord {
            check: "split-brain".into(),
            subject: "SG1".into(),
            time_ms,
            detail: format!("mbx1 and mbx2 both acknowledged writes to SG1 at {time_ms}"),
        };
        record.set_violations(&(0..3_301).map(|i| instance(12_000 + i)).collect::<Vec<_>>());
        record.metrics.lost_acked = 2;
        record.metrics.lost_window_ms = Some((11_000, 11_500));
        let text = run_summary(&record);
        assert!(text.contains("verdict     fail, expected split-brain: as expected"), "{text}");
        assert!(text.contains("violations  3301 in 1 findings"), "{text}");
        assert!(text.contains("  split-brain  SG1: 3301 times, 12s to 15.3s"), "{text}");
        assert!(text.contains("    first: mbx1 and mbx2 both acknowledged writes to SG1 at 12000"), "{text}");
        assert!(text.contains("    last:  mbx1 and mbx2 both acknowledged writes to SG1 at 15300"), "{text}");
        assert!(text.contains("lost acked 2 (acknowledged 11s to 11.5s)"), "{text}");
        assert!(text.contains(&format!("sha256 {}", record.history_sha256)), "{text}");
        assert!(text.contains("replay      drill run suites/hazards/no-witness.toml --seed 4"), "{text}");
        assert!(text.lines().all(|line| line == line.trim_end()));
    }

    #[test]
    fn a_run_that_is_not_as_expected_says_so_with_its_exit_code() {
        let mut record = run("a.toml", 1);
        record.verdict = "liveness".into();
        record.as_expected = false;
        record.exit_code = 3;
        assert!(
            run_summary(&record).contains("verdict     liveness, expected pass: NOT as expected (exit 3)")
        );
    }

    #[test]
    fn the_campaign_table_has_one_aligned_row_per_scenario_and_the_replay_of_each_failure() {
        let mut failing = run("suites/fast/b.toml", 2);
        failing.verdict = "fail".into();
        failing.as_expected = false;
        failing.exit_code = 1;
        failing.surprise = Some("split-brain".into());
        failing.fault_signature = vec!["link-cut".into()];
        failing.metrics.lost_acked = 4;
        let runs = vec![
            run("suites/fast/a.toml", 1),
            run("suites/fast/a.toml", 2),
            run("suites/fast/b.toml", 1),
            failing,
        ];
        let campaign = campaign_of(runs);
        let table = campaign_table(&campaign);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "scenario  seeds  as expected  verdicts        worst rto  lost  failures");
        assert_eq!(lines[1], "a             2          2/2  pass 2                30s     0  -");
        assert_eq!(lines[2], "b             2          1/2  pass 1, fail 1        30s     4  seed 2");
        assert_eq!(lines[3], "4 runs of 2 scenarios, 1 not as expected");
        assert_eq!(lines[4], "1 failure group:");
        assert_eq!(lines[5], "  b split-brain with link-cut: 1 run, first seed 2");
        assert_eq!(lines[6], "    replay: drill run suites/fast/b.toml --seed 2");
    }

    #[test]
    fn many_failing_seeds_of_one_group_make_one_group_in_the_table_with_its_shrunk_replay() {
        let failing = |seed: u64| {
            let mut record = run("suites/hazards/h.toml", seed);
            record.verdict = "fail".into();
            record.as_expected = false;
            record.exit_code = 1;
            record.surprise = Some("quorum".into());
            record
        };
        let mut campaign = campaign_of((1..=30).map(failing).collect());
        campaign.groups[0].shrunk = Some(crate::ShrunkRecord {
            path: "out/shrunk/h-seed-1.toml".into(),
            replay: "drill run out/shrunk/h-seed-1.toml --seed 1".into(),
            check: "quorum".into(),
            faults: 1,
            realised_faults: 12,
            runs: 20,
        });
        let table = campaign_table(&campaign);
        let tail: Vec<&str> = table.lines().skip(2).collect();
        assert_eq!(
            tail,
            [
                "30 runs of 1 scenarios, 30 not as expected",
                "1 failure group:",
                "  h quorum no fault in force: 30 runs, first seed 1",
                "    replay: drill run suites/hazards/h.toml --seed 1",
                "    shrunk: drill run out/shrunk/h-seed-1.toml --seed 1 (1 of 12 faults, quorum)",
            ]
        );
        assert!(!table.contains("seed 30:"), "{table}");
    }

    #[test]
    fn a_progress_line_flags_a_scenario_with_unexpected_runs() {
        let campaign = campaign_of(vec![run("a.toml", 1)]);
        assert_eq!(progress_line(&campaign.scenarios[0]), "ok         a (a.toml): 1/1 as expected, pass 1");
        let mut failing = run("a.toml", 1);
        failing.as_expected = false;
        failing.verdict = "fail".into();
        let campaign = campaign_of(vec![failing]);
        assert!(progress_line(&campaign.scenarios[0]).starts_with("UNEXPECTED a (a.toml): 0/1 as expected"));
    }

    #[test]
    fn long_lists_of_failing_seeds_are_cut_short() {
        assert_eq!(seed_list(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), "seeds 1, 2, 3, 4, 5, 6, 7, 8 (+2 more)");
    }
}
