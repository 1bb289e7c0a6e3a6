//! No lost acknowledged data (`data-loss`).
//!
//! Shared-disk databases are judged against their LUNs' contents as the array reports them at the end
//! (`lun-contents`, durable and cached blocks): every acknowledged message must be on one of them,
//! whoever has the database mounted.
//!
//! Checked, per replicated database, at the end of the run: the active copy is every node whose mount of the
//! database is still open at the end (a frozen owner counts). Every message acknowledged for that
//! database (any `acked`, whoever sent it) must be in that copy's final contents, as rebuilt by the
//! model from commits, replays, rollbacks and reseeds. The number missing is compared with
//! `max_lost_acked`; a violation is reported at the end of the run (the instant the loss is
//! established) with the count and the window between the first acknowledgements of the earliest and
//! of the latest lost message. With several open mounts (already a split-brain) each copy
//! is judged on its own. With none, loss is not judged and a note says so (liveness reports the missing
//! active).
//!
//! Metrics: `lost_acked`, `lost_window_ms` and `duplicates` (message ids present more than once in the
//! final active copy) are those of the worst copy over all databases.
//!
//! Nothing is kept per message: acknowledged ids are kept as ranges, with their acknowledgement times
//! as runs of consecutive ids acknowledged within [`ACK_RUN_SPAN`] of each other. The window of the
//! lost messages is that of the runs holding them: exact when they were lost whole (a lost log, a
//! lost LUN write), and otherwise wider by at most `ACK_RUN_SPAN` at either end.
//!
//! Not checked: whether a message was lost and later resubmitted in between (only the end state is
//! judged); that duplicates stay within a bound (at-least-once delivery is allowed); messages that were
//! submitted but never acknowledged; the contents of passive copies.

use super::CheckReport;
use super::model::Model;
use crate::history::{Event, MessageId, MessageSet, Name, Record};
use crate::verdict::{Violation, ViolationKind};
use kernel::SimTime;
use std::collections::BTreeMap;
use std::time::Duration;

/// How far apart in time the acknowledgements of one run of ids may be: the resolution of the lost
/// window, and what bounds the runs to one per this long per database.
pub(crate) const ACK_RUN_SPAN: Duration = Duration::from_secs(10);

/// Consecutive ids `first..=last` acknowledged (each for the first time) between `first_at` and
/// `last_at`.
#[derive(Clone, Copy, Debug)]
struct AckRun {
    last: MessageId,
    first_at: SimTime,
    last_at: SimTime,
}

/// What one database's clients had acknowledged.
#[derive(Debug, Default)]
struct Acknowledged {
    ids: MessageSet,
    /// Runs keyed by their first id.
    runs: BTreeMap<MessageId, AckRun>,
}

impl Acknowledged {
    fn ack(&mut self, msg: MessageId, at: SimTime) {
        if !self.ids.insert(msg) {
            return; // the first acknowledgement is the one kept
        }
        let extends = |run: &AckRun| at.saturating_since(run.first_at) <= ACK_RUN_SPAN;
        let before = msg
            .checked_sub(1)
            .and_then(|below| self.runs.range(..=below).next_back())
            .filter(|(_, run)| run.last + 1 == msg && extends(run))
            .map(|(&first, _)| first);
        let first = match before {
            Some(first) => {
                let run = self.runs.get_mut(&first).expect("found above");
                run.last = msg;
                run.last_at = run.last_at.max(at);
                first
            }
            None => {
                self.runs.insert(msg, AckRun { last: msg, first_at: at, last_at: at });
                msg
            }
        };
        // A run that starts right after joins, if the joined run stays within the span.
        if let Some(after) = msg.checked_add(1).and_then(|next| self.runs.get(&next).copied()) {
            let run = self.runs.get(&first).copied().expect("inserted above");
            let first_at = run.first_at.min(after.first_at);
            let last_at = run.last_at.max(after.last_at);
            if last_at.saturating_since(first_at) <= ACK_RUN_SPAN {
                self.runs.remove(&(msg + 1));
                self.runs.insert(first, AckRun { last: after.last, first_at, last_at });
            }
        }
    }

