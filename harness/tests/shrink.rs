//! Triage and shrinking as a user meets them: `drill shrink` writes a small standalone scenario that
//! `drill run` fails the same way, `drill campaign` reports failures once per group with a shrunk
//! reproduction, and a run's realised fault schedule replays the faults of the run.

use harness::history::Event;
use harness::scenario::{self, Scenario};
use harness::world::run_scenario;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the harness crate sits in the workspace")
        .to_path_buf()
}

fn drill(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drill"))
        .args(arguments)
        .current_dir(repository_root())
        .env_remove("RUST_LOG")
        .output()
        .expect("the drill binary runs")
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn load(relative: &str) -> Scenario {
    scenario::load(&repository_root().join(relative)).unwrap_or_else(|error| panic!("{error}"))
}

/// The faults that took effect in a run, as the history records them (a heal counts as a fault here:
/// whether it was automatic or scheduled is the only thing allowed to differ).
fn faults_of(scenario: &Scenario, seed: u64) -> Vec<String> {
    let outcome = run_scenario(scenario, seed);
    outcome
        .history
        .records()
        .iter()
        .filter_map(|record| match &record.event {
            Event::Fault { kind, target, network, peer, direction, .. } => {
                Some(format!("{} {kind} {target} {network:?} {peer:?} {direction:?}", record.at))
            }
            _ => None,
        })
        .collect()
}

/// A run's violations, as (check, true time in ms), in report order.
fn violations_of(scenario: &Scenario, seed: u64) -> Vec<(String, u64)> {
    let outcome = run_scenario(scenario, seed);
    outcome
        .report
        .violations
        .iter()
        .map(|violation| (violation.check.to_string(), violation.time_ms))
        .collect()
}

/// `relative` with its nemesis and fault schedule replaced by the realised schedule of `seed`.
fn realised(relative: &str, seed: u64) -> Scenario {
    let path = repository_root().join(relative);
    let outcome = run_scenario(&load(relative), seed);
    let mut document: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    document.remove("nemesis");
    let tables = outcome.realised_faults.iter().map(|spec| toml::Value::Table(spec.to_toml())).collect();
    document.insert("fault".into(), toml::Value::Array(tables));
    scenario::parse(&path, &document.to_string()).unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn a_runs_realised_schedule_without_its_nemesis_replays_the_same_faults_at_the_same_instants() {
    for relative in ["suites/nightly/ccr-nemesis.toml", "suites/nightly/scc-nemesis.toml"] {
        for seed in 1..=3 {
            let original = faults_of(&load(relative), seed);
            assert!(original.len() >= 4, "{relative} seed {seed} should see several faults: {original:?}");
            assert_eq!(faults_of(&realised(relative, seed), seed), original, "{relative} seed {seed}");
        }
    }
    // The nemesis draws from a random stream of its own: without it, the seed still drives the
    // workload and everything else the same way, so the same things break at the same instants.
    let hazard = "suites/hazards/no-quorum-nemesis.toml";
    for seed in 1..=3 {
        let original = violations_of(&load(hazard), seed);
        assert!(!original.is_empty(), "seed {seed} of the hazard breaks something");
        assert_eq!(violations_of(&realised(hazard, seed), seed), original, "{hazard} seed {seed}");
    }
}

/// The must-show: a hazard driven by the nemesis (quorum disabled), shrunk from one of its failing
/// seeds, gives a file of at most three faults that `drill run` fails with the same violation.
#[test]
fn drill_shrink_turns_a_nemesis_run_of_the_no_quorum_hazard_into_a_few_faults_that_fail_the_same_way() {
    let hazard = "suites/hazards/no-quorum-nemesis.toml";
    let original = run_scenario(&load(hazard), 2);
    assert!(original.realised_faults.len() >= 10, "seed 2 is a busy run: {:?}", original.realised_faults);
    let first = original.first_violation().expect("seed 2 of the hazard breaks something").check;
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("shrunk.toml");
    let file_text = file.to_str().unwrap();
    let shrink = drill(&["shrink", hazard, "--seed", "2", "--max-runs", "40", "--out", file_text]);
    assert_eq!(shrink.status.code(), Some(0), "{}", describe(&shrink));
    let replay = format!("drill run {file_text} --seed 2");
    assert!(String::from_utf8_lossy(&shrink.stdout).contains(&replay), "{}", describe(&shrink));

    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&format!("from {hazard}, seed 2.")), "{text}");
    assert!(text.contains(&format!("#   {replay}\n")), "{text}");
    assert!(!text.contains("[nemesis]"), "{text}");
    let faults = text.matches("[[fault]]").count();
    assert!((1..=3).contains(&faults), "{faults} faults left:\n{text}");

    let run = drill(&["run", file_text, "--seed", "2", "--json"]);
    let record: serde_json::Value =
        serde_json::from_slice(&run.stdout).unwrap_or_else(|_| panic!("{}", describe(&run)));
    assert_eq!(record["verdict"], "fail", "{record}");
    let checks: Vec<&str> =
        record["findings"].as_array().unwrap().iter().filter_map(|v| v["check"].as_str()).collect();
    assert!(checks.contains(&first.as_str()), "{first} expected among {checks:?}");
}

