//! The `drill` command line: argument parsing, the subcommands, and how their results reach the
//! terminal, report files and the exit code.
//!
//! Each subcommand lives in its own module and returns the process exit code, or a [`CliError`] for
//! bad input (exit 2). Nothing here decides a verdict: `drill` runs scenarios through
//! [`crate::world::run_scenario`], converts each outcome into a [`reports::RunRecord`] ([`record`])
//! and hands those to the `reports` renderers.
//!
//! Output discipline: stdout carries the result (the summary, the table, or with `--json` exactly one
//! JSON object); progress, logs and errors go to stderr.

pub mod args;
mod bench;
mod campaign;
mod catalogue;
mod determinism;
mod error;
mod list;
mod logging;
mod merge;
mod output;
mod progress;
pub mod record;
mod run;
mod shrink;
mod stopwatch;

pub use args::{Cli, Command};
pub use error::CliError;

use crate::run::exit_code;
use clap::Parser;
use std::io::{self, Write};
use std::process::ExitCode;

/// Parses the process arguments, runs the subcommand and returns its exit code. Usage errors exit 2
/// (clap's convention, which matches ours for bad input); `--help` and `--version` exit 0.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Printing help or a usage error to a closed stream leaves nothing better to do.
            let _ = error.print();
            return exit(error.exit_code());
        }
    };
    logging::init(cli.verbose);
    // Stderr is not locked for the whole run: campaign workers log through tracing at the same time.
    let mut stdout = io::stdout();
    let mut stderr = io::stderr();
    match execute(cli.command, &mut stdout, &mut stderr) {
        Ok(code) => exit(code),
        Err(error) => {
            let _ = writeln!(stderr, "error: {error}");
            exit(exit_code::BAD_INPUT)
        }
    }
}

/// Runs one subcommand, writing its result to `out` and its progress to `err`.
pub fn execute(command: Command, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32, CliError> {
    match command {
        Command::Run(arguments) => run::run(&arguments, out),
        Command::List(arguments) => list::list(&arguments, out),
        Command::CheckDeterminism(arguments) => determinism::check_determinism(&arguments, out),
        Command::Campaign(arguments) => campaign::campaign(&arguments, out, err),
        Command::Merge(arguments) => merge::merge(&arguments, out, err),
        Command::Shrink(arguments) => shrink::shrink(&arguments, out, err),
        Command::Bench(arguments) => bench::bench(&arguments, out),
    }
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
