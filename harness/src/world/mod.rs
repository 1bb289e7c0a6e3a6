//! The simulated world: emulators, nodes running the real failover logic, hubs, clients and faults,
//! driven by one discrete-event loop over true virtual time.
//!
//! The world is the only driver of the failover state machines here: it converts true time to each
//! node's local clock, carries every `Output` out through the emulators (fabric, power, witness, DNS)
//! and records what happened in the history. Nothing in a run reads the wall clock or an unseeded
//! random source, and the loop is single-threaded, so a seed replays byte for byte.

mod address;
mod boot;
mod build;
mod claims;
mod clock;
mod datastore;
mod dns;
#[cfg(test)]
mod fault_matrix;
mod faults;
mod gate;
mod hub;
pub use hub::MESSAGES_PER_DATABASE;
mod hypervisor;
mod nemesis;
mod node;
mod snapshot;
mod storage;
mod vmotion;
mod wake;
mod witness;

use crate::check::{self, CheckConfig};
use crate::history::{Event, History, Name};
use crate::run::{RunOutcome, first_surprise, judge};
use crate::scenario::{FaultSpec, HostRole, Scenario};
use clock::HostClock;
use emulators::dns::{Dns, DnsConfig};
use emulators::fabric::{Fabric, PathState, Transmission};
use emulators::host::Hosts;
use emulators::witness::{FileShareWitness, WitnessConfig};
use emulators::{HostId, NetworkId};
use failover::{ClusterConfig, DbId, Disk, Hub, HubId, Node, NodeId, Output};
use faults::Action;
use gate::Packet;
use kernel::{EventQueue, RngStream, SeedTree, SimTime};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use wake::{Component, WakeSlot};

enum Ev {
    /// A state machine asked to be woken; stale generations are ignored.
    Wake {
        component: Component,
        generation: u64,
    },
    /// A packet reaches `host` on its NIC on `network`: delivered, queued in the ring, or lost, as the
    /// host's run state decides.
    Arrive {
        host: usize,
        network: NetworkId,
        packet: Packet,
    },
    /// Something happening on `host` itself (an answer from its own storage stack, a process crash):
    /// handled if the host runs, held while it is paused, lost if it is off.
    Local {
        host: usize,
        packet: Packet,
    },
    Submit,
    Fault(Box<Action>),
    /// The nemesis's next draw is due.
    Nemesis,
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
    /// A vMotion's stun has run: its VM switches over to the destination.
    Vmotion(emulators::hypervisor::vmotion::Vmotion),
    End,
}

struct NodeSlot {
    host: usize,
    node: Option<Node>,
    disk: Option<Disk>,
    /// Outputs the node produced after its host paused mid-step (a freeze triggered by one of its own
    /// writes): the guest's queue, carried out when it resumes.
    outbox: Vec<Output>,
    wake: WakeSlot,
    /// The VM's latest snapshot of this node (`snapshot.rs`).
    snapshot: Option<snapshot::Snapshot>,
    /// A memory image to resume instead of booting, on the VM's next power-on (`snapshot.rs`).
    resume: Option<snapshot::Resume>,
}

struct HubSlot {
    host: usize,
    hub: Hub,
    wake: WakeSlot,
}

pub struct World<'s> {
    scenario: &'s Scenario,
    seed: u64,
    queue: EventQueue<Ev>,
    history: History,
    fabric: Fabric,
    networks: Vec<NetworkId>,
    /// Power, pause and receive rings of every host: the one "is this host executing?" gate.
    hosts: Hosts<Packet>,
    /// Each host's clock; the software on a host only ever reads its own.
    clocks: Vec<HostClock>,
    /// Local events that came while their host was paused, handled when it resumes.
    local_held: Vec<Vec<Packet>>,
    witness: Option<FileShareWitness>,
    witness_host: Option<usize>,
    dns: Dns,
    /// The host the DNS server runs on (role `dns`); `None`: DNS is outside the model and answers at
    /// once (see `dns.rs`).
    dns_host: Option<usize>,
    /// Each hub's lookups waiting for the DNS server, by database, with the messages they hold.
    lookups: BTreeMap<(usize, DbId), dns::Lookup>,
    next_lookup: u64,
    config: Arc<ClusterConfig>,
    nodes: Vec<NodeSlot>,
    hubs: Vec<HubSlot>,
    host_names: Vec<Name>,
    db_names: Vec<Name>,
    workload: RngStream,
    /// Messages submitted so far, counting from 1: hubs take turns by it.
    submissions: u64,
    /// Messages submitted so far per database (see `hub::message_id`).
    next_message_of: Vec<u64>,
    /// Which node each database was last seen mounted on (for role targets such as `active`).
    mounted: claims::Claims<DbId, NodeId>,
    last_owner: BTreeMap<DbId, NodeId>,
    /// Which node holds each group's IP address on each subnet now (see `address.rs`).
    addresses: claims::Claims<(DbId, NetworkId), usize>,
    corrupt_next: BTreeSet<(usize, DbId)>,
    last_fault_at: SimTime,
    /// Every fault that took effect, as a fixed schedule would write it (see `faults.rs`).
    realised: Vec<FaultSpec>,
    nemesis: nemesis::NemesisState,
    storage: Option<storage::Storage>,
    /// vSphere HA and the VMs' placement, when the scenario has hypervisor hosts (`hypervisor.rs`).
    ha: Option<hypervisor::Ha>,
    /// The VMs whose guest is booting (`boot.rs`).
    guest_boots: boot::GuestBoots,
}

