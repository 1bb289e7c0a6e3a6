//! Service delivered (`not-served`).
//!
//! A run that never served proves nothing about failover: a pass must show that the service was
//! delivered. Checked, per database named in the history:
//!
//! - it was mounted by some node at least once;
//! - if clients submitted mail for it, at least one message was acknowledged;
//! - no mail was stranded: when a running node holds the database mounted at the end, every message
//!   submitted early enough was acknowledged by then. A message is due once the liveness bound has
//!   passed since it was submitted or since the final heal, whichever is later (the time the cluster
//!   is given to converge, during which a hub's queue must drain to the new owner). A database
//!   mounted while its hub held every message is as unavailable to its clients as one mounted
//!   nowhere, which the mount-based checks (recovery time, liveness) already report on their own.
//!
//! Each failing database is reported once, at the end of the run. A scenario about a cluster that must
//! never serve declares `tolerate = ["not-served"]`; with an open-ended declared outage
//! (`expected_outage` without an end) no mail is due.
//!
//! Not checked: a database the history never names (no mail, no decision, no mount); mail submitted
//! too late to be due; mail held by a hub whose host is down at the end (the transport tier's
//! outage, not the cluster's; a hub's queue survives a power cycle and is delivered after it); how
//! fast the due mail was acknowledged (recovery time judges outages).

use super::model::Model;
use super::{CheckConfig, CheckReport};
use crate::history::{Event, MessageId, Name, Record};
use crate::verdict::{Violation, ViolationKind};
use kernel::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// What the history shows of one database's service.
#[derive(Debug, Default)]
struct Served {
    submitted: u64,
    acked: u64,
    mounted: bool,
    /// Messages submitted and not (yet) acknowledged, with when and to which hub they were submitted:
    /// the mail in flight, which a healthy run keeps short.
    waiting: BTreeMap<MessageId, (SimTime, Name)>,
    last_ack: Option<SimTime>,
}

/// Each database's service, tallied as the records pass.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    databases: BTreeMap<Name, Served>,
    /// Hosts not running at the end of the run (their last word is a host-down).
    down_at_end: BTreeSet<Name>,
}

impl Tally {
    fn served(&mut self, db: &Name) -> &mut Served {
        if !self.databases.contains_key(db) {
            self.databases.insert(db.clone(), Served::default());
        }
        self.databases.get_mut(db).expect("inserted above")
    }

    pub fn observe(&mut self, record: &Record) {
        match &record.event {
            Event::Submitted { db, msg, hub } => {
                let served = self.served(db);
                served.submitted += 1;
                served.waiting.entry(*msg).or_insert((record.at, hub.clone()));
            }
            Event::HostDown { host, .. } => {
                self.down_at_end.insert(host.clone());
            }
            Event::HostUp { host, .. } => {
                self.down_at_end.remove(host);
            }
            Event::Acked { db, msg, .. } => {
                let served = self.served(db);
                served.acked += 1;
                served.waiting.remove(msg);
                served.last_ack = Some(record.at);
            }
            Event::Mounted { db, .. } => self.served(db).mounted = true,
            Event::Failover { db, .. } => {
                self.served(db);
            }
            _ => {}
        }
    }

    pub fn check(&self, model: &Model, config: &CheckConfig, report: &mut CheckReport) {
        for (db, served) in &self.databases {
            let detail = if !served.mounted {
                format!("{db} was never mounted ({} messages submitted, none acknowledged)", served.submitted)
            } else if served.submitted > 0 && served.acked == 0 {
                format!(
                    "{db} was mounted but none of the {} messages submitted for it was acknowledged",
                    served.submitted
                )
            } else if let Some(stranded) =
                served_at_end(model, db).then(|| stranded(db, served, &self.down_at_end, config)).flatten()
            {
                stranded
            } else {
                continue;
            };
            report.violations.push(Violation {
                check: ViolationKind::NotServed,
                subject: db.to_string(),
                time_ms: config.end.as_millis(),
                detail,
            });
        }
    }
}

/// Whether a running node holds `db` mounted at the end of the run: only then is stranded mail this
/// check's to report. A database mounted nowhere at the end is already a recovery-time or liveness
/// violation, and its undelivered mail the same outage seen from the client, not a second finding
/// (a hazard expecting `liveness` finds exactly that).
fn served_at_end(model: &Model, db: &Name) -> bool {
    let after_all = model.records.len();
    model
        .mounts_of(db)
        .any(|mount| mount.span.open_after(after_all) && model.running_after(&mount.node, after_all))
}

/// The sentence about `db`'s mail that was due and never acknowledged, if there was any.
fn stranded(
    db: &Name,
    served: &Served,
    down_at_end: &BTreeSet<Name>,
    config: &CheckConfig,
) -> Option<String> {
    // A service declared down to the end owes its clients nothing.
    if matches!(config.expected_outage, Some((_, None))) {
        return None;
    }
    let due = |submitted: SimTime| submitted.max(config.final_heal) + config.liveness_bound <= config.end;
    // Mail held by a hub that is down at the end waits for the transport tier, not for the cluster.
    let times: Vec<SimTime> = served
        .waiting
        .values()
        .filter(|(at, hub)| due(*at) && !down_at_end.contains(hub))
        .map(|(at, _)| *at)
        .collect();
    let (first, last) = (times.iter().min()?, times.iter().max()?);
    let last_ack = served.last_ack.map_or_else(|| "never".to_string(), |at| format!("at {at}"));
    Some(format!(
        "{} messages submitted for {db} between {first} and {last} were never acknowledged, though each had \
         the liveness bound ({}) after its submission and after the final heal ({}) before the end ({}); \
         the last acknowledgement was {last_ack}",
        times.len(),
        kernel::format_duration(config.liveness_bound),
        config.final_heal,
        config.end,
    ))
}
