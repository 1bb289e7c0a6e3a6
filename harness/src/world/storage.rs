//! Shared storage in the world: the SAN array, every node's iSCSI initiator and multipath device,
//! and the wiring between them over the fabric's iSCSI networks.
//!
//! A node's storage request travels the way a real one does: the failover logic asks for an I/O, the
//! host's initiator picks a path (or the one the request pins) and puts a command PDU on that path's
//! network; the fabric delivers it (or drops it: a cut link, a dead NIC, an MTU black hole) to the
//! array controller on that network; the array accepts it into the LUN's task set and completes it
//! later; the response crosses the fabric back. Path checkers and NOP-Outs take the same route, so
//! what the initiator believes about its paths comes only from what got through.
//!
//! Everything the array does is recorded as ground truth for the checkers (the LUN is the fencing
//! oracle): applied and rejected writes with their nexus and epoch, reservation changes, preemptions
//! and aborts, lost caches and torn writes.

use super::gate::Packet;
use super::wake::{Component, WakeSlot};
use super::{Ev, World};
use crate::history::{self, Event, Name, ReservationAction};
use crate::scenario::{DiskAttach, Scenario};
use emulators::iscsi::{Initiator, InitiatorInput, InitiatorOutput, IoId, IoResult, PathIndex, Via};
use emulators::san::{
    Array, ArrayEvent, BlockContent, Command, Completion, LunConfig, Nexus, PrIn, PrOut, Reply,
    ReservationType, Sense, Status, Submitted,
};
use emulators::{ControllerId, HostId, LunId, NetworkId};
use failover::io::{StorageFailure, StorageOp, StorageResult};
use failover::{Input, RequestId, StoragePath};
use kernel::{SeedTree, SimTime};

/// Size of a NOP-Out or NOP-In PDU: one basic header segment.
const NOP_BYTES: u64 = 48;

/// The array, the initiators and what the world needs to route between them.
pub(super) struct Storage {
    pub array_host: usize,
    pub array: Array,
    /// Controller `i` listens on `networks[i]`; a node's path `i` is its NIC on the same network.
    pub networks: Vec<NetworkId>,
    pub network_names: Vec<Name>,
    pub lun_names: Vec<Name>,
    /// The database each LUN belongs to (`None` for the disk witness and spare LUNs).
    pub lun_db: Vec<Option<Name>>,
    /// One initiator per node, indexed like `World::nodes`.
    pub initiators: Vec<InitiatorSlot>,
    /// Bytes a message's write carries on the wire: the message body, whatever block it lands in.
    pub write_payload_bytes: u64,
    /// Whether every REGISTER asks for APTPL (`[storage] aptpl`).
    pub aptpl: bool,
    /// Per LUN: whether VMs attach it as a multi-writer virtual disk (`[[lun]] attach`), whose
    /// VMkernel answers their persistent-reservation commands itself, with ILLEGAL REQUEST.
    pub multi_writer: Vec<bool>,
}

pub(super) struct InitiatorSlot {
    pub initiator: Initiator,
    pub wake: WakeSlot,
    /// A `freeze` with `trigger = "next-write"` waits here for the node's next write: the auto-resume
    /// delay, if any.
    pub freeze_on_next_write: Option<Option<std::time::Duration>>,
}

