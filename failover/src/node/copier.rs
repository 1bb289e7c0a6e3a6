//! A copy's view of its source while it follows the owner: how far the owner has written, what this
//! copy asked for and when, the generations that failed inspection, the replay schedule and a full
//! reseed in progress. Volatile: a reboot starts from nothing and learns it again from the owner's
//! adverts.
//!
//! It owns this state so the rules about it live in one place: the owner's progress only grows (an
//! advert delayed in a queue never lowers it), a request is repeated only after `copy_timeout` without
//! an answer, and a generation that fails inspection `inspect_attempts` times makes the copy reseed
//! from scratch instead of asking forever.

use crate::types::{Epoch, Generation, LocalTime};
use std::collections::BTreeMap;

/// How many recent generations' close times a copy remembers: enough to reach back past a copy that
/// lags by a few batches, bounded so a long run does not grow it without end.
const CLOSED_HEARD_KEPT: usize = 64;

#[derive(Clone, Debug, Default)]
pub struct Copier {
    /// The owner's newest closed generation, as last heard.
    source_last_generation: Generation,
    /// The generation the owner is writing, as last heard (0 when it has none open).
    source_current_generation: Generation,
    /// When we heard that each recent generation was closed by its owner (a lossy mount's resubmission
    /// window starts there for the newest generation we hold, not when we happened to copy it).
    closed_heard_at: BTreeMap<Generation, LocalTime>,
    /// When a generation last arrived and was kept.
    last_copy_at: Option<LocalTime>,
    /// The owner epoch whose lineage we have checked, and when we last asked for it.
    lineage_checked_epoch: Epoch,
    lineage_requested_at: Option<LocalTime>,
    /// When we last asked for a batch of generations, while that request is open.
    copy_requested_at: Option<LocalTime>,
    /// How many times each generation arrived corrupt.
    inspect_failures: BTreeMap<Generation, u32>,
    /// When the next copied generation is replayed into the database, while any waits.
    next_replay_at: Option<LocalTime>,
    /// A full reseed in progress, until this time.
    reseed_until: Option<LocalTime>,
}

/// What one corrupt arrival leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inspection {
    /// Ask for it again.
    Retry,
    /// It failed `inspect_attempts` times: the copy is irrecoverable and reseeds from scratch.
    Reseed,
}

impl Copier {
    /// The owner advertised (or told us it closed) up to these generations.
    pub fn heard_progress(&mut self, last: Generation, current: Generation) {
        self.source_last_generation = self.source_last_generation.max(last);
        self.source_current_generation = self.source_current_generation.max(current);
    }

    /// The owner closed `generation` (heard at `now`); `continues` when it opened the next one.
    pub fn heard_closed(&mut self, generation: Generation, continues: bool, now: LocalTime) {
        self.closed_heard_at.entry(generation).or_insert(now);
        while self.closed_heard_at.len() > CLOSED_HEARD_KEPT {
            self.closed_heard_at.pop_first();
        }
        self.heard_progress(generation, if continues { generation + 1 } else { 0 });
    }

    /// The owner's newest closed generation, as last heard.
    pub fn source_last_generation(&self) -> Generation {
        self.source_last_generation
    }

    /// Generations the previous owner wrote that a copy holding up to `have` lacks. The previous
    /// owner's open log counts unless it was reachable (it closes and ships it when it stops).
    pub fn lost_logs(&self, have: Generation, previous_reachable: bool) -> u64 {
        let newest = self.source_last_generation.max(self.source_current_generation);
        if previous_reachable {
            self.source_last_generation.saturating_sub(have)
        } else {
            newest.saturating_sub(have)
        }
    }

    /// Where a lossy mount's resubmission window must start for a copy whose newest generation is
    /// `newest_held`: when that generation was closed, or when we last copied, whichever is earlier.
    pub fn newest_held_since(&self, newest_held: Generation) -> Option<LocalTime> {
        let closed_heard = self.closed_heard_at.get(&newest_held).copied();
        [closed_heard, self.last_copy_at].into_iter().flatten().min()
    }

    pub fn lineage_checked_through(&self, owner_epoch: Epoch) -> bool {
        self.lineage_checked_epoch >= owner_epoch
    }

    /// Whether to ask for the owner's lineage now (none asked, or the last request timed out); if so,
    /// records the request.
    pub fn ask_lineage(&mut self, now: LocalTime, timeout: core::time::Duration) -> bool {
        let due = self.lineage_requested_at.is_none_or(|at| now >= at + timeout);
        if due {
            self.lineage_requested_at = Some(now);
        }
        due
    }

