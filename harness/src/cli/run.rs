//! `drill run SCENARIO [--seed N] [--out DIR] [--html FILE] [--json]`.

use super::args::RunArgs;
use super::error::CliError;
use super::record::run_record;
use crate::run::RunOutcome;
use crate::scenario::{self, Scenario};
use crate::world::{run_scenario_bounded, run_scenario_streaming};
use reports::RunRecord;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The files `drill run --out` writes: only a directory holding nothing else is replaced.
const RUN_FILES: [&str; 3] = ["history.jsonl", "summary.json", "run.html"];

/// The largest run (in estimated kernel events) whose page `drill run` draws. A page is drawn from
/// the whole history, held in memory for it (about 110 bytes a record); without a page the run is
/// checked as it goes and holds nothing of its history ([`crate::world::run_scenario_bounded`]).
pub const MAX_PAGE_EVENTS: u64 = 20_000_000;

/// Runs the scenario once, prints the summary (or one JSON object), optionally writes the history,
/// the summary and the page, and returns the run's exit code.
pub fn run(arguments: &RunArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let scenario = scenario::load(&arguments.scenario).map_err(|error| CliError::Scenarios(vec![error]))?;
    if arguments.out.is_some() || arguments.html.is_some() {
        refuse_a_page_too_large(&scenario)?;
    }
    let (outcome, record) = match &arguments.out {
        Some(directory) => run_into(directory, &scenario, arguments.seed)?,
        None if arguments.html.is_some() => {
            let outcome = crate::world::run_scenario(&scenario, arguments.seed);
            let record = run_record(&outcome);
            (outcome, record)
        }
        None => {
            let outcome = run_scenario_bounded(&scenario, arguments.seed);
            let record = run_record(&outcome);
            (outcome, record)
        }
    };
    let mut written: Vec<PathBuf> = Vec::new();
    if let Some(directory) = &arguments.out {
        written.extend(RUN_FILES.iter().map(|name| directory.join(name)));
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

/// A page needs the run's whole history in memory: refused, before anything runs, for a run larger
/// than [`MAX_PAGE_EVENTS`].
fn refuse_a_page_too_large(scenario: &Scenario) -> Result<(), CliError> {
    let events = crate::scenario::RunSize::of(scenario).events();
    if events <= MAX_PAGE_EVENTS {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "{} would simulate about {} million events; a run page (--out, --html) holds the whole history in \
         memory, which drill does up to {} million events. Run it without --out and --html (it is then \
         checked as it runs, in bounded memory), or in a campaign",
        scenario.path.display(),
        events / 1_000_000,
        MAX_PAGE_EVENTS / 1_000_000
    )))
}

/// Runs into `directory` as one step: the history is streamed into a sibling staging directory as
/// the run produces it, the summary and the page join it, and the staging directory is renamed into
/// place (an earlier run's directory renamed aside first and removed after). A reader sees the old
/// files or all of the new ones. Only a directory holding nothing but an earlier run's files is
/// replaced; on any failure the staging directory is removed and the earlier directory put back.
fn run_into(directory: &Path, scenario: &Scenario, seed: u64) -> Result<(RunOutcome, RunRecord), CliError> {
    let name = directory.file_name().map_or_else(|| "run".into(), |name| name.to_string_lossy().into_owned());
    let parent = directory.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|error| CliError::io("create the output directory", parent, error))?;
    let had_one = directory.exists();
    if had_one && !holds_only(directory) {
        return Err(CliError::Usage(format!(
            "{} holds files drill run did not write; --out replaces its directory as a whole, so give a new or \
             empty directory, or one an earlier drill run --out wrote",
            directory.display()
        )));
    }
    let staging = parent.join(format!(".{name}.{}.staging", std::process::id()));
    let result = run_staged(&staging, scenario, seed).and_then(|ran| {
        swap_in(&staging, directory, had_one)?;
        Ok(ran)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

/// The run with its history streamed into `staging/history.jsonl`, then its summary and page.
fn run_staged(staging: &Path, scenario: &Scenario, seed: u64) -> Result<(RunOutcome, RunRecord), CliError> {
    std::fs::create_dir_all(staging).map_err(|error| CliError::io("create", staging, error))?;
    let history_path = staging.join(RUN_FILES[0]);
    let file =
        std::fs::File::create(&history_path).map_err(|error| CliError::io("create", &history_path, error))?;
    let mut outcome =
        run_scenario_streaming(scenario, seed, Box::new(Durable(std::io::BufWriter::new(file))));
    if let Some(error) = outcome.history.take_sink_error() {
        return Err(CliError::io("write", &history_path, error));
    }
    let record = run_record(&outcome);
    let files = [(RUN_FILES[1], reports::json::pretty(&record)), (RUN_FILES[2], page(&outcome, &record))];
    for (file, text) in files {
        let path = staging.join(file);
        reports::write_atomically(&path, text.as_bytes())
            .map_err(|error| CliError::io("write", &path, error))?;
    }
    Ok((outcome, record))
}

/// A file writer whose flush (at the end of the run) also makes the file durable, as
/// `write_atomically` makes the other files before the directory is renamed into place.
struct Durable(std::io::BufWriter<std::fs::File>);

impl Write for Durable {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.write(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()?;
        self.0.get_ref().sync_all()
    }
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

/// Whether `directory` holds nothing but an earlier run's files, so replacing it loses nothing else.
fn holds_only(directory: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(directory) else { return false };
    entries.flatten().all(|entry| {
        let name = entry.file_name();
        entry.file_type().is_ok_and(|kind| kind.is_file()) && RUN_FILES.iter().any(|file| name == *file)
    })
}

/// The run's page: its record and the timeline drawn from its history.
pub fn page(outcome: &crate::run::RunOutcome, record: &reports::RunRecord) -> String {
    reports::html::run_page(record, &crate::timeline::timeline(outcome))
}
