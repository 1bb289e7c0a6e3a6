//! `drill bench`: how fast the kernel simulates, against the performance targets in DESIGN.md.
//!
//! Three workloads, all measured in the same process so that the ratio is against a baseline taken on
//! the same machine in the same run:
//!
//! - the **reference drill** (4 nodes, full failover logic, mail at 20/s): the scenario file
//!   [`reference_drill_path`] (or another given with `--scenario`), loaded and run by the caller and
//!   handed in as a callback, so this module depends on nothing but the kernel and the fabric;
//! - the **heartbeat-only workload on the kernel** ([`kernel_heartbeat`]): event queue plus fabric;
//! - the **identical heartbeat workload on turmoil** ([`turmoil_heartbeat`]) at its default 1 ms tick.
//!
//! Every figure is a *speedup*: simulated time over wall time ("× real time"), so workloads run for
//! different simulated durations compare directly. Each workload is measured a few times and the best
//! (smallest wall time) is kept: the noise on a shared machine only ever adds time.
//!
//! This is the one place in the harness that reads the wall clock ([`wall_clock`]); nothing simulated
//! ever sees what it reads.

pub mod kernel_heartbeat;
pub mod memory;
pub mod turmoil_heartbeat;

use core::time::Duration;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// How often every host sends a heartbeat to every peer on every heartbeat network.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// Heartbeat networks (DESIGN.md: 2 heartbeat networks at 1 s).
pub const HEARTBEAT_PATHS: usize = 2;

/// The size of one heartbeat frame on the wire: a 16-byte payload (sender, path, sequence) plus UDP, IP
/// and Ethernet headers. Only the kernel's fabric charges for bytes; turmoil has no bandwidth.
pub const HEARTBEAT_FRAME_BYTES: u32 = 16 + 8 + 20 + 18;

/// The speedup DESIGN.md asks of the reference drill: 1 h simulated in at most 72 ms.
pub const REFERENCE_TARGET_SPEEDUP: f64 = 50_000.0;

/// How much faster than turmoil DESIGN.md asks the kernel to be on the heartbeat workload.
pub const TURMOIL_TARGET_RATIO: f64 = 100.0;

/// One heartbeat-only workload: every host sends one heartbeat per peer per heartbeat network every
/// [`HEARTBEAT_INTERVAL`], starting at time zero; receivers record when they last heard each peer on
/// each path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeartbeatWorkload {
    pub hosts: usize,
    /// Heartbeats sent at or after this instant, and arrivals after it, are not counted.
    pub sim_duration: Duration,
    pub seed: u64,
}

impl HeartbeatWorkload {
    /// How many heartbeats a loss-free run delivers: one per ordered pair of hosts, per path, per round,
    /// where the rounds are the send instants `0, 1 s, 2 s, ...` strictly before the end.
    pub fn expected_heartbeats(&self) -> u64 {
        let rounds = self.sim_duration.as_nanos().div_ceil(HEARTBEAT_INTERVAL.as_nanos());
        let pairs = (self.hosts * self.hosts.saturating_sub(1) * HEARTBEAT_PATHS) as u128;
        u64::try_from(rounds * pairs).unwrap_or(u64::MAX)
    }

    /// How far two simulators may disagree on the count: one round, for a heartbeat sent on the final
    /// boundary that one delivers and the other does not.
    pub fn tolerance(&self) -> u64 {
        (self.hosts * self.hosts.saturating_sub(1) * HEARTBEAT_PATHS) as u64
    }
}

/// What one run of a heartbeat workload did, so two simulators can be checked to have done the same work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeartbeatRun {
    /// Heartbeats that reached their receiver before the end.
    pub heartbeats_received: u64,
    /// The least recent last-seen instant over every (receiver, peer, path), or `None` if some path was
    /// never heard at all. In a healthy run it is within one interval of the end.
    pub oldest_last_seen: Option<Duration>,
    /// The simulator's unit of work: events popped (kernel) or simulation steps, one per tick (turmoil).
    pub events: u64,
    pub simulated: Duration,
    pub wall: Duration,
}

impl HeartbeatRun {
    pub fn speedup(&self) -> f64 {
        speedup(self.simulated, self.wall)
    }
}

