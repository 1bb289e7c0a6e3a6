//! Settings that used to be hard-coded take effect: each test runs a catalogue scenario with the
//! setting written into its file (so the key is parsed, validated and carried into the world) and
//! compares the run with the file as it is. The heartbeat phase has its own test in the failover
//! crate (`failover/tests/rules.rs`), which records every heartbeat the nodes send.

use drill_suites::catalogue_root;
use harness::history::{ArbitrationStep, Event, FaultKind};
use harness::run::RunOutcome;
use harness::scenario::{self, Scenario};
use harness::verdict::{Verdict, ViolationKind};
use harness::world::run_scenario;

/// The catalogue file `relative`, as it is and with its first `from` replaced by `to`.
fn with_replaced(relative: &str, from: &str, to: &str) -> (Scenario, Scenario) {
    let path = catalogue_root().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let as_is = scenario::parse(&path, &text).unwrap_or_else(|error| panic!("{error}"));
    let replaced = text.replacen(from, to, 1);
    assert_ne!(replaced, text, "{relative} has no `{from}`");
    let changed = scenario::parse(&path, &replaced).unwrap_or_else(|error| panic!("{error}"));
    (as_is, changed)
}

/// The catalogue file `relative`, as it is and with `line` inserted after the first line that reads
/// exactly `after`.
fn with_line(relative: &str, after: &str, line: &str) -> (Scenario, Scenario) {
    with_replaced(relative, &format!("\n{after}\n"), &format!("\n{after}\n{line}\n"))
}

fn count(outcome: &RunOutcome, matches: impl Fn(&Event) -> bool) -> usize {
    outcome.history.records().iter().filter(|record| matches(&record.event)).count()
}

fn reasserted(event: &Event) -> bool {
    matches!(event, Event::DiskArbitration { step: ArbitrationStep::Reasserted, .. })
}

#[test]
fn with_aptpl_an_array_reboot_keeps_the_reservation_so_the_owner_has_nothing_to_reassert() {
    let (without, with) = with_line("fast/scc-array-reboot.toml", "[storage]", "aptpl = true");
    assert!(!without.storage.as_ref().is_some_and(|storage| storage.aptpl), "the default is no APTPL");
    assert!(with.storage.as_ref().is_some_and(|storage| storage.aptpl));
    for seed in 1..=3 {
        let dropped = run_scenario(&without, seed);
        assert!(dropped.as_expected, "seed {seed}: {:?}", dropped.report.violations);
        assert!(count(&dropped, |event| matches!(event, Event::ReservationsLost { .. })) > 0);
        assert!(count(&dropped, reasserted) > 0, "seed {seed}: without APTPL the owner re-asserts");

        // The catalogue file asserts `reservation-reasserted`; with APTPL nothing is re-asserted, so that
        // assertion, and nothing else, must fail: the reachability check bites when its event is absent.
        let kept = run_scenario(&with, seed);
        let kinds: Vec<ViolationKind> =
            kept.report.violations.iter().map(|violation| violation.check).collect();
        assert_eq!(kinds, vec![ViolationKind::Unreached], "seed {seed}: {:?}", kept.report.violations);
        assert!(kept.report.violations[0].detail.contains("`reservation-reasserted`"));
        let rebooted =
            count(&kept, |event| matches!(event, Event::Fault { kind: FaultKind::ControllerReboot, .. }));
        assert_eq!(rebooted, 1, "seed {seed}: the array reboots with APTPL too");
        let lost = count(&kept, |event| matches!(event, Event::ReservationsLost { .. }));
        assert_eq!(lost, 0, "seed {seed}: with APTPL the reboot must keep registrations and reservation");
        assert_eq!(count(&kept, reasserted), 0, "seed {seed}: a kept reservation needs no re-assertion");
    }
}

/// When the new owner of SG1 first acknowledged a message, and when it mounted.
fn new_owner_mount_and_first_ack_ms(outcome: &RunOutcome) -> (u64, u64) {
    let records = outcome.history.records();
    let mounted = records
        .iter()
        .find_map(|record| match &record.event {
            Event::Mounted { epoch: 2, .. } => Some(record.at.as_millis()),
            _ => None,
        })
        .expect("SG1 fails over to epoch 2");
    let acked = records
        .iter()
        .find_map(|record| match &record.event {
            Event::Acked { epoch: 2, .. } => Some(record.at.as_millis()),
            _ => None,
        })
        .expect("the new owner acknowledges mail before the run ends");
    (mounted, acked)
}

