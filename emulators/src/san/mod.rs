//! The SAN array: LUNs behind dual controllers, reached over iSCSI (domain.md 2.1, 4.1, 4.3 and 8).
//!
//! The array keeps, per LUN, a block store with an optional volatile write cache, a SCSI-3 persistent
//! reservation table keyed by I_T nexus, and a unit attention queue. Hosts see a LUN only once it is
//! masked to them and a rescan has probed it.
//!
//! A command goes through two steps, so that the harness owns time. [`Array::submit`] is the command's
//! arrival: the array checks presentation, unit attentions, readiness and (for data commands) the
//! reservation at once, and either answers or accepts the command into the LUN's task set with a
//! completion time. [`Array::complete`] at that time executes it: a write lands, a read reads, a PR OUT
//! changes the table. Between the two, the command is in flight, which is where SPC's subtle cases live:
//! a write accepted before a PREEMPT still lands after it (its nexus was checked at acceptance), while
//! PREEMPT AND ABORT kills it.
//!
//! A write is judged against the reservation when the array can start executing it, which is when its
//! data has wholly arrived, never when its first byte did. The caller must therefore call `submit` for a
//! write once its last byte is in (the world delivers a write PDU, command and data together, at the
//! end of its serialisation on the link), and every task accepted here starts executing at once (no
//! queueing behind other tasks), so acceptance and the start of execution are one instant. Why: SPC-3
//! lets a plain PREEMPT leave tasks the device server has already begun alone, but a command whose data
//! is still being transferred has not begun; a real target that checks at the CDB (LIO checks in
//! `target_setup_cmd_from_cdb`, before it sends its R2Ts) and executes later would apply a 512 MB write
//! that was still arriving when its sender was preempted, the fenced write every cluster relies on
//! PREEMPT to stop. If the model ever delivers a write's command before its data (R2T, Data-Out), the
//! reservation check for writes has to move to the point where the data is complete.
//!
//! Every state change that a checker cares about is reported as an [`ArrayEvent`]; the harness drains
//! them with [`Array::take_events`] after every call. The array draws randomness (how much of a torn
//! write landed) only from the stream it is given.
//!
//! Persistent reservations survive a power cycle if the most recent REGISTER set APTPL (SPC-3 5.6.4);
//! otherwise the power cycle silently unfences everyone (domain.md 2.1).
//!
//! Simplifications: unit attentions do not fail INQUIRY or PR IN; a mapping change raises no REPORTED
//! LUNS DATA HAS CHANGED by itself (discovery is modelled by [`Array::present`], and
//! [`Array::raise_unit_attention`] injects it); LUNs have no backing file.

mod attention;
mod block;
mod command;
mod config;
mod faults;
mod pr;
mod presentation;
#[cfg(test)]
mod tests;

pub use block::Extent;
pub use command::{
    BLOCK_BYTES, BlockContent, Command, PDU_HEADER_BYTES, Reply, Sense, Status, UnitAttention,
};
pub use config::{ArrayConfig, Enumeration, LunConfig, WriteCache};
pub use pr::{PrIn, PrOut, ReservationType};

use crate::ids::{ControllerId, HostId, LunId};
use attention::Attention;
use block::BlockStore;
use core::fmt;
use core::time::Duration;
use kernel::{RngStream, SimTime};
use pr::{Access, PrChange, PrTable};
use presentation::Presentation;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An I_T nexus: one initiator port (a host's NIC on the controller's iSCSI network) and one target port
/// (a controller).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Nexus {
    pub host: HostId,
    pub controller: ControllerId,
}

impl fmt::Display for Nexus {
    /// `host1@ctrl0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.host, self.controller)
    }
}

/// A persistent reservation key; 0 means "no key".
pub type ReservationKey = u64;

/// A command accepted into a LUN's task set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub u64);

