//! `drill run SCENARIO [--seed N] [--out DIR] [--json]`.

use super::args::RunArgs;
use super::error::CliError;
use super::record::run_record;
use crate::scenario;
use crate::world::run_scenario;
use std::io::Write;

/// Runs the scenario once, prints the summary (or one JSON object), optionally writes the history and
/// the summary, and returns the run's exit code.
pub fn run(arguments: &RunArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let scenario = scenario::load(&arguments.scenario).map_err(|error| CliError::Scenarios(vec![error]))?;
    let outcome = run_scenario(&scenario, arguments.seed);
    let record = run_record(&outcome);

    let mut written = Vec::new();
    if let Some(directory) = &arguments.out {
        std::fs::create_dir_all(directory)
            .map_err(|error| CliError::io("create the output directory", directory, error))?;
        let mut history = Vec::new();
        outcome.history.write_jsonl(&mut history).map_err(CliError::Output)?;
        for (name, bytes) in
            [("history.jsonl", history), ("summary.json", reports::json::pretty(&record).into_bytes())]
        {
            let path = directory.join(name);
            reports::write_atomically(&path, &bytes).map_err(|error| CliError::io("write", &path, error))?;
            written.push(path);
        }
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
