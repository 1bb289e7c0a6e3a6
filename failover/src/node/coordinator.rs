//! Ownership decisions. Only the coordinator of a quorate partition (its lowest node id) decides who
//! activates a database, and it decides at most once per epoch until the target has acknowledged the
//! new epoch in its heartbeats. A decision is only proposed here; it takes effect once a majority of
//! votes has accepted its epoch (`commit.rs`).
//!
//! Taking over from an owner that went silent waits until that owner can no longer be counting our
//! vote (our last "I hear you" plus its failure timeout, plus a margin for latency and drift) and
//! until no peer we count still hears the owner. A quorate owner cannot be on the other side then: it
//! would need our vote or the witness, and we hold quorum without it.

use super::Node;
use crate::config::FailoverPolicy;
use crate::io::{CopyRole, FailoverReason, MoveRefusal, Note, Output};
use crate::types::{DbId, Epoch, NodeId};

impl Node {
    fn coordinator(&self) -> NodeId {
        self.counted_peers().into_iter().chain([self.id]).min().unwrap_or(self.id)
    }

    /// The role a node's copy of `db` is in, from our own state or its latest heartbeat.
    pub(super) fn role_of(&self, node: NodeId, db: DbId) -> Option<CopyRole> {
        if node == self.id {
            return self.dbs.get(&db).map(|runtime| runtime.role);
        }
        self.detector.report(node)?.dbs.iter().find(|advert| advert.db == db).map(|advert| advert.role)
    }

    fn known_epoch(&self, node: NodeId, db: DbId) -> Epoch {
        if node == self.id {
            return self.disk.copies.get(&db).map_or(0, |copy| copy.owner_epoch);
        }
        self.detector
            .report(node)
            .and_then(|report| report.dbs.iter().find(|advert| advert.db == db))
            .map_or(0, |advert| advert.owner_epoch)
    }

    fn last_generation_of(&self, node: NodeId, db: DbId) -> u64 {
        if node == self.id {
            return self.disk.copies.get(&db).map_or(0, |copy| copy.last_generation());
        }
        self.detector
            .report(node)
            .and_then(|report| report.dbs.iter().find(|advert| advert.db == db))
            .map_or(0, |advert| advert.last_generation)
    }

    pub(super) fn coordinate(&mut self) {
        if self.coordinator() != self.id {
            return;
        }
        // A node that just booted has not heard its peers yet; deciding now would make every booting
        // node its own coordinator. Wait one failure timeout unless every peer is already counted.
        let everyone_counted = self.counted_peers().len() == self.peers.len();
        if !everyone_counted && self.now < self.booted_at + self.config.failure_timeout() {
            return;
        }
        let view: Vec<NodeId> = self.counted_peers().into_iter().chain([self.id]).collect();
        if !self.view_confirmed(&view) {
            return;
        }
        let dbs: Vec<DbId> = self.config.databases.iter().map(|db| db.id).collect();
        for db in dbs {
            if self.proposal_pending(db) {
                continue;
            }
            if self.decision_in_flight(db, &view) {
                continue;
            }
            let Some(copy) = self.disk.copies.get(&db) else { continue };
            let (epoch, owner) = (copy.owner_epoch, copy.owner);
            match owner {
                None => {
                    if let Some(target) = self.best_target(db, &view, None) {
                        self.propose(db, None, target, FailoverReason::Initial);
                    }
                }
                Some(owner) if view.contains(&owner) => match self.role_of(owner, db) {
                    Some(CopyRole::Failed) => {
                        if let Some(target) = self.best_target(db, &view, Some(owner)) {
                            self.propose(db, Some(owner), target, FailoverReason::ResourceFailed);
                        }
                    }
                    Some(CopyRole::Passive) if self.known_epoch(owner, db) >= epoch => {
                        // The owner is alive but not serving: it self-fenced and is back in quorum.
                        self.propose(db, Some(owner), owner, FailoverReason::Remount);
                    }
                    _ => {}
                },
                Some(owner) => {
                    if self.config.settings.failover == FailoverPolicy::Manual {
                        continue;
                    }
                    let safe_at =
                        self.detector.peer_stops_counting_us_by(owner) + self.config.settings.takeover_margin;
                    // A member that still hears the owner, or that the owner may still count (its vote
                    // borrowed across a one-way or slow link), could give the owner quorum.
                    let someone_hears_owner = self.counted_peers().iter().any(|&peer| {
                        self.detector.report(peer).is_some_and(|report| {
                            report.counts.contains(&owner) || report.lends_to.contains(&owner)
                        })
                    });
                    // On a one-way link our "I hear you" may never arrive, so the owner's silence alone
                    // never ends. Its own fresh heartbeats settle it instead: an owner reporting no
                    // quorum and no active copy has self-fenced, and cannot regain quorum without our
                    // vote or the witness we hold.
                    let owner_reports_stopped = self.detector.report(owner).is_some_and(|report| {
                        report
                            .received_at
                            .is_some_and(|at| self.now.since(at) < self.config.failure_timeout())
                            && !report.quorate
                            && report
                                .dbs
                                .iter()
                                .all(|advert| !matches!(advert.role, CopyRole::Active | CopyRole::Activating))
                    });
                    if (self.now < safe_at && !owner_reports_stopped) || someone_hears_owner {
                        continue;
                    }
                    if let Some(target) = self.best_target(db, &view, Some(owner)) {
                        self.propose(db, Some(owner), target, FailoverReason::OwnerDown);
                    }
                }
            }
        }
    }