/// Builds the array and one initiator per mailbox node, or `None` for a cluster without shared storage.
pub(super) fn build(
    scenario: &Scenario,
    seeds: &SeedTree,
    mailbox_hosts: &[usize],
    networks: &[NetworkId],
) -> Option<Storage> {
    let spec = scenario.storage.as_ref()?;
    let array_host = scenario.hosts.iter().position(|host| host.name == spec.array)?;
    let host_index = |name: &str| scenario.hosts.iter().position(|host| host.name == name);
    let backs_datastore =
        |lun: usize| scenario.ha.as_ref().is_some_and(|ha| ha.datastore_luns.contains(&Some(lun)));
    let luns: Vec<LunConfig> = scenario
        .luns
        .iter()
        .enumerate()
        .map(|(index, lun)| LunConfig {
            id: LunId(index as u16),
            name: lun.name.clone(),
            blocks: lun.blocks,
            read_only: lun.read_only,
            // A datastore's LUN is the hypervisor hosts' (whose reach of it `datastore.rs` judges),
            // never masked to a guest.
            masked_to: if backs_datastore(index) {
                Vec::new()
            } else {
                lun.present_to
                    .iter()
                    .filter_map(|host| host_index(host))
                    .map(|host| HostId(host as u32))
                    .collect()
            },
        })
        .collect();
    let array = Array::new(spec.array_config, luns, seeds.stream("san"));
    let network_ids: Vec<NetworkId> = spec
        .networks
        .iter()
        .filter_map(|name| scenario.networks.iter().position(|network| &network.name == name))
        .map(|index| networks[index])
        .collect();
    let initiator_config = spec.initiator;
    let lun_ids: Vec<LunId> = (0..scenario.luns.len()).map(|index| LunId(index as u16)).collect();
    let initiators = mailbox_hosts
        .iter()
        .map(|&host| {
            let (initiator, _) = Initiator::new(
                HostId(host as u32),
                initiator_config,
                network_ids.len() as u8,
                &lun_ids,
                SimTime::ZERO,
            );
            InitiatorSlot { initiator, wake: WakeSlot::default(), freeze_on_next_write: None }
        })
        .collect();
    let lun_db = scenario
        .luns
        .iter()
        .map(|lun| {
            scenario
                .databases
                .iter()
                .find(|db| db.disks().contains(&lun.name.as_str()))
                .map(|db| Name::from(db.name.as_str()))
        })
        .collect();
    Some(Storage {
        array_host,
        array,
        networks: network_ids,
        network_names: spec.networks.iter().map(|name| Name::from(name.as_str())).collect(),
        lun_names: scenario.luns.iter().map(|lun| Name::from(lun.name.as_str())).collect(),
        lun_db,
        initiators,
        write_payload_bytes: scenario.workload.message_size_bytes,
        aptpl: spec.aptpl,
        multi_writer: scenario.luns.iter().map(|lun| lun.attach == DiskAttach::MultiWriter).collect(),
    })
}

/// The SCSI command a failover storage operation becomes. Every REGISTER (an unregistration too, since
/// the most recent REGISTER governs APTPL for the whole LUN) carries the scenario's `aptpl`: without it
/// (the Windows default) an array reboot drops the reservations and the owner must re-assert them; with
/// it they persist through the reboot.
fn command_for(op: &StorageOp, writer: HostId, aptpl: bool) -> Command {
    let kind = ReservationType::WriteExclusiveRegistrantsOnly;
    match *op {
        // Connect never reaches the wire; `storage_request` answers it from the array's presentation.
        StorageOp::Connect => Command::Inquiry,
        StorageOp::Read { block } => Command::Read { lba: block, blocks: 1 },
        // ESE writes its log write-through (FUA), so an acknowledged commit is durable even on a
        // volatile cache.
        StorageOp::Write { block, payload, epoch } => {
            Command::Write { lba: block, data: vec![BlockContent { writer, epoch, payload }], fua: true }
        }
        StorageOp::Register { key } => {
            Command::PrOut(PrOut::RegisterIgnoreExistingKey { service_action_key: key, aptpl })
        }
        StorageOp::Unregister => {
            Command::PrOut(PrOut::RegisterIgnoreExistingKey { service_action_key: 0, aptpl })
        }
        StorageOp::Reserve { key } => Command::PrOut(PrOut::Reserve { key, kind }),
        StorageOp::Release { key } => Command::PrOut(PrOut::Release { key, kind }),
        StorageOp::Preempt { key, victim, abort: true } => {
            Command::PrOut(PrOut::PreemptAndAbort { key, victim_key: victim, kind })
        }
        StorageOp::Preempt { key, victim, abort: false } => {
            Command::PrOut(PrOut::Preempt { key, victim_key: victim, kind })
        }
        StorageOp::ReadKeys => Command::PrIn(PrIn::ReadKeys),
        StorageOp::ReadReservation => Command::PrIn(PrIn::ReadReservation),
    }
}

/// Whether a storage operation is a PERSISTENT RESERVE IN or OUT command.
fn is_reservation_command(op: &StorageOp) -> bool {
    !matches!(op, StorageOp::Connect | StorageOp::Read { .. } | StorageOp::Write { .. })
}

