//! The failover bound (`failovers`).
//!
//! A scenario may bound how often the cluster moves its databases: `[checks] max_failovers = N`. What
//! counts is every `failover` record whose reason is not `initial`, over all databases: `ownerdown`
//! (the owner was declared down), `resourcefailed` (local restart gave up), `operator` (a `move`
//! fault, a switchover) and `remount` (an owner that lost its mount got it back under a new epoch).
//! The first activation of each database (`initial`) is not a failover, however often it is decided
//! again. When more than `N` counted records fall before the end of the run, one violation is reported
//! at the first record beyond the bound, naming it and the total; `max_failovers = 0` asserts "no
//! failover at all".
//!
//! Not checked: whether a failover was warranted (the recovery and safety checkers judge its effects);
//! a move the cluster carried out without a `failover` decision (there is none in this model); the
//! bound per database (it is one bound for the whole run).

use super::model::Model;
use super::{CheckConfig, CheckReport};
use crate::history::{Event, FailoverReason};
use crate::verdict::{Violation, ViolationKind};

pub(crate) fn check(model: &Model, config: &CheckConfig, report: &mut CheckReport) {
    let Some(bound) = config.max_failovers else { return };
    let counted: Vec<_> = model
        .records
        .iter()
        // The first activation of a database is no failover.
        .filter(|record| {
            matches!(&record.event, Event::Failover { reason, .. } if *reason != FailoverReason::Initial)
        })
        .collect();
    let total = counted.len() as u64;
    let Some(first_beyond) = usize::try_from(bound).ok().and_then(|bound| counted.get(bound)) else { return };
    let Event::Failover { db, from, to, epoch, reason } = &first_beyond.event else { return };
    let from = from.as_ref().map_or_else(|| "no owner".to_string(), ToString::to_string);
    report.violations.push(Violation {
        check: ViolationKind::Failovers,
        subject: db.to_string(),
        time_ms: first_beyond.at.as_millis(),
        detail: format!(
            "{db} failed over from {from} to {to} at {} ({reason:?}, epoch {epoch}): failover {} after the initial \
             activation, against max_failovers = {bound} ({total} in the run)",
            first_beyond.at,
            bound.saturating_add(1),
        ),
    });
}
