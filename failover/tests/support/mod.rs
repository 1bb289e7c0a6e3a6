//! A small deterministic driver for the failover state machines, for the rule tests.
//!
//! No emulators and no randomness: one event queue over true time in nanoseconds, a fixed latency on
//! every path, per-node clocks equal to true time plus an offset a test may set, a file share witness
//! that is a lock with a lease, name resolution to whichever node last registered the database's name,
//! one-way cuts per path, power off/on (the disk survives), freeze/resume (inputs are held), and clients
//! that submit messages to a hub at a fixed rate, and a small SCSI-3 persistent-reservation array
//! (registrations per node and path, one type-5 reservation per LUN, PREEMPT with or without abort of
//! queued writes, array reboot without APTPL, a node's storage paths cut). Every output is recorded
//! with the true time it was produced, so tests assert on sequences.

// Each integration test binary compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use core::fmt::Write as _;
use core::time::Duration;
use failover::config::{ClusterConfig, HubConfig};
use failover::io::{Effect, Note};
use failover::io::{FailoverReason, ResourceState};
use failover::{
    ArbitrationStep, DbId, Disk, Endpoint, Epoch, Generation, Hub, HubId, HubInput, HubOutput, Input,
    LocalTime, LunId, Message, MessageId, Node, NodeId, Output, PathId, RequestId, ReservationKey,
    StopReason, StorageFailure, StorageOp, StoragePath, StorageResult, Voter, WitnessAnswer, WitnessCall,
    WitnessOp,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub const MS: u64 = 1_000_000;
pub const SEC: u64 = 1_000_000_000;

pub const N0: NodeId = NodeId(0);
pub const N1: NodeId = NodeId(1);
pub const N2: NodeId = NodeId(2);
pub const H0: HubId = HubId(0);
pub const H1: HubId = HubId(1);
pub const DB: DbId = DbId(0);
pub const PUBLIC: PathId = PathId(0);
pub const PRIVATE: PathId = PathId(1);

pub fn secs(s: u64) -> u64 {
    s * SEC
}

pub fn ns(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).expect("duration fits in u64 nanoseconds")
}

pub fn fmt_time(at: u64) -> String {
    format!("{:>9.3}s", at as f64 / 1e9)
}

/// Who produced a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Actor {
    Node(NodeId),
    Hub(HubId),
    Witness,
    Driver,
}

/// What happened.
#[derive(Clone, Debug)]
pub enum What {
    Node(Output),
    Hub(HubOutput),
    PowerOff,
    PowerOn,
    Freeze,
    Resume,
    /// The witness granted (or renewed) its lock to the node named by the record's actor.
    WitnessGranted {
        holder: NodeId,
        lease_until: u64,
    },
    /// A fault the test injected.
    Fault(String),
    /// The driver corrupted a log generation on the wire.
    Corrupted {
        from: NodeId,
        to: NodeId,
        generation: Generation,
    },
    /// A write landed on the array (ground truth).
    ArrayWrite {
        node: NodeId,
        lun: LunId,
        msg: MessageId,
        epoch: Epoch,
    },
}

