//! The array's faults, each with its inverse (domain.md 8: controller reboot, latency, torn write, power
//! loss, write-disabled LUN, unit attention storms).

use super::{
    AbortCause, Array, ArrayEvent, Command, Nexus, ResetCause, Task, TaskId, UnitAttention, WriteCache,
};
use crate::ids::{ControllerId, HostId, LunId};
use core::time::Duration;
use kernel::SimTime;

impl Array {
    /// The whole array restarts: every task is aborted, PR state is lost unless the last REGISTER asked
    /// for APTPL, every nexus gets UNIT ATTENTION PowerOnReset, and nothing answers until
    /// `now + controller_boot_time`. A reboot is orderly: the controllers destage the write cache before
    /// going down, so no acknowledged write is lost (power loss is the fault that loses them).
    pub fn reboot_controllers(&mut self, now: SimTime) {
        for lun in self.luns.values_mut() {
            lun.store.flush();
        }
        self.abort_tasks(|_| true, AbortCause::Reboot);
        self.reset(ResetCause::Reboot);
        self.booting_until = self.booting_until.max(now + self.config.controller_boot_time);
    }

    /// Takes one controller (target port) down or brings it back. Tasks in flight through a controller
    /// that goes down are lost with it, unapplied: the initiator times out and retries down another path.
    pub fn set_controller_up(&mut self, controller: ControllerId, up: bool) {
        let Some(state) = self.controllers_up.get_mut(usize::from(controller.0)) else { return };
        *state = up;
        if !up {
            self.abort_tasks(|task| task.nexus.controller == controller, AbortCause::ControllerDown);
        }
    }

    /// The array loses power: dirty blocks of a volatile cache are lost; every write in flight may be
    /// torn (a random prefix of its blocks reaches the media, the rest does not; with a volatile cache
    /// only an FUA write gets that far); every task is aborted; PR state is lost unless APTPL was set.
    /// Nothing answers until `power_on`.
    pub fn power_loss(&mut self, now: SimTime) {
        if !self.powered {
            return;
        }
        self.destage(now);
        for (&lun_id, lun) in &mut self.luns {
            let blocks = lun.store.drop_cache();
            if blocks > 0 {
                self.events.push(ArrayEvent::CachedWritesLost { lun: lun_id, blocks });
            }
        }
        let volatile = self.config.write_cache == WriteCache::Volatile;
        let in_flight: Vec<TaskId> = self.tasks.keys().copied().collect();
        for id in in_flight {
            if let Some(task) = self.tasks.remove(&id) {
                let reaches_media = matches!(task.command, Command::Write { fua, .. } if fua || !volatile);
                if reaches_media {
                    self.tear(now, &task, true);
                }
                self.push_aborted(&task, AbortCause::PowerLoss);
            }
        }
        self.reset(ResetCause::PowerLoss);
        self.powered = false;
    }

    /// Power returns: the controllers boot for `controller_boot_time`.
    pub fn power_on(&mut self, now: SimTime) {
        if self.powered {
            return;
        }
        self.powered = true;
        self.booting_until = now + self.config.controller_boot_time;
    }

    /// Ground truth: whether a LUN is offline (taken out of service by the array).
    pub fn is_lun_offline(&self, lun: LunId) -> bool {
        self.luns.get(&lun).is_some_and(|lun| lun.offline)
    }

    /// Takes a LUN offline (NOT READY) or back online.
    pub fn set_lun_offline(&mut self, lun: LunId, offline: bool) {
        if let Some(lun) = self.luns.get_mut(&lun) {
            lun.offline = offline;
        }
    }

    /// Write-disables a LUN (writes get DATA PROTECT) or enables it again.
    pub fn set_read_only(&mut self, lun: LunId, read_only: bool) {
        if let Some(lun) = self.luns.get_mut(&lun) {
            lun.read_only = read_only;
        }
    }

    /// Extra latency for data commands (READ, WRITE, SYNCHRONIZE CACHE) to `lun`, or to every LUN when
    /// `None`; `Duration::ZERO` heals. Commands already accepted keep their completion time.
    pub fn set_latency(&mut self, lun: Option<LunId>, extra: Duration) {
        for (&id, state) in &mut self.luns {
            if lun.is_none_or(|only| only == id) {
                state.extra_latency = extra;
            }
        }
    }

