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
//!
//! ## The epoch ledger
//!
//! A reservation alone remembers nothing: whoever holds it next would vote for any epoch again, so a
//! node that was down while the cluster moved on could win the reservation and commit, alone with the
//! witness, an epoch the witness had already voted for (nightly `scc-disk-witness` seeds 2275 and
//! 2354: both nodes committed epoch 4, each with the witness). WSFC keeps the cluster database, and its
//! paxos tag, on the witness disk for this reason. Here the witness LUN holds an epoch ledger: block
//! `db` (one per database, see [`ledger_block`]) holds the newest epoch the witness accepted for that
//! database, written by the reservation holder.
//!
//! - *Reading.* Once a claim counts the vote (won, and past `counting_from`), the holder reads every
//!   database's block before the vote counts for anything, quorum included. A previous holder's
//!   acknowledged ledger write landed before that read: a preempted holder's later writes are refused
//!   by the array (PREEMPT AND ABORT also drops its queued ones), and a holder counts its own write
//!   only if the acknowledgement came while its vote was valid, which ends before the next holder's
//!   `counting_from` (a free reservation) or preempt (a taken one). A write we gave up on may still
//!   sit in the host's queue (a dead path with `no_path_retry = queue`), so a holder with ledger
//!   writes the driver has not answered keeps (and defends) the reservation instead of releasing it,
//!   and starts no new claim: such a write lands while the reservation is ours, or is refused once a
//!   challenger preempted us (nightly `scc-disk-witness` seed 1672 without this: a write queued
//!   behind a dead path landed 30 s after the release, under the next holder's reservation). For the
//!   same reason a holder sends one ledger write at a time: two in flight could land out of order
//!   and lower the ledger.
//! - *Partition in time.* If the ledger knows an epoch newer than our disk does, we were down or cut
//!   off while the cluster moved on: we release the witness and do not count it, exactly as for a file
//!   share witness whose file is ahead of us (`Node::behind_witness`). WSFC would let a node sync its
//!   database from a disk witness (the disk holds a full copy; a file share only the tag); this
//!   ledger holds epochs, not the copies' data or who serves, so a node behind it waits for a member
//!   that knows the newer epoch, as it would behind a file share witness.
//! - *Voting.* The witness's vote for a proposal (ours, or a coordinator's while we hold the witness
//!   as a member) is a write of the epoch to the ledger, sent only if the ledger holds no equal or
//!   newer epoch (accept once), and counted only when the array acknowledged it while we still held
//!   the vote (`Node::record_at_disk_witness`, `Node::ledger_answer`). Like the file share witness's
//!   `Record`, the vote is asynchronous: a proposal commits one storage round trip later.

use super::Node;
use super::arbitration::{ClaimEvent, ClaimFor, ClaimStep, Ctx, DiskClaim, LedgerOp, Purpose};
use crate::config::DiskFencing;
use crate::io::{ArbitrationStep, CopyRole, Message, Note, Output, StorageOp, StorageResult, Voter};
use crate::types::{DbId, Endpoint, Epoch, LocalTime, NodeId, RequestId, node_of_key};
use std::collections::BTreeMap;

/// The witness LUN's block holding `db`'s newest accepted epoch.
pub fn ledger_block(db: DbId) -> u64 {
    u64::from(db.0)
}

/// What we know of the witness's epoch ledger in the current claim.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Ledger {
    /// Not read in this claim: the vote does not count yet.
    #[default]
    Unread,
    /// Reads in flight; what the answered ones showed (a block never written is epoch 0).
    Reading(BTreeMap<DbId, Option<Epoch>>),
    /// Read in full (and kept up to date by our own writes): the newest epoch per database.
    Known(BTreeMap<DbId, Epoch>),
}

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
    /// The epoch ledger on the witness LUN as this claim knows it.
    pub ledger: Ledger,
    /// Counts the claims started; a ledger answer from an earlier claim is ignored.
    pub claim_no: u64,
}