#[derive(Clone, Debug)]
pub struct Record {
    pub at: u64,
    pub actor: Actor,
    pub what: What,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mount {
    pub at: u64,
    pub node: NodeId,
    pub db: DbId,
    pub epoch: Epoch,
    pub generation: Generation,
    pub lost_logs: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dismount {
    pub at: u64,
    pub node: NodeId,
    pub db: DbId,
    pub reason: StopReason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Commit {
    pub at: u64,
    pub node: NodeId,
    pub msg: MessageId,
    pub epoch: Epoch,
    pub generation: Generation,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub at: u64,
    pub by: NodeId,
    pub from: Option<NodeId>,
    pub to: NodeId,
    pub epoch: Epoch,
    pub reason: FailoverReason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAck {
    pub at: u64,
    pub hub: HubId,
    pub msg: MessageId,
    pub node: NodeId,
    pub epoch: Epoch,
}

#[derive(Debug)]
enum Event {
    NodeInput(NodeId, Input),
    NodeWake(NodeId, u64),
    HubInput(HubId, HubInput),
    HubWake(HubId, u64),
    /// A witness request arrives at the share.
    AtWitness(NodeId, WitnessCall),
    /// A storage request arrives at the array (from the node's incarnation that sent it).
    AtArray {
        node: NodeId,
        incarnation: u64,
        request: RequestId,
        lun: LunId,
        path: Option<StoragePath>,
        op: StorageOp,
    },
    /// A queued write finishes at the array.
    WriteLands {
        lun: LunId,
        id: u64,
    },
    /// The array's answer reaches the node; dropped if the node rebooted since it asked.
    StorageAnswer {
        node: NodeId,
        incarnation: u64,
        request: RequestId,
        result: StorageResult,
    },
}

/// One LUN of the fake array.
#[derive(Clone, Debug, Default)]
pub struct FakeLun {
    /// Registered key per I_T nexus (node, path).
    pub registrations: BTreeMap<(NodeId, u8), ReservationKey>,
    /// The type-5 (write exclusive, registrants only) reservation holder.
    pub holder: Option<ReservationKey>,
    pub blocks: BTreeMap<u64, (MessageId, Epoch)>,
    /// Writes accepted but not yet landed: (id, nexus, node incarnation, request, block, payload, epoch).
    queued: Vec<QueuedWrite>,
}

#[derive(Clone, Debug)]
struct QueuedWrite {
    id: u64,
    nexus: (NodeId, u8),
    incarnation: u64,
    request: RequestId,
    block: u64,
    payload: MessageId,
    epoch: Epoch,
}

struct NodeSlot {
    node: Option<Node>,
    /// The disk of a powered-off node.
    disk: Option<Disk>,
    /// Local clock = true time + offset.
    offset: i64,
    frozen: bool,
    held: Vec<Input>,
    /// Only the wake matching the latest `WakeAt` fires (a later one replaces an earlier one).
    wake_token: u64,
    /// Bumped at every boot: storage answers for an earlier incarnation are dropped.
    incarnation: u64,
}

struct HubSlot {
    hub: Hub,
    wake_token: u64,
}

struct CorruptRule {
    from: NodeId,
    to: NodeId,
    generation: Generation,
    remaining: u32,
}

pub struct Sim {
    pub config: Arc<ClusterConfig>,
    now: u64,
    /// One-way latency of every path (node to node, node to hub, node to witness).
    pub latency: u64,
    /// How long a node waits before the driver reports an unreachable witness as `Unavailable`.
    pub witness_timeout: u64,
    queue: BTreeMap<(u64, u64), Event>,
    seq: u64,
    nodes: BTreeMap<NodeId, NodeSlot>,
    hubs: BTreeMap<HubId, HubSlot>,
    names: BTreeMap<DbId, NodeId>,
    /// Per-direction latency overrides between nodes: (from, to) -> latency.
    link_latency: BTreeMap<(NodeId, NodeId), u64>,
    /// One-way cuts: (from, to, path).
    cuts: BTreeSet<(NodeId, NodeId, PathId)>,
    /// Hub-to-node links that are down (both ways).
    hub_cuts: BTreeSet<(HubId, NodeId)>,
    witness_cuts: BTreeSet<NodeId>,
    witness_up: bool,
    witness_lock: Option<(NodeId, u64)>,
    /// The witness file: the newest epoch recorded per database; it survives the witness restarting.
    witness_file: BTreeMap<DbId, Epoch>,
    corrupt_rules: Vec<CorruptRule>,
    next_msg: MessageId,
    pub records: Vec<Record>,
    events: u64,
    /// The shared storage array, per LUN.
    pub array: BTreeMap<LunId, FakeLun>,
    /// One-way latency between a node and the array.
    pub storage_latency: u64,
    /// Per-node override of `storage_latency` (a slow path).
    pub slow_storage: BTreeMap<NodeId, u64>,
    /// How long an accepted write stays queued at the array before it lands (0: lands at once).
    pub write_service: u64,
    /// Nodes whose every storage path is down: their requests vanish unanswered.
    storage_cuts: BTreeSet<NodeId>,
    next_write: u64,
}

const EVENT_LIMIT: u64 = 5_000_000;

impl Sim {
    /// Boots every configured node (empty disks) and hub at true time zero.
    pub fn new(config: ClusterConfig) -> Sim {
        Sim::with_hub_config(config, HubConfig::default())
    }

    pub fn with_hub_config(config: ClusterConfig, hub_config: HubConfig) -> Sim {
        Sim::build(config, hub_config, &[])
    }

    /// Like [`Sim::new`], but the nodes in `off` start powered off (with empty disks) so a test can
    /// boot them later, out of phase with the others.
    pub fn with_nodes_off(config: ClusterConfig, off: &[NodeId]) -> Sim {
        Sim::build(config, HubConfig::default(), off)
    }

    pub fn build(config: ClusterConfig, hub_config: HubConfig, off: &[NodeId]) -> Sim {
        let config = Arc::new(config);
        let mut sim = Sim {
            config: config.clone(),
            now: 0,
            latency: MS,
            witness_timeout: SEC,
            queue: BTreeMap::new(),
            seq: 0,
            nodes: BTreeMap::new(),
            hubs: BTreeMap::new(),
            names: BTreeMap::new(),
            link_latency: BTreeMap::new(),
            cuts: BTreeSet::new(),
            hub_cuts: BTreeSet::new(),
            witness_cuts: BTreeSet::new(),
            witness_up: true,
            witness_lock: None,
            witness_file: BTreeMap::new(),
            corrupt_rules: Vec::new(),
            next_msg: 1,
            records: Vec::new(),
            events: 0,
            array: BTreeMap::new(),
            storage_latency: MS,
            slow_storage: BTreeMap::new(),
            write_service: 0,
            storage_cuts: BTreeSet::new(),
            next_write: 0,
        };
        for &hub in &config.hubs {
            sim.hubs
                .insert(hub, HubSlot { hub: Hub::new(hub, hub_config.clone(), LocalTime(0)), wake_token: 0 });
        }
        for &id in &config.nodes {
            sim.nodes.insert(
                id,
                NodeSlot {
                    node: None,
                    disk: Some(Disk::default()),
                    offset: 0,
                    frozen: false,
                    held: Vec::new(),
                    wake_token: 0,
                    incarnation: 0,
                },
            );
            if !off.contains(&id) {
                sim.boot(id);
            }
        }
        sim
    }

    pub fn now(&self) -> u64 {
        self.now
    }

    // ----- running -------------------------------------------------------------------------------

    /// Processes every event up to and including true time `until`, then sets the clock to it.
    pub fn run_until(&mut self, until: u64) {
        assert!(until >= self.now, "time only moves forward");
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > until {
                break;
            }
            let ((at, _), event) = entry.remove_entry();
            self.now = at;
            self.events += 1;
            assert!(self.events < EVENT_LIMIT, "the simulation does not settle (event limit reached)");
            self.dispatch(event);
        }
        self.now = until;
    }

    pub fn run_for(&mut self, duration: u64) {
        self.run_until(self.now + duration);
    }

    fn schedule(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((at.max(self.now), self.seq), event);
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::NodeInput(id, input) => self.feed(id, input),
            Event::NodeWake(id, token) => {
                let Some(slot) = self.nodes.get(&id) else { return };
                if slot.wake_token == token && slot.node.is_some() && !slot.frozen {
                    self.feed(id, Input::Wake);
                }
            }
            Event::HubInput(id, input) => self.feed_hub(id, input),
            Event::HubWake(id, token) => {
                if self.hubs.get(&id).is_some_and(|slot| slot.wake_token == token) {
                    self.feed_hub(id, HubInput::Wake);
                }
            }
            Event::AtWitness(from, op) => self.at_witness(from, op),
            Event::AtArray { node, incarnation, request, lun, path, op } => {
                self.at_array(node, incarnation, request, lun, path, op);
            }
            Event::WriteLands { lun, id } => self.write_lands(lun, id),
            Event::StorageAnswer { node, incarnation, request, result } => {
                if self.nodes.get(&node).is_some_and(|slot| slot.incarnation == incarnation) {
                    self.feed(node, Input::Storage { request, result });
                }
            }
        }
    }

    // ----- nodes ---------------------------------------------------------------------------------

    /// The node's own clock reading now.
    pub fn local(&self, id: NodeId) -> LocalTime {
        let offset = self.nodes.get(&id).map_or(0, |slot| slot.offset);
        LocalTime(u64::try_from((i128::from(self.now) + i128::from(offset)).max(0)).unwrap_or(u64::MAX))
    }

    fn to_true(&self, id: NodeId, local: LocalTime) -> u64 {
        let offset = self.nodes.get(&id).map_or(0, |slot| slot.offset);
        u64::try_from((i128::from(local.0) - i128::from(offset)).max(0)).unwrap_or(u64::MAX)
    }

    /// Sets how far the node's clock is ahead of true time (negative: behind).
    pub fn set_clock_offset(&mut self, id: NodeId, offset_nanos: i64) {
        if let Some(slot) = self.nodes.get_mut(&id) {
            slot.offset = offset_nanos;
        }
        self.fault(format!("clock of {id:?} offset by {offset_nanos} ns"));
    }

    fn boot(&mut self, id: NodeId) {
        let local = self.local(id);
        let Some(slot) = self.nodes.get_mut(&id) else { return };
        let disk = slot.disk.take().unwrap_or_default();
        let (node, outputs) = Node::boot(id, self.config.clone(), disk, local);
        slot.node = Some(node);
        slot.incarnation += 1;
        slot.frozen = false;
        slot.held.clear();
        self.handle_node_outputs(id, outputs);
    }

    fn feed(&mut self, id: NodeId, input: Input) {
        let local = self.local(id);
        let Some(slot) = self.nodes.get_mut(&id) else { return };
        let Some(node) = slot.node.as_mut() else { return }; // powered off: lost
        if slot.frozen {
            slot.held.push(input);
            return;
        }
        let outputs = node.handle(local, input);
        self.handle_node_outputs(id, outputs);
    }

    fn handle_node_outputs(&mut self, id: NodeId, outputs: Vec<Output>) {
        for output in outputs {
            match &output {
                Output::Effect(Effect::Send { to, path, message }) => {
                    self.route_from_node(id, *to, *path, message.clone())
                }
                Output::Effect(Effect::WakeAt(at)) => {
                    let at = self.to_true(id, *at);
                    if let Some(slot) = self.nodes.get_mut(&id) {
                        slot.wake_token += 1;
                        let token = slot.wake_token;
                        self.schedule(at, Event::NodeWake(id, token));
                    }
                    continue; // not worth recording
                }
                Output::Effect(Effect::WitnessRequest(call)) => self.witness_request(id, *call),
                Output::Effect(Effect::RegisterName { db }) => {
                    self.names.insert(*db, id);
                }
                Output::Effect(Effect::Storage { request, lun, path, op }) => {
                    self.storage_request(id, *request, *lun, *path, *op)
                }
                _ => {}
            }
            self.records.push(Record { at: self.now, actor: Actor::Node(id), what: What::Node(output) });
        }
    }

    /// Feeds an input to a node now (an operator command, a health check finding).
    pub fn inject(&mut self, id: NodeId, input: Input) {
        self.fault(format!("inject {input:?} into {id:?}"));
        self.feed(id, input);
    }

    pub fn node(&self, id: NodeId) -> &Node {
        self.nodes.get(&id).and_then(|slot| slot.node.as_ref()).expect("node is powered on")
    }

    pub fn is_on(&self, id: NodeId) -> bool {
        self.nodes.get(&id).is_some_and(|slot| slot.node.is_some())
    }

    /// Cuts power: the volatile state is gone, the disk stays.
    pub fn power_off(&mut self, id: NodeId) {
        let Some(slot) = self.nodes.get_mut(&id) else { return };
        if let Some(node) = slot.node.take() {
            slot.disk = Some(node.into_disk());
        }
        slot.frozen = false;
        slot.held.clear();
        slot.wake_token += 1;
        self.records.push(Record { at: self.now, actor: Actor::Node(id), what: What::PowerOff });
    }

    /// Boots the node from the disk it had when it lost power.
    /// Puts `disk` on a powered-off node, as a revert to a snapshot of its disks does: its next boot
    /// starts from it.
    pub fn replace_disk(&mut self, id: NodeId, disk: failover::Disk) {
        assert!(!self.is_on(id), "{id:?} must be off to have its disk replaced");
        if let Some(slot) = self.nodes.get_mut(&id) {
            slot.disk = Some(disk);
        }
    }

    pub fn power_on(&mut self, id: NodeId) {
        assert!(!self.is_on(id), "{id:?} is already on");
        self.records.push(Record { at: self.now, actor: Actor::Node(id), what: What::PowerOn });
        self.boot(id);
    }

    /// Powers the node off and resumes `image` in its place, as a revert to a memory snapshot of its
    /// VM does: no boot, the image handles a wake at once.
    pub fn resume_image(&mut self, id: NodeId, image: Node) {
        self.power_off(id);
        if let Some(slot) = self.nodes.get_mut(&id) {
            slot.disk = None;
            slot.node = Some(image);
            slot.incarnation += 1;
        }
        self.records.push(Record { at: self.now, actor: Actor::Node(id), what: What::PowerOn });
        self.feed(id, Input::Wake);
    }

    /// Stops the node (a VM pause): its inputs are held and its timers do not fire.
    pub fn freeze(&mut self, id: NodeId) {
        if let Some(slot) = self.nodes.get_mut(&id) {
            slot.frozen = true;
        }
        self.records.push(Record { at: self.now, actor: Actor::Node(id), what: What::Freeze });
    }

    /// Resumes a frozen node: it gets what arrived meanwhile, in order, then a wake.
    pub fn resume(&mut self, id: NodeId) {
        let held = match self.nodes.get_mut(&id) {
            Some(slot) if slot.frozen => {
                slot.frozen = false;
                std::mem::take(&mut slot.held)
            }
            _ => return,
        };
        self.records.push(Record { at: self.now, actor: Actor::Node(id), what: What::Resume });
        for input in held {
            self.feed(id, input);
        }
        self.feed(id, Input::Wake);
    }

    // ----- network -------------------------------------------------------------------------------

    fn fault(&mut self, text: String) {
        self.records.push(Record { at: self.now, actor: Actor::Driver, what: What::Fault(text) });
    }

    /// Cuts `path` in the direction `from` -> `to` only.
    pub fn cut_one_way(&mut self, from: NodeId, to: NodeId, path: PathId) {
        self.cuts.insert((from, to, path));
        self.fault(format!("cut {from:?} -> {to:?} on {path:?}"));
    }

    pub fn cut_both_ways(&mut self, a: NodeId, b: NodeId, path: PathId) {
        self.cut_one_way(a, b, path);
        self.cut_one_way(b, a, path);
    }

    /// Cuts every path in the direction `from` -> `to`.
    pub fn cut_all_paths_one_way(&mut self, from: NodeId, to: NodeId) {
        for path in self.config.paths.clone() {
            self.cut_one_way(from, to, path);
        }
    }

    /// Cuts every path between `a` and `b`, both ways.
    pub fn partition(&mut self, a: NodeId, b: NodeId) {
        self.cut_all_paths_one_way(a, b);
        self.cut_all_paths_one_way(b, a);
    }

    pub fn heal_path(&mut self, a: NodeId, b: NodeId, path: PathId) {
        self.cuts.remove(&(a, b, path));
        self.cuts.remove(&(b, a, path));
        self.fault(format!("heal {a:?} <-> {b:?} on {path:?}"));
    }

    pub fn heal_all(&mut self) {
        self.cuts.clear();
        self.hub_cuts.clear();
        self.witness_cuts.clear();
        self.fault("heal every link".to_string());
    }

    pub fn cut_hub(&mut self, hub: HubId, node: NodeId) {
        self.hub_cuts.insert((hub, node));
        self.fault(format!("cut {hub:?} <-> {node:?}"));
    }

    /// The node can no longer reach the witness share.
    pub fn cut_witness(&mut self, node: NodeId) {
        self.witness_cuts.insert(node);
        self.fault(format!("cut {node:?} <-> witness"));
    }

    /// The share goes down; its lock is gone.
    pub fn witness_down(&mut self) {
        self.witness_up = false;
        self.witness_lock = None;
        self.fault("witness down".to_string());
    }

    pub fn witness_up(&mut self) {
        self.witness_up = true;
        self.fault("witness up".to_string());
    }

    /// Ground truth: who holds the witness lock now.
    pub fn witness_holder(&self) -> Option<NodeId> {
        self.witness_lock.filter(|&(_, until)| self.now < until).map(|(node, _)| node)
    }

    /// Corrupts the next `times` copies of `generation` sent from `from` to `to`.
    pub fn corrupt_log_copies(&mut self, from: NodeId, to: NodeId, generation: Generation, times: u32) {
        self.corrupt_rules.push(CorruptRule { from, to, generation, remaining: times });
        self.fault(format!("corrupt the next {times} copies of generation {generation} {from:?} -> {to:?}"));
    }

    fn link_up(&self, from: NodeId, to: NodeId, path: Option<PathId>) -> bool {
        if from == to {
            return true;
        }
        match path {
            Some(path) => !self.cuts.contains(&(from, to, path)),
            // Traffic that is not pinned to a path takes any path that works.
            None => self.config.paths.iter().any(|&path| !self.cuts.contains(&(from, to, path))),
        }
    }

    fn route_from_node(&mut self, from: NodeId, to: Endpoint, path: Option<PathId>, message: Message) {
        match to {
            Endpoint::Node(peer) => self.node_to_node(from, peer, path, message),
            Endpoint::Hub(hub) => {
                if self.hubs.contains_key(&hub) && !self.hub_cuts.contains(&(hub, from)) {
                    let input = HubInput::Received { from: Endpoint::Node(from), message };
                    self.schedule(self.now + self.latency, Event::HubInput(hub, input));
                }
            }
            Endpoint::DatabaseName(db) => match self.names.get(&db).copied() {
                Some(target) => self.node_to_node(from, target, None, message),
                None => self.schedule(self.now, Event::NodeInput(from, Input::Undeliverable { to, message })),
            },
        }
    }

    fn node_to_node(&mut self, from: NodeId, to: NodeId, path: Option<PathId>, mut message: Message) {
        if !self.link_up(from, to, path) {
            return;
        }
        if let Message::LogData { generation, corrupt, .. } = &mut message {
            let rule = self.corrupt_rules.iter_mut().find(|rule| {
                rule.from == from && rule.to == to && rule.generation == *generation && rule.remaining > 0
            });
            if let Some(rule) = rule {
                rule.remaining -= 1;
                *corrupt = true;
                let generation = *generation;
                self.records.push(Record {
                    at: self.now,
                    actor: Actor::Driver,
                    what: What::Corrupted { from, to, generation },
                });
            }
        }
        let latency = self.link_latency.get(&(from, to)).copied().unwrap_or(self.latency);
        let input = Input::Received { from: Endpoint::Node(from), path, message };
        self.schedule(self.now + latency, Event::NodeInput(to, input));
    }

    /// Sets the latency of every path in the direction `from` -> `to`.
    pub fn set_latency(&mut self, from: NodeId, to: NodeId, latency: u64) {
        self.link_latency.insert((from, to), latency);
        self.fault(format!("latency {from:?} -> {to:?} set to {}", fmt_time(latency)));
    }

    // ----- witness -------------------------------------------------------------------------------

    fn witness_reachable(&self, node: NodeId) -> bool {
        self.witness_up && !self.witness_cuts.contains(&node)
    }

    fn witness_request(&mut self, from: NodeId, call: WitnessCall) {
        if self.witness_reachable(from) {
            self.schedule(self.now + self.latency, Event::AtWitness(from, call));
        } else {
            let answer = Input::Witness { call, answer: WitnessAnswer::Unavailable };
            self.schedule(self.now + self.witness_timeout, Event::NodeInput(from, answer));
        }
    }

    fn at_witness(&mut self, from: NodeId, call: WitnessCall) {
        let op = call.op;
        if !self.witness_reachable(from) {
            let answer = Input::Witness { call, answer: WitnessAnswer::Unavailable };
            self.schedule(self.now + self.witness_timeout, Event::NodeInput(from, answer));
            return;
        }
        let lease = self.config.settings.witness_lease;
        let holder = self.witness_holder();
        let answer = match (holder, op) {
            (Some(holder), _) if holder != from => WitnessAnswer::Denied,
            (_, WitnessOp::Acquire) | (Some(_), WitnessOp::Renew) => {
                let lease_until = self.now + ns(lease);
                self.witness_lock = Some((from, lease_until));
                self.records.push(Record {
                    at: self.now,
                    actor: Actor::Witness,
                    what: What::WitnessGranted { holder: from, lease_until },
                });
                let ledger = self.witness_file.iter().map(|(&db, &epoch)| (db, epoch)).collect();
                WitnessAnswer::Granted { lease, ledger }
            }
            (None, WitnessOp::Renew | WitnessOp::Record { .. }) => WitnessAnswer::Denied,
            (Some(_), WitnessOp::Record { db, epoch }) => {
                let stored = self.witness_file.entry(db).or_default();
                let accepted = epoch > *stored;
                *stored = (*stored).max(epoch);
                WitnessAnswer::Recorded { accepted }
            }
            (_, WitnessOp::Release) => {
                self.witness_lock = None;
                WitnessAnswer::Released
            }
        };
        let input = Input::Witness { call, answer };
        self.schedule(self.now + self.latency, Event::NodeInput(from, input));
    }

    // ----- shared storage array ------------------------------------------------------------------

    /// Every storage path of `node` goes down: its requests get no answer at all.
    pub fn cut_storage(&mut self, node: NodeId) {
        self.storage_cuts.insert(node);
        self.fault(format!("cut {node:?} <-> array"));
    }

    pub fn heal_storage(&mut self, node: NodeId) {
        self.storage_cuts.remove(&node);
        self.fault(format!("heal {node:?} <-> array"));
    }

    /// The array power-cycles without APTPL: every registration and reservation is gone; data stays.
    pub fn array_reboot(&mut self) {
        for lun in self.array.values_mut() {
            lun.registrations.clear();
            lun.holder = None;
        }
        self.fault("array rebooted without APTPL".to_string());
    }

    /// A node outside the cluster's control (`rogue`) registers and preempts `victim` on `lun`.
    pub fn rogue_preempt(&mut self, lun: LunId, rogue: ReservationKey, victim: ReservationKey) {
        let state = self.array.entry(lun).or_default();
        state.registrations.insert((NodeId(u16::MAX), 0), rogue);
        state.registrations.retain(|_, key| *key != victim);
        if state.holder == Some(victim) || state.holder.is_none() {
            state.holder = Some(rogue);
        }
        self.fault(format!("rogue key {rogue:#x} preempted {victim:#x} on {lun:?}"));
    }

    pub fn lun(&self, lun: LunId) -> FakeLun {
        self.array.get(&lun).cloned().unwrap_or_default()
    }

    fn storage_request(
        &mut self,
        node: NodeId,
        request: RequestId,
        lun: LunId,
        path: Option<StoragePath>,
        op: StorageOp,
    ) {
        if self.storage_cuts.contains(&node) {
            return;
        }
        let incarnation = self.nodes.get(&node).map_or(0, |slot| slot.incarnation);
        let latency = self.slow_storage.get(&node).copied().unwrap_or(self.storage_latency);
        self.schedule(self.now + latency, Event::AtArray { node, incarnation, request, lun, path, op });
    }

    fn answer_storage(&mut self, node: NodeId, incarnation: u64, request: RequestId, result: StorageResult) {
        if self.storage_cuts.contains(&node) {
            return;
        }
        let latency = self.slow_storage.get(&node).copied().unwrap_or(self.storage_latency);
        self.schedule(self.now + latency, Event::StorageAnswer { node, incarnation, request, result });
    }

    fn at_array(
        &mut self,
        node: NodeId,
        incarnation: u64,
        request: RequestId,
        lun: LunId,
        path: Option<StoragePath>,
        op: StorageOp,
    ) {
        let paths = self.config.storage_paths.max(1);
        let state = self.array.entry(lun).or_default();
        // Multipath sends through some registered path of this node if there is one.
        let nexus = match path {
            Some(StoragePath(p)) => (node, p),
            None => (0..paths)
                .find(|&p| state.registrations.contains_key(&(node, p)))
                .map_or((node, 0), |p| (node, p)),
        };
        let registered_as = state.registrations.get(&nexus).copied();
        let result = match op {
            StorageOp::Connect => StorageResult::Done,
            StorageOp::Read { block } => StorageResult::Data { payload: state.blocks.get(&block).copied() },
            StorageOp::Write { block, payload, epoch } => {
                if state.holder.is_some() && registered_as.is_none() {
                    StorageResult::ReservationConflict
                } else if self.write_service > 0 {
                    self.next_write += 1;
                    let id = self.next_write;
                    state.queued.push(QueuedWrite { id, nexus, incarnation, request, block, payload, epoch });
                    let at = self.now + self.write_service;
                    self.schedule(at, Event::WriteLands { lun, id });
                    return;
                } else {
                    state.blocks.insert(block, (payload, epoch));
                    self.records.push(Record {
                        at: self.now,
                        actor: Actor::Driver,
                        what: What::ArrayWrite { node, lun, msg: payload, epoch },
                    });
                    StorageResult::Done
                }
            }
            StorageOp::Register { key } => {
                state.registrations.insert(nexus, key);
                StorageResult::Done
            }
            StorageOp::Unregister => {
                if let Some(key) = state.registrations.remove(&nexus)
                    && state.holder == Some(key)
                    && !state.registrations.values().any(|&k| k == key)
                {
                    state.holder = None;
                }
                StorageResult::Done
            }
            StorageOp::Reserve { key } => {
                if registered_as != Some(key) {
                    StorageResult::ReservationConflict
                } else if state.holder.is_none() || state.holder == Some(key) {
                    state.holder = Some(key);
                    StorageResult::Done
                } else {
                    StorageResult::ReservationConflict
                }
            }
            StorageOp::Release { key } => {
                if registered_as == Some(key) && state.holder == Some(key) {
                    state.holder = None;
                }
                StorageResult::Done
            }
            StorageOp::Preempt { key, victim, abort } => {
                if registered_as != Some(key) {
                    StorageResult::ReservationConflict
                } else {
                    let victims: BTreeSet<(NodeId, u8)> = state
                        .registrations
                        .iter()
                        .filter(|(_, k)| **k == victim)
                        .map(|(nexus, _)| *nexus)
                        .collect();
                    state.registrations.retain(|_, k| *k != victim);
                    if state.holder == Some(victim) {
                        state.holder = Some(key);
                    }
                    let mut aborted = Vec::new();
                    if abort {
                        state.queued.retain(|write| {
                            let dies = victims.contains(&write.nexus);
                            if dies {
                                aborted.push(write.clone());
                            }
                            !dies
                        });
                    }
                    for write in aborted {
                        self.answer_storage(
                            write.nexus.0,
                            write.incarnation,
                            write.request,
                            StorageResult::Failed(StorageFailure::UnitAttention),
                        );
                    }
                    StorageResult::Done
                }
            }
            StorageOp::ReadKeys => {
                let keys: BTreeSet<ReservationKey> = state.registrations.values().copied().collect();
                StorageResult::Keys(keys.into_iter().collect())
            }
            StorageOp::ReadReservation => StorageResult::Reservation(state.holder),
        };
        self.answer_storage(node, incarnation, request, result);
    }

    fn write_lands(&mut self, lun: LunId, id: u64) {
        let Some(state) = self.array.get_mut(&lun) else { return };
        let Some(index) = state.queued.iter().position(|write| write.id == id) else { return };
        let write = state.queued.remove(index);
        // Already accepted: it lands even if the writer was preempted since (plain PREEMPT's hazard).
        state.blocks.insert(write.block, (write.payload, write.epoch));
        self.records.push(Record {
            at: self.now,
            actor: Actor::Driver,
            what: What::ArrayWrite { node: write.nexus.0, lun, msg: write.payload, epoch: write.epoch },
        });
        self.answer_storage(write.nexus.0, write.incarnation, write.request, StorageResult::Done);
    }

    /// The storage commands a node sent: (time, lun, path, op).
    pub fn storage_ops(&self, id: NodeId) -> Vec<(u64, LunId, Option<StoragePath>, StorageOp)> {
        self.outputs_of(id)
            .filter_map(|(at, output)| match *output {
                Output::Effect(Effect::Storage { lun, path, op, .. }) => Some((at, lun, path, op)),
                _ => None,
            })
            .collect()
    }

    /// What disk arbitration did on a node: (time, db, lun, step).
    pub fn arbitration(&self, id: NodeId) -> Vec<(u64, Option<DbId>, LunId, ArbitrationStep)> {
        self.outputs_of(id)
            .filter_map(|(at, output)| match *output {
                Output::Note(Note::DiskArbitration { db, lun, step }) => Some((at, db, lun, step)),
                _ => None,
            })
            .collect()
    }

    /// Ground truth: every write that landed on the array: (time, node, lun, msg, epoch).
    pub fn array_writes(&self) -> Vec<(u64, NodeId, LunId, MessageId, Epoch)> {
        self.records
            .iter()
            .filter_map(|record| match record.what {
                What::ArrayWrite { node, lun, msg, epoch } => Some((record.at, node, lun, msg, epoch)),
                _ => None,
            })
            .collect()
    }

    // ----- hubs and clients ----------------------------------------------------------------------

    fn feed_hub(&mut self, id: HubId, input: HubInput) {
        let now = LocalTime(self.now);
        let Some(slot) = self.hubs.get_mut(&id) else { return };
        let outputs = slot.hub.handle(now, input);
        for output in outputs {
            match &output {
                HubOutput::Send { to, message } => self.route_from_hub(id, *to, message.clone()),
                HubOutput::WakeAt(at) => {
                    if let Some(slot) = self.hubs.get_mut(&id) {
                        slot.wake_token += 1;
                        let token = slot.wake_token;
                        self.schedule(at.0, Event::HubWake(id, token));
                    }
                    continue;
                }
                HubOutput::ClientAck { .. } | HubOutput::Resubmitted { .. } => {}
            }
            self.records.push(Record { at: self.now, actor: Actor::Hub(id), what: What::Hub(output) });
        }
    }

    fn route_from_hub(&mut self, hub: HubId, to: Endpoint, message: Message) {
        let target = match to {
            Endpoint::Node(node) => Some(node),
            Endpoint::DatabaseName(db) => self.names.get(&db).copied(),
            Endpoint::Hub(_) => None,
        };
        match target {
            None => self
                .schedule(self.now + self.latency, Event::HubInput(hub, HubInput::Undeliverable { message })),
            Some(node) => {
                if !self.hub_cuts.contains(&(hub, node)) {
                    let input = Input::Received { from: Endpoint::Hub(hub), path: None, message };
                    self.schedule(self.now + self.latency, Event::NodeInput(node, input));
                }
            }
        }
    }

    pub fn hub(&self, id: HubId) -> &Hub {
        &self.hubs.get(&id).expect("configured hub").hub
    }

    /// A client that hands `count` messages of `bytes` for `db` to `hub`, one every `every`, starting
    /// at `start`. Returns the message ids.
    pub fn client(
        &mut self,
        hub: HubId,
        db: DbId,
        start: u64,
        every: u64,
        count: u64,
        bytes: u32,
    ) -> Vec<MessageId> {
        let mut ids = Vec::new();
        for index in 0..count {
            let msg = self.next_msg;
            self.next_msg += 1;
            ids.push(msg);
            self.schedule(start + index * every, Event::HubInput(hub, HubInput::Submit { msg, db, bytes }));
        }
        ids
    }

    // ----- queries over the record ---------------------------------------------------------------

    pub fn outputs_of(&self, id: NodeId) -> impl Iterator<Item = (u64, &Output)> + '_ {
        self.records.iter().filter_map(move |record| match (&record.actor, &record.what) {
            (Actor::Node(node), What::Node(output)) if *node == id => Some((record.at, output)),
            _ => None,
        })
    }

    pub fn node_outputs(&self) -> impl Iterator<Item = (u64, NodeId, &Output)> + '_ {
        self.records.iter().filter_map(|record| match (&record.actor, &record.what) {
            (Actor::Node(node), What::Node(output)) => Some((record.at, *node, output)),
            _ => None,
        })
    }