    /// The earliest and latest acknowledgement of the runs holding any of `lost`.
    fn window(&self, lost: &MessageSet) -> Option<(SimTime, SimTime)> {
        let mut window: Option<(SimTime, SimTime)> = None;
        for (first, last) in lost.ranges() {
            let start = self.runs.range(..=first).next_back().map_or(first, |(&run_first, _)| run_first);
            for (_, run) in self.runs.range(start..=last).filter(|(_, run)| run.last >= first) {
                window = Some(match window {
                    Some((from, to)) => (from.min(run.first_at), to.max(run.last_at)),
                    None => (run.first_at, run.last_at),
                });
            }
        }
        window
    }
}

/// The acknowledgements and the LUNs' final contents, gathered as the records pass.
#[derive(Debug, Default)]
pub(crate) struct Acks {
    acked: BTreeMap<Name, Acknowledged>,
    /// What each shared-disk database's LUNs hold at the end.
    on_luns: BTreeMap<Name, MessageSet>,
}

impl Acks {
    pub fn observe(&mut self, record: &Record) {
        match &record.event {
            Event::Acked { msg, db, .. } => match self.acked.get_mut(db) {
                Some(acked) => acked.ack(*msg, record.at),
                // Looking the database up before inserting avoids cloning its name for every message.
                None => self.acked.entry(db.clone()).or_default().ack(*msg, record.at),
            },
            Event::LunContents { db: Some(db), msgs, .. } => {
                let held = self.on_luns.entry(db.clone()).or_default();
                for &(first, last) in msgs {
                    held.insert_range(first, last);
                }
            }
            _ => {}
        }
    }
}

pub(crate) fn check(model: &Model, acks: &Acks, config: &super::CheckConfig, report: &mut CheckReport) {
    let none = Acknowledged::default();
    let all = model.records.len();
    let mut dbs = model.mounted_dbs();
    dbs.extend(acks.acked.keys().cloned());
    // A shared-disk database is what its LUNs hold, whoever has it mounted: the array's own record.
    for (db, present) in &acks.on_luns {
        let acked_here = acks.acked.get(db).unwrap_or(&none);
        judge(db, &Name::from("its LUNs"), acked_here, present, config, report);
    }
    for db in dbs {
        if acks.on_luns.contains_key(&db) {
            continue;
        }
        let actives: Vec<&Name> = model
            .mounts_of(&db)
            .filter(|mount| mount.span.open_after(all))
            .map(|mount| &mount.node)
            .collect();
        if actives.is_empty() {
            report.notes.push(format!(
                "data loss of {db} was not judged: no node has it mounted at the end of the run"
            ));
            continue;
        }
        let acked_here = acks.acked.get(&db).unwrap_or(&none);
        for node in actives {
            let copy = model.copy_of(&db, node);
            let present = copy.map(|copy| copy.contents.messages()).unwrap_or_default();
            let duplicates = copy.map_or(0, |copy| copy.contents.duplicates());
            report.metrics.duplicates = report.metrics.duplicates.max(duplicates);
            let holder = Name::from(format!("the active copy on {node}").as_str());
            judge(&db, &holder, acked_here, &present, config, report);
        }
    }
}

/// Compares what was acknowledged with what `holder` contains.
fn judge(
    db: &Name,
    holder: &Name,
    acked_here: &Acknowledged,
    present: &MessageSet,
    config: &super::CheckConfig,
    report: &mut CheckReport,
) {
    let lost = acked_here.ids.difference(present);
    let lost_count = lost.len();
    let window = acked_here.window(&lost);
    if lost_count > report.metrics.lost_acked {
        report.metrics.lost_acked = lost_count;
        report.metrics.lost_window_ms = window.map(|(first, last)| (first.as_millis(), last.as_millis()));
    }
    if lost_count > config.max_lost_acked {
        let (first, last) = window.unwrap_or((config.end, config.end));
        let sample: Vec<String> = lost.iter().take(5).map(|msg| msg.to_string()).collect();
        report.violations.push(Violation {
            check: ViolationKind::DataLoss,
            subject: db.to_string(),
            time_ms: config.end.as_millis(),
            detail: format!(
                "{lost_count} acknowledged messages of {db} are missing from {holder} at the end (bound {}); \
                 acknowledged between {first} and {last} (e.g. {})",
                config.max_lost_acked,
                sample.join(", ")
            ),
        });
    }
}
