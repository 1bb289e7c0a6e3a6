//! The seeded nemesis, drawn lazily: each draw happens when it is due (an `Ev::Nemesis` in the queue)
//! and schedules the next, so the schedule is never built up front and a draw can look at the world
//! as it is (which host owns a database, what is already down).
//!
//! Two forms (`scenario::NemesisSpec`). The `kinds` form draws every kind at one rate, exactly as the
//! first nemesis did: the draws come from the `nemesis` stream in the same order, so a seed replays the
//! same faults. The swarm form (`families`) first draws, from the seed's `swarm` stream, the families
//! this seed enables, its mean interval and longest fault, and the declared settings (recorded as
//! `nemesis-drawn`); each later draw is one typed `Fault`, checked against the scenario's tolerance
//! (nodes and witness down at once, in ground truth) before it is injected, and everything heals at
//! the nemesis's `stop`, after which only liveness and quiesce remain.

mod families;

use super::{Ev, World};
use crate::history::{DrawnSetting, Event};
use crate::scenario::{
    DriftRange, DurationRange, FabricFault, Fault, FaultSpec, FaultTrigger, LinkDirection, NemesisFamily,
    NemesisKind, NemesisSpec, PowerFault, RunFault, Scenario, SoftwareFault, Target, WitnessFault,
};
use kernel::{RngStream, SeedTree, SimTime};
use std::time::Duration;

/// What one seed of a swarm nemesis draws before its first fault.
#[derive(Clone, Debug, PartialEq)]
pub struct SwarmPlan {
    /// The enabled families, in the order the scenario lists them.
    pub families: Vec<NemesisFamily>,
    pub mean_interval: Duration,
    pub max_fault_duration: Duration,
    pub settings: Vec<DrawnSetting>,
}

/// How many candidates a swarm draw tries before it skips its turn (every one exceeded the tolerance
/// or found nothing to hit).
const ATTEMPTS: usize = 8;

/// Draws the swarm plan of `seed` from its own stream, so the fault stream is independent of it.
pub fn draw_plan(spec: &NemesisSpec, seed: u64) -> SwarmPlan {
    let mut rng = SeedTree::new(seed).stream("swarm");
    let (min, max) = spec.enabled;
    let count = min + rng.below((max - min + 1) as u64) as usize;
    let mut order: Vec<usize> = (0..spec.families.len()).collect();
    for index in 0..count {
        let pick = index + rng.below((order.len() - index) as u64) as usize;
        order.swap(index, pick);
    }
    let mut chosen: Vec<usize> = order.into_iter().take(count).collect();
    chosen.sort_unstable();
    let families = chosen.into_iter().map(|index| spec.families[index]).collect();
    let mean_interval = uniform_ms(&mut rng, spec.mean_interval);
    let max_fault_duration = uniform_ms(&mut rng, spec.max_fault_duration);
    let settings = draw_settings(spec, &mut rng);
    SwarmPlan { families, mean_interval, max_fault_duration, settings }
}

/// A duration uniform in the range, in whole milliseconds (so the record holds it exactly); the
/// range's `min` itself when the range is narrower than a millisecond.
fn uniform_ms(rng: &mut RngStream, range: DurationRange) -> Duration {
    let min_ms = range.min.as_millis() as u64;
    let max_ms = range.max.as_millis() as u64;
    if max_ms <= min_ms {
        return range.min;
    }
    Duration::from_millis(min_ms + rng.below(max_ms - min_ms + 1)).max(range.min)
}

fn uniform(rng: &mut RngStream, (min, max): (u64, u64)) -> u64 {
    min + rng.below(max.saturating_sub(min).saturating_add(1))
}