    /// Garbles one written block (see [`super::block`]): reads return a payload nobody wrote.
    pub fn corrupt_block(&mut self, lun: LunId, lba: u64) {
        if let Some(lun) = self.luns.get_mut(&lun) {
            lun.store.corrupt(lba);
        }
    }

    /// Raises `condition` on every nexus of every host `lun` (or every LUN) is mapped to: a unit
    /// attention storm, or REPORTED LUNS DATA HAS CHANGED after an administrator's change.
    pub fn raise_unit_attention(&mut self, lun: Option<LunId>, condition: UnitAttention) {
        for (&id, state) in &mut self.luns {
            if lun.is_some_and(|only| only != id) {
                continue;
            }
            for host in self.presentation.masked_hosts(id) {
                for controller in 0..self.config.controllers {
                    state.attention.raise(Nexus { host, controller: ControllerId(controller) }, condition);
                }
            }
        }
    }

    /// A host loses power: its writes still in the task set may be torn (multi-block) or dropped — they
    /// were never acknowledged. The array does not know the host died: the data of a write had arrived
    /// whole, so this models an initiator whose command had not fully reached the target, which is the
    /// case the checkers must tolerate. Its other tasks (reads, PR commands) complete normally and their
    /// responses go nowhere.
    pub fn initiator_power_loss(&mut self, now: SimTime, host: HostId) {
        self.destage(now);
        let durable = self.config.write_cache == WriteCache::BatteryBacked;
        let writes: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, task)| task.nexus.host == host && matches!(task.command, Command::Write { .. }))
            .map(|(&id, _)| id)
            .collect();
        for id in writes {
            if let Some(task) = self.tasks.remove(&id) {
                let fua = matches!(task.command, Command::Write { fua: true, .. });
                self.tear(now, &task, durable || fua);
                self.push_aborted(&task, AbortCause::InitiatorPowerLoss);
            }
        }
    }

    /// Applies a random prefix (possibly none, possibly all) of an interrupted write's blocks.
    fn tear(&mut self, now: SimTime, task: &Task, durable: bool) {
        let Command::Write { lba, data, .. } = &task.command else { return };
        let of_blocks = data.len();
        let applied = usize::try_from(self.rng.below(of_blocks as u64 + 1)).unwrap_or(of_blocks);
        let Some(lun) = self.luns.get_mut(&task.lun) else { return };
        if applied > 0 {
            let contents = data[..applied].to_vec();
            lun.store.write(now, *lba, &contents, durable);
            let key = lun.pr.key_of(task.nexus);
            self.events.push(ArrayEvent::WriteApplied {
                lun: task.lun,
                nexus: task.nexus,
                key,
                holder_at_acceptance: task.holder_at_acceptance,
                lba: *lba,
                contents,
                durable,
            });
        }
        if applied > 0 && applied < of_blocks {
            self.events.push(ArrayEvent::TornWrite {
                lun: task.lun,
                lba: *lba,
                applied_blocks: u32::try_from(applied).unwrap_or(u32::MAX),
                of_blocks: u32::try_from(of_blocks).unwrap_or(u32::MAX),
            });
        }
    }

    fn abort_tasks(&mut self, doomed: impl Fn(&Task) -> bool, by: AbortCause) {
        let ids: Vec<TaskId> =
            self.tasks.iter().filter(|(_, task)| doomed(task)).map(|(&id, _)| id).collect();
        for id in ids {
            if let Some(task) = self.tasks.remove(&id) {
                self.push_aborted(&task, by);
            }
        }
    }

    fn push_aborted(&mut self, task: &Task, by: AbortCause) {
        self.events.push(ArrayEvent::TaskAborted { lun: task.lun, nexus: task.nexus, tag: task.tag, by });
    }

    /// A power cycle of the controllers: PR state without APTPL is forgotten, and every nexus will be
    /// told of the reset by a unit attention that supersedes whatever was queued.
    fn reset(&mut self, reason: ResetCause) {
        self.resets += 1;
        for (&lun_id, lun) in &mut self.luns {
            lun.attention.reset();
            if !lun.pr.persists_through_power_loss() && !lun.pr.is_empty() {
                lun.pr.forget();
                self.events.push(ArrayEvent::ReservationsLost { lun: lun_id, reason });
            }
        }
    }
}
