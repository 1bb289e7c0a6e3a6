//! Fault injection: the scenario's fixed schedule and the seeded nemesis, resolved against the world
//! at the instant each fault fires (role targets such as `active` follow the cluster), and healed by
//! their inverse when the fault has a duration.

use super::{Ev, World};
use crate::history::{Event, Name};
use crate::scenario::{
    FaultKind, FaultSpec, FaultTrigger, FaultValue, LinkDirection, NemesisKind, Scenario, Target,
};
use emulators::HostId;
use emulators::fabric::Direction;
use failover::{DbId, Input, NodeId};
use kernel::{RngStream, SimTime};
use std::time::Duration;

/// One fault to fire: the scenario's description plus, for heals, the hosts resolved at injection.
#[derive(Clone, Debug)]
pub struct Action {
    pub at: Duration,
    pub spec: FaultSpec,
    /// Set on automatic heals: the hosts the original fault hit, so the heal undoes exactly that.
    pub resolved: Option<(usize, Option<usize>)>,
}

/// The whole fault schedule: the fixed faults, then the nemesis's draws from the seed.
pub fn schedule(scenario: &Scenario, rng: &mut RngStream) -> Vec<Action> {
    let mut actions: Vec<Action> = scenario
        .faults
        .iter()
        .map(|spec| Action { at: spec.at, spec: spec.clone(), resolved: None })
        .collect();
    if let Some(nemesis) = &scenario.nemesis {
        if nemesis.kinds.is_empty() || nemesis.targets.is_empty() {
            return actions;
        }
        let mut at = nemesis.start;
        loop {
            at += rng.exponential(nemesis.mean_interval);
            if at >= nemesis.stop {
                break;
            }
            let kind = nemesis.kinds[rng.below(nemesis.kinds.len() as u64) as usize];
            let target = nemesis.targets[rng.below(nemesis.targets.len() as u64) as usize].clone();
            let duration = (rng.duration_up_to(nemesis.max_fault_duration)).max(Duration::from_secs(1));
            let duration = duration.min(nemesis.stop.saturating_sub(at)).max(Duration::from_millis(1));
            let host = scenario.host(&target);
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
            let base = FaultSpec {
                at,
                kind: FaultKind::PowerOff,
                target: Target::Host(target.clone()),
                network: None,
                peer: None,
                direction: LinkDirection::Both,
                duration: Some(duration),
                value: None,
                database: None,
                resource: None,
                to: None,
                lun: None,
                trigger: FaultTrigger::At,
            };
            let spec = match kind {
                NemesisKind::PowerCycle => Some(base),
                NemesisKind::NicFlap => Some(FaultSpec { kind: FaultKind::NicDown, network, ..base }),
                NemesisKind::LinkCut | NemesisKind::OneWayCut => peer.map(|peer| FaultSpec {
                    kind: FaultKind::LinkCut,
                    network,
                    peer: Some(Target::Host(peer)),
                    direction: if kind == NemesisKind::OneWayCut {
                        LinkDirection::OneWay
                    } else {
                        LinkDirection::Both
                    },
                    ..base
                }),
                NemesisKind::WitnessDown => {
                    Some(FaultSpec { kind: FaultKind::WitnessDown, target: Target::Witness, ..base })
                }
                NemesisKind::Freeze => Some(FaultSpec { kind: FaultKind::Freeze, ..base }),
                NemesisKind::ClockStep => {
                    let magnitude = rng.duration_up_to(Duration::from_secs(30)).as_nanos() as i64;
                    let step = if rng.chance(0.5) { magnitude } else { -magnitude };
                    Some(FaultSpec {
                        kind: FaultKind::ClockStep,
                        value: Some(FaultValue::SignedDuration(step)),
                        duration: None,
                        ..base
                    })
                }
                NemesisKind::ResourceCrash => scenario.databases.first().map(|db| FaultSpec {
                    kind: FaultKind::ResourceCrash,
                    target: Target::OwnerOf(db.name.clone()),
                    database: Some(db.name.clone()),
                    duration: None,
                    ..base
                }),
            };
            if let Some(spec) = spec {
                actions.push(Action { at, spec, resolved: None });
            }
        }
    }
    actions.sort_by_key(|action| action.at);
    actions
}

