//! The campaign as JUnit XML, for CI systems that show test results: a test suite per scenario and a
//! test case per run (`seed N`), so a campaign of S scenarios and N seeds is S×N test cases.
//!
//! A run that was not as expected is a failure whose message names the verdict and what went wrong
//! and whose text lists the findings and the replay command. No time or timestamp is written: JUnit's
//! `time` means wall-clock time, which records do not hold, so the same runs give the same bytes.

use crate::record::{CampaignRecord, RunRecord};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::fmt::Write as _;

/// The JUnit XML report of `campaign`: one `<testsuite>` per scenario (named by its path, in the
/// campaign's order) holding one `<testcase>` per run, seeds ascending.
pub fn campaign_junit(campaign: &CampaignRecord) -> String {
    let mut report = Report::new("drill campaign");
    for summary in &campaign.scenarios {
        let mut suite = TestSuite::new(summary.scenario_path.as_str());
        suite.add_property(Property::new("scenario", summary.scenario.as_str()));
        suite.add_property(Property::new("scenario_sha256", summary.scenario_sha256.as_str()));
        suite.add_property(Property::new("expected", summary.expected.as_deref().unwrap_or("pass")));
        let runs = campaign.runs.iter().filter(|run| run.scenario_path == summary.scenario_path);
        suite.add_test_cases(runs.map(test_case));
        report.add_test_suite(suite);
    }
    // quick-junit writes into a Vec; serialising records of plain strings and numbers cannot fail,
    // and if it ever did an empty report would hide it, so say so in the text.
    report
        .to_string()
        .unwrap_or_else(|error| format!("<!-- drill could not write the JUnit report: {error} -->\n"))
}

/// One run as a test case: success when it went as expected, otherwise a failure.
fn test_case(run: &RunRecord) -> TestCase {
    let status = if run.as_expected {
        TestCaseStatus::success()
    } else {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_message(failure_message(run));
        status.set_type(run.group_check());
        status.set_description(failure_text(run));
        status
    };
    let mut case = TestCase::new(format!("seed {}", run.seed), status);
    case.set_classname(run.scenario.as_str());
    case
}

/// `fail: split-brain`, `pass: not-caught (expected split-brain)`, `panic: panic`: the verdict and
/// the check the run's failure group is named by.
fn failure_message(run: &RunRecord) -> String {
    let mut message = format!("{}: {}", run.verdict, run.group_check());
    if run.surprise.is_none()
        && let Some(expected) = &run.expected
    {
        let _ = write!(message, " (expected {expected})");
    }
    message
}

/// The findings, one line each with its first explanation, then the replay command.
fn failure_text(run: &RunRecord) -> String {
    let mut text = String::new();
    if run.findings.is_empty() {
        text.push_str("no violations\n");
    }
    for finding in &run.findings {
        let times = finding.times();
        let _ = writeln!(text, "{} on {}: {times}; first: {}", finding.check, finding.subject, finding.first);
    }
    for note in &run.notes {
        let _ = writeln!(text, "note: {note}");
    }
    let _ = writeln!(text, "replay: {}", run.replay);
    text
}
