//! Every fault kind against every kind of target: the scenario either refuses it when it loads, with
//! its location, or the fault changes its device's ground truth when it fires and is recorded as a
//! fault. A fault that loads and then changes nothing would be a lie in the history; this test is
//! what keeps a new kind or a new target from adding one.

use super::{Ev, World};
use crate::history::{Event, FailoverReason};
use crate::scenario::{self, FaultKind};
use kernel::SimTime;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// A Continuous Replication lab and a Single Copy Cluster lab: between them every device exists (the
/// DNS server on its own host, `dc1`, in the CCR lab).
const CCR_LAB: &str = r#"
name = "fault-matrix-ccr"
tier = "fast"
duration = "3m"
[cluster]
kind = "ccr"
quorum = "node-and-file-share-majority"
witness = "fsw1"
[[network]]
name = "public"
kind = "lan"
[[network]]
name = "private"
kind = "lan"
switch = "sw1"
[[host]]
name = "mbx1"
role = "mailbox"
networks = ["public", "private"]
rack = "r1"
[[host]]
name = "mbx2"
role = "mailbox"
networks = ["public", "private"]
[[host]]
name = "hub1"
role = "hub"
networks = ["public"]
[[host]]
name = "fsw1"
role = "witness"
networks = ["public"]
[[host]]
name = "dc1"
role = "dns"
networks = ["public"]
[[database]]
name = "SG1"
copies = ["mbx1", "mbx2"]
[workload]
rate_per_second = 5.0
[checks]
rto = "2m"
"#;

const SCC_LAB: &str = r#"
name = "fault-matrix-scc"
tier = "fast"
duration = "3m"
[cluster]
kind = "scc"
quorum = "node-and-file-share-majority"
witness = "fsw1"
[[network]]
name = "public"
kind = "lan"
[[network]]
name = "private"
kind = "lan"
switch = "sw1"
[[network]]
name = "iscsi-a"
kind = "lan"
[[network]]
name = "iscsi-b"
kind = "lan"
[[host]]
name = "mbx1"
role = "mailbox"
networks = ["public", "private", "iscsi-a", "iscsi-b"]
rack = "r1"
[[host]]
name = "mbx2"
role = "mailbox"
networks = ["public", "private", "iscsi-a", "iscsi-b"]
[[host]]
name = "hub1"
role = "hub"
networks = ["public"]
[[host]]
name = "fsw1"
role = "witness"
networks = ["public"]
[[host]]
name = "san1"
role = "array"
networks = ["iscsi-a", "iscsi-b"]
[[lun]]
name = "sg1"
[[database]]
name = "SG1"
copies = ["mbx1", "mbx2"]
disks = ["sg1"]
[workload]
rate_per_second = 5.0
[checks]
rto = "2m"
"#;

/// The CCR lab stacked on vSphere HA: the mailbox nodes and the witness are VMs on three hypervisor
/// hosts (the hub stays physical), so VM targets, physical targets and hypervisor hosts all exist.
/// HA restarts no VM here: a VM powered off by a precondition must still be off when its `power-on`
/// or `heal-all` comes, or the fault under test would find nothing to change.
const HYPERVISOR_LAB: &str = r#"
name = "fault-matrix-hypervisor"
tier = "fast"
duration = "3m"
[cluster]
kind = "ccr"
quorum = "node-and-file-share-majority"
witness = "fsw1"
[[network]]
name = "mgmt"
kind = "lan"
[[network]]
name = "public"
kind = "lan"
[[network]]
name = "private"
kind = "lan"
switch = "sw1"
[[host]]
name = "esx1"
role = "hypervisor"
networks = ["mgmt", "public", "private"]
rack = "r1"
[[host]]
name = "esx2"
role = "hypervisor"
networks = ["mgmt", "public", "private"]
[[host]]
name = "esx3"
role = "hypervisor"
networks = ["mgmt", "public", "private"]
[[host]]
name = "mbx1"
role = "mailbox"
networks = ["public", "private"]
runs_on = "esx1"
restart_priority = "disabled"
[[host]]
name = "mbx2"
role = "mailbox"
networks = ["public", "private"]
runs_on = "esx2"
restart_priority = "disabled"
[[host]]
name = "hub1"
role = "hub"
networks = ["public"]
[[host]]
name = "fsw1"
role = "witness"
networks = ["public"]
runs_on = "esx3"
restart_priority = "disabled"
[ha]
management_network = "mgmt"
[[database]]
name = "SG1"
copies = ["mbx1", "mbx2"]
[workload]
rate_per_second = 5.0
[checks]
rto = "2m"
"#;

