//! The architecture invariants of ARCHITECTURE.md, checked mechanically.
//!
//! The dependency rule is read from every workspace member's `Cargo.toml` (not from `cargo metadata`,
//! so the check needs no network and no build): `failover` depends on no workspace crate and only on
//! an allow-list; `kernel` on no workspace crate; `emulators` on `kernel` and no other workspace crate;
//! `reports` on none of `failover`, `emulators` or `harness`; `harness` ties them together; `suites`
//! uses `harness`.
//!
//! Then sources are scanned outside comments, `use` groups expanded (`use std::{fs, time::Instant}`
//! counts as `std::fs` and `std::time::Instant`): `failover` for the clock, RNG, I/O, processes,
//! threads, printing and hash-ordered collections it must never touch, and `harness/src/check` for
//! anything of the world, the failover logic or the emulators (checkers read only the history).
//! Each rule also has a test that it bites on a sample and one that it lets a harmless sample through.

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
        let member_dirs: Vec<String> = manifest
            .get("workspace")
            .and_then(|workspace| workspace.get("members"))
            .and_then(toml::Value::as_array)
            .expect("workspace members")
            .iter()
            .map(|dir| dir.as_str().expect("member paths are strings").to_string())
            .collect();
        let members: Vec<(String, toml::Table)> = member_dirs
            .into_iter()
            .map(|dir| {
                let member = read_toml(&root.join(&dir).join("Cargo.toml"));
                (dir, member)
            })
            .collect();
        Workspace::from_manifests(&manifest, &members)
    }

    /// The workspace described by its root manifest and each member's (directory, manifest).
    fn from_manifests(manifest: &toml::Table, member_manifests: &[(String, toml::Table)]) -> Workspace {
        let workspace =
            manifest.get("workspace").and_then(toml::Value::as_table).expect("a [workspace] table");
        let shared =
            workspace.get("dependencies").and_then(toml::Value::as_table).cloned().unwrap_or_default();
        let mut members = BTreeMap::new();
        let mut dependencies = BTreeMap::new();
        for (dir, member) in member_manifests {
            let name = member
                .get("package")
                .and_then(|package| package.get("name"))
                .and_then(toml::Value::as_str)
                .unwrap_or_else(|| panic!("{dir}/Cargo.toml names no package"))
                .to_string();
            let mut found = BTreeSet::new();
            collect_dependencies(member, &shared, &mut found);
            // Platform-specific tables: [target.'cfg(...)'.dependencies] and friends.
            if let Some(targets) = member.get("target").and_then(toml::Value::as_table) {
                for target in targets.values().filter_map(toml::Value::as_table) {
                    collect_dependencies(target, &shared, &mut found);
                }
            }
            members.insert(dir.clone(), name.clone());
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

    /// The workspace crates `package` depends on (in any table) other than those in `allowed`.
    fn workspace_dependencies_beyond(&self, package: &str, allowed: &[&str]) -> Vec<String> {
        let own = self.own_crates();
        self.dependencies_of(package, ALL)
            .into_iter()
            .filter(|name| own.contains(name) && !allowed.contains(&name.as_str()))
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
const REPORTS_ALLOWED: &[&str] = &["serde", "serde_json", "quick-junit"];

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

/// Hardware does not know what software runs on it, and needs nothing of the workspace but virtual
/// time and seeded randomness.
#[test]
fn emulators_depend_on_the_kernel_and_on_no_other_workspace_crate() {
    let workspace = Workspace::load();
    assert_eq!(workspace.workspace_dependencies_beyond(EMULATORS, &[KERNEL]), Vec::<String>::new());
}

/// A workspace of kernel, emulators and failover whose emulators declare `emulators_dependencies`
/// (the body of its `[dependencies]`, then any further tables). `fail` is failover under another name.
fn sample_workspace(emulators_dependencies: &str) -> Workspace {
    let manifest: toml::Table = r#"
        [workspace]
        members = ["kernel", "emulators", "failover"]
        [workspace.dependencies]
        drill-kernel = { path = "kernel" }
        fail = { path = "failover", package = "drill-failover" }
    "#
    .parse()
    .expect("the sample root manifest");
    let member = |name: &str, dependencies: &str| {
        let text = format!("[package]\nname = \"{name}\"\n[dependencies]\n{dependencies}");
        text.parse::<toml::Table>().unwrap_or_else(|error| panic!("the sample {name}: {error}"))
    };
    let members = vec![
        ("kernel".to_string(), member(KERNEL, "")),
        ("emulators".to_string(), member(EMULATORS, emulators_dependencies)),
        ("failover".to_string(), member(FAILOVER, "serde = \"1\"")),
    ];
    Workspace::from_manifests(&manifest, &members)
}

#[test]
fn the_emulators_rule_bites_on_any_workspace_crate_but_the_kernel_renamed_or_not() {
    let renamed = sample_workspace("drill-kernel.workspace = true\nfail.workspace = true");
    assert_eq!(renamed.workspace_dependencies_beyond(EMULATORS, &[KERNEL]), [FAILOVER]);
    let for_tests_only =
        sample_workspace("drill-kernel.workspace = true\n[dev-dependencies]\ndrill-failover = \"0.1\"");
    assert_eq!(for_tests_only.workspace_dependencies_beyond(EMULATORS, &[KERNEL]), [FAILOVER]);
}

#[test]
fn the_emulators_rule_lets_them_use_the_kernel_and_outside_crates() {
    let workspace = sample_workspace(
        "drill-kernel.workspace = true\nserde = \"1\"\n[dev-dependencies]\ntempfile = \"3\"",
    );
    assert_eq!(workspace.workspace_dependencies_beyond(EMULATORS, &[KERNEL]), Vec::<String>::new());
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
    ("std::io", "I/O: bytes leave as outputs the driver writes"),
    ("std::process", "processes: failover runs inside whatever process drives it"),
    ("std::thread", "threads: a node is one state machine driven by one caller"),
    ("println!", "printing is I/O: what happened leaves as an output"),
    ("print!", "printing is I/O: what happened leaves as an output"),
    ("eprintln!", "printing is I/O: what happened leaves as an output"),
    ("eprint!", "printing is I/O: what happened leaves as an output"),
];

/// What the checkers' code may not mention: they judge the history (`crate::history`) and nothing else,
/// so they cannot see the world, a node's own state or the emulators' live state.
const CHECK_BANS: &[(&str, &str)] = &[
    ("crate::world", "the simulated world: checkers read only the recorded history"),
    ("super::world", "the simulated world: checkers read only the recorded history"),
    ("failover::", "the failover logic: checkers judge what happened, never a node's belief"),
    ("emulators::", "the emulators: their ground truth reaches checkers only through the history"),
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

/// Whether `code` mentions `ban`. A macro ban matches only the whole macro name: `print!` is not
/// found inside `eprint!`, nor `println!` inside `eprintln!`.
fn mentions(code: &str, ban: &str) -> bool {
    let whole_name = ban.ends_with('!');
    code.match_indices(ban).any(|(index, _)| {
        !whole_name || !code[..index].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// `(line, ban, reason)` for every banned mention in the code of `text`, once per line and ban, in line
/// order. Each line of code is scanned, and so is every path a `use` declaration imports, groups
/// expanded: `use std::{fs, time::Instant};` imports `std::fs` and `std::time::Instant`. An imported
/// path is scanned as `path::`, because importing `crate::world` itself is using it.
fn banned_mentions_in<'a>(text: &str, bans: &'a [(&'a str, &'a str)]) -> Vec<(usize, &'a str, &'a str)> {
    let code = code_without_comments(text);
    let mut found = BTreeSet::new();
    for (number, line) in code.lines().enumerate() {
        for (index, (ban, _)) in bans.iter().enumerate() {
            if mentions(line, ban) {
                found.insert((number + 1, index));
            }
        }
    }
    for (line, path) in imported_paths(&code) {
        let path = format!("{path}::");
        for (index, (ban, _)) in bans.iter().enumerate() {
            if mentions(&path, ban) {
                found.insert((line, index));
            }
        }
    }
    found.into_iter().map(|(line, index)| (line, bans[index].0, bans[index].1)).collect()
}

/// `file:line: \`ban\` (reason)` for every banned mention in the code of `files`.
fn banned_mentions(files: &[PathBuf], bans: &[(&str, &str)]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()));
        for (line, ban, reason) in banned_mentions_in(&text, bans) {
            found.push(format!("{}:{line}: `{ban}` ({reason})", file.display()));
        }
    }
    found
}

/// What `use` trees are made of; everything else is `Other`.
#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    PathSeparator,
    Open,
    Close,
    Comma,
    Star,
    Semicolon,
    Other,
}

/// The tokens of `code` (comments already blanked), each with its line. A string literal is one
/// `Other`, so that a `use` inside a string is not read as an import.
fn tokens(code: &str) -> Vec<(usize, Token)> {
    let chars: Vec<char> = code.chars().collect();
    let word_char = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let token = if c == '\n' || c.is_whitespace() {
            i += 1;
            None
        } else if word_char(c) {
            while i < chars.len() && word_char(chars[i]) {
                i += 1;
            }
            Some(Token::Word(chars[start..i].iter().collect()))
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            i += 2;
            Some(Token::PathSeparator)
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i = (i + 1).min(chars.len());
            Some(Token::Other)
        } else {
            i += 1;
            Some(match c {
                '{' => Token::Open,
                '}' => Token::Close,
                ',' => Token::Comma,
                '*' => Token::Star,
                ';' => Token::Semicolon,
                _ => Token::Other,
            })
        };
        if let Some(token) = token {
            found.push((line, token));
        }
        line += chars[start..i].iter().filter(|&&c| c == '\n').count();
    }
    found
}

/// Every path that a `use` declaration in `code` imports, with the line of its last segment, groups
/// expanded: `use std::{io::{self, Write}, time::Instant as Now};` imports `std::io` (line of
/// `self`), `std::io::Write` and `std::time::Instant`.
fn imported_paths(code: &str) -> Vec<(usize, String)> {
    let tokens = tokens(code);
    let mut found = Vec::new();
    for (index, (_, token)) in tokens.iter().enumerate() {
        if *token != Token::Word("use".to_string()) {
            continue;
        }
        let mut position = index + 1;
        let mut paths = Vec::new();
        if use_tree(&tokens, &mut position, &[], &mut paths).is_some()
            && tokens.get(position).is_some_and(|(_, token)| *token == Token::Semicolon)
        {
            found.extend(paths);
        }
    }
    found
}

/// Reads one use tree at `position`, appending its paths (below `prefix`) to `paths`; `None` when the
/// tokens there are not a use tree.
fn use_tree(
    tokens: &[(usize, Token)],
    position: &mut usize,
    prefix: &[String],
    paths: &mut Vec<(usize, String)>,
) -> Option<()> {
    let at = |position: usize| tokens.get(position).map(|(_, token)| token);
    let mut path = prefix.to_vec();
    if at(*position) == Some(&Token::PathSeparator) {
        *position += 1; // `use ::std::fs;`
    }
    loop {
        let (line, token) = tokens.get(*position)?;
        *position += 1;
        match token {
            Token::Word(segment) => path.push(segment.clone()),
            Token::Star => {
                path.push("*".to_string());
                paths.push((*line, path.join("::")));
                return Some(());
            }
            Token::Open => loop {
                if at(*position) == Some(&Token::Close) {
                    *position += 1;
                    return Some(());
                }
                use_tree(tokens, position, &path, paths)?;
                match at(*position) {
                    Some(Token::Comma) => *position += 1,
                    Some(Token::Close) => {
                        *position += 1;
                        return Some(());
                    }
                    _ => return None,
                }
            },
            _ => return None,
        }
        match at(*position) {
            Some(Token::PathSeparator) => *position += 1,
            next => {
                if next == Some(&Token::Word("as".to_string())) {
                    *position += 2; // the new name is not part of the imported path
                }
                if path.last().is_some_and(|segment| segment == "self") {
                    path.pop();
                }
                paths.push((*line, path.join("::")));
                return Some(());
            }
        }
    }
}

#[test]
fn failover_code_reads_no_clock_draws_no_unseeded_randomness_does_no_io_and_uses_no_hash_order() {
    let mut files = Vec::new();
    rust_files(&repository_root().join("failover").join("src"), &mut files);
    assert!(!files.is_empty(), "failover/src holds the failover logic");
    let found = banned_mentions(&files, FAILOVER_BANS);
    assert!(found.is_empty(), "failover must stay sans-IO and deterministic:\n{}", found.join("\n"));
}

#[test]
fn the_checkers_use_nothing_of_the_world_the_failover_logic_or_the_emulators() {
    let mut files = Vec::new();
    rust_files(&repository_root().join("harness").join("src").join("check"), &mut files);
    assert!(!files.is_empty(), "harness/src/check holds the checkers");
    let found = banned_mentions(&files, CHECK_BANS);
    assert!(found.is_empty(), "checkers read only the history:\n{}", found.join("\n"));
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
    let found = banned_mentions(&[file], FAILOVER_BANS);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].ends_with(":5: `HashMap` (iteration order differs per process: use BTreeMap)"),
        "{found:?}"
    );
}

