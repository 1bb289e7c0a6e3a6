//! The failover nodes in the world: boot, inputs through the host gate, and carrying out every
//! `Output` through the emulators (fabric, witness, DNS, storage) into the history.

use super::World;
use super::gate::Packet;
use super::wake::Component;
use crate::history::{Event, Name};
use emulators::HostId;
use emulators::host::RunState;
use failover::io::{Effect, Note};
use failover::{Endpoint, HubInput, Input, Message, Node, NodeId, Output};
use kernel::SimTime;
use std::sync::Arc;

impl World<'_> {
    pub(super) fn boot(&mut self, node: usize) {
        let now = self.now();
        let host = self.nodes[node].host;
        let local = self.clocks[host].monotonic(now);
        let slot = &mut self.nodes[node];
        if let Some(resume) = slot.resume.take() {
            // A revert to a memory snapshot: the guest resumes where the snapshot left it.
            slot.disk = None;
            slot.wake.cancel();
            self.resume_image(node, resume);
            if self.storage.is_some() {
                self.storage_host_boot(node);
            }
            self.wake_component(super::wake::Component::Node(node));
            return;
        }
        let Some(disk) = slot.disk.take() else { return };
        let (booted, outputs) = Node::boot(NodeId(node as u16), Arc::clone(&self.config), disk, local);
        slot.node = Some(booted);
        slot.wake.cancel();
        // At time zero the lab is already running: sessions are logged in and LUNs discovered.
        if now > SimTime::ZERO {
            self.storage_host_boot(node);
        }
        self.carry_out(node, outputs);
    }

    /// An input for a node from its own host (a crash, an operator command, its storage stack): it
    /// passes the host gate like everything else.
    pub(super) fn node_input(&mut self, node: usize, input: Input) {
        let host = self.nodes[node].host;
        self.deliver_local(host, Packet::Node { node, input });
    }

    /// Runs one input through a node whose host runs.
    pub(super) fn run_node(&mut self, node: usize, input: Input) {
        let host = self.nodes[node].host;
        let local = self.clocks[host].monotonic(self.now());
        let Some(running) = self.nodes[node].node.as_mut() else { return };
        let outputs = running.handle(local, input);
        self.carry_out(node, outputs);
    }

    pub(super) fn node_name(&self, node: usize) -> Name {
        self.host_names[self.nodes[node].host].clone()
    }

    /// Carries out a node's outputs. If the host pauses part-way (a freeze triggered by one of these
    /// outputs), the rest wait in the node's outbox, as they would in the paused guest.
    /// Carries out a node's outputs in order: effects through the emulators, notes into the history.
    /// If the host pauses part-way (a freeze triggered by one of these effects), the rest wait in the
    /// node's outbox, as they would in the paused guest.
    pub(super) fn carry_out(&mut self, node: usize, outputs: Vec<Output>) {
        let host = self.nodes[node].host;
        let mut outputs = outputs.into_iter();
        while let Some(output) = outputs.next() {
            if !self.hosts.is_running(HostId(host as u32)) {
                if self.hosts.state(HostId(host as u32)) == RunState::Paused {
                    self.nodes[node].outbox.push(output);
                    self.nodes[node].outbox.extend(outputs);
                }
                return;
            }
            match output {
                Output::Effect(effect) => self.carry_out_effect(node, effect),
                Output::Note(note) => self.record_note(node, note),
            }
        }
    }

    /// What the driver must do for the node.
    fn carry_out_effect(&mut self, node: usize, effect: Effect) {
        let host = self.nodes[node].host;
        match effect {
            Effect::Send { to, path, message } => self.send_from_node(node, to, path, message),
            Effect::WakeAt(local) => {
                let at = self.clocks[host].monotonic_true_time(local);
                self.wake_at(Component::Node(node), at);
            }
            Effect::WitnessRequest(call) => self.witness_request(node, call),
            Effect::Storage { request, lun, path, op } => self.storage_request(node, request, lun, path, op),
            Effect::RegisterName { db } => self.register_name(node, db),
        }
    }

    /// What the node did, into the history (and the world's view of who serves what).
    fn record_note(&mut self, node: usize, note: Note) {
        let name = self.node_name(node);
        match note {
            Note::DiskArbitration { db, lun, step } => {
                let db = db.map(|db| self.db_names[db.0 as usize].clone());
                let lun = self
                    .scenario
                    .luns
                    .get(lun.0 as usize)
                    .map_or_else(|| Name::from("?"), |lun| Name::from(lun.name.as_str()));
                self.record(Event::DiskArbitration { node: name.clone(), db, lun, step });
            }
            Note::QuorumChanged { quorate, votes: voters, total_votes } => {
                let witness = voters.contains(&failover::Voter::Witness);
                let votes = voters
                    .into_iter()
                    .filter_map(|voter| match voter {
                        failover::Voter::Node(id) => Some(self.node_name(id.0 as usize)),
                        failover::Voter::Witness => None,
                    })
                    .collect();
                self.record(Event::Quorum { node: name.clone(), quorate, votes, witness, total_votes });
            }
            Note::Mounted { db, epoch, generation, lost_logs } => {
                self.mounted.claim(db, NodeId(node as u16));
                self.last_owner.insert(db, NodeId(node as u16));
                let db = self.db_names[db.0 as usize].clone();
                self.record(Event::Mounted { node: name.clone(), db, epoch, generation, lost_logs });
            }
            Note::Dismounted { db, reason } => {
                self.mounted.release(db, NodeId(node as u16));
                let db = self.db_names[db.0 as usize].clone();
                self.record(Event::Dismounted { node: name.clone(), db, reason });
            }
            Note::Committed { db, msg, epoch, generation } => {
                let db = self.db_names[db.0 as usize].clone();
                self.record(Event::Committed { node: name.clone(), db, msg, epoch, generation });
            }
            Note::DuplicateSuppressed { db, msg } => {
                let db = self.db_names[db.0 as usize].clone();
                self.record(Event::DuplicateSuppressed { node: name.clone(), db, msg });
            }
            Note::LogClosed { db, generation, epoch } => {
                let db = self.db_names[db.0 as usize].clone();
                self.record(Event::LogClosed { node: name.clone(), db, generation, epoch });
            }
            Note::LogReplayed { db, generation, epoch, messages } => {
                let db = self.db_names[db.0 as usize].clone();
                self.record(Event::LogReplayed { node: name.clone(), db, generation, epoch, messages });
            }
            Note::RolledBack { db, to_generation } => {
                let db = self.db_names[db.0 as usize].clone();
                self.record(Event::RolledBack { node: name.clone(), db, to_generation });
            }
            Note::ResourceState { db, resource, state } => {
                self.track_group_address(node, db, resource, state);
                let resource_name = self.scenario.databases[db.0 as usize]
                    .resources
                    .get(resource)
                    .map_or_else(|| Name::from("?"), |r| Name::from(r.name.as_str()));
                let group = self.db_names[db.0 as usize].clone();
                self.record(Event::Resource { node: name.clone(), group, resource: resource_name, state });
            }
            Note::MoveRefused { db, to, reason } => {
                let to = self.node_name(to.0 as usize);
                let db = self.db_names[db.0 as usize].clone();
                self.record(Event::MoveRefused { db, to, reason });
            }
            Note::FailoverDecided { db, from, to, epoch, reason } => {
                let from = from.map(|id| self.node_name(id.0 as usize));
                let to = self.node_name(to.0 as usize);
                let db = self.db_names[db.0 as usize].clone();
                self.record(Event::Failover { db, from, to, epoch, reason });
            }
        }
    }

    fn send_from_node(
        &mut self,
        node: usize,
        to: Endpoint,
        path: Option<failover::PathId>,
        mut message: Message,
    ) {
        let from_host = self.nodes[node].host;
        let network = path.and_then(|path| self.networks.get(path.0 as usize).copied());
        match to {
            Endpoint::Node(peer) => {
                let peer = peer.0 as usize;
                let to_host = self.nodes[peer].host;
                if let Message::LogData { db, corrupt, .. } = &mut message
                    && self.corrupt_next.remove(&(to_host, *db))
                {
                    *corrupt = true;
                }
                let bytes = message.wire_bytes();
                let from = Endpoint::Node(NodeId(node as u16));
                let packet = Packet::Node { node: peer, input: Input::Received { from, path, message } };
                self.send_packet(self.now(), from_host, to_host, network, bytes, packet);
            }
            Endpoint::Hub(hub) => {
                let hub = hub.0 as usize;
                let to_host = self.hubs[hub].host;
                let bytes = message.wire_bytes();
                let from = Endpoint::Node(NodeId(node as u16));
                let packet = Packet::Hub { hub, input: HubInput::Received { from, message } };
                self.send_packet(self.now(), from_host, to_host, network, bytes, packet);
            }
            Endpoint::DatabaseName(_) => {}
        }
    }
}