fn draw_settings(spec: &NemesisSpec, rng: &mut RngStream) -> Vec<DrawnSetting> {
    let ranges = &spec.settings;
    let mut drawn = Vec::new();
    if let Some((min, max)) = ranges.heartbeat_threshold {
        let missed = uniform(rng, (u64::from(min), u64::from(max))) as u32;
        drawn.push(DrawnSetting::HeartbeatThreshold { missed });
    }
    if let Some(range) = ranges.resource_online_time {
        drawn.push(DrawnSetting::ResourceOnlineTime { ms: uniform_ms(rng, range).as_millis() as u64 });
    }
    if let Some(range) = ranges.mount_time {
        drawn.push(DrawnSetting::MountTime { ms: uniform_ms(rng, range).as_millis() as u64 });
    }
    if !ranges.mount_dial.is_empty() {
        let dial = ranges.mount_dial[rng.below(ranges.mount_dial.len() as u64) as usize];
        drawn.push(DrawnSetting::MountDial { dial });
    }
    if let Some(range) = ranges.dumpster_size_bytes {
        drawn.push(DrawnSetting::DumpsterSize { bytes: uniform(rng, range) });
    }
    if let Some(DriftRange { min, max, hosts }) = &ranges.clock_drift {
        let (min, max) = (*min, *max);
        for host in hosts {
            let span = u64::try_from(i64::from(max) - i64::from(min)).unwrap_or(0);
            let ppm = i64::from(min) + rng.below(span + 1) as i64;
            let ppm = i32::try_from(ppm).unwrap_or(max);
            drawn.push(DrawnSetting::ClockDrift { host: host.as_str().into(), ppm });
        }
    }
    drawn
}

/// The scenario a seed runs: the file's, with the settings its swarm drew for this seed.
pub fn with_drawn_settings(scenario: &Scenario, seed: u64) -> Option<Scenario> {
    let spec = scenario.nemesis.as_ref().filter(|spec| spec.is_swarm() && !spec.settings.is_empty())?;
    let mut drawn = scenario.clone();
    for setting in draw_plan(spec, seed).settings {
        match setting {
            DrawnSetting::HeartbeatThreshold { missed } => {
                drawn.cluster.settings.heartbeat_threshold = missed
            }
            DrawnSetting::ResourceOnlineTime { ms } => {
                drawn.cluster.resource_online_time = Duration::from_millis(ms)
            }
            DrawnSetting::MountTime { ms } => drawn.cluster.mount_time = Duration::from_millis(ms),
            DrawnSetting::MountDial { dial } => drawn.cluster.settings.mount_dial = dial,
            DrawnSetting::DumpsterSize { bytes } => drawn.transport.dumpster_size_bytes = bytes,
            DrawnSetting::ClockDrift { host, ppm } => {
                if let Some(def) = drawn.hosts.iter_mut().find(|def| *def.name == *host) {
                    def.clock_drift_ppm = f64::from(ppm);
                }
            }
        }
    }
    Some(drawn)
}

/// What a fault does to the tolerance's notion of "down", while it lasts.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Impact {
    /// The host is off or paused.
    Stop(usize),
    NicDown(usize, String),
    /// The link between the two hosts on the network is cut (one way counts: heartbeats need both).
    Cut(usize, usize, String),
    SwitchDown(String),
    WitnessDown,
    /// The shared array cannot serve I/O (its controllers reboot, or a data LUN is offline). The array
    /// is one component: the nemesis never stacks a second outage on it, since a recovery-time
    /// objective is a promise about one fault, and back-to-back reboots are a longer single outage of a
    /// component failover cannot route around (`scc-nemesis` seeds 4, 5, 11, ...).
    StorageDown,
}

/// The nemesis's state in a run: its stream, the swarm plan, and the impacts of its faults in force.
pub(super) struct NemesisState {
    rng: RngStream,
    plan: Option<SwarmPlan>,
    /// Each impact with the instant it ends.
    ledger: Vec<(SimTime, Impact)>,
}

impl NemesisState {
    pub(super) fn new(scenario: &Scenario, seeds: &SeedTree) -> NemesisState {
        let plan = scenario
            .nemesis
            .as_ref()
            .filter(|spec| spec.is_swarm())
            .map(|spec| draw_plan(spec, seeds.seed()));
        NemesisState { rng: seeds.stream("nemesis"), plan, ledger: Vec::new() }
    }
}

/// One swarm draw: the faults to fire (a flapping link is several) and their impacts until `until`.
struct Draw {
    faults: Vec<FaultSpec>,
    impacts: Vec<Impact>,
    until: SimTime,
}

