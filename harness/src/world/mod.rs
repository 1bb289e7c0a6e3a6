//! The simulated world: emulators, nodes running the real failover logic, hubs, clients and faults,
//! driven by one discrete-event loop over true virtual time.
//!
//! The world is the only driver of the failover state machines here: it converts true time to each
//! node's local clock, carries every `Output` out through the emulators (fabric, power, witness, DNS)
//! and records what happened in the history. Nothing in a run reads the wall clock or an unseeded
//! random source, and the loop is single-threaded, so a seed replays byte for byte.

mod build;
mod clock;
mod faults;
mod storage;

use crate::check::{self, CheckConfig};
use crate::history::{DismountReason, Event, History, Name};
use crate::run::{RunOutcome, judge};
use crate::scenario::{HostRole, Scenario};
use clock::NodeClock;
use emulators::dns::{Dns, DnsConfig};
use emulators::fabric::{Fabric, PathState, Transmission};
use emulators::power::Power;
use emulators::witness::{FileShareWitness, WitnessConfig, WitnessReply};
use emulators::{HostId, NetworkId};
use failover::io::{ResourceState, StopReason};
use failover::{
    ClusterConfig, DbId, Disk, Endpoint, Hub, HubId, HubInput, HubOutput, Input, Message, Node, NodeId,
    Output, WitnessAnswer, WitnessOp,
};
use faults::Action;
use kernel::{EventQueue, RngStream, SeedTree, SimTime};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// TTL the cluster registers its network names with (the Exchange standby guidance, 300 s).
const NAME_TTL: Duration = Duration::from_secs(300);

enum Ev {
    NodeWake {
        node: usize,
        generation: u64,
    },
    HubWake {
        hub: usize,
        generation: u64,
    },
    NodeInput {
        node: usize,
        input: Input,
    },
    HubInput {
        hub: usize,
        input: HubInput,
    },
    WitnessArrive {
        node: usize,
        op: WitnessOp,
    },
    Submit,
    Fault(Box<Action>),
    /// A node's initiator asked to be woken.
    InitiatorWake {
        node: usize,
        generation: u64,
    },
    /// A command PDU from `node` reaches the array controller on its path `path`.
    AtArray {
        node: usize,
        path: u8,
        tag: u64,
        lun: emulators::LunId,
        command: Box<emulators::san::Command>,
    },
    NopAtArray {
        node: usize,
        path: u8,
    },
    /// The array presented a LUN a node asked to connect (`boot` is the node's boot it is for).
    ConnectAnswer {
        node: usize,
        boot: u32,
        request: failover::RequestId,
        result: failover::io::StorageResult,
    },
    /// An accepted array task reaches its completion time.
    ArrayTask {
        task: emulators::san::TaskId,
    },
    /// A response PDU or NOP-In reaches a node's initiator.
    InitiatorIn {
        node: usize,
        input: Box<emulators::iscsi::InitiatorInput>,
    },
    End,
}

struct NodeSlot {
    host: usize,
    node: Option<Node>,
    disk: Option<Disk>,
    clock: NodeClock,
    frozen: bool,
    held: Vec<Input>,
    wake_generation: u64,
    wake_at: Option<SimTime>,
}

struct HubSlot {
    host: usize,
    hub: Hub,
    wake_generation: u64,
    wake_at: Option<SimTime>,
}

pub struct World<'s> {
    scenario: &'s Scenario,
    seed: u64,
    queue: EventQueue<Ev>,
    history: History,
    fabric: Fabric,
    networks: Vec<NetworkId>,
    power: Power,
    witness: Option<FileShareWitness>,
    witness_host: Option<usize>,
    dns: Dns,
    config: Arc<ClusterConfig>,
    nodes: Vec<NodeSlot>,
    hubs: Vec<HubSlot>,
    host_names: Vec<Name>,
    db_names: Vec<Name>,
    workload: RngStream,
    next_message: u64,
    /// Which node each database was last seen mounted on (for role targets such as `active`).
    mounted: BTreeMap<DbId, NodeId>,
    last_owner: BTreeMap<DbId, NodeId>,
    corrupt_next: BTreeSet<(usize, DbId)>,
    last_fault_at: SimTime,
    nemesis: RngStream,
    storage: Option<storage::Storage>,
}