    /// Views can overlap without being equal: a node that just booted counts a peer that does not count
    /// it yet, and that peer, alone with the witness, coordinates its own view. Two coordinators would
    /// then pick the same next epoch for different owners. So a coordinator decides only when every
    /// peer in its view counts it back, and no peer counts a lower-id node that we do not (that node
    /// may be coordinating a view we only partly see).
    fn view_confirmed(&self, view: &[NodeId]) -> bool {
        view.iter().filter(|&&peer| peer != self.id).all(|&peer| {
            self.detector.report(peer).is_some_and(|report| {
                report.counts.contains(&self.id)
                    && !report.counts.iter().any(|&other| other < self.id && !view.contains(&other))
            })
        })
    }

    /// Best copy selection: a healthy passive with the most logs, ties broken by activation preference.
    /// A shared-disk group has one copy, on the array: the most preferred healthy passive owner.
    fn best_target(&self, db: DbId, view: &[NodeId], excluding: Option<NodeId>) -> Option<NodeId> {
        let config = self.config.database(db)?;
        let shared_disk = config.is_shared_disk();
        let mut best: Option<(u64, usize, NodeId)> = None;
        for (preference, &node) in config.copies.iter().enumerate() {
            if Some(node) == excluding || !view.contains(&node) {
                continue;
            }
            if !matches!(self.role_of(node, db), Some(CopyRole::Passive)) {
                continue;
            }
            let generation = if shared_disk { 0 } else { self.last_generation_of(node, db) };
            let better = match best {
                None => true,
                Some((best_generation, best_preference, _)) => {
                    generation > best_generation
                        || (generation == best_generation && preference < best_preference)
                }
            };
            if better {
                best = Some((generation, preference, node));
            }
        }
        best.map(|(_, _, node)| node)
    }

    /// Whether a decision of ours for `db` is still unsettled: waiting for votes, or committed and not
    /// yet known to any member of `view` (until its deadline). A decision expired or acknowledged is
    /// forgotten here.
    fn decision_in_flight(&mut self, db: DbId, view: &[NodeId]) -> bool {
        if self.proposal_pending(db) {
            return true;
        }
        let Some(&(pending_epoch, until)) = self.pending_decisions.get(&db) else { return false };
        let acknowledged = view.iter().any(|&node| self.known_epoch(node, db) >= pending_epoch);
        if !acknowledged && self.now < until {
            return true;
        }
        self.pending_decisions.remove(&db);
        false
    }

    /// An operator switchover or, under manual failover, the command that brings a copy into service.
    /// Refused while an earlier decision for the database is unsettled, as WSFC refuses to move a group
    /// in a pending state: a second move to the same target would otherwise commit a newer epoch the
    /// target, already activating in the first, never mounts in, and its passive copies would wait for
    /// logs of an epoch nobody writes (nightly `ha-ccr-nemesis` seed 977).
    pub(super) fn operator_move(&mut self, db: DbId, to: NodeId) {
        if !self.quorate || self.coordinator() != self.id {
            return;
        }
        let view: Vec<NodeId> = self.counted_peers().into_iter().chain([self.id]).collect();
        let refuse = |node: &mut Self, reason: MoveRefusal| {
            node.out.push(Output::Note(Note::MoveRefused { db, to, reason }));
        };
        if self.decision_in_flight(db, &view) {
            return refuse(self, MoveRefusal::DecisionPending);
        }
        let Some(copy) = self.disk.copies.get(&db) else { return };
        let owner = copy.owner;
        if owner == Some(to) && matches!(self.role_of(to, db), Some(CopyRole::Active)) {
            return refuse(self, MoveRefusal::AlreadyThere);
        }
        if !view.contains(&to) || !matches!(self.role_of(to, db), Some(CopyRole::Passive)) {
            return refuse(self, MoveRefusal::TargetUnavailable);
        }
        // A scheduled move: the owner learns the new epoch from the target's heartbeats and stops; the
        // target waits for that, then pulls every remaining log, so a switchover is lossless.
        self.propose(db, owner, to, FailoverReason::Operator);
    }
}
