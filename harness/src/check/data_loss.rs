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
//! Not checked: whether a message was lost and later resubmitted in between (only the end state is
//! judged); that duplicates stay within a bound (at-least-once delivery is allowed); messages that were
//! submitted but never acknowledged; the contents of passive copies.

use super::CheckReport;
use super::model::Model;
use crate::history::{Event, MessageId, Name};
use crate::verdict::{Violation, ViolationKind};
use kernel::SimTime;
use std::collections::BTreeMap;

pub(crate) fn check(model: &Model, config: &super::CheckConfig, report: &mut CheckReport) {
    // Every acknowledgement per database, then sorted by message and time so the first
    // acknowledgement of each message is the one kept. Sorted vectors keep this pass cheap on runs
    // with many thousands of messages.
    let mut acked: BTreeMap<Name, Vec<(MessageId, SimTime)>> = BTreeMap::new();
    for record in model.records {
        if let Event::Acked { msg, db, .. } = &record.event {
            // Looking the database up before inserting avoids cloning its name for every message.
            match acked.get_mut(db) {
                Some(messages) => messages.push((*msg, record.at)),
                None => {
                    acked.insert(db.clone(), vec![(*msg, record.at)]);
                }
            }
        }
    }
    for messages in acked.values_mut() {
        messages.sort_unstable();
        messages.dedup_by_key(|(msg, _)| *msg);
    }

    let all = model.records.len();
    let mut dbs = model.mounted_dbs();
    dbs.extend(acked.keys().cloned());
    // A shared-disk database is what its LUNs hold, whoever has it mounted: the array's own record.
    let mut on_luns: BTreeMap<Name, Vec<MessageId>> = BTreeMap::new();
    for record in model.records {
        if let Event::LunContents { db: Some(db), msgs, .. } = &record.event {
            on_luns.entry(db.clone()).or_default().extend(msgs.iter().copied());
        }
    }
    for (db, present) in on_luns.iter_mut() {
        let acked_here = acked.get(db).map_or(&[][..], Vec::as_slice);
        present.sort_unstable();
        present.dedup();
        judge(db, &Name::from("its LUNs"), acked_here, present, config, report);
    }
    for db in dbs {
        if on_luns.contains_key(&db) {
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
        let acked_here = acked.get(&db).map_or(&[][..], Vec::as_slice);
        for node in actives {
            let mut present: Vec<MessageId> = model
                .copy_of(&db, node)
                .map(|copy| copy.contents.entries().map(|(msg, _, _)| msg).collect())
                .unwrap_or_default();
            present.sort_unstable();
            let duplicates = count(present.chunk_by(|a, b| a == b).filter(|copies| copies.len() > 1));
            report.metrics.duplicates = report.metrics.duplicates.max(duplicates);
            present.dedup();
            judge(
                &db,
                &Name::from(format!("the active copy on {node}").as_str()),
                acked_here,
                &present,
                config,
                report,
            );
        }
    }
}

/// Compares what was acknowledged with what `holder` contains (sorted, deduplicated).
fn judge(
    db: &Name,
    holder: &Name,
    acked_here: &[(MessageId, SimTime)],
    present: &[MessageId],
    config: &super::CheckConfig,
    report: &mut CheckReport,
) {
    let lost: Vec<(MessageId, SimTime)> =
        acked_here.iter().filter(|(msg, _)| present.binary_search(msg).is_err()).copied().collect();
    let lost_count = count(lost.iter());
    let first = lost.iter().map(|(_, at)| *at).min();
    let last = lost.iter().map(|(_, at)| *at).max();
    let window = first.zip(last);
    if lost_count > report.metrics.lost_acked {
        report.metrics.lost_acked = lost_count;
        report.metrics.lost_window_ms = window.map(|(first, last)| (first.as_millis(), last.as_millis()));
    }
    if lost_count > config.max_lost_acked {
        let (first, last) = window.unwrap_or((config.end, config.end));
        let sample: Vec<String> = lost.iter().take(5).map(|(msg, _)| msg.to_string()).collect();
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

/// A count as `u64`, so metrics never depend on the platform's pointer width.
fn count<T>(items: impl Iterator<Item = T>) -> u64 {
    items.fold(0, |total, _| total.saturating_add(1))
}