pub use nemesis::{SwarmPlan, draw_plan, with_drawn_settings};

/// Runs `scenario` with `seed` to the end and judges it. A swarm nemesis's drawn settings apply.
pub fn run_scenario(scenario: &Scenario, seed: u64) -> RunOutcome {
    run_with_history(scenario, seed, History::checked(None))
}

/// [`run_scenario`] in memory bounded in simulated time: the history is hashed and checked as it is
/// produced and then let go, so the outcome holds its digest, report and verdict but no records
/// (see [`History::bounded`]). Campaigns and `drill bench` run this way.
pub fn run_scenario_bounded(scenario: &Scenario, seed: u64) -> RunOutcome {
    run_with_history(scenario, seed, History::bounded(None))
}

/// [`run_scenario`], writing the history's JSON Lines to `out` as the run produces them; an error
/// writing them is in `outcome.history.take_sink_error()`.
pub fn run_scenario_streaming(
    scenario: &Scenario,
    seed: u64,
    out: Box<dyn std::io::Write + Send>,
) -> RunOutcome {
    run_with_history(scenario, seed, History::checked(Some(out)))
}

fn run_with_history(scenario: &Scenario, seed: u64, history: History) -> RunOutcome {
    // Every log line of the run carries its scenario and seed, so lines of parallel runs (a
    // campaign's workers) can be told apart.
    let _run = tracing::info_span!("run", scenario = %scenario.name, seed).entered();
    let drawn = nemesis::with_drawn_settings(scenario, seed);
    let mut world = World::new(drawn.as_ref().unwrap_or(scenario), seed);
    world.history = history;
    world.run();
    world.finish()
}

/// Power, pause state and receive rings for every host of the scenario.
fn build_hosts(scenario: &Scenario) -> Hosts<Packet> {
    let mut hosts = Hosts::new();
    for (index, host) in scenario.hosts.iter().enumerate() {
        hosts.add_host(HostId(index as u32), host.receive_ring);
    }
    let mut racks: BTreeMap<&str, Vec<HostId>> = BTreeMap::new();
    for (index, host) in scenario.hosts.iter().enumerate() {
        if let Some(rack) = &host.rack {
            racks.entry(rack.as_str()).or_default().push(HostId(index as u32));
        }
    }
    for (rack, members) in &racks {
        hosts.add_rack(rack, members);
    }
    hosts
}

