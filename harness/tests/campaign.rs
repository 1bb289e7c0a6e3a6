//! The campaign as an operator runs it at scale: killed and resumed, stopped by a signal or a time
//! budget, split into shards and merged, and the reports it leaves (JSON, JUnit, HTML pages).
#![expect(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "these tests watch a drill process from outside, in wall-clock time: polling its journal and bounding the wait"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the harness crate sits in the workspace")
        .to_path_buf()
}

fn command(arguments: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_drill"));
    command.args(arguments).current_dir(repository_root()).env_remove("RUST_LOG");
    command
}

fn drill(arguments: &[&str]) -> Output {
    command(arguments).output().expect("the drill binary runs")
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Three quick scenarios, one of them a hazard, over which the campaigns below run.
const SCENARIOS: [&str; 3] = [
    "suites/fast/ccr-pull-cord.toml",
    "suites/fast/ccr-heartbeat-from-previous-incarnation.toml",
    "suites/hazards/no-quorum-partition.toml",
];

fn campaign_arguments<'a>(out: &'a str, seeds: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut arguments = vec!["campaign"];
    arguments.extend(SCENARIOS);
    arguments.extend(["--seeds", seeds, "--no-shrink", "--out", out]);
    arguments.extend(extra);
    arguments
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// Waits until the journal of `out` holds at least `count` complete lines (or panics after a minute).
fn wait_for_records(child: &mut Child, out: &Path, count: usize) {
    let started = Instant::now();
    while lines(&out.join("runs.jsonl")).len() < count {
        assert!(child.try_wait().unwrap().is_none(), "the campaign ended before it was interrupted");
        assert!(started.elapsed() < Duration::from_secs(60), "the campaign recorded too little in a minute");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn a_campaign_killed_half_way_and_restarted_ends_with_the_records_of_an_uninterrupted_one_and_reruns_nothing()
{
    let directory = tempfile::tempdir().unwrap();
    let (whole, resumed) = (directory.path().join("whole"), directory.path().join("resumed"));
    let (whole_text, resumed_text) = (whole.to_str().unwrap(), resumed.to_str().unwrap());
    let uninterrupted = drill(&campaign_arguments(whole_text, "8", &["--jobs", "1"]));
    assert_eq!(uninterrupted.status.code(), Some(0), "{}", describe(&uninterrupted));

    let mut child = command(&campaign_arguments(resumed_text, "8", &["--jobs", "1"]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_records(&mut child, &resumed, 12);
    child.kill().unwrap(); // SIGKILL: no handler runs, nothing is flushed on the way out.
    child.wait().unwrap();
    let before = lines(&resumed.join("runs.jsonl")).len();
    assert!((12..24).contains(&before), "killed half-way, with {before} of 24 runs recorded");

    let restarted = drill(&campaign_arguments(resumed_text, "8", &["--jobs", "1"]));
    assert_eq!(restarted.status.code(), Some(0), "{}", describe(&restarted));
    let said = String::from_utf8_lossy(&restarted.stderr);
    assert!(said.contains(&format!("{before} already recorded")), "{said}");
    let journal = lines(&resumed.join("runs.jsonl"));
    let mut runs: Vec<(String, u64)> = journal
        .iter()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            (record["scenario_path"].as_str().unwrap().to_string(), record["seed"].as_u64().unwrap())
        })
        .collect();
    runs.sort();
    runs.dedup();
    assert_eq!((journal.len(), runs.len()), (24, 24), "every run recorded once: none lost, none run twice");
    assert_eq!(read(&resumed.join("campaign.json")), read(&whole.join("campaign.json")));
    assert_eq!(read(&resumed.join("junit.xml")), read(&whole.join("junit.xml")));
}

#[test]
fn sigterm_stops_a_campaign_cleanly_keeping_every_finished_run_and_exits_130() {
    let directory = tempfile::tempdir().unwrap();
    let out = directory.path().join("out");
    let mut child = command(&campaign_arguments(out.to_str().unwrap(), "40", &["--jobs", "1"]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_records(&mut child, &out, 3);
    let signalled = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(signalled.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", describe(&output));
    let campaign: serde_json::Value = serde_json::from_str(&read(&out.join("campaign.json"))).unwrap();
    assert_eq!(campaign["stopped"], "interrupted");
    assert_eq!(campaign["complete"], false);
    let recorded = campaign["runs"].as_array().unwrap().len();
    assert_eq!(recorded, lines(&out.join("runs.jsonl")).len(), "the report holds every journalled run");
    assert!(recorded >= 3);
}

#[test]
fn a_campaign_over_every_seed_there_is_stops_at_its_time_budget_and_exits_cleanly() {
    let directory = tempfile::tempdir().unwrap();
    let out = directory.path().join("out");
    let started = Instant::now();
    let output = drill(&[
        "campaign",
        SCENARIOS[0],
        "--seeds",
        "18446744073709551615",
        "--time-budget",
        "2s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(started.elapsed() < Duration::from_secs(30), "the budget stopped it: {:?}", started.elapsed());
    let campaign: serde_json::Value = serde_json::from_str(&read(&out.join("campaign.json"))).unwrap();
    assert_eq!(campaign["stopped"], "time-budget");
    assert_eq!(campaign["plan"]["last_seed"], u64::MAX);
    assert!(!campaign["runs"].as_array().unwrap().is_empty());
}

/// The campaign of the three scenarios over seeds 1..=4, in `out`, sharded as `shard` if given.
fn run_campaign(out: &Path, shard: Option<&str>) {
    let mut extra = vec!["--jobs", "2"];
    if let Some(shard) = shard {
        extra.extend(["--shard", shard]);
    }
    let output = drill(&campaign_arguments(out.to_str().unwrap(), "4", &extra));
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
}

#[test]
fn three_shards_merged_in_any_order_equal_the_unsharded_campaign() {
    let directory = tempfile::tempdir().unwrap();
    let path = |name: &str| directory.path().join(name);
    run_campaign(&path("whole"), None);
    for index in 0..3 {
        run_campaign(&path(&format!("shard{index}")), Some(&format!("{index}/3")));
    }
    let sizes: Vec<usize> =
        (0..3).map(|index| lines(&path(&format!("shard{index}")).join("runs.jsonl")).len()).collect();
    assert_eq!(sizes, vec![4, 4, 4], "12 runs in three disjoint shards");
    for (name, order) in [("merged-a", [0, 1, 2]), ("merged-b", [2, 0, 1]), ("merged-c", [1, 2, 0])] {
        let shards: Vec<String> =
            order.iter().map(|index| path(&format!("shard{index}")).display().to_string()).collect();
        let out = path(name).display().to_string();
        let mut arguments = vec!["merge"];
        arguments.extend(shards.iter().map(String::as_str));
        arguments.extend(["--out", &out]);
        let output = drill(&arguments);
        assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
        for file in ["campaign.json", "junit.xml"] {
            assert_eq!(read(&path(name).join(file)), read(&path("whole").join(file)), "{name}: {file}");
        }
    }
}

#[test]
fn a_merge_refuses_overlapping_shards_and_reports_a_missing_one() {
    let directory = tempfile::tempdir().unwrap();
    let path = |name: &str| directory.path().join(name).display().to_string();
    run_campaign(Path::new(&path("shard0")), Some("0/3"));
    run_campaign(Path::new(&path("shard1")), Some("1/3"));
    std::fs::create_dir_all(path("copy")).unwrap();
    for file in ["plan.json", "runs.jsonl"] {
        std::fs::copy(Path::new(&path("shard0")).join(file), Path::new(&path("copy")).join(file)).unwrap();
    }
    let overlap = drill(&["merge", &path("shard0"), &path("copy"), "--out", &path("bad")]);
    assert_eq!(overlap.status.code(), Some(2), "{}", describe(&overlap));
    assert!(
        String::from_utf8_lossy(&overlap.stderr).contains("the shards overlap"),
        "{}",
        describe(&overlap)
    );

    let partial = drill(&["merge", &path("shard1"), &path("shard0"), "--out", &path("partial")]);
    assert_eq!(partial.status.code(), Some(2), "{}", describe(&partial));
    assert!(
        String::from_utf8_lossy(&partial.stderr).contains("shard 2/3 is missing"),
        "{}",
        describe(&partial)
    );
    let campaign: serde_json::Value =
        serde_json::from_str(&read(&directory.path().join("partial/campaign.json"))).unwrap();
    assert_eq!(campaign["complete"], false);
}

#[test]
fn a_campaign_writes_junit_with_a_case_per_run_and_a_page_with_a_timeline_for_each_failing_run() {
    let directory = tempfile::tempdir().unwrap();
    // The hazard without its `expect`: a scenario that must pass and splits the brain.
    let hazard = read(&repository_root().join(SCENARIOS[2]));
    let unsafe_scenario = directory.path().join("unsafe.toml");
    let text: Vec<String> = hazard
        .lines()
        .filter(|line| !line.starts_with("expect"))
        .map(|line| if line.starts_with("tier") { "tier = \"fast\"".to_string() } else { line.to_string() })
        .collect();
    std::fs::write(&unsafe_scenario, text.join("\n")).unwrap();
    let out = directory.path().join("out");
    let output = drill(&[
        "campaign",
        SCENARIOS[0],
        unsafe_scenario.to_str().unwrap(),
        "--seeds",
        "3",
        "--no-shrink",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let junit = read(&out.join("junit.xml"));
    assert_eq!(junit.matches("<testcase").count(), 6, "{junit}");
    assert_eq!(junit.matches("<failure").count(), 3, "{junit}");
    let campaign_page = read(&out.join("campaign.html"));
    for seed in 1..=3 {
        let page_name = format!("-seed-{seed}.html");
        let page = std::fs::read_dir(out.join("runs"))
            .unwrap()
            .flatten()
            .find(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                name.starts_with("unsafe-") && name.ends_with(&page_name)
            })
            .unwrap_or_else(|| panic!("no page for seed {seed}"));
        let html = read(&page.path());
        assert!(html.contains("<svg") && html.contains("id=\"timeline\""), "seed {seed}: no timeline");
        assert!(html.contains("split-brain"), "seed {seed}: the finding is on the page");
        let link = format!("runs/{}", page.file_name().to_string_lossy());
        assert!(seed > 1 || campaign_page.contains(&link), "the failure group links its first run's page");
    }
}