/// What the array does with a command when it arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// Accepted into the LUN's task set; the harness calls `complete(task)` at `completes_at`.
    Accepted { task: TaskId, completes_at: SimTime },
    /// Answered at once (reservation conflict at acceptance, pending unit attention, LUN not
    /// presented/offline, read-only).
    Answered(Status),
    /// The target port is down or rebooting: no response ever comes (the initiator times out).
    NoResponse,
}

/// A finished task, for the harness to carry back to the initiator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub nexus: Nexus,
    pub lun: LunId,
    pub tag: u64,
    pub status: Status,
}

/// Ground truth for checkers and the history; the harness drains it after every call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArrayEvent {
    /// Blocks changed. `key` is the nexus's registration when the write landed (`None` if it had none,
    /// for example because it was preempted after the write was accepted). `holder_at_acceptance` is
    /// the key that held the LUN's reservation when the array accepted the write (`None` if no
    /// reservation existed then): the array judges a write at acceptance and lets an accepted task run
    /// to completion (SPC-3 5.6.10.4, PREEMPT), so a checker that asks "was this write allowed?" must
    /// ask it of that instant, not of the landing. `durable` is false for a write that sits in a
    /// volatile cache.
    WriteApplied {
        lun: LunId,
        nexus: Nexus,
        key: Option<ReservationKey>,
        holder_at_acceptance: Option<ReservationKey>,
        lba: u64,
        contents: Vec<BlockContent>,
        durable: bool,
    },
    /// A write refused at acceptance; `epoch` is the first block's.
    WriteRejected {
        lun: LunId,
        nexus: Nexus,
        reason: RejectReason,
        epoch: u64,
    },
    /// An accepted task that will never complete.
    TaskAborted {
        lun: LunId,
        nexus: Nexus,
        tag: u64,
        by: AbortCause,
    },
    Registered {
        lun: LunId,
        nexus: Nexus,
        key: ReservationKey,
    },
    Unregistered {
        lun: LunId,
        nexus: Nexus,
        key: ReservationKey,
    },
    Reserved {
        lun: LunId,
        nexus: Nexus,
        key: ReservationKey,
        kind: ReservationType,
    },
    /// The reservation held with `key` is gone: `by` released it, or its command (an unregistration)
    /// left the reservation without a holder.
    Released {
        lun: LunId,
        by: Nexus,
        key: ReservationKey,
    },
    Preempted {
        lun: LunId,
        by: Nexus,
        key: ReservationKey,
        victim_key: ReservationKey,
        victims: Vec<Nexus>,
        aborted: u32,
    },
    /// `by` cleared every registration and the reservation with PR OUT CLEAR, presenting `key`.
    Cleared {
        lun: LunId,
        by: Nexus,
        key: ReservationKey,
    },
    /// Registrations and reservation gone with a power cycle, because no REGISTER asked for APTPL.
    ReservationsLost {
        lun: LunId,
        reason: ResetCause,
    },
    CachedWritesLost {
        lun: LunId,
        blocks: u64,
    },
    /// Only the first `applied_blocks` of an in-flight write reached the media.
    TornWrite {
        lun: LunId,
        lba: u64,
        applied_blocks: u32,
        of_blocks: u32,
    },
    /// `host` has been scheduled to see `lun`: emitted when `present` or `rescan` schedules the probe,
    /// whose finishing time is their return value.
    Presented {
        lun: LunId,
        host: HostId,
    },
}

/// Why the array refused a write when it arrived ([`ArrayEvent::WriteRejected`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RejectReason {
    /// RESERVATION CONFLICT: the nexus may not write under the LUN's persistent reservation.
    ReservationConflict,
    /// A unit attention was pending for the nexus and was reported instead.
    UnitAttention,
    /// DATA PROTECT: the LUN is write-disabled.
    ReadOnly,
    /// NOT READY: the LUN is offline.
    NotReady,
    /// ILLEGAL REQUEST: the write lies beyond the LUN's capacity.
    IllegalRequest,
    /// LOGICAL UNIT NOT SUPPORTED: the host has not discovered the LUN.
    LunNotPresented,
}

