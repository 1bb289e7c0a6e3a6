//! The run and campaign records: the one model every renderer reads.

use crate::finding::{FindingRecord, ViolationRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The version of the JSON form of [`RunRecord`] and [`CampaignRecord`]. Bump it when a field changes
/// meaning or disappears; adding a field does not need a bump.
pub const SCHEMA_VERSION: u32 = 2;

/// Everything a report says about one run of one scenario with one seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema_version: u32,
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file, as given on the command line (the replay command uses it).
    pub scenario_path: String,
    /// The SHA-256 of the scenario file's bytes: which version of the file ran.
    #[serde(default)]
    pub scenario_sha256: String,
    pub seed: u64,
    /// `pass`, `fail` (a safety property broke) or `liveness` (only recovery or liveness broke).
    pub verdict: String,
    /// The violation a hazard scenario must provoke; `None` when the run must pass.
    pub expected: Option<String>,
    /// Whether the outcome is what the scenario expects.
    pub as_expected: bool,
    /// The process exit code this run alone would give (0 as expected, 1 safety, 3 liveness only).
    pub exit_code: i32,
    /// The SHA-256 of the history in JSON Lines form: the run's fingerprint.
    pub history_sha256: String,
    /// How many violations the checkers found.
    #[serde(default)]
    pub violation_count: u64,
    /// The violations, grouped per check, subject and interval (see [`FindingRecord::group`]).
    #[serde(default)]
    pub findings: Vec<FindingRecord>,
    /// The violation that made the run not as expected: the earliest kind the scenario neither
    /// tolerates nor expects. `None` when the run was as expected, or a hazard was not caught.
    #[serde(default)]
    pub surprise: Option<String>,
    /// The kinds of the faults in force when the run's first violation (its surprise, or else its
    /// earliest) was found, each once in a fixed order; without a violation, every kind of fault that took effect.
    #[serde(default)]
    pub fault_signature: Vec<String>,
    pub metrics: MetricsRecord,
    /// What could not be checked and why.
    pub notes: Vec<String>,
    /// The one command that replays this run.
    pub replay: String,
}

/// Figures measured over a run, whether or not anything broke.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsRecord {
    /// Messages whose client got a success reply.
    pub acked: u64,
    /// Acknowledged messages missing from the final active copy.
    pub lost_acked: u64,
    /// First and last acknowledgement time (ms) of the lost messages.
    pub lost_window_ms: Option<(u64, u64)>,
    /// Message ids stored more than once in the final active copy.
    pub duplicates: u64,
    /// The longest outage of any database outside the declared window, in milliseconds.
    pub rto_ms: u64,
    pub failovers: u64,
    /// The simulated length of the run, in milliseconds.
    pub simulated_ms: u64,
    /// Records in the history.
    pub events: u64,
}

impl RunRecord {
    /// Sets the run's violations: their count and their findings.
    pub fn set_violations(&mut self, violations: &[ViolationRecord]) {
        self.violation_count = count(violations.len());
        self.findings = FindingRecord::group(violations);
    }

    /// Whether this run broke a safety property without the scenario expecting it (or, for a
    /// hazard scenario, whether drill failed to catch the hazard).
    pub fn is_safety_surprise(&self) -> bool {
        !self.as_expected && self.exit_code != LIVENESS_EXIT_CODE
    }
}

/// The exit code of a run that only missed recovery time or liveness.
const LIVENESS_EXIT_CODE: i32 = 3;

/// A campaign: scenarios × seeds, every run, and a summary per scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRecord {
    pub schema_version: u32,
    /// Which drill ran the campaign.
    pub provenance: Provenance,
    /// What the campaign set out to run.
    pub plan: CampaignPlan,
    /// Whether every planned run has its record (false when a time budget or a signal stopped it).
    pub complete: bool,
    /// Why the campaign stopped before its plan was done, if it did (`time-budget`, `interrupted`).
    pub stopped: Option<String>,
    /// One entry per scenario, in the order the scenarios ran.
    pub scenarios: Vec<ScenarioSummary>,
    /// Every run, grouped by scenario in the order of `scenarios`, seeds ascending within a scenario.
    pub runs: Vec<RunRecord>,
    /// Runs that were not as expected, grouped by scenario, violated check and fault signature, in the
    /// order of `scenarios` and then of each group's first seed.
    #[serde(default)]
    pub groups: Vec<FailureGroup>,
    /// Runs that were not as expected, over all scenarios.
    pub unexpected: u64,
    /// 0 if every run was as expected, 1 if any safety surprise, 3 if the surprises are liveness only.
    pub exit_code: i32,
}

