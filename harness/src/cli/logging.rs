//! Logs on stderr through `tracing`. The world stamps each event with simulated time itself, so the
//! subscriber prints no wall-clock time: logs of the same run compare line for line.

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
        .without_time()
        .with_target(false)
        .try_init();
}
