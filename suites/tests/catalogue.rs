//! Named behaviour tests over the catalogue, and the catalogue's own health: every file loads and sits
//! in the directory of its tier, and no tier lost scenarios. Running each file for its seeds is
//! `scenarios.rs`, one test per file.

use drill_suites::{BENCH_DIRECTORY, MALFORMED_DIRECTORY, TIER_DIRECTORIES, catalogue_root, scenario_files};
use harness::history::Event;
use harness::scenario::{self, Scenario, Tier};
use harness::verdict::ViolationKind;
use harness::world::run_scenario;
use std::path::Path;

fn load(path: &Path) -> Scenario {
    scenario::load(path).unwrap_or_else(|error| panic!("{error}"))
}

fn load_relative(relative: &str) -> Scenario {
    load(&catalogue_root().join(relative))
}

/// How many files each directory held when this was last updated. A directory that cannot be listed
/// or whose files stopped being found would otherwise pass as having nothing to test; a scenario
/// removed on purpose lowers its number here.
const AT_LEAST: &[(&str, usize)] = &[
    ("fast", 58),
    ("hazards", 10),
    ("slow", 4),
    ("nightly", 7),
    (MALFORMED_DIRECTORY, 81),
    (BENCH_DIRECTORY, 1),
];

#[test]
fn no_tier_of_the_catalogue_lost_scenarios() {
    for (directory, at_least) in AT_LEAST {
        let files = scenario_files(directory);
        assert!(
            files.len() >= *at_least,
            "suites/{directory} holds {} scenarios, expected at least {at_least}: {files:?}",
            files.len()
        );
    }
    let counted: Vec<&str> = AT_LEAST.iter().map(|(directory, _)| *directory).collect();
    for directory in TIER_DIRECTORIES {
        assert!(counted.contains(&directory), "suites/{directory} has no minimum here");
    }
}

/// The slow and nightly files run only with `--run-ignored`; this keeps them loadable on every commit.
#[test]
fn every_catalogue_scenario_loads_and_sits_in_the_directory_of_its_tier() {
    let tiers =
        [("fast", Tier::Fast), ("hazards", Tier::Hazard), ("slow", Tier::Slow), ("nightly", Tier::Nightly)];
    assert_eq!(tiers.map(|(directory, _)| directory), TIER_DIRECTORIES);
    let mut failures = Vec::new();
    for (directory, tier) in tiers {
        for path in scenario_files(directory) {
            match scenario::load(&path) {
                Err(error) => failures.push(error.to_string()),
                Ok(scenario) if scenario.tier != tier => {
                    failures.push(format!(
                        "{}: tier {} in the {directory} directory",
                        path.display(),
                        scenario.tier
                    ));
                }
                Ok(_) => {}
            }
        }
    }
    assert!(failures.is_empty(), "catalogue scenarios failed to load:\n{}", failures.join("\n"));
}

/// `drill bench` loads its workload from `bench/`; a file there that stopped loading would only show
/// when someone benchmarks.
#[test]
fn every_benchmark_workload_loads_and_the_reference_drill_is_among_them() {
    let files = scenario_files(BENCH_DIRECTORY);
    assert!(files.iter().any(|path| path.ends_with("bench/reference-drill.toml")), "{files:?}");
    for path in files {
        let scenario = load(&path);
        assert!(
            scenario.faults.is_empty() && scenario.nemesis.is_none(),
            "{}: a workload, not a test",
            path.display()
        );
    }
    let reference = load_relative("bench/reference-drill.toml");
    let mailboxes = reference.hosts_with_role(scenario::HostRole::Mailbox).count();
    assert_eq!((mailboxes, reference.duration.as_secs()), (4, 3_600), "DESIGN.md's drill: 4 nodes, 1 h");
}

#[test]
fn the_pull_cord_failover_moves_the_database_and_resubmits_from_the_dumpster() {
    let scenario = load_relative("fast/ccr-pull-cord.toml");
    let outcome = run_scenario(&scenario, 1);
    let metrics = outcome.metrics();
    assert!(metrics.acked > 1_000, "the workload must really run: {metrics:?}");
    assert!(metrics.failovers >= 2, "initial activation plus the failover: {metrics:?}");
    assert!(metrics.rto_ms > 0 && metrics.rto_ms <= 60_000, "an outage within the RTO: {metrics:?}");
    assert_eq!(metrics.lost_acked, 0);
    assert_eq!(metrics.duplicates, 0, "the store must suppress resubmitted duplicates");
    let resubmitted = outcome
        .history
        .records()
        .iter()
        .any(|record| matches!(&record.event, Event::Resubmitted { count, .. } if *count > 0));
    assert!(resubmitted, "a lossy mount must ask the hubs to resubmit");
}

