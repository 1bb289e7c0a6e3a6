//! Reachability assertions (`unreached`).
//!
//! A scenario names, in `[checks] reached`, what its run must make happen at least once: a pass of a
//! failover scenario in which nothing failed over proves nothing. Each assertion is a
//! [`Reachable`] judged from the history's recorded outputs and ground truth, never from what a node
//! believed:
//!
//! - `failover`: a `failover` record whose reason is not `initial`;
//! - `fenced-write-refused`: a `lun-write-rejected` with reason `reservation-conflict` from a nexus
//!   that an earlier `preempted` record removed (a fenced node's write reached the array and was
//!   refused; a refusal on a path that merely lost its registration does not count);
//! - `dumpster-resubmitted`: a `resubmitted` record with at least one message;
//! - `lossy-mount`: a `mounted` record with `lost_logs` above zero;
//! - `self-fenced`: a `dismounted` with reason `quorum-lost` or `fenced`;
//! - `path-failed`: a `path-state` record with `up` false;
//! - `witness-changed-hands`: a `witness-lease` for another host than the previous lease's;
//! - `reservation-preempted`: a `preempted` record;
//! - `reservation-reasserted`: a `disk-arbitration` record with step `reasserted`;
//! - `frozen-owner-stepped-down`: a mount that lasted through a freeze of its node's host (a
//!   `host-down` with reason `freeze` and its `host-up` both inside the mount) and ended with a
//!   `dismounted` record, not a power loss;
//! - `ha-restarted`: an `ha` record `restart-succeeded` (vSphere HA powered a VM on after a failure).
//! - `vm-migrated`: a `vm-migrated` record (a vMotion's VM resumed on its destination).
//! - `datastore-apd`: an `ha` record `datastore` with state `all-paths-down` (a hypervisor host lost
//!   every path to a datastore on the array).
//! - `vmcp-terminated`: an `ha` record `vmcp-terminated` (VMCP powered a VM off to restart it).
//! - `vm-reverted`: a `vm-reverted` record (a VM put back to its snapshot);
//! - `reverted-node-caught-up`: after a `vm-reverted` record, the reverted VM's node replayed a log
//!   (`log-replayed`) of an epoch that another node mounted, and mounted nothing itself before that:
//!   it came back as a passive copy following the new owner, not serving its stale copy.
//! - `witness-ledger-ahead`: a `disk-arbitration` record with step `behind-ledger` (a node that won
//!   the disk witness found its epoch ledger ahead of what it knew).
//! - `restarted-rejoined-passive`: after an `ha` record `restart-succeeded` of a VM, a `quorum`
//!   record of its node with `quorate` true (so its guest booted and its node joined) at a moment when the node holds no mount and another node holds one (the restarted node joined
//!   the cluster beside the owner instead of taking over). The `quorum` record is the node's claim;
//!   the `votes` checker holds every quorate claim to the hosts' ground truth, and the mounts are
//!   the history's own.
//! - `ha-masters-split`: two HA agents master at once. An agent is master from its own `ha` record
//!   `master-elected` naming itself until it records `election-started`, `abdicated` or
//!   `master-elected` naming another, or its host loses power.
//!
//! Each declared assertion that never held before the end of the run is one violation, at the end,
//! naming it. Not checked: how often or when an assertion held (once is enough), nor that it held for
//! a particular host or database.

use super::CheckReport;
use super::model::{Model, Mount};
use crate::history::{
    ArbitrationStep, DatastoreState, Event, FailoverReason, HaRecord, HostDownReason, Name, Nexus,
    RejectReason, StopReason,
};
use crate::scenario::Reachable;
use crate::verdict::{Violation, ViolationKind};
use kernel::SimTime;
use std::collections::BTreeSet;

pub(crate) fn check(model: &Model, reached: &[Reachable], end: SimTime, report: &mut CheckReport) {
    for &assertion in reached {
        if held(model, assertion) {
            continue;
        }
        report.violations.push(Violation {
            check: ViolationKind::Unreached,
            subject: "scenario".to_string(),
            time_ms: end.as_millis(),
            detail: format!(
                "the scenario asserts `{}` is reached, and nothing in the run reached it: {}",
                assertion.as_str(),
                meaning(assertion)
            ),
        });
    }
}

