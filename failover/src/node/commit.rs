//! Ownership epochs committed by a majority before any copy activates in them.
//!
//! A coordinator that decides a new owner first proposes the epoch to every member it counts and, if
//! it or a member holds the witness, to the witness's file. Each voter accepts an epoch only if it is
//! newer than every epoch that voter has accepted or knows committed, and stores that durably (a node
//! on its disk, the file share witness in its file, which outlives the share's reboots). The decision
//! commits once a majority of all votes accepted it. Two majorities share a voter, and no voter
//! accepts one epoch twice, so two coordinators can never commit the same epoch for different owners,
//! however their views overlap or however stale one of them is.
//!
//! A node whose disk is older than the witness's file is from an earlier partition in time (it was
//! down while the cluster moved on): it does not count the witness at all (`quorum.rs`), so it cannot
//! form a cluster alone and bring back a stale copy. This is WSFC's paxos tag rule.
//!
//! The disk witness votes the same way: its reservation only says who may speak for it, and the holder
//! writes each epoch the witness accepts to an epoch ledger on the witness LUN (one block per
//! database, the newest accepted epoch), accepting each epoch once; the vote counts only once the array
//! acknowledged the write. A node that wins the reservation reads the ledger before it counts the vote,
//! and a node behind it does not count it (disk_witness.rs). Before the ledger, the reservation was the
//! vote: a node that won it after the cluster moved on voted the witness for an epoch it had already
//! voted for (nightly `scc-disk-witness` seeds 2275 and 2354, two coordinators committed epoch 4).
//!
//! What this does not do: a node behind a witness cannot learn the newer epoch from it (the file holds
//! only epochs, and so does the disk ledger, unlike WSFC's full database copy on a witness disk): it
//! waits for a member that knows it. With the unsafe `disk_fencing = "preempt-without-abort"`, a
//! preempted holder's queued ledger write may land after the next holder's read.

use super::Node;
use crate::io::{Effect, FailoverReason, Message, Note, Output, Voter, WitnessOp};
use crate::types::{DbId, Endpoint, Epoch, LocalTime, NodeId};
use std::collections::{BTreeMap, BTreeSet};

/// An ownership decision waiting for a majority.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    pub epoch: Epoch,
    pub from: Option<NodeId>,
    pub to: NodeId,
    pub reason: FailoverReason,
    pub accepted_by: BTreeSet<Voter>,
    /// Given up (and decided afresh) if no majority has accepted by then.
    pub deadline: LocalTime,
}

/// The coordinator's proposals in flight, one per database at most.
#[derive(Clone, Debug, Default)]
pub struct Proposals {
    pub pending: BTreeMap<DbId, Proposal>,
}

impl Proposals {
    pub fn next_deadline(&self) -> Option<LocalTime> {
        self.pending.values().map(|proposal| proposal.deadline).min()
    }
}

impl Node {
    /// Whether `db` has a decision of ours waiting for votes (the coordinator decides nothing else for
    /// it meanwhile). An expired proposal is dropped here.
    pub(super) fn proposal_pending(&mut self, db: DbId) -> bool {
        match self.proposals.pending.get(&db) {
            Some(proposal) if self.now < proposal.deadline => true,
            Some(_) => {
                self.proposals.pending.remove(&db);
                false
            }
            None => false,
        }
    }

    /// Starts deciding that `to` owns `db` in the next epoch: proposes it to every voter we can reach.
    pub(super) fn propose(&mut self, db: DbId, from: Option<NodeId>, to: NodeId, reason: FailoverReason) {
        let Some(copy) = self.disk.copies.get_mut(&db) else { return };
        let epoch = copy.newest_epoch() + 1;
        copy.accept_epoch(epoch);
        let accepted_by = BTreeSet::from([Voter::Node(self.id)]);
        let deadline = self.now + self.config.failure_timeout();
        self.proposals.pending.insert(db, Proposal { epoch, from, to, reason, accepted_by, deadline });
        if self.config.uses_file_share_witness() && self.witness.holds(self.now) {
            self.record_at_witness(db, epoch, self.id);
        }
        // The disk witness votes by writing the epoch to its ledger (disk_witness.rs).
        self.record_at_disk_witness(db, epoch, self.id);
        for peer in self.counted_peers() {
            self.send(Endpoint::Node(peer), Message::Propose { db, epoch, owner: to });
        }
        self.commit_if_accepted(db);
    }

