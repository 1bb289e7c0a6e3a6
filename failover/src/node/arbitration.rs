//! SCSI-3 persistent-reservation arbitration for one LUN (domain.md 2.1 fence_scsi, 2.3 WS2008
//! challenge/defense), shared by a group's cluster disks and the disk witness.
//!
//! Acquire: register our key on every path (registrations are per I_T nexus, so a path we skipped
//! could not write), read the reservation; free or ours: reserve type 5 and read it back; held by
//! another key: PREEMPT (AND ABORT) it, wait the arbitration delay, and read it back: a live owner has
//! restored its own key by then and we lose. Held: re-read every defense interval; the owner of the
//! claim decides whether to reassert a vanished reservation or defend against a challenger.
//!
//! Every storage request is tracked in [`StorageRequests`] with a deadline; an unanswered one is
//! answered `Failed(TimedOut)` by the node itself, so a dead array never leaves a claim waiting.
//!
//! An acquisition the array stops answering (a timeout, no path, not ready, a unit attention, or our
//! fresh reservation read back gone: what an array reboot does in the middle of it) has not been
//! decided by anyone: it is [`ClaimEvent::Interrupted`], not lost. The claim's owner either gives it up
//! as before (another node may have working paths) or, when nobody else can take the disk, calls
//! [`DiskClaim::retry_later`]: the arbitration starts again from registering after a delay that doubles
//! from `defense_interval` up to `storage_request_timeout`, for as long as it takes the array to
//! answer: a returning array waits at most one request timeout more for its owner.

use crate::config::{ClusterConfig, DiskFencing};
use crate::io::{ArbitrationStep, Output, StorageFailure, StorageOp, StorageResult};
use crate::io::{Effect, Note};
use crate::types::{DbId, HubId, LocalTime, LunId, MessageId, RequestId, ReservationKey, StoragePath};
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

/// Who a claim (and its requests) belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClaimFor {
    Group(DbId),
    Witness,
}

impl ClaimFor {
    fn db(self) -> Option<DbId> {
        match self {
            ClaimFor::Group(db) => Some(db),
            ClaimFor::Witness => None,
        }
    }
}

/// What a storage request is for, so its answer reaches the right state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Claim(ClaimFor),
    Write {
        hub: HubId,
        db: DbId,
        msg: MessageId,
    },
    DataCheck {
        db: DbId,
    },
    /// A release whose answer does not matter: we stopped counting before sending it.
    Release,
    /// The disk witness's epoch ledger ([`super::disk_witness`]).
    Ledger(LedgerOp),
}

/// A read or write of one database's block of the disk witness's epoch ledger, within one claim of
/// the witness (`claim`: answers from an earlier claim are ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerOp {
    Read {
        db: DbId,
        claim: u64,
    },
    /// Writing `epoch` as `db`'s newest accepted epoch, as the witness's vote for `coordinator`'s
    /// proposal.
    Write {
        db: DbId,
        epoch: crate::types::Epoch,
        coordinator: crate::types::NodeId,
        claim: u64,
    },
}

#[derive(Clone, Copy, Debug)]
pub struct StorageRequest {
    pub lun: LunId,
    pub purpose: Purpose,
    pub sent_at: LocalTime,
    pub deadline: LocalTime,
}

/// Outstanding storage requests of this node incarnation.
#[derive(Clone, Debug)]
pub struct StorageRequests {
    pub next_id: RequestId,
    pub pending: BTreeMap<RequestId, StorageRequest>,
    /// Commands that change what a LUN holds or who may write it (writes and PR OUT), per LUN, that
    /// the driver has not answered yet, whatever our own deadlines decided. One we gave up on may
    /// still sit in the host's multipath queue or be retried on another path: a write would land with
    /// its old epoch, a REGISTER would re-register us behind another owner's reservation. So no disk
    /// is claimed until its list is empty (fence_scsi's "a manual reboot is required", and a reboot
    /// empties it too).
    pub unanswered: BTreeMap<LunId, BTreeSet<RequestId>>,
}