#[test]
fn the_lossy_failover_really_loses_logs_and_the_dumpster_makes_them_whole() {
    let scenario = load_relative("fast/ccr-lossy-failover.toml");
    let mut most_lost_logs = 0;
    for seed in 1..=5 {
        let outcome = run_scenario(&scenario, seed);
        let lost_logs = outcome
            .history
            .records()
            .iter()
            .filter_map(|record| match &record.event {
                Event::Mounted { lost_logs, epoch, .. } if *epoch > 1 => Some(*lost_logs),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        most_lost_logs = most_lost_logs.max(lost_logs);
        assert_eq!(outcome.metrics().lost_acked, 0, "seed {seed}");
        assert_eq!(outcome.metrics().duplicates, 0, "seed {seed}");
    }
    assert!(most_lost_logs >= 3, "the slow replication link must build a copy queue of several logs");
}

/// Regression (found by the first nightly nemesis, now `slow/ccr-nemesis-kinds`, seed 7): mbx1 rebooted and, counting mbx2 before mbx2
/// counted it back, coordinated "remount, epoch 2" for itself while mbx2, alone with the witness,
/// coordinated "owner down, epoch 2" for itself; both mounted epoch 2 and thousands of acknowledged
/// messages were lost. A coordinator now decides only when its view counts it back.
#[test]
fn two_coordinators_never_pick_the_same_epoch_after_a_reboot_race() {
    let scenario = load_relative("slow/ccr-nemesis-kinds.toml");
    for seed in [7, 32] {
        let outcome = run_scenario(&scenario, seed);
        let mut decided: Vec<(u64, String)> = outcome
            .history
            .records()
            .iter()
            .filter_map(|record| match &record.event {
                Event::Failover { db, epoch, .. } => Some((*epoch, db.to_string())),
                _ => None,
            })
            .collect();
        let all = decided.len();
        decided.sort();
        decided.dedup();
        assert_eq!(decided.len(), all, "seed {seed}: an epoch was decided twice for the same database");
        assert_eq!(outcome.metrics().lost_acked, 0, "seed {seed}: acknowledged mail was lost");
    }
}

/// The seeds issue 8 named on the first nightly nemesis (now `slow/ccr-nemesis-kinds`): 2 and 246
/// (acknowledged mail lost after an unsettled lossy takeover), 111 (a re-elected deposed owner copied
/// newer logs on top of its own divergent tail), 140 (two coordinators chose epoch 2 for different
/// owners). Each passes, and the pass is not vacuous: faults took effect, a failover beyond the
/// initial activation was decided, and no epoch was decided twice.
#[test]
fn the_seeds_issue_8_named_pass_and_their_faults_really_happened() {
    let scenario = load_relative("slow/ccr-nemesis-kinds.toml");
    for seed in [2, 111, 140, 246] {
        let outcome = run_scenario(&scenario, seed);
        assert!(outcome.as_expected, "seed {seed}: {:?}", outcome.report.violations);
        assert_eq!(outcome.metrics().lost_acked, 0, "seed {seed}");
        let records = outcome.history.records();
        let faults = records.iter().filter(|record| matches!(record.event, Event::Fault { heal: false, .. }));
        assert!(faults.count() >= 3, "seed {seed}: fewer than three faults took effect");
        let mut epochs: Vec<(String, u64)> = Vec::new();
        for record in records {
            if let Event::Failover { db, epoch, .. } = &record.event {
                epochs.push((db.to_string(), *epoch));
            }
        }
        assert!(epochs.len() >= 2, "seed {seed}: no failover after the initial activation");
        let all = epochs.len();
        epochs.sort();
        epochs.dedup();
        assert_eq!(epochs.len(), all, "seed {seed}: an epoch was decided twice");
    }
}

/// Every fault is a typed value that writes itself back as a `[[fault]]` table: replacing each
/// catalogue file's fault schedule by the tables its loaded faults write gives back the same faults.
/// (Shrinking will write reduced schedules this way.)
#[test]
fn every_catalogue_fault_schedule_writes_back_as_toml_and_loads_as_the_same_faults() {
    let mut checked = 0;
    for directory in TIER_DIRECTORIES {
        for path in scenario_files(directory) {
            let original = load(&path);
            let text = std::fs::read_to_string(&path).expect("catalogue file");
            let mut document: toml::Table = text.parse().expect("catalogue file is TOML");
            let written: Vec<toml::Value> =
                original.faults.iter().map(|fault| toml::Value::Table(fault.to_toml())).collect();
            checked += written.len();
            if written.is_empty() {
                document.remove("fault");
            } else {
                document.insert("fault".to_string(), toml::Value::Array(written));
            }
            let rewritten = scenario::parse(&path, &document.to_string())
                .unwrap_or_else(|error| panic!("{} written back does not load: {error}", path.display()));
            assert_eq!(rewritten.faults, original.faults, "{}", path.display());
        }
    }
    assert!(checked >= 20, "the catalogue should hold many scheduled faults, found {checked}");
}

/// A run that never serves never passes: with the only LUN offline from the start, nothing mounts and
/// no mail is acknowledged, and the verdict says so (it used to pass).
#[test]
fn a_cluster_whose_disk_is_offline_from_the_start_is_not_served_and_does_not_pass() {
    let path = catalogue_root().join("fast/scc-owner-power-loss.toml");
    let text = std::fs::read_to_string(&path).expect("catalogue file");
    let text = text.replacen(
        "[[fault]]\nat = \"60s\"\nkind = \"power-off\"\ntarget = \"active\"",
        "[[fault]]\nat = \"0s\"\nkind = \"lun-offline\"\nlun = \"sg1-data\"",
        1,
    );
    let scenario = scenario::parse(&path, &text).unwrap_or_else(|error| panic!("{error}"));
    let outcome = run_scenario(&scenario, 1);
    assert_eq!(outcome.metrics().acked, 0, "the disk never comes online");
    assert!(!outcome.as_expected, "a run that never served must not pass");
    assert!(
        outcome.report.violations.iter().any(|violation| violation.check == ViolationKind::NotServed),
        "{:?}",
        outcome.report.violations
    );
}
