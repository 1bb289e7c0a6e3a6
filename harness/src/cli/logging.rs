//! Logs on stderr through `tracing`. The world stamps each event with simulated time itself, so the
//! subscriber prints no wall-clock time: logs of the same run compare line for line. Each line of a
//! run is inside its `run{scenario=… seed=…}` span; `-v` shows the faults and the hypervisor's
//! actions, `-vv` every history record but the per-message ones (failover decisions, quorum changes,
//! arbitration steps, mounts: the story of the run), `-vvv` everything.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the stderr subscriber: `-v` info, `-vv` debug, `-vvv` trace; without `-v`, `RUST_LOG` if
/// it is set and valid, else warn.
pub fn init(verbose: u8) {
    let filter = match verbose {
        0 => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        1 => EnvFilter::new("info"),
        2 => EnvFilter::new("debug"),
        _ => EnvFilter::new("trace"),
    };
    // A subscriber already installed (by an embedding program) wins; that is not an error.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal: a CI log or a file gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .with_target(false)
        .try_init();
}
