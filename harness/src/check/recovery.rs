//! Recovery time (`rto`).
//!
//! Per database, from its first mount on, the database is down whenever no running node (neither
//! powered off nor frozen, by the emulators' ground truth) has it mounted. A frozen owner keeps its
//! mount but serves nobody, so its database counts as down. Each outage runs from the record that took
//! the last running mount away to the record that restored one, or to the end of the run if none did.
//! The parts of an outage inside the declared `expected_outage` window are cut away.
//!
//! The RTO is a promise about recovering from a fault, so each remaining piece is judged from the
//! last fault that struck inside it, or from its start if none did: a piece is a violation when
//! service came back (or the run ended) more than `rto` after that instant. A fault strikes when a
//! `fault` record that is not a repair (`power-on`, `resume`, `link-heal`, `heal-all` and the other
//! inverses) nor a clock step falls strictly inside the piece. A clock step moves only the wall
//! clock, and the cluster service times everything on its monotonic clock, so it must never slow a
//! recovery: a recovery it slowed is still judged from before it. Why: a swarm that powers the new owner off while it
//! mounts, or reboots the array during a takeover, starts a second recovery, and no failover logic
//! can finish a recovery before its last fault; measuring the whole outage failed such seeds whatever
//! the logic did. A piece longer than `rto` that passes because a later fault struck inside it gets a
//! note with the whole outage, so a report never hides how long clients waited. The `rto_ms` metric is the longest judged recovery time over
//! all databases (the quantity compared with `rto`).
//!
//! Not checked: whether clients could reach the mounted copy (network reachability, DNS caches); time
//! before a database's first mount (initial start-up is not an outage); whether the serving copy was
//! the right one (the data-loss and lineage checkers judge that); whether a fault that struck inside
//! an outage could touch the recovery at all (any fault restarts the clock, so a run whose faults
//! arrive faster than its RTO is judged only by the liveness check after the final heal).

use super::model::{Model, Mount};
use super::{CheckConfig, CheckReport, duration_ms};
use crate::history::{Event, Name};
use crate::scenario::FaultKind;
use crate::verdict::{Violation, ViolationKind};
use kernel::{SimTime, format_duration};
use reports::text::format_ms;
use std::collections::BTreeSet;

/// One stretch of true time with no running mount.
struct Outage {
    start: SimTime,
    end: SimTime,
    /// True when the database was still down at the end of the run.
    open: bool,
}

pub(crate) fn check(model: &Model, config: &CheckConfig, report: &mut CheckReport) {
    for db in model.mounted_dbs() {
        for outage in outages(model, &db, config.end) {
            for (start, end) in outside_window(&outage, config.expected_outage) {
                judge_piece(model, config, &db, (start, end), outage.open && end == outage.end, report);
            }
        }
    }
}

/// Judges one piece of an outage (`open` when the database was still down at the end of the run).
fn judge_piece(
    model: &Model,
    config: &CheckConfig,
    db: &Name,
    (start, end): (SimTime, SimTime),
    open: bool,
    report: &mut CheckReport,
) {
    let struck = last_fault_inside(model, start, end);
    let judged_from = struck.as_ref().map_or(start, |(at, _)| *at);
    let recovery = end.saturating_since(judged_from);
    report.metrics.rto_ms = report.metrics.rto_ms.max(duration_ms(recovery));
    let until = if open { format!("still down at the end {end}") } else { format!("{end}") };
    let whole = format_ms(duration_ms(end.saturating_since(start)));
    if recovery <= config.rto {
        if let Some((at, fault)) = struck.filter(|_| end.saturating_since(start) > config.rto) {
            report.notes.push(format!(
                "{db} was down from {start} to {until} ({whole}); judged from the last fault inside that \
                 outage, {fault} at {at}, it recovered in {}",
                format_ms(duration_ms(recovery))
            ));
        }
        return;
    }
    let detail = match struck {
        None => format!(
            "{db} had no running node with it mounted from {start} to {until}: {whole} against an RTO of {}; {}",
            format_duration(config.rto),
            model.fault_before(start)
        ),
        Some((at, fault)) => format!(
            "{db} had no running node with it mounted from {start} to {until} ({whole}), and {} after the last \
             fault inside that outage ({fault} at {at}) against an RTO of {}",
            format_ms(duration_ms(recovery)),
            format_duration(config.rto)
        ),
    };
    report.violations.push(Violation {
        check: ViolationKind::Rto,
        subject: db.to_string(),
        time_ms: start.as_millis(),
        detail,
    });
}

/// The last fault (not a repair) recorded strictly between `start` and `end`, with a description.
fn last_fault_inside(model: &Model, start: SimTime, end: SimTime) -> Option<(SimTime, String)> {
    model.records.iter().rev().filter(|record| start < record.at && record.at < end).find_map(|record| {
        match &record.event {
            Event::Fault { kind, target, .. } if !kind.is_heal() && *kind != FaultKind::ClockStep => {
                Some((record.at, format!("{kind} on {target}")))
            }
            _ => None,
        }
    })
}

/// The outages of `db` after its first mount.
fn outages(model: &Model, db: &Name, end: SimTime) -> Vec<Outage> {
    let mounts: Vec<&Mount> = model.mounts_of(db).collect();
    let Some(first) = mounts.first() else { return Vec::new() };

    // Availability can only change where a mount of this database or a host that mounted it changes.
    let nodes: BTreeSet<&Name> = mounts.iter().map(|mount| &mount.node).collect();
    let mut changes: BTreeSet<usize> = BTreeSet::new();
    for mount in &mounts {
        changes.insert(mount.span.start.pos);
        changes.extend(mount.span.end.map(|point| point.pos));
    }
    for node in nodes {
        for down in model.downs.get(node).into_iter().flatten() {
            changes.insert(down.span.start.pos);
            changes.extend(down.span.end.map(|point| point.pos));
        }
    }

    let mut found = Vec::new();
    let mut down_since: Option<SimTime> = None;
    for pos in changes.range(first.span.start.pos..) {
        let Some(record) = model.records.get(*pos) else { continue };
        let n = pos.saturating_add(1);
        let up = mounts.iter().any(|mount| mount.span.open_after(n) && model.running_after(&mount.node, n));
        match (up, down_since) {
            (false, None) => down_since = Some(record.at),
            (true, Some(start)) => {
                found.push(Outage { start, end: record.at, open: false });
                down_since = None;
            }
            _ => {}
        }
    }
    if let Some(start) = down_since {
        found.push(Outage { start, end: end.max(start), open: true });
    }
    found
}

/// The pieces of `outage` outside the declared window, as (start, end) with start before end.
fn outside_window(outage: &Outage, window: Option<(SimTime, Option<SimTime>)>) -> Vec<(SimTime, SimTime)> {
    let Some((window_start, window_end)) = window else {
        return vec![(outage.start, outage.end)];
    };
    let mut pieces = Vec::new();
    let before_end = outage.end.min(window_start);
    if outage.start < before_end {
        pieces.push((outage.start, before_end));
    }
    // A window that ends before it starts is read as ending where it starts, so no time counts twice.
    if let Some(window_end) = window_end.map(|window_end| window_end.max(window_start)) {
        let after_start = outage.start.max(window_end);
        if after_start < outage.end {
            pieces.push((after_start, outage.end));
        }
    }
    pieces
}
