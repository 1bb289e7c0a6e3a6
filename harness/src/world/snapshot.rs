//! The `snapshot` and `snapshot-revert` faults: a snapshot of a cluster node's VM, and the VM put
//! back to it.
//!
//! What a snapshot holds is what the VM's disks hold, the node's `failover::Disk` (its database
//! copies, ownership records and boot count), and with `memory` (vSphere's default for a powered-on
//! VM) the running guest: the whole `failover::Node` as it was. A running node's disk is its live
//! one; an off VM's is the one the world keeps for its next boot, and an off VM has no memory to
//! keep ([API-SNAP] in docs/hypervisor.md: a snapshot without memory is "powered off").
//!
//! A revert first discards the VM's present state as a power-off would. Without memory the VM is
//! left off, and whatever powers it on next boots the guest from the snapshot's disk. With memory
//! the VM is powered on at once and its node resumes from the snapshot's image instead of booting:
//! its beliefs, timers and incarnation of snapshot time. Its clock is not set back: a node reads its
//! host's monotonic clock, which the world runs on true time, so the guest sees all the time since
//! the snapshot pass in one step, as after a long stun (the guest's own clock would stand at the
//! snapshot's, until VMware Tools steps it; the node's leases then expire at once, which is the
//! safe reading; a guest that trusted the old tick count is not modelled). A memory snapshot of a
//! VM whose guest was still booting keeps that boot: the revert powers the VM on and the boot goes
//! on for what was left of it, then the node starts from the snapshot's disk.

use super::World;
use crate::history::{Event, NoEffect};
use emulators::{HostId, NetworkId};
use failover::{DbId, Disk, Node, NodeId};
use kernel::SimTime;

/// One VM's latest snapshot.
#[derive(Clone)]
pub(super) struct Snapshot {
    pub(super) taken_at: SimTime,
    disk: Disk,
    /// The guest in memory, for a memory snapshot of a VM that was on.
    memory: Option<Guest>,
    /// What the world derives from that running guest and a power-off forgets: the group addresses
    /// its NIC answered for and the databases it had mounted. Its memory holds them again on resume.
    held: Held,
    /// Outputs the paused guest had not carried out yet (a snapshot during a stun keeps them).
    outbox: Vec<failover::Output>,
}

/// What a memory snapshot holds of the guest of a VM that was on.
#[derive(Clone)]
enum Guest {
    /// Its node, running (or paused).
    Running(Box<Node>),
    /// A guest still booting, with this much of its boot left: a revert goes on with the boot.
    Booting { boot_left: core::time::Duration },
}

/// A memory image to resume, with what the world credited to it when it was taken.
pub(super) struct Resume {
    image: Node,
    held: Held,
    outbox: Vec<failover::Output>,
}

/// The world's record of what a running guest holds, kept with a memory image.
#[derive(Clone, Default)]
struct Held {
    addresses: Vec<(DbId, NetworkId)>,
    mounted: Vec<DbId>,
}