/// Which drill wrote a record: enough to rebuild the binary that gives the same histories.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The package version (`drill --version`).
    pub drill_version: String,
    /// The git commit drill was built from, or `unknown` outside a git checkout.
    pub drill_commit: String,
}

/// The runs a campaign (or one shard of it) set out to do: every scenario with every seed of
/// `first_seed..=last_seed`, or the shard's share of those pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignPlan {
    pub first_seed: u64,
    pub last_seed: u64,
    /// The shard, when the campaign is one of several (`--shard K/N`); merged campaigns have none.
    pub shard: Option<ShardRecord>,
    /// Scenarios × seeds of this shard (saturated at the largest integer).
    pub planned_runs: u64,
}

/// Shard `index` of `count`: the pairs whose position in seed-major order (seed by seed across the scenarios) is `index` modulo
/// `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    pub index: u64,
    pub count: u64,
}

/// The group check of a hazard run that broke nothing it did not expect and missed what it did.
pub const NOT_CAUGHT: &str = "not-caught";
/// The group check of a run whose simulation panicked.
pub const PANIC: &str = "panic";

/// Failing runs of one scenario that broke the same check with the same faults in force: one bug,
/// most likely, reported once however many seeds found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureGroup {
    pub scenario: String,
    pub scenario_path: String,
    /// The runs' surprise (a violation kind), [`NOT_CAUGHT`] or [`PANIC`].
    pub check: String,
    /// The runs' fault signature (see [`RunRecord::fault_signature`]).
    pub fault_signature: Vec<String>,
    /// How many runs are in the group.
    pub count: u64,
    pub first_seed: u64,
    /// Every seed of the group, ascending.
    pub seeds: Vec<u64>,
    /// The replay command of the first seed's run.
    pub replay: String,
    /// The first seed's run reduced by `drill shrink`, when the campaign shrank it.
    pub shrunk: Option<ShrunkRecord>,
    /// Why the group has no shrunk reproduction although shrinking was on.
    pub shrink_note: Option<String>,
}

/// A standalone scenario file (no nemesis, few faults) that reproduces a failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShrunkRecord {
    /// The file written.
    pub path: String,
    /// The command that reproduces the failure with it (same seed).
    pub replay: String,
    /// The violation kind it reproduces.
    pub check: String,
    /// Faults in the file.
    pub faults: u64,
    /// Faults that took effect in the original run.
    pub realised_faults: u64,
    /// Runs the shrinking took.
    pub runs: u64,
}

/// What the runs of one scenario add up to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioSummary {
    pub scenario: String,
    pub scenario_path: String,
    /// The SHA-256 of the scenario file that ran.
    #[serde(default)]
    pub scenario_sha256: String,
    pub expected: Option<String>,
    /// How many runs (seeds) this scenario had.
    pub runs: u64,
    pub as_expected: u64,
    /// How many runs ended with each verdict, by verdict name.
    pub verdicts: BTreeMap<String, u64>,
    /// The longest outage of any run, in milliseconds.
    pub worst_rto_ms: u64,
    /// The most acknowledged messages lost by a single run.
    pub max_lost_acked: u64,
    /// The seeds whose runs were not as expected, ascending.
    pub failing_seeds: Vec<u64>,
    /// The replay command of the first run that was not as expected.
    pub first_failure_replay: Option<String>,
}

