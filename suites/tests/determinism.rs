//! Determinism is a feature: one scenario, one seed and one commit give a byte-identical history.

use drill_suites::{catalogue_root, scenario_files};
use harness::check::check_all;
use harness::history::{DRILL_VERSION, Event, HISTORY_SCHEMA_VERSION, History};
use harness::scenario;
use harness::world::{run_scenario, run_scenario_bounded};

#[test]
fn the_same_seed_twice_gives_the_same_history_digest_for_every_fast_scenario() {
    for path in scenario_files("fast").into_iter().chain(scenario_files("hazards")) {
        let scenario = scenario::load(&path).unwrap_or_else(|error| panic!("{error}"));
        for seed in [1, 7] {
            let first = run_scenario(&scenario, seed).history.sha256();
            let second = run_scenario(&scenario, seed).history.sha256();
            assert_eq!(first, second, "{} seed {seed} is not deterministic", path.display());
        }
    }
}

#[test]
fn two_seeds_of_a_scenario_with_random_faults_give_different_histories() {
    let path = catalogue_root().join("nightly/ccr-nemesis.toml");
    let scenario = scenario::load(&path).unwrap_or_else(|error| panic!("{error}"));
    let one = run_scenario(&scenario, 1);
    let two = run_scenario(&scenario, 2);
    let faults = |outcome: &harness::run::RunOutcome| {
        outcome.history.records().iter().filter(|record| matches!(record.event, Event::Fault { .. })).count()
    };
    assert!(faults(&one) > 0 && faults(&two) > 0, "the nemesis must inject faults");
    assert_ne!(one.history.sha256(), two.history.sha256());
}

#[test]
fn a_history_written_to_json_lines_reads_back_to_the_same_records_and_digest() {
    for (file, seed) in [("fast/ccr-pull-cord.toml", 3), ("fast/scc-zombie-owner.toml", 2)] {
        let scenario = scenario::load(&catalogue_root().join(file)).unwrap_or_else(|error| panic!("{error}"));
        let outcome = run_scenario(&scenario, seed);
        let mut bytes = Vec::new();
        outcome.history.write_jsonl(&mut bytes).expect("in-memory write");
        let back = History::read_jsonl(std::str::from_utf8(&bytes).expect("utf-8")).expect("parse");
        assert_eq!(back.records(), outcome.history.records(), "{file}");
        assert_eq!(back.sha256(), outcome.history.sha256(), "{file}");
    }
}

#[test]
fn every_history_starts_with_a_header_naming_its_schema_drill_version_scenario_and_seed() {
    let scenario = scenario::load(&catalogue_root().join("fast/ccr-pull-cord.toml"))
        .unwrap_or_else(|error| panic!("{error}"));
    let outcome = run_scenario(&scenario, 5);
    let first = outcome.history.records().first().expect("a history is never empty");
    assert_eq!(first.at.as_nanos(), 0);
    assert_eq!(
        first.event,
        Event::Header {
            schema_version: HISTORY_SCHEMA_VERSION,
            drill_version: DRILL_VERSION.into(),
            scenario: scenario.name.as_str().into(),
            seed: 5,
        }
    );
    let headers =
        outcome.history.records().iter().filter(|record| matches!(record.event, Event::Header { .. }));
    assert_eq!(headers.count(), 1, "only the first record is a header");
}

/// A campaign runs every scenario with a bounded history (checked as it is produced, then let go);
/// `drill run`, shrinking and the run pages keep it. Both must judge a run the same, and judge it as
/// the checkers do over the whole history read back from its JSON Lines.
#[test]
fn a_bounded_run_gives_the_same_digest_and_report_as_a_retaining_run_and_as_checking_its_whole_history() {
    for path in scenario_files("fast").into_iter().chain(scenario_files("hazards")) {
        let scenario = scenario::load(&path).unwrap_or_else(|error| panic!("{error}"));
        let kept = run_scenario(&scenario, 3);
        let bounded = run_scenario_bounded(&scenario, 3);
        let file = path.display();
        assert_eq!(bounded.history.sha256(), kept.history.sha256(), "{file}");
        assert_eq!(bounded.report, kept.report, "{file}");
        assert_eq!((bounded.verdict, bounded.as_expected), (kept.verdict, kept.as_expected), "{file}");
        assert_eq!(bounded.history.len(), kept.history.len(), "{file}");
        assert!(
            bounded.history.records().len() < 10,
            "{file} kept {} records",
            bounded.history.records().len()
        );
        assert_eq!(check_all(&kept.history, &kept.check_config), kept.report, "{file}");
    }
}