/// Runs `scenario` with `seed` to the end and judges it.
pub fn run_scenario(scenario: &Scenario, seed: u64) -> RunOutcome {
    let mut world = World::new(scenario, seed);
    world.run();
    world.finish()
}

impl<'s> World<'s> {
    pub fn new(scenario: &'s Scenario, seed: u64) -> World<'s> {
        let seeds = SeedTree::new(seed);
        let (fabric, networks) = build::fabric(scenario, &seeds);
        let mailbox_hosts = build::hosts_with_role(scenario, HostRole::Mailbox);
        let hub_hosts = build::hosts_with_role(scenario, HostRole::Hub);
        let config = Arc::new(build::cluster_config(scenario, &mailbox_hosts, &hub_hosts));
        let storage = storage::build(scenario, &seeds, &mailbox_hosts, &networks);
        let mut power = Power::new();
        for index in 0..scenario.hosts.len() {
            power.add_host(HostId(index as u32));
        }
        let mut racks: BTreeMap<&str, Vec<HostId>> = BTreeMap::new();
        for (index, host) in scenario.hosts.iter().enumerate() {
            if let Some(rack) = &host.rack {
                racks.entry(rack.as_str()).or_default().push(HostId(index as u32));
            }
        }
        for (rack, hosts) in &racks {
            power.add_rack(rack, hosts);
        }
        let witness_host = scenario
            .cluster
            .witness
            .as_ref()
            .and_then(|name| scenario.hosts.iter().position(|h| &h.name == name));
        let witness = witness_host.map(|host| {
            FileShareWitness::new(
                HostId(host as u32),
                WitnessConfig { lock_lease: scenario.cluster.witness_lease, ..WitnessConfig::default() },
            )
        });
        let nodes = mailbox_hosts
            .iter()
            .map(|&host| NodeSlot {
                host,
                node: None,
                disk: Some(Disk::default()),
                clock: NodeClock::new(
                    scenario.hosts[host].clock_offset_nanos,
                    scenario.hosts[host].clock_drift_ppm,
                ),
                frozen: false,
                held: Vec::new(),
                wake_generation: 0,
                wake_at: None,
            })
            .collect();
        let hub_config = build::hub_config(scenario);
        let hubs = hub_hosts
            .iter()
            .enumerate()
            .map(|(index, &host)| HubSlot {
                host,
                hub: Hub::new(HubId(index as u16), hub_config.clone(), failover::LocalTime::ZERO),
                wake_generation: 0,
                wake_at: None,
            })
            .collect();
        World {
            scenario,
            seed,
            queue: EventQueue::new(),
            history: History::new(),
            fabric,
            networks,
            power,
            witness,
            witness_host,
            dns: Dns::new(DnsConfig::default()),
            config,
            nodes,
            hubs,
            host_names: scenario.hosts.iter().map(|host| Name::from(host.name.as_str())).collect(),
            db_names: scenario.databases.iter().map(|db| Name::from(db.name.as_str())).collect(),
            workload: seeds.stream("workload"),
            next_message: 1,
            mounted: BTreeMap::new(),
            last_owner: BTreeMap::new(),
            corrupt_next: BTreeSet::new(),
            last_fault_at: SimTime::ZERO,
            nemesis: seeds.stream("nemesis"),
            storage,
        }
    }

    fn now(&self) -> SimTime {
        self.queue.now()
    }

    fn record(&mut self, event: Event) {
        let now = self.now();
        self.history.push(now, event);
    }

    /// Schedules the boot of every node, the workload, the fault schedule and the end.
    fn start(&mut self) {
        self.record(Event::RunStarted { scenario: Name::from(self.scenario.name.as_str()), seed: self.seed });
        if let Some(lun) = &self.scenario.cluster.disk_witness {
            self.record(Event::WitnessDisk { lun: Name::from(lun.as_str()) });
        }
        for node in 0..self.nodes.len() {
            self.boot(node);
        }
        let start = SimTime::ZERO + self.scenario.workload.start;
        if self.scenario.workload.rate_per_second > 0.0 {
            self.queue.schedule(start, Ev::Submit);
        }
        for action in faults::schedule(self.scenario, &mut self.nemesis) {
            self.queue.schedule(SimTime::ZERO + action.at, Ev::Fault(Box::new(action)));
        }
        self.queue.schedule(SimTime::ZERO + self.scenario.duration, Ev::End);
    }

    pub fn run(&mut self) {
        self.start();
        while let Some((_, event)) = self.queue.pop() {
            match event {
                Ev::End => break,
                Ev::NodeWake { node, generation } => {
                    if self.nodes[node].wake_generation == generation {
                        self.nodes[node].wake_at = None;
                        self.node_input(node, Input::Wake);
                    }
                }
                Ev::HubWake { hub, generation } => {
                    if self.hubs[hub].wake_generation == generation {
                        self.hubs[hub].wake_at = None;
                        self.hub_input(hub, HubInput::Wake);
                    }
                }
                Ev::NodeInput { node, input } => self.node_input(node, input),
                Ev::HubInput { hub, input } => self.hub_input(hub, input),
                Ev::WitnessArrive { node, op } => self.witness_arrive(node, op),
                Ev::Submit => self.submit(),
                Ev::Fault(action) => self.apply(*action),
                Ev::InitiatorWake { node, generation } => self.initiator_wake(node, generation),
                Ev::AtArray { node, path, tag, lun, command } => {
                    self.at_array(node, path, tag, lun, *command)
                }
                Ev::NopAtArray { node, path } => self.nop_at_array(node, path),
                Ev::ArrayTask { task } => self.array_task(task),
                Ev::ConnectAnswer { node, boot, request, result } => {
                    self.connect_answer(node, boot, request, result)
                }
                Ev::InitiatorIn { node, input } => self.initiator_input(node, *input),
            }
        }
        self.record_lun_contents();
        self.record(Event::RunEnded);
    }

    /// Runs the checkers over the history and judges the outcome.
    pub fn finish(self) -> RunOutcome {
        let checks = &self.scenario.checks;
        let config = CheckConfig {
            rto: checks.rto,
            max_lost_acked: checks.max_lost_acked,
            liveness_bound: checks.liveness_bound,
            expected_outage: checks
                .expected_outage
                .map(|window| (SimTime::ZERO + window.from, window.to.map(|to| SimTime::ZERO + to))),
            final_heal: self.last_fault_at,
            end: self.queue.now(),
            copy_lag_tolerance: 2,
        };
        let report = check::check_all(&self.history, &config);
        let (verdict, as_expected, exit_code) = judge(self.scenario, &report);
        RunOutcome {
            scenario: self.scenario.name.clone(),
            scenario_path: self.scenario.path.display().to_string(),
            seed: self.seed,
            history: self.history,
            report,
            verdict,
            expected: self.scenario.expect,
            as_expected,
            exit_code,
        }
    }

    // ----- nodes -----

    fn boot(&mut self, node: usize) {
        let now = self.now();
        let slot = &mut self.nodes[node];
        let Some(disk) = slot.disk.take() else { return };
        let local = slot.clock.local(now);
        let (booted, outputs) = Node::boot(NodeId(node as u16), Arc::clone(&self.config), disk, local);
        slot.node = Some(booted);
        slot.frozen = false;
        // At time zero the lab is already running: sessions are logged in and LUNs discovered.
        if now > SimTime::ZERO {
            self.storage_host_boot(node);
        }
        self.carry_out(node, outputs);
    }

    fn node_input(&mut self, node: usize, input: Input) {
        let now = self.now();
        let host = self.nodes[node].host;
        if !self.power.is_on(HostId(host as u32)) {
            return;
        }
        let slot = &mut self.nodes[node];
        if slot.frozen {
            // A frozen VM does not drain its NIC's receive ring, so packets sent to it are lost; local
            // events (a crashed process, an operator command) wait and are handled when it resumes.
            if !matches!(input, Input::Wake | Input::Received { .. } | Input::Witness { .. }) {
                slot.held.push(input);
            }
            return;
        }
        let local = slot.clock.local(now);
        let Some(running) = slot.node.as_mut() else { return };
        let outputs = running.handle(local, input);
        self.carry_out(node, outputs);
    }

    fn node_name(&self, node: usize) -> Name {
        self.host_names[self.nodes[node].host].clone()
    }

    fn carry_out(&mut self, node: usize, outputs: Vec<Output>) {
        let name = self.node_name(node);
        for output in outputs {
            match output {
                Output::Send { to, path, message } => self.send_from_node(node, to, path, message),
                Output::WakeAt(local) => {
                    let at = self.nodes[node].clock.true_time(local).max(self.now());
                    let slot = &mut self.nodes[node];
                    if slot.wake_at != Some(at) {
                        slot.wake_generation += 1;
                        slot.wake_at = Some(at);
                        let generation = slot.wake_generation;
                        self.queue.schedule(at, Ev::NodeWake { node, generation });
                    }
                }
                Output::WitnessRequest(op) => self.witness_request(node, op),
                Output::Storage { request, lun, path, op } => {
                    self.storage_request(node, request, lun, path, op)
                }
                Output::DiskArbitration { db, lun, step } => {
                    let db = db.map(|db| self.db_names[db.0 as usize].clone());
                    let lun = self
                        .scenario
                        .luns
                        .get(lun.0 as usize)
                        .map_or_else(|| Name::from("?"), |lun| Name::from(lun.name.as_str()));
                    let step = Name::from(arbitration_step(step));
                    self.record(Event::DiskArbitration { node: name.clone(), db, lun, step });
                }
                Output::RegisterName { db } => {
                    let host = self.nodes[node].host;
                    let now = self.now();
                    self.dns.register(
                        now,
                        &self.db_names[db.0 as usize],
                        HostId(host as u32),
                        Some(NAME_TTL),
                    );
                }
                Output::QuorumChanged { quorate, votes, total_votes } => {
                    let votes = votes
                        .into_iter()
                        .map(|voter| match voter {
                            failover::Voter::Node(id) => self.node_name(id.0 as usize),
                            failover::Voter::Witness => Name::from("witness"),
                        })
                        .collect();
                    self.record(Event::Quorum { node: name.clone(), quorate, votes, total_votes });
                }
                Output::Mounted { db, epoch, generation, lost_logs } => {
                    tracing::info!(t = %self.now(), node = %name, db = %self.db_names[db.0 as usize], epoch, lost_logs, "mounted");
                    self.mounted.insert(db, NodeId(node as u16));
                    self.last_owner.insert(db, NodeId(node as u16));
                    let db = self.db_names[db.0 as usize].clone();
                    self.record(Event::Mounted { node: name.clone(), db, epoch, generation, lost_logs });
                }
                Output::Dismounted { db, reason } => {
                    if self.mounted.get(&db) == Some(&NodeId(node as u16)) {
                        self.mounted.remove(&db);
                    }
                    let reason = match reason {
                        StopReason::QuorumLost => DismountReason::QuorumLost,
                        StopReason::Moved => DismountReason::Moved,
                        StopReason::ResourceFailed => DismountReason::ResourceFailed,
                        StopReason::Deposed => DismountReason::Deposed,
                        StopReason::Fenced => DismountReason::Fenced,
                    };
                    let db = self.db_names[db.0 as usize].clone();
                    self.record(Event::Dismounted { node: name.clone(), db, reason });
                }
                Output::Committed { db, msg, epoch, generation } => {
                    let db = self.db_names[db.0 as usize].clone();
                    self.record(Event::Committed { node: name.clone(), db, msg, epoch, generation });
                }
                Output::DuplicateSuppressed { db, msg } => {
                    let db = self.db_names[db.0 as usize].clone();
                    self.record(Event::DuplicateSuppressed { node: name.clone(), db, msg });
                }
                Output::LogClosed { db, generation, epoch } => {
                    let db = self.db_names[db.0 as usize].clone();
                    self.record(Event::LogClosed { node: name.clone(), db, generation, epoch });
                }
                Output::LogReplayed { db, generation, epoch, messages } => {
                    let db = self.db_names[db.0 as usize].clone();
                    self.record(Event::LogReplayed { node: name.clone(), db, generation, epoch, messages });
                }
                Output::RolledBack { db, to_generation } => {
                    let db = self.db_names[db.0 as usize].clone();
                    self.record(Event::RolledBack { node: name.clone(), db, to_generation });
                }
                Output::ResourceState { db, resource, state } => {
                    let resource_name = self.scenario.databases[db.0 as usize]
                        .resources
                        .get(resource)
                        .map_or_else(|| Name::from("?"), |r| Name::from(r.name.as_str()));
                    let state = Name::from(match state {
                        ResourceState::OnlinePending => "online-pending",
                        ResourceState::Online => "online",
                        ResourceState::Offline => "offline",
                        ResourceState::Failed => "failed",
                        ResourceState::Restarting => "restarting",
                    });
                    let group = self.db_names[db.0 as usize].clone();
                    self.record(Event::Resource {
                        node: name.clone(),
                        group,
                        resource: resource_name,
                        state,
                    });
                }
                Output::FailoverDecided { db, from, to, epoch, reason } => {
                    let from = from.map(|id| self.node_name(id.0 as usize));
                    let to = self.node_name(to.0 as usize);
                    let reason = Name::from(format!("{reason:?}").to_lowercase().as_str());
                    tracing::info!(t = %self.now(), db = %self.db_names[db.0 as usize], ?from, %to, epoch, %reason, "failover decided");
                    let db = self.db_names[db.0 as usize].clone();
                    self.record(Event::Failover { db, from, to, epoch, reason });
                }
            }
        }
    }

    // ----- the network -----

    /// The network a message takes when the sender does not pin a path: the sender's first NIC (in
    /// the order its `networks` list gives) whose path to the receiver is up, as a multi-homed host's
    /// routing would choose. Listing a replication network first is how a scenario ships logs over it.
    /// iSCSI networks carry storage traffic only (cluster communication is disabled on them).
    fn route(&self, from: usize, to: usize) -> Option<NetworkId> {
        let shared = self.fabric.networks_between(HostId(from as u32), HostId(to as u32));
        let storage_networks: &[NetworkId] = self.storage.as_ref().map_or(&[], |storage| &storage.networks);
        let preference: Vec<NetworkId> = self.scenario.hosts[from]
            .networks
            .iter()
            .filter_map(|name| self.fabric.network_id(name))
            .filter(|network| shared.contains(network) && !storage_networks.contains(network))
            .collect();
        preference
            .iter()
            .copied()
            .find(|&network| {
                self.fabric.path_state(HostId(from as u32), HostId(to as u32), network) == PathState::Up
            })
            .or_else(|| preference.first().copied())
    }

    /// Puts a message on the wire; returns its arrival time, or `None` if it was dropped.
    fn transmit(
        &mut self,
        from: usize,
        to: usize,
        network: Option<NetworkId>,
        bytes: u64,
    ) -> Option<SimTime> {
        let now = self.now();
        if !self.power.is_on(HostId(from as u32)) {
            return None;
        }
        let network = network.or_else(|| self.route(from, to))?;
        match self.fabric.transmit_message(now, HostId(from as u32), HostId(to as u32), network, bytes) {
            Transmission::Delivered { at } => Some(at),
            Transmission::Dropped(_) => None,
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
                if let Some(at) = self.transmit(from_host, to_host, network, message.wire_bytes()) {
                    let from = Endpoint::Node(NodeId(node as u16));
                    self.queue.schedule(
                        at,
                        Ev::NodeInput { node: peer, input: Input::Received { from, path, message } },
                    );
                }
            }
            Endpoint::Hub(hub) => {
                let hub = hub.0 as usize;
                let to_host = self.hubs[hub].host;
                if let Some(at) = self.transmit(from_host, to_host, network, message.wire_bytes()) {
                    let from = Endpoint::Node(NodeId(node as u16));
                    self.queue
                        .schedule(at, Ev::HubInput { hub, input: HubInput::Received { from, message } });
                }
            }
            Endpoint::DatabaseName(_) => {}
        }
    }

