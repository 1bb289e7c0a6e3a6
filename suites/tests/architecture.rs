//! The architecture invariants of ARCHITECTURE.md, checked mechanically.
//!
//! The dependency rule is read from every workspace member's `Cargo.toml` (not from `cargo metadata`,
//! so the check needs no network and no build): `failover` depends on no workspace crate and only on
//! an allow-list; `kernel` on no workspace crate; `emulators` never on `failover` or `harness`;
//! `reports` on none of `failover`, `emulators` or `harness`; `harness` ties them together; `suites`
//! uses `harness`. The source of `failover` is then scanned, outside comments, for the clock, RNG,
//! I/O and hash-ordered collections it must never touch.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("suites sits in the workspace").to_path_buf()
}

fn read_toml(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    text.parse().unwrap_or_else(|error| panic!("{} is not valid TOML: {error}", path.display()))
}

/// Which table a dependency is declared in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Normal,
    Dev,
    Build,
}

const SHIPPED: &[Kind] = &[Kind::Normal, Kind::Build];
const ALL: &[Kind] = &[Kind::Normal, Kind::Dev, Kind::Build];

/// Every member's package name and dependencies (by real package name, renames resolved).
struct Workspace {
    /// Member directory (as listed in `[workspace] members`) to package name.
    members: BTreeMap<String, String>,
    /// Package name to (kind, dependency package name).
    dependencies: BTreeMap<String, BTreeSet<(Kind, String)>>,
}

impl Workspace {
    fn load() -> Workspace {
        let root = repository_root();
        let manifest = read_toml(&root.join("Cargo.toml"));
        let workspace =
            manifest.get("workspace").and_then(toml::Value::as_table).expect("a [workspace] table");
        let shared =
            workspace.get("dependencies").and_then(toml::Value::as_table).cloned().unwrap_or_default();
        let member_dirs =
            workspace.get("members").and_then(toml::Value::as_array).expect("workspace members");
        let mut members = BTreeMap::new();
        let mut dependencies = BTreeMap::new();
        for dir in member_dirs {
            let dir = dir.as_str().expect("member paths are strings");
            let member = read_toml(&root.join(dir).join("Cargo.toml"));
            let name = member
                .get("package")
                .and_then(|package| package.get("name"))
                .and_then(toml::Value::as_str)
                .unwrap_or_else(|| panic!("{dir}/Cargo.toml names no package"))
                .to_string();
            let mut found = BTreeSet::new();
            collect_dependencies(&member, &shared, &mut found);
            // Platform-specific tables: [target.'cfg(...)'.dependencies] and friends.
            if let Some(targets) = member.get("target").and_then(toml::Value::as_table) {
                for target in targets.values().filter_map(toml::Value::as_table) {
                    collect_dependencies(target, &shared, &mut found);
                }
            }
            members.insert(dir.to_string(), name.clone());
            dependencies.insert(name, found);
        }
        Workspace { members, dependencies }
    }

    /// The package names of the workspace's own crates.
    fn own_crates(&self) -> BTreeSet<String> {
        self.members.values().cloned().collect()
    }

    /// The dependencies of `package` declared in any of `kinds`.
    fn dependencies_of(&self, package: &str, kinds: &[Kind]) -> BTreeSet<String> {
        self.dependencies
            .get(package)
            .unwrap_or_else(|| panic!("{package} is not a workspace member"))
            .iter()
            .filter(|(kind, _)| kinds.contains(kind))
            .map(|(_, name)| name.clone())
            .collect()
    }

    /// Which of `forbidden` `package` depends on in any of `kinds`.
    fn forbidden_dependencies(&self, package: &str, kinds: &[Kind], forbidden: &[&str]) -> Vec<String> {
        self.dependencies_of(package, kinds)
            .into_iter()
            .filter(|name| forbidden.contains(&name.as_str()))
            .collect()
    }
}

fn collect_dependencies(table: &toml::Table, shared: &toml::Table, found: &mut BTreeSet<(Kind, String)>) {
    for (key, kind) in
        [("dependencies", Kind::Normal), ("dev-dependencies", Kind::Dev), ("build-dependencies", Kind::Build)]
    {
        let Some(declared) = table.get(key).and_then(toml::Value::as_table) else { continue };
        for (name, spec) in declared {
            found.insert((kind, package_name(name, spec, shared)));
        }
    }
}

/// The real package behind a dependency key: `package = "..."` renames it, and `workspace = true`
/// takes the declaration (and any rename) from `[workspace.dependencies]`.
fn package_name(key: &str, spec: &toml::Value, shared: &toml::Table) -> String {
    let renamed = |spec: &toml::Value| spec.get("package").and_then(toml::Value::as_str).map(str::to_string);
    if let Some(name) = renamed(spec) {
        return name;
    }
    if spec.get("workspace").and_then(toml::Value::as_bool) == Some(true)
        && let Some(name) = shared.get(key).and_then(renamed)
    {
        return name;
    }
    key.to_string()
}