/// The fault that undoes `kind`, for automatic heals.
fn inverse(kind: FaultKind) -> Option<FaultKind> {
    Some(match kind {
        FaultKind::PowerOff => FaultKind::PowerOn,
        FaultKind::NicDown => FaultKind::NicUp,
        FaultKind::LinkCut => FaultKind::LinkHeal,
        FaultKind::LinkLoss | FaultKind::LatencySpike | FaultKind::Mtu => kind,
        FaultKind::SwitchDown => FaultKind::SwitchUp,
        FaultKind::WitnessDown | FaultKind::WitnessSlow => FaultKind::WitnessUp,
        FaultKind::Freeze => FaultKind::Resume,
        FaultKind::LunOffline => FaultKind::LunOnline,
        FaultKind::LunLatency => kind,
        _ => return None,
    })
}

impl World<'_> {
    fn db_id(&self, name: &str) -> Option<DbId> {
        self.scenario.databases.iter().position(|db| db.name == name).map(|index| DbId(index as u16))
    }

    fn owner_of(&self, db: DbId) -> Option<usize> {
        let node = self.mounted.get(&db).or_else(|| self.last_owner.get(&db)).map(|id| id.0 as usize);
        node.or_else(|| {
            let copies = &self.scenario.databases.get(db.0 as usize)?.copies;
            let first = copies.first()?;
            self.nodes.iter().position(|slot| &self.scenario.hosts[slot.host].name == first)
        })
    }

    fn passive_of(&self, db: DbId) -> Option<usize> {
        let owner = self.owner_of(db);
        let copies = &self.scenario.databases.get(db.0 as usize)?.copies;
        copies
            .iter()
            .filter_map(|name| {
                self.nodes.iter().position(|slot| &self.scenario.hosts[slot.host].name == name)
            })
            .find(|&node| Some(node) != owner)
    }

    /// Resolves a target to a host index, following roles as they are now.
    fn resolve(&self, target: &Target) -> Option<usize> {
        let node_host = |node: usize| self.nodes.get(node).map(|slot| slot.host);
        match target {
            Target::Active => self.owner_of(DbId(0)).and_then(node_host),
            Target::Passive => self.passive_of(DbId(0)).and_then(node_host),
            Target::OwnerOf(db) => self.db_id(db).and_then(|db| self.owner_of(db)).and_then(node_host),
            Target::PassiveOf(db) => self.db_id(db).and_then(|db| self.passive_of(db)).and_then(node_host),
            Target::Witness => self.witness_host,
            Target::Host(name) => self.scenario.hosts.iter().position(|host| &host.name == name),
            Target::Switch(_) | Target::All => None,
        }
    }

    fn node_on(&self, host: usize) -> Option<usize> {
        self.nodes.iter().position(|slot| slot.host == host)
    }

    fn network_id(&self, name: Option<&String>) -> Option<emulators::NetworkId> {
        name.and_then(|name| self.fabric.network_id(name))
    }

    pub(super) fn apply(&mut self, action: Action) {
        let now = self.now();
        let spec = &action.spec;
        let (host, peer) = match action.resolved {
            Some((host, peer)) => (Some(host), peer),
            None => (self.resolve(&spec.target), spec.peer.as_ref().and_then(|peer| self.resolve(peer))),
        };
        let target_name = match (&spec.target, host) {
            (Target::Switch(name), _) => Name::from(name.as_str()),
            (Target::All, _) => Name::from("all"),
            (_, Some(host)) => self.host_names[host].clone(),
            (_, None) => Name::from("none"),
        };
        let mut detail = String::new();
        if let Some(network) = &spec.network {
            detail.push_str(&format!("network={network} "));
        }
        if let Some(peer) = peer {
            detail.push_str(&format!("peer={} direction={:?} ", self.host_names[peer], spec.direction));
        }
        if action.resolved.is_some() {
            detail.push_str("automatic heal ");
        }
        tracing::info!(t = %now, kind = spec.kind.as_str(), target = %target_name, "fault");
        self.record(Event::Fault {
            kind: Name::from(spec.kind.as_str()),
            target: target_name,
            detail: detail.trim().to_string(),
        });
        self.last_fault_at = now;

        let network = self.network_id(spec.network.as_ref());
        let direction =
            if spec.direction == LinkDirection::OneWay { Direction::Forward } else { Direction::Both };
        match spec.kind {
            FaultKind::PowerOff => {
                if let Some(host) = host {
                    self.power_off(host);
                }
            }
            FaultKind::PowerOn => {
                if let Some(host) = host {
                    self.power_on(host);
                }
            }
            FaultKind::PowerCycle => {
                if let Some(host) = host {
                    self.power_off(host);
                    let back = spec.duration.unwrap_or(Duration::from_secs(10));
                    let mut heal = action.clone();
                    heal.spec.kind = FaultKind::PowerOn;
                    heal.resolved = Some((host, None));
                    self.queue.schedule(now + back, Ev::Fault(Box::new(heal)));
                }
            }
            FaultKind::NicDown | FaultKind::NicUp => {
                if let (Some(host), Some(network)) = (host, network)
                    && self.fabric.has_nic(HostId(host as u32), network)
                {
                    self.fabric.set_nic_up(HostId(host as u32), network, spec.kind == FaultKind::NicUp);
                }
            }
            FaultKind::LinkCut | FaultKind::LinkHeal => {
                if let (Some(host), Some(peer), Some(network)) = (host, peer, network) {
                    let (a, b) = (HostId(host as u32), HostId(peer as u32));
                    if self.fabric.has_nic(a, network) && self.fabric.has_nic(b, network) {
                        if spec.kind == FaultKind::LinkCut {
                            self.fabric.cut_link(a, b, network, direction);
                        } else {
                            self.fabric.heal_link(a, b, network, direction);
                        }
                    }
                }
            }
            FaultKind::LinkLoss => {
                let probability = match (action.resolved, spec.value) {
                    (None, Some(FaultValue::Probability(p))) => p,
                    _ => 0.0,
                };
                if let Some(network) = network {
                    match (host, peer) {
                        (Some(host), Some(peer))
                            if self.fabric.has_nic(HostId(host as u32), network)
                                && self.fabric.has_nic(HostId(peer as u32), network) =>
                        {
                            self.fabric.set_link_loss(
                                HostId(host as u32),
                                HostId(peer as u32),
                                network,
                                probability,
                            );
                            if direction == Direction::Both {
                                self.fabric.set_link_loss(
                                    HostId(peer as u32),
                                    HostId(host as u32),
                                    network,
                                    probability,
                                );
                            }
                        }
                        _ => self.fabric.set_network_loss(network, probability),
                    }
                }
            }
            FaultKind::LatencySpike => {
                let extra = match (action.resolved, spec.value) {
                    (None, Some(FaultValue::Duration(extra))) => extra,
                    _ => Duration::ZERO,
                };
                if let Some(network) = network {
                    self.fabric.set_latency_spike(network, extra);
                }
            }
            FaultKind::Mtu => {
                let mtu = match (action.resolved, spec.value) {
                    (None, Some(FaultValue::Bytes(bytes))) => Some(bytes),
                    _ => None,
                };
                match (host, peer, network) {
                    (Some(host), Some(peer), Some(network))
                        if self.fabric.has_nic(HostId(host as u32), network)
                            && self.fabric.has_nic(HostId(peer as u32), network) =>
                    {
                        let (a, b) = (HostId(host as u32), HostId(peer as u32));
                        self.fabric.set_link_mtu_override(a, b, network, mtu);
                        self.fabric.set_link_mtu_override(b, a, network, mtu);
                    }
                    (Some(host), None, Some(network))
                        if self.fabric.has_nic(HostId(host as u32), network) =>
                    {
                        self.fabric.set_mtu_override(HostId(host as u32), network, mtu);
                    }
                    _ => {}
                }
            }
            FaultKind::SwitchDown | FaultKind::SwitchUp => {
                if let Target::Switch(name) | Target::Host(name) = &spec.target {
                    self.fabric.set_switch_up(name, spec.kind == FaultKind::SwitchUp);
                }
            }
            FaultKind::WitnessDown => self.set_witness_up(false),
            FaultKind::WitnessUp => {
                self.set_witness_up(true);
                if let Some(witness) = self.witness.as_mut() {
                    witness.set_extra_delay(Duration::ZERO);
                }
            }
            FaultKind::WitnessSlow => {
                if let (Some(witness), Some(FaultValue::Duration(extra))) =
                    (self.witness.as_mut(), spec.value)
                {
                    witness.set_extra_delay(extra);
                }
            }
            FaultKind::Freeze if spec.trigger == FaultTrigger::NextWrite && action.resolved.is_none() => {
                // Armed: the freeze fires at the node's next shared-disk write, which it holds, and
                // schedules its own resume then.
                if let Some(node) = host.and_then(|host| self.node_on(host))
                    && let Some(storage) = self.storage.as_mut()
                {
                    storage.initiators[node].freeze_on_next_write = Some(spec.duration);
                }
                return;
            }
            FaultKind::Freeze => {
                if let Some(node) = host.and_then(|host| self.node_on(host)) {
                    self.freeze(node, None);
                }
            }
            FaultKind::Resume => {
                if let Some(node) = host.and_then(|host| self.node_on(host)) {
                    self.resume(node);
                }
            }
            FaultKind::ClockStep => {
                if let (Some(node), Some(FaultValue::SignedDuration(step))) =
                    (host.and_then(|h| self.node_on(h)), spec.value)
                {
                    self.nodes[node].clock.step(step);
                    self.node_input(node, Input::Wake);
                }
            }
            FaultKind::ResourceCrash => {
                let db = spec.database.as_deref().and_then(|db| self.db_id(db)).unwrap_or(DbId(0));
                if let Some(node) = host.and_then(|host| self.node_on(host)) {
                    self.node_input(node, Input::ResourceFailed { db });
                }
            }
            FaultKind::Move => {
                let db = spec.database.as_deref().and_then(|db| self.db_id(db));
                let to =
                    spec.to.as_ref().and_then(|to| self.scenario.hosts.iter().position(|h| &h.name == to));
                if let (Some(db), Some(to)) = (db, to.and_then(|host| self.node_on(host))) {
                    for node in 0..self.nodes.len() {
                        self.node_input(node, Input::OperatorMove { db, to: NodeId(to as u16) });
                    }
                }
            }
            FaultKind::CorruptLog => {
                let db = spec.database.as_deref().and_then(|db| self.db_id(db)).unwrap_or(DbId(0));
                if let Some(host) = host {
                    self.corrupt_next.insert((host, db));
                }
            }
            FaultKind::ControllerReboot => {
                if let Some(storage) = self.storage.as_mut() {
                    storage.array.reboot_controllers(now);
                }
                self.drain_array_events();
            }
            FaultKind::LunOffline | FaultKind::LunOnline => {
                let lun = spec
                    .lun
                    .as_deref()
                    .and_then(|name| self.scenario.luns.iter().position(|l| l.name == name));
                if let (Some(storage), Some(lun)) = (self.storage.as_mut(), lun) {
                    storage
                        .array
                        .set_lun_offline(emulators::LunId(lun as u16), spec.kind == FaultKind::LunOffline);
                }
            }
            FaultKind::LunLatency => {
                let extra = match (action.resolved, spec.value) {
                    (None, Some(FaultValue::Duration(extra))) => extra,
                    _ => Duration::ZERO,
                };
                let lun = spec
                    .lun
                    .as_deref()
                    .and_then(|name| self.scenario.luns.iter().position(|l| l.name == name))
                    .map(|lun| emulators::LunId(lun as u16));
                if let Some(storage) = self.storage.as_mut() {
                    storage.array.set_latency(lun, extra);
                }
            }
            FaultKind::HealAll => {
                if let Some(storage) = self.storage.as_mut() {
                    storage.array.set_latency(None, Duration::ZERO);
                    for lun in 0..self.scenario.luns.len() {
                        storage.array.set_lun_offline(emulators::LunId(lun as u16), false);
                    }
                }
                self.fabric.heal_all();
                self.corrupt_next.clear();
                self.set_witness_up(true);
                for host in 0..self.scenario.hosts.len() {
                    self.power_on(host);
                }
                for node in 0..self.nodes.len() {
                    self.resume(node);
                }
            }
        }

        // Faults with a duration heal by their inverse, against the same hosts.
        if action.resolved.is_none()
            && let (Some(duration), Some(heal_kind)) = (spec.duration, inverse(spec.kind))
            && let Some(host) = host.or(self.witness_host)
        {
            let mut heal = action.clone();
            heal.spec.kind = heal_kind;
            heal.spec.duration = None;
            heal.resolved = Some((host, peer));
            self.queue.schedule(SimTime::ZERO + spec.at + duration, Ev::Fault(Box::new(heal)));
        }
    }

    fn power_off(&mut self, host: usize) {
        let now = self.now();
        if !self.power.pull_cord(now, HostId(host as u32)) {
            return;
        }
        self.record(Event::HostDown { host: self.host_names[host].clone(), reason: Name::from("power") });
        if let Some(node) = self.node_on(host) {
            let slot = &mut self.nodes[node];
            if let Some(running) = slot.node.take() {
                slot.disk = Some(running.into_disk());
            }
            slot.frozen = false;
            slot.held.clear();
            slot.wake_generation += 1;
            slot.wake_at = None;
            self.mounted.retain(|_, owner| owner.0 as usize != node);
            self.storage_host_power_loss(node);
        }
        if Some(host) == self.witness_host {
            self.set_witness_up(false);
        }
        if self.storage.as_ref().is_some_and(|storage| storage.array_host == host) {
            self.array_power(false);
        }
    }

    fn power_on(&mut self, host: usize) {
        let now = self.now();
        if !self.power.power_on(now, HostId(host as u32)) {
            return;
        }
        self.record(Event::HostUp { host: self.host_names[host].clone(), boot: true });
        if self.storage.as_ref().is_some_and(|storage| storage.array_host == host) {
            self.array_power(true);
        }
        if let Some(node) = self.node_on(host) {
            self.boot(node);
        }
        if Some(host) == self.witness_host {
            self.set_witness_up(true);
        }
    }

    /// Freezes a node's VM: it runs nothing until resumed (after `resume_after`, if given).
    pub(super) fn freeze(&mut self, node: usize, resume_after: Option<Duration>) {
        if self.nodes[node].frozen || self.nodes[node].node.is_none() {
            return;
        }
        self.nodes[node].frozen = true;
        let name = self.node_name(node);
        self.record(Event::HostDown { host: name.clone(), reason: Name::from("freeze") });
        if let Some(after) = resume_after {
            let host = self.nodes[node].host;
            let spec = FaultSpec {
                at: (self.now() + after).saturating_since(SimTime::ZERO),
                kind: FaultKind::Resume,
                target: Target::Host(name.to_string()),
                network: None,
                peer: None,
                direction: LinkDirection::Both,
                duration: None,
                value: None,
                database: None,
                resource: None,
                to: None,
                lun: None,
                trigger: FaultTrigger::At,
            };
            let at = spec.at;
            let heal = Action { at, spec, resolved: Some((host, None)) };
            self.queue.schedule(self.now() + after, Ev::Fault(Box::new(heal)));
        }
    }

    fn resume(&mut self, node: usize) {
        if !self.nodes[node].frozen {
            return;
        }
        self.nodes[node].frozen = false;
        let name = self.node_name(node);
        self.record(Event::HostUp { host: name, boot: false });
        // The resumed node first notices how much time passed, then gets what queued up meanwhile.
        self.node_input(node, Input::Wake);
        let held = std::mem::take(&mut self.nodes[node].held);
        for input in held {
            self.node_input(node, input);
        }
        self.storage_resume(node);
    }

    fn set_witness_up(&mut self, up: bool) {
        let now = self.now();
        let Some(witness) = self.witness.as_mut() else { return };
        if witness.is_up() == up {
            return;
        }
        witness.set_up(now, up);
        if !up {
            self.record(Event::WitnessReset { reason: Name::from("witness-down") });
        }
    }
}
