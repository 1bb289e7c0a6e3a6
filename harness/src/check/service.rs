//! Service delivered (`not-served`).
//!
//! A run that never served proves nothing about failover: a pass must show that the service was
//! delivered. Checked, per database named in the history:
//!
//! - it was mounted by some node at least once;
//! - if clients submitted mail for it, at least one message was acknowledged.
//!
//! Each failing database is reported once, at the end of the run. A scenario about a cluster that must
//! never serve declares `tolerate = ["not-served"]`.
//!
//! Not checked: a database the history never names (no mail, no decision, no mount); how much of the
//! mail was acknowledged (recovery time and liveness judge how long the service was away).

use super::CheckReport;
use super::model::Model;
use crate::history::{Event, Name};
use crate::verdict::{Violation, ViolationKind};
use kernel::SimTime;
use std::collections::BTreeMap;

/// What the history shows of one database's service.
#[derive(Default)]
struct Served {
    submitted: u64,
    acked: u64,
    mounted: bool,
}

pub(crate) fn check(model: &Model, end: SimTime, report: &mut CheckReport) {
    let mut databases: BTreeMap<&Name, Served> = BTreeMap::new();
    for record in model.records {
        match &record.event {
            Event::Submitted { db, .. } => databases.entry(db).or_default().submitted += 1,
            Event::Acked { db, .. } => databases.entry(db).or_default().acked += 1,
            Event::Mounted { db, .. } => databases.entry(db).or_default().mounted = true,
            Event::Failover { db, .. } => {
                databases.entry(db).or_default();
            }
            _ => {}
        }
    }
    for (db, served) in databases {
        let detail = if !served.mounted {
            format!("{db} was never mounted ({} messages submitted, none acknowledged)", served.submitted)
        } else if served.submitted > 0 && served.acked == 0 {
            format!(
                "{db} was mounted but none of the {} messages submitted for it was acknowledged",
                served.submitted
            )
        } else {
            continue;
        };
        report.violations.push(Violation {
            check: ViolationKind::NotServed,
            subject: db.to_string(),
            time_ms: end.as_millis(),
            detail,
        });
    }
}