/// The reference drill `drill bench` runs by default: `suites/bench/reference-drill.toml` of the
/// workspace this binary was built from, found at compile time so that `drill bench` works from any
/// directory of the machine that built it.
pub fn reference_drill_path() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).join("suites").join("bench").join("reference-drill.toml")
}

/// One run of the reference drill: the simulated time it covered and the events it processed.
pub type ReferenceDrill<'a> = &'a dyn Fn() -> (Duration, u64);

/// What to measure.
#[derive(Clone, Copy)]
pub struct BenchOptions<'a> {
    /// Hosts in the heartbeat workloads (the reference drill has its own, 4 nodes).
    pub hosts: usize,
    /// Simulated time of the kernel heartbeat workload.
    pub sim_duration: Duration,
    /// Simulated time of the turmoil heartbeat workload. Turmoil at a 1 ms tick costs about
    /// hosts × ticks, so it runs for less; its cost is linear in simulated time, so its speedup (simulated
    /// over wall) stands for the full duration and the ratio stays comparable.
    pub turmoil_sim_duration: Duration,
    /// Measurements per workload; the best (smallest wall time) is reported.
    pub repetitions: usize,
    /// Seed of both heartbeat workloads.
    pub seed: u64,
    /// The reference drill, run and timed as a whole; `None` leaves its figures out.
    pub reference: Option<ReferenceDrill<'a>>,
    /// The reference drill with its checks, stretched to a simulated length, with its own length and
    /// the length `--stretch` asks for: its peak memory is measured first, before anything else has
    /// grown the heap. `None` leaves the memory figures out.
    pub memory: Option<(memory::StretchedDrill<'a>, Duration, Option<Duration>)>,
}

impl Default for BenchOptions<'_> {
    fn default() -> Self {
        BenchOptions {
            hosts: 4,
            sim_duration: Duration::from_secs(3_600),
            turmoil_sim_duration: Duration::from_secs(600),
            repetitions: 3,
            seed: 1,
            reference: None,
            memory: None,
        }
    }
}

/// The figures of one benchmark run. Times are in seconds; a figure that was not measured is NaN
/// (`null` in JSON) or `None`.
#[derive(Clone, Debug, Serialize)]
pub struct BenchFigures {
    /// Reference drill: simulated time over wall time. Target ≥ [`REFERENCE_TARGET_SPEEDUP`].
    pub reference_speedup: f64,
    /// Heartbeat workload on the kernel: simulated time over wall time.
    pub kernel_heartbeat_speedup: f64,
    /// Heartbeat workload on turmoil (1 ms tick): simulated time over wall time.
    pub turmoil_heartbeat_speedup: f64,
    /// `kernel_heartbeat_speedup / turmoil_heartbeat_speedup`. Target ≥ [`TURMOIL_TARGET_RATIO`].
    pub ratio: f64,

    pub reference_simulated_secs: Option<f64>,
    pub reference_wall_secs: Option<f64>,
    pub reference_events: Option<u64>,
    /// Peak memory of the reference drill and its growth with simulated time.
    pub memory: Option<memory::MemoryFigures>,

    pub hosts: usize,
    pub heartbeat_paths: usize,
    pub heartbeat_interval_secs: f64,
    pub kernel_simulated_secs: f64,
    pub kernel_wall_secs: f64,
    /// Events the kernel popped in the best run.
    pub kernel_events: u64,
    pub kernel_heartbeats: u64,
    pub turmoil_tick_secs: f64,
    pub turmoil_simulated_secs: f64,
    pub turmoil_wall_secs: f64,
    /// Simulation steps (ticks) turmoil took.
    pub turmoil_steps: u64,
    pub turmoil_heartbeats: u64,
    /// The kernel's heartbeat count over turmoil's simulated duration, checked against
    /// `turmoil_heartbeats` so the two did the same work.
    pub kernel_heartbeats_at_turmoil_duration: u64,
    /// Measurements per workload; the best is reported.
    pub repetitions: usize,
    /// True when built without optimisation: the figures then say nothing about the targets.
    pub debug_build: bool,
}