/// Every way a scenario can name what a fault hits, `None` for leaving `target` out.
const TARGETS: [Option<&str>; 15] = [
    None,
    Some("esx1"),
    Some("mbx2"),
    Some("hub1"),
    Some("fsw1"),
    Some("san1"),
    Some("dc1"),
    Some("active"),
    Some("passive"),
    Some("owner-of:SG1"),
    Some("passive-of:SG1"),
    Some("witness"),
    Some("sw1"),
    Some("r1"),
    Some("all"),
];

/// The keys a kind takes besides `target`, filled with a value that should take effect.
fn other_keys(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::NicDown | FaultKind::NicUp => "network = \"public\"\n",
        FaultKind::LinkCut | FaultKind::LinkHeal => "network = \"public\"\npeer = \"hub1\"\n",
        FaultKind::LinkLoss => "network = \"public\"\npeer = \"hub1\"\nvalue = 0.5\n",
        FaultKind::LatencySpike => "network = \"public\"\nvalue = \"200ms\"\n",
        FaultKind::Mtu => "network = \"public\"\nvalue = 1400\n",
        FaultKind::WitnessSlow => "value = \"5s\"\n",
        FaultKind::ClockStep => "value = \"-30s\"\n",
        FaultKind::ResourceCrash | FaultKind::CorruptLog => "database = \"SG1\"\n",
        FaultKind::Move => "database = \"SG1\"\nto = \"mbx2\"\n",
        FaultKind::LunOffline | FaultKind::LunOnline => "lun = \"sg1\"\n",
        FaultKind::LunLatency => "lun = \"sg1\"\nvalue = \"20s\"\n",
        _ => "",
    }
}

/// A heal only changes something after the fault it heals: that fault, at 50 s, before the heal at
/// 60 s (the database is mounted by then).
fn precondition(kind: FaultKind) -> Option<FaultKind> {
    Some(match kind {
        FaultKind::PowerOn | FaultKind::HealAll => FaultKind::PowerOff,
        FaultKind::NicUp => FaultKind::NicDown,
        FaultKind::LinkHeal => FaultKind::LinkCut,
        FaultKind::SwitchUp => FaultKind::SwitchDown,
        FaultKind::WitnessUp => FaultKind::WitnessDown,
        FaultKind::Resume => FaultKind::Freeze,
        FaultKind::LunOnline => FaultKind::LunOffline,
        FaultKind::RackPowerOn => FaultKind::RackPowerOff,
        FaultKind::SnapshotRevert => FaultKind::Snapshot,
        _ => return None,
    })
}

fn fault_table(at: &str, kind: FaultKind, target: Option<&str>) -> String {
    let mut table = format!("\n[[fault]]\nat = \"{at}\"\nkind = \"{}\"\n", kind.as_str());
    if let Some(target) = target {
        let _ = writeln!(table, "target = \"{target}\"");
    }
    table.push_str(other_keys(kind));
    table
}

/// Everything the world's devices hold, as text: equal before and after means nothing changed.
fn ground_truth(world: &World) -> String {
    let storage = world.storage.as_ref().map(|storage| {
        let armed: Vec<_> = storage.initiators.iter().map(|slot| slot.freeze_on_next_write).collect();
        format!("{:?} {armed:?}", storage.array)
    });
    let snapshots: Vec<_> =
        world.nodes.iter().map(|slot| slot.snapshot.as_ref().map(|snapshot| snapshot.taken_at)).collect();
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{storage:?}\n{:?}\n{:?}\n{snapshots:?}",
        world.hosts,
        world.clocks,
        world.fabric,
        world.witness,
        world.dns,
        world.corrupt_next,
        world.ha.as_ref().map(|ha| &ha.placement)
    )
}

/// Runs events before `until`; the fault under test is applied by hand, so its effect is isolated.
fn run_before(world: &mut World, until: SimTime) {
    while world.queue.peek_time().is_some_and(|at| at < until) {
        let Some((_, event)) = world.queue.pop() else { break };
        if !world.handle(event) {
            break;
        }
    }
}

