//! The `snapshot` and `snapshot-revert` faults: a disk-only snapshot of a cluster node's VM, and the
//! VM put back to it.
//!
//! What a snapshot holds is what the VM's disks hold: the node's `failover::Disk` (its database
//! copies, ownership records and boot count). A running node's disk is its live one; an off VM's is
//! the one the world keeps for its next boot. No memory is kept: drill models the snapshot vSphere
//! takes with "Snapshot the virtual machine's memory" unchecked, whose power state is "powered off"
//! ([API-SNAP] in docs/hypervisor.md), so a revert leaves the VM off, and whatever powers it on
//! next (a `power-on` fault) boots the guest from the snapshot's disk, with its older epochs, older
//! logs and older boot count. Why not memory: resuming a guest from its memory at snapshot time
//! needs the whole in-memory node, its storage stack and its timers cloned, and is left for later.

use super::World;
use crate::history::{Event, NoEffect};
use emulators::HostId;

impl World<'_> {
    /// Keeps a copy of what the VM's node has on disk now. A VM that is off or paused is
    /// snapshotted too: its disk is there whatever it runs.
    pub(super) fn take_snapshot(&mut self, vm: usize) -> Result<(), NoEffect> {
        let now = self.now();
        let node = self.node_on(vm).ok_or(NoEffect::NoTarget)?;
        let slot = &mut self.nodes[node];
        let disk = match (&slot.node, &slot.disk) {
            (Some(running), _) => running.disk().clone(),
            (None, Some(disk)) => disk.clone(),
            (None, None) => return Err(NoEffect::NoTarget),
        };
        slot.snapshot = Some((now, disk));
        self.record(Event::VmSnapshotTaken { vm: self.host_names[vm].clone() });
        Ok(())
    }

    /// Puts the VM's disks back to its latest snapshot. A VM that is on (running or paused) loses
    /// its running state first, as a power-off: its node's volatile state, and the disk it had since,
    /// are discarded. The VM is left off; HA does not restart it (a revert is an operator's action,
    /// and the agent hears a plain power-off).
    pub(super) fn revert_to_snapshot(&mut self, vm: usize) -> Result<(), NoEffect> {
        let node = self.node_on(vm).ok_or(NoEffect::NoTarget)?;
        let (taken_at, disk) = self.nodes[node].snapshot.clone().ok_or(NoEffect::NoSnapshot)?;
        if self.hosts.is_on(HostId(vm as u32)) {
            self.power_off_host(vm);
        }
        self.nodes[node].disk = Some(disk);
        self.record(Event::VmReverted { vm: self.host_names[vm].clone(), taken_at });
        Ok(())
    }
}
