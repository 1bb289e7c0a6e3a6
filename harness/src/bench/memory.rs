//! Peak memory of the reference drill, and how it grows with simulated time.
//!
//! Read from the kernel's own accounting: the resident set's high-water mark (`VmHWM` in
//! `/proc/self/status`), reset before each measured run by writing `5` to `/proc/self/clear_refs`,
//! so one process measures several runs. Elsewhere than Linux nothing is measured (`None`).
//!
//! Growth is the difference between a run of one length and a run of twice that length; the week's
//! figure is that growth carried to seven simulated days, labelled an estimate, unless `drill bench
//! --stretch 7d` runs the week itself.

use std::time::Duration;

/// DESIGN.md's memory target: the reference drill over seven simulated days within 64 MiB.
pub const WEEK: Duration = Duration::from_secs(7 * 24 * 3_600);
pub const WEEK_TARGET_BYTES: u64 = 64 << 20;

/// Runs the reference drill (with its checks) stretched to the given simulated length, and says how
/// the run went: a memory figure is worth something only for a run that did its work.
pub type StretchedDrill<'a> = &'a dyn Fn(Duration) -> StretchedRun;

/// What one stretched run of the reference drill did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StretchedRun {
    /// Its verdict (`pass` unless the checkers found something).
    pub verdict: String,
    /// Messages the clients had acknowledged.
    pub acked: u64,
    /// Records in its history.
    pub events: u64,
}

/// What the memory runs measured, in bytes.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct MemoryFigures {
    /// Resident memory just before the memory runs: the process's own baseline.
    pub baseline_bytes: Option<u64>,
    /// Peak resident memory during one full run of the reference drill at its own length.
    pub reference_peak_bytes: Option<u64>,
    /// The simulated length of that run, in seconds.
    pub reference_simulated_secs: f64,
    /// Growth of the peak per simulated hour (a run twice as long, minus the first).
    pub growth_per_simulated_hour_bytes: Option<u64>,
    /// Peak resident memory over seven simulated days: measured with `--stretch 7d`, else estimated
    /// from the growth.
    pub week_peak_bytes: Option<u64>,
    /// Whether `week_peak_bytes` was measured (true) or estimated (false).
    pub week_measured: bool,
    /// How the measured week's run went (with `--stretch`).
    pub week_run: Option<StretchedRun>,
}

/// Measures the drill at `length` and `2 × length`, and at `stretch` if given.
pub fn measure(drill: StretchedDrill<'_>, length: Duration, stretch: Option<Duration>) -> MemoryFigures {
    let baseline_bytes = resident_bytes();
    let reference_peak_bytes = peak_of(|| drill(length)).0;
    let double_peak = peak_of(|| drill(length * 2)).0;
    let hours = length.as_secs_f64() / 3_600.0;
    let growth_per_simulated_hour_bytes = match (reference_peak_bytes, double_peak) {
        (Some(single), Some(double)) if hours > 0.0 => {
            Some((double.saturating_sub(single) as f64 / hours) as u64)
        }
        _ => None,
    };
    let (week_peak_bytes, week_measured, week_run) = match stretch {
        Some(stretch) => {
            let (peak, run) = peak_of(|| drill(stretch));
            (peak, true, Some(run))
        }
        None => {
            let remaining_hours = WEEK.saturating_sub(length).as_secs_f64() / 3_600.0;
            let estimate = reference_peak_bytes
                .zip(growth_per_simulated_hour_bytes)
                .map(|(peak, growth)| peak.saturating_add((growth as f64 * remaining_hours) as u64));
            (estimate, false, None)
        }
    };
    MemoryFigures {
        baseline_bytes,
        reference_peak_bytes,
        reference_simulated_secs: length.as_secs_f64(),
        growth_per_simulated_hour_bytes,
        week_peak_bytes,
        week_measured,
        week_run,
    }
}

/// The peak resident memory while `work` runs (`None` where it cannot be read), and what it returned.
fn peak_of<T>(work: impl FnOnce() -> T) -> (Option<u64>, T) {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let result = work();
    (if reset { status_field("VmHWM:") } else { None }, result)
}

fn resident_bytes() -> Option<u64> {
    status_field("VmRSS:")
}

/// A `kB` field of `/proc/self/status`, in bytes.
fn status_field(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(name))?;
    let kilobytes: u64 = line[name.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kilobytes * 1_024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_holds_more_memory_shows_a_higher_peak_where_the_kernel_tells() {
        let (small, ()) = peak_of(|| {
            std::hint::black_box(vec![1u8; 1 << 20]);
        });
        let (large, ()) = peak_of(|| {
            std::hint::black_box(vec![1u8; 64 << 20]);
        });
        if let (Some(small), Some(large)) = (small, large) {
            assert!(large >= small + (32 << 20), "64 MiB touched: peak {large} against {small}");
        }
    }
}