/// Whether the history shows `assertion` holding at least once.
fn held(model: &Model, assertion: Reachable) -> bool {
    match assertion {
        Reachable::WitnessChangedHands => witness_changed_hands(model),
        Reachable::FrozenOwnerSteppedDown => {
            model.mounts.iter().any(|mount| stepped_down_after_freeze(model, mount))
        }
        Reachable::FencedWriteRefused => fenced_write_refused(model),
        Reachable::RestartedRejoinedPassive => restarted_rejoined_passive(model),
        Reachable::HaMastersSplit => ha_masters_split(model),
        Reachable::RevertedNodeCaughtUp => model.records.indexed().any(|(pos, record)| {
            matches!(&record.event, Event::VmReverted { vm, .. } if caught_up_after(model, vm, pos))
        }),
        _ => model.records.iter().any(|record| event_reaches(&record.event, assertion)),
    }
}

/// The assertions one record proves on its own.
fn event_reaches(event: &Event, assertion: Reachable) -> bool {
    match (assertion, event) {
        (Reachable::Failover, Event::Failover { reason, .. }) => *reason != FailoverReason::Initial,
        (Reachable::DumpsterResubmitted, Event::Resubmitted { count, .. }) => *count > 0,
        (Reachable::LossyMount, Event::Mounted { lost_logs, .. }) => *lost_logs > 0,
        (Reachable::SelfFenced, Event::Dismounted { reason, .. }) => {
            matches!(reason, StopReason::QuorumLost | StopReason::Fenced)
        }
        (Reachable::PathFailed, Event::PathState { up, .. }) => !*up,
        (Reachable::ReservationPreempted, Event::Preempted { .. }) => true,
        (Reachable::ReservationReasserted, Event::DiskArbitration { step, .. }) => {
            *step == ArbitrationStep::Reasserted
        }
        (Reachable::HaRestarted, Event::Ha { what, .. }) => matches!(what, HaRecord::RestartSucceeded { .. }),
        (Reachable::VmMigrated, Event::VmMigrated { .. }) => true,
        (Reachable::VmReverted, Event::VmReverted { .. }) => true,
        (Reachable::WitnessLedgerAhead, Event::DiskArbitration { step, .. }) => {
            matches!(step, ArbitrationStep::BehindLedger { .. })
        }
        (Reachable::DatastoreApd, Event::Ha { what: HaRecord::Datastore { state, .. }, .. }) => {
            *state == DatastoreState::AllPathsDown
        }
        (Reachable::VmcpTerminated, Event::Ha { what, .. }) => {
            matches!(what, HaRecord::VmcpTerminated { .. })
        }
        _ => false,
    }
}

/// A write refused for a reservation conflict from a nexus a preemption had removed.
/// Whether `node`, reverted at record `revert`, replayed another node's epoch before it mounted.
fn caught_up_after(model: &Model, node: &Name, revert: usize) -> bool {
    for (_, record) in model.records.between(revert + 1, usize::MAX) {
        match &record.event {
            Event::Mounted { node: mounted, .. } if mounted == node => return false,
            Event::LogReplayed { node: replayed, db, epoch, .. }
                if replayed == node
                    && model.mounts_of(db).any(|mount| mount.epoch == *epoch && &mount.node != node) =>
            {
                return true;
            }
            _ => {}
        }
    }
    false
}

fn fenced_write_refused(model: &Model) -> bool {
    let mut preempted: BTreeSet<(&Name, &Nexus)> = BTreeSet::new();
    for record in model.records.iter() {
        match &record.event {
            Event::Preempted { lun, victims, .. } => {
                preempted.extend(victims.iter().map(|victim| (lun, victim)))
            }
            Event::LunWriteRejected { lun, nexus, reason: RejectReason::ReservationConflict, .. }
                if preempted.contains(&(lun, nexus)) =>
            {
                return true;
            }
            _ => {}
        }
    }
    false
}

/// A VM restarted by HA whose node, once booted, joined a quorate cluster as a non-owner beside an
/// owner.
fn restarted_rejoined_passive(model: &Model) -> bool {
    let restarted = model.records.indexed().filter_map(|(pos, record)| match &record.event {
        Event::Ha { what: HaRecord::RestartSucceeded { vm, .. }, .. } => Some((pos, vm)),
        _ => None,
    });
    for (restart, vm) in restarted {
        // Whatever the node records after its VM's restart, it records in the life that restart
        // booted: the VMDK lock kept any other instance of it off.
        let joined = model.records.between(restart + 1, usize::MAX).any(|(pos, record)| {
            matches!(&record.event, Event::Quorum { node, quorate: true, .. } if node == vm)
                && !mounted_at(model, vm, pos)
                && model.mounts.iter().any(|mount| mount.node != *vm && open_at(mount, pos))
        });
        if joined {
            return true;
        }
    }
    false
}