    // ----- the witness -----

    fn witness_request(&mut self, node: usize, op: WitnessOp) {
        let Some(witness_host) = self.witness_host else { return };
        let from_host = self.nodes[node].host;
        if let Some(at) = self.transmit(from_host, witness_host, None, 200) {
            self.queue.schedule(at, Ev::WitnessArrive { node, op });
        }
    }

    fn witness_arrive(&mut self, node: usize, op: WitnessOp) {
        let now = self.now();
        let (Some(witness_host), Some(witness)) = (self.witness_host, self.witness.as_mut()) else { return };
        if !self.power.is_on(HostId(witness_host as u32)) {
            return;
        }
        let node_host = self.nodes[node].host;
        let reply = witness.request(
            now,
            HostId(node_host as u32),
            match op {
                WitnessOp::Acquire => emulators::witness::WitnessOp::Acquire,
                WitnessOp::Renew => emulators::witness::WitnessOp::Renew,
                WitnessOp::Release => emulators::witness::WitnessOp::Release,
            },
        );
        let delay = witness.response_delay();
        let answer = match reply {
            WitnessReply::Granted { lease_until } => {
                let host = self.host_names[node_host].clone();
                self.record(Event::WitnessLease { host, until: lease_until });
                WitnessAnswer::Granted { lease: lease_until - now }
            }
            WitnessReply::Released => {
                self.record(Event::WitnessReset { reason: Name::from("released") });
                WitnessAnswer::Released
            }
            WitnessReply::Denied { .. } | WitnessReply::NotHeld => WitnessAnswer::Denied,
            WitnessReply::Unavailable => WitnessAnswer::Unavailable,
        };
        // The answer leaves after the share's response delay and crosses the network back.
        let send_at = now + delay;
        let network = self.route(witness_host, node_host);
        if let Some(network) = network
            && let Transmission::Delivered { at } = self.fabric.transmit_message(
                send_at,
                HostId(witness_host as u32),
                HostId(node_host as u32),
                network,
                200,
            )
        {
            self.queue.schedule(at, Ev::NodeInput { node, input: Input::Witness { op, answer } });
        }
    }