/// Runs every workload `options.repetitions` times, keeps the best of each and checks that the kernel
/// and turmoil delivered the same heartbeats.
///
/// # Panics
/// If the two simulators disagree on the heartbeat count by more than one round, or the kernel loses a
/// heartbeat on its loss-free LANs: the comparison would then not be of identical work.
pub fn run(options: &BenchOptions<'_>) -> BenchFigures {
    let memory = options.memory.map(|(drill, length, stretch)| memory::measure(drill, length, stretch));
    let repetitions = options.repetitions.max(1);
    let kernel_workload =
        HeartbeatWorkload { hosts: options.hosts, sim_duration: options.sim_duration, seed: options.seed };
    let turmoil_workload =
        HeartbeatWorkload { sim_duration: options.turmoil_sim_duration, ..kernel_workload };

    // The cross-check first: the same workload, over turmoil's duration, on both simulators.
    let kernel_short = kernel_heartbeat::run(&turmoil_workload);
    let turmoil = best_of(repetitions, || turmoil_heartbeat::run(&turmoil_workload));
    check_same_work(&turmoil_workload, &kernel_short, &turmoil);

    let kernel = best_of(repetitions, || kernel_heartbeat::run(&kernel_workload));
    assert_eq!(
        kernel.heartbeats_received,
        kernel_workload.expected_heartbeats(),
        "the kernel lost heartbeats on loss-free LANs"
    );

    let reference = options.reference.map(|drill| {
        let runs = (0..repetitions).map(|_| {
            let ((simulated, events), wall) = wall_clock(drill);
            (simulated, events, wall)
        });
        runs.min_by_key(|&(_, _, wall)| wall).expect("at least one repetition")
    });

    let kernel_heartbeat_speedup = kernel.speedup();
    let turmoil_heartbeat_speedup = turmoil.speedup();
    BenchFigures {
        reference_speedup: reference.map_or(f64::NAN, |(simulated, _, wall)| speedup(simulated, wall)),
        kernel_heartbeat_speedup,
        turmoil_heartbeat_speedup,
        ratio: kernel_heartbeat_speedup / turmoil_heartbeat_speedup,
        reference_simulated_secs: reference.map(|(simulated, _, _)| simulated.as_secs_f64()),
        reference_wall_secs: reference.map(|(_, _, wall)| wall.as_secs_f64()),
        reference_events: reference.map(|(_, events, _)| events),
        memory,
        hosts: options.hosts,
        heartbeat_paths: HEARTBEAT_PATHS,
        heartbeat_interval_secs: HEARTBEAT_INTERVAL.as_secs_f64(),
        kernel_simulated_secs: kernel.simulated.as_secs_f64(),
        kernel_wall_secs: kernel.wall.as_secs_f64(),
        kernel_events: kernel.events,
        kernel_heartbeats: kernel.heartbeats_received,
        turmoil_tick_secs: turmoil_heartbeat::TICK.as_secs_f64(),
        turmoil_simulated_secs: turmoil.simulated.as_secs_f64(),
        turmoil_wall_secs: turmoil.wall.as_secs_f64(),
        turmoil_steps: turmoil.events,
        turmoil_heartbeats: turmoil.heartbeats_received,
        kernel_heartbeats_at_turmoil_duration: kernel_short.heartbeats_received,
        repetitions,
        debug_build: cfg!(debug_assertions),
    }
}

/// Panics unless `kernel` and `turmoil` delivered the same heartbeats (within the workload's
/// tolerance) and both heard every path.
fn check_same_work(workload: &HeartbeatWorkload, kernel: &HeartbeatRun, turmoil: &HeartbeatRun) {
    assert!(
        kernel.heartbeats_received.abs_diff(turmoil.heartbeats_received) <= workload.tolerance(),
        "not the same work: the kernel delivered {} heartbeats and turmoil {} over {:?} on {} hosts",
        kernel.heartbeats_received,
        turmoil.heartbeats_received,
        workload.sim_duration,
        workload.hosts,
    );
    if workload.sim_duration >= HEARTBEAT_INTERVAL && workload.hosts > 1 {
        assert!(kernel.oldest_last_seen.is_some(), "the kernel never heard some (peer, path)");
        assert!(turmoil.oldest_last_seen.is_some(), "turmoil never heard some (peer, path)");
    }
}