/// What aborted a task the array had accepted ([`ArrayEvent::TaskAborted`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AbortCause {
    /// PREEMPT AND ABORT removed the task's nexus.
    PreemptAndAbort,
    /// The controllers rebooted.
    Reboot,
    /// The array lost power.
    PowerLoss,
    /// The controller the task came through went down.
    ControllerDown,
    /// The host that sent the write lost power before the write had fully arrived.
    InitiatorPowerLoss,
}

/// How the array was power-cycled, losing persistent reservations without APTPL
/// ([`ArrayEvent::ReservationsLost`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResetCause {
    /// An orderly controller reboot.
    Reboot,
    /// A power loss.
    PowerLoss,
}

/// One SAN array.
#[derive(Debug)]
pub struct Array {
    config: ArrayConfig,
    luns: BTreeMap<LunId, Lun>,
    presentation: Presentation,
    tasks: BTreeMap<TaskId, Task>,
    next_task: u64,
    controllers_up: Vec<bool>,
    powered: bool,
    /// No command is answered before this (the controllers are booting).
    booting_until: SimTime,
    /// How many times the array has been reset (rebooted or power-cycled): unit attentions compare
    /// against it.
    resets: u64,
    rng: RngStream,
    events: Vec<ArrayEvent>,
}

#[derive(Debug)]
struct Lun {
    name: String,
    capacity_blocks: u64,
    read_only: bool,
    offline: bool,
    extra_latency: Duration,
    store: BlockStore,
    pr: PrTable,
    attention: Attention,
}

#[derive(Clone, Debug)]
struct Task {
    nexus: Nexus,
    lun: LunId,
    tag: u64,
    command: Command,
    /// The reservation holder's key when the task was accepted (see `ArrayEvent::WriteApplied`).
    holder_at_acceptance: Option<ReservationKey>,
}

impl Array {
    /// An array that has been running since before time zero: controllers up, every LUN presented to the
    /// hosts it is masked to, no registrations.
    ///
    /// # Panics
    /// If two LUNs share an id: the scenario validator must have refused that.
    pub fn new(config: ArrayConfig, luns: Vec<LunConfig>, rng: RngStream) -> Array {
        let presentation = Presentation::new(&luns);
        let mut by_id = BTreeMap::new();
        for lun in luns {
            let previous = by_id.insert(
                lun.id,
                Lun {
                    name: lun.name,
                    capacity_blocks: lun.blocks,
                    read_only: lun.read_only,
                    offline: false,
                    extra_latency: Duration::ZERO,
                    store: BlockStore::default(),
                    pr: PrTable::default(),
                    attention: Attention::default(),
                },
            );
            assert!(previous.is_none(), "LUN {} is declared twice", lun.id);
        }
        Array {
            config,
            luns: by_id,
            presentation,
            tasks: BTreeMap::new(),
            next_task: 0,
            controllers_up: vec![true; usize::from(config.controllers)],
            powered: true,
            booting_until: SimTime::ZERO,
            resets: 0,
            rng,
            events: Vec::new(),
        }
    }

    pub fn config(&self) -> &ArrayConfig {
        &self.config
    }

    /// A command arriving at `nexus.controller` for `lun` at `now`; `tag` is echoed in the completion.
    pub fn submit(
        &mut self,
        now: SimTime,
        nexus: Nexus,
        lun: LunId,
        command: Command,
        tag: u64,
    ) -> Submitted {
        self.destage(now);
        if !self.port_answers(now, nexus.controller) {
            return Submitted::NoResponse;
        }
        match self.admit(now, nexus, lun, &command) {
            Ok(service_time) => {
                let task = TaskId(self.next_task);
                self.next_task += 1;
                let holder_at_acceptance =
                    self.luns.get(&lun).and_then(|lun| lun.pr.reservation()).map(|(key, _)| key);
                self.tasks.insert(task, Task { nexus, lun, tag, command, holder_at_acceptance });
                Submitted::Accepted { task, completes_at: now + service_time }
            }
            Err(status) => {
                if let (Command::Write { data, .. }, Some(reason)) = (&command, status.rejection_reason()) {
                    let epoch = data.first().map_or(0, |block| block.epoch);
                    self.events.push(ArrayEvent::WriteRejected { lun, nexus, reason, epoch });
                }
                Submitted::Answered(status)
            }
        }
    }

