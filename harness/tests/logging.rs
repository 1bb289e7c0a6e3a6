//! What `drill run -v`/`-vv` prints on stderr: the story of a run, each line stamped with simulated
//! time and the run's scenario and seed, and no colour codes when stderr is not a terminal.

use std::path::Path;
use std::process::Command;

fn run_logged(verbosity: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace");
    let output = Command::new(env!("CARGO_BIN_EXE_drill"))
        .args(["run", "suites/fast/ccr-failback.toml", "--seed", "2", verbosity])
        .current_dir(root)
        .env_remove("RUST_LOG")
        .output()
        .expect("the drill binary runs");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn every_log_line_of_a_run_names_its_scenario_seed_and_simulated_time() {
    let logged = run_logged("-vv");
    let lines: Vec<&str> = logged.lines().filter(|line| !line.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        assert!(line.contains("run{scenario=ccr-failback seed=2}"), "no run span: {line}");
        assert!(line.contains("t=T+"), "no simulated time: {line}");
    }
}

#[test]
fn two_vs_tell_the_story_of_a_run_and_one_v_only_its_faults() {
    let story = run_logged("-vv");
    for event in
        ["\"event\":\"failover\"", "\"event\":\"quorum\"", "\"event\":\"mounted\"", "kind=\"power-off\""]
    {
        assert!(story.contains(event), "-vv should log {event}");
    }
    assert!(!story.contains("\"event\":\"committed\""), "per-message records belong to -vvv");
    let faults = run_logged("-v");
    assert!(faults.contains("fault") && faults.contains("kind=\"power-off\""), "{faults}");
    assert!(!faults.contains("\"event\":\"failover\""), "-v is not the whole story");
}

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    assert!(!run_logged("-vv").contains('\u{1b}'), "an escape sequence in logs that go to a pipe");
}