const KERNEL: &str = "drill-kernel";
const FAILOVER: &str = "drill-failover";
const EMULATORS: &str = "drill-emulators";
const HARNESS: &str = "drill-harness";
const REPORTS: &str = "drill-reports";
const SUITES: &str = "drill-suites";

/// What `failover` may depend on: serde only derives (de)serialisation and does no I/O of its own.
const FAILOVER_ALLOWED: &[&str] = &["serde"];

/// What `reports` may depend on: it models and renders records, nothing more.
const REPORTS_ALLOWED: &[&str] = &["serde", "serde_json"];

#[test]
fn every_workspace_member_is_covered_by_the_dependency_rule() {
    // A new crate must get its place in the rule (here and in ARCHITECTURE.md) before it is added.
    let workspace = Workspace::load();
    let expected: BTreeSet<String> =
        [KERNEL, FAILOVER, EMULATORS, HARNESS, REPORTS, SUITES].iter().map(|name| name.to_string()).collect();
    assert_eq!(workspace.own_crates(), expected);
}

#[test]
fn failover_depends_on_no_workspace_crate_and_only_on_the_allow_list() {
    let workspace = Workspace::load();
    let own: Vec<String> = workspace.own_crates().into_iter().collect();
    let own: Vec<&str> = own.iter().map(String::as_str).collect();
    assert_eq!(workspace.forbidden_dependencies(FAILOVER, ALL, &own), Vec::<String>::new());
    let outside: Vec<String> = workspace
        .dependencies_of(FAILOVER, SHIPPED)
        .into_iter()
        .filter(|name| !FAILOVER_ALLOWED.contains(&name.as_str()))
        .collect();
    assert!(
        outside.is_empty(),
        "failover may only depend on {FAILOVER_ALLOWED:?}, but also depends on {outside:?}"
    );
}

#[test]
fn the_kernel_depends_on_no_workspace_crate() {
    let workspace = Workspace::load();
    let own: Vec<String> = workspace.own_crates().into_iter().collect();
    let own: Vec<&str> = own.iter().map(String::as_str).collect();
    assert_eq!(workspace.forbidden_dependencies(KERNEL, ALL, &own), Vec::<String>::new());
}

#[test]
fn emulators_never_depend_on_the_failover_logic_or_the_harness() {
    let workspace = Workspace::load();
    assert_eq!(
        workspace.forbidden_dependencies(EMULATORS, ALL, &[FAILOVER, HARNESS, SUITES]),
        Vec::<String>::new()
    );
}

#[test]
fn reports_depend_on_neither_failover_nor_emulators_nor_the_harness() {
    let workspace = Workspace::load();
    assert_eq!(
        workspace.forbidden_dependencies(REPORTS, ALL, &[FAILOVER, EMULATORS, HARNESS, KERNEL, SUITES]),
        Vec::<String>::new()
    );
    let outside: Vec<String> = workspace
        .dependencies_of(REPORTS, SHIPPED)
        .into_iter()
        .filter(|name| !REPORTS_ALLOWED.contains(&name.as_str()))
        .collect();
    assert!(
        outside.is_empty(),
        "reports may only depend on {REPORTS_ALLOWED:?}, but also depends on {outside:?}"
    );
}

#[test]
fn the_harness_ties_kernel_failover_emulators_and_reports_together() {
    let workspace = Workspace::load();
    let shipped = workspace.dependencies_of(HARNESS, SHIPPED);
    for layer in [KERNEL, FAILOVER, EMULATORS, REPORTS] {
        assert!(shipped.contains(layer), "harness does not depend on {layer}");
    }
    assert!(!workspace.dependencies_of(HARNESS, ALL).contains(SUITES), "harness must not depend on suites");
}

#[test]
fn the_suites_use_the_harness_and_nothing_but_the_suites_depends_on_it() {
    let workspace = Workspace::load();
    assert!(workspace.dependencies_of(SUITES, ALL).contains(HARNESS), "suites must use the harness");
    for package in workspace.own_crates().iter().filter(|package| *package != SUITES) {
        assert!(
            !workspace.dependencies_of(package, ALL).contains(HARNESS),
            "{package} depends on the harness"
        );
    }
}

// ----- failover's source -----