/// The run with the smallest wall time of `repetitions` runs.
fn best_of(repetitions: usize, mut measure: impl FnMut() -> HeartbeatRun) -> HeartbeatRun {
    (0..repetitions.max(1)).map(|_| measure()).min_by_key(|run| run.wall).expect("at least one repetition")
}

/// Simulated time over wall time; NaN if the wall time is zero (too small to measure).
fn speedup(simulated: Duration, wall: Duration) -> f64 {
    if wall.is_zero() { f64::NAN } else { simulated.as_secs_f64() / wall.as_secs_f64() }
}

/// Runs `work` and returns its result with the wall time it took.
#[expect(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "benchmarks measure wall-clock time; nothing simulated reads it"
)]
pub(crate) fn wall_clock<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let started = std::time::Instant::now();
    let result = work();
    (result, started.elapsed())
}

/// A small table of the figures against the DESIGN.md targets, with PASS or BELOW per target.
pub fn render_text(figures: &BenchFigures) -> String {
    let mut out = String::new();
    let hosts = figures.hosts;
    let paths = figures.heartbeat_paths;
    let interval = figures.heartbeat_interval_secs;
    let _ = writeln!(
        out,
        "drill bench: best of {} run{} per workload, all in this process{}",
        figures.repetitions,
        if figures.repetitions == 1 { "" } else { "s" },
        if figures.debug_build { " (DEBUG BUILD: figures are not comparable to the targets)" } else { "" }
    );
    let _ = writeln!(
        out,
        "heartbeat workload: {hosts} hosts; each sends every peer one heartbeat per network ({paths}) every {interval} s"
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<34} {:>10} {:>12} {:>14} {:>12} {:>8}",
        "workload", "simulated", "wall", "x real time", "target", "result"
    );

    let reference_measured = figures.reference_speedup.is_finite();
    let _ = writeln!(
        out,
        "{:<34} {:>10} {:>12} {:>14} {:>12} {:>8}",
        "reference drill (world, 4 nodes)",
        figures.reference_simulated_secs.map_or_else(|| "-".to_string(), format_secs),
        figures.reference_wall_secs.map_or_else(|| "-".to_string(), format_wall),
        if reference_measured { format_times(figures.reference_speedup) } else { "not run".to_string() },
        format!(">= {}", format_times(REFERENCE_TARGET_SPEEDUP)),
        if reference_measured { verdict(figures.reference_speedup, REFERENCE_TARGET_SPEEDUP) } else { "-" },
    );
    let _ = writeln!(
        out,
        "{:<34} {:>10} {:>12} {:>14} {:>12} {:>8}",
        "heartbeats on the kernel",
        format_secs(figures.kernel_simulated_secs),
        format_wall(figures.kernel_wall_secs),
        format_times(figures.kernel_heartbeat_speedup),
        "",
        "",
    );
    let _ = writeln!(
        out,
        "{:<34} {:>10} {:>12} {:>14} {:>12} {:>8}",
        format!("heartbeats on turmoil ({} ms tick)", figures.turmoil_tick_secs * 1_000.0),
        format_secs(figures.turmoil_simulated_secs),
        format_wall(figures.turmoil_wall_secs),
        format_times(figures.turmoil_heartbeat_speedup),
        "",
        "",
    );
    let _ = writeln!(
        out,
        "{:<34} {:>10} {:>12} {:>14} {:>12} {:>8}",
        "kernel / turmoil (same workload)",
        "",
        "",
        format_times(figures.ratio),
        format!(">= {}", format_times(TURMOIL_TARGET_RATIO)),
        verdict(figures.ratio, TURMOIL_TARGET_RATIO),
    );
    let _ = writeln!(out);
    if let Some(events) = figures.reference_events {
        let _ = writeln!(out, "reference drill: {events} events");
    }
    let _ = writeln!(
        out,
        "kernel: {} events, {} heartbeats delivered",
        figures.kernel_events, figures.kernel_heartbeats
    );
    let _ = writeln!(
        out,
        "same work: turmoil took {} steps and delivered {} heartbeats in {}; the kernel delivered {} in the same {}",
        figures.turmoil_steps,
        figures.turmoil_heartbeats,
        format_secs(figures.turmoil_simulated_secs),
        figures.kernel_heartbeats_at_turmoil_duration,
        format_secs(figures.turmoil_simulated_secs),
    );
    if figures.turmoil_simulated_secs != figures.kernel_simulated_secs {
        let _ = writeln!(
            out,
            "turmoil ran {} simulated, not {}: at a 1 ms tick its cost is hosts x ticks, linear in simulated \
             time, so its x real time stands for the full duration and the ratio compares like with like",
            format_secs(figures.turmoil_simulated_secs),
            format_secs(figures.kernel_simulated_secs),
        );
    }
    if let Some(memory) = &figures.memory {
        render_memory(&mut out, memory);
    }
    out
}