impl<'s> World<'s> {
    pub fn new(scenario: &'s Scenario, seed: u64) -> World<'s> {
        let seeds = SeedTree::new(seed);
        let (fabric, networks) = build::fabric(scenario, &seeds);
        let ha = hypervisor::build(scenario, &fabric);
        let mailbox_hosts = build::hosts_with_role(scenario, HostRole::Mailbox);
        let hub_hosts = build::hosts_with_role(scenario, HostRole::Hub);
        let config = Arc::new(build::cluster_config(scenario, &mailbox_hosts, &hub_hosts));
        let storage = storage::build(scenario, &seeds, &mailbox_hosts, &networks);
        let witness_host = scenario
            .cluster
            .witness
            .as_ref()
            .and_then(|name| scenario.hosts.iter().position(|h| &h.name == name));
        let witness = witness_host.map(|host| {
            FileShareWitness::new(
                HostId(host as u32),
                WitnessConfig {
                    lock_lease: scenario.cluster.settings.witness_lease,
                    ..WitnessConfig::default()
                },
            )
        });
        let clocks: Vec<HostClock> = scenario
            .hosts
            .iter()
            .map(|host| HostClock::new(host.clock_offset_nanos, host.clock_drift_ppm))
            .collect();
        let nodes = mailbox_hosts
            .iter()
            .map(|&host| NodeSlot {
                host,
                node: None,
                disk: Some(Disk::default()),
                outbox: Vec::new(),
                wake: WakeSlot::default(),
                snapshot: None,
                resume: None,
            })
            .collect();
        let hub_config = build::hub_config(scenario);
        let hubs = hub_hosts
            .iter()
            .enumerate()
            .map(|(index, &host)| HubSlot {
                host,
                hub: Hub::new(HubId(index as u16), hub_config.clone(), clocks[host].local(SimTime::ZERO)),
                wake: WakeSlot::default(),
            })
            .collect();
        World {
            scenario,
            seed,
            queue: EventQueue::new(),
            history: History::new(),
            fabric,
            networks,
            hosts: build_hosts(scenario),
            clocks,
            local_held: (0..scenario.hosts.len()).map(|_| Vec::new()).collect(),
            guest_boots: boot::GuestBoots::new(scenario.hosts.len()),
            witness,
            witness_host,
            dns: Dns::new(DnsConfig::default()),
            dns_host: scenario.hosts.iter().position(|host| host.role == HostRole::Dns),
            lookups: BTreeMap::new(),
            next_lookup: 1,
            config,
            nodes,
            hubs,
            host_names: scenario.hosts.iter().map(|host| Name::from(host.name.as_str())).collect(),
            db_names: scenario.databases.iter().map(|db| Name::from(db.name.as_str())).collect(),
            workload: seeds.stream("workload"),
            submissions: 1,
            next_message_of: vec![0; scenario.databases.len()],
            mounted: claims::Claims::default(),
            last_owner: BTreeMap::new(),
            addresses: claims::Claims::default(),
            corrupt_next: BTreeSet::new(),
            last_fault_at: SimTime::ZERO,
            realised: Vec::new(),
            nemesis: nemesis::NemesisState::new(scenario, &seeds),
            storage,
            ha,
        }
    }

    fn now(&self) -> SimTime {
        self.queue.now()
    }

    /// Appends `event` to the history, and logs it: the history is the run's story, so `-vv` prints
    /// it as it happens (per-message records at trace level, `-vvv`), each line stamped with the
    /// simulated time and, through the run's span, the scenario and seed. The JSON is built only when
    /// the level is enabled.
    fn record(&mut self, event: Event) {
        let now = self.now();
        if event.is_per_message() {
            tracing::trace!(t = %now, record = %event.to_json(), "history");
        } else {
            tracing::debug!(t = %now, record = %event.to_json(), "history");
        }
        self.history.push(now, event);
    }

    /// Schedules the boot of every node, the workload, the fault schedule and the end.
    fn start(&mut self) {
        self.record(Event::header(&self.scenario.name, self.seed));
        if let Some(lun) = &self.scenario.cluster.disk_witness {
            self.record(Event::WitnessDisk { lun: Name::from(lun.as_str()) });
        }
        for node in 0..self.nodes.len() {
            self.boot(node);
        }
        self.start_hypervisors();
        for hub in 0..self.hubs.len() {
            self.wake_component(Component::Hub(hub));
        }
        let start = SimTime::ZERO + self.scenario.workload.start;
        if self.scenario.workload.rate_per_second > 0.0 {
            self.queue.schedule(start, Ev::Submit);
        }
        for spec in &self.scenario.faults {
            let action = Action::scheduled(spec.clone());
            self.queue.schedule(SimTime::ZERO + action.spec.at, Ev::Fault(Box::new(action)));
        }
        self.start_nemesis();
        self.queue.schedule(SimTime::ZERO + self.scenario.duration, Ev::End);
    }

    pub fn run(&mut self) {
        self.start();
        while let Some((_, event)) = self.queue.pop() {
            if !self.handle(event) {
                break;
            }
        }
        self.record_lun_contents();
        self.record(Event::RunEnded);
    }

    /// Handles one event; returns `false` at the end of the run.
    fn handle(&mut self, event: Ev) -> bool {
        match event {
            Ev::End => return false,
            Ev::Wake { component, generation } => self.wake_fired(component, generation),
            Ev::Arrive { host, network, packet } => self.arrive(host, network, packet),
            Ev::Local { host, packet } => self.deliver_local(host, packet),
            Ev::Submit => self.submit(),
            Ev::Fault(action) => self.apply(*action),
            Ev::Nemesis => self.nemesis_draw(),
            Ev::ArrayTask { task } => self.array_task(task),
            Ev::Vmotion(motion) => self.finish_vmotion(motion),
            Ev::ConnectAnswer { node, boot, request, result } => {
                self.connect_answer(node, boot, request, result)
            }
        }
        true
    }

    /// Runs the checkers over the history and judges the outcome.
    pub fn finish(mut self) -> RunOutcome {
        self.history.flush();
        let checks = &self.scenario.checks;
        let config = CheckConfig {
            rto: checks.rto,
            max_lost_acked: checks.max_lost_acked,
            max_failovers: checks.max_failovers,
            liveness_bound: checks.liveness_bound,
            expected_outage: checks
                .expected_outage
                .map(|window| (SimTime::ZERO + window.from, window.to.map(|to| SimTime::ZERO + to))),
            final_heal: self.last_fault_at,
            end: self.queue.now(),
            copy_lag_tolerance: 2,
            vote_freshness: CheckConfig::vote_freshness_for(
                self.scenario.cluster.settings.heartbeat_interval,
                self.scenario.cluster.settings.heartbeat_threshold,
            ),
            reached: checks.reached.clone(),
        };
        let report = match self.history.take_checker() {
            Some(checker) => checker.finish(&config),
            None => check::check_all(&self.history, &config),
        };
        let check_config = config;
        let (verdict, as_expected, exit_code) = judge(self.scenario, &report);
        let surprise = first_surprise(self.scenario, &report);
        RunOutcome {
            scenario: self.scenario.name.clone(),
            scenario_path: self.scenario.path.display().to_string(),
            scenario_sha256: self.scenario.sha256.clone(),
            seed: self.seed,
            history: self.history,
            check_config,
            report,
            verdict,
            expected: self.scenario.expect,
            realised_faults: self.realised,
            surprise,
            as_expected,
            exit_code,
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
                    && self.uplinks_up(from, to, network)
            })
            .or_else(|| preference.first().copied())
    }