    /// A member's side: accept the epoch if it is newer than anything we accepted or know, and have
    /// the witness (file share or disk) record it too if we hold it.
    pub(super) fn proposed(&mut self, coordinator: NodeId, db: DbId, epoch: Epoch) {
        let Some(copy) = self.disk.copies.get_mut(&db) else { return };
        let accepted = copy.accept_epoch(epoch);
        let newest = copy.newest_epoch();
        let voter = Voter::Node(self.id);
        let reply = Message::ProposeReply { db, epoch, voter, accepted, newest };
        self.send(Endpoint::Node(coordinator), reply);
        if !accepted {
            return;
        }
        if self.config.uses_file_share_witness() && self.witness.holds(self.now) {
            self.record_at_witness(db, epoch, coordinator);
        }
        self.record_at_disk_witness(db, epoch, coordinator);
    }

    fn record_at_witness(&mut self, db: DbId, epoch: Epoch, coordinator: NodeId) {
        self.witness.recording.insert((db, epoch), coordinator);
        let call = self.witness_call(WitnessOp::Record { db, epoch });
        self.out.push(Output::Effect(Effect::WitnessRequest(call)));
    }

    /// The witness answered a `Record` we sent for `coordinator` (perhaps ourselves). Only a record
    /// written is a vote; a refusal (the lock was lost, or the file already holds the epoch) is simply
    /// not counted, and the proposal waits for the nodes' votes or its deadline.
    pub(super) fn witness_recorded(&mut self, db: DbId, epoch: Epoch, accepted: bool) {
        let Some(coordinator) = self.witness.recording.remove(&(db, epoch)) else { return };
        if !accepted {
            return;
        }
        if coordinator == self.id {
            self.vote_received(db, epoch, Voter::Witness, true, epoch);
        } else {
            let reply = Message::ProposeReply { db, epoch, voter: Voter::Witness, accepted, newest: epoch };
            self.send(Endpoint::Node(coordinator), reply);
        }
    }

    /// A voter answered one of our proposals.
    pub(super) fn vote_received(
        &mut self,
        db: DbId,
        epoch: Epoch,
        voter: Voter,
        accepted: bool,
        newest: Epoch,
    ) {
        let Some(proposal) = self.proposals.pending.get_mut(&db).filter(|p| p.epoch == epoch) else {
            return;
        };
        if accepted {
            proposal.accepted_by.insert(voter);
            self.commit_if_accepted(db);
            return;
        }
        // Someone else proposed this epoch (or a newer one): give up, and propose beyond it next time.
        self.proposals.pending.remove(&db);
        if let Some(copy) = self.disk.copies.get_mut(&db) {
            copy.accepted_epoch = copy.accepted_epoch.max(newest);
        }
    }

    fn commit_if_accepted(&mut self, db: DbId) {
        let Some(proposal) = self.proposals.pending.get(&db) else { return };
        let majority = proposal.accepted_by.len() as u32 * 2 > self.config.total_votes();
        if !majority && self.config.settings.quorum != crate::config::QuorumModel::Disabled {
            return;
        }
        let Some(proposal) = self.proposals.pending.remove(&db) else { return };
        self.decide(db, proposal.from, proposal.to, proposal.epoch, proposal.reason);
    }

    /// The decision is committed: record it and tell the new owner.
    fn decide(&mut self, db: DbId, from: Option<NodeId>, to: NodeId, epoch: Epoch, reason: FailoverReason) {
        self.out.push(Output::Note(Note::FailoverDecided { db, from, to, epoch, reason }));
        self.pending_decisions.insert(db, (epoch, self.now + self.config.failure_timeout() * 2));
        if to == self.id {
            self.activate(db, epoch, from);
        } else {
            self.send(Endpoint::Node(to), Message::Activate { db, epoch, previous_owner: from });
        }
    }

    /// Whether the witness file, as a grant just showed it, knows an epoch we do not: we were down or
    /// cut off while the cluster moved on.
    pub(super) fn behind_witness(&self, ledger: &[(DbId, Epoch)]) -> bool {
        ledger.iter().any(|&(db, epoch)| self.disk.copies.get(&db).is_some_and(|c| epoch > c.newest_epoch()))
    }
}

#[cfg(test)]
mod tests {
    use crate::copy::CopyStore;

    #[test]
    fn a_voter_accepts_each_epoch_once_and_never_an_older_one() {
        let mut copy = CopyStore::default();
        assert!(copy.accept_epoch(2));
        assert!(!copy.accept_epoch(2), "a second coordinator proposing epoch 2 must be refused");
        assert!(!copy.accept_epoch(1));
        assert!(copy.accept_epoch(3));
        assert_eq!(copy.newest_epoch(), 3);
    }

    #[test]
    fn a_committed_epoch_we_learned_of_is_never_accepted_again() {
        let mut copy = CopyStore::default();
        copy.observe_owner(4, Some(crate::types::NodeId(1)));
        assert!(!copy.accept_epoch(4));
        assert!(copy.accept_epoch(5));
    }
}