    // ----- hubs and clients -----

    fn submit(&mut self) {
        let now = self.now();
        let stop = SimTime::ZERO + self.scenario.workload.stop;
        if now >= stop || self.db_names.is_empty() || self.hubs.is_empty() {
            return;
        }
        let msg = self.next_message;
        self.next_message += 1;
        let db = DbId(self.workload.below(self.db_names.len() as u64) as u16);
        let hub = (msg as usize) % self.hubs.len();
        let bytes = u32::try_from(self.scenario.workload.message_size_bytes).unwrap_or(u32::MAX);
        if self.power.is_on(HostId(self.hubs[hub].host as u32)) {
            let hub_name = self.host_names[self.hubs[hub].host].clone();
            self.record(Event::Submitted { msg, db: self.db_names[db.0 as usize].clone(), hub: hub_name });
            self.hub_input(hub, HubInput::Submit { msg, db, bytes });
        }
        let mean = Duration::from_secs_f64(1.0 / self.scenario.workload.rate_per_second);
        let next = now + self.workload.exponential(mean);
        self.queue.schedule(next, Ev::Submit);
    }

    fn hub_input(&mut self, hub: usize, input: HubInput) {
        let now = self.now();
        let host = self.hubs[hub].host;
        if !self.power.is_on(HostId(host as u32)) {
            return;
        }
        // Hubs keep true time: nothing in this slice skews a hub's clock.
        let local = failover::LocalTime(now.as_nanos());
        let outputs = self.hubs[hub].hub.handle(local, input);
        for output in outputs {
            match output {
                HubOutput::Send { to, message } => self.send_from_hub(hub, to, message),
                HubOutput::WakeAt(local) => {
                    let at = SimTime::from_nanos(local.0).max(now);
                    let slot = &mut self.hubs[hub];
                    if slot.wake_at != Some(at) {
                        slot.wake_generation += 1;
                        slot.wake_at = Some(at);
                        let generation = slot.wake_generation;
                        self.queue.schedule(at, Ev::HubWake { hub, generation });
                    }
                }
                HubOutput::ClientAck { msg, db, node, epoch } => {
                    let node = self.node_name(node.0 as usize);
                    let db = self.db_names[db.0 as usize].clone();
                    self.record(Event::Acked { msg, db, node, epoch });
                }
                HubOutput::FlushName { .. } => self.dns.flush_cache(HostId(host as u32)),
                HubOutput::Resubmitted { db, count } => {
                    let hub_name = self.host_names[host].clone();
                    let db = self.db_names[db.0 as usize].clone();
                    self.record(Event::Resubmitted { hub: hub_name, db, count });
                }
            }
        }
    }