impl CampaignRecord {
    /// Builds the campaign from its runs. Runs of one scenario (same `scenario_path`) are grouped
    /// together in order of first appearance, and ordered by seed within the group, so the record does
    /// not depend on the order in which parallel workers finished.
    pub fn from_runs(provenance: Provenance, plan: CampaignPlan, runs: Vec<RunRecord>) -> CampaignRecord {
        let mut order: Vec<String> = Vec::new();
        let mut by_path: BTreeMap<String, Vec<RunRecord>> = BTreeMap::new();
        for run in runs {
            if !by_path.contains_key(&run.scenario_path) {
                order.push(run.scenario_path.clone());
            }
            by_path.entry(run.scenario_path.clone()).or_default().push(run);
        }
        let mut scenarios = Vec::with_capacity(order.len());
        let mut runs = Vec::new();
        for path in order {
            let mut group = by_path.remove(&path).unwrap_or_default();
            group.sort_by_key(|run| run.seed);
            scenarios.push(ScenarioSummary::of(&group));
            runs.extend(group);
        }
        let unexpected = runs.iter().filter(|run| !run.as_expected).count();
        let exit_code = if runs.iter().any(RunRecord::is_safety_surprise) {
            1
        } else if unexpected > 0 {
            LIVENESS_EXIT_CODE
        } else {
            0
        };
        let groups = FailureGroup::of(&runs);
        let complete = count(runs.len()) >= plan.planned_runs;
        CampaignRecord {
            schema_version: SCHEMA_VERSION,
            provenance,
            plan,
            complete,
            stopped: None,
            scenarios,
            groups,
            runs,
            unexpected: u64::try_from(unexpected).unwrap_or(u64::MAX),
            exit_code,
        }
    }
}

impl FailureGroup {
    /// The failure groups of `runs`, which must be grouped by scenario: within a scenario, groups in
    /// the order of their first seed.
    pub fn of(runs: &[RunRecord]) -> Vec<FailureGroup> {
        let mut groups: Vec<FailureGroup> = Vec::new();
        for run in runs.iter().filter(|run| !run.as_expected) {
            let check = run.group_check();
            let same = |group: &&mut FailureGroup| {
                group.scenario_path == run.scenario_path
                    && group.check == check
                    && group.fault_signature == run.fault_signature
            };
            match groups.iter_mut().find(same) {
                Some(group) => {
                    group.count += 1;
                    group.seeds.push(run.seed);
                }
                None => groups.push(FailureGroup {
                    scenario: run.scenario.clone(),
                    scenario_path: run.scenario_path.clone(),
                    check,
                    fault_signature: run.fault_signature.clone(),
                    count: 1,
                    first_seed: run.seed,
                    seeds: vec![run.seed],
                    replay: run.replay.clone(),
                    shrunk: None,
                    shrink_note: None,
                }),
            }
        }
        for group in &mut groups {
            group.seeds.sort_unstable();
        }
        let scenario_order: Vec<&str> = runs.iter().map(|run| run.scenario_path.as_str()).collect();
        let position = |path: &str| scenario_order.iter().position(|each| *each == path);
        groups.sort_by_key(|group| (position(&group.scenario_path), group.first_seed));
        groups
    }
}

impl RunRecord {
    /// The check a failure group of this run is named by: its surprise, a hazard not caught, or a
    /// panic.
    pub fn group_check(&self) -> String {
        match &self.surprise {
            Some(kind) => kind.clone(),
            None if self.verdict == PANIC => PANIC.to_string(),
            None => NOT_CAUGHT.to_string(),
        }
    }
}

impl ScenarioSummary {
    /// Summarises the runs of one scenario; `runs` must not be empty to say anything useful.
    pub fn of(runs: &[RunRecord]) -> ScenarioSummary {
        let first = runs.first();
        let mut verdicts: BTreeMap<String, u64> = BTreeMap::new();
        for run in runs {
            *verdicts.entry(run.verdict.clone()).or_default() += 1;
        }
        let failing: Vec<&RunRecord> = runs.iter().filter(|run| !run.as_expected).collect();
        ScenarioSummary {
            scenario: first.map(|run| run.scenario.clone()).unwrap_or_default(),
            scenario_path: first.map(|run| run.scenario_path.clone()).unwrap_or_default(),
            scenario_sha256: first.map(|run| run.scenario_sha256.clone()).unwrap_or_default(),
            expected: first.and_then(|run| run.expected.clone()),
            runs: count(runs.len()),
            as_expected: count(runs.len() - failing.len()),
            verdicts,
            worst_rto_ms: runs.iter().map(|run| run.metrics.rto_ms).max().unwrap_or(0),
            max_lost_acked: runs.iter().map(|run| run.metrics.lost_acked).max().unwrap_or(0),
            failing_seeds: failing.iter().map(|run| run.seed).collect(),
            first_failure_replay: failing.first().map(|run| run.replay.clone()),
        }
    }

