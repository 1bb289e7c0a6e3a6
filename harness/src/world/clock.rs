//! Per-host clocks: an offset, a drift and steps on top of true time.
//!
//! A host's software only ever sees its own clock; checkers only ever see true time. Converting the
//! node's wake-up requests back to true time rounds up, so a timer never fires before its local time.

use failover::LocalTime;
use kernel::SimTime;

#[derive(Clone, Debug)]
pub struct HostClock {
    offset_nanos: i64,
    drift_ppm: f64,
    /// Sum of every clock-step fault so far.
    steps_nanos: i64,
}

/// Local clocks start far from zero so that negative offsets and steps stay representable: 10,000
/// days, far beyond the ±30 days an offset may have plus any step (an `i64` of nanoseconds holds 292
/// years).
const CLOCK_BASE_NANOS: i64 = 10_000 * 86_400 * 1_000_000_000;

impl HostClock {
    pub fn new(offset_nanos: i64, drift_ppm: f64) -> Self {
        HostClock { offset_nanos, drift_ppm, steps_nanos: 0 }
    }

    pub fn step(&mut self, nanos: i64) {
        self.steps_nanos += nanos;
    }

    fn rate(&self) -> f64 {
        1.0 + self.drift_ppm / 1_000_000.0
    }

    fn shift(&self, steps: bool) -> i64 {
        CLOCK_BASE_NANOS + self.offset_nanos + if steps { self.steps_nanos } else { 0 }
    }

    /// The host's wall clock: offset, drift and every step so far.
    pub fn local(&self, now: SimTime) -> LocalTime {
        self.read(now, true)
    }

    /// The earliest true time at which the wall clock reads at least `local`.
    pub fn true_time(&self, local: LocalTime) -> SimTime {
        self.true_time_of(local, true)
    }

    /// The host's monotonic clock: the same oscillator (offset and drift) but no steps, which move
    /// only the wall clock. The cluster service times heartbeats, leases and every timeout on it, as
    /// WSFC does with its tick count (domain.md section 7, pattern 11).
    pub fn monotonic(&self, now: SimTime) -> LocalTime {
        self.read(now, false)
    }

    /// The earliest true time at which the monotonic clock reads at least `local`.
    pub fn monotonic_true_time(&self, local: LocalTime) -> SimTime {
        self.true_time_of(local, false)
    }

    fn read(&self, now: SimTime, steps: bool) -> LocalTime {
        let elapsed = now.as_nanos() as i64;
        let scaled = if self.drift_ppm == 0.0 { elapsed } else { (elapsed as f64 * self.rate()) as i64 };
        LocalTime((self.shift(steps) + scaled).max(0) as u64)
    }

    fn true_time_of(&self, local: LocalTime, steps: bool) -> SimTime {
        let scaled = local.0 as i64 - self.shift(steps);
        if scaled <= 0 {
            return SimTime::ZERO;
        }
        let nanos = if self.drift_ppm == 0.0 { scaled } else { (scaled as f64 / self.rate()).ceil() as i64 };
        let mut at = SimTime::from_nanos(nanos.max(0) as u64);
        // Float rounding must never make a timer fire early.
        while self.read(at, steps) < local {
            at = SimTime::from_nanos(at.as_nanos() + 1);
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_moves_the_wall_clock_and_not_the_monotonic_clock() {
        let mut clock = HostClock::new(0, 0.0);
        let at = SimTime::from_secs(5);
        let (wall, monotonic) = (clock.local(at), clock.monotonic(at));
        clock.step(-3_000_000_000);
        assert_eq!(clock.monotonic(at), monotonic);
        assert_eq!(wall.since(clock.local(at)).as_secs(), 3);
        assert_eq!(clock.monotonic_true_time(clock.monotonic(at)), at);
    }

    #[test]
    fn a_clock_without_offset_or_drift_tracks_true_time() {
        let clock = HostClock::new(0, 0.0);
        let at = SimTime::from_secs(5);
        assert_eq!(clock.true_time(clock.local(at)), at);
        assert_eq!(clock.local(at).since(clock.local(SimTime::ZERO)).as_secs(), 5);
    }

    #[test]
    fn a_fast_clock_reaches_a_local_deadline_early_in_true_time() {
        let clock = HostClock::new(0, 1_000.0); // 0.1 % fast
        let deadline = clock.local(SimTime::ZERO) + std::time::Duration::from_secs(1_000);
        let at = clock.true_time(deadline);
        assert!(at < SimTime::from_secs(1_000));
        assert!(clock.local(at) >= deadline);
    }

    #[test]
    fn a_step_moves_local_time_but_not_true_time() {
        let mut clock = HostClock::new(-30_000_000_000, 0.0);
        let before = clock.local(SimTime::from_secs(10));
        clock.step(60_000_000_000);
        assert_eq!(clock.local(SimTime::from_secs(10)).since(before).as_secs(), 60);
    }
}
