//! Votes, the file share witness lock, and self-fencing on quorum loss.
//!
//! A node counts itself, every peer whose paths work both ways, and the witness while its lease is
//! valid by the node's own clock. The witness lease is counted conservatively: from when *we sent*
//! the request (the witness granted it later) and minus the takeover margin, so clock drift cannot make
//! us count a lock the witness already considers expired. No quorum means every resource stops at once.
//! The disk witness (Node and Disk Majority) counts the same way; its vote is arbitrated in
//! disk_witness.rs.

use super::Node;
use crate::config::QuorumModel;
use crate::io::{CopyRole, Output, StopReason, Voter, WitnessAnswer, WitnessCall, WitnessOp};
use crate::io::{Effect, Note};
use crate::types::LocalTime;

#[derive(Clone, Debug, Default)]
pub struct WitnessState {
    /// Our conservative view of when the lock we hold expires.
    pub valid_until: Option<LocalTime>,
    /// A request in flight and when we sent it.
    pub pending: Option<(WitnessCall, LocalTime)>,
    /// The id of the next request (see `WitnessCall`).
    pub next_call: u64,
    /// Do not send another acquire before this (arbitration delay, retry pacing).
    pub next_attempt: LocalTime,
    /// When we started needing the witness without holding it (the arbitration delay runs from here).
    pub wanted_since: Option<LocalTime>,
    /// `Record` requests in flight, by database and epoch, and the coordinator each is for.
    pub recording:
        std::collections::BTreeMap<(crate::types::DbId, crate::types::Epoch), crate::types::NodeId>,
}

impl WitnessState {
    pub fn holds(&self, now: LocalTime) -> bool {
        self.valid_until.is_some_and(|until| until > now)
    }

    /// The next instant the witness state needs attention; `abandon_after` is how long an unanswered
    /// request waits before it is given up (the same bound `manage_witness` applies).
    pub fn next_deadline(&self, abandon_after: core::time::Duration) -> Option<LocalTime> {
        let attempt = Some(self.next_attempt);
        let expiry = self.valid_until;
        let pending = self.pending.map(|(_, sent)| sent + abandon_after);
        [attempt, expiry, pending].into_iter().flatten().min()
    }
}

impl Node {
    pub(super) fn evaluate_quorum(&mut self) {
        let total = self.config.total_votes();
        let mut votes = vec![Voter::Node(self.id)];
        votes.extend(self.counted_peers().into_iter().map(Voter::Node));
        let file_share_vote = self.config.uses_file_share_witness() && self.witness.holds(self.now);
        let disk_vote = self.config.uses_disk_witness() && self.disk_witness.holds(self.now);
        if file_share_vote || disk_vote {
            votes.push(Voter::Witness);
        }
        votes.sort_unstable();
        let quorate = match self.config.settings.quorum {
            QuorumModel::Disabled => true,
            QuorumModel::NodeMajority
            | QuorumModel::NodeAndFileShareMajority
            | QuorumModel::NodeAndDiskMajority => votes.len() as u32 * 2 > total,
        };
        let was_quorate = self.quorate;
        self.quorate = quorate;
        self.votes = votes;
        if was_quorate && !quorate {
            self.stop_everything(StopReason::QuorumLost);
        }
        // Quorum disabled means no claim is made at all: the node simply runs. The hazard suite shows
        // what that costs; the quorum checker has no claim to check.
        if self.config.settings.quorum != QuorumModel::Disabled {
            let claim = (quorate, if quorate { self.votes.clone() } else { Vec::new() });
            if self.quorum_announced.as_ref() != Some(&claim) {
                self.out.push(Output::Note(Note::QuorumChanged {
                    quorate,
                    votes: claim.1.clone(),
                    total_votes: total,
                }));
                self.quorum_announced = Some(claim);
            }
        }
    }