    /// The checks made when a command arrives, in the order a target makes them (LIO: unit attention,
    /// then readiness, then reservation). `Ok` is the command's service time.
    fn admit(
        &mut self,
        now: SimTime,
        nexus: Nexus,
        lun_id: LunId,
        command: &Command,
    ) -> Result<Duration, Status> {
        let presented = self.presentation.is_visible(now, nexus.host, lun_id);
        let resets = self.resets;
        let config = self.config;
        let lun = match self.luns.get_mut(&lun_id) {
            Some(lun) if presented => lun,
            _ => return Err(Status::CheckCondition(Sense::LunNotPresented)),
        };
        if command.blocked_by_unit_attention()
            && let Some(condition) = lun.attention.take(nexus, resets)
        {
            return Err(Status::CheckCondition(Sense::UnitAttention(condition)));
        }
        if lun.offline {
            return Err(Status::CheckCondition(Sense::NotReady));
        }
        let check = |access, blocks: u64, lba: u64| {
            if lba.checked_add(blocks).is_none_or(|end| end > lun.capacity_blocks) {
                Err(Status::CheckCondition(Sense::IllegalRequest))
            } else if !lun.pr.allows(nexus, access) {
                Err(Status::ReservationConflict)
            } else {
                Ok(())
            }
        };
        match command {
            Command::TestUnitReady | Command::Inquiry | Command::PrOut(_) | Command::PrIn(_) => {
                Ok(config.pr_service_time)
            }
            Command::Read { lba, blocks } => {
                check(Access::Read, u64::from(*blocks), *lba)?;
                Ok(config.read_service_time + lun.extra_latency)
            }
            Command::Write { lba, data, .. } => {
                check(Access::Write, data.len() as u64, *lba)?;
                if lun.read_only {
                    return Err(Status::CheckCondition(Sense::DataProtect));
                }
                Ok(config.write_service_time + lun.extra_latency)
            }
            // SPC-3 classes SYNCHRONIZE CACHE with the writes for reservation purposes.
            Command::SynchronizeCache => {
                check(Access::Write, 0, 0)?;
                Ok(config.write_service_time + lun.extra_latency)
            }
        }
    }

    /// Executes an accepted task at its completion time. None if it was aborted (PREEMPT AND ABORT,
    /// reboot, power loss) meanwhile.
    pub fn complete(&mut self, now: SimTime, task: TaskId) -> Option<Completion> {
        self.destage(now);
        let Task { nexus, lun: lun_id, tag, command, holder_at_acceptance } = self.tasks.remove(&task)?;
        let durable_on_ack = self.config.write_cache == WriteCache::BatteryBacked;
        let lun = self.luns.get_mut(&lun_id)?;
        let status = match command {
            Command::TestUnitReady | Command::Inquiry => Status::Good(Reply::None),
            Command::Read { lba, blocks } => Status::Good(Reply::Data(
                (lba..lba + u64::from(blocks)).map(|lba| lun.store.read(lba)).collect(),
            )),
            Command::Write { lba, data, fua } => {
                let durable = durable_on_ack || fua;
                lun.store.write(now, lba, &data, durable);
                let key = lun.pr.key_of(nexus);
                self.events.push(ArrayEvent::WriteApplied {
                    lun: lun_id,
                    nexus,
                    key,
                    holder_at_acceptance,
                    lba,
                    contents: data,
                    durable,
                });
                Status::Good(Reply::None)
            }
            Command::SynchronizeCache => {
                lun.store.flush();
                Status::Good(Reply::None)
            }
            Command::PrIn(query) => Status::Good(lun.pr.read(query)),
            Command::PrOut(action) => match lun.pr.apply(nexus, action) {
                Ok(changes) => {
                    let abort = matches!(action, PrOut::PreemptAndAbort { .. });
                    self.record_pr_changes(lun_id, nexus, changes, abort);
                    Status::Good(Reply::None)
                }
                Err(status) => status,
            },
        };
        Some(Completion { nexus, lun: lun_id, tag, status })
    }

