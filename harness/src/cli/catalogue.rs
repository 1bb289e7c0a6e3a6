//! Finding and loading scenario files: the default catalogue, directories expanded to their `*.toml`
//! files, and every load error gathered before anything runs.

use super::error::CliError;
use crate::scenario::{self, Scenario};
use std::path::{Path, PathBuf};

/// The catalogue `drill list` shows by default, relative to the repository root.
pub const LIST_DEFAULT: &[&str] = &["suites/fast", "suites/hazards", "suites/slow", "suites/nightly"];

/// The scenarios `drill campaign` runs by default: every commit's tier, the hazards and the slow tier
/// (seconds in a release build).
pub const CAMPAIGN_DEFAULT: &[&str] = &["suites/fast", "suites/hazards", "suites/slow"];

/// The scenario paths to use: `given` if any, else those `defaults` that exist, found relative to the
/// nearest directory at or above the current one that has a `suites/` directory. Paths found that way
/// are kept relative (`suites/fast`, or `../suites/fast` from a subdirectory), so the replay commands
/// printed later work from where drill was started.
pub fn paths_or_defaults(given: &[PathBuf], defaults: &[&str]) -> Result<Vec<PathBuf>, CliError> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    let current =
        std::env::current_dir().map_err(|error| CliError::io("read the current directory", ".", error))?;
    let base =
        repository_base(&current).ok_or_else(|| CliError::NoCatalogue { searched_from: current.clone() })?;
    Ok(defaults.iter().map(|default| base.join(default)).filter(|path| path.is_dir()).collect())
}

/// The relative path from `current` to the nearest ancestor (or itself) that has a `suites/`
/// directory: empty for `current` itself, `..` for its parent, and so on.
fn repository_base(current: &Path) -> Option<PathBuf> {
    current.ancestors().enumerate().find(|(_, directory)| directory.join("suites").is_dir()).map(
        |(levels, _)| {
            let mut base = PathBuf::new();
            for _ in 0..levels {
                base.push("..");
            }
            base
        },
    )
}

/// Every scenario file under `paths`: a file is taken as it is, a directory contributes its `*.toml`
/// files at any depth in sorted order. A path given twice counts once. Loading refuses whatever is not
/// a regular file, so a FIFO given here never blocks.
pub fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|error| CliError::io("read", path, error))?;
        if metadata.is_dir() {
            collect_toml(path, &mut files, &mut Vec::new())?;
        } else {
            files.push(path.clone());
        }
    }
    let mut unique: Vec<PathBuf> = Vec::with_capacity(files.len());
    for file in files {
        if !unique.contains(&file) {
            unique.push(file);
        }
    }
    if unique.is_empty() {
        return Err(CliError::NoScenarios { paths: paths.to_vec() });
    }
    Ok(unique)
}

/// `visited` holds the directories already walked, resolved, so a symbolic link back up the tree is
/// walked once instead of forever.
fn collect_toml(
    directory: &Path,
    files: &mut Vec<PathBuf>,
    visited: &mut Vec<PathBuf>,
) -> Result<(), CliError> {
    let resolved = directory.canonicalize().map_err(|error| CliError::io("list", directory, error))?;
    if visited.contains(&resolved) {
        return Ok(());
    }
    visited.push(resolved);
    let entries = std::fs::read_dir(directory).map_err(|error| CliError::io("list", directory, error))?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| CliError::io("list", directory, error))?;
        paths.push(entry.path());
    }
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect_toml(&path, files, visited)?;
        } else if path.extension().is_some_and(|extension| extension == "toml") {
            files.push(path);
        }
    }
    Ok(())
}

/// Loads every file, reporting all that fail rather than stopping at the first.
pub fn load_all(files: &[PathBuf]) -> Result<Vec<Scenario>, CliError> {
    let mut scenarios = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for file in files {
        match scenario::load(file) {
            Ok(loaded) => scenarios.push(loaded),
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() { Ok(scenarios) } else { Err(CliError::Scenarios(errors)) }
}

/// Loads the scenarios under `given`, or under `defaults` of the catalogue when none are given.
pub fn load(given: &[PathBuf], defaults: &[&str]) -> Result<Vec<Scenario>, CliError> {
    let paths = paths_or_defaults(given, defaults)?;
    if paths.is_empty() {
        return Err(CliError::NoScenarios { paths: defaults.iter().map(PathBuf::from).collect() });
    }
    load_all(&scenario_files(&paths)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn the_repository_base_is_the_nearest_directory_with_suites_as_a_relative_path() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("suites/fast")).unwrap();
        fs::create_dir_all(root.path().join("harness/src")).unwrap();
        assert_eq!(repository_base(root.path()), Some(PathBuf::new()));
        assert_eq!(repository_base(&root.path().join("harness/src")), Some(PathBuf::from("../..")));
    }

    #[test]
    fn directories_expand_to_their_toml_files_in_sorted_order_at_any_depth() {
        let root = tempfile::tempdir().unwrap();
        let suites = root.path().join("suites");
        fs::create_dir_all(suites.join("deeper")).unwrap();
        for name in ["b.toml", "a.toml", "notes.md", "deeper/c.toml"] {
            fs::write(suites.join(name), "").unwrap();
        }
        let files = scenario_files(&[suites.clone(), suites.join("a.toml")]).unwrap();
        assert_eq!(files, [suites.join("a.toml"), suites.join("b.toml"), suites.join("deeper/c.toml")]);
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_back_up_the_tree_is_walked_once() {
        let root = tempfile::tempdir().unwrap();
        let suites = root.path().join("suites");
        fs::create_dir_all(suites.join("deeper")).unwrap();
        fs::write(suites.join("a.toml"), "").unwrap();
        std::os::unix::fs::symlink(&suites, suites.join("deeper/loop")).unwrap();
        let files = scenario_files(std::slice::from_ref(&suites)).unwrap();
        assert_eq!(files, [suites.join("a.toml")]);
    }

    #[test]
    fn a_directory_without_scenarios_and_a_missing_path_are_bad_input() {
        let root = tempfile::tempdir().unwrap();
        assert!(matches!(scenario_files(&[root.path().to_path_buf()]), Err(CliError::NoScenarios { .. })));
        let missing = root.path().join("missing.toml");
        let error = scenario_files(&[missing]).unwrap_err();
        assert!(error.to_string().starts_with("failed to read "), "{error}");
    }

    #[test]
    fn every_malformed_file_is_reported_not_only_the_first() {
        let root = tempfile::tempdir().unwrap();
        let first = root.path().join("first.toml");
        let second = root.path().join("second.toml");
        fs::write(&first, "name = [").unwrap();
        fs::write(&second, "unknown_key = 1").unwrap();
        let Err(CliError::Scenarios(errors)) = load_all(&[first.clone(), second.clone()]) else {
            panic!("both files are malformed")
        };
        assert_eq!(errors.iter().map(|error| error.file.clone()).collect::<Vec<_>>(), [first, second]);
    }
}