impl Default for StorageRequests {
    fn default() -> Self {
        StorageRequests { next_id: 1, pending: BTreeMap::new(), unanswered: BTreeMap::new() }
    }
}

impl StorageRequests {
    pub fn next_deadline(&self) -> Option<LocalTime> {
        self.pending.values().map(|request| request.deadline).min()
    }
}

/// What a claim needs from its node to send commands and record what it did.
pub struct Ctx<'a> {
    pub now: LocalTime,
    pub config: &'a ClusterConfig,
    pub key: ReservationKey,
    pub requests: &'a mut StorageRequests,
    pub out: &'a mut Vec<Output>,
}

impl<'a> Ctx<'a> {
    /// The context of node `node` (its PR key) at `now`.
    pub fn new(
        now: LocalTime,
        node: crate::types::NodeId,
        config: &'a ClusterConfig,
        requests: &'a mut StorageRequests,
        out: &'a mut Vec<Output>,
    ) -> Ctx<'a> {
        Ctx { now, config, key: crate::types::reservation_key(node), requests, out }
    }

    /// Sends one command; `timeout: None` waits for the driver's answer however long it takes.
    pub fn send(
        &mut self,
        lun: LunId,
        path: Option<StoragePath>,
        op: StorageOp,
        purpose: Purpose,
        timeout: Option<Duration>,
    ) -> RequestId {
        let request = self.requests.next_id;
        self.requests.next_id += 1;
        let deadline = timeout.map_or(LocalTime::NEVER, |timeout| self.now + timeout);
        self.requests.pending.insert(request, StorageRequest { lun, purpose, sent_at: self.now, deadline });
        let changes_the_lun = !matches!(
            op,
            StorageOp::Connect | StorageOp::Read { .. } | StorageOp::ReadKeys | StorageOp::ReadReservation
        );
        if changes_the_lun {
            self.requests.unanswered.entry(lun).or_default().insert(request);
        }
        self.out.push(Output::Effect(Effect::Storage { request, lun, path, op }));
        request
    }

    fn abort_on_preempt(&self) -> bool {
        // PreemptWithoutAbort is the unsafe setting: the victim's queued writes survive the preempt.
        self.config.settings.disk_fencing != DiskFencing::PreemptWithoutAbort
    }
}

/// Why the claim is talking to the array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimMode {
    Acquire,
    /// Our reservation vanished: register and reserve again.
    Reassert,
    /// `challenger` took our reservation: register again, preempt it back, reserve if still needed.
    Defend {
        challenger: ReservationKey,
        reserved: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimStep {
    Connecting,
    /// The connect failed; try again at `timer`.
    ConnectRetry,
    Registering,
    ReadingHolder,
    Reserving,
    Preempting {
        victim: ReservationKey,
    },
    /// After preempting: a live owner gets until `timer` to restore its key.
    ArbitrationWait,
    /// An interrupted acquisition starts again (from registering) at `timer`.
    RetryWait,
    Verifying,
    /// Nothing outstanding; the next defense check is at `timer`.
    Held,
    Checking,
}

/// What a claim tells its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimEvent {
    Connected,
    /// The reservation is ours (read back by a request sent at `sent_at`); the disk is online.
    Won {
        sent_at: LocalTime,
    },
    Lost,
    /// The disk cannot be reached: no path accepted our registration, or the connect failed
    /// `local_restart_attempts` times in a row.
    Unreachable,
    /// While acquiring: `holder` has the reservation. The owner calls `challenge` or drops the claim.
    HeldBy(ReservationKey),
    /// A read (sent at `sent_at`) showed our reservation.
    Confirmed {
        sent_at: LocalTime,
    },
    /// A defense check found no reservation at all. The owner calls `reassert` or `idle`.
    Vanished,
    /// A defense check found `challenger` holding the reservation. The owner calls `defend` or `idle`.
    TakenBy(ReservationKey),
    /// Defending: our paths are registered again. Registering can take long (a dead path waits for its
    /// request timeout), so the owner re-checks that it is still entitled, then calls
    /// `counter_preempt` or `idle`: a defense that preempts after our vote or ownership lapsed could
    /// take the disk back from a challenger that has already won it.
    ReadyToDefend(ReservationKey),
    /// While acquiring, the array stopped answering (see the module docs). The owner calls
    /// `retry_later`, or `give_up` with `otherwise`, what the claim would have concluded.
    Interrupted {
        otherwise: GiveUp,
    },
}