/// `(line, ban)` of every banned mention in `text`.
fn found_in(text: &str, bans: &[(&str, &str)]) -> Vec<(usize, String)> {
    banned_mentions_in(text, bans).into_iter().map(|(line, ban, _)| (line, ban.to_string())).collect()
}

#[test]
fn the_source_scan_expands_grouped_imports_however_they_are_laid_out() {
    let text = "\
use std::{fs, time::Instant};
use ::std::{
    io::{self, Write},
    process as proc,
    collections::{BTreeMap, HashSet},
};
use std::*;
";
    assert_eq!(
        imported_paths(&code_without_comments(text)),
        [
            (1, "std::fs".to_string()),
            (1, "std::time::Instant".to_string()),
            (3, "std::io".to_string()),
            (3, "std::io::Write".to_string()),
            (4, "std::process".to_string()),
            (5, "std::collections::BTreeMap".to_string()),
            (5, "std::collections::HashSet".to_string()),
            (7, "std::*".to_string()),
        ]
    );
    let found = found_in(text, FAILOVER_BANS);
    let expected: Vec<(usize, String)> =
        [(1, "std::time"), (1, "std::fs"), (3, "std::io"), (4, "std::process"), (5, "HashSet")]
            .map(|(line, ban)| (line, ban.to_string()))
            .into();
    assert_eq!(found, expected);
}