/// Software faults act through the node: their ground truth is what the node then does (from the
/// history's `mark`, taken before the fault was applied).
fn software_consequence(world: &mut World, kind: FaultKind, mark: usize) -> bool {
    run_before(world, SimTime::ZERO + Duration::from_secs(90));
    world.history.since(mark).iter().any(|record| match (&record.event, kind) {
        // The crashed database is restarted (or failed over): its resource goes through new states.
        (Event::Resource { resource, .. }, FaultKind::ResourceCrash) => &**resource == "database",
        (Event::Failover { reason, .. }, FaultKind::Move) => *reason == FailoverReason::Operator,
        _ => false,
    })
}

enum Outcome {
    Refused,
    TookEffect,
}

fn try_one(lab: &str, kind: FaultKind, target: Option<&str>) -> Result<Outcome, String> {
    let mut text = lab.to_string();
    if let Some(first) = precondition(kind) {
        let first_target = match first {
            FaultKind::PowerOff if kind == FaultKind::HealAll => Some("mbx2"),
            _ => target,
        };
        text.push_str(&fault_table("50s", first, first_target));
    }
    text.push_str(&fault_table("60s", kind, target));
    let scenario = match scenario::parse(Path::new("matrix.toml"), &text) {
        Ok(scenario) => scenario,
        Err(error) if error.line > 0 => return Ok(Outcome::Refused),
        Err(error) => return Err(format!("refused without a location: {error}")),
    };
    let mut world = World::new(&scenario, 1);
    world.start();
    let at = SimTime::ZERO + Duration::from_secs(60);
    run_before(&mut world, at);
    let Some((fire_at, Ev::Fault(action))) = world.queue.pop() else {
        return Err("the fault under test was not the next event at 60 s".to_string());
    };
    assert_eq!(fire_at, at);
    let before = ground_truth(&world);
    let mark = world.history.len();
    world.apply(*action);
    let recorded = world.history.since(mark).iter().find_map(|record| match &record.event {
        Event::Fault { kind: recorded, .. } => Some(Ok(*recorded)),
        Event::FaultWithoutEffect { reason, .. } => Some(Err(*reason)),
        _ => None,
    });
    match recorded {
        Some(Ok(recorded)) if recorded == kind => {}
        other => return Err(format!("loaded, but recorded {other:?}")),
    }
    let changed = if matches!(kind, FaultKind::ResourceCrash | FaultKind::Move) {
        software_consequence(&mut world, kind, mark)
    } else {
        ground_truth(&world) != before
    };
    if changed {
        Ok(Outcome::TookEffect)
    } else {
        Err("recorded as a fault, but no device changed".to_string())
    }
}

#[test]
fn every_fault_kind_against_every_target_kind_takes_effect_or_is_refused_at_load() {
    let mut failures = Vec::new();
    let mut effective_kinds = Vec::new();
    for kind in FaultKind::ALL {
        for lab in [CCR_LAB, SCC_LAB, HYPERVISOR_LAB] {
            for target in TARGETS {
                match try_one(lab, kind, target) {
                    Ok(Outcome::TookEffect) => effective_kinds.push((kind, target)),
                    Ok(Outcome::Refused) => {}
                    Err(why) => {
                        let lab = match lab {
                            CCR_LAB => "ccr",
                            SCC_LAB => "scc",
                            _ => "hypervisor",
                        };
                        failures.push(format!("{kind} on {target:?} ({lab} lab): {why}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} combinations lie:\n{}", failures.len(), failures.join("\n"));
    let never: Vec<FaultKind> = FaultKind::ALL
        .into_iter()
        .filter(|kind| !effective_kinds.iter().any(|(effective, _)| effective == kind))
        .collect();
    assert!(never.is_empty(), "kinds that no target accepts (the matrix would prove nothing): {never:?}");
    // The DNS server's host obeys its run state like every other host.
    let run_state = [
        FaultKind::PowerOff,
        FaultKind::PowerOn,
        FaultKind::PowerCycle,
        FaultKind::Freeze,
        FaultKind::Resume,
    ];
    let missed: Vec<FaultKind> =
        run_state.into_iter().filter(|&kind| !effective_kinds.contains(&(kind, Some("dc1")))).collect();
    assert!(missed.is_empty(), "run-state faults that did not change the DNS host `dc1`: {missed:?}");
}
