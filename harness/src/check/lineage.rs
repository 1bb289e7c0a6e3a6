//! Single lineage (`lineage`).
//!
//! A `mounted` of epoch `e'` at generation `G'` says the database's history continues from generation
//! `G'` in epoch `e'`. From that record on, every log (generation `g`, epoch `e`) with `e < e'` and
//! `g > G'` is off-lineage: it was written by a deposed epoch after the point the new lineage branched.
//! Being deposed is permanent, whatever is mounted later.
//!
//! Checked, per database:
//!
//! - no `log-replayed` applies an off-lineage log, on any copy, after the mount that deposed it;
//! - no `mounted` happens on a copy that still holds an off-lineage log at that instant (a diverged
//!   former active that mounted again without rolling back or being reseeded). The mount itself counts
//!   as a deposing mount, so a copy cannot mount while holding older-epoch logs beyond its own start.
//!
//! A mount that a revert to a memory snapshot reinstated is not a mount decision: the resumed image
//! held its tail when it mounted long before, and whatever the cluster deposed since is judged by what
//! the image does with it (replays above; commits in a stale epoch by the single-writer checker). Its
//! mount still deposes older logs, as the original mount did.
//!
//! Not checked: a passive copy that keeps off-lineage logs but never replays more of them nor mounts
//! (it is harmless until then); a reseed that copies off-lineage logs from a diverged source (caught
//! if that copy mounts); commits by a stale epoch (the single-writer checker reports those); whether
//! the messages of a deposed log were recovered elsewhere (the data-loss checker judges the outcome).

use super::CheckReport;
use super::model::{Model, Mount};
use crate::history::{Event, Name};
use crate::verdict::{Violation, ViolationKind};

pub(crate) fn check(model: &Model, report: &mut CheckReport) {
    for (pos, record) in model.records.indexed() {
        let Event::LogReplayed { node, db, generation, epoch, .. } = &record.event else { continue };
        if let Some(deposer) = deposer(model, db, *generation, *epoch, pos) {
            report.violations.push(Violation {
                check: ViolationKind::Lineage,
                subject: db.to_string(),
                time_ms: record.at.as_millis(),
                detail: format!(
                    "{node} replayed generation {generation} of epoch {epoch} of {db} at {}, but epoch {} \
                     mounted on {} at {} continues from generation {}",
                    record.at, deposer.epoch, deposer.node, deposer.span.start.at, deposer.generation
                ),
            });
        }
    }

    for mount in model.mounts.iter().filter(|mount| !mount.resumed) {
        // The mount's own record counts, hence the `+ 1`.
        let until = mount.span.start.pos.saturating_add(1);
        let stale: Vec<(u64, u64, &Mount)> = mount
            .held_before
            .iter()
            .filter_map(|(generation, epoch)| {
                deposer(model, &mount.db, *generation, *epoch, until).map(|by| (*generation, *epoch, by))
            })
            .collect();
        let Some((generation, epoch, by)) = stale.first() else { continue };
        report.violations.push(Violation {
            check: ViolationKind::Lineage,
            subject: mount.db.to_string(),
            time_ms: mount.span.start.at.as_millis(),
            detail: format!(
                "{} mounted {} in epoch {} at {} while holding {} deposed log generations, the first being \
                 generation {generation} of epoch {epoch}, deposed by epoch {} mounted on {} at generation {}",
                mount.node,
                mount.db,
                mount.epoch,
                mount.span.start.at,
                stale.len(),
                by.epoch,
                by.node,
                by.generation
            ),
        });
    }
}

/// The first mount of `db` among the first `n` records that deposes log (`generation`, `epoch`).
fn deposer<'m>(model: &'m Model, db: &Name, generation: u64, epoch: u64, n: usize) -> Option<&'m Mount> {
    model
        .mounts_of(db)
        .take_while(|mount| mount.span.start.pos < n)
        .find(|mount| mount.epoch > epoch && mount.generation < generation)
}
