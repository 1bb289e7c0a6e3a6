//! The host gate: everything addressed to a host passes its run state, and pause, resume, power loss
//! and boot act on every component the host carries.
//!
//! A packet from the network goes through `arrive` (delivered, queued in the NIC's receive ring, or
//! lost); a local event (a process crash, an answer from the host's own storage stack) goes through
//! `deliver_local` (handled, held until resume, or lost). Nothing else decides whether a host runs.

use super::wake::Component;
use super::{Ev, World};
use crate::history::{Event, HostDownReason};
use emulators::dns::Answer;
use emulators::host::{Arrival, RunState};
use emulators::iscsi::InitiatorInput;
use emulators::{HostId, LunId, NetworkId};
use failover::{DbId, HubInput, Input, WitnessCall};
use std::time::Duration;

/// Something delivered to one component of a host.
#[derive(Debug)]
pub(super) enum Packet {
    Node {
        node: usize,
        input: Input,
    },
    Hub {
        hub: usize,
        input: HubInput,
    },
    /// A lock request reaching the file share witness.
    Witness {
        node: usize,
        call: WitnessCall,
    },
    /// A command PDU from `node`'s initiator reaching the array controller of its path `path`.
    ArrayCommand {
        node: usize,
        path: u8,
        tag: u64,
        lun: LunId,
        command: Box<emulators::san::Command>,
    },
    ArrayNop {
        node: usize,
        path: u8,
    },
    /// A response PDU or NOP-In reaching a node's initiator.
    Initiator {
        node: usize,
        input: Box<InitiatorInput>,
    },
    /// A query of a hub's `lookup` of `db`'s network name reaching the DNS server.
    DnsQuery {
        hub: usize,
        db: DbId,
        lookup: u64,
    },
    /// The DNS server's answer (`None`: no such name) to a query of `lookup`, reaching the hub's
    /// resolver.
    DnsAnswer {
        hub: usize,
        db: DbId,
        lookup: u64,
        answer: Option<Answer>,
    },
    /// A dynamic update from the node on `host` reaching the DNS server: `db`'s name now points at
    /// `host`'s address, cached for `ttl`.
    DnsUpdate {
        db: DbId,
        host: usize,
        ttl: Option<Duration>,
    },
    /// An input for the HA agent in slot `agent` (a message over the management network, or an
    /// answer from its own host: storage, a ping reply, a power-on result).
    Ha {
        agent: usize,
        input: emulators::hypervisor::HaInput,
    },
    /// The guest of VM `vm` finished the shutdown HA asked for on hypervisor host `on`.
    GuestShutDown {
        vm: usize,
        on: usize,
    },
    /// The guest of VM `host` finished its boot `boot` (`boot.rs`).
    GuestBooted {
        host: usize,
        boot: u64,
    },
    /// A hub's resolver timer: the `attempt`-th query of `lookup` went unanswered for its timeout.
    DnsTimer {
        hub: usize,
        db: DbId,
        lookup: u64,
        attempt: usize,
    },
}

