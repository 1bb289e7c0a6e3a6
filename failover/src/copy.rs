//! A database copy on one node's disk: log generations, the replay position, and the ownership
//! record as this node last knew it. This is the part of a node that survives power loss.

use crate::message_set::MessageSet;
use crate::types::{Epoch, Generation, HubId, LocalTime, NodeId};
use std::collections::{BTreeMap, BTreeSet};

/// One closed (or, for the active copy, open) log generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFile {
    pub epoch: Epoch,
    /// The messages written into it (a store writes a message once, so a set loses nothing).
    pub messages: MessageSet,
    pub bytes: u64,
}

/// Persistent state of one database copy.
#[derive(Clone, Debug, Default)]
pub struct CopyStore {
    /// Closed generations present on this copy (written here, or copied and inspected).
    pub logs: BTreeMap<Generation, LogFile>,
    /// The active copy's open log (`E00.log`): committed but not yet shippable.
    pub current: Option<(Generation, LogFile)>,
    /// Every generation up to this one has been applied to the database file.
    pub replayed_through: Generation,
    /// Message ids the database holds; the store suppresses duplicates by id.
    pub db_messages: MessageSet,
    /// The cluster's ownership record as this node last knew it.
    pub owner_epoch: Epoch,
    pub owner: Option<NodeId>,
    /// The newest epoch this node has accepted for the database when a coordinator proposed it (see
    /// `Message::Propose`): a durable promise never to accept that epoch, or an older one, again.
    pub accepted_epoch: Epoch,
    /// Where each epoch began, as far as this copy knows: epoch `e` writes generations after `start`.
    pub epoch_starts: Vec<(Epoch, Generation)>,
    /// A lossy mount's request to the hubs, until every hub has acknowledged it.
    pub resubmission: Option<OwedResubmission>,
    /// The generation this copy closed by soft recovery at boot (the open log it found on disk),
    /// until this copy mounts or rolls back below it. What recovery closed is what the disk held,
    /// and a disk can hold less than the copy's owner once wrote into that generation: a VM reverted
    /// to a snapshot finds the open log of snapshot time, while its life after the snapshot went on
    /// writing that generation, closed it and shipped it. See `divergence_point`.
    pub recovered: Option<Generation>,
}

/// After a lossy mount, every hub must resubmit what it delivered since `since` (this node's clock):
/// the mail the missing logs held. The request is kept on disk and repeated until each hub has
/// acknowledged it, so neither a request lost on the network nor a later, lossless remount of the same
/// copy loses that mail.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OwedResubmission {
    pub since: LocalTime,
    pub acknowledged: BTreeSet<HubId>,
}

impl CopyStore {
    /// The highest closed generation on this copy.
    pub fn last_generation(&self) -> Generation {
        self.logs.keys().next_back().copied().unwrap_or(0)
    }

    /// Adopts a newer ownership record; returns whether it was newer.
    pub fn observe_owner(&mut self, epoch: Epoch, owner: Option<NodeId>) -> bool {
        if epoch > self.owner_epoch {
            self.owner_epoch = epoch;
            self.owner = owner;
            true
        } else {
            false
        }
    }

    /// The newest epoch this copy knows of, committed or promised: a coordinator proposes beyond it.
    pub fn newest_epoch(&self) -> Epoch {
        self.owner_epoch.max(self.accepted_epoch)
    }

    /// Accepts a proposed `epoch` if it is newer than every epoch this node has accepted or knows
    /// committed; returns whether it did.
    pub fn accept_epoch(&mut self, epoch: Epoch) -> bool {
        if epoch > self.newest_epoch() {
            self.accepted_epoch = epoch;
            true
        } else {
            false
        }
    }

    /// Records that `epoch` begins after `start` (kept sorted by epoch, one entry per epoch). An epoch
    /// begins once: a later mount in the same epoch (a local restart) continues it, so the earliest
    /// start is kept (nightly `ccr-nemesis` seed 69: a restart moved epoch 2's start from 6 to 14, and
    /// the next takeover rolled back generations 7 to 14 as if another epoch had abandoned them).
    pub fn record_epoch_start(&mut self, epoch: Epoch, start: Generation) {
        if let Some(entry) = self.epoch_starts.iter_mut().find(|(e, _)| *e == epoch) {
            entry.1 = entry.1.min(start);
        } else {
            self.epoch_starts.push((epoch, start));
            self.epoch_starts.sort_unstable();
        }
    }

    /// The generation after which `epoch` began, if this copy knows it.
    pub fn epoch_start(&self, epoch: Epoch) -> Option<Generation> {
        self.epoch_starts.iter().find(|(e, _)| *e == epoch).map(|(_, start)| *start)
    }