impl World<'_> {
    /// Records a swarm's plan, schedules its final heal, and schedules the first draw.
    pub(super) fn start_nemesis(&mut self) {
        let Some(spec) = &self.scenario.nemesis else { return };
        if let Some(plan) = &self.nemesis.plan {
            self.record(Event::NemesisDrawn {
                families: plan.families.clone(),
                mean_interval_ms: plan.mean_interval.as_millis() as u64,
                max_fault_duration_ms: plan.max_fault_duration.as_millis() as u64,
                settings: plan.settings.clone(),
            });
            let heal = FaultSpec { at: spec.stop, fault: Fault::HealAll, duration: None };
            self.queue.schedule(
                SimTime::ZERO + spec.stop,
                Ev::Fault(Box::new(super::faults::Action::scheduled(heal))),
            );
        } else if spec.kinds.is_empty() || spec.targets.is_empty() {
            return;
        }
        self.schedule_next_draw(SimTime::ZERO + spec.start);
    }

    fn schedule_next_draw(&mut self, from: SimTime) {
        let Some(spec) = &self.scenario.nemesis else { return };
        let mean = self.nemesis.plan.as_ref().map_or(spec.mean_interval.min, |plan| plan.mean_interval);
        let at = from + self.nemesis.rng.exponential(mean);
        if at < SimTime::ZERO + spec.stop {
            self.queue.schedule(at, Ev::Nemesis);
        }
    }

    /// A draw is due: draw one fault (or a flap's few), inject it, and schedule the next draw.
    pub(super) fn nemesis_draw(&mut self) {
        let now = self.now();
        if self.nemesis.plan.is_some() {
            self.swarm_draw(now);
        } else if let Some(spec) = self.fixed_kinds_draw(now) {
            self.apply(super::faults::Action::scheduled(spec));
        }
        self.schedule_next_draw(now);
    }

    /// The `kinds` form: the first nemesis's draw, in its order (kind, target, duration, fault).
    fn fixed_kinds_draw(&mut self, now: SimTime) -> Option<FaultSpec> {
        let scenario = self.scenario;
        let spec = scenario.nemesis.as_ref()?;
        let rng = &mut self.nemesis.rng;
        let at = now.saturating_since(SimTime::ZERO);
        let kind = spec.kinds[rng.below(spec.kinds.len() as u64) as usize];
        let target = spec.targets[rng.below(spec.targets.len() as u64) as usize].clone();
        let duration = rng.duration_up_to(spec.max_fault_duration.min).max(Duration::from_secs(1));
        let duration = duration.min(spec.stop.saturating_sub(at)).max(Duration::from_millis(1));
        let (fault, heals) = fixed_kind_fault(scenario, rng, kind, &target)?;
        Some(FaultSpec { at, fault, duration: heals.then_some(duration) })
    }

    fn swarm_draw(&mut self, now: SimTime) {
        self.nemesis.ledger.retain(|(until, _)| *until > now);
        let families = self.nemesis.plan.as_ref().map(|plan| plan.families.clone()).unwrap_or_default();
        for _ in 0..ATTEMPTS {
            let family = families[self.nemesis.rng.below(families.len() as u64) as usize];
            let Some(draw) = self.draw_family(family, now) else { continue };
            if !self.within_tolerance(&draw.impacts) {
                continue;
            }
            self.nemesis.ledger.extend(draw.impacts.into_iter().map(|impact| (draw.until, impact)));
            for spec in draw.faults {
                let action = super::faults::Action::scheduled(spec);
                if SimTime::ZERO + action.spec.at == now {
                    self.apply(action);
                } else {
                    self.queue.schedule(SimTime::ZERO + action.spec.at, Ev::Fault(Box::new(action)));
                }
            }
            return;
        }
    }

    /// Whether the cluster would still be within its declared tolerance with `extra` in force too,
    /// judged on ground truth (hosts not running now) and the nemesis's own faults in force.
    fn within_tolerance(&self, extra: &[Impact]) -> bool {
        let Some(spec) = &self.scenario.nemesis else { return true };
        let impacts: Vec<&Impact> =
            self.nemesis.ledger.iter().map(|(_, impact)| impact).chain(extra).collect();
        // A VM stops with its hypervisor host, and is not executing while its guest boots.
        let stopped = |host: usize| {
            impacts.contains(&&Impact::Stop(host))
                || impacts.contains(&&Impact::Stop(self.physical_host(host)))
                || !self.executing(host)
        };
        let mailboxes: Vec<usize> = self.nodes.iter().map(|slot| slot.host).collect();
        let members: Vec<usize> = mailboxes.iter().copied().chain(self.witness_host).collect();
        let isolated = |host: usize, from: &[usize]| {
            from.iter().filter(|&&other| other != host).all(|&other| !self.can_talk(&impacts, host, other))
        };
        let nodes_down = mailboxes.iter().filter(|&&host| stopped(host) || isolated(host, &members)).count();
        // A disk witness is down while its LUN is offline or the array reboots (the draws say so).
        let witness_down = impacts.contains(&&Impact::WitnessDown)
            || self.witness_host.is_some_and(|host| {
                self.witness.as_ref().is_some_and(|witness| !witness.is_up())
                    || stopped(host)
                    || isolated(host, &mailboxes)
            });
        let storage_outages = impacts.iter().filter(|impact| ***impact == Impact::StorageDown).count();
        let tolerance = spec.tolerance;
        storage_outages <= 1
            && nodes_down <= tolerance.max_nodes_down
            && (!witness_down || nodes_down == 0 || tolerance.witness_with_node)
    }

    /// Whether two hosts share a cluster network whose NICs, link and switch no impact has taken. A
    /// VM's frames ride its hypervisor host's NICs and links too.
    fn can_talk(&self, impacts: &[&Impact], a: usize, b: usize) -> bool {
        let (one, other) = (&self.scenario.hosts[a], &self.scenario.hosts[b]);
        let (host_a, host_b) = (self.physical_host(a), self.physical_host(b));
        let between = |x: usize, y: usize, p: usize, q: usize| (x == p && y == q) || (x == q && y == p);
        one.networks
            .iter()
            .filter(|network| other.has_nic_on(network) && !self.is_storage_network(network))
            .any(|network| {
                !impacts.iter().any(|impact| match impact {
                    Impact::NicDown(host, on) => on == network && [a, b, host_a, host_b].contains(host),
                    Impact::Cut(x, y, on) => {
                        on == network
                            && (between(*x, *y, a, b)
                                || (host_a != host_b && between(*x, *y, host_a, host_b)))
                    }
                    Impact::SwitchDown(switch) => {
                        self.scenario.network(network).and_then(|def| def.spec.switch.as_ref())
                            == Some(switch)
                    }
                    Impact::Stop(_) | Impact::WitnessDown | Impact::StorageDown => false,
                })
            })
    }

    /// The host whose NICs and power `host` rides: its hypervisor host if it is a VM, else itself.
    fn physical_host(&self, host: usize) -> usize {
        self.vm_placement(host).unwrap_or(host)
    }

    fn is_storage_network(&self, network: &str) -> bool {
        self.scenario
            .storage
            .as_ref()
            .is_some_and(|storage| storage.networks.iter().any(|name| name == network))
    }
}

