//! The `drill` binary as a user meets it: exit codes, what goes to stdout and stderr, and the files it
//! writes. Each test runs the built binary from the repository root (or a subdirectory of it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the harness crate sits in the workspace")
        .to_path_buf()
}

/// Runs `drill` with `arguments` from the repository root.
fn drill(arguments: &[&str]) -> Output {
    drill_in(&repository_root(), arguments)
}

fn drill_in(directory: &Path, arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drill"))
        .args(arguments)
        .current_dir(directory)
        .env_remove("RUST_LOG")
        .output()
        .expect("the drill binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn describe(output: &Output) -> String {
    format!("exit {:?}\n--- stdout\n{}--- stderr\n{}", output.status.code(), stdout(output), stderr(output))
}

/// The `.toml` files of a directory of the catalogue, relative to the repository root, sorted.
fn suite(name: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repository_root().join("suites").join(name))
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok())
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".toml"))
                .map(|file| format!("suites/{name}/{file}"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The `# at: LINE:COLUMN` a malformed file declares for its error.
fn declared_location(path: &str) -> String {
    let text = std::fs::read_to_string(repository_root().join(path)).unwrap();
    text.lines()
        .take_while(|line| line.starts_with('#'))
        .find_map(|line| line.strip_prefix("# at:"))
        .map(|location| location.trim().to_string())
        .unwrap_or_else(|| panic!("{path} declares no `# at:`"))
}

#[test]
fn every_malformed_scenario_exits_two_and_names_its_file_line_and_column_on_stderr() {
    let files = suite("malformed");
    assert!(!files.is_empty(), "suites/malformed holds the bad-input cases");
    let mut failures = Vec::new();
    for file in &files {
        let output = drill(&["run", file, "--json"]);
        let expected = format!("{file}:{}: ", declared_location(file));
        let fine = output.status.code() == Some(2)
            && stderr(&output).contains(&expected)
            && !stderr(&output).contains("panicked")
            && output.stdout.is_empty();
        if !fine {
            failures.push(format!(
                "{file}: expected exit 2, `{expected}` on stderr, nothing on stdout\n{}",
                describe(&output)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_missing_scenario_file_exits_two_with_a_message_and_no_panic() {
    let output = drill(&["run", "suites/fast/no-such-scenario.toml"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(stderr(&output).contains("suites/fast/no-such-scenario.toml"), "{}", describe(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", describe(&output));
}

#[test]
fn a_directory_given_as_the_scenario_exits_two_with_a_message_and_no_panic() {
    let output = drill(&["run", "suites/fast"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(
        stderr(&output)
            .contains("suites/fast: cannot read scenario file: it is a directory, not a regular file"),
        "{}",
        describe(&output)
    );
    assert!(!stderr(&output).contains("panicked"), "{}", describe(&output));
}

/// Runs `drill` and waits for it, failing (and killing it) if it has not finished within a minute,
/// so a command that blocks fails its test instead of hanging the run.
#[expect(
    clippy::disallowed_methods,
    reason = "a hang guard polls the child process; nothing simulated sleeps"
)]
fn drill_or_hang(arguments: &[&std::ffi::OsStr]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_drill"))
        .args(arguments)
        .current_dir(repository_root())
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the drill binary starts");
    for _ in 0..6_000 {
        if child.try_wait().expect("the child can be waited for").is_some() {
            return child.wait_with_output().expect("its output can be read");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    panic!("drill {arguments:?} was still running after a minute: it blocked");
}

#[cfg(unix)]
#[test]
fn a_fifo_given_as_the_scenario_exits_two_instead_of_waiting_for_a_writer() {
    let directory = tempfile::tempdir().unwrap();
    let fifo = directory.path().join("scenario.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success(), "mkfifo failed");
    for command in ["run", "list", "campaign"] {
        let output = drill_or_hang(&[command.as_ref(), fifo.as_os_str()]);
        assert_eq!(output.status.code(), Some(2), "drill {command}: {}", describe(&output));
        assert!(
            stderr(&output).contains("it is a FIFO (named pipe), not a regular file"),
            "drill {command}: {}",
            describe(&output)
        );
    }
}

#[test]
fn an_absurd_number_of_campaign_jobs_is_a_usage_error_with_exit_two() {
    let out = tempfile::tempdir().unwrap();
    let output = drill(&[
        "campaign",
        "suites/fast/ccr-pull-cord.toml",
        "--jobs",
        "10000",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(stderr(&output).contains("1..=256"), "{}", describe(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", describe(&output));
    assert!(!out.path().join("campaign.json").exists());
}

#[test]
fn an_unknown_flag_is_a_usage_error_with_exit_two() {
    let output = drill(&["run", "suites/fast/ccr-pull-cord.toml", "--no-such-flag"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(stderr(&output).contains("--no-such-flag"), "{}", describe(&output));
    assert!(output.stdout.is_empty(), "{}", describe(&output));
}

#[test]
fn a_seed_that_is_not_a_number_is_a_usage_error_with_exit_two() {
    let output = drill(&["run", "suites/fast/ccr-pull-cord.toml", "--seed", "one"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
}

#[test]
fn bench_with_a_missing_scenario_file_exits_two_naming_it_before_measuring_anything() {
    let output = drill(&["bench", "--scenario", "suites/bench/no-such-drill.toml"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(stderr(&output).contains("suites/bench/no-such-drill.toml"), "{}", describe(&output));
    assert!(stderr(&output).contains("cannot read scenario file"), "{}", describe(&output));
    assert!(output.stdout.is_empty(), "{}", describe(&output));
}

#[test]
fn help_lists_every_subcommand_and_exits_zero() {
    let output = drill(&["--help"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    for command in ["run", "list", "check-determinism", "campaign", "shrink", "bench"] {
        assert!(stdout(&output).contains(command), "{command} missing from\n{}", describe(&output));
    }
}

#[test]
fn list_shows_one_line_per_catalogue_scenario_with_tier_name_and_expectation() {
    let output = drill(&["list"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let text = stdout(&output);
    let files: Vec<String> =
        ["fast", "hazards", "slow", "nightly"].iter().flat_map(|tier| suite(tier)).collect();
    assert_eq!(text.lines().count(), files.len(), "{}", describe(&output));
    let pull_cord =
        text.lines().find(|line| line.contains("ccr-pull-cord")).expect("ccr-pull-cord is listed");
    let columns: Vec<&str> = pull_cord.split_whitespace().collect();
    assert_eq!(&columns[..3], ["fast", "ccr-pull-cord", "pass"], "{pull_cord}");
    for line in text.lines().filter(|line| line.starts_with("hazard")) {
        assert_ne!(line.split_whitespace().nth(2), Some("pass"), "a hazard expects a violation: {line}");
    }
}

#[test]
fn list_finds_the_catalogue_from_a_subdirectory_of_the_repository() {
    let from_root = drill(&["list"]);
    let from_subdirectory = drill_in(&repository_root().join("harness").join("src"), &["list"]);
    assert_eq!(from_subdirectory.status.code(), Some(0), "{}", describe(&from_subdirectory));
    assert_eq!(stdout(&from_subdirectory), stdout(&from_root));
}

#[test]
fn list_outside_any_repository_without_paths_exits_two() {
    let directory = tempfile::tempdir().unwrap();
    let output = drill_in(directory.path(), &["list"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(stderr(&output).contains("suites/"), "{}", describe(&output));
}

#[test]
fn a_campaign_with_a_malformed_scenario_exits_two_before_running_and_writes_no_report() {
    let out = tempfile::tempdir().unwrap();
    let out_path = out.path().to_str().unwrap();
    let output = drill(&[
        "campaign",
        "suites/fast/ccr-pull-cord.toml",
        "suites/malformed/syntax-error.toml",
        "--out",
        out_path,
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let location = declared_location("suites/malformed/syntax-error.toml");
    assert!(
        stderr(&output).contains(&format!("suites/malformed/syntax-error.toml:{location}")),
        "{}",
        describe(&output)
    );
    assert!(!out.path().join("campaign.json").exists());
}

// The tests below run the simulation world.

#[test]
fn run_with_json_prints_exactly_one_object_with_every_required_field_and_exits_zero() {
    let output = drill(&["run", "suites/fast/ccr-pull-cord.toml", "--seed", "1", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1, "{}", describe(&output));
    let record: serde_json::Value = serde_json::from_str(&text).expect("stdout is one JSON object");
    assert!(record.is_object());
    for field in
        ["scenario", "seed", "verdict", "expected", "history_sha256", "findings", "metrics", "replay"]
    {
        assert!(record.get(field).is_some(), "missing `{field}` in {text}");
    }
    for field in ["acked", "lost_acked", "duplicates", "rto_ms", "failovers", "simulated_ms", "events"] {
        assert!(record["metrics"][field].is_u64(), "missing or not a count: metrics.{field} in {text}");
    }
    assert_eq!(record["scenario"], "ccr-pull-cord");
    assert_eq!(record["seed"], 1);
    assert_eq!(record["verdict"], "pass");
    assert!(record["expected"].is_null());
    assert_eq!(record["history_sha256"].as_str().map(str::len), Some(64));
    assert_eq!(record["replay"], "drill run suites/fast/ccr-pull-cord.toml --seed 1");
}

#[test]
fn run_with_out_writes_a_history_whose_digest_is_the_one_in_the_summary() {
    use sha2::Digest;
    let out = tempfile::tempdir().unwrap();
    let output = drill(&["run", "suites/fast/ccr-pull-cord.toml", "--out", out.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(
        stdout(&output).contains("replay      drill run suites/fast/ccr-pull-cord.toml --seed 1"),
        "{}",
        describe(&output)
    );
    let history = std::fs::read(out.path().join("history.jsonl")).unwrap();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["history_sha256"], hex::encode(sha2::Sha256::digest(&history)));
    assert_eq!(
        summary["metrics"]["events"],
        history.split(|&byte| byte == b'\n').filter(|line| !line.is_empty()).count()
    );
}

#[test]
fn run_with_out_replaces_an_earlier_run_whole_and_refuses_a_directory_holding_other_files() {
    let directory = tempfile::tempdir().unwrap();
    let out = directory.path().join("run");
    let out_text = out.to_str().unwrap();
    for seed in ["1", "2"] {
        let output = drill(&["run", "suites/fast/ccr-pull-cord.toml", "--seed", seed, "--out", out_text]);
        assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["seed"].as_u64().map(|seed| seed.to_string()).as_deref(), Some(seed));
        assert!(std::fs::read_to_string(out.join("run.html")).unwrap().contains("id=\"timeline\""));
    }
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let refused = drill(&["run", "suites/fast/ccr-pull-cord.toml", "--out", out_text]);
    assert_eq!(refused.status.code(), Some(2), "{}", describe(&refused));
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine",
        "nothing of the user's is lost"
    );
    let leftovers: Vec<_> =
        std::fs::read_dir(directory.path()).unwrap().flatten().map(|entry| entry.file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no staging directory is left behind: {leftovers:?}");
}

#[test]
fn check_determinism_finds_identical_histories_for_a_fast_scenario() {
    let output = drill(&["check-determinism", "suites/fast/ccr-pull-cord.toml", "--seeds", "1"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(stdout(&output).contains("identical"), "{}", describe(&output));
}

#[test]
fn a_campaign_writes_the_same_record_it_prints_and_exits_by_its_outcome() {
    let out = tempfile::tempdir().unwrap();
    let output = drill(&[
        "campaign",
        "suites/fast/ccr-pull-cord.toml",
        "--seeds",
        "2",
        "--json",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let printed: serde_json::Value =
        serde_json::from_str(&stdout(&output)).expect("stdout is one JSON object");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("campaign.json")).unwrap()).unwrap();
    assert_eq!(printed, written);
    assert_eq!(written["runs"].as_array().map(Vec::len), Some(2));
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(stderr(&output).contains("2 of 2 runs recorded"), "a closing line: {}", describe(&output));
}

#[test]
fn campaign_json_is_the_same_bytes_whatever_the_number_of_workers() {
    let campaign = |jobs: &str| {
        let out = tempfile::tempdir().unwrap();
        let output = drill(&[
            "campaign",
            "suites/fast/ccr-pull-cord.toml",
            "suites/hazards",
            "--seeds",
            "2",
            "--jobs",
            jobs,
            "--out",
            out.path().to_str().unwrap(),
        ]);
        assert_ne!(output.status.code(), Some(2), "{}", describe(&output));
        std::fs::read(out.path().join("campaign.json")).unwrap()
    };
    assert!(campaign("1") == campaign("3"), "campaign.json differs between --jobs 1 and --jobs 3");
}

/// A page is drawn from the whole history, held in memory for it; a run too large for that is refused
/// before it starts, with the way to run it in bounded memory.
#[test]
fn a_run_page_of_a_run_too_large_to_hold_is_refused_before_the_run_starts() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let text = std::fs::read_to_string(repository_root().join("suites/bench/reference-drill.toml"))
        .expect("the reference drill")
        .replace("duration = \"1h\"", "duration = \"2d\"");
    let scenario = directory.path().join("two-days.toml");
    std::fs::write(&scenario, text).expect("write the scenario");
    let page = directory.path().join("page.html");
    let output = drill(&["run", scenario.to_str().unwrap(), "--html", page.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(
        stderr(&output).contains("a run page (--out, --html) holds the whole history"),
        "{}",
        describe(&output)
    );
    assert!(stderr(&output).contains("Run it without --out and --html"), "{}", describe(&output));
    assert!(!page.exists(), "nothing is written");
}
