//! One run of one scenario with one seed, judged against what the scenario expects.

use crate::check::{CheckConfig, CheckReport, Metrics};
use crate::history::History;
use crate::scenario::{FaultSpec, Scenario};
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
    /// The SHA-256 of the scenario file's text.
    pub scenario_sha256: String,
    pub seed: u64,
    pub history: History,
    /// What the run was judged against (its budgets, end and final heal): with the history, what
    /// `check::check_all` needs to judge it again.
    pub check_config: CheckConfig,
    pub report: CheckReport,
    /// The verdict from the violations that the scenario does not tolerate.
    pub verdict: Verdict,
    /// The violation a hazard scenario must produce (`None`: the run must pass).
    pub expected: Option<ViolationKind>,
    /// Whether the outcome is what the scenario expects.
    pub as_expected: bool,
    pub exit_code: i32,
    /// The run's fault schedule as it happened: every fault that took effect (from the scenario's
    /// `[[fault]]` tables or its nemesis), in firing order, at the instant it fired, with its targets
    /// pinned to the hosts it hit and its automatic heal folded into its `duration` (a heal whose fault
    /// took no effect stands alone). Written back as `[[fault]]` tables of a scenario without a nemesis
    /// it replays the run's faults; `drill shrink` starts from it.
    pub realised_faults: Vec<FaultSpec>,
    /// The violation that makes the outcome unexpected: the earliest one the scenario neither
    /// tolerates nor (for a hazard) expects. `None` when the run is as expected, or when a hazard was
    /// not caught and nothing else broke.
    pub surprise: Option<ViolationKind>,
}

impl RunOutcome {
    pub fn metrics(&self) -> &Metrics {
        &self.report.metrics
    }

    /// The one command that reproduces this run.
    pub fn replay_command(&self) -> String {
        format!("drill run {} --seed {}", self.scenario_path, self.seed)
    }

    /// The violation a triage of this run is about: the surprise if there is one, otherwise the
    /// earliest violation of any kind (for a hazard run that was caught, the expected one).
    pub fn first_violation(&self) -> Option<&crate::verdict::Violation> {
        let earliest = |kind: Option<ViolationKind>| {
            self.report
                .violations
                .iter()
                .filter(|violation| kind.is_none_or(|kind| violation.check == kind))
                .min_by_key(|violation| violation.time_ms)
        };
        match self.surprise {
            Some(kind) => earliest(Some(kind)),
            None => earliest(None),
        }
    }

    /// The kinds of the faults in force at `time_ms` (fired at or before it and not healed by then),
    /// each once in `FaultKind` order; heals are not faults in force. A fault without a heal (a clock
    /// step, a crash, a power-off without duration) stays in force from when it fired, since its
    /// consequences do.
    pub fn faults_in_force(&self, time_ms: u64) -> Vec<crate::scenario::FaultKind> {
        let at = std::time::Duration::from_millis(time_ms);
        let kinds: BTreeSet<crate::scenario::FaultKind> = self
            .realised_faults
            .iter()
            .filter(|spec| !spec.fault.kind().is_heal() && spec.at <= at)
            .filter(|spec| spec.duration.is_none_or(|duration| spec.at + duration > at))
            .map(|spec| spec.fault.kind())
            .collect();
        kinds.into_iter().collect()
    }

    /// Violation kinds found that the scenario does not tolerate.
    pub fn found_kinds(&self) -> BTreeSet<ViolationKind> {
        self.report.violations.iter().map(|violation| violation.check).collect()
    }
}

/// The earliest violation of `report` that the scenario neither tolerates nor expects: what made
/// the run a surprise, if anything did.
pub fn first_surprise(scenario: &Scenario, report: &CheckReport) -> Option<ViolationKind> {
    report
        .violations
        .iter()
        .filter(|violation| !scenario.tolerate.contains(&violation.check))
        .filter(|violation| scenario.expect != Some(violation.check))
        .min_by_key(|violation| violation.time_ms)
        .map(|violation| violation.check)
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
