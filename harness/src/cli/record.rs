//! The one conversion from a run's outcome to the report model.

use crate::run::RunOutcome;
use reports::{MetricsRecord, RunRecord, SCHEMA_VERSION, ViolationRecord};

/// The report record of `outcome`. Computes the history's SHA-256, so call it once per run.
pub fn run_record(outcome: &RunOutcome) -> RunRecord {
    let metrics = outcome.metrics();
    let violations: Vec<ViolationRecord> = outcome
        .report
        .violations
        .iter()
        .map(|violation| ViolationRecord {
            check: violation.check.as_str().to_string(),
            subject: violation.subject.clone(),
            time_ms: violation.time_ms,
            detail: violation.detail.clone(),
        })
        .collect();
    let mut record = RunRecord {
        schema_version: SCHEMA_VERSION,
        scenario: outcome.scenario.clone(),
        scenario_path: outcome.scenario_path.clone(),
        scenario_sha256: outcome.scenario_sha256.clone(),
        seed: outcome.seed,
        verdict: outcome.verdict.as_str().to_string(),
        expected: outcome.expected.map(|kind| kind.as_str().to_string()),
        as_expected: outcome.as_expected,
        exit_code: outcome.exit_code,
        history_sha256: outcome.history.sha256(),
        violation_count: 0,
        findings: Vec::new(),
        surprise: outcome.surprise.map(|kind| kind.as_str().to_string()),
        fault_signature: fault_signature(outcome),
        metrics: MetricsRecord {
            acked: metrics.acked,
            lost_acked: metrics.lost_acked,
            lost_window_ms: metrics.lost_window_ms,
            duplicates: metrics.duplicates,
            rto_ms: metrics.rto_ms,
            failovers: metrics.failovers,
            simulated_ms: metrics.simulated_ms,
            events: metrics.events,
        },
        notes: outcome.report.notes.clone(),
        replay: outcome.replay_command(),
    };
    record.set_violations(&violations);
    record
}

/// The kinds of the faults in force at the run's first violation, or without one every kind of fault
/// that took effect. Faults in force when a property broke say more about the bug than every fault
/// of the run: a nemesis run sees most kinds sooner or later, so the whole set would put nearly every
/// failure of a scenario in one group.
fn fault_signature(outcome: &RunOutcome) -> Vec<String> {
    let kinds = match outcome.first_violation() {
        Some(violation) => outcome.faults_in_force(violation.time_ms),
        None => {
            let every: std::collections::BTreeSet<_> = outcome
                .realised_faults
                .iter()
                .map(|spec| spec.fault.kind())
                .filter(|kind| !kind.is_heal())
                .collect();
            every.into_iter().collect()
        }
    };
    kinds.iter().map(|kind| kind.as_str().to_string()).collect()
}

/// The record of a run whose simulation panicked: a harness bug, reported as a safety surprise
/// (exit 1) because nothing about the run can be vouched for, with the command that reproduces it.
pub fn panicked_record(scenario: &crate::scenario::Scenario, seed: u64, message: &str) -> RunRecord {
    let scenario_path = scenario.path.display().to_string();
    RunRecord {
        schema_version: SCHEMA_VERSION,
        scenario: scenario.name.clone(),
        replay: format!("drill run {scenario_path} --seed {seed}"),
        scenario_path,
        seed,
        verdict: "panic".to_string(),
        expected: scenario.expect.map(|kind| kind.as_str().to_string()),
        as_expected: false,
        exit_code: crate::run::exit_code::SAFETY,
        scenario_sha256: scenario.sha256.clone(),
        history_sha256: String::new(),
        violation_count: 0,
        findings: Vec::new(),
        surprise: None,
        fault_signature: Vec::new(),
        metrics: MetricsRecord::default(),
        notes: vec![format!("the simulation panicked: {message}")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckReport, Metrics};
    use crate::history::History;
    use crate::verdict::{Verdict, Violation, ViolationKind};

    #[test]
    fn every_field_of_the_outcome_reaches_the_record() {
        let outcome = RunOutcome {
            scenario: "ccr-pull-cord".into(),
            scenario_path: "suites/fast/ccr-pull-cord.toml".into(),
            scenario_sha256: "ab".repeat(32),
            seed: 7,
            history: History::new(),
            check_config: crate::check::CheckConfig::default(),
            report: CheckReport {
                violations: vec![Violation {
                    check: ViolationKind::Rto,
                    subject: "SG1".into(),
                    time_ms: 61_000,
                    detail: "slow".into(),
                }],
                metrics: Metrics {
                    acked: 1,
                    lost_acked: 2,
                    lost_window_ms: Some((3, 4)),
                    duplicates: 5,
                    rto_ms: 6,
                    failovers: 7,
                    simulated_ms: 8,
                    events: 9,
                },
                notes: vec!["a note".into()],
            },
            verdict: Verdict::Liveness,
            expected: Some(ViolationKind::SplitBrain),
            as_expected: false,
            exit_code: 1,
            realised_faults: Vec::new(),
            surprise: Some(ViolationKind::Rto),
        };
        let record = run_record(&outcome);
        assert_eq!(record.verdict, "liveness");
        assert_eq!(record.expected.as_deref(), Some("split-brain"));
        assert_eq!(record.exit_code, 1);
        assert_eq!(record.history_sha256, History::new().sha256());
        assert_eq!(record.scenario_sha256, "ab".repeat(32));
        assert_eq!(record.violation_count, 1);
        assert_eq!((record.findings[0].check.as_str(), record.findings[0].subject.as_str()), ("rto", "SG1"));
        assert_eq!(record.findings[0].first_ms, 61_000);
        assert_eq!(record.surprise.as_deref(), Some("rto"));
        assert_eq!(
            record.metrics,
            MetricsRecord {
                acked: 1,
                lost_acked: 2,
                lost_window_ms: Some((3, 4)),
                duplicates: 5,
                rto_ms: 6,
                failovers: 7,
                simulated_ms: 8,
                events: 9
            }
        );
        assert_eq!(record.notes, ["a note"]);
        assert_eq!(record.replay, "drill run suites/fast/ccr-pull-cord.toml --seed 7");
    }
}
