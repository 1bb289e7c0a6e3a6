//! Everything that makes `drill` exit 2 (bad input or usage), as messages that complete the sentence
//! "failed to …" or point at the file, line and column at fault.

use crate::scenario::ScenarioError;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// Bad input: the command cannot start (or cannot record its result), and nothing partial is reported.
#[derive(Debug)]
pub enum CliError {
    /// One or more scenario files could not be read, parsed or validated. All of them are reported,
    /// not only the first, so one round of fixes is enough.
    Scenarios(Vec<ScenarioError>),
    /// No `suites/` directory in the current directory or above it, and no paths were given.
    NoCatalogue { searched_from: PathBuf },
    /// The paths given hold no scenario file.
    NoScenarios { paths: Vec<PathBuf> },
    /// A file system operation failed; `action` completes "failed to …".
    Io { action: String, path: PathBuf, source: io::Error },
    /// The result could not be written to stdout.
    Output(io::Error),
    /// Not one campaign worker thread could be started.
    Threads(io::Error),
    /// `drill shrink` was asked for a run or a violation that is not there.
    Shrink(String),
    /// An argument that clap's grammar accepts but its meaning does not (a shard index out of range).
    Usage(String),
    /// `drill merge` was given directories that are not shards of one campaign, or overlap.
    Merge(String),
}

impl CliError {
    pub fn io(action: impl Into<String>, path: impl Into<PathBuf>, source: io::Error) -> CliError {
        CliError::Io { action: action.into(), path: path.into(), source }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Scenarios(errors) => {
                for (index, error) in errors.iter().enumerate() {
                    if index > 0 {
                        f.write_str("\n\nerror: ")?;
                    }
                    write!(f, "{error}")?;
                }
                Ok(())
            }
            CliError::NoCatalogue { searched_from } => write!(
                f,
                "no scenario catalogue (a `suites/` directory) in {} or any directory above it; pass scenario \
                 paths or run drill from the repository",
                searched_from.display()
            ),
            CliError::NoScenarios { paths } => {
                let names: Vec<String> = paths.iter().map(|path| path.display().to_string()).collect();
                write!(f, "no scenario files (*.toml) in {}", names.join(", "))
            }
            CliError::Io { action, path, source } => {
                write!(f, "failed to {action} {}: {source}", path.display())
            }
            CliError::Output(source) => write!(f, "failed to write the result to stdout: {source}"),
            CliError::Threads(source) => write!(f, "failed to start a campaign worker thread: {source}"),
            CliError::Shrink(message) | CliError::Usage(message) | CliError::Merge(message) => {
                f.write_str(message)
            }
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Io { source, .. } | CliError::Output(source) | CliError::Threads(source) => {
                Some(source)
            }
            _ => None,
        }
    }
}

impl From<io::Error> for CliError {
    /// Only writes to the output streams use `?` on a bare `io::Error`; file operations name their path.
    fn from(source: io::Error) -> CliError {
        CliError::Output(source)
    }
}
