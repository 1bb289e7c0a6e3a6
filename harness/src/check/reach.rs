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
//! - `vm-reverted`: a `vm-reverted` record (a VM put back to its snapshot);
//! - `reverted-node-caught-up`: after a `vm-reverted` record, the reverted VM's node replayed a log
//!   (`log-replayed`) of an epoch that another node mounted, and mounted nothing itself before that:
//!   it came back as a passive copy following the new owner, not serving its stale copy.
//! - `witness-ledger-ahead`: a `disk-arbitration` record with step `behind-ledger` (a node that won
//!   the disk witness found its epoch ledger ahead of what it knew).
//!
//! Each declared assertion that never held before the end of the run is one violation, at the end,
//! naming it. Not checked: how often or when an assertion held (once is enough), nor that it held for
//! a particular host or database.

use super::CheckReport;
use super::model::{Model, Mount};
use crate::history::{
    ArbitrationStep, Event, FailoverReason, HaRecord, HostDownReason, Name, Nexus, RejectReason, StopReason,
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
        Reachable::RevertedNodeCaughtUp => model.records.iter().enumerate().any(|(pos, record)| {
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
        _ => false,
    }
}

/// A write refused for a reservation conflict from a nexus a preemption had removed.
/// Whether `node`, reverted at record `revert`, replayed another node's epoch before it mounted.
fn caught_up_after(model: &Model, node: &Name, revert: usize) -> bool {
    for record in &model.records[revert + 1..] {
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
    for record in model.records {
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

fn witness_changed_hands(model: &Model) -> bool {
    let mut last: Option<&Name> = None;
    for record in model.records {
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
    }
}
