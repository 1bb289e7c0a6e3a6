//! A VM's guest boot. A VM that powers on (HA's restart, a reset, a power fault, the host gate) is on
//! at once: `Hosts` says it runs, HA sees it on and its VMDK lock is held. Its guest then boots for
//! the VM's `boot_time`, and only then do its node, hub and witness share start, from what its disk
//! holds (`host-up`). Meanwhile it answers nothing: packets reaching it and its own local events are
//! lost, as on a host that is off. A power loss cancels the boot; a pause holds it (the boot finishes
//! on resume if it was due, since its end is a local event of the VM).
//!
//! A physical host boots at once (`gate.rs`, `host_booted`), which keeps every history without VMs
//! as it was.

use super::World;
use super::gate::Packet;
use crate::history::Event;
use core::time::Duration;
use kernel::SimTime;

/// Which hosts are booting a guest, each with the id of its boot and when it is due to end.
#[derive(Debug, Default)]
pub(super) struct GuestBoots {
    booting: Vec<Option<(u64, SimTime)>>,
    /// A boot to continue instead of starting one on the VM's next power-on: what was left of a
    /// boot a memory snapshot caught (`snapshot.rs`).
    resumes_with: Vec<Option<Duration>>,
    next: u64,
}

impl GuestBoots {
    pub(super) fn new(hosts: usize) -> GuestBoots {
        GuestBoots { booting: vec![None; hosts], resumes_with: vec![None; hosts], next: 0 }
    }

    pub(super) fn is_booting(&self, host: usize) -> bool {
        self.booting[host].is_some()
    }

    /// How much of `host`'s boot is left at `now`, if it is booting (none once due: a paused VM
    /// finishes a due boot when it resumes).
    pub(super) fn boot_left(&self, host: usize, now: SimTime) -> Option<Duration> {
        self.booting[host].map(|(_, ends)| ends.saturating_since(now))
    }

    /// The VM's next power-on continues a boot with `left` of it to go (`None`: it boots afresh).
    pub(super) fn resume_with(&mut self, host: usize, left: Option<Duration>) {
        self.resumes_with[host] = left;
    }

    fn start(&mut self, host: usize, ends: SimTime) -> u64 {
        self.next += 1;
        self.booting[host] = Some((self.next, ends));
        self.next
    }

    /// Forgets the boot of `host` (power loss).
    pub(super) fn cancel(&mut self, host: usize) {
        self.booting[host] = None;
    }

    /// Ends boot `boot` of `host`; false if it is not that host's current boot.
    fn finish(&mut self, host: usize, boot: u64) -> bool {
        if self.booting[host].map(|(id, _)| id) != Some(boot) {
            return false;
        }
        self.booting[host] = None;
        true
    }
}

impl World<'_> {
    /// VM `host` was powered on on hypervisor host `on`: its guest boots (or goes on with the boot a
    /// memory snapshot caught), or, with no boot time or into a memory snapshot's running guest, its
    /// software starts at once.
    pub(super) fn vm_powered_on(&mut self, host: usize, on: usize) {
        let (vm, on) = (self.host_names[host].clone(), self.host_names[on].clone());
        self.record(Event::VmPoweredOn { vm, on });
        let resumed_boot = self.guest_boots.resumes_with[host].take();
        let boot_time = resumed_boot.unwrap_or(self.scenario.hosts[host].boot_time);
        // A revert to a memory snapshot powers the VM on into the kept guest: nothing boots.
        let resumes = self.node_on(host).is_some_and(|node| self.nodes[node].resume.is_some());
        if boot_time.is_zero() || resumes {
            self.record(Event::HostUp { host: self.host_names[host].clone(), boot: true });
            return self.software_started(host);
        }
        let ends = self.now() + boot_time;
        let boot = self.guest_boots.start(host, ends);
        self.schedule_local(ends, host, Packet::GuestBooted { host, boot });
    }

    /// The guest of `host` finished boot `boot`: its software starts. A boot that a power loss
    /// cancelled (and any later one) is not this one.
    pub(super) fn guest_booted(&mut self, host: usize, boot: u64) {
        if !self.guest_boots.finish(host, boot) {
            return;
        }
        self.record(Event::HostUp { host: self.host_names[host].clone(), boot: true });
        self.software_started(host);
    }

    /// Whether `host`'s software executes: it runs and, if a VM, its guest has booted.
    pub(super) fn executing(&self, host: usize) -> bool {
        self.hosts.is_running(emulators::HostId(host as u32)) && !self.guest_boots.is_booting(host)
    }

    /// Whether a packet for `host` is lost because its guest is still booting (its own boot's end is
    /// the one thing that passes).
    pub(super) fn lost_to_boot(&self, host: usize, packet: &Packet) -> bool {
        self.guest_boots.is_booting(host) && !matches!(packet, Packet::GuestBooted { .. })
    }
}