    /// The owner answered with its lineage, through `newest_epoch`.
    pub fn lineage_answered(&mut self, newest_epoch: Epoch) {
        self.lineage_requested_at = None;
        self.lineage_checked_epoch = self.lineage_checked_epoch.max(newest_epoch);
    }

    /// A lineage answer arrived while this copy was not following (it is checked again later).
    pub fn lineage_request_closed(&mut self) {
        self.lineage_requested_at = None;
    }

    /// Whether a copy holding up to `have` should ask for more now: it is behind the owner and no
    /// request is open (or the open one timed out).
    pub fn copy_due(&self, have: Generation, now: LocalTime, timeout: core::time::Duration) -> bool {
        let behind = self.source_last_generation > have;
        behind && self.copy_requested_at.is_none_or(|at| now >= at + timeout)
    }

    pub fn copy_requested(&mut self, now: LocalTime) {
        self.copy_requested_at = Some(now);
    }

    pub fn copying(&self) -> bool {
        self.copy_requested_at.is_some()
    }

    /// `generation` arrived corrupt; after `attempts` failures the copy must reseed.
    pub fn arrived_corrupt(&mut self, generation: Generation, attempts: u32) -> Inspection {
        self.copy_requested_at = None;
        let failures = self.inspect_failures.entry(generation).or_insert(0);
        *failures += 1;
        if *failures >= attempts {
            self.inspect_failures.clear();
            return Inspection::Reseed;
        }
        Inspection::Retry
    }

    /// `generation` arrived intact at `now` and was kept, from a reply whose last generation is
    /// `reply_last`. Schedules its replay and closes the request once the reply is in or we caught up:
    /// the owner may have held fewer generations than asked for, and waiting for the rest until the
    /// timeout left the copy 10 logs behind when its owner died (`ha-ccr-nemesis` seed 1060).
    pub fn arrived(
        &mut self,
        generation: Generation,
        now: LocalTime,
        replay_after: LocalTime,
        reply_last: Generation,
    ) {
        self.inspect_failures.remove(&generation);
        self.last_copy_at = Some(now);
        self.source_last_generation = self.source_last_generation.max(generation);
        if self.next_replay_at.is_none() {
            self.next_replay_at = Some(replay_after);
        }
        if generation >= self.source_last_generation || generation >= reply_last {
            self.copy_requested_at = None;
        }
    }

    /// The replay due at or before `now`, if any.
    pub fn replay_due(&self, now: LocalTime) -> Option<LocalTime> {
        self.next_replay_at.filter(|&at| now >= at)
    }

    /// While a copied log waits to be replayed, a replay is scheduled (by `at` if none is).
    pub fn ensure_replay_scheduled(&mut self, log_waits: bool, at: LocalTime) {
        if log_waits && self.next_replay_at.is_none() {
            self.next_replay_at = Some(at);
        }
    }

    pub fn replay_next_at(&mut self, at: Option<LocalTime>) {
        self.next_replay_at = at;
    }

    pub fn start_reseed(&mut self, until: LocalTime) {
        self.reseed_until = Some(until);
    }

    pub fn reseeding(&self) -> bool {
        self.reseed_until.is_some()
    }

    /// Whether a reseed is still running at `now`; one that has finished is cleared.
    pub fn still_reseeding(&mut self, now: LocalTime) -> Option<bool> {
        let until = self.reseed_until?;
        if now < until {
            return Some(true);
        }
        self.reseed_until = None;
        Some(false)
    }