impl DiskWitnessState {
    /// Whether the vote counts: the reservation is ours (conservatively), and we have read the ledger
    /// and are not behind it.
    pub fn holds(&self, now: LocalTime) -> bool {
        self.reservation_counts(now) && matches!(self.ledger, Ledger::Known(_))
    }

    /// Whether the reservation is ours by the arbitration rules alone (the ledger not yet considered).
    fn reservation_counts(&self, now: LocalTime) -> bool {
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
            // Our ledger writes still unanswered may sit in the host's queue and land late: we keep the
            // reservation (and defend it) until the driver has answered them, so they land while it
            // is ours, or are refused after a challenger preempted us.
            if claim.is_held() && !wants && !self.witness_writes_unanswered(lun) {
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
            self.read_ledger_when_due(lun);
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
        if self.witness_writes_unanswered(lun) {
            // As for a cluster disk: registering again could let our earlier writes land under the
            // new registration while another node holds the witness.
            return;
        }
        let connect = !self.disk_witness.connected;
        self.disk_witness.ledger = Ledger::Unread;
        self.disk_witness.claim_no += 1;
        let claim = self.with_storage(|ctx| DiskClaim::start(ctx, lun, ClaimFor::Witness, connect));
        self.disk_witness.claim = Some(claim);
    }

    /// Whether writes we sent to the witness LUN (ledger entries) have not been answered by the driver.
    fn witness_writes_unanswered(&self, lun: crate::types::LunId) -> bool {
        self.storage.unanswered.get(&lun).is_some_and(|writes| !writes.is_empty())
    }

    /// Once the reservation counts, reads the ledger (every database's block) before the vote does.
    fn read_ledger_when_due(&mut self, lun: crate::types::LunId) {
        if self.disk_witness.ledger != Ledger::Unread || !self.disk_witness.reservation_counts(self.now) {
            return;
        }
        let dbs: Vec<DbId> = self.config.databases.iter().map(|db| db.id).collect();
        let claim = self.disk_witness.claim_no;
        self.disk_witness.ledger = Ledger::Reading(dbs.iter().map(|&db| (db, None)).collect());
        if dbs.is_empty() {
            self.ledger_read_complete();
            return;
        }
        let timeout = self.config.settings.storage_request_timeout;
        self.with_storage(|ctx| {
            for db in dbs {
                let op = StorageOp::Read { block: ledger_block(db) };
                ctx.send(lun, None, op, Purpose::Ledger(LedgerOp::Read { db, claim }), Some(timeout));
            }
        });
    }

    /// Every block is read: count the vote from now on, unless the ledger shows we are behind.
    fn ledger_read_complete(&mut self) {
        let Ledger::Reading(seen) = &self.disk_witness.ledger else { return };
        let known: BTreeMap<DbId, Epoch> =
            seen.iter().map(|(&db, &epoch)| (db, epoch.unwrap_or(0))).collect();
        let behind = known.iter().find_map(|(db, &ledger_epoch)| {
            let known_epoch = self.disk.copies.get(db)?.newest_epoch();
            (ledger_epoch > known_epoch).then_some((ledger_epoch, known_epoch))
        });
        if let Some((ledger_epoch, known_epoch)) = behind {
            if let Some(lun) = self.config.disk_witness {
                let step = ArbitrationStep::BehindLedger { ledger_epoch, known_epoch };
                self.out.push(Output::Note(Note::DiskArbitration { db: None, lun, step }));
            }
            // An earlier partition in time: the witness voted for an epoch we never heard of. We must
            // not form a cluster with it alone; give it back and wait for a member that knows more.
            self.drop_disk_witness(true);
            return;
        }
        self.disk_witness.ledger = Ledger::Known(known);
    }

    /// Stops counting the witness and drops the claim (releasing the reservation if `release`); the
    /// next attempt is one defense interval away.
    fn drop_disk_witness(&mut self, release: bool) {
        self.disk_witness.claim = None;
        self.disk_witness.valid_until = None;
        self.disk_witness.counting_from = None;
        self.disk_witness.ledger = Ledger::Unread;
        self.disk_witness.next_attempt = self.now + self.config.settings.defense_interval;
        let Some(lun) = self.config.disk_witness else { return };
        // Never release with our writes unanswered (see `manage_disk_witness`): the node that takes
        // it from us then preempts us, which fences them.
        if release && !self.witness_writes_unanswered(lun) {
            let timeout = self.config.settings.storage_request_timeout;
            self.with_storage(|ctx| {
                let key = ctx.key;
                ctx.send(lun, None, StorageOp::Release { key }, Purpose::Release, Some(timeout))
            });
        }
    }

    /// The witness's vote for `coordinator`'s proposal of `epoch` (perhaps ours): written to the
    /// ledger if we hold the witness and the ledger holds no equal or newer epoch. It counts once the
    /// array acknowledges the write ([`Node::ledger_answer`]).
    pub(super) fn record_at_disk_witness(&mut self, db: DbId, epoch: Epoch, coordinator: NodeId) {
        let Some(lun) = self.config.disk_witness else { return };
        if !self.config.uses_disk_witness() || !self.disk_witness.holds(self.now) {
            return;
        }
        // One ledger write at a time: two in flight could land out of order, and an older epoch
        // landing last would lower the ledger (a later holder would then vote for an epoch again).
        // The proposal waits for the nodes' votes or its deadline instead.
        if self.witness_writes_unanswered(lun) {
            return;
        }
        let Ledger::Known(ledger) = &mut self.disk_witness.ledger else { return };
        if ledger.get(&db).is_some_and(|&newest| newest >= epoch) {
            return;
        }
        // From the moment it is sent: a write that fails may still have landed.
        ledger.insert(db, epoch);
        let claim = self.disk_witness.claim_no;
        let timeout = self.config.settings.storage_request_timeout;
        let op = StorageOp::Write { block: ledger_block(db), payload: u64::from(db.0), epoch };
        let purpose = Purpose::Ledger(LedgerOp::Write { db, epoch, coordinator, claim });
        self.with_storage(|ctx| ctx.send(lun, None, op, purpose, Some(timeout)));
    }

    /// The array answered a ledger read or write.
    pub(super) fn ledger_answer(&mut self, op: LedgerOp, result: &StorageResult) {
        match op {
            LedgerOp::Read { db, claim } => {
                if claim != self.disk_witness.claim_no {
                    return;
                }
                let Ledger::Reading(seen) = &mut self.disk_witness.ledger else { return };
                let StorageResult::Data { payload } = result else {
                    // Unread, the ledger proves nothing: stop counting and try again later (the
                    // reservation is still ours, so the next attempt reads it back and reads again).
                    self.drop_disk_witness(false);
                    return;
                };
                seen.insert(db, Some(payload.map_or(0, |(_, epoch)| epoch)));
                if seen.values().all(Option::is_some) {
                    self.ledger_read_complete();
                }
            }
            LedgerOp::Write { db, epoch, coordinator, claim } => {
                // Only a write acknowledged while the vote is still ours is a vote: a later holder's
                // ledger read, after our vote ended, then surely shows it.
                let counted = claim == self.disk_witness.claim_no && self.disk_witness.holds(self.now);
                if *result != StorageResult::Done || !counted {
                    return;
                }
                if coordinator == self.id {
                    self.vote_received(db, epoch, Voter::Witness, true, epoch);
                } else {
                    let reply = Message::ProposeReply {
                        db,
                        epoch,
                        voter: Voter::Witness,
                        accepted: true,
                        newest: epoch,
                    };
                    self.send(Endpoint::Node(coordinator), reply);
                }
            }
        }
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
