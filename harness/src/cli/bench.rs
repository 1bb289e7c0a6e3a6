//! `drill bench [--json] [--scenario FILE]`: the kernel's speed against the targets in DESIGN.md.

use super::args::BenchArgs;
use super::error::CliError;
use crate::bench::{self, BenchOptions};
use crate::scenario::Scenario;
use std::io::Write;
use std::time::Duration;

/// `scenario` run for `length` of simulated time, its mail submitted until its quiet end as before.
fn stretch(scenario: &Scenario, length: Duration) -> Scenario {
    let quiet = scenario.duration.saturating_sub(scenario.workload.stop);
    let mut stretched = scenario.clone();
    stretched.duration = length;
    stretched.workload.stop = length.saturating_sub(quiet);
    stretched
}

/// Loads the reference drill (DESIGN.md's: 4 nodes, full failover logic, emulators and history, 1 h
/// simulated; `suites/bench/reference-drill.toml` unless `--scenario` names another file), then runs
/// the benchmarks and prints the table or one JSON object. A drill that cannot be loaded is bad input
/// (exit 2) before anything is measured. Otherwise always exits 0: figures below a target are reported
/// as BELOW, not as a failure, because timing depends on the machine.
pub fn bench(arguments: &BenchArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let path = arguments.scenario.clone().unwrap_or_else(bench::reference_drill_path);
    let scenario = crate::scenario::load(&path).map_err(|error| CliError::Scenarios(vec![error]))?;
    let drill = || crate::world::bench_run(&scenario);
    let stretched = |length: std::time::Duration| {
        let outcome = crate::world::run_scenario_bounded(&stretch(&scenario, length), 1);
        bench::memory::StretchedRun {
            verdict: outcome.verdict.to_string(),
            acked: outcome.report.metrics.acked,
            events: outcome.report.metrics.events,
        }
    };
    let memory =
        Some((&stretched as bench::memory::StretchedDrill<'_>, scenario.duration, arguments.stretch));
    let options = BenchOptions { reference: Some(&drill), memory, ..BenchOptions::default() };
    let figures = bench::run(&options);
    if arguments.json {
        let json = serde_json::to_string(&figures).map_err(|error| CliError::Output(error.into()))?;
        writeln!(out, "{json}")?;
    } else {
        write!(out, "{}", bench::render_text(&figures))?;
    }
    Ok(crate::run::exit_code::AS_EXPECTED)
}
