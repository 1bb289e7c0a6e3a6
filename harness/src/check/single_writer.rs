//! Single writer (`split-brain`).
//!
//! Checked, per database, in true time and recorded causal order:
//!
//! - no two different nodes have the database mounted at once *while both execute*. A frozen owner
//!   keeps its mount but does nothing with it, so the time its host is paused does not count; when it
//!   resumes it must step down before it does anything else. An overlap that lasts no true time and
//!   in which neither node acted on the database (the resumed node dismounted in the instant it
//!   resumed) is the harmless history of a zombie that was stopped in time; any longer overlap, or a
//!   commit, a suppressed duplicate or an acknowledgement (a client receiving one) of either node
//!   inside it, is a split-brain: a resumed zombie that acknowledges a message has acted. Each
//!   overlapping pair is reported once, at the first instant of overlap.
//!   Shared-disk databases are exempt: their LUN is the oracle (`fencing`), because an owner fenced at
//!   the disk cannot write however long it believes it is mounted;
//! - every `committed` comes from a node that has the database mounted at that instant;
//! - no `committed` carries an epoch lower than the highest epoch mounted for that database before it
//!   (a stale-epoch write that was applied);
//! - every `acked` names a node and epoch that earlier committed that message to that database, or a
//!   node that earlier suppressed it as a duplicate (the store already held it).
//!
//! Not checked: writes that a LUN or replica rejected (they never reach the history as `committed`);
//! whether an acknowledgement came from a node deposed after it committed; a commit tagged with an
//! epoch higher than, or merely different from, its writer's own mount.

use super::CheckReport;
use super::model::{Model, Mount, Span};
use crate::history::{Event, MessageId, Name};
use crate::verdict::{Violation, ViolationKind};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) fn check(model: &Model, report: &mut CheckReport) {
    overlapping_mounts(model, report);
    writes_and_acks(model, report);
}

fn overlapping_mounts(model: &Model, report: &mut CheckReport) {
    let shared_disk = super::fencing::shared_disk_dbs(model);
    for db in model.mounted_dbs() {
        if shared_disk.contains(&db) {
            continue; // judged at the LUN by the fencing oracle
        }
        let mounts: Vec<_> = model.mounts_of(&db).collect();
        for (later_index, later) in mounts.iter().enumerate() {
            for earlier in mounts.iter().take(later_index) {
                if earlier.node == later.node {
                    continue;
                }
                let Some(overlap) = harmful_overlap(model, earlier, later) else { continue };
                report.violations.push(Violation {
                    check: ViolationKind::SplitBrain,
                    subject: db.to_string(),
                    time_ms: overlap.start.at.as_millis(),
                    detail: format!(
                        "{db} was mounted on {} (epoch {}, since {}) and on {} (epoch {}, since {}) at once, \
                         both executing, from {}",
                        earlier.node,
                        earlier.epoch,
                        earlier.span.start.at,
                        later.node,
                        later.epoch,
                        later.span.start.at,
                        overlap.start.at
                    ),
                });
            }
        }
    }
}

/// The first stretch in which both mounts were held by executing hosts, unless it is the instant a
/// frozen owner resumed and stepped down in, with no commit, suppressed duplicate or acknowledgement
/// of either node inside it.
fn harmful_overlap(model: &Model, earlier: &Mount, later: &Mount) -> Option<Span> {
    let earlier_pieces = model.executing(&earlier.node, earlier.span);
    let later_pieces = model.executing(&later.node, later.span);
    for a in &earlier_pieces {
        for b in &later_pieces {
            let Some(overlap) = a.intersection(b) else { continue };
            let lasted = overlap.end.is_none_or(|end| end.at > overlap.start.at);
            let end = overlap.end.map_or(model.records.len(), |end| end.pos);
            // Acting on the database: writing a message, taking one as a duplicate, or a client
            // receiving an acknowledgement from either copy.
            let acted = model.records[overlap.start.pos..end].iter().any(|record| match &record.event {
                Event::Committed { node, db, .. }
                | Event::DuplicateSuppressed { node, db, .. }
                | Event::Acked { node, db, .. } => {
                    db == &earlier.db && (node == &earlier.node || node == &later.node)
                }
                _ => false,
            });
            // The one harmless overlap: a resumed zombie that stepped down in the instant it resumed.
            let at_resume = matches!(&model.records[overlap.start.pos].event, Event::HostUp { host, .. }
                if host == &earlier.node || host == &later.node);
            if lasted || acted || !at_resume {
                return Some(overlap);
            }
        }
    }
    None
}

fn writes_and_acks(model: &Model, report: &mut CheckReport) {
    // Mounts by (database, node), so each commit looks up its writer's mounts once.
    let mut mounts_by_copy: BTreeMap<(&Name, &Name), Vec<&Mount>> = BTreeMap::new();
    for mount in &model.mounts {
        mounts_by_copy.entry((&mount.db, &mount.node)).or_default().push(mount);
    }
    let mut highest_epoch: BTreeMap<&Name, u64> = BTreeMap::new();
    // Keys start with the message id, which is unique per run, so lookups rarely compare names.
    let mut commits: BTreeSet<(MessageId, u64, &Name, &Name)> = BTreeSet::new();
    let mut suppressed: BTreeSet<(MessageId, &Name, &Name)> = BTreeSet::new();
    for (pos, record) in model.records.iter().enumerate() {
        match &record.event {
            Event::Mounted { db, epoch, .. } => {
                let highest = highest_epoch.entry(db).or_insert(*epoch);
                *highest = (*highest).max(*epoch);
            }
            Event::Committed { node, db, msg, epoch, .. } => {
                let mounted = mounts_by_copy
                    .get(&(db, node))
                    .is_some_and(|mounts| mounts.iter().any(|mount| mount.span.open_after(pos)));
                if !mounted {
                    report.violations.push(Violation {
                        check: ViolationKind::SplitBrain,
                        subject: db.to_string(),
                        time_ms: record.at.as_millis(),
                        detail: format!(
                            "{node} committed message {msg} to {db} in epoch {epoch} at {} without having \
                             {db} mounted",
                            record.at
                        ),
                    });
                }
                if let Some(highest) = highest_epoch.get(db).filter(|highest| epoch < *highest) {
                    report.violations.push(Violation {
                        check: ViolationKind::SplitBrain,
                        subject: db.to_string(),
                        time_ms: record.at.as_millis(),
                        detail: format!(
                            "{node} committed message {msg} to {db} in stale epoch {epoch} at {} after epoch \
                             {highest} was mounted",
                            record.at
                        ),
                    });
                }
                commits.insert((*msg, *epoch, db, node));
            }
            Event::DuplicateSuppressed { node, db, msg } => {
                suppressed.insert((*msg, db, node));
            }
            Event::Acked { msg, db, node, epoch } => {
                let committed = commits.contains(&(*msg, *epoch, db, node));
                let deduplicated = suppressed.contains(&(*msg, db, node));
                if !committed && !deduplicated {
                    report.violations.push(Violation {
                        check: ViolationKind::SplitBrain,
                        subject: db.to_string(),
                        time_ms: record.at.as_millis(),
                        detail: format!(
                            "message {msg} was acknowledged for {db} by {node} in epoch {epoch} at {}, but \
                             {node} never committed it in that epoch",
                            record.at
                        ),
                    });
                }
            }
            _ => {}
        }
    }
}
