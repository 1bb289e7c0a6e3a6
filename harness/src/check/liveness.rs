//! Liveness (`liveness`).
//!
//! Judged once, at the checkpoint `min(final_heal + liveness_bound, end)`, on the state after every
//! record up to that instant. For each database mounted at least once before the checkpoint:
//!
//! - exactly one running node (neither powered off nor frozen) has it mounted;
//! - if so, every other running node holding a copy of it (one that mounted it or had any commit, log,
//!   replay, rollback or reseed of it) has a highest closed generation no more than
//!   `copy_lag_tolerance` generations below the active copy's highest closed generation.
//!
//! Nothing is judged when the declared `expected_outage` window covers the checkpoint: the scenario
//! said the service may be down then. (An open-ended window is the usual case; a bounded one that
//! still covers the checkpoint is excused too, since it declares the same thing.) When the run ends
//! before the bound has elapsed, the check is made at the end and a note says so.
//!
//! Not checked: convergence at any instant other than the checkpoint (a cluster that converged and
//! fell apart again before it is judged by its state at the checkpoint); copies on nodes that are
//! down at the checkpoint; the quorum or membership view of each node; whether a lagging copy is
//! making progress.

use super::model::Model;
use super::{CheckConfig, CheckReport};
use crate::history::Name;
use crate::verdict::{Violation, ViolationKind};
use std::collections::BTreeSet;

pub(crate) fn check(model: &Model, config: &CheckConfig, report: &mut CheckReport) {
    let bound_end = config.final_heal + config.liveness_bound;
    let checkpoint = bound_end.min(config.end);
    if bound_end > config.end {
        report.notes.push(format!(
            "the run ended at {} before the liveness bound after the final heal elapsed ({bound_end}); \
             liveness was judged at the end",
            config.end
        ));
    }
    if let Some((start, end)) = config.expected_outage
        && start <= checkpoint
        && end.is_none_or(|end| checkpoint < end)
    {
        report.notes.push(format!(
            "liveness was not judged: the declared outage window covers the checkpoint {checkpoint}"
        ));
        return;
    }

    let n = model.count_by(checkpoint);
    let time_ms = checkpoint.as_millis();
    for db in model.mounted_dbs() {
        if !model.mounts_of(&db).any(|mount| mount.span.start.pos < n) {
            continue;
        }
        let actives: BTreeSet<&Name> = model
            .mounts_of(&db)
            .filter(|mount| mount.span.open_after(n) && model.running_after(&mount.node, n))
            .map(|mount| &mount.node)
            .collect();
        let active = match actives.len() {
            1 => actives.first().copied(),
            0 => {
                report.violations.push(Violation {
                    check: ViolationKind::Liveness,
                    subject: db.to_string(),
                    time_ms,
                    detail: format!("{db} is not mounted on any running node at the checkpoint {checkpoint}"),
                });
                None
            }
            count => {
                let names: Vec<&str> = actives.iter().map(|name| &***name).collect();
                report.violations.push(Violation {
                    check: ViolationKind::Liveness,
                    subject: db.to_string(),
                    time_ms,
                    detail: format!(
                        "{db} is mounted on {count} running nodes ({}) at the checkpoint {checkpoint}",
                        names.join(", ")
                    ),
                });
                None
            }
        };
        let Some(active) = active else {
            report.notes.push(format!("the copies of {db} were not judged: it has no single active copy"));
            continue;
        };

        let active_level = model.copy_of(&db, active).and_then(|copy| copy.level_after(n)).unwrap_or(0);
        for (node, copy) in model.copies_of(&db) {
            if node == active || !copy.existed_after(n) || !model.running_after(node, n) {
                continue;
            }
            let level = copy.level_after(n).unwrap_or(0);
            let behind = active_level.saturating_sub(level);
            if behind <= config.copy_lag_tolerance {
                continue;
            }
            report.violations.push(Violation {
                check: ViolationKind::Liveness,
                subject: db.to_string(),
                time_ms,
                detail: format!(
                    "the copy of {db} on {node} holds generations up to {level} at the checkpoint \
                     {checkpoint}, while the active copy on {active} has closed {active_level}: {behind} \
                     behind, more than the tolerated {}",
                    config.copy_lag_tolerance
                ),
            });
        }
    }
}