    pub fn mounts(&self) -> Vec<Mount> {
        self.node_outputs()
            .filter_map(|(at, node, output)| match *output {
                Output::Note(Note::Mounted { db, epoch, generation, lost_logs }) => {
                    Some(Mount { at, node, db, epoch, generation, lost_logs })
                }
                _ => None,
            })
            .collect()
    }

    pub fn dismounts(&self) -> Vec<Dismount> {
        self.node_outputs()
            .filter_map(|(at, node, output)| match *output {
                Output::Note(Note::Dismounted { db, reason }) => Some(Dismount { at, node, db, reason }),
                _ => None,
            })
            .collect()
    }

    pub fn commits(&self) -> Vec<Commit> {
        self.node_outputs()
            .filter_map(|(at, node, output)| match *output {
                Output::Note(Note::Committed { msg, epoch, generation, .. }) => {
                    Some(Commit { at, node, msg, epoch, generation })
                }
                _ => None,
            })
            .collect()
    }

    pub fn decisions(&self) -> Vec<Decision> {
        self.node_outputs()
            .filter_map(|(at, by, output)| match *output {
                Output::Note(Note::FailoverDecided { from, to, epoch, reason, .. }) => {
                    Some(Decision { at, by, from, to, epoch, reason })
                }
                _ => None,
            })
            .collect()
    }