/// What failover's code may not mention, and why. Time, randomness and I/O enter only as inputs from
/// the driver; hash-ordered collections would make the order of outputs differ between processes.
const FAILOVER_BANS: &[(&str, &str)] = &[
    ("std::time", "time comes from the driver as `now`; use core::time::Duration for spans"),
    ("SystemTime", "wall-clock time: time comes from the driver"),
    ("Instant::now", "wall-clock time: time comes from the driver"),
    ("thread_rng", "an unseeded RNG: chance comes from the driver as an input"),
    ("HashMap", "iteration order differs per process: use BTreeMap"),
    ("HashSet", "iteration order differs per process: use BTreeSet"),
    ("std::fs", "file I/O: state that must persist is handed to the driver as output"),
    ("std::net", "network I/O: messages are outputs the driver sends"),
    ("tokio", "an async runtime: the tokio driver lives outside failover"),
    ("turmoil", "a simulator: failover never knows it is simulated"),
];

/// `text` with every comment (line, block, nested block, doc) replaced by spaces, newlines kept so
/// line numbers still match. String and character literals are kept, and a `//` or `/*` inside one
/// does not start a comment.
fn code_without_comments(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !continues_identifier(&chars, i) {
            // A raw string: r"..." or r#"..."#, with as many hashes closing as opening.
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            let mut end = j + 1;
            while end < chars.len() {
                if chars[end] == '"' && (1..=hashes).all(|k| chars.get(end + k) == Some(&'#')) {
                    end += 1 + hashes;
                    break;
                }
                end += 1;
            }
            out.extend(&chars[i..end.min(chars.len())]);
            i = end;
        } else if c == '"' {
            let mut end = i + 1;
            while end < chars.len() && chars[end] != '"' {
                end += if chars[end] == '\\' { 2 } else { 1 };
            }
            let end = (end + 1).min(chars.len());
            out.extend(&chars[i..end]);
            i = end;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}', '"') or a lifetime ('a); only the literal is
            // skipped whole, so a quote character inside it cannot open a string.
            let end = if next == Some('\\') {
                chars
                    .get(i + 3..)
                    .and_then(|rest| rest.iter().position(|&d| d == '\''))
                    .map(|offset| i + 3 + offset + 1)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            let end = end.unwrap_or(i + 1).min(chars.len());
            out.extend(&chars[i..end]);
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether the character before `index` makes it part of an identifier (as the `r` in `for"` would not
/// be, but the `r` in `bar"` is).
fn continues_identifier(chars: &[char], index: usize) -> bool {
    index > 0 && (chars[index - 1].is_alphanumeric() || chars[index - 1] == '_')
}

fn rust_files(directory: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(directory)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", directory.display()));
    let mut paths: Vec<PathBuf> = entries.map(|entry| entry.expect("a directory entry").path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// `file:line: \`ban\` (reason)` for every banned mention in the code of `files`.
fn banned_mentions(files: &[PathBuf]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()));
        for (number, line) in code_without_comments(&text).lines().enumerate() {
            for (ban, reason) in FAILOVER_BANS {
                if line.contains(ban) {
                    found.push(format!("{}:{}: `{ban}` ({reason})", file.display(), number + 1));
                }
            }
        }
    }
    found
}

#[test]
fn failover_code_reads_no_clock_draws_no_unseeded_randomness_does_no_io_and_uses_no_hash_order() {
    let mut files = Vec::new();
    rust_files(&repository_root().join("failover").join("src"), &mut files);
    assert!(!files.is_empty(), "failover/src holds the failover logic");
    let found = banned_mentions(&files);
    assert!(found.is_empty(), "failover must stay sans-IO and deterministic:\n{}", found.join("\n"));
}

#[test]
fn the_source_scan_ignores_comments_but_not_code_or_strings() {
    let text = "\
//! Unlike a tokio daemon, this is sans-IO.
/* HashMap /* nested HashSet */ still a comment: std::fs */
let url = \"http://example\"; // a // inside a string does not start a comment; SystemTime
let quote = '\"'; let escaped = '\\''; let life: &'static str = \"x\"; let raw = r#\"a \"// raw\" b\"#;
use std::collections::HashMap;
";
    let code = code_without_comments(text);
    assert_eq!(code.lines().count(), text.lines().count(), "line numbers are kept:\n{code}");
    assert!(!code.contains("tokio") && !code.contains("HashSet") && !code.contains("std::fs"), "{code}");
    assert!(!code.contains("SystemTime"), "{code}");
    assert!(code.contains("\"http://example\""), "{code}");
    assert!(code.contains("r#\"a \"// raw\" b\"#"), "{code}");
    assert!(code.lines().nth(4).is_some_and(|line| line.contains("HashMap")), "{code}");
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("lib.rs");
    std::fs::write(&file, text).unwrap();
    let found = banned_mentions(&[file]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].ends_with(":5: `HashMap` (iteration order differs per process: use BTreeMap)"),
        "{found:?}"
    );
}