/// The first nemesis's faults, one per kind, against `target`; and whether it heals after its duration.
fn fixed_kind_fault(
    scenario: &Scenario,
    rng: &mut RngStream,
    kind: NemesisKind,
    target: &str,
) -> Option<(Fault, bool)> {
    let host = scenario.host(target);
    let network = host.and_then(|host| {
        let networks = &host.networks;
        (!networks.is_empty()).then(|| networks[rng.below(networks.len() as u64) as usize].clone())
    });
    let peer = scenario
        .hosts
        .iter()
        .filter(|other| other.name != target && network.as_ref().is_some_and(|n| other.has_nic_on(n)))
        .map(|other| other.name.clone())
        .next();
    let host_target = Target::Host(target.to_string());
    Some(match kind {
        NemesisKind::PowerCycle => (Fault::Power(PowerFault::Off { target: host_target }), true),
        NemesisKind::NicFlap => {
            (Fault::Fabric(FabricFault::NicDown { target: host_target, network: network? }), true)
        }
        NemesisKind::LinkCut | NemesisKind::OneWayCut => {
            let direction =
                if kind == NemesisKind::OneWayCut { LinkDirection::OneWay } else { LinkDirection::Both };
            let fault = FabricFault::LinkCut {
                target: host_target,
                peer: Target::Host(peer?),
                network: network?,
                direction,
            };
            (Fault::Fabric(fault), true)
        }
        NemesisKind::WitnessDown => (Fault::Witness(WitnessFault::Down), true),
        NemesisKind::Freeze => {
            (Fault::Run(RunFault::Freeze { target: host_target, trigger: FaultTrigger::At }), true)
        }
        NemesisKind::ClockStep => {
            let magnitude = rng.duration_up_to(Duration::from_secs(30)).as_nanos() as i64;
            let step_nanos = if rng.chance(0.5) { magnitude } else { -magnitude };
            (Fault::Run(RunFault::ClockStep { target: host_target, step_nanos }), false)
        }
        NemesisKind::ResourceCrash => {
            let database = scenario.databases.first()?.name.clone();
            (Fault::Software(SoftwareFault::ResourceCrash { database, resource: None }), false)
        }
    })
}