    /// Turns what a PR OUT changed into events and unit attentions, aborting the victims' tasks for
    /// PREEMPT AND ABORT.
    fn record_pr_changes(&mut self, lun_id: LunId, by: Nexus, changes: Vec<PrChange>, abort: bool) {
        let Some(lun) = self.luns.get_mut(&lun_id) else { return };
        for change in changes {
            match change {
                PrChange::Registered { nexus, key } => {
                    self.events.push(ArrayEvent::Registered { lun: lun_id, nexus, key });
                }
                PrChange::Unregistered { nexus, key } => {
                    self.events.push(ArrayEvent::Unregistered { lun: lun_id, nexus, key });
                }
                PrChange::Reserved { nexus, key, kind } => {
                    self.events.push(ArrayEvent::Reserved { lun: lun_id, nexus, key, kind });
                }
                PrChange::Released { key, notify } => {
                    for nexus in notify {
                        lun.attention.raise(nexus, UnitAttention::ReservationsReleased);
                    }
                    self.events.push(ArrayEvent::Released { lun: lun_id, by, key });
                }
                PrChange::Cleared { key, notify } => {
                    for nexus in notify {
                        lun.attention.raise(nexus, UnitAttention::ReservationsReleased);
                    }
                    self.events.push(ArrayEvent::Cleared { lun: lun_id, by, key });
                }
                PrChange::Preempted { key, victim_key, victims } => {
                    for &victim in &victims {
                        lun.attention.raise(victim, UnitAttention::RegistrationsPreempted);
                    }
                    let doomed: Vec<TaskId> = if abort {
                        self.tasks
                            .iter()
                            .filter(|(_, task)| task.lun == lun_id && victims.contains(&task.nexus))
                            .map(|(&id, _)| id)
                            .collect()
                    } else {
                        Vec::new()
                    };
                    let aborted = u32::try_from(doomed.len()).unwrap_or(u32::MAX);
                    self.events.push(ArrayEvent::Preempted {
                        lun: lun_id,
                        by,
                        key,
                        victim_key,
                        victims,
                        aborted,
                    });
                    for id in doomed {
                        if let Some(task) = self.tasks.remove(&id) {
                            self.events.push(ArrayEvent::TaskAborted {
                                lun: task.lun,
                                nexus: task.nexus,
                                tag: task.tag,
                                by: AbortCause::PreemptAndAbort,
                            });
                        }
                    }
                }
            }
        }
    }

    pub fn take_events(&mut self) -> Vec<ArrayEvent> {
        core::mem::take(&mut self.events)
    }

    /// The host asks to see `lun` (a rescan, or a disk coming online that maps the LUN to itself): if the
    /// LUN is not masked to the host the mapping is added (takes `mapping_delay`), then the LUN is probed:
    /// Serial: one probe at a time for the whole array, each `probe_delay` long (queued behind earlier
    /// probes); Parallel: `probe_delay` after the mapping. A rebooting array probes once it is up.
    /// Returns the time the LUN is visible to the host (already visible => now). None if the LUN does not
    /// exist.
    pub fn present(&mut self, now: SimTime, host: HostId, lun: LunId) -> Option<SimTime> {
        if !self.luns.contains_key(&lun) {
            return None;
        }
        let (visible_at, scheduled) =
            self.presentation.present(now, host, lun, &self.config, self.booting_until);
        if scheduled {
            self.events.push(ArrayEvent::Presented { lun, host });
        }
        Some(visible_at)
    }

    pub fn is_presented(&self, now: SimTime, host: HostId, lun: LunId) -> bool {
        self.luns.contains_key(&lun) && self.presentation.is_visible(now, host, lun)
    }

