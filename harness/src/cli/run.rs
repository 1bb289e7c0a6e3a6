//! `drill run SCENARIO [--seed N] [--out DIR] [--html FILE] [--json]`.

use super::args::RunArgs;
use super::error::CliError;
use super::record::run_record;
use crate::scenario;
use crate::world::run_scenario;
use std::io::Write;
use std::path::Path;

/// Runs the scenario once, prints the summary (or one JSON object), optionally writes the history and
/// the summary, and returns the run's exit code.
pub fn run(arguments: &RunArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let scenario = scenario::load(&arguments.scenario).map_err(|error| CliError::Scenarios(vec![error]))?;
    let outcome = run_scenario(&scenario, arguments.seed);
    let record = run_record(&outcome);

    let mut written = Vec::new();
    if let Some(directory) = &arguments.out {
        let mut history = Vec::new();
        outcome.history.write_jsonl(&mut history).map_err(CliError::Output)?;
        let files = [
            ("history.jsonl", history),
            ("summary.json", reports::json::pretty(&record).into_bytes()),
            ("run.html", page(&outcome, &record).into_bytes()),
        ];
        write_directory(directory, &files)?;
        written.extend(files.iter().map(|(name, _)| directory.join(name)));
    }
    if let Some(path) = &arguments.html {
        reports::write_atomically(path, page(&outcome, &record).as_bytes())
            .map_err(|error| CliError::io("write", path, error))?;
        written.push(path.clone());
    }

    if arguments.json {
        writeln!(out, "{}", reports::json::line(&record))?;
    } else {
        write!(out, "{}", reports::text::run_summary(&record))?;
        for path in &written {
            writeln!(out, "wrote       {}", path.display())?;
        }
    }
    Ok(outcome.exit_code)
}

/// Writes `files` into `directory` as one step: they are written into a sibling staging directory,
/// which is then renamed into place (the earlier directory, if any, renamed aside first and removed
/// after). A reader sees the old files or all of the new ones. Only a directory holding nothing but
/// an earlier run's files is replaced; on any failure the staging directory is removed and the
/// earlier directory put back.
fn write_directory(directory: &Path, files: &[(&str, Vec<u8>)]) -> Result<(), CliError> {
    let name = directory.file_name().map_or_else(|| "run".into(), |name| name.to_string_lossy().into_owned());
    let parent = directory.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|error| CliError::io("create the output directory", parent, error))?;
    let had_one = directory.exists();
    if had_one && !holds_only(directory, files) {
        return Err(CliError::Usage(format!(
            "{} holds files drill run did not write; --out replaces its directory as a whole, so give a new or \
             empty directory, or one an earlier drill run --out wrote",
            directory.display()
        )));
    }
    let staging = parent.join(format!(".{name}.{}.staging", std::process::id()));
    let result = stage(&staging, files).and_then(|()| swap_in(&staging, directory, had_one));
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

fn stage(staging: &Path, files: &[(&str, Vec<u8>)]) -> Result<(), CliError> {
    std::fs::create_dir_all(staging).map_err(|error| CliError::io("create", staging, error))?;
    for (file, bytes) in files {
        let path = staging.join(file);
        reports::write_atomically(&path, bytes).map_err(|error| CliError::io("write", &path, error))?;
    }
    Ok(())
}

/// Renames `staging` to `directory`, moving an existing `directory` aside first and back on failure.
fn swap_in(staging: &Path, directory: &Path, had_one: bool) -> Result<(), CliError> {
    let aside = staging.with_extension("old");
    if had_one {
        std::fs::rename(directory, &aside).map_err(|error| CliError::io("move aside", directory, error))?;
    }
    if let Err(error) = std::fs::rename(staging, directory) {
        if had_one {
            let _ = std::fs::rename(&aside, directory);
        }
        return Err(CliError::io("move into place", directory, error));
    }
    if had_one {
        std::fs::remove_dir_all(&aside).map_err(|error| CliError::io("remove", &aside, error))?;
    }
    Ok(())
}

/// Whether `directory` holds nothing but files named in `files` (an earlier run's output), so
/// replacing it loses nothing else.
fn holds_only(directory: &Path, files: &[(&str, Vec<u8>)]) -> bool {
    let Ok(entries) = std::fs::read_dir(directory) else { return false };
    entries.flatten().all(|entry| {
        let name = entry.file_name();
        entry.file_type().is_ok_and(|kind| kind.is_file()) && files.iter().any(|(file, _)| name == *file)
    })
}

/// The run's page: its record and the timeline drawn from its history.
pub fn page(outcome: &crate::run::RunOutcome, record: &reports::RunRecord) -> String {
    reports::html::run_page(record, &crate::timeline::timeline(outcome))
}
