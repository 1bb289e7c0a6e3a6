//! Named tests of the `snapshot` and `snapshot-revert` faults' edge paths. Each runs
//! `suites/fast/ha-snapshot-revert.toml` (mbx1 on esx1, mbx2 on esx2, guests boot for 60 s) with its
//! faults replaced.

use harness::history::{Event, FaultKind, NoEffect};
use harness::run::RunOutcome;
use harness::scenario;
use harness::world::run_scenario;
use std::path::Path;

/// The snapshot scenario with everything from its first `[[fault]]` replaced by `faults` and a bare
/// `[checks]`.
fn snapshot_lab_with(faults: &str) -> RunOutcome {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/fast/ha-snapshot-revert.toml");
    let text = std::fs::read_to_string(&path).expect("the catalogue file");
    let head = &text[..text.find("[[fault]]").expect("the file has faults")];
    let changed = format!("{head}{faults}\n[checks]\nrto = \"60s\"\n");
    let scenario = scenario::parse(&path, &changed).unwrap_or_else(|error| panic!("{error}"));
    run_scenario(&scenario, 1)
}

/// What happened to the VM `name`, in milliseconds: snapshots, reverts, power-ons, ups and downs.
fn vm_events(outcome: &RunOutcome, name: &str) -> Vec<(u64, String)> {
    outcome
        .history
        .records()
        .iter()
        .filter_map(|record| {
            let what = match &record.event {
                Event::VmSnapshotTaken { vm, memory } if &**vm == name => format!("snapshot memory={memory}"),
                Event::VmReverted { vm, memory, .. } if &**vm == name => format!("reverted memory={memory}"),
                Event::VmPoweredOn { vm, .. } if &**vm == name => "powered-on".to_string(),
                Event::HostUp { host, .. } if &**host == name => "up".to_string(),
                Event::HostDown { host, .. } if &**host == name => "down".to_string(),
                _ => return None,
            };
            Some((record.at.as_millis(), what))
        })
        .collect()
}

#[test]
fn a_memory_snapshot_of_a_booting_guest_is_reverted_into_the_rest_of_that_boot() {
    // The power cycle turns mbx2 back on at 60 s and its guest boots until 120 s. The snapshot at
    // 80 s keeps a guest with 40 s of boot left; the revert at 100 s powers the VM on into it, so it
    // is up at 140 s. Before, the snapshot kept no memory (there was no running node to keep), the
    // revert left the VM off, and the nightly swarm, which had drawn a memory snapshot, counted it
    // running (`ha-ccr-nemesis` seed 848).
    let faults = "[[fault]]\nat = \"50s\"\nkind = \"power-cycle\"\ntarget = \"mbx2\"\n\n\
                  [[fault]]\nat = \"80s\"\nkind = \"snapshot\"\ntarget = \"mbx2\"\nmemory = true\n\n\
                  [[fault]]\nat = \"100s\"\nkind = \"snapshot-revert\"\ntarget = \"mbx2\"\n";
    let events = snapshot_lab_with(faults);
    let after_cycle: Vec<(u64, String)> =
        vm_events(&events, "mbx2").into_iter().filter(|(at, _)| *at >= 60_000).collect();
    let expected = [
        (60_000, "powered-on"),
        (80_000, "snapshot memory=true"),
        (100_000, "down"),
        (100_000, "reverted memory=true"),
        (100_000, "powered-on"),
        (140_000, "up"),
    ];
    let expected: Vec<(u64, String)> = expected.iter().map(|(at, what)| (*at, what.to_string())).collect();
    assert_eq!(after_cycle, expected);
}

#[test]
fn a_snapshot_without_memory_of_a_booting_guest_is_reverted_to_a_vm_that_stays_off() {
    let faults = "[[fault]]\nat = \"50s\"\nkind = \"power-cycle\"\ntarget = \"mbx2\"\n\n\
                  [[fault]]\nat = \"80s\"\nkind = \"snapshot\"\ntarget = \"mbx2\"\nmemory = false\n\n\
                  [[fault]]\nat = \"100s\"\nkind = \"snapshot-revert\"\ntarget = \"mbx2\"\n";
    let events = snapshot_lab_with(faults);
    let after_revert: Vec<(u64, String)> =
        vm_events(&events, "mbx2").into_iter().filter(|(at, _)| *at >= 100_000).collect();
    let expected = [(100_000, "down"), (100_000, "reverted memory=false")];
    let expected: Vec<(u64, String)> = expected.iter().map(|(at, what)| (*at, what.to_string())).collect();
    assert_eq!(
        after_revert, expected,
        "an operator's revert without memory leaves the VM off and unprotected"
    );
}

#[test]
fn a_snapshot_and_a_revert_of_a_vm_whose_hypervisor_host_is_off_have_no_effect() {
    // vCenter reaches a VM through its host. Before, the revert put the disk back and dropped the
    // memory image while the history said the guest resumed, and the checkers reopened its mounts:
    // a false split-brain once HA restarted the VM (owner-revert swarm, ha-ccr-nemesis seed 412).
    let faults = "[[fault]]\nat = \"40s\"\nkind = \"snapshot\"\ntarget = \"mbx2\"\nmemory = true\n\n\
                  [[fault]]\nat = \"50s\"\nkind = \"power-off\"\ntarget = \"esx2\"\n\n\
                  [[fault]]\nat = \"52s\"\nkind = \"snapshot\"\ntarget = \"mbx2\"\n\n\
                  [[fault]]\nat = \"55s\"\nkind = \"snapshot-revert\"\ntarget = \"mbx2\"\n";
    let outcome = snapshot_lab_with(faults);
    let without_effect: Vec<(u64, FaultKind, NoEffect)> = outcome
        .history
        .records()
        .iter()
        .filter_map(|record| match &record.event {
            Event::FaultWithoutEffect { kind, reason, .. } => Some((record.at.as_millis(), *kind, *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        without_effect,
        vec![
            (52_000, FaultKind::Snapshot, NoEffect::HostNotRunning),
            (55_000, FaultKind::SnapshotRevert, NoEffect::HostNotRunning)
        ]
    );
    let reverted = vm_events(&outcome, "mbx2").into_iter().any(|(_, what)| what.starts_with("reverted"));
    assert!(!reverted, "no vm-reverted record for a revert that did not happen");
}