    pub fn all_as_expected(&self) -> bool {
        self.as_expected == self.runs
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A passing run of `path` with `seed`; tests change what they need.
    pub(crate) fn run(path: &str, seed: u64) -> RunRecord {
        let name = path.rsplit('/').next().unwrap_or(path).trim_end_matches(".toml").to_string();
        RunRecord {
            schema_version: SCHEMA_VERSION,
            scenario: name,
            scenario_path: path.to_string(),
            seed,
            verdict: "pass".to_string(),
            expected: None,
            as_expected: true,
            exit_code: 0,
            scenario_sha256: "0".repeat(64),
            history_sha256: format!("{seed:064x}"),
            violation_count: 0,
            findings: Vec::new(),
            surprise: None,
            fault_signature: Vec::new(),
            metrics: MetricsRecord {
                acked: 100,
                rto_ms: 30_000,
                failovers: 1,
                simulated_ms: 600_000,
                events: 1_000,
                ..MetricsRecord::default()
            },
            notes: Vec::new(),
            replay: format!("drill run {path} --seed {seed}"),
        }
    }

    /// A campaign of `runs` as a complete plan over their seeds.
    pub(crate) fn campaign_of(runs: Vec<RunRecord>) -> CampaignRecord {
        let last_seed = runs.iter().map(|run| run.seed).max().unwrap_or(1);
        let planned_runs = count(runs.len());
        let plan = CampaignPlan { first_seed: 1, last_seed, shard: None, planned_runs };
        let provenance =
            Provenance { drill_version: "0.1.0".to_string(), drill_commit: "c0ffee".to_string() };
        CampaignRecord::from_runs(provenance, plan, runs)
    }

    fn split_brain(mut record: RunRecord) -> RunRecord {
        record.verdict = "fail".to_string();
        record.as_expected = false;
        record.exit_code = 1;
        record.surprise = Some("split-brain".to_string());
        record.set_violations(&[ViolationRecord {
            check: "split-brain".to_string(),
            subject: "SG1".to_string(),
            time_ms: 12_000,
            detail: "mbx1 and mbx2 both acknowledged writes to SG1".to_string(),
        }]);
        record
    }

    fn missed_rto(mut record: RunRecord) -> RunRecord {
        record.verdict = "liveness".to_string();
        record.as_expected = false;
        record.exit_code = 3;
        record.surprise = Some("rto".to_string());
        record.metrics.rto_ms = 900_000;
        record
    }

    #[test]
    fn a_campaign_where_every_run_is_as_expected_exits_zero() {
        let campaign = campaign_of(vec![run("a.toml", 1), run("a.toml", 2)]);
        assert_eq!(campaign.exit_code, 0);
        assert_eq!(campaign.unexpected, 0);
        assert!(campaign.scenarios[0].all_as_expected());
    }

    #[test]
    fn one_safety_surprise_makes_the_campaign_exit_one_even_beside_liveness_misses() {
        let runs = vec![missed_rto(run("a.toml", 1)), split_brain(run("b.toml", 1)), run("b.toml", 2)];
        let campaign = campaign_of(runs);
        assert_eq!(campaign.exit_code, 1);
        assert_eq!(campaign.unexpected, 2);
    }

    #[test]
    fn liveness_misses_alone_make_the_campaign_exit_three() {
        let campaign = campaign_of(vec![missed_rto(run("a.toml", 1))]);
        assert_eq!(campaign.exit_code, 3);
    }

    #[test]
    fn a_hazard_that_was_not_caught_counts_as_a_safety_surprise() {
        let mut uncaught = run("hazard.toml", 1);
        uncaught.expected = Some("split-brain".to_string());
        uncaught.as_expected = false;
        uncaught.exit_code = 1;
        assert!(uncaught.is_safety_surprise());
        assert_eq!(campaign_of(vec![uncaught]).exit_code, 1);
    }

    #[test]
    fn runs_are_grouped_by_scenario_in_first_seen_order_and_sorted_by_seed_whatever_the_finishing_order() {
        let runs = vec![run("b.toml", 2), run("a.toml", 1), run("b.toml", 1), run("a.toml", 2)];
        let campaign = campaign_of(runs);
        let order: Vec<(&str, u64)> =
            campaign.runs.iter().map(|run| (run.scenario_path.as_str(), run.seed)).collect();
        assert_eq!(order, [("b.toml", 1), ("b.toml", 2), ("a.toml", 1), ("a.toml", 2)]);
        let names: Vec<&str> =
            campaign.scenarios.iter().map(|summary| summary.scenario_path.as_str()).collect();
        assert_eq!(names, ["b.toml", "a.toml"]);
    }

    #[test]
    fn a_scenario_summary_counts_verdicts_and_keeps_the_worst_figures_and_failing_seeds() {
        let mut lossy = split_brain(run("a.toml", 3));
        lossy.metrics.lost_acked = 7;
        let runs = [run("a.toml", 1), missed_rto(run("a.toml", 2)), lossy];
        let summary = ScenarioSummary::of(&runs);
        assert_eq!(summary.runs, 3);
        assert_eq!(summary.as_expected, 1);
        assert_eq!(summary.verdicts.get("pass"), Some(&1));
        assert_eq!(summary.verdicts.get("liveness"), Some(&1));
        assert_eq!(summary.verdicts.get("fail"), Some(&1));
        assert_eq!(summary.worst_rto_ms, 900_000);
        assert_eq!(summary.max_lost_acked, 7);
        assert_eq!(summary.failing_seeds, [2, 3]);
        assert_eq!(summary.first_failure_replay.as_deref(), Some("drill run a.toml --seed 2"));
    }
}

#[cfg(test)]
mod group_tests {
    use super::tests::{campaign_of, run};
    use super::*;

