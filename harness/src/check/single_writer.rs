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
use super::model::{Builder, Kept, Model, Mount, Span};
use crate::history::{Event, MessageSet, Name, Record};
use crate::verdict::{Violation, ViolationKind};
use std::collections::{BTreeMap, BTreeSet};

/// The rules judged as records pass, and what the mount-overlap rule needs of the per-message records
/// afterwards: where each node acted on each database. Holds message ids as ranges only.
#[derive(Debug, Default)]
pub(crate) struct Writes {
    highest_epoch: BTreeMap<Name, u64>,
    /// What each (database, node, epoch) committed.
    commits: BTreeMap<(Name, Name, u64), MessageSet>,
    /// What each (database, node) suppressed as a duplicate.
    suppressed: BTreeMap<(Name, Name), MessageSet>,
    /// Where each (database, node) acted (committed, suppressed, acknowledged): runs of positions
    /// with no kept record inside, so a run lies wholly inside or outside any span.
    acted: BTreeMap<(Name, Name), Vec<(usize, usize)>>,
    /// The position of the latest kept record.
    last_kept: Option<usize>,
    violations: Vec<Violation>,
    /// Shared-disk databases (named by a LUN's record): the fencing oracle judges their writers.
    shared_disk: BTreeSet<Name>,
}

impl Writes {
    /// Judges record `pos` against the state `model` holds before it.
    pub fn observe(&mut self, pos: usize, record: &Record, model: &Builder) {
        match &record.event {
            Event::Mounted { db, epoch, .. } => {
                let highest = self.highest_epoch.entry(db.clone()).or_insert(*epoch);
                *highest = (*highest).max(*epoch);
            }
            Event::Committed { node, db, msg, epoch, .. } => {
                self.committed(record, model.mounted(db, node));
                self.commits.entry((db.clone(), node.clone(), *epoch)).or_default().insert(*msg);
                self.act(db, node, pos);
            }
            Event::DuplicateSuppressed { node, db, msg } => {
                self.suppressed.entry((db.clone(), node.clone())).or_default().insert(*msg);
                self.act(db, node, pos);
            }
            Event::Acked { msg, db, node, epoch } => {
                let key = (db.clone(), node.clone(), *epoch);
                let committed = self.commits.get(&key).is_some_and(|set| set.contains(*msg));
                let deduplicated =
                    self.suppressed.get(&(db.clone(), node.clone())).is_some_and(|set| set.contains(*msg));
                if !committed && !deduplicated {
                    self.violations.push(Violation {
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
                self.act(db, node, pos);
            }
            Event::LunContents { db: Some(db), .. } | Event::LunWrite { db: Some(db), .. }
                if !self.shared_disk.contains(db) =>
            {
                self.shared_disk.insert(db.clone());
            }
            _ => {}
        }
        if Kept::keeps(&record.event) {
            self.last_kept = Some(pos);
        }
    }

    /// The rules on one `committed`: its writer has the database mounted, in no stale epoch.
    fn committed(&mut self, record: &Record, mounted: bool) {
        let Event::Committed { node, db, msg, epoch, .. } = &record.event else { return };
        if !mounted {
            self.violations.push(Violation {
                check: ViolationKind::SplitBrain,
                subject: db.to_string(),
                time_ms: record.at.as_millis(),
                detail: format!(
                    "{node} committed message {msg} to {db} in epoch {epoch} at {} without having {db} mounted",
                    record.at
                ),
            });
        }
        if let Some(highest) = self.highest_epoch.get(db).filter(|highest| epoch < *highest) {
            self.violations.push(Violation {
                check: ViolationKind::SplitBrain,
                subject: db.to_string(),
                time_ms: record.at.as_millis(),
                detail: format!(
                    "{node} committed message {msg} to {db} in stale epoch {epoch} at {} after epoch {highest} \
                     was mounted",
                    record.at
                ),
            });
        }
    }

    fn act(&mut self, db: &Name, node: &Name, pos: usize) {
        let runs = self.acted.entry((db.clone(), node.clone())).or_default();
        match runs.last_mut() {
            Some(run) if self.last_kept.is_none_or(|kept| kept < run.1) => run.1 = pos,
            _ => runs.push((pos, pos)),
        }
    }

    /// Whether `node` acted on `db` at a position in `from..to`.
    fn acted_between(&self, db: &Name, node: &Name, from: usize, to: usize) -> bool {
        self.acted
            .get(&(db.clone(), node.clone()))
            .is_some_and(|runs| runs.iter().any(|&(first, last)| first < to && last >= from))
    }

    pub fn check(self, model: &Model, report: &mut CheckReport) {
        self.overlapping_mounts(model, report);
        report.violations.extend(self.violations);
    }

    fn overlapping_mounts(&self, model: &Model, report: &mut CheckReport) {
        for db in model.mounted_dbs() {
            if self.shared_disk.contains(&db) {
                continue; // judged at the LUN by the fencing oracle
            }
            let mounts: Vec<_> = model.mounts_of(&db).collect();
            for (later_index, later) in mounts.iter().enumerate() {
                for earlier in mounts.iter().take(later_index) {
                    if earlier.node == later.node {
                        continue;
                    }
                    let Some(overlap) = self.harmful_overlap(model, earlier, later) else { continue };
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
    fn harmful_overlap(&self, model: &Model, earlier: &Mount, later: &Mount) -> Option<Span> {
        let earlier_pieces = model.executing(&earlier.node, earlier.span);
        let later_pieces = model.executing(&later.node, later.span);
        for a in &earlier_pieces {
            for b in &later_pieces {
                let Some(overlap) = a.intersection(b) else { continue };
                let lasted = overlap.end.is_none_or(|end| end.at > overlap.start.at);
                let end = overlap.end.map_or(model.records.len(), |end| end.pos);
                // Acting on the database: writing a message, taking one as a duplicate, or a client
                // receiving an acknowledgement from either copy.
                let acted = self.acted_between(&earlier.db, &earlier.node, overlap.start.pos, end)
                    || self.acted_between(&earlier.db, &later.node, overlap.start.pos, end);
                // The one harmless overlap: a resumed zombie that stepped down in the instant it resumed.
                let at_resume = matches!(model.records.get(overlap.start.pos).map(|record| &record.event),
                Some(Event::HostUp { host, .. }) if host == &earlier.node || host == &later.node);
                if lasted || acted || !at_resume {
                    return Some(overlap);
                }
            }
        }
        None
    }
}