/// What the failover logic hears back for an I/O.
fn result_for(result: IoResult) -> StorageResult {
    match result {
        IoResult::Status(Status::Good(Reply::Data(blocks))) => StorageResult::Data {
            payload: blocks.first().copied().flatten().map(|content| (content.payload, content.epoch)),
        },
        IoResult::Status(Status::Good(Reply::Keys { keys, .. })) => StorageResult::Keys(keys),
        IoResult::Status(Status::Good(Reply::Reservation { holder, .. })) => {
            StorageResult::Reservation(holder)
        }
        IoResult::Status(Status::Good(Reply::None)) => StorageResult::Done,
        IoResult::Status(Status::ReservationConflict) => StorageResult::ReservationConflict,
        IoResult::Status(Status::CheckCondition(sense)) => StorageResult::Failed(match sense {
            Sense::UnitAttention(_) => StorageFailure::UnitAttention,
            Sense::DataProtect => StorageFailure::DataProtect,
            Sense::NotReady => StorageFailure::NotReady,
            Sense::IllegalRequest => StorageFailure::IllegalRequest,
            Sense::LunNotPresented => StorageFailure::NotPresented,
        }),
        IoResult::NoPath => StorageResult::Failed(StorageFailure::NoPath),
        IoResult::DeviceRemoved => StorageResult::Failed(StorageFailure::DeviceRemoved),
        IoResult::TimedOut => StorageResult::Failed(StorageFailure::TimedOut),
    }
}

