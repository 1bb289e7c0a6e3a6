//! One run of one scenario with one seed, judged against what the scenario expects.

use crate::check::{CheckReport, Metrics};
use crate::history::History;
use crate::scenario::Scenario;
use crate::verdict::{Verdict, ViolationKind};
use std::collections::BTreeSet;

/// Exit codes of `drill run` and `drill campaign` (also documented in the README).
pub mod exit_code {
    /// The outcome is what the scenario expects (pass, or exactly the expected violation).
    pub const AS_EXPECTED: i32 = 0;
    /// A safety property broke unexpectedly, or a hazard was not caught.
    pub const SAFETY: i32 = 1;
    /// Bad input or usage.
    pub const BAD_INPUT: i32 = 2;
    /// Only recovery time, liveness or the failover bound missed.
    pub const LIVENESS: i32 = 3;
}

/// Everything a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    pub scenario: String,
    pub scenario_path: String,
    pub seed: u64,
    pub history: History,
    pub report: CheckReport,
    /// The verdict from the violations that the scenario does not tolerate.
    pub verdict: Verdict,
    /// The violation a hazard scenario must produce (`None`: the run must pass).
    pub expected: Option<ViolationKind>,
    /// Whether the outcome is what the scenario expects.
    pub as_expected: bool,
    pub exit_code: i32,
}

impl RunOutcome {
    pub fn metrics(&self) -> &Metrics {
        &self.report.metrics
    }

    /// The one command that reproduces this run.
    pub fn replay_command(&self) -> String {
        format!("drill run {} --seed {}", self.scenario_path, self.seed)
    }

    /// Violation kinds found that the scenario does not tolerate.
    pub fn found_kinds(&self) -> BTreeSet<ViolationKind> {
        self.report.violations.iter().map(|violation| violation.check).collect()
    }
}

/// Judges a check report against the scenario's `expect` and `tolerate`.
pub fn judge(scenario: &Scenario, report: &CheckReport) -> (Verdict, bool, i32) {
    let counted: Vec<_> = report
        .violations
        .iter()
        .filter(|violation| !scenario.tolerate.contains(&violation.check))
        .cloned()
        .collect();
    let verdict = Verdict::of(&counted);
    let found: BTreeSet<ViolationKind> = counted.iter().map(|violation| violation.check).collect();
    match scenario.expect {
        None => {
            let code = match verdict {
                Verdict::Pass => exit_code::AS_EXPECTED,
                Verdict::Fail => exit_code::SAFETY,
                Verdict::Liveness => exit_code::LIVENESS,
            };
            (verdict, verdict == Verdict::Pass, code)
        }
        Some(expected) => {
            // A hazard passes only if drill finds exactly the expected violation (and nothing it
            // does not tolerate): catching something else is not catching the hazard.
            let exact = found.len() == 1 && found.contains(&expected);
            (verdict, exact, if exact { exit_code::AS_EXPECTED } else { exit_code::SAFETY })
        }
    }
}
