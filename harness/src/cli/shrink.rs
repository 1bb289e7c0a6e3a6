//! `drill shrink SCENARIO --seed N [--check KIND] [--max-runs N] [--time-budget DURATION] [--out FILE]`:
//! a failing run reduced to a standalone scenario file that fails the same way (see [`crate::shrink`]).

use super::args::ShrinkArgs;
use super::error::CliError;
use crate::shrink::{self, Request, ShrinkError, Shrunk};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Shrinks the run, writes the file atomically and prints what it did and the replay command. Exit 0
/// when a file was written; 1 when the run's realised schedule does not reproduce its violation (a
/// limit of drill, nothing written); 2 for a scenario that does not load or a run with nothing to
/// shrink.
pub fn shrink(arguments: &ShrinkArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32, CliError> {
    let request = Request {
        scenario: &arguments.scenario,
        seed: arguments.seed,
        check: arguments.check,
        max_runs: arguments.max_runs,
    };
    let mut keep_going = wall_clock_budget(arguments.time_budget);
    let shrunk = match shrink::shrink(&request, &mut keep_going) {
        Ok(shrunk) => shrunk,
        Err(ShrinkError::Scenario(error)) => return Err(CliError::Scenarios(vec![error])),
        Err(error @ ShrinkError::NotReproduced { .. }) => {
            writeln!(err, "error: {error}")?;
            return Ok(crate::run::exit_code::SAFETY);
        }
        Err(error) => return Err(CliError::Shrink(error.to_string())),
    };
    let path = arguments
        .out
        .clone()
        .unwrap_or_else(|| default_out(Path::new("reports-out"), &arguments.scenario, arguments.seed));
    let replay = write(&shrunk, &arguments.scenario, arguments.seed, &path)?;
    writeln!(out, "shrunk      {} seed {}: {}", arguments.scenario.display(), arguments.seed, shrunk.target)?;
    writeln!(
        out,
        "faults      {} of the {} that took effect, in {} runs{}",
        shrunk.faults.len(),
        shrunk.realised,
        shrunk.runs,
        if shrunk.exhausted { " (budget spent; a longer one may shrink further)" } else { "" }
    )?;
    writeln!(out, "wrote       {}", path.display())?;
    writeln!(out, "replay      {replay}")?;
    Ok(crate::run::exit_code::AS_EXPECTED)
}

/// Where a shrunk file goes by default: `<directory>/shrunk/<scenario file stem>-seed-<N>.toml`.
pub fn default_out(directory: &Path, scenario: &Path, seed: u64) -> PathBuf {
    let stem = scenario.file_stem().map_or_else(|| "scenario".into(), |stem| stem.to_string_lossy());
    directory.join("shrunk").join(format!("{stem}-seed-{seed}.toml"))
}

/// Writes the shrunk file atomically (creating its directory) and returns its replay command.
pub fn write(shrunk: &Shrunk, source: &Path, seed: u64, path: &Path) -> Result<String, CliError> {
    if let Some(directory) = path.parent().filter(|directory| !directory.as_os_str().is_empty()) {
        std::fs::create_dir_all(directory)
            .map_err(|error| CliError::io("create the output directory", directory, error))?;
    }
    let text = shrunk.file_text(&source.display().to_string(), seed, &path.display().to_string());
    reports::write_atomically(path, text.as_bytes()).map_err(|error| CliError::io("write", path, error))?;
    Ok(format!("drill run {} --seed {seed}", path.display()))
}

/// Says whether shrinking may go on: always without a budget, else until `budget` of wall-clock time
/// has passed since the call.
#[expect(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "the operator's time budget for shrinking; each run stays deterministic, only how many are tried depends on it"
)]
fn wall_clock_budget(budget: Option<Duration>) -> impl FnMut() -> bool {
    let started = std::time::Instant::now();
    move || budget.is_none_or(|budget| started.elapsed() < budget)
}