impl World<'_> {
    fn storage_mut(&mut self) -> Option<&mut Storage> {
        self.storage.as_mut()
    }

    /// The history's nexus: the host and the iSCSI network of the controller, by name.
    fn nexus_name(&self, nexus: Nexus) -> history::Nexus {
        let host = self.host_names.get(nexus.host.0 as usize).cloned().unwrap_or_else(|| Name::from("?"));
        let network = self
            .storage
            .as_ref()
            .and_then(|storage| storage.network_names.get(nexus.controller.0 as usize).cloned())
            .unwrap_or_else(|| Name::from("?"));
        history::Nexus { host, network }
    }

    fn lun_name(&self, lun: LunId) -> Name {
        self.storage
            .as_ref()
            .and_then(|storage| storage.lun_names.get(lun.0 as usize).cloned())
            .unwrap_or_else(|| Name::from("?"))
    }

    /// A node asked for a storage operation.
    pub(super) fn storage_request(
        &mut self,
        node: usize,
        request: RequestId,
        lun: failover::LunId,
        path: Option<StoragePath>,
        op: StorageOp,
    ) {
        let now = self.now();
        let host = self.nodes[node].host;
        let Some(storage) = self.storage.as_mut() else {
            let input =
                Input::Storage { request, result: StorageResult::Failed(StorageFailure::NotPresented) };
            self.schedule_local(now, host, Packet::Node { node, input });
            return;
        };
        if storage.multi_writer.get(usize::from(lun.0)).copied().unwrap_or(false)
            && self.ha.as_ref().is_some_and(|ha| ha.placement.contains_key(&host))
            && is_reservation_command(&op)
        {
            // A VM's virtual disk: the VMkernel emulates the SCSI target and implements no PR, so
            // the command never reaches the array (docs/hypervisor.md, [KB-MW]).
            let input =
                Input::Storage { request, result: StorageResult::Failed(StorageFailure::IllegalRequest) };
            self.schedule_local(now, host, Packet::Node { node, input });
            return;
        }
        let Some(storage) = self.storage.as_mut() else { return };
        let slot = &mut storage.initiators[node];
        if matches!(op, StorageOp::Write { .. })
            && let Some(resume_after) = slot.freeze_on_next_write.take()
        {
            // The armed freeze fires now: this write, issued by the database just before the VM
            // stopped, stays in the guest's queue (the node's outbox) until it resumes.
            self.freeze_host(host, resume_after);
            self.nodes[node].outbox.push(failover::Effect::Storage { request, lun, path, op }.into());
            return;
        }
        if let StorageOp::Connect = op {
            let array_on = self.hosts.is_on(HostId(self.storage.as_ref().map_or(0, |s| s.array_host) as u32));
            let Some(storage) = self.storage.as_mut() else { return };
            let visible_at =
                if array_on { storage.array.present(now, HostId(host as u32), LunId(lun.0)) } else { None };
            let result = if visible_at.is_some() {
                StorageResult::Done
            } else {
                StorageResult::Failed(StorageFailure::NotReady)
            };
            let at = visible_at.unwrap_or(now);
            self.drain_array_events();
            // Request ids restart with every boot: an answer for an earlier boot must not reach the next.
            let boot = self.hosts.boot_count(HostId(host as u32));
            self.queue.schedule(at, Ev::ConnectAnswer { node, boot, request, result });
            return;
        }
        let aptpl = self.storage.as_ref().is_some_and(|storage| storage.aptpl);
        let command = command_for(&op, HostId(host as u32), aptpl);
        let via = match path {
            Some(StoragePath(index)) => Via::Path(PathIndex(index)),
            None => Via::Multipath,
        };
        let input = InitiatorInput::Submit { io: IoId(request), lun: LunId(lun.0), command, via };
        self.initiator_input(node, input);
    }

    /// An input for a node's initiator from its own host; it passes the host gate.
    pub(super) fn initiator_input(&mut self, node: usize, input: InitiatorInput) {
        let host = self.nodes[node].host;
        self.deliver_local(host, Packet::Initiator { node, input: Box::new(input) });
    }

    /// Feeds one input to the initiator of a node whose host runs, and carries out what it asks.
    pub(super) fn run_initiator(&mut self, node: usize, input: InitiatorInput) {
        let now = self.now();
        let Some(storage) = self.storage_mut() else { return };
        let outputs = storage.initiators[node].initiator.handle(now, input);
        self.carry_out_initiator(node, outputs);
    }

    fn carry_out_initiator(&mut self, node: usize, outputs: Vec<InitiatorOutput>) {
        let now = self.now();
        let host = self.nodes[node].host;
        let host_name = self.host_names[host].clone();
        for output in outputs {
            let Some(storage) = self.storage.as_ref() else { return };
            match output {
                InitiatorOutput::SendCommand { path, tag, lun, command, bytes } => {
                    let network = storage.networks.get(path.0 as usize).copied();
                    let array_host = storage.array_host;
                    // A message's write carries the message body on the wire, whatever block it lands in.
                    let bytes = match &command {
                        Command::Write { .. } => bytes.max(NOP_BYTES + storage.write_payload_bytes),
                        _ => bytes,
                    };
                    if let Some(network) = network {
                        let command = Box::new(command);
                        let packet = Packet::ArrayCommand { node, path: path.0, tag, lun, command };
                        self.send_packet(now, host, array_host, Some(network), bytes, packet);
                    }
                }
                InitiatorOutput::SendNop { path } => {
                    let network = storage.networks.get(path.0 as usize).copied();
                    let array_host = storage.array_host;
                    if let Some(network) = network {
                        let packet = Packet::ArrayNop { node, path: path.0 };
                        self.send_packet(now, host, array_host, Some(network), NOP_BYTES, packet);
                    }
                }
                InitiatorOutput::Complete { io, result } => {
                    let input = Input::Storage { request: io.0, result: result_for(result) };
                    self.node_input(node, input);
                }
                InitiatorOutput::PathState { path, up, reason } => {
                    let network = storage
                        .network_names
                        .get(path.0 as usize)
                        .cloned()
                        .unwrap_or_else(|| Name::from("?"));
                    self.record(Event::PathState { host: host_name.clone(), network, up, reason });
                }
                InitiatorOutput::DeviceRemoved { lun } => {
                    let lun = self.lun_name(lun);
                    self.record(Event::DeviceRemoved { host: host_name.clone(), lun });
                }
                InitiatorOutput::QueueReleased { lun, count } => {
                    let lun = self.lun_name(lun);
                    self.record(Event::QueueReleased { host: host_name.clone(), lun, count });
                }
                InitiatorOutput::WakeAt(at) => self.wake_at(Component::Initiator(node), at),
            }
        }
    }

    /// A LUN became visible to a node that asked to connect it (or the array could not present it).
    pub(super) fn connect_answer(
        &mut self,
        node: usize,
        boot: u32,
        request: RequestId,
        result: StorageResult,
    ) {
        let host = self.nodes[node].host;
        if self.hosts.boot_count(HostId(host as u32)) == boot {
            self.node_input(node, Input::Storage { request, result });
        }
    }

    /// A command PDU reached the array controller on `path`'s network.
    pub(super) fn at_array(&mut self, node: usize, path: u8, tag: u64, lun: LunId, command: Command) {
        let now = self.now();
        let host = self.nodes[node].host;
        let Some(storage) = self.storage.as_mut() else { return };
        let nexus = Nexus { host: HostId(host as u32), controller: ControllerId(path) };
        match storage.array.submit(now, nexus, lun, command, tag) {
            Submitted::Accepted { task, completes_at } => {
                self.queue.schedule(completes_at, Ev::ArrayTask { task });
            }
            Submitted::Answered(status) => self.respond(node, path, tag, status),
            Submitted::NoResponse => {}
        }
        self.drain_array_events();
    }

    /// An accepted task's completion time came: the array executes it (unless it was aborted).
    pub(super) fn array_task(&mut self, task: emulators::san::TaskId) {
        let now = self.now();
        let Some(storage) = self.storage.as_mut() else { return };
        let completion = storage.array.complete(now, task);
        self.drain_array_events();
        if let Some(Completion { nexus, tag, status, .. }) = completion
            && let Some(node) = self.nodes.iter().position(|slot| slot.host == nexus.host.0 as usize)
        {
            self.respond(node, nexus.controller.0, tag, status);
        }
    }

    /// A NOP-Out reached the controller; a live controller answers with a NOP-In.
    pub(super) fn nop_at_array(&mut self, node: usize, path: u8) {
        let Some(storage) = self.storage.as_ref() else { return };
        if !storage.array.port_answers(self.now(), ControllerId(path)) {
            return;
        }
        let (array_host, network) = (storage.array_host, storage.networks.get(path as usize).copied());
        let host = self.nodes[node].host;
        if let Some(network) = network {
            let input = Box::new(InitiatorInput::NopIn { path: PathIndex(path) });
            let packet = Packet::Initiator { node, input };
            self.send_packet(self.now(), array_host, host, Some(network), NOP_BYTES, packet);
        }
    }

    fn respond(&mut self, node: usize, path: u8, tag: u64, status: Status) {
        let Some(storage) = self.storage.as_ref() else { return };
        let (array_host, network) = (storage.array_host, storage.networks.get(path as usize).copied());
        let host = self.nodes[node].host;
        let bytes = NOP_BYTES
            + match &status {
                Status::Good(reply) => reply.wire_bytes(),
                _ => 0,
            };
        if let Some(network) = network {
            let input = Box::new(InitiatorInput::Response { path: PathIndex(path), tag, status });
            let packet = Packet::Initiator { node, input };
            self.send_packet(self.now(), array_host, host, Some(network), bytes, packet);
        }
    }

    /// Records what the array did since the last call: the fencing oracle's ground truth.
    pub(super) fn drain_array_events(&mut self) {
        let Some(storage) = self.storage.as_mut() else { return };
        let events = storage.array.take_events();
        for event in events {
            let recorded = match event {
                ArrayEvent::WriteApplied {
                    lun, nexus, key, holder_at_acceptance, contents, durable, ..
                } => {
                    let epoch = contents.first().map_or(0, |content| content.epoch);
                    let db =
                        self.storage.as_ref().and_then(|s| s.lun_db.get(lun.0 as usize).cloned().flatten());
                    Event::LunWrite {
                        lun: self.lun_name(lun),
                        db,
                        nexus: self.nexus_name(nexus),
                        key,
                        holder_at_acceptance,
                        epoch,
                        msgs: contents.iter().map(|content| content.payload).collect(),
                        durable,
                    }
                }
                ArrayEvent::WriteRejected { lun, nexus, reason, epoch } => Event::LunWriteRejected {
                    lun: self.lun_name(lun),
                    nexus: self.nexus_name(nexus),
                    epoch,
                    reason,
                },
                ArrayEvent::TaskAborted { lun, nexus, by, .. } => {
                    Event::LunTaskAborted { lun: self.lun_name(lun), nexus: self.nexus_name(nexus), by }
                }
                ArrayEvent::Registered { lun, nexus, key } => {
                    self.reservation(lun, nexus, ReservationAction::Registered, key)
                }
                ArrayEvent::Unregistered { lun, nexus, key } => {
                    self.reservation(lun, nexus, ReservationAction::Unregistered, key)
                }
                ArrayEvent::Reserved { lun, nexus, key, .. } => {
                    self.reservation(lun, nexus, ReservationAction::Reserved, key)
                }
                ArrayEvent::Released { lun, by, key } => {
                    self.reservation(lun, by, ReservationAction::Released, key)
                }
                ArrayEvent::Cleared { lun, by, key } => {
                    self.reservation(lun, by, ReservationAction::Cleared, key)
                }
                ArrayEvent::Preempted { lun, by, key, victim_key, victims, aborted } => Event::Preempted {
                    lun: self.lun_name(lun),
                    by: self.nexus_name(by),
                    key,
                    victim_key,
                    victims: victims.into_iter().map(|nexus| self.nexus_name(nexus)).collect(),
                    aborted,
                },
                ArrayEvent::ReservationsLost { lun, reason } => {
                    Event::ReservationsLost { lun: self.lun_name(lun), reason }
                }
                ArrayEvent::CachedWritesLost { lun, blocks } => {
                    Event::CachedWritesLost { lun: self.lun_name(lun), blocks }
                }
                ArrayEvent::TornWrite { lun, lba, applied_blocks, of_blocks } => {
                    Event::TornWrite { lun: self.lun_name(lun), lba, applied_blocks, of_blocks }
                }
                ArrayEvent::Presented { lun, host } => Event::LunPresented {
                    lun: self.lun_name(lun),
                    host: self.host_names.get(host.0 as usize).cloned().unwrap_or_else(|| Name::from("?")),
                },
            };
            self.record(recorded);
        }
    }

    fn reservation(&self, lun: LunId, nexus: Nexus, action: ReservationAction, key: u64) -> Event {
        Event::Reservation { lun: self.lun_name(lun), nexus: self.nexus_name(nexus), action, key }
    }

    /// A node's host lost power: the guest's initiator state is gone, and its commands still at the
    /// array may be torn or dropped; after boot it has to discover its LUNs again.
    pub(super) fn storage_host_power_loss(&mut self, node: usize) {
        let now = self.now();
        let host = self.nodes[node].host;
        let Some(storage) = self.storage.as_mut() else { return };
        let slot = &mut storage.initiators[node];
        let _ = slot.initiator.reset(now);
        slot.freeze_on_next_write = None;
        slot.wake.cancel();
        storage.array.initiator_power_loss(now, HostId(host as u32));
        storage.array.host_rebooted(HostId(host as u32));
        self.drain_array_events();
    }

    /// A node's host booted: its initiator logs in again and it rescans, discovering (probing) every
    /// LUN masked to it that it does not see yet: after a reboot, all of them.
    pub(super) fn storage_host_boot(&mut self, node: usize) {
        let now = self.now();
        let host = self.nodes[node].host;
        let Some(storage) = self.storage.as_mut() else { return };
        let _ = storage.array.rescan(now, HostId(host as u32));
        let outputs = storage.initiators[node].initiator.reset(now);
        self.carry_out_initiator(node, outputs);
        self.wake_component(Component::Initiator(node));
    }

    pub(super) fn array_power(&mut self, on: bool) {
        let now = self.now();
        let Some(storage) = self.storage.as_mut() else { return };
        if on {
            storage.array.power_on(now);
        } else {
            storage.array.power_loss(now);
        }
        self.drain_array_events();
    }

    /// Ground truth at the end of the run: what every LUN holds.
    pub(super) fn record_lun_contents(&mut self) {
        let Some(storage) = self.storage.as_ref() else { return };
        let mut contents: Vec<Event> = Vec::new();
        for (index, name) in storage.lun_names.iter().enumerate() {
            let mut held = failover::MessageSet::new();
            for (_, extent) in storage.array.extents(LunId(index as u16)) {
                held.insert_range(
                    extent.first.payload,
                    extent.first.payload.saturating_add(extent.blocks - 1),
                );
            }
            let msgs = held.ranges().collect();
            contents.push(Event::LunContents {
                lun: name.clone(),
                db: storage.lun_db.get(index).cloned().flatten(),
                msgs,
            });
        }
        for event in contents {
            self.record(event);
        }
    }
}