impl World<'_> {
    /// Keeps a copy of what the VM's node has on disk now and, with `memory` and the VM on, of the
    /// node itself. A paused VM is snapshotted too (its memory is there, paused).
    pub(super) fn take_snapshot(&mut self, vm: usize, memory: bool) -> Result<(), NoEffect> {
        let taken_at = self.now();
        let node = self.node_on(vm).ok_or(NoEffect::NoTarget)?;
        self.hypervisor_reachable(vm)?;
        let held = if memory { self.held_by(node) } else { Held::default() };
        let boot_left = self.guest_boots.boot_left(vm, taken_at).filter(|_| memory);
        let slot = &mut self.nodes[node];
        let snapshot = match (&slot.node, &slot.disk) {
            (Some(running), _) => Snapshot {
                taken_at,
                disk: running.disk().clone(),
                memory: memory.then(|| Guest::Running(Box::new(running.clone()))),
                held,
                outbox: if memory { slot.outbox.clone() } else { Vec::new() },
            },
            // Off, or on with its guest booting (a memory snapshot then keeps the boot).
            (None, Some(disk)) => Snapshot {
                taken_at,
                disk: disk.clone(),
                memory: boot_left.map(|boot_left| Guest::Booting { boot_left }),
                held: Held::default(),
                outbox: Vec::new(),
            },
            (None, None) => return Err(NoEffect::NoTarget),
        };
        let memory = snapshot.memory.is_some();
        slot.snapshot = Some(snapshot);
        self.record(Event::VmSnapshotTaken { vm: self.host_names[vm].clone(), memory });
        Ok(())
    }

    /// Puts the VM back to its latest snapshot. A VM that is on (running or paused) loses its
    /// present state first, as a power-off: its node's volatile state and the disk it had since are
    /// discarded. HA does not restart it: a revert is an operator's action, so vCenter unprotects a VM
    /// it leaves off (`operator_powered_vm`) until it is powered on again. A memory snapshot then
    /// powers the VM on, and its node resumes from the image (`World::boot`). Refused while the VM's
    /// hypervisor host is off (`hypervisor_reachable`).
    pub(super) fn revert_to_snapshot(&mut self, vm: usize) -> Result<(), NoEffect> {
        let node = self.node_on(vm).ok_or(NoEffect::NoTarget)?;
        self.hypervisor_reachable(vm)?;
        let snapshot = self.nodes[node].snapshot.clone().ok_or(NoEffect::NoSnapshot)?;
        if self.hosts.is_on(HostId(vm as u32)) {
            self.power_off_host(vm);
        }
        let memory = snapshot.memory.is_some();
        self.nodes[node].disk = Some(snapshot.disk);
        let name = self.host_names[vm].clone();
        self.record(Event::VmReverted { vm: name, taken_at: snapshot.taken_at, memory });
        // A revert is an operator's act: a VM it leaves off stays off (unprotected) until powered on.
        self.operator_powered_vm(vm, memory);
        match snapshot.memory {
            Some(Guest::Running(image)) => {
                self.nodes[node].resume =
                    Some(Resume { image: *image, held: snapshot.held, outbox: snapshot.outbox });
                self.power_on_host(vm);
                self.nodes[node].resume = None;
            }
            // The guest was booting: the VM comes back on with the rest of that boot to go (without
            // this the world left it off while the swarm, which drew a memory snapshot, counted it
            // running: `ha-ccr-nemesis` seed 848).
            Some(Guest::Booting { boot_left }) => {
                self.guest_boots.resume_with(vm, Some(boot_left));
                self.power_on_host(vm);
                self.guest_boots.resume_with(vm, None); // its host was down: the VM stays off
            }
            None => {}
        }
        Ok(())
    }

    /// vCenter acts on a VM through its hypervisor host: while that host is off, a snapshot or a
    /// revert of its VMs fails (the host is not connected) and the fault has no effect. Before, a
    /// revert "with memory" on a failed host put the disk back and dropped the image, while the
    /// history said the guest resumed and the checkers reopened its mounts (a false split-brain in a
    /// swarm with owner reverts).
    fn hypervisor_reachable(&self, vm: usize) -> Result<(), NoEffect> {
        if self.vm_may_power_on(vm) { Ok(()) } else { Err(NoEffect::HostNotRunning) }
    }

    /// The group addresses and mounts the world credits to a node's running guest now.
    fn held_by(&self, node: usize) -> Held {
        let addresses = self.addresses.claimed_by(node);
        let mounted = self.mounted.claimed_by(NodeId(node as u16));
        Held { addresses, mounted }
    }

    /// A guest resumed from a memory image holds again what it held at the snapshot: its NIC answers
    /// for the group addresses configured in it (ESXi announces the VM's MAC when it connects, so
    /// the switches learn where it is) and its databases are mounted in its memory. Without this the
    /// resumed owner believed it served while no client could reach it (ha-ccr-nemesis seeds 44
    /// and 232). Another node that took an address over since keeps it until it gives it up, as
    /// with two hosts claiming one address by ARP; the world routes to the latest claimant.
    /// `World::boot` calls it before the resumed node handles anything.
    pub(super) fn resume_image(&mut self, node: usize, resume: Resume) {
        let Resume { image, held, outbox } = resume;
        self.nodes[node].node = Some(image);
        for key in held.addresses {
            self.addresses.claim(key, node);
        }
        for db in held.mounted {
            self.mounted.claim(db, NodeId(node as u16));
            self.last_owner.insert(db, NodeId(node as u16));
        }
        if !outbox.is_empty() {
            self.carry_out(node, outbox);
        }
    }
}
