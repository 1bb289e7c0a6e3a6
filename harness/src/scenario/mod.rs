//! Scenario files: strict TOML, validated, with file:line:column errors.
//!
//! A scenario names a topology, a workload, a fault schedule and the checks a run is held to; the
//! format is documented key by key in `docs/scenarios.md`. Loading happens in two steps. The file
//! model (`file`) mirrors the TOML exactly and rejects unknown keys and wrong types; the validator
//! (`validate`) fills in defaults and checks ranges and cross-references, producing the plain model
//! (`model`) that the world builder consumes. Every error carries the location of the value at fault,
//! and no input, however malformed, makes loading panic.

mod error;
mod fault;
mod file;
mod model;
mod target;
mod units;
mod validate;

pub use error::ScenarioError;
pub use fault::{
    FabricFault, Fault, FaultSpec, HypervisorFault, PowerFault, RunFault, SanFault, SoftwareFault,
    WitnessFault,
};
pub use model::{
    ArrayConfig, CheckSpec, ClusterKind, ClusterSpec, DatabaseDef, DiskAttach, DiskFencing, DriftRange,
    DurationRange, Enumeration, FailoverPolicy, FaultKind, FaultTrigger, FaultValue, HaSpec, HostDef,
    HostRole, InitiatorConfig, LinkDirection, LunDef, MountDial, MpioPolicy, NemesisFamily, NemesisKind,
    NemesisSpec, NetworkDef, NetworkKind, NoPathRetry, OutageWindow, QuorumModel, Reachable, ResourceDef,
    ResourceKind, Scenario, SettingRanges, StorageSpec, Target, Tier, Tolerance, WorkloadSpec, WriteCache,
};
pub use units::{parse_bandwidth, parse_signed_duration, parse_size};
pub use validate::limits::{MAX_CLOCK_SKEW, MAX_RUN_EVENTS, RunSize, SizePart};

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

/// Scenario files are a few kilobytes; a file this large is not one (and one of 1 MiB, with tens of
/// thousands of tables, already takes seconds to check for duplicate names).
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Reads and validates the scenario file at `path`.
///
/// Anything but a regular file is refused before it is opened: opening a FIFO blocks until a writer
/// comes, and a device may never end.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let unreadable =
        |why: String| ScenarioError::unlocated(path, format!("cannot read scenario file: {why}"));
    let metadata = std::fs::metadata(path).map_err(|error| unreadable(error.to_string()))?;
    if !metadata.is_file() {
        return Err(unreadable(format!("it is {}, not a regular file", file_kind(&metadata))));
    }
    let too_large = || {
        unreadable(format!(
            "it is larger than {} MiB; scenario files are a few kilobytes",
            MAX_FILE_BYTES >> 20
        ))
    };
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|file| file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|error| unreadable(error.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    match String::from_utf8(bytes) {
        Ok(text) => parse(path, &text),
        Err(error) => {
            // Point at the first bad byte; the text before it is valid and shows where that is.
            let valid_up_to = error.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(error.as_bytes());
            let valid = String::from_utf8_lossy(error.as_bytes().get(..valid_up_to).unwrap_or(&[]));
            Err(ScenarioError::at(path, &text, valid.len()..valid.len() + 1, "the file is not valid UTF-8"))
        }
    }
}

/// What a path that is not a regular file is, for the message that refuses it.
fn file_kind(metadata: &Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    "something else"
}

/// Parses and validates scenario text; `path_for_messages` names the file in errors and becomes
/// `Scenario::path`.
pub fn parse(path_for_messages: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let file: file::ScenarioFile = toml::from_str(text).map_err(|error| {
        let message = error::describe_toml_error(&error, text);
        match error.span() {
            Some(span) => ScenarioError::at(path_for_messages, text, span, message),
            // A parse error without a span is not expected from toml 0.8, but the top of the file is
            // still a better place to look than nowhere.
            None => ScenarioError::at(path_for_messages, text, 0..0, message),
        }
    })?;
    validate::validate(path_for_messages, text, file)
}

#[cfg(test)]
mod tests;
