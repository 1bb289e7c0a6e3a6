//! Tests of scenario loading over the files in `suites/` and the documentation.
//!
//! Each file of `suites/malformed/` is its own test in `suites/tests/scenarios.rs` (it must fail with
//! the message and location its leading comments declare), and every catalogue file's loading is
//! checked in `suites/tests/catalogue.rs`. Here: no truncated or mangled catalogue file panics the
//! loader, and docs/scenarios.md matches what the parser accepts.

use harness::scenario;
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
    let mut reduced = scenario::parse(path, &without_defaults.join("\n"))
        .unwrap_or_else(|error| panic!("the example without its default lines fails:\n{error}"));
    // The texts differ by the default lines, so their digests do; everything they mean must not.
    reduced.sha256.clone_from(&full.sha256);
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