    /// The last generation this copy shares with `lineage` (the owner's epoch starts), or `None` if
    /// every generation on this copy is on that lineage. A generation `g` written in epoch `e` is on
    /// the lineage when the lineage's last epoch starting before `g` is `e` itself.
    ///
    /// A generation closed by recovery (`recovered`) also diverges, just before it, when a later
    /// epoch of the lineage started at or after it: the owner that began that epoch held the
    /// generation closed, in full, so ours may be a prefix of it (the same epoch and number, fewer
    /// messages). Epochs alone cannot tell the two apart; real ESE compares the log headers.
    pub fn divergence_point(&self, lineage: &[(Epoch, Generation)]) -> Option<Generation> {
        let covering = |generation: Generation| {
            lineage.iter().filter(|(_, start)| *start < generation).map(|(epoch, _)| *epoch).max()
        };
        let by_epoch = self
            .logs
            .iter()
            .map(|(&generation, log)| (generation, log.epoch))
            .chain(self.current.iter().map(|(generation, log)| (*generation, log.epoch)))
            .find(|&(generation, epoch)| covering(generation).is_some_and(|covering| covering != epoch))
            .map(|(generation, _)| generation - 1);
        let superseded = self.recovered.filter(|&generation| {
            self.logs.get(&generation).is_some_and(|log| {
                lineage.iter().any(|&(epoch, start)| epoch > log.epoch && start >= generation)
            })
        });
        match (by_epoch, superseded.map(|generation| generation - 1)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Discards every generation after `to`, and the messages they brought into the database.
    pub fn roll_back(&mut self, to: Generation) {
        let discarded = self.logs.split_off(&(to + 1));
        for log in discarded.values() {
            for msg in log.messages.iter() {
                self.db_messages.remove(msg);
            }
        }
        if let Some((_, log)) = self.current.take() {
            for msg in log.messages.iter() {
                self.db_messages.remove(msg);
            }
        }
        self.replayed_through = self.replayed_through.min(to);
        self.recovered = self.recovered.filter(|&generation| generation <= to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(epoch: Epoch, messages: &[crate::types::MessageId]) -> LogFile {
        LogFile { epoch, messages: messages.iter().copied().collect(), bytes: 1 }
    }

    fn copy_with(logs: &[(Generation, Epoch)]) -> CopyStore {
        let mut copy = CopyStore::default();
        for &(generation, epoch) in logs {
            copy.logs.insert(generation, log(epoch, &[generation * 10]));
            copy.db_messages.insert(generation * 10);
        }
        copy.replayed_through = copy.last_generation();
        copy
    }

    #[test]
    fn a_log_closed_by_recovery_diverges_when_a_later_epoch_started_after_it() {
        // A VM reverted to a snapshot: generation 3 was open at snapshot time and closed by recovery;
        // its earlier life went on to close 3..=5 in epoch 1, and epoch 2 started after 5.
        let mut copy = copy_with(&[(1, 1), (2, 1), (3, 1)]);
        copy.recovered = Some(3);
        assert_eq!(copy.divergence_point(&[(1, 0), (2, 5)]), Some(2));
        assert_eq!(copy.divergence_point(&[(1, 0), (2, 3)]), Some(2), "an epoch started right after it");
    }

    #[test]
    fn a_log_closed_by_recovery_stays_when_no_later_epoch_started_after_it() {
        let mut copy = copy_with(&[(1, 1), (2, 1), (3, 1)]);
        copy.recovered = Some(3);
        // Still the newest epoch: nobody holds a longer generation 3.
        assert_eq!(copy.divergence_point(&[(1, 0)]), None);
        // A later epoch that started before it: the ordinary divergence at the epoch's start.
        assert_eq!(copy.divergence_point(&[(1, 0), (2, 1)]), Some(1));
        copy.roll_back(2);
        assert_eq!(copy.recovered, None, "rolled back below it, the mark goes");
    }

    #[test]
    fn a_copy_on_the_owners_lineage_has_no_divergence_point() {
        let copy = copy_with(&[(1, 1), (2, 1), (3, 1)]);
        assert_eq!(copy.divergence_point(&[(1, 0), (2, 3)]), None);
    }

    #[test]
    fn a_former_active_diverges_after_the_generation_the_new_epoch_started_from() {
        // Epoch 1 wrote generations 1..=5 on the old active; the new owner mounted epoch 2 at 3.
        let copy = copy_with(&[(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)]);
        assert_eq!(copy.divergence_point(&[(1, 0), (2, 3)]), Some(3));
    }

    #[test]
    fn an_open_log_of_a_deposed_epoch_is_divergent_too() {
        let mut copy = copy_with(&[(1, 1), (2, 1)]);
        copy.current = Some((3, log(1, &[99])));
        assert_eq!(copy.divergence_point(&[(1, 0), (2, 2)]), Some(2));
    }

    #[test]
    fn a_remount_in_the_same_epoch_does_not_move_where_the_epoch_began() {
        let mut copy = copy_with(&[(1, 1), (2, 1), (3, 2), (4, 2)]);
        copy.record_epoch_start(2, 2);
        copy.record_epoch_start(2, 4);
        assert_eq!(copy.epoch_start(2), Some(2));
        assert_eq!(copy.divergence_point(&copy.epoch_starts.clone()), None);
    }

    #[test]
    fn rolling_back_removes_later_generations_and_their_messages() {
        let mut copy = copy_with(&[(1, 1), (2, 1), (3, 1)]);
        copy.current = Some((4, log(1, &[77])));
        copy.db_messages.insert(77);
        copy.roll_back(1);
        assert_eq!(copy.last_generation(), 1);
        assert!(copy.current.is_none());
        assert_eq!(copy.db_messages.iter().collect::<Vec<_>>(), vec![10]);
        assert_eq!(copy.replayed_through, 1);
    }

    #[test]
    fn only_a_newer_epoch_replaces_the_ownership_record() {
        let mut copy = CopyStore::default();
        assert!(copy.observe_owner(2, Some(NodeId(1))));
        assert!(!copy.observe_owner(1, Some(NodeId(0))));
        assert_eq!((copy.owner_epoch, copy.owner), (2, Some(NodeId(1))));
    }

    #[test]
    fn an_advert_of_the_epoch_already_known_is_not_newer_and_changes_nothing() {
        // Every heartbeat repeats the current epoch; only a newer one may depose an owner or clear a
        // failed copy's state (`observe_advert`).
        let mut copy = CopyStore::default();
        assert!(copy.observe_owner(2, Some(NodeId(1))));
        assert!(!copy.observe_owner(2, Some(NodeId(1))));
        assert!(!copy.observe_owner(2, Some(NodeId(0))));
        assert_eq!((copy.owner_epoch, copy.owner), (2, Some(NodeId(1))));
    }
}