    /// The quorum claims a node announced: (time, quorate, votes).
    pub fn quorum_claims(&self, id: NodeId) -> Vec<(u64, bool, Vec<Voter>)> {
        self.outputs_of(id)
            .filter_map(|(at, output)| match output {
                Output::Note(Note::QuorumChanged { quorate, votes, .. }) => {
                    Some((at, *quorate, votes.clone()))
                }
                _ => None,
            })
            .collect()
    }

    pub fn resource_states(&self, id: NodeId) -> Vec<(u64, usize, ResourceState)> {
        self.outputs_of(id)
            .filter_map(|(at, output)| match *output {
                Output::Note(Note::ResourceState { resource, state, .. }) => Some((at, resource, state)),
                _ => None,
            })
            .collect()
    }

    pub fn client_acks(&self) -> Vec<ClientAck> {
        self.records
            .iter()
            .filter_map(|record| match (&record.actor, &record.what) {
                (Actor::Hub(hub), What::Hub(HubOutput::ClientAck { msg, node, epoch, .. })) => {
                    Some(ClientAck { at: record.at, hub: *hub, msg: *msg, node: *node, epoch: *epoch })
                }
                _ => None,
            })
            .collect()
    }

    /// Messages the clients got a success reply for, up to true time `until`.
    pub fn acked_by(&self, until: u64) -> BTreeSet<MessageId> {
        self.client_acks().iter().filter(|ack| ack.at <= until).map(|ack| ack.msg).collect()
    }

