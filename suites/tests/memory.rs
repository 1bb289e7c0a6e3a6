//! Memory does not grow with the mail a run carries: nothing per message is kept for the whole run.
//!
//! Not a target (`drill bench` measures the reference drill's week against DESIGN.md's 64 MiB): a
//! guard on the structure, with `drill bench`'s own measurement (the kernel's resident high-water
//! mark, reset per run) of a bounded run of the reference drill at one length and at twice it. This
//! file holds one test, so its binary is a process of its own under `cargo test` as under nextest.
//! Before the checkers were fed record by record the growth was about 60 MiB per simulated hour.

use drill_suites::catalogue_root;
use harness::bench::memory::{StretchedRun, measure};
use harness::scenario;
use harness::world::run_scenario_bounded;
use std::time::Duration;

#[test]
fn a_longer_reference_drill_holds_no_more_memory_than_a_short_one() {
    let path = catalogue_root().join("bench/reference-drill.toml");
    let drill = scenario::load(&path).unwrap_or_else(|error| panic!("{error}"));
    let run = |length: Duration| {
        let mut stretched = drill.clone();
        stretched.duration = length;
        stretched.workload.stop = length - Duration::from_secs(60);
        let outcome = run_scenario_bounded(&stretched, 1);
        assert!(outcome.as_expected, "the reference drill passes: {:?}", outcome.report.violations);
        StretchedRun {
            verdict: outcome.verdict.to_string(),
            acked: outcome.report.metrics.acked,
            events: outcome.report.metrics.events,
        }
    };
    let figures = measure(&run, Duration::from_secs(15 * 60), None);
    let growth = figures.growth_per_simulated_hour_bytes;
    if cfg!(not(target_os = "linux")) && growth.is_none() {
        return; // only Linux reports the resident high-water mark
    }
    let growth = growth.expect("Linux reports the resident high-water mark");
    // An hour of the drill is 72,000 messages: 2 MiB an hour is under 30 bytes a message, where the
    // per-message records alone were about 450.
    assert!(growth < 2 << 20, "the drill grows {growth} bytes per simulated hour: {figures:?}");
}