#[test]
fn shrinking_a_run_that_broke_nothing_or_lacks_the_asked_violation_is_refused_with_exit_two() {
    let passing = drill(&["shrink", "suites/fast/ccr-pull-cord.toml", "--seed", "1"]);
    assert_eq!(passing.status.code(), Some(2), "{}", describe(&passing));
    assert!(String::from_utf8_lossy(&passing.stderr).contains("broke nothing"), "{}", describe(&passing));
    let hazard = "suites/hazards/no-quorum-nemesis.toml";
    let absent = drill(&["shrink", hazard, "--seed", "1", "--check", "quorum"]);
    assert_eq!(absent.status.code(), Some(2), "{}", describe(&absent));
    assert!(String::from_utf8_lossy(&absent.stderr).contains("no quorum violation"), "{}", describe(&absent));
}

/// The hazard with its expectation removed: every seed is an unexpected split-brain.
fn unsafe_copy(directory: &Path) -> PathBuf {
    let text =
        std::fs::read_to_string(repository_root().join("suites/hazards/no-quorum-nemesis.toml")).unwrap();
    let text = text.replace("expect = \"split-brain\"\n", "").replace("tier = \"hazard\"", "tier = \"fast\"");
    let path = directory.join("no-quorum-unexpected.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_failing_campaign_reports_each_failure_group_once_with_its_first_seed_count_replay_and_shrunk_file() {
    let directory = tempfile::tempdir().unwrap();
    let scenario = unsafe_copy(directory.path());
    let out = directory.path().join("out");
    let output = drill(&[
        "campaign",
        scenario.to_str().unwrap(),
        "--seeds",
        "8",
        "--shrink-runs",
        "30",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let campaign: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("campaign.json")).unwrap()).unwrap();
    assert_eq!(campaign["unexpected"], 8);
    let groups = campaign["groups"].as_array().unwrap();
    assert!(!groups.is_empty() && groups.len() < 8, "groups, not one per seed: {groups:#?}");
    let counted: u64 = groups.iter().map(|group| group["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, 8, "every failing run is in exactly one group");

    let table = String::from_utf8_lossy(&output.stdout);
    assert_eq!(table.matches("first seed").count(), groups.len(), "{table}");
    for group in groups {
        let (seed, check) = (group["first_seed"].as_u64().unwrap(), group["check"].as_str().unwrap());
        assert_eq!(group["replay"], format!("drill run {} --seed {seed}", scenario.display()));
        assert!(table.contains(group["replay"].as_str().unwrap()), "{table}");
        let shrunk = &group["shrunk"];
        assert!(table.contains(shrunk["replay"].as_str().unwrap()), "{table}");
        let rerun = drill(&["run", shrunk["path"].as_str().unwrap(), "--seed", &seed.to_string(), "--json"]);
        let record: serde_json::Value =
            serde_json::from_slice(&rerun.stdout).unwrap_or_else(|_| panic!("{}", describe(&rerun)));
        let checks: Vec<&str> =
            record["findings"].as_array().unwrap().iter().filter_map(|v| v["check"].as_str()).collect();
        assert!(checks.contains(&check), "shrunk seed {seed}: {check} expected among {checks:?}");
    }
}

#[test]
fn a_campaign_shrinks_nothing_when_told_not_to_or_when_hazards_fail_as_expected() {
    let directory = tempfile::tempdir().unwrap();
    let scenario = unsafe_copy(directory.path());
    let out = directory.path().join("out");
    let output = drill(&[
        "campaign",
        scenario.to_str().unwrap(),
        "--seeds",
        "2",
        "--no-shrink",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let campaign: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("campaign.json")).unwrap()).unwrap();
    assert!(campaign["groups"].as_array().unwrap().iter().all(|group| group["shrunk"].is_null()));
    assert!(!out.join("shrunk").exists());

    let hazard_out = directory.path().join("hazard");
    let hazard = drill(&[
        "campaign",
        "suites/hazards/no-quorum-nemesis.toml",
        "--seeds",
        "3",
        "--out",
        hazard_out.to_str().unwrap(),
    ]);
    assert_eq!(hazard.status.code(), Some(0), "{}", describe(&hazard));
    let campaign: serde_json::Value =
        serde_json::from_slice(&std::fs::read(hazard_out.join("campaign.json")).unwrap()).unwrap();
    assert_eq!(campaign["groups"], serde_json::json!([]));
    assert!(!hazard_out.join("shrunk").exists(), "a hazard that failed as expected is not shrunk");
}

/// What the realised schedule of `text` (a variant of `ccr-frozen-owner-resumes`) is for seed 1,
/// each fault as its `[[fault]]` table.
fn realised_tables(text: &str) -> Vec<String> {
    let path = repository_root().join("suites/fast/ccr-frozen-owner-resumes.toml");
    let scenario = scenario::parse(&path, text).unwrap_or_else(|error| panic!("{error}"));
    let outcome = run_scenario(&scenario, 1);
    outcome.realised_faults.iter().map(|spec| spec.to_toml().to_string().replace('\n', " ")).collect()
}

#[test]
fn a_fault_aimed_at_a_role_is_realised_against_the_host_that_held_it_with_its_heal_as_its_duration() {
    let text =
        std::fs::read_to_string(repository_root().join("suites/fast/ccr-frozen-owner-resumes.toml")).unwrap();
    assert!(text.contains("target = \"active\""));
    assert_eq!(
        realised_tables(&text),
        [r#"at = "1m" duration = "40s" kind = "freeze" target = "mbx1" "#],
        "one fault, pinned to the owner mbx1, healed 40 s later"
    );
}

#[test]
fn the_heal_of_a_fault_that_took_no_effect_is_realised_on_its_own() {
    let text =
        std::fs::read_to_string(repository_root().join("suites/fast/ccr-frozen-owner-resumes.toml")).unwrap();
    // A second freeze of the frozen owner changes nothing, but its heal resumes the owner at 80 s,
    // before the first freeze's own heal (which then finds it running and changes nothing).
    let second =
        "[[fault]]\nat = \"70s\"\nkind = \"freeze\"\ntarget = \"mbx1\"\nduration = \"10s\"\n\n[checks]";
    let text = text.replacen("[checks]", second, 1);
    assert_eq!(
        realised_tables(&text),
        [
            r#"at = "1m" duration = "40s" kind = "freeze" target = "mbx1" "#,
            r#"at = "80s" kind = "resume" target = "mbx1" "#,
        ]
    );
}

#[test]
fn shrinking_a_malformed_scenario_exits_two_with_the_located_error_and_writes_nothing() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("shrunk.toml");
    let output = drill(&[
        "shrink",
        "suites/malformed/unknown-fault-kind.toml",
        "--seed",
        "1",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("suites/malformed/unknown-fault-kind.toml:"), "{}", describe(&output));
    assert!(!stderr.contains("panicked"), "{}", describe(&output));
    assert!(!file.exists());
}