#[test]
fn failover_may_not_do_io_start_processes_or_threads_or_print() {
    let text = "\
fn f() {
    std::thread::sleep(d);
    let child = std::process::Command::new(\"sh\");
    std::io::stdout();
    println!(\"a\"); print!(\"b\");
    eprintln!(\"c\"); eprint!(\"d\");
}
";
    let expected: Vec<(usize, String)> = [
        (2, "std::thread"),
        (3, "std::process"),
        (4, "std::io"),
        (5, "println!"),
        (5, "print!"),
        (6, "eprintln!"),
        (6, "eprint!"),
    ]
    .map(|(line, ban)| (line, ban.to_string()))
    .into();
    assert_eq!(found_in(text, FAILOVER_BANS), expected);
}

#[test]
fn the_failover_scan_lets_its_own_io_module_formatting_and_comments_through() {
    let text = "\
//! Never println! here: use std::{io, process} is what the driver does.
use crate::io::{Input, Output};
use core::{fmt::Write, time::Duration};
pub use self::io::Message;
fn print_summary(f: &mut core::fmt::Formatter) -> core::fmt::Result { write!(f, \"{}\", format!(\"x\")) }
let reprint = sprint_all; // eprint!(\"no\")
let use_count = 1; let text = \"use std::{fs};\";
";
    assert_eq!(found_in(text, FAILOVER_BANS), Vec::<(usize, String)>::new());
}

#[test]
fn the_checkers_scan_bites_on_the_world_failover_and_emulators_grouped_renamed_or_inline() {
    let text = "\
use crate::{history::Event, world::World};
use super::super::world;
use failover as logic;
fn state(node: &failover::Node) {}
use emulators::san::{Lun};
pub(crate) use super::world::*;
";
    let expected: Vec<(usize, String)> = [
        (1, "crate::world"),
        (2, "super::world"),
        (3, "failover::"),
        (4, "failover::"),
        (5, "emulators::"),
        (6, "super::world"),
    ]
    .map(|(line, ban)| (line, ban.to_string()))
    .into();
    assert_eq!(found_in(text, CHECK_BANS), expected);
}

#[test]
fn the_checkers_scan_lets_the_history_verdicts_and_kernel_through() {
    let text = "\
//! Rebuilds the world from the history; never reads crate::world or failover::Node.
use super::model::{Model, Mount};
use crate::history::{Event, Name};
use crate::verdict::{Violation, ViolationKind};
use kernel::SimTime;
fn count(event: &Event) -> bool { matches!(event, Event::Failover { .. }) }
let failovers = metrics.failovers; let world_view = \"the world\";
";
    assert_eq!(found_in(text, CHECK_BANS), Vec::<(usize, String)>::new());
}
