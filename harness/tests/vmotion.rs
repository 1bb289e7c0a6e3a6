//! Named tests of the `vmotion` fault's edge paths: a VM that is off or still booting when the fault
//! fires, a migration with nowhere to go, and a source or destination that loses power during the
//! stun. Each runs `suites/fast/ha-vmotion-stun.toml` (mbx1 on esx1, allowed on esx3; mbx2 on esx2)
//! with its faults replaced.

use harness::history::{Event, FaultKind, HostDownReason, NoEffect};
use harness::run::RunOutcome;
use harness::scenario;
use harness::world::run_scenario;
use std::path::Path;

/// The vMotion scenario with everything from its first `[[fault]]` replaced by `faults` and a bare
/// `[checks]`.
fn vmotion_lab_with(faults: &str) -> RunOutcome {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/fast/ha-vmotion-stun.toml");
    let text = std::fs::read_to_string(&path).expect("the catalogue file");
    let head = &text[..text.find("[[fault]]").expect("the file has faults")];
    let changed = format!("{head}{faults}\n[checks]\nrto = \"60s\"\n");
    let scenario = scenario::parse(&path, &changed).unwrap_or_else(|error| panic!("{error}"));
    run_scenario(&scenario, 1)
}

fn events(outcome: &RunOutcome) -> Vec<(u64, &Event)> {
    outcome.history.records().iter().map(|record| (record.at.as_millis(), &record.event)).collect()
}

fn migrated(events: &[(u64, &Event)]) -> Vec<(u64, String)> {
    events
        .iter()
        .filter_map(|(at, event)| match event {
            Event::VmMigrated { vm, to, .. } if &**vm == "mbx1" => Some((*at, to.to_string())),
            _ => None,
        })
        .collect()
}

fn vmotion_without_effect(events: &[(u64, &Event)]) -> Option<NoEffect> {
    events.iter().find_map(|(_, event)| match event {
        Event::FaultWithoutEffect { kind: FaultKind::Vmotion, reason, .. } => Some(*reason),
        _ => None,
    })
}

fn host_events<'e>(events: &[(u64, &'e Event)], name: &str) -> Vec<(u64, &'e Event)> {
    events
        .iter()
        .filter(|(_, event)| match event {
            Event::HostDown { host, .. } | Event::HostUp { host, .. } => &**host == name,
            Event::VmPoweredOn { vm, .. } => &**vm == name,
            _ => false,
        })
        .map(|(at, event)| (*at, *event))
        .collect()
}

const VMOTION_AT_60S: &str =
    "[[fault]]\nat = \"60s\"\nkind = \"vmotion\"\ntarget = \"mbx1\"\nvalue = \"3s\"\n";

#[test]
fn a_vmotion_of_a_vm_that_is_off_when_it_fires_is_recorded_without_effect() {
    // Whether a VM is on at a given instant depends on the run (HA may have restarted it), so load
    // cannot refuse this; the run records that nothing moved, and why.
    let faults =
        format!("[[fault]]\nat = \"50s\"\nkind = \"power-off\"\ntarget = \"mbx1\"\n\n{VMOTION_AT_60S}");
    let outcome = vmotion_lab_with(&faults);
    let events = events(&outcome);
    assert_eq!(vmotion_without_effect(&events), Some(NoEffect::HostNotRunning));
    assert!(migrated(&events).is_empty());
}

#[test]
fn a_vmotion_of_a_vm_whose_guest_is_booting_moves_it_and_the_boot_finishes_on_the_destination() {
    // The power cycle turns mbx1 back on at 60 s; its guest boots until 120 s.
    let faults = "[[fault]]\nat = \"50s\"\nkind = \"power-cycle\"\ntarget = \"mbx1\"\n\n[[fault]]\nat = \"70s\"\nkind = \"vmotion\"\ntarget = \"mbx1\"\nvalue = \"3s\"\n";
    let outcome = vmotion_lab_with(faults);
    let events = events(&outcome);
    assert_eq!(migrated(&events), vec![(73_000, "esx3".to_string())]);
    let mbx1: Vec<(u64, bool)> = host_events(&events, "mbx1")
        .into_iter()
        .filter_map(|(at, event)| match event {
            Event::HostUp { boot, .. } => Some((at, *boot)),
            _ => None,
        })
        .collect();
    assert_eq!(mbx1, vec![(120_000, true)], "no freeze of a guest that runs nothing; the boot ends on time");
}

#[test]
fn a_vmotion_with_no_running_destination_is_recorded_without_effect() {
    // esx3 is the only other host mbx1's rule allows.
    let faults =
        format!("[[fault]]\nat = \"50s\"\nkind = \"power-off\"\ntarget = \"esx3\"\n\n{VMOTION_AT_60S}");
    let outcome = vmotion_lab_with(&faults);
    let events = events(&outcome);
    assert_eq!(vmotion_without_effect(&events), Some(NoEffect::NoDestination));
    assert!(migrated(&events).is_empty());
    let frozen = host_events(&events, "mbx1")
        .iter()
        .any(|(_, event)| matches!(event, Event::HostDown { reason: HostDownReason::Freeze, .. }));
    assert!(!frozen, "a migration that cannot start does not stun its VM");
}

#[test]
fn a_source_host_that_loses_power_during_the_stun_takes_the_vm_with_it_and_nothing_migrates() {
    let faults =
        format!("{VMOTION_AT_60S}\n[[fault]]\nat = \"61s\"\nkind = \"power-off\"\ntarget = \"esx1\"\n");
    let outcome = vmotion_lab_with(&faults);
    let events = events(&outcome);
    assert!(migrated(&events).is_empty(), "the switchover found its VM off");
    let mbx1 = host_events(&events, "mbx1");
    assert!(
        matches!(
            mbx1[..2],
            [
                (60_000, Event::HostDown { reason: HostDownReason::Freeze, .. }),
                (61_000, Event::HostDown { reason: HostDownReason::Power, .. })
            ]
        ),
        "{mbx1:?}"
    );
    let restarted_on = mbx1.iter().find_map(|(_, event)| match event {
        Event::VmPoweredOn { on, .. } => Some(on.to_string()),
        _ => None,
    });
    assert_eq!(restarted_on.as_deref(), Some("esx3"), "HA restarts the lost VM as after any host failure");
}

#[test]
fn a_destination_host_that_loses_power_during_the_stun_leaves_the_vm_resumed_on_its_source() {
    let faults =
        format!("{VMOTION_AT_60S}\n[[fault]]\nat = \"61s\"\nkind = \"power-off\"\ntarget = \"esx3\"\n");
    let outcome = vmotion_lab_with(&faults);
    let events = events(&outcome);
    assert!(migrated(&events).is_empty(), "the destination was off at the switchover");
    let mbx1 = host_events(&events, "mbx1");
    assert!(
        matches!(
            mbx1[..],
            [
                (60_000, Event::HostDown { reason: HostDownReason::Freeze, .. }),
                (63_000, Event::HostUp { boot: false, .. })
            ]
        ),
        "resumed after the stun, on esx1, with nothing lost: {mbx1:?}"
    );
}