    /// Decides whether to acquire, renew or release the witness lock.
    pub(super) fn manage_witness(&mut self) {
        if !self.config.uses_file_share_witness() {
            return;
        }
        // A request whose answer never came (lost on the network) is abandoned after two intervals.
        if let Some((_, sent_at)) = self.witness.pending {
            if self.now < sent_at + self.config.settings.heartbeat_interval * 2 {
                return;
            }
            self.witness.pending = None;
        }
        let holds = self.witness.holds(self.now);
        let active_somewhere =
            self.dbs.values().any(|db| matches!(db.role, CopyRole::Active | CopyRole::Activating));
        let nodes_alone = (1 + self.counted_peers().len()) as u32 * 2 > self.config.total_votes();
        // The node serving databases keeps the lock so that a partition leaves it quorate; any node
        // that lacks a majority without the witness competes for it after the arbitration delay.
        let wants = active_somewhere || !nodes_alone;
        if holds {
            let renew_at = self.witness.valid_until.map_or(self.now, |until| {
                until
                    - (self.config.settings.witness_lease / 2)
                        .saturating_sub(self.config.settings.takeover_margin)
            });
            if !wants {
                self.request_witness(WitnessOp::Release);
            } else if self.now >= renew_at {
                self.request_witness(WitnessOp::Renew);
            }
            return;
        }
        if !wants {
            self.witness.wanted_since = None;
            return;
        }
        let since = *self.witness.wanted_since.get_or_insert(self.now);
        let delay = if active_somewhere {
            core::time::Duration::ZERO
        } else {
            self.config.settings.witness_arbitration_delay
        };
        if self.now >= since + delay && self.now >= self.witness.next_attempt {
            self.request_witness(WitnessOp::Acquire);
        } else {
            self.witness.next_attempt = self.witness.next_attempt.max(since + delay);
        }
    }

    fn request_witness(&mut self, op: WitnessOp) {
        // Once a release is on its way the witness may grant the lock to another node the moment it
        // arrives, so our vote ends when we send it, not when the answer comes back (nightly
        // `scc-nemesis` seed 513: a node counted the witness for 5 ms after releasing it).
        if op == WitnessOp::Release {
            self.witness.valid_until = None;
        }
        let call = self.witness_call(op);
        self.witness.pending = Some((call, self.now));
        self.out.push(Output::Effect(Effect::WitnessRequest(call)));
    }

    pub(super) fn witness_call(&mut self, op: WitnessOp) -> WitnessCall {
        self.witness.next_call += 1;
        WitnessCall { id: self.witness.next_call, op }
    }

    pub(super) fn witness_answer(&mut self, call: WitnessCall, answer: WitnessAnswer) {
        let op = call.op;
        if let WitnessOp::Record { db, epoch } = op {
            self.witness_recorded(db, epoch, answer == WitnessAnswer::Recorded { accepted: true });
            return;
        }
        // Only the answer to the request in flight counts: an older one (same operation, answered
        // while we were frozen or slow) says nothing about now (nightly `scc-nemesis` seed 451: a
        // stale grant matched a fresh acquire and the node counted a lock nobody held).
        let Some((pending, sent_at)) = self.witness.pending else { return };
        if pending != call {
            return;
        }
        self.witness.pending = None;
        match answer {
            WitnessAnswer::Granted { ref ledger, .. } if self.behind_witness(ledger) => {
                // The witness file knows an epoch we do not: we are from an earlier partition in time
                // and must not form a cluster with the witness alone. Give the lock back and wait for a
                // member that knows the newer epoch.
                self.witness.valid_until = None;
                self.witness.next_attempt = self.now + self.config.settings.heartbeat_interval;
                self.request_witness(WitnessOp::Release);
            }
            WitnessAnswer::Granted { lease, .. } => {
                // Count from when we asked, not when we heard back, and keep a margin for drift.
                self.witness.valid_until =
                    Some(sent_at + lease.saturating_sub(self.config.settings.takeover_margin));
                self.witness.wanted_since = None;
            }
            WitnessAnswer::Released => self.witness.valid_until = None,
            WitnessAnswer::Denied | WitnessAnswer::Unavailable | WitnessAnswer::Recorded { .. } => {
                if op != WitnessOp::Release {
                    self.witness.valid_until = None;
                }
                self.witness.next_attempt = self.now + self.config.settings.heartbeat_interval;
            }
        }
    }

    /// Self-fencing: stop every resource this node runs.
    pub(super) fn stop_everything(&mut self, reason: StopReason) {
        let dbs: Vec<_> = self.dbs.keys().copied().collect();
        for db in dbs {
            self.stop_db(db, reason);
        }
    }
}