    /// Heartbeats `from` sent to `to` saying "I hear you": their send times.
    pub fn hears_you_sent(&self, from: NodeId, to: NodeId) -> Vec<u64> {
        self.outputs_of(from)
            .filter_map(|(at, output)| match output {
                Output::Effect(Effect::Send {
                    to: Endpoint::Node(peer),
                    message: Message::Heartbeat { echo: Some(_), .. },
                    ..
                }) if *peer == to => Some(at),
                _ => None,
            })
            .collect()
    }

    /// Single writer: every time a node mounted `db` while another node's mount of it had not ended
    /// (by `Dismounted` or power loss).
    pub fn overlapping_owners(&self, db: DbId) -> Vec<String> {
        let mut serving: BTreeMap<NodeId, u64> = BTreeMap::new();
        let mut violations = Vec::new();
        for record in &self.records {
            let Actor::Node(node) = record.actor else { continue };
            match &record.what {
                What::Node(Output::Note(Note::Mounted { db: mounted, epoch, .. })) if *mounted == db => {
                    for (&other, &since) in &serving {
                        if other != node {
                            violations.push(format!(
                                "{node:?} mounted epoch {epoch} at {} while {other:?} had it mounted since {}",
                                fmt_time(record.at),
                                fmt_time(since)
                            ));
                        }
                    }
                    serving.insert(node, record.at);
                }
                What::Node(Output::Note(Note::Dismounted { db: dismounted, .. })) if *dismounted == db => {
                    serving.remove(&node);
                }
                What::PowerOff => {
                    serving.remove(&node);
                }
                _ => {}
            }
        }
        violations
    }

