//! Fencing at the shared disk (`split-brain`): the emulated LUN is the oracle.
//!
//! For a shared-disk database what matters is not who believed it was mounted but what the disk
//! applied. Every write the array applied (`lun-write`, the array's own record with the nexus it came
//! through and the epoch its blocks carry) is checked, in recorded order:
//!
//! - **fenced writer**: the write came through a nexus that a `preempted` record removed, and that has
//!   not registered again since. This is how a plain PREEMPT (which lets commands the array already
//!   accepted run to completion) or a missing abort shows up: the loser's writes land after it was
//!   fenced;
//! - **stale epoch**: the write carries an epoch lower than the highest epoch any node had mounted the
//!   LUN's database in before that instant. This is how a takeover without fencing shows up: a zombie
//!   owner's queued writes reach the disk after the new owner mounted;
//! - **not the holder**: a reservation was held when the array accepted the write (the array's own
//!   `holder_at_acceptance`) and the write came through a nexus registered with another key. Type 5
//!   lets every registrant write, but in a cluster only the holder's node may: a write from another
//!   registered node means a fenced node registered again (a stale REGISTER resent late, a re-assert
//!   by a deposed owner) while someone else owned the disk. The write is judged at acceptance, as the
//!   array judges it: SPC lets any initiator write a LUN nobody reserves and lets an accepted task run
//!   to completion, so a write accepted before a RESERVE that lands just after it is no finding (a
//!   stalled owner's queued writes after an array reboot without APTPL, ha-scc-nemesis seeds 112 and
//!   217); the epoch rules still judge what such a write carries;
//! - **two writers in one epoch**: an epoch is one owner's term, so every write the LUN applied in
//!   epoch `e` must come from one host. Two hosts writing in the same epoch means two nodes believed
//!   they owned the same term (two coordinators deciding the same epoch), whatever the reservations
//!   said. On a LUN that belongs to no database (the disk witness, whose epoch ledger holds one block
//!   per database, each write's payload naming the database) the term is per (database, epoch): two
//!   hosts writing one database's epoch to the ledger means the witness voted for it twice.
//!
//! Violations are aggregated per (LUN, nexus, rule): one report with the first offending write, the
//! number of writes and the epochs involved, so a hazard that lets thousands of writes through reads
//! as one finding, not thousands.
//!
//! Not checked here: whether two nodes had the database mounted at once (for shared-disk databases the
//! mount-overlap rule in `single_writer` is replaced by this oracle, since a frozen owner that is
//! fenced at the disk does no harm); writes the array rejected (they are fencing working); reads.

use super::CheckReport;
use crate::history::{Event, Name, Nexus, Record, ReservationAction};
use crate::verdict::{Violation, ViolationKind};
use kernel::SimTime;
use std::collections::BTreeMap;

/// One aggregated finding.
#[derive(Debug)]
struct Finding {
    first_at: SimTime,
    first_detail: String,
    writes: u64,
    lowest_epoch: u64,
    highest_epoch: u64,
}

/// The oracle, judging each write as the array applies it.
#[derive(Debug, Default)]
pub(crate) struct Oracle {
    /// (lun, nexus) pairs preempted and not registered since, with when and by whom.
    fenced: BTreeMap<(Name, Nexus), (SimTime, Nexus)>,
    highest_mounted: BTreeMap<Name, u64>,
    /// The first host that wrote each (LUN, ledger database, epoch).
    epoch_writer: BTreeMap<(Name, Option<u64>, u64), Name>,
    findings: BTreeMap<(Name, Nexus, &'static str), Finding>,
}

impl Oracle {
    pub fn observe(&mut self, record: &Record) {
        match &record.event {
            Event::Mounted { db, epoch, .. } => {
                let highest = self.highest_mounted.entry(db.clone()).or_insert(*epoch);
                *highest = (*highest).max(*epoch);
            }
            Event::Preempted { lun, by, victims, .. } => {
                for victim in victims {
                    self.fenced.insert((lun.clone(), victim.clone()), (record.at, by.clone()));
                }
            }
            Event::Reservation { lun, nexus, action: ReservationAction::Registered, .. } => {
                self.fenced.remove(&(lun.clone(), nexus.clone()));
            }
            Event::LunWrite { .. } => self.write(record),
            _ => {}
        }
    }

    /// Judges one `lun-write` by every rule.
    fn write(&mut self, record: &Record) {
        let Event::LunWrite { lun, db, nexus, key, holder_at_acceptance, epoch, msgs, .. } = &record.event
        else {
            return;
        };
        let mut notes: Vec<(&'static str, String)> = Vec::new();
        if let Some((preempted_at, by)) = self.fenced.get(&(lun.clone(), nexus.clone())) {
            notes.push((
                "fenced-writer",
                format!(
                    "{lun} applied a write (messages {msgs:?}, epoch {epoch}) from {nexus} at {}, after {by} \
                     preempted that nexus at {preempted_at}",
                    record.at
                ),
            ));
        }
        if let Some(held_by) = *holder_at_acceptance
            && *key != Some(held_by)
        {
            notes.push((
                "not-the-holder",
                format!(
                    "{lun} applied a write (messages {msgs:?}, epoch {epoch}) from {nexus} at {}, registered \
                     with key {}, accepted while key {held_by:#x} held the reservation",
                    record.at,
                    key.map_or_else(|| "none".to_string(), |key| format!("{key:#x}"))
                ),
            ));
        }
        let host = &nexus.host;
        // A witness ledger write names its database in its payload.
        let ledger_db = if db.is_none() { msgs.first().copied() } else { None };
        let first_writer = self.epoch_writer.entry((lun.clone(), ledger_db, *epoch)).or_insert(host.clone());
        if first_writer != host {
            notes.push((
                "two-writers-in-one-epoch",
                format!(
                    "{lun} applied a write (messages {msgs:?}) in epoch {epoch} from {nexus} at {}, but \
                     {first_writer} had already written in that epoch",
                    record.at
                ),
            ));
        }
        if let Some(db) = db
            && let Some(&highest) = self.highest_mounted.get(db)
            && *epoch < highest
        {
            notes.push((
                "stale-epoch",
                format!(
                    "{lun} applied a write (messages {msgs:?}) in stale epoch {epoch} from {nexus} at {}, after \
                     {db} was mounted in epoch {highest}",
                    record.at
                ),
            ));
        }
        for (rule, detail) in notes {
            let finding = self.findings.entry((lun.clone(), nexus.clone(), rule)).or_insert(Finding {
                first_at: record.at,
                first_detail: detail,
                writes: 0,
                lowest_epoch: *epoch,
                highest_epoch: *epoch,
            });
            finding.writes += 1;
            finding.lowest_epoch = finding.lowest_epoch.min(*epoch);
            finding.highest_epoch = finding.highest_epoch.max(*epoch);
        }
    }

    pub fn check(self, report: &mut CheckReport) {
        for ((lun, nexus, rule), finding) in self.findings {
            let epochs = if finding.lowest_epoch == finding.highest_epoch {
                format!("epoch {}", finding.lowest_epoch)
            } else {
                format!("epochs {} to {}", finding.lowest_epoch, finding.highest_epoch)
            };
            report.violations.push(Violation {
                check: ViolationKind::SplitBrain,
                subject: lun.to_string(),
                time_ms: finding.first_at.as_millis(),
                detail: format!(
                    "{} ({rule}: {} such write(s) from {nexus} to {lun} in total, {epochs})",
                    finding.first_detail, finding.writes
                ),
            });
        }
    }
}