impl World<'_> {
    /// A packet reached `host` on `network`.
    pub(super) fn arrive(&mut self, host: usize, network: NetworkId, packet: Packet) {
        if let Arrival::Deliver(packet) = self.hosts.arrive(HostId(host as u32), network, packet)
            && !self.lost_to_boot(host, &packet)
        {
            self.dispatch(packet);
        }
    }

    /// Something happened on `host` itself.
    pub(super) fn deliver_local(&mut self, host: usize, packet: Packet) {
        match self.hosts.state(HostId(host as u32)) {
            RunState::Running if self.lost_to_boot(host, &packet) => {}
            RunState::Running => self.dispatch(packet),
            RunState::Paused => self.local_held[host].push(packet),
            RunState::Off => {}
        }
    }

    /// Hands a packet to its component; only called while the component's host runs.
    fn dispatch(&mut self, packet: Packet) {
        match packet {
            Packet::Node { node, input } => self.run_node(node, input),
            Packet::Hub { hub, input } => self.run_hub(hub, input),
            Packet::Witness { node, call } => self.witness_arrive(node, call),
            Packet::ArrayCommand { node, path, tag, lun, command } => {
                self.at_array(node, path, tag, lun, *command)
            }
            Packet::ArrayNop { node, path } => self.nop_at_array(node, path),
            Packet::Initiator { node, input } => self.run_initiator(node, *input),
            Packet::DnsQuery { hub, db, lookup } => self.dns_query_arrive(hub, db, lookup),
            Packet::DnsAnswer { hub, db, lookup, answer } => self.dns_answer_arrive(hub, db, lookup, answer),
            Packet::DnsUpdate { db, host, ttl } => self.dns_update_arrive(db, host, ttl),
            Packet::DnsTimer { hub, db, lookup, attempt } => self.dns_timer(hub, db, lookup, attempt),
            Packet::Ha { agent, input } => self.run_agent(agent, input),
            Packet::GuestShutDown { vm, on } => self.guest_shut_down(vm, on),
            Packet::GuestBooted { host, boot } => self.guest_booted(host, boot),
        }
    }

    /// The components `host` carries.
    fn components_on(&self, host: usize) -> Vec<Component> {
        let mut components = Vec::new();
        if let Some(node) = self.node_on(host) {
            if self.storage.is_some() {
                components.push(Component::Initiator(node));
            }
            components.push(Component::Node(node));
        }
        if let Some(hub) = self.hub_on(host) {
            components.push(Component::Hub(hub));
        }
        if let Some(agent) = self.agent_on(host) {
            components.push(Component::Agent(agent));
        }
        components
    }

    pub(super) fn node_on(&self, host: usize) -> Option<usize> {
        self.nodes.iter().position(|slot| slot.host == host)
    }

    pub(super) fn hub_on(&self, host: usize) -> Option<usize> {
        self.hubs.iter().position(|slot| slot.host == host)
    }

    /// Pauses a running host (a VM stun or suspend). Returns whether it was running.
    pub(super) fn pause_host(&mut self, host: usize) -> bool {
        let now = self.now();
        if !self.hosts.pause(now, HostId(host as u32)) {
            return false;
        }
        // A booting guest was not executing anything, so its history shows no freeze of it.
        if !self.guest_boots.is_booting(host) {
            let name = self.host_names[host].clone();
            self.record(Event::HostDown { host: name, reason: HostDownReason::Freeze });
        }
        true
    }

    /// Resumes a paused host: its clock has run on, so every machine on it is woken first (the
    /// initiator, whose sessions may have timed out, then what the node had queued before the pause,
    /// then the node and the hub); then the receive rings are drained in arrival order, then local
    /// events that waited.
    pub(super) fn resume_host(&mut self, host: usize) -> bool {
        let Some(resumed) = self.hosts.resume(HostId(host as u32)) else { return false };
        let name = self.host_names[host].clone();
        if !self.guest_boots.is_booting(host) {
            self.record(Event::HostUp { host: name.clone(), boot: false });
        }
        let (packets, dropped) = (resumed.packets.len() as u64, resumed.dropped);
        self.record(Event::RingDrained { host: name, packets, dropped });
        let node = self.node_on(host);
        if let Some(node) = node {
            if self.storage.is_some() {
                self.wake_component(Component::Initiator(node));
            }
            let outbox = std::mem::take(&mut self.nodes[node].outbox);
            self.carry_out(node, outbox);
            self.wake_component(Component::Node(node));
        }
        if let Some(hub) = self.hub_on(host) {
            self.wake_component(Component::Hub(hub));
        }
        if let Some(agent) = self.agent_on(host) {
            self.wake_component(Component::Agent(agent));
        }
        for (network, packet) in resumed.packets {
            self.arrive(host, network, packet);
        }
        for packet in std::mem::take(&mut self.local_held[host]) {
            self.deliver_local(host, packet);
        }
        true
    }

    /// Cuts a host's power: everything volatile on it is gone.
    pub(super) fn power_off_host(&mut self, host: usize) -> bool {
        let now = self.now();
        if !self.hosts.power_off(now, HostId(host as u32)) {
            return false;
        }
        self.host_lost_power(host);
        true
    }

    /// Drops the volatile state of every component of a host that just lost power.
    pub(super) fn host_lost_power(&mut self, host: usize) {
        self.record(Event::HostDown { host: self.host_names[host].clone(), reason: HostDownReason::Power });
        self.local_held[host].clear();
        self.guest_boots.cancel(host);
        for component in self.components_on(host) {
            if let Some(slot) = self.wake_slot(component) {
                slot.cancel();
            }
        }
        if let Some(node) = self.node_on(host) {
            let slot = &mut self.nodes[node];
            if let Some(running) = slot.node.take() {
                slot.disk = Some(running.into_disk());
            }
            slot.outbox.clear();
            self.mounted.release_all(failover::NodeId(node as u16));
            self.addresses.release_all(node);
            self.storage_host_power_loss(node);
        }
        if Some(host) == self.witness_host {
            self.set_witness_up(false);
        }
        // The DNS server's zone is in Active Directory, on disk, and survives; the host's resolver
        // cache and its lookups in flight do not.
        self.dns_client_lost_power(host);
        if self.storage.as_ref().is_some_and(|storage| storage.array_host == host) {
            self.array_power(false);
        }
        // Last, so the host's own `host-down` comes before its VMs'.
        self.hypervisor_lost_power(host);
        self.vm_power_changed(host, false);
    }

    /// Restores a host's power. Returns whether it booted.
    pub(super) fn power_on_host(&mut self, host: usize) -> bool {
        let now = self.now();
        // A VM runs only while its hypervisor host does.
        if !self.vm_may_power_on(host) || !self.hosts.power_on(now, HostId(host as u32)) {
            return false;
        }
        self.host_booted(host);
        true
    }

    /// A host just got power back: the power-on's effects on the hardware now, its software when it
    /// has booted (`boot.rs`).
    pub(super) fn host_booted(&mut self, host: usize) {
        match self.vm_placement(host) {
            Some(on) => self.vm_powered_on(host, on),
            None => {
                self.record(Event::HostUp { host: self.host_names[host].clone(), boot: true });
                if self.storage.as_ref().is_some_and(|storage| storage.array_host == host) {
                    self.array_power(true);
                }
                self.software_started(host);
            }
        }
        self.hypervisor_booted(host);
        self.vm_power_changed(host, true);
    }

    /// Boots every component of a host whose software starts now (at power-on, or when a VM's guest
    /// has booted).
    pub(super) fn software_started(&mut self, host: usize) {
        if let Some(node) = self.node_on(host) {
            self.boot(node);
        }
        // The hub's queues and dumpster live in its queue database on disk (mail.que), so they
        // survive; it only has to notice the time that passed.
        if let Some(hub) = self.hub_on(host) {
            self.wake_component(Component::Hub(hub));
        }
        if Some(host) == self.witness_host {
            self.set_witness_up(true);
        }
    }

    /// Schedules a local event for `host` at `at`.
    pub(super) fn schedule_local(&mut self, at: kernel::SimTime, host: usize, packet: Packet) {
        self.queue.schedule(at, Ev::Local { host, packet });
    }
}
