//! The disk witness (Node and Disk Majority): the witness vote is the persistent reservation on
//! `ClusterConfig::disk_witness`, arbitrated like a cluster disk ([`super::arbitration`]).
//!
//! Who tries when follows the file share witness (quorum.rs): a node serving databases tries at once,
//! any other node that lacks a majority without the witness after `witness_arbitration_delay`, and a
//! holder no longer needing the vote releases it. A reservation held by a node we count is left alone.
//!
//! Counting is conservative, from when we *sent* the read that showed our key: the vote is valid
//! until `send time + arbitration_delay - takeover_margin`. A challenger counts only after its own
//! `arbitration_delay` wait that began after its preempt reached the array, which is after every read
//! that still showed the old holder; so two partitions never count the vote at once, with
//! `takeover_margin` to spare for clock drift. The holder re-reads every `defense_interval` (shorter
//! than the validity) and defends while it still counts the vote.

use super::Node;
use super::arbitration::{ClaimEvent, ClaimFor, ClaimStep, Ctx, DiskClaim, Purpose};
use crate::config::DiskFencing;
use crate::io::{CopyRole, StorageOp, StorageResult};
use crate::types::{LocalTime, RequestId, node_of_key};

#[derive(Clone, Debug, Default)]
pub struct DiskWitnessState {
    /// Acquiring, holding or defending; `None` while we neither hold nor try.
    pub claim: Option<DiskClaim>,
    /// Our conservative view of until when the vote is ours.
    pub valid_until: Option<LocalTime>,
    /// We count the vote only from here: a reservation we took without preempting and waiting (it was
    /// free, say after an array reboot dropped it) may still be counted by its previous holder until
    /// that holder's validity runs out, which is at most an arbitration delay after it last saw it.
    pub counting_from: Option<LocalTime>,
    /// When we started needing the witness without holding it (the arbitration delay runs from here).
    pub wanted_since: Option<LocalTime>,
    /// Do not start another acquisition before this.
    pub next_attempt: LocalTime,
    /// The witness LUN has been presented to this host once; later acquisitions skip the connect.
    pub connected: bool,
}

impl DiskWitnessState {
    pub fn holds(&self, now: LocalTime) -> bool {
        self.valid_until.is_some_and(|until| until > now) && self.counting_from.is_none_or(|from| now >= from)
    }

    pub fn next_deadline(&self, now: LocalTime) -> Option<LocalTime> {
        let timer = self.claim.as_ref().and_then(DiskClaim::next_timer);
        let attempt = self.claim.is_none().then_some(self.next_attempt);
        // Once passed, `counting_from` is no deadline any more (a past value would hide the others).
        let counting_from = self.counting_from.filter(|&from| from > now);
        [timer, attempt, self.valid_until, counting_from].into_iter().flatten().min()
    }
}