    fn send_from_hub(&mut self, hub: usize, to: Endpoint, message: Message) {
        let now = self.now();
        let from_host = self.hubs[hub].host;
        let target = match to {
            Endpoint::DatabaseName(db) => self
                .dns
                .resolve(now, HostId(from_host as u32), &self.db_names[db.0 as usize])
                .and_then(|host| self.nodes.iter().position(|slot| slot.host == host.0 as usize)),
            Endpoint::Node(node) => Some(node.0 as usize),
            Endpoint::Hub(_) => None,
        };
        let Some(node) = target else {
            // The name does not resolve yet: the hub tries again shortly.
            self.queue.schedule(
                now + Duration::from_millis(1),
                Ev::HubInput { hub, input: HubInput::Undeliverable { message } },
            );
            return;
        };
        let to_host = self.nodes[node].host;
        if let Some(at) = self.transmit(from_host, to_host, None, message.wire_bytes()) {
            let from = Endpoint::Hub(HubId(hub as u16));
            self.queue
                .schedule(at, Ev::NodeInput { node, input: Input::Received { from, path: None, message } });
        }
    }
}

/// The history's name for a disk arbitration step.
fn arbitration_step(step: failover::io::ArbitrationStep) -> &'static str {
    use failover::io::ArbitrationStep;
    match step {
        ArbitrationStep::Registered { .. } => "registered",
        ArbitrationStep::Reserved => "reserved",
        ArbitrationStep::Challenged { .. } => "challenged",
        ArbitrationStep::Won => "won",
        ArbitrationStep::Lost => "lost",
        ArbitrationStep::Defended { .. } => "defended",
        ArbitrationStep::Reasserted => "reasserted",
        ArbitrationStep::Fenced => "fenced",
        ArbitrationStep::DataPathFailed => "data-path-failed",
        ArbitrationStep::Draining { .. } => "draining",
    }
}

