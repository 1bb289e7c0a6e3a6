//! The `vmotion` fault: a VM's live migration, carried out as the hypervisor emulator's
//! `VmotionStep`s (`emulators::hypervisor::vmotion`). The VM is paused on its source host through the
//! host gate (the same pause as a `freeze`: its timers are held and its packets wait in its receive
//! rings), and when the stun has run it is placed on the destination and resumed there, so its frames
//! ride the destination's NICs from the first one it sends.
//!
//! The guest clock step: the emulator steps the guest clock forward by the stun because a real
//! guest's clock stands still while it is stunned. The world's clocks never stand still: a host's
//! wall and monotonic clocks are functions of true time (`clock.rs`), paused or not, so on resume the
//! guest already reads the time the step would give it, on both clocks. Stepping the wall clock again
//! would count the stun twice, and the cluster node times its heartbeats on the monotonic clock,
//! which no step moves; so `StepGuestClock` changes nothing here, and what the guest notices of a
//! vMotion is the stun's length on both clocks, exactly as after a `freeze`.

use super::{Ev, World};
use crate::history::{Event, NoEffect};
use crate::scenario::HypervisorFault;
use emulators::HostId;
use emulators::hypervisor::vmotion::{Vmotion, VmotionStep};
use emulators::hypervisor::{HaInput, PlacementRule, VmId, VmotionConfig};

impl World<'_> {
    /// Starts a vMotion of the VM on world host `vm`: pauses it and schedules its switchover. Only a
    /// running VM with a running destination is moved. Snapshots are in `snapshot.rs`.
    pub(super) fn inject_hypervisor(&mut self, fault: &HypervisorFault, vm: usize) -> Result<(), NoEffect> {
        let (stun, to) = match fault {
            HypervisorFault::Vmotion { stun, to, .. } => (stun, to),
            HypervisorFault::Snapshot { memory, .. } => return self.take_snapshot(vm, *memory),
            HypervisorFault::SnapshotRevert { .. } => return self.revert_to_snapshot(vm),
        };
        let from = self.vm_placement(vm).ok_or(NoEffect::NoTarget)?;
        if !self.hosts.is_running(HostId(vm as u32)) {
            return Err(NoEffect::HostNotRunning);
        }
        let to = self.vmotion_destination(vm, from, to.as_deref()).ok_or(NoEffect::NoDestination)?;
        if !self.pause_host(vm) {
            return Err(NoEffect::HostNotRunning);
        }
        let config = VmotionConfig { stun: *stun, clock_step: None };
        let (motion, _paused) =
            Vmotion::start(self.now(), VmId(vm as u32), HostId(from as u32), HostId(to as u32), config);
        self.queue.schedule(motion.resume_at(), Ev::Vmotion(motion));
        Ok(())
    }

    /// Where the VM goes: `to` if it names a running host other than its own; without `to`, the
    /// first running hypervisor host its must-run-on rules allow that holds no VM it has an
    /// anti-affinity rule with (DRS obeys those rules on every migration).
    fn vmotion_destination(&self, vm: usize, from: usize, to: Option<&str>) -> Option<usize> {
        let ha = self.ha.as_ref()?;
        let running = |host: usize| host != from && self.hosts.is_running(HostId(host as u32));
        if let Some(name) = to {
            return self
                .scenario
                .hosts
                .iter()
                .position(|host| host.name == name)
                .filter(|&host| running(host));
        }
        let id = VmId(vm as u32);
        let apart = |host: usize| {
            ha.spec.cluster.rules.iter().all(|rule| match rule {
                PlacementRule::AntiAffinity { vms } if vms.contains(&id) => vms.iter().all(|other| {
                    *other == id
                        || self.vm_placement(other.0 as usize) != Some(host)
                        || !self.hosts.is_on(HostId(other.0))
                }),
                _ => true,
            })
        };
        ha.spec.allowed_hosts(vm).into_iter().find(|&host| running(host) && apart(host))
    }

    /// The switchover: the VM resumes on the destination, its agents told (the source's that it left,
    /// the destination's that it arrived). A VM no longer paused (resumed by a fault, or off with its
    /// host) has nothing to finish; a destination that went off meanwhile leaves it on its source.
    pub(super) fn finish_vmotion(&mut self, motion: Vmotion) {
        let vm = motion.vm.0 as usize;
        if self.hosts.state(HostId(vm as u32)) != emulators::host::RunState::Paused {
            tracing::info!(t = %self.now(), vm = %self.host_names[vm], "vmotion abandoned: the VM is not paused");
            return;
        }
        if !self.hosts.is_running(motion.to) {
            tracing::info!(t = %self.now(), vm = %self.host_names[vm], "vmotion failed: the destination is down");
            self.resume_host(vm);
            return;
        }
        for step in motion.finish() {
            match step {
                VmotionStep::Resume { host, .. } => {
                    self.vm_arrived(vm, motion.from.0 as usize, host.0 as usize)
                }
                // Already true of the world's clocks: see the module comment.
                VmotionStep::StepGuestClock { .. } | VmotionStep::Pause { .. } => {}
            }
        }
    }

    fn vm_arrived(&mut self, vm: usize, from: usize, to: usize) {
        let now = self.now();
        if let Some(ha) = self.ha.as_mut() {
            ha.placement.insert(vm, to);
        }
        let id = VmId(vm as u32);
        for (host, on) in [(from, false), (to, true)] {
            if let Some(agent) = self.agent_on(host) {
                self.ha_input(agent, HaInput::VmPower { vm: id, on }, now);
            }
        }
        let name = |host: usize| self.host_names[host].clone();
        self.record(Event::VmMigrated { vm: name(vm), from: name(from), to: name(to) });
        self.resume_host(vm);
    }
}