    /// Ownership terms given to two different nodes: every epoch that more than one node was told to
    /// activate in (by `FailoverDecided`) or mounted in.
    pub fn epochs_with_two_owners(&self, db: DbId) -> Vec<String> {
        let mut owners: BTreeMap<Epoch, BTreeSet<NodeId>> = BTreeMap::new();
        for (_, _, output) in self.node_outputs() {
            match *output {
                Output::Note(Note::FailoverDecided { db: decided, to, epoch, .. }) if decided == db => {
                    owners.entry(epoch).or_default().insert(to);
                }
                _ => {}
            }
        }
        for mount in self.mounts() {
            if mount.db == db {
                owners.entry(mount.epoch).or_default().insert(mount.node);
            }
        }
        owners
            .into_iter()
            .filter(|(_, nodes)| nodes.len() > 1)
            .map(|(epoch, nodes)| format!("epoch {epoch} given to {nodes:?}"))
            .collect()
    }

    /// Nodes with `db` mounted at the end of the record.
    pub fn serving_now(&self, db: DbId) -> BTreeSet<NodeId> {
        let mut serving = BTreeSet::new();
        for record in &self.records {
            let Actor::Node(node) = record.actor else { continue };
            match &record.what {
                What::Node(Output::Note(Note::Mounted { db: mounted, .. })) if *mounted == db => {
                    serving.insert(node);
                }
                What::Node(Output::Note(Note::Dismounted { db: dismounted, .. })) if *dismounted == db => {
                    serving.remove(&node);
                }
                What::PowerOff => {
                    serving.remove(&node);
                }
                _ => {}
            }
        }
        serving
    }