impl Node {
    fn with_witness_claim<R>(&mut self, f: impl FnOnce(&mut DiskClaim, &mut Ctx<'_>) -> R) -> Option<R> {
        let config = self.config.clone();
        let claim = self.disk_witness.claim.as_mut()?;
        let mut ctx = Ctx::new(self.now, self.id, &config, &mut self.storage, &mut self.out);
        Some(f(claim, &mut ctx))
    }

    /// Decides whether to acquire, keep or release the disk witness, and runs the claim's timers.
    pub(super) fn manage_disk_witness(&mut self) {
        let Some(lun) = self.config.disk_witness else { return };
        // Without persistent reservations nothing can arbitrate the vote, so it is never counted.
        if !self.config.uses_disk_witness() || self.config.settings.disk_fencing == DiskFencing::Disabled {
            return;
        }
        let active_somewhere =
            self.dbs.values().any(|db| matches!(db.role, CopyRole::Active | CopyRole::Activating));
        let nodes_alone = (1 + self.counted_peers().len()) as u32 * 2 > self.config.total_votes();
        let wants = active_somewhere || !nodes_alone;
        if let Some(claim) = &self.disk_witness.claim {
            if claim.is_held() && !wants {
                // Stop counting before the release leaves, so we never count a vote we gave away.
                self.disk_witness.claim = None;
                self.disk_witness.valid_until = None;
                self.disk_witness.counting_from = None;
                let timeout = self.config.settings.storage_request_timeout;
                self.with_storage(|ctx| {
                    let key = ctx.key;
                    ctx.send(lun, None, StorageOp::Release { key }, Purpose::Release, Some(timeout))
                });
                return;
            }
            self.with_witness_claim(|claim, ctx| claim.on_time(ctx));
            return;
        }
        if !wants {
            self.disk_witness.wanted_since = None;
            return;
        }
        let since = *self.disk_witness.wanted_since.get_or_insert(self.now);
        let delay = if active_somewhere {
            core::time::Duration::ZERO
        } else {
            self.config.settings.witness_arbitration_delay
        };
        if self.now < since + delay || self.now < self.disk_witness.next_attempt {
            self.disk_witness.next_attempt = self.disk_witness.next_attempt.max(since + delay);
            return;
        }
        let connect = !self.disk_witness.connected;
        let claim = self.with_storage(|ctx| DiskClaim::start(ctx, lun, ClaimFor::Witness, connect));
        self.disk_witness.claim = Some(claim);
    }

    pub(super) fn disk_witness_answer(
        &mut self,
        request: RequestId,
        sent_at: LocalTime,
        result: &StorageResult,
    ) {
        let Some(event) =
            self.with_witness_claim(|claim, ctx| claim.on_answer(ctx, request, sent_at, result)).flatten()
        else {
            return;
        };
        // The witness claim starts afresh at every attempt (below, one defense interval later), so an
        // interrupted one simply ends as it always did.
        let event = match event {
            ClaimEvent::Interrupted { otherwise } => self
                .with_witness_claim(|claim, ctx| claim.give_up(ctx, otherwise))
                .unwrap_or(ClaimEvent::Lost),
            other => other,
        };
        let retry_at = self.now + self.config.settings.defense_interval;
        match event {
            ClaimEvent::Connected => self.disk_witness.connected = true,
            ClaimEvent::Won { sent_at } | ClaimEvent::Confirmed { sent_at } => {
                let waited = self.disk_witness.claim.as_ref().is_some_and(|claim| claim.waited);
                if matches!(event, ClaimEvent::Won { .. }) && !waited {
                    // Won without preempting and waiting (the reservation was free, say after an
                    // array reboot dropped it): a previous holder may count it for up to an
                    // arbitration delay after its last check, so we count it only after that.
                    self.disk_witness.counting_from = Some(self.now + self.config.settings.arbitration_delay);
                }
                let until = sent_at
                    + self
                        .config
                        .settings
                        .arbitration_delay
                        .saturating_sub(self.config.settings.takeover_margin);
                self.disk_witness.valid_until =
                    Some(self.disk_witness.valid_until.map_or(until, |v| v.max(until)));
                self.disk_witness.wanted_since = None;
            }
            ClaimEvent::Lost | ClaimEvent::Unreachable | ClaimEvent::Interrupted { .. } => {
                self.disk_witness.claim = None;
                self.disk_witness.next_attempt = retry_at;
            }
            ClaimEvent::HeldBy(holder) => {
                let holder_counted = node_of_key(&self.config.nodes, holder)
                    .is_some_and(|node| self.counted_peers().contains(&node));
                if holder_counted {
                    // A node we count holds it: our partition has the vote already.
                    self.disk_witness.claim = None;
                    self.disk_witness.next_attempt = retry_at;
                } else {
                    self.with_witness_claim(|claim, ctx| claim.challenge(ctx, holder));
                }
            }
            // Nobody holds it: reserving a free reservation is safe at any time.
            ClaimEvent::Vanished => {
                self.with_witness_claim(|claim, ctx| claim.reassert(ctx));
            }
            ClaimEvent::ReadyToDefend(challenger) => {
                if self.disk_witness.holds(self.now) {
                    self.with_witness_claim(|claim, ctx| claim.counter_preempt(ctx, challenger));
                } else {
                    // Our vote lapsed while we registered: the challenger may count it already.
                    self.disk_witness.claim = None;
                    self.disk_witness.valid_until = None;
                    self.disk_witness.next_attempt = self.now;
                }
            }
            ClaimEvent::TakenBy(challenger) => {
                if self.disk_witness.holds(self.now) {
                    self.with_witness_claim(|claim, ctx| claim.defend(ctx, challenger));
                } else {
                    // Our vote had lapsed before the challenge was seen: compete again from scratch.
                    self.disk_witness.claim = None;
                    self.disk_witness.valid_until = None;
                    self.disk_witness.next_attempt = self.now;
                }
            }
        }
        if self
            .disk_witness
            .claim
            .as_ref()
            .is_some_and(|claim| claim.step == ClaimStep::Checking && claim.waiting.is_empty())
        {
            self.with_witness_claim(|claim, ctx| claim.idle(ctx));
        }
    }
}