/// What an interrupted acquisition amounts to when its owner does not retry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GiveUp {
    Lost,
    Unreachable,
}

#[derive(Clone, Debug)]
pub struct DiskClaim {
    pub lun: LunId,
    pub owner: ClaimFor,
    pub mode: ClaimMode,
    pub step: ClaimStep,
    /// Requests of the current step still unanswered.
    pub waiting: Vec<RequestId>,
    pub registered_paths: u8,
    pub connect_failures: u32,
    /// When `ConnectRetry`, `ArbitrationWait` or `Held` next needs attention.
    pub timer: LocalTime,
    /// The reservation has been ours at least once (the disk came online).
    pub won: bool,
    /// This claim preempted a holder and waited the arbitration delay before reading it back, so a
    /// previous holder has stopped counting it by the time we win.
    pub waited: bool,
    /// Retries of an interrupted acquisition since it last heard the array decide anything.
    pub retries: u32,
}

impl DiskClaim {
    /// Starts acquiring `lun`; `connect` first makes the LUN visible to this host.
    pub fn start(ctx: &mut Ctx<'_>, lun: LunId, owner: ClaimFor, connect: bool) -> DiskClaim {
        let mut claim = DiskClaim {
            lun,
            owner,
            mode: ClaimMode::Acquire,
            step: ClaimStep::Connecting,
            waiting: Vec::new(),
            registered_paths: 0,
            connect_failures: 0,
            timer: LocalTime::NEVER,
            won: false,
            waited: false,
            retries: 0,
        };
        if connect {
            claim.connect(ctx);
        } else {
            claim.register_everywhere(ctx);
        }
        claim
    }

    pub fn is_held(&self) -> bool {
        self.won && self.step == ClaimStep::Held
    }

    pub fn next_timer(&self) -> Option<LocalTime> {
        matches!(
            self.step,
            ClaimStep::ConnectRetry | ClaimStep::ArbitrationWait | ClaimStep::RetryWait | ClaimStep::Held
        )
        .then_some(self.timer)
    }

    fn record(&self, ctx: &mut Ctx<'_>, step: ArbitrationStep) {
        ctx.out.push(Output::Note(Note::DiskArbitration { db: self.owner.db(), lun: self.lun, step }));
    }

    fn send(&mut self, ctx: &mut Ctx<'_>, path: Option<StoragePath>, op: StorageOp) {
        let timeout = ctx.config.settings.storage_request_timeout;
        let request = ctx.send(self.lun, path, op, Purpose::Claim(self.owner), Some(timeout));
        self.waiting.push(request);
    }

    fn connect(&mut self, ctx: &mut Ctx<'_>) {
        self.step = ClaimStep::Connecting;
        // No timeout: presenting a LUN can take minutes with serial enumeration, and the driver always
        // answers a connect, with a failure when it cannot.
        let request = ctx.send(self.lun, None, StorageOp::Connect, Purpose::Claim(self.owner), None);
        self.waiting.push(request);
    }

    fn register_everywhere(&mut self, ctx: &mut Ctx<'_>) {
        self.step = ClaimStep::Registering;
        self.registered_paths = 0;
        let key = ctx.key;
        if ctx.config.storage_paths == 0 {
            self.send(ctx, None, StorageOp::Register { key });
        }
        for path in 0..ctx.config.storage_paths {
            self.send(ctx, Some(StoragePath(path)), StorageOp::Register { key });
        }
    }

    fn reserve(&mut self, ctx: &mut Ctx<'_>) {
        self.step = ClaimStep::Reserving;
        let key = ctx.key;
        self.send(ctx, None, StorageOp::Reserve { key });
    }