/// The DESIGN.md reference drill: four mailbox nodes, two heartbeat networks at 1 s, two iSCSI paths
/// per node to a SAN array (a Single Copy Cluster, so every message is a write to a LUN), mail at 20
/// messages per second, one simulated hour, no faults.
const REFERENCE_DRILL: &str = r#"
name = "reference-drill"
description = "Benchmark workload: four nodes, two heartbeat networks, two iSCSI paths each, 20 messages/s, one hour."
tier = "nightly"
duration = "1h"

[cluster]
kind = "scc"
quorum = "node-majority"

[[network]]
name = "public"
kind = "lan"

[[network]]
name = "private"
kind = "lan"

[[network]]
name = "iscsi-a"
kind = "lan"
mtu_bytes = 9000

[[network]]
name = "iscsi-b"
kind = "lan"
mtu_bytes = 9000

[[host]]
name = "mbx1"
role = "mailbox"
networks = ["public", "private", "iscsi-a", "iscsi-b"]

[[host]]
name = "mbx2"
role = "mailbox"
networks = ["public", "private", "iscsi-a", "iscsi-b"]

[[host]]
name = "mbx3"
role = "mailbox"
networks = ["public", "private", "iscsi-a", "iscsi-b"]

[[host]]
name = "mbx4"
role = "mailbox"
networks = ["public", "private", "iscsi-a", "iscsi-b"]

