//! A shared-disk group's state on one node: the persistent-reservation claim of each of its disks,
//! the disks whose claim waits for our own earlier commands to drain, the writes of this ownership
//! term, and the data-path check schedule. Volatile: lost at power loss, and the claims are dropped
//! whenever the group stops here.
//!
//! It owns these rules: a message is written once per term (a hub's retry of a committed one is a
//! duplicate, a retry of one in flight waits for its answer); a refused write is remembered per LUN
//! until the reservation check that tells a preemption from an unregistered path answers; a disk is
//! claimed only once nothing we sent it earlier is still unanswered.

use super::arbitration::DiskClaim;
use crate::message_set::MessageSet;
use crate::types::{LocalTime, LunId, MessageId};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug)]
pub struct DiskGroup {
    /// The claim of each disk being brought online or held.
    claims: BTreeMap<LunId, DiskClaim>,
    /// Disks waiting to be claimed until our own earlier writes and PR commands to them are answered
    /// (see `StorageRequests::unanswered`).
    deferred: BTreeSet<LunId>,
    /// Messages written to the array in this ownership term.
    committed: MessageSet,
    /// Writes sent and not yet answered.
    writing: BTreeSet<MessageId>,
    /// LUNs where a write of ours was refused with RESERVATION CONFLICT and the check that tells a
    /// preemption from an unregistered path is still out.
    conflicts: BTreeSet<LunId>,
    /// When the active group next checks its data paths.
    next_data_check: LocalTime,
}

impl Default for DiskGroup {
    fn default() -> Self {
        DiskGroup {
            claims: BTreeMap::new(),
            deferred: BTreeSet::new(),
            committed: MessageSet::new(),
            writing: BTreeSet::new(),
            conflicts: BTreeSet::new(),
            next_data_check: LocalTime::NEVER,
        }
    }
}

/// What a hub's delivery leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteStart {
    /// Already committed in this term: acknowledge it again, write nothing.
    Duplicate,
    /// A retry of a write still in flight: its answer acknowledges it.
    InFlight,
    /// Write it.
    Write,
}

impl DiskGroup {
    pub fn claim_mut(&mut self, lun: LunId) -> Option<&mut DiskClaim> {
        self.claims.get_mut(&lun)
    }

    pub fn claim_started(&mut self, lun: LunId, claim: DiskClaim) {
        self.claims.insert(lun, claim);
    }

    /// The disk's claim waits until our earlier commands to it are answered.
    pub fn defer(&mut self, lun: LunId) {
        self.deferred.insert(lun);
    }

    /// The deferred disks that `still_unanswered` no longer holds back; they leave the deferred set.
    pub fn take_drained(&mut self, still_unanswered: impl Fn(LunId) -> bool) -> Vec<LunId> {
        let drained: Vec<LunId> =
            self.deferred.iter().copied().filter(|&lun| !still_unanswered(lun)).collect();
        for lun in &drained {
            self.deferred.remove(lun);
        }
        drained
    }

    pub fn claimed_luns(&self) -> Vec<LunId> {
        self.claims.keys().copied().collect()
    }

    pub fn has_claims(&self) -> bool {
        !self.claims.is_empty()
    }

    pub fn claims(&self) -> impl Iterator<Item = &DiskClaim> {
        self.claims.values()
    }

    /// The group stopped here: forget every claim, deferred disk and write in flight (late answers
    /// are ignored). What this term committed stays until a new term begins.
    pub fn drop_claims(&mut self) {
        self.claims.clear();
        self.deferred.clear();
        self.writing.clear();
    }

    /// A new ownership term: what the previous term wrote is not ours to vouch for.
    pub fn new_term(&mut self) {
        self.committed.clear();
    }

    /// The group mounted at `now`: its data paths are first checked one interval later.
    pub fn mounted(&mut self, now: LocalTime, check_interval: core::time::Duration) {
        self.next_data_check = now + check_interval;
    }

    /// Whether the data paths are due a check at `now`; if so, schedules the next one.
    pub fn data_check_due(&mut self, now: LocalTime, check_interval: core::time::Duration) -> bool {
        if now < self.next_data_check {
            return false;
        }
        self.next_data_check = now + check_interval;
        true
    }

    pub fn next_data_check(&self) -> LocalTime {
        self.next_data_check
    }

    pub fn start_write(&mut self, msg: MessageId) -> WriteStart {
        if self.committed.contains(msg) {
            WriteStart::Duplicate
        } else if self.writing.insert(msg) {
            WriteStart::Write
        } else {
            WriteStart::InFlight
        }
    }

    pub fn write_answered(&mut self, msg: MessageId) {
        self.writing.remove(&msg);
    }

    pub fn write_committed(&mut self, msg: MessageId) {
        self.committed.insert(msg);
    }

    pub fn write_refused(&mut self, lun: LunId) {
        self.conflicts.insert(lun);
    }

    /// Whether a write to `lun` was refused since the last reservation check; clears it.
    pub fn take_refusal(&mut self, lun: LunId) -> bool {
        self.conflicts.remove(&lun)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_written_once_per_term_and_a_retry_in_flight_waits_for_its_answer() {
        let mut group = DiskGroup::default();
        assert_eq!(group.start_write(7), WriteStart::Write);
        assert_eq!(group.start_write(7), WriteStart::InFlight);
        group.write_answered(7);
        group.write_committed(7);
        assert_eq!(group.start_write(7), WriteStart::Duplicate);
        group.new_term();
        assert_eq!(group.start_write(7), WriteStart::Write, "a new term vouches for nothing earlier");
    }

    #[test]
    fn stopping_forgets_writes_in_flight_but_not_what_the_term_committed() {
        let mut group = DiskGroup::default();
        group.start_write(1);
        group.write_committed(2);
        group.drop_claims();
        assert_eq!(group.start_write(1), WriteStart::Write);
        assert_eq!(group.start_write(2), WriteStart::Duplicate);
    }

    #[test]
    fn a_refusal_is_reported_once() {
        let mut group = DiskGroup::default();
        group.write_refused(LunId(3));
        assert!(group.take_refusal(LunId(3)));
        assert!(!group.take_refusal(LunId(3)));
    }

    #[test]
    fn only_drained_disks_leave_the_deferred_set() {
        let mut group = DiskGroup::default();
        group.defer(LunId(1));
        group.defer(LunId(2));
        assert_eq!(group.take_drained(|lun| lun == LunId(2)), vec![LunId(1)]);
        assert_eq!(group.take_drained(|_| false), vec![LunId(2)]);
        assert!(group.take_drained(|_| false).is_empty());
    }

    #[test]
    fn the_data_paths_are_checked_once_per_interval_after_the_mount() {
        let interval = core::time::Duration::from_secs(5);
        let mut group = DiskGroup::default();
        assert!(!group.data_check_due(LocalTime(u64::MAX - 1), interval), "never before a mount");
        group.mounted(LocalTime::ZERO, interval);
        let at = |secs: u64| LocalTime(secs * 1_000_000_000);
        assert!(!group.data_check_due(at(4), interval));
        assert!(group.data_check_due(at(5), interval));
        assert!(!group.data_check_due(at(9), interval));
        assert!(group.data_check_due(at(10), interval));
    }
}