fn open_at(mount: &Mount, pos: usize) -> bool {
    mount.span.start.pos < pos && mount.span.end.is_none_or(|end| end.pos > pos)
}

fn mounted_at(model: &Model, node: &Name, pos: usize) -> bool {
    model.mounts.iter().any(|mount| mount.node == *node && open_at(mount, pos))
}

/// Two agents that each consider themselves master at one moment.
fn ha_masters_split(model: &Model) -> bool {
    let mut masters: BTreeSet<&Name> = BTreeSet::new();
    for record in model.records.iter() {
        match &record.event {
            Event::Ha { agent, what } => match what {
                HaRecord::MasterElected { master } if master == agent => {
                    masters.insert(agent);
                }
                HaRecord::MasterElected { .. } | HaRecord::ElectionStarted | HaRecord::Abdicated { .. } => {
                    masters.remove(agent);
                }
                _ => {}
            },
            Event::HostDown { host, reason: HostDownReason::Power } => {
                masters.remove(host);
            }
            _ => {}
        }
        if masters.len() > 1 {
            return true;
        }
    }
    false
}

fn witness_changed_hands(model: &Model) -> bool {
    let mut last: Option<&Name> = None;
    for record in model.records.iter() {
        if let Event::WitnessLease { host, .. } = &record.event {
            if last.is_some_and(|previous| previous != host) {
                return true;
            }
            last = Some(host);
        }
    }
    false
}

/// A mount held through a whole freeze of its host, ended afterwards by a dismount.
fn stepped_down_after_freeze(model: &Model, mount: &Mount) -> bool {
    let Some(end) = mount.span.end else { return false };
    let dismounted = model.records.get(end.pos).is_some_and(|record| {
        matches!(&record.event, Event::Dismounted { node, db, .. } if *node == mount.node && *db == mount.db)
    });
    if !dismounted {
        return false;
    }
    let froze_inside =
        |start_pos: usize, resumed_pos: usize| mount.span.start.pos < start_pos && resumed_pos <= end.pos;
    model.downs.get(&mount.node).into_iter().flatten().any(|down| {
        let freeze = model.records.get(down.span.start.pos).is_some_and(|record| {
            matches!(record.event, Event::HostDown { reason: HostDownReason::Freeze, .. })
        });
        freeze && down.span.end.is_some_and(|resumed| froze_inside(down.span.start.pos, resumed.pos))
    })
}

/// What an assertion means, for the violation's detail.
fn meaning(assertion: Reachable) -> &'static str {
    match assertion {
        Reachable::Failover => "no failover was decided after the initial activation",
        Reachable::FencedWriteRefused => {
            "the array refused no write from a preempted nexus for a reservation conflict"
        }
        Reachable::DumpsterResubmitted => "no hub resubmitted a message from its transport dumpster",
        Reachable::LossyMount => "no copy mounted with lost logs",
        Reachable::SelfFenced => "no node dismounted for lost quorum or for being fenced",
        Reachable::PathFailed => "no storage path was marked down",
        Reachable::WitnessChangedHands => "the witness lock was never granted to a second host",
        Reachable::ReservationPreempted => "no reservation key was preempted",
        Reachable::ReservationReasserted => "no node re-asserted a vanished reservation",
        Reachable::FrozenOwnerSteppedDown => {
            "no node dismounted after resuming from a freeze it spent mounted"
        }
        Reachable::HaRestarted => "vSphere HA restarted no VM",
        Reachable::VmMigrated => "no vMotion finished (no VM resumed on another hypervisor host)",
        Reachable::VmReverted => "no VM was reverted to a snapshot",
        Reachable::RevertedNodeCaughtUp => {
            "no reverted VM's node replayed another node's epoch as a passive copy before mounting"
        }
        Reachable::WitnessLedgerAhead => "no node found the disk witness's epoch ledger ahead of it",
        Reachable::RestartedRejoinedPassive => {
            "no VM that HA restarted booted and joined a quorate cluster beside another node's mount while holding none"
        }
        Reachable::HaMastersSplit => "no two HA agents were masters at once",
        Reachable::DatastoreApd => "no hypervisor host lost all paths to a datastore",
        Reachable::VmcpTerminated => "VM component protection terminated no VM",
    }
}
