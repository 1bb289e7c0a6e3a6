//! Shared-disk groups (Exchange Single Copy Cluster): the data lives on array LUNs, not on the nodes,
//! so there is no log shipping. Bringing a `PhysicalDisk` resource online means winning its persistent
//! reservation ([`super::arbitration`]); while the group runs, the owner defends its reservations,
//! writes every message to the disk with its ownership epoch, and checks its data paths.
//!
//! Fencing is the array's job here: a deposed owner's writes fail with RESERVATION CONFLICT, and the
//! node then stops the group at once ([`StopReason::Fenced`]) rather than register again on its own.

use super::arbitration::{ClaimEvent, ClaimFor, Ctx, DiskClaim, GiveUp, Purpose, TIMED_OUT};
use super::{Node, WriteStart};
use crate::config::ResourceKind;
use crate::io::Note;
use crate::io::{
    ArbitrationStep, CopyRole, Message, Output, StopReason, StorageFailure, StorageOp, StorageResult,
};
use crate::types::{DbId, Endpoint, HubId, LocalTime, LunId, MessageId, RequestId};

impl Node {
    pub(super) fn is_shared_disk(&self, db: DbId) -> bool {
        self.config.database(db).is_some_and(|config| config.is_shared_disk())
    }

    /// Runs `f` on the claim for `lun` of group `db` with a context to send commands through.
    fn with_group_claim<R>(
        &mut self,
        db: DbId,
        lun: LunId,
        f: impl FnOnce(&mut DiskClaim, &mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let config = self.config.clone();
        let claim = self.dbs.get_mut(&db)?.disk_group.claim_mut(lun)?;
        let mut ctx = Ctx::new(self.now, self.id, &config, &mut self.storage, &mut self.out);
        Some(f(claim, &mut ctx))
    }

    /// Runs `f` with a context for storage commands (for sends that borrow no claim).
    pub(super) fn with_storage<R>(&mut self, f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
        let config = std::sync::Arc::clone(&self.config);
        let mut ctx = Ctx::new(self.now, self.id, &config, &mut self.storage, &mut self.out);
        f(&mut ctx)
    }

    /// The disk resource `lun` of `db` starts coming online: connect, then arbitrate. While writes or PR
    /// commands we issued to that LUN earlier are still unanswered, the claim waits for them.
    pub(super) fn start_disk_claim(&mut self, db: DbId, lun: LunId) {
        if let Some(writes) = self.storage.unanswered.get(&lun).filter(|writes| !writes.is_empty()) {
            let writes = u32::try_from(writes.len()).unwrap_or(u32::MAX);
            self.out.push(Output::Note(Note::DiskArbitration {
                db: Some(db),
                lun,
                step: ArbitrationStep::Draining { writes },
            }));
            if let Some(runtime) = self.dbs.get_mut(&db) {
                runtime.disk_group.defer(lun);
            }
            return;
        }
        let claim = self.with_storage(|ctx| DiskClaim::start(ctx, lun, ClaimFor::Group(db), true));
        if let Some(runtime) = self.dbs.get_mut(&db) {
            runtime.disk_group.claim_started(lun, claim);
        }
    }

    /// Forgets every claim and request of `db` (the group stopped here); late answers are ignored.
    pub(super) fn drop_storage(&mut self, db: DbId) {
        if let Some(runtime) = self.dbs.get_mut(&db) {
            runtime.disk_group.drop_claims();
        }
        self.storage.pending.retain(|_, request| match request.purpose {
            Purpose::Claim(ClaimFor::Group(of))
            | Purpose::Write { db: of, .. }
            | Purpose::DataCheck { db: of } => of != db,
            Purpose::Claim(ClaimFor::Witness) | Purpose::Release | Purpose::Ledger(_) => true,
        });
    }

    /// Requests whose deadline passed are answered `TimedOut` by the node itself.
    pub(super) fn expire_storage_requests(&mut self) {
        let expired: Vec<RequestId> = self
            .storage
            .pending
            .iter()
            .filter(|(_, request)| request.deadline <= self.now)
            .map(|(&id, _)| id)
            .collect();
        for request in expired {
            self.storage_answer(request, TIMED_OUT);
        }
    }

    /// The array answered (or a request timed out). Unknown ids, from before a reboot or from a group
    /// that has since stopped, are ignored.
    pub(super) fn storage_answer(&mut self, request: RequestId, result: StorageResult) {
        let Some(pending) = self.storage.pending.remove(&request) else { return };
        let lun = pending.lun;
        match pending.purpose {
            Purpose::Claim(ClaimFor::Group(db)) => {
                let event = self
                    .with_group_claim(db, lun, |claim, ctx| {
                        claim.on_answer(ctx, request, pending.sent_at, &result)
                    })
                    .flatten();
                if let Some(event) = event {
                    self.group_claim_event(db, lun, event);
                }
            }
            Purpose::Claim(ClaimFor::Witness) => self.disk_witness_answer(request, pending.sent_at, &result),
            Purpose::Write { hub, db, msg } => self.write_answered(hub, db, msg, lun, &result),
            Purpose::DataCheck { db } => {
                // Reads are allowed to everyone under type 5, so a conflict here means nothing; a unit
                // attention or data-protect status is a condition of the LUN, not of our paths.
                if matches!(
                    result,
                    StorageResult::Failed(
                        StorageFailure::NoPath
                            | StorageFailure::DeviceRemoved
                            | StorageFailure::TimedOut
                            | StorageFailure::NotReady
                            | StorageFailure::NotPresented
                    )
                ) {
                    self.data_path_failed(db, lun);
                }
            }
            Purpose::Release => {}
            Purpose::Ledger(op) => self.ledger_answer(op, &result),
        }
    }

    fn group_claim_event(&mut self, db: DbId, lun: LunId, event: ClaimEvent) {
        match event {
            ClaimEvent::Won { .. } => {
                let now = self.now;
                let Some(config) = self.config.database(db) else { return };
                let Some(onlining) = self.dbs.get_mut(&db).and_then(|runtime| runtime.onlining.as_mut())
                else {
                    return;
                };
                if config.resources.get(onlining.current).map(|resource| resource.kind)
                    == Some(ResourceKind::PhysicalDisk { lun })
                {
                    // The disk's online time is the arbitration itself; the next resource starts now.
                    onlining.step_done_at = now;
                }
            }
            ClaimEvent::Lost => {
                // Someone else holds the disk: give the group up here; the coordinator decides again.
                self.stop_db(db, StopReason::Deposed);
            }
            ClaimEvent::Unreachable => self.data_path_failed(db, lun),
            ClaimEvent::HeldBy(holder) => {
                self.with_group_claim(db, lun, |claim, ctx| claim.challenge(ctx, holder));
            }
            ClaimEvent::Vanished => {
                // Re-asserting registers us again, which under type 5 lets us write: only a node still
                // entitled to the disk may (a deposed owner that has not noticed yet must not).
                if self.may_defend(db) {
                    self.with_group_claim(db, lun, |claim, ctx| claim.reassert(ctx));
                } else {
                    self.with_group_claim(db, lun, |claim, ctx| claim.idle(ctx));
                }
            }
            ClaimEvent::TakenBy(challenger) => {
                let refused =
                    self.dbs.get_mut(&db).is_some_and(|runtime| runtime.disk_group.take_refusal(lun));
                if refused {
                    // A write of ours was refused and another key holds the disk: we were preempted.
                    // Stop, and do not register again on our own; only a new decision by a quorate
                    // coordinator brings the group back here.
                    self.out.push(Output::Note(Note::DiskArbitration {
                        db: Some(db),
                        lun,
                        step: ArbitrationStep::Fenced,
                    }));
                    self.stop_db(db, StopReason::Fenced);
                } else if self.may_defend(db) {
                    self.with_group_claim(db, lun, |claim, ctx| claim.defend(ctx, challenger));
                } else {
                    // Not entitled to the disk any more: leave it; our next write is refused and we stop.
                    self.with_group_claim(db, lun, |claim, ctx| claim.idle(ctx));
                }
            }
            ClaimEvent::Confirmed { .. } => {
                // The reservation is still ours, so a refused write went down a path we have not
                // registered: register on every path again (entitled owners only).
                let conflicted =
                    self.dbs.get_mut(&db).is_some_and(|runtime| runtime.disk_group.take_refusal(lun));
                if conflicted && self.may_defend(db) {
                    self.with_group_claim(db, lun, |claim, ctx| claim.reassert(ctx));
                }
            }
            ClaimEvent::ReadyToDefend(challenger) => {
                if self.may_defend(db) {
                    self.with_group_claim(db, lun, |claim, ctx| claim.counter_preempt(ctx, challenger));
                } else {
                    self.with_group_claim(db, lun, |claim, ctx| claim.idle(ctx));
                }
            }
            ClaimEvent::Connected => {}
            ClaimEvent::Interrupted { otherwise } => self.claim_interrupted(db, lun, otherwise),
        }
    }

    /// The array stopped answering in the middle of our arbitration (a controller reboot, say). If
    /// another node could take the group, give up as before: its paths may work. If nobody could, the
    /// group would stay failed after the array returns, so retry with a growing delay while we are still
    /// the owner the cluster chose.
    fn claim_interrupted(&mut self, db: DbId, lun: LunId, otherwise: GiveUp) {
        if self.may_defend(db) && !self.another_owner_possible(db) {
            self.with_group_claim(db, lun, |claim, ctx| claim.retry_later(ctx));
            return;
        }
        if let Some(event) = self.with_group_claim(db, lun, |claim, ctx| claim.give_up(ctx, otherwise)) {
            self.group_claim_event(db, lun, event);
        }
    }

    /// Whether a peer we count has a passive copy of `db`, so a coordinator could move the group there.
    fn another_owner_possible(&self, db: DbId) -> bool {
        let Some(config) = self.config.database(db) else { return false };
        let counted = self.counted_peers();
        config.copies.iter().any(|&node| {
            node != self.id && counted.contains(&node) && self.role_of(node, db) == Some(CopyRole::Passive)
        })
    }

    /// A live owner defends only while it is quorate, still serving, and knows no newer ownership term:
    /// a challenger sent by a quorate coordinator with a newer epoch must win.
    fn may_defend(&self, db: DbId) -> bool {
        let Some(runtime) = self.dbs.get(&db) else { return false };
        let serving_epoch = match runtime.role {
            CopyRole::Active => Some(runtime.active_epoch),
            CopyRole::Activating => runtime.onlining.as_ref().map(|onlining| onlining.epoch),
            _ => None,
        };
        let record = self.disk.copies.get(&db).map(|copy| (copy.owner_epoch, copy.owner));
        self.quorate && serving_epoch.is_some() && record == serving_epoch.map(|epoch| (epoch, Some(self.id)))
    }

    /// A dead path, a removed device or an unanswered check: the group fails over. No local restart:
    /// restarting on the same broken paths cannot help, another node's paths may work.
    fn data_path_failed(&mut self, db: DbId, lun: LunId) {
        let busy = self
            .dbs
            .get(&db)
            .is_some_and(|runtime| matches!(runtime.role, CopyRole::Active | CopyRole::Activating));
        if !busy {
            return;
        }
        self.out.push(Output::Note(Note::DiskArbitration {
            db: Some(db),
            lun,
            step: ArbitrationStep::DataPathFailed,
        }));
        self.stop_db(db, StopReason::ResourceFailed);
    }

    /// Claim timers (connect retries, arbitration delays, defense checks) and data-path checks.
    pub(super) fn advance_storage(&mut self) {
        let dbs: Vec<DbId> = self.dbs.keys().copied().collect();
        for db in dbs {
            let unanswered = &self.storage.unanswered;
            let drained = self
                .dbs
                .get_mut(&db)
                .map(|runtime| runtime.disk_group.take_drained(|lun| unanswered.contains_key(&lun)))
                .unwrap_or_default();
            for lun in drained {
                self.start_disk_claim(db, lun);
            }
            let luns: Vec<LunId> =
                self.dbs.get(&db).map(|runtime| runtime.disk_group.claimed_luns()).unwrap_or_default();
            for lun in luns {
                self.with_group_claim(db, lun, |claim, ctx| claim.on_time(ctx));
            }
            self.data_path_check_if_due(db);
        }
    }

    fn data_path_check_if_due(&mut self, db: DbId) {
        let Some(runtime) = self.dbs.get_mut(&db) else { return };
        let check_interval = self.config.settings.data_path_check_interval;
        if runtime.role != CopyRole::Active || !runtime.disk_group.data_check_due(self.now, check_interval) {
            return;
        }
        let luns = self.config.database(db).map(|config| config.shared_disks()).unwrap_or_default();
        let timeout = self.config.settings.data_path_timeout;
        for lun in luns {
            let in_flight = self
                .storage
                .pending
                .values()
                .any(|request| request.lun == lun && request.purpose == Purpose::DataCheck { db });
            if in_flight {
                continue;
            }
            self.with_storage(|ctx| {
                ctx.send(lun, None, StorageOp::Read { block: 0 }, Purpose::DataCheck { db }, Some(timeout))
            });
        }
    }

    /// A hub delivers to a shared-disk group: the message goes to the array, one block per message,
    /// carrying our epoch; the hub is answered when the array is.
    pub(super) fn deliver_shared(&mut self, hub: HubId, db: DbId, msg: MessageId) {
        let luns = self.config.database(db).map(|config| config.shared_disks()).unwrap_or_default();
        let Some(runtime) = self.dbs.get_mut(&db) else { return };
        let epoch = runtime.active_epoch;
        if luns.is_empty() {
            return;
        }
        match runtime.disk_group.start_write(msg) {
            WriteStart::Duplicate => {
                self.out.push(Output::Note(Note::DuplicateSuppressed { db, msg }));
                self.send(Endpoint::Hub(hub), Message::DeliverAck { db, msg, epoch });
                return;
            }
            WriteStart::InFlight => return, // its answer acknowledges it
            WriteStart::Write => {}
        }
        let lun = luns[(msg % luns.len() as u64) as usize];
        let op = StorageOp::Write { block: msg, payload: msg, epoch };
        let timeout = self.config.settings.data_path_timeout;
        self.with_storage(|ctx| ctx.send(lun, None, op, Purpose::Write { hub, db, msg }, Some(timeout)));
    }

    fn write_answered(&mut self, hub: HubId, db: DbId, msg: MessageId, lun: LunId, result: &StorageResult) {
        let Some(runtime) = self.dbs.get_mut(&db) else { return };
        runtime.disk_group.write_answered(msg);
        let epoch = runtime.active_epoch;
        match result {
            StorageResult::Done => {
                if runtime.role != CopyRole::Active {
                    return;
                }
                runtime.disk_group.write_committed(msg);
                runtime.last_write_at = self.now;
                self.out.push(Output::Note(Note::Committed { db, msg, epoch, generation: 0 }));
                self.send(Endpoint::Hub(hub), Message::DeliverAck { db, msg, epoch });
            }
            StorageResult::ReservationConflict => {
                let active = runtime.role == CopyRole::Active;
                if active {
                    runtime.disk_group.write_refused(lun);
                }
                self.send(Endpoint::Hub(hub), Message::DeliverReject { db, msg });
                if !active {
                    return;
                }
                // Either we were preempted (another node owns the disk) or the write went down a path
                // of ours that is not registered (it came back after we registered the others). Only
                // the array can tell: read the reservation now, and decide on the answer.
                self.with_group_claim(db, lun, |claim, ctx| claim.check_now(ctx));
            }
            StorageResult::Failed(StorageFailure::UnitAttention | StorageFailure::IllegalRequest) => {
                // Reported once per condition (a reset, an array reboot): the hub's retry will succeed,
                // and a real preemption shows up as RESERVATION CONFLICT on that retry.
                self.send(Endpoint::Hub(hub), Message::DeliverReject { db, msg });
            }
            _ => {
                self.send(Endpoint::Hub(hub), Message::DeliverReject { db, msg });
                self.data_path_failed(db, lun);
            }
        }
    }

    /// The earliest storage deadline or claim timer of any group.
    pub(super) fn storage_deadline(&self) -> Option<LocalTime> {
        let claims = self
            .dbs
            .values()
            .flat_map(|runtime| runtime.disk_group.claims())
            .filter_map(DiskClaim::next_timer);
        let checks = self
            .dbs
            .values()
            .filter(|runtime| runtime.role == CopyRole::Active && runtime.disk_group.has_claims())
            .map(|runtime| runtime.disk_group.next_data_check());
        claims.chain(checks).chain(self.storage.next_deadline()).min()
    }
}