    /// The times this state wants to be woken at.
    pub fn deadlines(&self) -> [Option<LocalTime>; 2] {
        [self.next_replay_at, self.reseed_until]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn at(secs: u64) -> LocalTime {
        LocalTime(secs * 1_000_000_000)
    }

    #[test]
    fn the_owners_progress_never_goes_back_when_an_old_advert_arrives_late() {
        let mut copier = Copier::default();
        copier.heard_progress(10, 11);
        copier.heard_progress(7, 8);
        assert_eq!(copier.source_last_generation(), 10);
        assert_eq!(copier.lost_logs(9, false), 2, "the open generation 11 counts when the owner is gone");
        assert_eq!(copier.lost_logs(9, true), 1, "a reachable owner ships its open log");
    }

    #[test]
    fn a_copy_request_is_repeated_only_after_the_timeout_without_an_answer() {
        let mut copier = Copier::default();
        copier.heard_progress(5, 0);
        assert!(copier.copy_due(3, at(10), Duration::from_secs(5)));
        copier.copy_requested(at(10));
        assert!(!copier.copy_due(3, at(14), Duration::from_secs(5)));
        assert!(copier.copy_due(3, at(15), Duration::from_secs(5)));
        assert!(!copier.copy_due(5, at(15), Duration::from_secs(5)), "caught up: nothing to ask for");
    }

    #[test]
    fn a_generation_corrupt_as_often_as_allowed_makes_the_copy_reseed() {
        let mut copier = Copier::default();
        assert_eq!(copier.arrived_corrupt(4, 3), Inspection::Retry);
        assert_eq!(copier.arrived_corrupt(4, 3), Inspection::Retry);
        assert_eq!(copier.arrived_corrupt(4, 3), Inspection::Reseed);
        assert_eq!(copier.arrived_corrupt(4, 3), Inspection::Retry, "the count starts again after a reseed");
    }

    #[test]
    fn the_resubmission_window_starts_when_the_newest_held_generation_was_closed() {
        let mut copier = Copier::default();
        copier.heard_closed(7, true, at(312));
        copier.arrived(7, at(374), at(375), 7);
        assert_eq!(copier.newest_held_since(7), Some(at(312)), "closed long before it was copied");
        assert_eq!(copier.newest_held_since(6), Some(at(374)), "close time unknown: the copy time");
    }

    #[test]
    fn the_close_times_of_the_64_newest_generations_are_kept() {
        let mut copier = Copier::default();
        for generation in 1..=70 {
            copier.heard_closed(generation, true, at(generation));
        }
        assert_eq!(copier.closed_heard_at.len(), CLOSED_HEARD_KEPT);
        assert_eq!(copier.closed_heard_at.first_key_value(), Some((&7, &at(7))));
    }

    #[test]
    fn a_lineage_request_is_repeated_only_after_the_timeout_or_once_answered() {
        let timeout = Duration::from_secs(5);
        let mut copier = Copier::default();
        assert!(copier.ask_lineage(at(10), timeout), "nothing asked yet");
        assert!(!copier.ask_lineage(at(14), timeout), "the request is still out");
        assert!(copier.ask_lineage(at(15), timeout), "timed out: ask again");
        copier.lineage_request_closed();
        assert!(copier.ask_lineage(at(16), timeout), "answered: a new question may go at once");
        copier.lineage_answered(4);
        assert!(copier.lineage_checked_through(4) && !copier.lineage_checked_through(5));
        assert!(copier.ask_lineage(at(17), timeout), "an answer closes the request too");
    }

    #[test]
    fn a_copy_request_stays_open_until_its_reply_is_in_or_the_copy_caught_up() {
        let mut copier = Copier::default();
        copier.heard_progress(20, 0);
        assert!(!copier.copying());
        copier.copy_requested(at(1));
        copier.arrived(1, at(2), at(3), 8);
        assert!(copier.copying(), "seven more of the reply are coming");
        copier.arrived(8, at(2), at(3), 8);
        assert!(!copier.copying(), "the reply of eight is in");
        copier.copy_requested(at(4));
        copier.arrived(20, at(5), at(6), 24);
        assert!(!copier.copying(), "caught up with the owner mid-reply");
    }

    #[test]
    fn a_reply_shorter_than_the_batch_asked_for_closes_the_request_at_its_last_generation() {
        let mut copier = Copier::default();
        copier.heard_progress(2, 3);
        copier.copy_requested(at(31));
        copier.heard_progress(8, 9);
        copier.arrived(1, at(31), at(32), 2);
        assert!(copier.copying(), "generation 2 of the reply is coming");
        copier.arrived(2, at(31), at(32), 2);
        assert!(!copier.copying(), "the owner held two when asked: no more of this reply will come");
        assert!(copier.copy_due(2, at(31), Duration::from_secs(10)), "ask at once for 3 to 8");
    }

    #[test]
    fn a_finished_reseed_clears_itself() {
        let mut copier = Copier::default();
        assert_eq!(copier.still_reseeding(at(1)), None);
        copier.start_reseed(at(10));
        assert!(copier.reseeding());
        assert_eq!(copier.still_reseeding(at(9)), Some(true));
        assert!(copier.reseeding(), "still running at 9 s");
        assert_eq!(copier.still_reseeding(at(10)), Some(false));
        assert!(!copier.reseeding());
    }
}
