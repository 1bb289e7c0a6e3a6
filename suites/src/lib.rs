//! The scenario catalogue lives beside this crate as TOML files, one directory per tier; its tests are
//! in `tests/`. This library only finds the files, so that every test target lists them the same way.

use std::path::{Path, PathBuf};

/// The catalogue's tier directories: every scenario file in them is run by `tests/scenarios.rs`.
pub const TIER_DIRECTORIES: [&str; 4] = ["fast", "hazards", "slow", "nightly"];

/// The directory of deliberately broken files, each stating the error it must produce.
pub const MALFORMED_DIRECTORY: &str = "malformed";

/// The directory of benchmark workloads: `drill bench` runs `bench/reference-drill.toml`. They are no
/// tier of the catalogue (no catalogue test runs them, `drill list` and `drill campaign` do not look
/// here); `tests/catalogue.rs` only checks that they load.
pub const BENCH_DIRECTORY: &str = "bench";

/// The directory that holds the catalogue (this crate's own).
pub fn catalogue_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `.toml` files of one catalogue directory (`fast`, `hazards`, `slow`, `nightly`, `malformed`,
/// `bench`),
/// sorted by path so that tests are listed and failures reported in a stable order.
///
/// # Panics
///
/// When the directory cannot be read: a catalogue that cannot be listed must not pass as empty.
pub fn scenario_files(directory: &str) -> Vec<PathBuf> {
    let dir = catalogue_root().join(directory);
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display())).path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "toml"))
        .collect();
    files.sort();
    files
}

/// The name a scenario file's test goes by: its path under the catalogue without the extension, with
/// `/` between directory and file on every platform (`fast/scc-zombie-owner`).
pub fn test_name(path: &Path) -> String {
    let relative = path.strip_prefix(catalogue_root()).unwrap_or(path).with_extension("");
    relative.components().map(|part| part.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_file_is_named_by_its_path_under_the_catalogue_without_the_extension() {
        let path = catalogue_root().join("fast").join("scc-zombie-owner.toml");
        assert_eq!(test_name(&path), "fast/scc-zombie-owner");
    }

    #[test]
    fn the_files_of_a_directory_are_its_toml_files_in_sorted_order() {
        let files = scenario_files("fast");
        assert!(!files.is_empty());
        assert!(files.iter().all(|path| path.extension().is_some_and(|extension| extension == "toml")));
        assert!(files.windows(2).all(|pair| pair[0] < pair[1]), "{files:?}");
    }
}