/// Hubs are not told of a failover: they resolve the database's name through their DNS cache. Across
/// subnets the cached answer names the old subnet's address, which nobody holds after the failover,
/// so a hub reaches the new owner only when the answer's TTL runs out (domain.md pattern 10). The hub
/// first resolves SG1 when mail starts at 10 s; with a 300 s TTL its answer is stale from the failover
/// (77 s) until 310 s, with the file's 30 s TTL for at most 30 s.
#[test]
fn across_subnets_a_long_name_ttl_keeps_the_hubs_from_the_new_owner_until_it_expires() {
    let (short_ttl, long_ttl) =
        with_replaced("fast/ccr-multi-subnet-failover.toml", "name_ttl = \"30s\"", "name_ttl = \"5m\"");
    assert_eq!(
        (short_ttl.databases[0].name_ttl.as_secs(), long_ttl.databases[0].name_ttl.as_secs()),
        (30, 300)
    );

    let long = run_scenario(&long_ttl, 1);
    let (mounted, first_ack) = new_owner_mount_and_first_ack_ms(&long);
    assert!(
        first_ack >= 10_000 + 300_000,
        "with a 300 s TTL nothing reaches the new owner (mounted at {mounted} ms) before the hub's cached \
         answer expires at 310 s, yet it acknowledged at {first_ack} ms"
    );
    let short = run_scenario(&short_ttl, 1);
    assert!(short.as_expected, "{:?}", short.report.violations);
    let (mounted, first_ack) = new_owner_mount_and_first_ack_ms(&short);
    assert!(
        first_ack <= mounted + 30_000 + 5_000,
        "with a 30 s TTL the hub finds the new owner (mounted at {mounted} ms) within a TTL and a retry, \
         not at {first_ack} ms"
    );
    assert_eq!((long.metrics().lost_acked, short.metrics().lost_acked), (0, 0));
}

/// On one subnet the group's address moves with the group (the new owner's gratuitous ARP), so a
/// hub's cached DNS answer still leads to the new owner: the TTL changes nothing.
#[test]
fn on_one_subnet_the_address_moves_with_the_group_and_the_name_ttl_does_not_matter() {
    let (default_ttl, long_ttl) =
        with_line("fast/ccr-pull-cord.toml", "copies = [\"mbx1\", \"mbx2\"]", "name_ttl = \"1h\"");
    for scenario in [&default_ttl, &long_ttl] {
        let outcome = run_scenario(scenario, 1);
        assert!(outcome.as_expected, "{:?}", outcome.report.violations);
        let (mounted, first_ack) = new_owner_mount_and_first_ack_ms(&outcome);
        assert!(
            first_ack <= mounted + 5_000,
            "TTL {:?}: the new owner mounted at {mounted} ms but first acknowledged at {first_ack} ms",
            scenario.databases[0].name_ttl
        );
    }
}

#[test]
fn a_failover_bound_of_zero_fails_a_run_that_fails_over_and_a_bound_of_one_passes_it() {
    let (_, bound_zero) = with_line("fast/ccr-pull-cord.toml", "[checks]", "max_failovers = 0");
    let outcome = run_scenario(&bound_zero, 1);
    let kinds: Vec<ViolationKind> =
        outcome.report.violations.iter().map(|violation| violation.check).collect();
    assert_eq!(kinds, [ViolationKind::Failovers], "{:?}", outcome.report.violations);
    assert_eq!(outcome.verdict, Verdict::Liveness, "an unwanted failover is no safety violation");
    assert_eq!(outcome.exit_code, 3);
    // The decision counts once committed: the witness records its epoch 5 ms after the proposal.
    assert_eq!(outcome.report.violations[0].time_ms, 72_005, "reported at the committed failover decision");

    let (_, bound_one) = with_line("fast/ccr-pull-cord.toml", "[checks]", "max_failovers = 1");
    let outcome = run_scenario(&bound_one, 1);
    assert!(outcome.as_expected, "{:?}", outcome.report.violations);
    assert_eq!(outcome.metrics().failovers, 2, "the initial activation and the one failover");
}

/// The catalogue asserts "no failover" where that is the point of the scenario.
#[test]
fn the_scenarios_about_riding_out_a_fault_bound_their_failovers_to_zero() {
    for relative in [
        "fast/ccr-private-nic-loss.toml",
        "fast/scc-path-flap.toml",
        "fast/scc-path-returns-unregistered.toml",
        "fast/scc-array-reboot.toml",
    ] {
        let scenario =
            scenario::load(&catalogue_root().join(relative)).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(scenario.checks.max_failovers, Some(0), "{relative}");
    }
}
