//! Recovery time (`rto`).
//!
//! Per database, from its first mount on, the database is down whenever no running node (neither
//! powered off nor frozen, by the emulators' ground truth) has it mounted. A frozen owner keeps its
//! mount but serves nobody, so its database counts as down. Each outage runs from the record that took
//! the last running mount away to the record that restored one, or to the end of the run if none did.
//! The parts of an outage inside the declared `expected_outage` window are cut away, and each
//! remaining piece longer than `rto` is a violation, reported at the piece's start with its duration
//! and the most recent `fault` record at or before that start. The `rto_ms` metric is the longest
//! remaining piece over all databases.
//!
//! Not checked: whether clients could reach the mounted copy (network reachability, DNS caches); time
//! before a database's first mount (initial start-up is not an outage); whether the serving copy was
//! the right one (the data-loss and lineage checkers judge that).

use super::model::{Model, Mount};
use super::{CheckConfig, CheckReport, duration_ms};
use crate::history::Name;
use crate::verdict::{Violation, ViolationKind};
use kernel::{SimTime, format_duration};
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
                let duration = end.saturating_since(start);
                report.metrics.rto_ms = report.metrics.rto_ms.max(duration_ms(duration));
                if duration <= config.rto {
                    continue;
                }
                let until = if outage.open && end == outage.end {
                    format!("still down at the end {end}")
                } else {
                    format!("{end}")
                };
                report.violations.push(Violation {
                    check: ViolationKind::Rto,
                    time_ms: start.as_millis(),
                    detail: format!(
                        "{db} had no running node with it mounted from {start} to {until}: {} against an RTO of \
                         {}; {}",
                        format_duration(duration),
                        format_duration(config.rto),
                        model.fault_before(start)
                    ),
                });
            }
        }
    }
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