/// The memory lines: peak, growth, and the week against its target.
fn render_memory(out: &mut String, memory: &memory::MemoryFigures) {
    let mib = |bytes: Option<u64>| {
        bytes.map_or_else(|| "not measured".to_string(), |b| format!("{:.1} MiB", b as f64 / 1_048_576.0))
    };
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "memory: baseline {}; reference drill peak {} over {}; growth {} per simulated hour",
        mib(memory.baseline_bytes),
        mib(memory.reference_peak_bytes),
        format_secs(memory.reference_simulated_secs),
        mib(memory.growth_per_simulated_hour_bytes),
    );
    let ratio = memory.week_peak_bytes.map(|peak| peak as f64 / memory::WEEK_TARGET_BYTES as f64);
    let _ = writeln!(
        out,
        "memory over 7 simulated days: {} ({}), target <= {}: {}",
        mib(memory.week_peak_bytes),
        if memory.week_measured { "measured" } else { "estimated from the growth; --stretch 7d measures it" },
        mib(Some(memory::WEEK_TARGET_BYTES)),
        match ratio {
            Some(ratio) if ratio <= 1.0 => format!("PASS ({ratio:.2}x the target)"),
            Some(ratio) => format!("BELOW ({ratio:.1}x the target)"),
            None => "-".to_string(),
        }
    );
    if let Some(run) = &memory.week_run {
        let _ = writeln!(
            out,
            "the week's run: {}, {} messages acknowledged, {} history records",
            run.verdict, run.acked, run.events
        );
    }
}

fn verdict(value: f64, target: f64) -> &'static str {
    if value >= target { "PASS" } else { "BELOW" }
}

/// `1h`, `10m`, `30s`: the simulated duration in the form scenarios use.
fn format_secs(secs: f64) -> String {
    kernel::format_duration(Duration::from_secs_f64(secs.max(0.0)))
}

/// A wall time in the unit that reads best.
fn format_wall(secs: f64) -> String {
    if secs >= 1.0 { format!("{secs:.2} s") } else { format!("{:.2} ms", secs * 1_000.0) }
}