    /// A host rebooted: it has to discover its LUNs again (masking stays; discovery does not). Its
    /// registrations stay too: SPC keeps them until a PR OUT or an array power cycle removes them.
    pub fn host_rebooted(&mut self, host: HostId) {
        self.presentation.forget_host(host);
    }

    /// Rescan after boot: presents every LUN masked to `host`, returns (lun, visible_at) in LUN order.
    pub fn rescan(&mut self, now: SimTime, host: HostId) -> Vec<(LunId, SimTime)> {
        let luns = self.presentation.masked_luns(host);
        luns.into_iter().filter_map(|lun| self.present(now, host, lun).map(|at| (lun, at))).collect()
    }

    /// Ground truth: the content the array would return for a block (cached, else durable).
    pub fn block(&self, lun: LunId, lba: u64) -> Option<BlockContent> {
        self.luns.get(&lun)?.store.read(lba)
    }

    /// Ground truth: the block's content on the media, as of the last call that told the array the time.
    pub fn durable_block(&self, lun: LunId, lba: u64) -> Option<BlockContent> {
        self.luns.get(&lun)?.store.durable(lba)
    }

    /// Ground truth: every written block's readable content as extents (first LBA, extent), in LBA
    /// order: what [`Array::blocks`] yields, a run of blocks at a time.
    pub fn extents(&self, lun: LunId) -> Vec<(u64, Extent)> {
        self.luns.get(&lun).map(|lun| lun.store.extents()).unwrap_or_default()
    }

    /// Ground truth: every written block's readable content, in LBA order.
    pub fn blocks(&self, lun: LunId) -> impl Iterator<Item = (u64, BlockContent)> + '_ {
        self.luns.get(&lun).into_iter().flat_map(|lun| lun.store.iter())
    }

    pub fn reservation(&self, lun: LunId) -> Option<(ReservationKey, ReservationType)> {
        self.luns.get(&lun)?.pr.reservation()
    }

    /// Every registration of `lun`, in nexus order.
    pub fn registrations(&self, lun: LunId) -> Vec<(Nexus, ReservationKey)> {
        self.luns.get(&lun).map(|lun| lun.pr.registrations().collect()).unwrap_or_default()
    }

    /// The PR generation READ KEYS would report.
    pub fn pr_generation(&self, lun: LunId) -> Option<u32> {
        Some(self.luns.get(&lun)?.pr.generation())
    }

    /// The unit attention the next command from `nexus` to `lun` would be failed with.
    pub fn pending_unit_attention(&self, lun: LunId, nexus: Nexus) -> Option<UnitAttention> {
        self.luns.get(&lun)?.attention.peek(nexus, self.resets)
    }

    pub fn lun_by_name(&self, name: &str) -> Option<LunId> {
        self.luns.iter().find(|(_, lun)| lun.name == name).map(|(&id, _)| id)
    }

    /// Every LUN, in id order.
    pub fn lun_ids(&self) -> impl Iterator<Item = LunId> + '_ {
        self.luns.keys().copied()
    }

    /// How many accepted tasks have not completed.
    pub fn pending_tasks(&self) -> usize {
        self.tasks.len()
    }

    /// Whether a command arriving at `controller` at `now` would get any response.
    pub fn port_answers(&self, now: SimTime, controller: ControllerId) -> bool {
        self.powered
            && now >= self.booting_until
            && self.controllers_up.get(usize::from(controller.0)).copied().unwrap_or(false)
    }

    /// With a volatile cache, writes back what has been dirty for a destage interval by `now`. Called at
    /// the top of every call that is told the time, which is as good as a background destager: nothing
    /// can observe the difference between calls.
    fn destage(&mut self, now: SimTime) {
        if self.config.write_cache == WriteCache::Volatile {
            for lun in self.luns.values_mut() {
                lun.store.destage(now, self.config.destage_interval);
            }
        }
    }
}