    fn verify(&mut self, ctx: &mut Ctx<'_>) {
        self.step = ClaimStep::Verifying;
        self.send(ctx, None, StorageOp::ReadReservation);
    }

    fn preempt(&mut self, ctx: &mut Ctx<'_>, victim: ReservationKey) {
        self.step = ClaimStep::Preempting { victim };
        let (key, abort) = (ctx.key, ctx.abort_on_preempt());
        self.send(ctx, None, StorageOp::Preempt { key, victim, abort });
    }

    fn lose(&mut self, ctx: &mut Ctx<'_>) -> Option<ClaimEvent> {
        self.record(ctx, ArbitrationStep::Lost);
        Some(ClaimEvent::Lost)
    }

    /// The array failed to answer a step of an acquisition: nothing was decided.
    fn interrupted(&mut self, otherwise: GiveUp) -> Option<ClaimEvent> {
        self.waiting.clear();
        Some(ClaimEvent::Interrupted { otherwise })
    }

    /// After `Interrupted`, when nobody else can take the disk: start again from registering after a
    /// delay that doubles with every retry, up to the storage request timeout. Registering again is safe: we
    /// are still the one the cluster chose, and a holder that appeared meanwhile is challenged anew.
    pub fn retry_later(&mut self, ctx: &mut Ctx<'_>) {
        let doublings = self.retries.min(16);
        self.retries = self.retries.saturating_add(1);
        let settings = &ctx.config.settings;
        let cap = settings.storage_request_timeout.max(settings.defense_interval);
        let delay = settings.defense_interval.saturating_mul(1 << doublings).min(cap);
        self.step = ClaimStep::RetryWait;
        self.timer = ctx.now + delay;
        let retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.record(ctx, ArbitrationStep::Interrupted { attempt: self.retries, retry_in_ms });
    }

    /// After `Interrupted`, when another node may do better: conclude what the claim used to.
    pub fn give_up(&mut self, ctx: &mut Ctx<'_>, otherwise: GiveUp) -> ClaimEvent {
        match otherwise {
            GiveUp::Lost => {
                self.record(ctx, ArbitrationStep::Lost);
                ClaimEvent::Lost
            }
            GiveUp::Unreachable => ClaimEvent::Unreachable,
        }
    }

    /// Back to holding (or, after a failed defense, to watching): the next check is one interval away.
    pub fn idle(&mut self, ctx: &mut Ctx<'_>) {
        self.mode = ClaimMode::Acquire;
        self.step = ClaimStep::Held;
        self.waiting.clear();
        // Without persistent reservations there is nothing to re-read.
        self.timer = if ctx.config.settings.disk_fencing == DiskFencing::Disabled {
            LocalTime::NEVER
        } else {
            ctx.now + ctx.config.settings.defense_interval
        };
    }

    /// While acquiring, after `HeldBy`: preempt the holder and wait the arbitration delay.
    pub fn challenge(&mut self, ctx: &mut Ctx<'_>, victim: ReservationKey) {
        self.preempt(ctx, victim);
    }

    /// After `TakenBy`: our registrations were removed with the preempt, so register again, then
    /// preempt the challenger back.
    pub fn defend(&mut self, ctx: &mut Ctx<'_>, challenger: ReservationKey) {
        self.mode = ClaimMode::Defend { challenger, reserved: false };
        self.register_everywhere(ctx);
    }

    /// After `ReadyToDefend`, while still entitled: preempt the challenger back.
    pub fn counter_preempt(&mut self, ctx: &mut Ctx<'_>, challenger: ReservationKey) {
        self.preempt(ctx, challenger);
    }

    /// After `Vanished`: register and reserve again.
    pub fn reassert(&mut self, ctx: &mut Ctx<'_>) {
        self.mode = ClaimMode::Reassert;
        self.register_everywhere(ctx);
    }

    /// Checks the reservation now instead of at the next defense interval (a write was refused, and
    /// only the array can say whether we were preempted or a path of ours is merely unregistered).
    pub fn check_now(&mut self, ctx: &mut Ctx<'_>) {
        if self.step == ClaimStep::Held {
            self.timer = LocalTime::NEVER;
            self.step = ClaimStep::Checking;
            self.send(ctx, None, StorageOp::ReadReservation);
        }
    }