    /// Puts `packet` on the wire from `from` to `to` at `at` (now, or later for a reply that leaves
    /// after a service delay). It arrives at the receiver's NIC, whose host decides its fate, or is
    /// dropped by the fabric. A host that is not running sends nothing.
    fn send_packet(
        &mut self,
        at: SimTime,
        from: usize,
        to: usize,
        network: Option<NetworkId>,
        bytes: u64,
        packet: Packet,
    ) {
        if !self.hosts.is_running(HostId(from as u32)) {
            return;
        }
        let Some(network) = network.or_else(|| self.route(from, to)) else { return };
        // A VM's frames leave through its hypervisor host's NIC: lost with it, before the fabric
        // draws anything for the VM's own link.
        if !self.uplinks_up(from, to, network) {
            return;
        }
        if let Transmission::Delivered { at: arrives } =
            self.fabric.transmit_message(at, HostId(from as u32), HostId(to as u32), network, bytes)
        {
            self.queue.schedule(arrives, Ev::Arrive { host: to, network, packet });
        }
    }
}

/// Runs `scenario` once with seed 1, without judging it: what `drill bench` times. Returns the simulated
/// time and the number of kernel events.
pub fn bench_run(scenario: &Scenario) -> (Duration, u64) {
    let drawn = nemesis::with_drawn_settings(scenario, 1);
    let mut world = World::new(drawn.as_ref().unwrap_or(scenario), 1);
    world.run();
    (scenario.duration, world.queue.popped())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_reference_drill_loads_from_its_file_and_runs_its_simulated_hour() {
        let path = crate::bench::reference_drill_path();
        let scenario = crate::scenario::load(&path).unwrap_or_else(|error| panic!("{error}"));
        let (simulated, events) = super::bench_run(&scenario);
        assert_eq!(simulated, std::time::Duration::from_secs(3_600));
        assert!(events > 100_000, "an hour of heartbeats and mail is many events, got {events}");
    }
}