    /// Every `Mounted` a node emitted while its last quorum claim was "not quorate".
    pub fn mounts_without_quorum(&self) -> Vec<String> {
        let mut quorate: BTreeMap<NodeId, bool> = BTreeMap::new();
        let mut violations = Vec::new();
        for (at, node, output) in self.node_outputs() {
            match output {
                Output::Note(Note::QuorumChanged { quorate: now_quorate, .. }) => {
                    quorate.insert(node, *now_quorate);
                }
                Output::Note(Note::Mounted { epoch, .. })
                    if !quorate.get(&node).copied().unwrap_or(false) =>
                {
                    violations
                        .push(format!("{node:?} mounted epoch {epoch} at {} without quorum", fmt_time(at)));
                }
                _ => {}
            }
        }
        violations
    }

    /// The record without the chatter (heartbeats, sends, commits, replays): for failure messages.
    pub fn trace(&self) -> String {
        let mut text = String::new();
        let mut last_holder = None;
        for record in &self.records {
            let line = match &record.what {
                What::Node(
                    Output::Effect(Effect::Send { .. })
                    | Output::Note(Note::Committed { .. })
                    | Output::Note(Note::LogClosed { .. })
                    | Output::Note(Note::LogReplayed { .. })
                    | Output::Note(Note::DuplicateSuppressed { .. })
                    | Output::Effect(Effect::Storage { .. }),
                )
                | What::Hub(HubOutput::Send { .. } | HubOutput::ClientAck { .. }) => {
                    continue;
                }
                // Renewals are periodic noise: show a grant only when the holder changes.
                What::Node(Output::Effect(Effect::WitnessRequest(_))) => continue,
                What::WitnessGranted { holder, .. } => {
                    if last_holder == Some(*holder) {
                        continue;
                    }
                    last_holder = Some(*holder);
                    format!("{:?}", record.what)
                }
                What::ArrayWrite { .. } => continue,
                What::Node(output) => format!("{output:?}"),
                What::Hub(output) => format!("{output:?}"),
                other => format!("{other:?}"),
            };
            let _ = writeln!(text, "{} {:?}: {line}", fmt_time(record.at), record.actor);
        }
        text
    }
}