    /// Time-driven steps: connect retries, the end of the arbitration delay, defense checks.
    pub fn on_time(&mut self, ctx: &mut Ctx<'_>) {
        if ctx.now < self.timer {
            return;
        }
        self.timer = LocalTime::NEVER;
        match self.step {
            ClaimStep::ConnectRetry => self.connect(ctx),
            ClaimStep::ArbitrationWait => self.verify(ctx),
            ClaimStep::RetryWait => self.register_everywhere(ctx),
            ClaimStep::Held => {
                // Down every path at once: one silently dead path must not hold the check up past the
                // vote's validity (or make a healthy owner think its disk is gone); the first answer
                // that shows our key settles it.
                self.step = ClaimStep::Checking;
                if ctx.config.storage_paths == 0 {
                    self.send(ctx, None, StorageOp::ReadReservation);
                }
                for path in 0..ctx.config.storage_paths {
                    self.send(ctx, Some(StoragePath(path)), StorageOp::ReadReservation);
                }
            }
            _ => {}
        }
    }

    /// The array answered `request` (sent at `sent_at`). Answers this claim is not waiting for (from a
    /// step it already left) are ignored.
    pub fn on_answer(
        &mut self,
        ctx: &mut Ctx<'_>,
        request: RequestId,
        sent_at: LocalTime,
        result: &StorageResult,
    ) -> Option<ClaimEvent> {
        if !self.waiting.contains(&request) {
            return None;
        }
        self.waiting.retain(|&waiting| waiting != request);
        let ours =
            |result: &StorageResult| matches!(result, StorageResult::Reservation(Some(k)) if *k == ctx.key);
        let acquiring = self.mode == ClaimMode::Acquire;
        match self.step {
            ClaimStep::Connecting => {
                if *result != StorageResult::Done {
                    // Presenting a LUN fails transiently (a rescan in progress); a few retries, then
                    // the disk counts as unreachable from here so the group can move.
                    self.connect_failures += 1;
                    if self.connect_failures > ctx.config.settings.local_restart_attempts {
                        return Some(ClaimEvent::Unreachable);
                    }
                    self.step = ClaimStep::ConnectRetry;
                    self.timer = ctx.now + ctx.config.settings.storage_request_timeout;
                    return None;
                }
                if ctx.config.settings.disk_fencing == DiskFencing::Disabled {
                    // UNSAFE setting: nothing arbitrates, the disk is simply online.
                    self.won = true;
                    self.idle(ctx);
                    self.record(ctx, ArbitrationStep::Won);
                    return Some(ClaimEvent::Won { sent_at });
                }
                self.register_everywhere(ctx);
                Some(ClaimEvent::Connected)
            }
            ClaimStep::Registering => {
                if *result == StorageResult::Done {
                    self.registered_paths += 1;
                }
                if !self.waiting.is_empty() {
                    return None;
                }
                if self.registered_paths == 0 {
                    if acquiring {
                        return self.interrupted(GiveUp::Unreachable);
                    }
                    self.idle(ctx);
                    return None;
                }
                self.record(ctx, ArbitrationStep::Registered { paths: self.registered_paths });
                match self.mode {
                    ClaimMode::Acquire => {
                        self.step = ClaimStep::ReadingHolder;
                        self.send(ctx, None, StorageOp::ReadReservation);
                    }
                    ClaimMode::Reassert => self.reserve(ctx),
                    ClaimMode::Defend { challenger, .. } => {
                        return Some(ClaimEvent::ReadyToDefend(challenger));
                    }
                }
                None
            }
            ClaimStep::ReadingHolder => match result {
                StorageResult::Reservation(Some(holder)) if *holder != ctx.key => {
                    Some(ClaimEvent::HeldBy(*holder))
                }
                // A retry finds the reservation ours: an interrupted PREEMPT may have taken it without
                // our hearing so, and a live owner must still get its arbitration delay to defend.
                StorageResult::Reservation(Some(_)) if self.retries > 0 && !self.waited => {
                    self.waited = true;
                    self.step = ClaimStep::ArbitrationWait;
                    self.timer = ctx.now + ctx.config.settings.arbitration_delay;
                    None
                }
                StorageResult::Reservation(_) => {
                    self.reserve(ctx);
                    None
                }
                StorageResult::Failed(_) => self.interrupted(GiveUp::Lost),
                _ => self.lose(ctx),
            },
            ClaimStep::Reserving => {
                if *result == StorageResult::Done {
                    self.record(ctx, ArbitrationStep::Reserved);
                    self.verify(ctx);
                    None
                } else if acquiring && matches!(result, StorageResult::Failed(_)) {
                    self.interrupted(GiveUp::Lost)
                } else if acquiring {
                    self.lose(ctx)
                } else {
                    self.idle(ctx);
                    None
                }
            }
            ClaimStep::Preempting { victim } => {
                if *result != StorageResult::Done {
                    if acquiring && matches!(result, StorageResult::Failed(_)) {
                        return self.interrupted(GiveUp::Lost);
                    }
                    if acquiring {
                        return self.lose(ctx);
                    }
                    self.idle(ctx);
                    return None;
                }
                if acquiring {
                    self.record(ctx, ArbitrationStep::Challenged { victim });
                    self.waited = true;
                    self.step = ClaimStep::ArbitrationWait;
                    self.timer = ctx.now + ctx.config.settings.arbitration_delay;
                } else {
                    self.verify(ctx);
                }
                None
            }
            ClaimStep::Verifying => {
                if ours(result) {
                    let step = match self.mode {
                        ClaimMode::Acquire => ArbitrationStep::Won,
                        ClaimMode::Reassert => ArbitrationStep::Reasserted,
                        ClaimMode::Defend { challenger, .. } => ArbitrationStep::Defended { challenger },
                    };
                    let first = !self.won;
                    self.won = true;
                    self.retries = 0;
                    self.idle(ctx);
                    self.record(ctx, step);
                    return Some(if first {
                        ClaimEvent::Won { sent_at }
                    } else {
                        ClaimEvent::Confirmed { sent_at }
                    });
                }
                match (self.mode, result) {
                    (ClaimMode::Defend { challenger, reserved: false }, StorageResult::Reservation(None)) => {
                        // The challenger's registration is gone but it had not reserved yet.
                        self.mode = ClaimMode::Defend { challenger, reserved: true };
                        self.reserve(ctx);
                        None
                    }
                    // Our reservation read back gone, or no answer: an array reset, not a defender
                    // (a defender holds it with its own key).
                    (ClaimMode::Acquire, StorageResult::Failed(_) | StorageResult::Reservation(None)) => {
                        self.interrupted(GiveUp::Lost)
                    }
                    (ClaimMode::Acquire, _) => self.lose(ctx),
                    _ => {
                        self.idle(ctx);
                        None
                    }
                }
            }
            ClaimStep::Checking => {
                if ours(result) {
                    self.idle(ctx);
                    return Some(ClaimEvent::Confirmed { sent_at });
                }
                match result {
                    StorageResult::Reservation(None) => {
                        self.waiting.clear();
                        Some(ClaimEvent::Vanished)
                    }
                    StorageResult::Reservation(Some(challenger)) => {
                        self.waiting.clear();
                        Some(ClaimEvent::TakenBy(*challenger))
                    }
                    // A failed or unanswered check proves nothing either way; another path may still
                    // answer, and the data-path check judges paths.
                    _ if !self.waiting.is_empty() => None,
                    _ => {
                        self.idle(ctx);
                        None
                    }
                }
            }
            ClaimStep::ConnectRetry | ClaimStep::ArbitrationWait | ClaimStep::RetryWait | ClaimStep::Held => {
                None
            }
        }
    }
}

/// The answer a node gives itself for a request whose deadline passed.
pub const TIMED_OUT: StorageResult = StorageResult::Failed(StorageFailure::TimedOut);
