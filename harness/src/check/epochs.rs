//! One owner per epoch (`shared-epoch`).
//!
//! An ownership epoch names one owner: two coordinators that pick the same epoch for different nodes
//! leave two copies that each believe the epoch is theirs, and nothing orders them. Checked, per
//! database: every `failover` decision and every `mounted` record of one epoch names the same node
//! (the decision's `to`, the mount's `node`). The first record that names a second node for an epoch
//! is one violation, naming both; later records of that epoch are not reported again.
//!
//! Not checked: whether epochs increase (a lower epoch decided later is the lineage and single-writer
//! checkers' business through what it causes); the same node decided twice in one epoch (harmless:
//! one owner); epochs of the disk witness (it has none).

use super::CheckReport;
use super::model::Model;
use crate::history::{Event, Name};
use crate::verdict::{Violation, ViolationKind};
use kernel::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// The first record that named an owner for one (database, epoch).
struct FirstOwner<'a> {
    node: &'a Name,
    at: SimTime,
    what: &'static str,
}

pub(crate) fn check(model: &Model, report: &mut CheckReport) {
    let mut owners: BTreeMap<(&Name, u64), FirstOwner<'_>> = BTreeMap::new();
    let mut reported: BTreeSet<(&Name, u64)> = BTreeSet::new();
    for record in model.records.iter() {
        let (db, epoch, node, what) = match &record.event {
            Event::Failover { db, to, epoch, .. } => (db, *epoch, to, "decided"),
            Event::Mounted { db, node, epoch, .. } => (db, *epoch, node, "mounted"),
            _ => continue,
        };
        let first = owners.entry((db, epoch)).or_insert(FirstOwner { node, at: record.at, what });
        if first.node == node || !reported.insert((db, epoch)) {
            continue;
        }
        report.violations.push(Violation {
            check: ViolationKind::SharedEpoch,
            subject: db.to_string(),
            time_ms: record.at.as_millis(),
            detail: format!(
                "{db} epoch {epoch} was {} for {} at {} and {what} for {node} at {}: two owners in one epoch",
                first.what, first.node, first.at, record.at
            ),
        });
    }
}
