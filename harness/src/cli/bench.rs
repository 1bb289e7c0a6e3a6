//! `drill bench [--json]`: the kernel's speed against the targets in DESIGN.md.

use super::args::BenchArgs;
use super::error::CliError;
use crate::bench::{self, BenchOptions, ReferenceDrill};
use std::io::Write;

/// The reference drill of DESIGN.md (4 nodes, full failover logic, emulators and history, 1 h
/// simulated), timed as a whole.
const REFERENCE_DRILL: Option<ReferenceDrill> = Some(crate::world::reference_bench);

/// Runs the benchmarks and prints the table or one JSON object. Always exits 0: figures below a
/// target are reported as BELOW, not as a failure, because timing depends on the machine.
pub fn bench(arguments: &BenchArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let options = BenchOptions { reference: REFERENCE_DRILL, ..BenchOptions::default() };
    let figures = bench::run(&options);
    if arguments.json {
        let json = serde_json::to_string(&figures).map_err(|error| CliError::Output(error.into()))?;
        writeln!(out, "{json}")?;
    } else {
        write!(out, "{}", bench::render_text(&figures))?;
    }
    Ok(crate::run::exit_code::AS_EXPECTED)
}