/// `123,456x`: a speedup or ratio, rounded, with thousands separators.
fn format_times(value: f64) -> String {
    if !value.is_finite() {
        return "-".to_string();
    }
    let rounded = value.round() as u64;
    let digits = rounded.to_string();
    let mut grouped = String::new();
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{grouped}x")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_simulators_deliver_the_same_heartbeats() {
        let workload = HeartbeatWorkload { hosts: 3, sim_duration: Duration::from_secs(30), seed: 7 };
        let kernel = kernel_heartbeat::run(&workload);
        let turmoil = turmoil_heartbeat::run(&workload);
        assert_eq!(workload.expected_heartbeats(), 30 * 3 * 2 * 2);
        assert_eq!(kernel.heartbeats_received, workload.expected_heartbeats());
        assert_eq!(turmoil.heartbeats_received, kernel.heartbeats_received);
        // Every receiver heard every peer on every path in the last round.
        let last_round = workload.sim_duration - HEARTBEAT_INTERVAL;
        assert!(kernel.oldest_last_seen.is_some_and(|seen| seen >= last_round), "{kernel:?}");
        assert!(turmoil.oldest_last_seen.is_some_and(|seen| seen >= last_round), "{turmoil:?}");
        check_same_work(&workload, &kernel, &turmoil);
    }

    #[test]
    fn the_kernel_workload_is_deterministic() {
        let workload = HeartbeatWorkload { hosts: 3, sim_duration: Duration::from_secs(10), seed: 3 };
        let first = kernel_heartbeat::run(&workload);
        let second = kernel_heartbeat::run(&workload);
        assert_eq!(
            (first.heartbeats_received, first.oldest_last_seen, first.events),
            (second.heartbeats_received, second.oldest_last_seen, second.events)
        );
    }

    #[test]
    fn expected_heartbeats_count_the_send_instants_before_the_end() {
        let at = |secs_millis: u64| HeartbeatWorkload {
            hosts: 4,
            sim_duration: Duration::from_millis(secs_millis),
            seed: 0,
        };
        assert_eq!(at(0).expected_heartbeats(), 0);
        assert_eq!(at(1).expected_heartbeats(), 24); // the send at time zero
        assert_eq!(at(1_000).expected_heartbeats(), 24);
        assert_eq!(at(1_001).expected_heartbeats(), 48);
        assert_eq!(at(3_600_000).expected_heartbeats(), 3_600 * 24);
    }

    #[test]
    fn the_table_marks_each_target_and_a_missing_reference() {
        let figures = BenchFigures {
            reference_speedup: f64::NAN,
            kernel_heartbeat_speedup: 250_000.0,
            turmoil_heartbeat_speedup: 200.0,
            ratio: 1_250.0,
            reference_simulated_secs: None,
            reference_wall_secs: None,
            reference_events: None,
            memory: None,
            hosts: 4,
            heartbeat_paths: 2,
            heartbeat_interval_secs: 1.0,
            kernel_simulated_secs: 3_600.0,
            kernel_wall_secs: 0.0144,
            kernel_events: 100_800,
            kernel_heartbeats: 86_400,
            turmoil_tick_secs: 0.001,
            turmoil_simulated_secs: 600.0,
            turmoil_wall_secs: 3.0,
            turmoil_steps: 600_000,
            turmoil_heartbeats: 14_400,
            kernel_heartbeats_at_turmoil_duration: 14_400,
            repetitions: 3,
            debug_build: false,
        };
        let text = render_text(&figures);
        assert!(text.contains("not run"), "{text}");
        assert!(text.contains("1,250x"), "{text}");
        assert!(text.contains("PASS"), "{text}");
        assert!(!text.contains("BELOW"), "{text}");
        assert!(text.contains("turmoil ran 10m simulated, not 1h"), "{text}");
        let slow = BenchFigures { ratio: 50.0, reference_speedup: 10_000.0, ..figures.clone() };
        assert_eq!(render_text(&slow).matches("BELOW").count(), 2);
        let json = serde_json::to_value(&slow).unwrap();
        assert_eq!(json["ratio"], 50.0);
        assert!(serde_json::to_value(&BenchFigures { reference_speedup: f64::NAN, ..slow.clone() }).unwrap()
            ["reference_speedup"]
            .is_null());
        let memory = memory::MemoryFigures {
            baseline_bytes: Some(4 << 20),
            reference_peak_bytes: Some(68 << 20),
            reference_simulated_secs: 3_600.0,
            growth_per_simulated_hour_bytes: Some(60 << 20),
            week_peak_bytes: Some(10_000 << 20),
            week_measured: false,
            week_run: None,
        };
        let text = render_text(&BenchFigures { memory: Some(memory.clone()), ..slow });
        assert!(
            text.contains("reference drill peak 68.0 MiB over 1h; growth 60.0 MiB per simulated hour"),
            "{text}"
        );
        assert!(text.contains("memory over 7 simulated days: 10000.0 MiB (estimated"), "{text}");
        assert!(text.contains("target <= 64.0 MiB: BELOW (156.2x the target)"), "{text}");
        let week_run = memory::StretchedRun { verdict: "pass".to_string(), acked: 12, events: 34 };
        let within = memory::MemoryFigures {
            week_peak_bytes: Some(60 << 20),
            week_measured: true,
            week_run: Some(week_run),
            ..memory
        };
        let text = render_text(&BenchFigures { memory: Some(within), ..figures.clone() });
        assert!(text.contains("(measured), target <= 64.0 MiB: PASS"), "{text}");
        assert!(
            text.contains("the week's run: pass, 12 messages acknowledged, 34 history records"),
            "{text}"
        );
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(format_times(999.4), "999x");
        assert_eq!(format_times(1_000.0), "1,000x");
        assert_eq!(format_times(440_000.0), "440,000x");
        assert_eq!(format_times(f64::NAN), "-");
    }
}
