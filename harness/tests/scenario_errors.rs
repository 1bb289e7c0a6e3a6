//! Data-driven tests of scenario loading over the files in `suites/`.
//!
//! Every file in `suites/malformed/` states, in its leading comments, the error it must produce:
//! `# expect: <part of the message>` and `# at: <line>:<column>`. Adding a malformed case is adding a
//! file; no test code changes. Every catalogue file in `suites/fast/` and `suites/hazards/` must load.

use harness::scenario::{self, Scenario, ScenarioError, Tier};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn suite_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("suites").join(name)
}

/// The `.toml` files of a suite directory, sorted so failures are reported in a stable order.
fn toml_files(name: &str) -> Vec<PathBuf> {
    let dir = suite_dir(name);
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "toml"))
        .collect();
    files.sort();
    files
}

/// Loads a file, turning a panic into a test failure message instead of aborting the whole loop.
fn load_without_panic(path: &Path) -> Result<Result<Scenario, ScenarioError>, String> {
    panic::catch_unwind(AssertUnwindSafe(|| scenario::load(path))).map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|text| text.to_string()))
            .unwrap_or_default();
        format!("{}: loading panicked: {message}", path.display())
    })
}

/// The expectation a malformed file declares in its leading comments.
struct Expectation {
    substring: String,
    line: usize,
    column: usize,
}

fn expectation(path: &Path) -> Result<Expectation, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let mut substring = None;
    let mut location = None;
    for line in text.lines().take_while(|line| line.starts_with('#')) {
        if let Some(rest) = line.strip_prefix("# expect:") {
            substring = Some(rest.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("# at:") {
            let parsed = rest.trim().split_once(':').and_then(|(line, column)| {
                Some((line.trim().parse::<usize>().ok()?, column.trim().parse::<usize>().ok()?))
            });
            location =
                Some(parsed.ok_or_else(|| format!("{}: `# at:` is not <line>:<column>", path.display()))?);
        }
    }
    let substring = substring.ok_or_else(|| format!("{}: no `# expect:` comment", path.display()))?;
    let (line, column) = location.ok_or_else(|| format!("{}: no `# at:` comment", path.display()))?;
    Ok(Expectation { substring, line, column })
}

fn check_malformed(path: &Path) -> Result<(), String> {
    let expected = expectation(path)?;
    let error = match load_without_panic(path)? {
        Ok(_) => {
            return Err(format!("{}: loaded, but should fail with `{}`", path.display(), expected.substring));
        }
        Err(error) => error,
    };
    let mut problems = Vec::new();
    if !error.message.contains(&expected.substring) {
        problems.push(format!("message `{}` does not contain `{}`", error.message, expected.substring));
    }
    if (error.line, error.column) != (expected.line, expected.column) {
        problems.push(format!(
            "located at {}:{}, expected {}:{}",
            error.line, error.column, expected.line, expected.column
        ));
    }
    let shown = error.to_string();
    let position = format!("{}:{}:{}: ", path.display(), error.line, error.column);
    if !shown.starts_with(&position) {
        problems.push(format!("Display does not start with `{position}`"));
    }
    if !shown.contains(&error.source_line) || !shown.contains('^') {
        problems.push("Display lacks the source line and caret".to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}:\n    {}\n{shown}", path.display(), problems.join("\n    ")))
    }
}

#[test]
fn every_malformed_scenario_fails_with_its_declared_message_and_location() {
    let files = toml_files("malformed");
    assert!(files.len() >= 14, "expected at least 14 malformed scenarios, found {}", files.len());
    let failures: Vec<String> = files.iter().filter_map(|path| check_malformed(path).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} malformed scenarios misbehaved:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn every_catalogue_scenario_loads_and_sits_in_the_directory_of_its_tier() {
    let mut failures = Vec::new();
    let mut count = 0;
    for (directory, tier) in [("fast", Tier::Fast), ("hazards", Tier::Hazard)] {
        for path in toml_files(directory) {
            count += 1;
            match load_without_panic(&path) {
                Err(panicked) => failures.push(panicked),
                Ok(Err(error)) => failures.push(error.to_string()),
                Ok(Ok(scenario)) if scenario.tier != tier => {
                    failures.push(format!(
                        "{}: tier {} in the {directory} directory",
                        path.display(),
                        scenario.tier
                    ));
                }
                Ok(Ok(_)) => {}
            }
        }
    }
    assert!(count > 0, "no catalogue scenarios found");
    assert!(failures.is_empty(), "catalogue scenarios failed to load:\n{}", failures.join("\n"));
}

/// Cutting a valid file short or dropping one of its lines produces every kind of malformation at
/// once: unterminated strings, half tables, missing keys, dangling references. None may panic.
#[test]
fn no_truncation_or_line_deletion_of_a_catalogue_file_panics() {
    let mut panics = Vec::new();
    for path in toml_files("fast").iter().chain(toml_files("hazards").iter()) {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut variants: Vec<String> = Vec::new();
        let boundaries: Vec<usize> = (0..=text.len()).filter(|&index| text.is_char_boundary(index)).collect();
        for &end in boundaries.iter().step_by(5) {
            variants.push(text.get(..end).unwrap_or("").to_string());
        }
        let lines: Vec<&str> = text.lines().collect();
        for skip in 0..lines.len() {
            let kept: Vec<&str> =
                lines.iter().enumerate().filter(|&(index, _)| index != skip).map(|(_, line)| *line).collect();
            variants.push(kept.join("\n"));
        }
        for variant in &variants {
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| scenario::parse(path, variant)));
            if outcome.is_err() {
                panics.push(format!("{} panicked on:\n{variant}", path.display()));
            }
        }
    }
    assert!(panics.is_empty(), "{}", panics.join("\n\n"));
}

