//! A wall-clock stopwatch for the operator's eyes and the time budget only: no run or report reads it.
#![expect(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "progress, ETA and a campaign's time budget are wall-clock by nature"
)]

use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
pub struct Stopwatch(Instant);

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch(Instant::now())
    }

    pub fn elapsed(self) -> Duration {
        self.0.elapsed()
    }
}