/// Collects every broken expectation of a test, then fails once with all of them and the trace.
#[derive(Default)]
pub struct Checks {
    failures: Vec<String>,
    traces: String,
}

impl Checks {
    pub fn new() -> Checks {
        Checks::default()
    }

    pub fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.failures.push(what.into());
        }
    }

    /// Takes over the failures of one variant of a test (and its run's trace, if anything failed).
    pub fn merge(&mut self, variant: Checks, sim: &Sim) {
        if variant.failures.is_empty() {
            return;
        }
        self.failures.extend(variant.failures);
        self.traces.push_str(&variant.traces);
        let _ = writeln!(self.traces, "key events:\n{}", sim.trace());
    }

    /// Fails with everything collected so far.
    pub fn finish_all(self) {
        if self.failures.is_empty() {
            return;
        }
        let mut text = String::new();
        for failure in &self.failures {
            let _ = writeln!(text, "- {failure}");
        }
        panic!("{} expectation(s) broken:\n{text}\n{}", self.failures.len(), self.traces);
    }

    /// For a test that pins a known bug: passes while at least one expectation is broken (today's
    /// behaviour), and fails once they all hold, so whoever fixes the bug turns the test back into an
    /// ordinary one with `finish`.
    pub fn finish_known_bug(self, bug: &str) {
        assert!(
            !self.failures.is_empty(),
            "FIXME resolved? every expectation now holds, so the known bug ({bug}) looks fixed: \
             call `finish` instead of `finish_known_bug` and update ARCHITECTURE.md"
        );
    }

    pub fn finish(mut self, sim: &Sim) {
        if self.failures.is_empty() {
            return;
        }
        let _ = writeln!(self.traces, "key events:\n{}", sim.trace());
        self.finish_all();
    }
}

/// Runs `sim` to 20 s, by which `owner` must serve epoch 1 and nobody else (the formed cluster every
/// test starts from).
pub fn formed_from(mut sim: Sim, owner: NodeId) -> Sim {
    sim.run_until(secs(20));
    let mounts = sim.mounts();
    assert!(
        mounts.len() == 1 && mounts[0].node == owner && mounts[0].epoch == 1,
        "the cluster did not form with {owner:?} serving epoch 1: {mounts:?}\n{}",
        sim.trace()
    );
    sim
}