#[test]
fn a_missing_file_is_an_error_without_a_location() {
    let path = suite_dir("malformed").join("no-such-scenario.toml");
    let error = scenario::load(&path).expect_err("a missing file is an error");
    assert_eq!((error.line, error.column), (0, 0));
    assert!(error.to_string().starts_with(&format!("{}: ", path.display())));
}

#[test]
fn a_file_larger_than_any_scenario_is_refused_without_a_location() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("huge.toml");
    std::fs::write(&path, "#".repeat((1 << 20) + 1)).unwrap();
    let error = scenario::load(&path).expect_err("a 1 MiB comment is not a scenario");
    assert_eq!((error.line, error.column), (0, 0));
    assert!(error.message.contains("larger than 1 MiB"), "{error}");
}

#[test]
fn a_directory_is_refused_as_a_scenario_file_without_being_read() {
    let directory = tempfile::tempdir().unwrap();
    let error = scenario::load(directory.path()).expect_err("a directory is not a scenario");
    assert!(error.message.contains("it is a directory, not a regular file"), "{error}");
}

fn documentation() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("docs").join("scenarios.md");
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// The last TOML block of the documentation, which is the complete example.
fn documented_example(documentation: &str) -> String {
    let start =
        documentation.rfind("```toml\n").map(|start| start + "```toml\n".len()).expect("a TOML block");
    toml_block_at(documentation, start)
}

/// The TOML block under the "A shared-disk example" heading.
fn documented_shared_disk_example(documentation: &str) -> String {
    let heading = documentation.find("## A shared-disk example").expect("the shared-disk example heading");
    let start = documentation[heading..].find("```toml\n").map(|start| heading + start + "```toml\n".len());
    toml_block_at(documentation, start.expect("a TOML block under the heading"))
}

fn toml_block_at(documentation: &str, start: usize) -> String {
    let length = documentation.get(start..).and_then(|rest| rest.find("```")).expect("the block ends");
    documentation.get(start..start + length).expect("the block is in range").to_string()
}

#[test]
fn the_documented_example_loads_the_same_with_or_without_its_default_lines() {
    let documentation = documentation();
    for example in [documented_example(&documentation), documented_shared_disk_example(&documentation)] {
        example_defaults_are_defaults(&example);
    }
}

fn example_defaults_are_defaults(example: &str) {
    let path = Path::new("docs/scenarios.md");
    let full = scenario::parse(path, example)
        .unwrap_or_else(|error| panic!("the documented example fails:\n{error}"));
    let without_defaults: Vec<&str> = example.lines().filter(|line| !line.contains("# default")).collect();
    let reduced = scenario::parse(path, &without_defaults.join("\n"))
        .unwrap_or_else(|error| panic!("the example without its default lines fails:\n{error}"));
    assert_eq!(full, reduced, "a line marked `# default` is not the default");
}

/// Asks the parser for each table's allowed keys (by writing an unknown one) and checks that the
/// documentation mentions every one of them, so a new key cannot go undocumented.
#[test]
fn the_documentation_mentions_every_key_and_fault_kind() {
    let documentation = documentation();
    let example = documented_example(&documentation);
    let probe = "zz_unknown = 1";
    let mut variants = vec![format!("{probe}\n{example}")];
    for header in
        ["[cluster]", "[[network]]", "[[host]]", "[[database]]", "[[database.resource]]", "[transport]"]
    {
        variants.push(example.replacen(&format!("{header}\n"), &format!("{header}\n{probe}\n"), 1));
    }
    for header in ["[workload]", "[[fault]]", "[nemesis]", "[checks]"] {
        variants.push(example.replacen(&format!("{header}\n"), &format!("{header}\n{probe}\n"), 1));
    }
    variants.push(example.replacen("{ from", &format!("{{ {probe}, from"), 1));
    let shared_disk = documented_shared_disk_example(&documentation);
    for header in ["[storage]", "[[lun]]"] {
        variants.push(shared_disk.replacen(&format!("{header}\n"), &format!("{header}\n{probe}\n"), 1));
    }
    let mut undocumented = Vec::new();
    for variant in &variants {
        let error =
            scenario::parse(Path::new("probe.toml"), variant).expect_err("the unknown key is rejected");
        let allowed = error.message.split_once("allowed keys are ").map_or("", |(_, keys)| keys);
        assert!(!allowed.is_empty(), "no allowed keys in `{}`", error.message);
        for key in allowed.split(", ").map(|key| key.trim_matches('`')) {
            let mentioned = documentation.contains(&format!("| `{key}` |"))
                || documentation.contains(&format!("[{key}]"))
                || documentation.contains(&format!(".{key}]"));
            if !mentioned {
                undocumented.push(format!("key `{key}` (from: {})", error.message));
            }
        }
    }
    for kind in scenario::FaultKind::ALL {
        if !documentation.contains(&format!("| `{kind}` |")) {
            undocumented.push(format!("fault kind `{kind}`"));
        }
    }
    assert!(undocumented.is_empty(), "undocumented in docs/scenarios.md:\n{}", undocumented.join("\n"));
}