[[host]]
name = "hub1"
role = "hub"
networks = ["public"]

[[host]]
name = "san1"
role = "array"
networks = ["iscsi-a", "iscsi-b"]

[[lun]]
name = "sg1"

[[lun]]
name = "sg2"

[[database]]
name = "SG1"
copies = ["mbx1", "mbx2"]
disks = ["sg1"]

[[database]]
name = "SG2"
copies = ["mbx3", "mbx4"]
disks = ["sg2"]

[workload]
rate_per_second = 20.0
message_size = "20KB"

[checks]
rto = "1m"
"#;

/// Runs the reference drill once; returns the simulated time and the number of kernel events.
pub fn reference_bench() -> (Duration, u64) {
    let scenario = crate::scenario::parse(std::path::Path::new("<reference-drill>"), REFERENCE_DRILL)
        .unwrap_or_else(|error| panic!("the built-in reference drill must parse: {error}"));
    let mut world = World::new(&scenario, 1);
    world.run();
    (scenario.duration, world.queue.popped())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_reference_drill_parses_and_runs_its_simulated_hour() {
        let (simulated, events) = super::reference_bench();
        assert_eq!(simulated, std::time::Duration::from_secs(3_600));
        assert!(events > 100_000, "an hour of heartbeats and mail is many events, got {events}");
    }
}