    fn failing(path: &str, seed: u64, check: &str, faults: &[&str]) -> RunRecord {
        let mut record = run(path, seed);
        record.verdict = "fail".to_string();
        record.as_expected = false;
        record.exit_code = 1;
        record.surprise = Some(check.to_string());
        record.fault_signature = faults.iter().map(|kind| (*kind).to_string()).collect();
        record
    }

    #[test]
    fn failing_runs_of_one_check_and_fault_signature_make_one_group_with_first_seed_and_count() {
        let runs = vec![
            failing("a.toml", 4, "split-brain", &["link-cut"]),
            failing("a.toml", 2, "split-brain", &["link-cut"]),
            run("a.toml", 1),
            failing("a.toml", 3, "split-brain", &["freeze", "link-cut"]),
            failing("a.toml", 5, "lineage", &["link-cut"]),
        ];
        let campaign = campaign_of(runs);
        let groups: Vec<String> = campaign
            .groups
            .iter()
            .map(|g| {
                format!(
                    "{} {:?} first {} count {} {:?}",
                    g.check, g.fault_signature, g.first_seed, g.count, g.seeds
                )
            })
            .collect();
        assert_eq!(
            groups,
            [
                r#"split-brain ["link-cut"] first 2 count 2 [2, 4]"#,
                r#"split-brain ["freeze", "link-cut"] first 3 count 1 [3]"#,
                r#"lineage ["link-cut"] first 5 count 1 [5]"#,
            ]
        );
        assert_eq!(campaign.groups[0].replay, "drill run a.toml --seed 2");
    }

    #[test]
    fn runs_as_expected_make_no_group_and_the_same_failure_in_two_scenarios_makes_two() {
        let runs =
            vec![run("a.toml", 1), failing("b.toml", 1, "quorum", &[]), failing("a.toml", 2, "quorum", &[])];
        let campaign = campaign_of(runs);
        let paths: Vec<&str> = campaign.groups.iter().map(|g| g.scenario_path.as_str()).collect();
        assert_eq!(paths, ["a.toml", "b.toml"], "in the order of the scenarios");
        assert!(campaign_of(vec![run("a.toml", 1)]).groups.is_empty());
    }

    #[test]
    fn a_hazard_not_caught_and_a_panic_are_groups_of_their_own() {
        let mut missed = run("hazard.toml", 1);
        missed.expected = Some("split-brain".to_string());
        missed.as_expected = false;
        missed.exit_code = 1;
        let mut panicked = missed.clone();
        panicked.seed = 2;
        panicked.verdict = PANIC.to_string();
        let campaign = campaign_of(vec![missed, panicked]);
        let checks: Vec<&str> = campaign.groups.iter().map(|g| g.check.as_str()).collect();
        assert_eq!(checks, [NOT_CAUGHT, PANIC]);
    }
}
