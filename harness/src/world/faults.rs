//! Fault injection: the scenario's fixed schedule and the seeded nemesis, resolved against the world
//! at the instant each fault fires (role targets such as `active` follow the cluster), and healed by
//! their inverse when the fault has a duration.

use super::wake::Component;
use super::{Ev, World};
use crate::history::{Event, Name, NoEffect};
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
    /// An automatic heal (the inverse of a fault with a `duration`), not a fault of the schedule.
    pub heal: bool,
}

/// The whole fault schedule: the fixed faults, then the nemesis's draws from the seed.
pub fn schedule(scenario: &Scenario, rng: &mut RngStream) -> Vec<Action> {
    let mut actions: Vec<Action> = scenario
        .faults
        .iter()
        .map(|spec| Action { at: spec.at, spec: spec.clone(), resolved: None, heal: false })
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
                actions.push(Action { at, spec, resolved: None, heal: false });
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

    fn network_id(&self, name: Option<&String>) -> Option<emulators::NetworkId> {
        name.and_then(|name| self.fabric.network_id(name))
    }

    /// Fires one fault. It is recorded as a `fault` only if it changed some device's state, and then
    /// before the effects it caused; otherwise as a `fault-without-effect` with the reason.
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
        let mark = self.history.len();
        let effect = self.inject(&action, host, peer);
        let kind = Name::from(spec.kind.as_str());
        match effect {
            Ok(()) => {
                let detail = self.fault_detail(&action, peer);
                tracing::info!(t = %now, kind = %kind, target = %target_name, "fault");
                self.history.insert(mark, now, Event::Fault { kind, target: target_name, detail });
                self.last_fault_at = now;
            }
            Err(reason) => {
                tracing::info!(t = %now, kind = %kind, target = %target_name, ?reason, "fault without effect");
                self.record(Event::FaultWithoutEffect { kind, target: target_name, reason });
            }
        }
        // Faults with a duration heal by their inverse, against the same hosts, even when the fault
        // found its target already so: the heal then restores the state the scenario asked for.
        if !action.heal
            && let (Some(duration), Some(heal_kind)) = (spec.duration, inverse(spec.kind))
        {
            let mut heal = action.clone();
            heal.spec.kind = heal_kind;
            heal.spec.duration = None;
            heal.resolved = host.map(|host| (host, peer));
            heal.heal = true;
            self.queue.schedule(SimTime::ZERO + spec.at + duration, Ev::Fault(Box::new(heal)));
        }
    }

    fn fault_detail(&self, action: &Action, peer: Option<usize>) -> String {
        let spec = &action.spec;
        let mut detail = String::new();
        if let Some(network) = &spec.network {
            detail.push_str(&format!("network={network} "));
        }
        if let Some(peer) = peer {
            detail.push_str(&format!("peer={} direction={:?} ", self.host_names[peer], spec.direction));
        }
        if action.heal {
            detail.push_str("automatic heal ");
        }
        detail.trim().to_string()
    }

    /// Carries a fault out on the device it belongs to.
    fn inject(&mut self, action: &Action, host: Option<usize>, peer: Option<usize>) -> Result<(), NoEffect> {
        let spec = &action.spec;
        match spec.kind {
            FaultKind::PowerOff | FaultKind::PowerOn | FaultKind::PowerCycle => {
                self.inject_power(action, host.ok_or(NoEffect::NoTarget)?)
            }
            FaultKind::Freeze | FaultKind::Resume | FaultKind::ClockStep => {
                self.inject_run_state(action, host.ok_or(NoEffect::NoTarget)?)
            }
            FaultKind::NicDown
            | FaultKind::NicUp
            | FaultKind::LinkCut
            | FaultKind::LinkHeal
            | FaultKind::LinkLoss
            | FaultKind::LatencySpike
            | FaultKind::Mtu
            | FaultKind::SwitchDown
            | FaultKind::SwitchUp => self.inject_fabric(action, host, peer),
            FaultKind::WitnessDown | FaultKind::WitnessUp | FaultKind::WitnessSlow => {
                self.inject_witness(spec)
            }
            FaultKind::ResourceCrash | FaultKind::Move | FaultKind::CorruptLog => {
                self.inject_software(spec, host.ok_or(NoEffect::NoTarget)?)
            }
            FaultKind::ControllerReboot
            | FaultKind::LunOffline
            | FaultKind::LunOnline
            | FaultKind::LunLatency => self.inject_san(action),
            FaultKind::HealAll => {
                self.heal_all();
                Ok(())
            }
        }
    }

    fn inject_power(&mut self, action: &Action, host: usize) -> Result<(), NoEffect> {
        let changed = match action.spec.kind {
            FaultKind::PowerOn => self.power_on_host(host),
            FaultKind::PowerCycle => {
                let changed = self.power_off_host(host);
                let back = action.spec.duration.unwrap_or(Duration::from_secs(10));
                let mut heal = action.clone();
                heal.spec.kind = FaultKind::PowerOn;
                heal.resolved = Some((host, None));
                heal.heal = true;
                self.queue.schedule(self.now() + back, Ev::Fault(Box::new(heal)));
                changed
            }
            _ => self.power_off_host(host),
        };
        if changed { Ok(()) } else { Err(NoEffect::AlreadySo) }
    }

    /// Pause, resume and clock steps: what the host's run state owns.
    fn inject_run_state(&mut self, action: &Action, host: usize) -> Result<(), NoEffect> {
        let spec = &action.spec;
        match spec.kind {
            FaultKind::Freeze if spec.trigger == FaultTrigger::NextWrite && !action.heal => {
                // Armed: the freeze fires at the node's next shared-disk write, which it holds, and
                // schedules its own resume then. Validation only accepts this on mailbox hosts.
                let node = self.node_on(host).ok_or(NoEffect::NoTarget)?;
                let storage = self.storage.as_mut().ok_or(NoEffect::NoTarget)?;
                storage.initiators[node].freeze_on_next_write = Some(spec.duration);
                Ok(())
            }
            FaultKind::Freeze => self.freeze_host(host, None).then_some(()).ok_or(NoEffect::AlreadySo),
            FaultKind::Resume => self.resume_host(host).then_some(()).ok_or(NoEffect::AlreadySo),
            _ => {
                let Some(FaultValue::SignedDuration(step)) = spec.value else {
                    return Err(NoEffect::NoTarget);
                };
                self.clocks[host].step(step);
                // Software that is running notices the jump at once; a paused guest on resume.
                if self.hosts.is_running(HostId(host as u32)) {
                    if let Some(node) = self.node_on(host) {
                        self.wake_component(Component::Node(node));
                    }
                    if let Some(hub) = self.hubs.iter().position(|slot| slot.host == host) {
                        self.wake_component(Component::Hub(hub));
                    }
                }
                Ok(())
            }
        }
    }

    fn inject_fabric(
        &mut self,
        action: &Action,
        host: Option<usize>,
        peer: Option<usize>,
    ) -> Result<(), NoEffect> {
        let spec = &action.spec;
        let network = self.network_id(spec.network.as_ref());
        let direction =
            if spec.direction == LinkDirection::OneWay { Direction::Forward } else { Direction::Both };
        let nic = |world: &Self, host: Option<usize>| {
            host.zip(network).filter(|&(host, network)| world.fabric.has_nic(HostId(host as u32), network))
        };
        match spec.kind {
            FaultKind::NicDown | FaultKind::NicUp => {
                let (host, network) = nic(self, host).ok_or(NoEffect::NoTarget)?;
                self.fabric.set_nic_up(HostId(host as u32), network, spec.kind == FaultKind::NicUp);
            }
            FaultKind::LinkCut | FaultKind::LinkHeal => {
                let ((a, network), (b, _)) =
                    nic(self, host).zip(nic(self, peer)).ok_or(NoEffect::NoTarget)?;
                let (a, b) = (HostId(a as u32), HostId(b as u32));
                if spec.kind == FaultKind::LinkCut {
                    self.fabric.cut_link(a, b, network, direction);
                } else {
                    self.fabric.heal_link(a, b, network, direction);
                }
            }
            FaultKind::LinkLoss => {
                let probability = match (action.heal, spec.value) {
                    (false, Some(FaultValue::Probability(p))) => p,
                    _ => 0.0,
                };
                let network = network.ok_or(NoEffect::NoTarget)?;
                match nic(self, host).zip(nic(self, peer)) {
                    Some(((a, _), (b, _))) => {
                        let (a, b) = (HostId(a as u32), HostId(b as u32));
                        self.fabric.set_link_loss(a, b, network, probability);
                        if direction == Direction::Both {
                            self.fabric.set_link_loss(b, a, network, probability);
                        }
                    }
                    None => self.fabric.set_network_loss(network, probability),
                }
            }
            FaultKind::LatencySpike => {
                let extra = match (action.heal, spec.value) {
                    (false, Some(FaultValue::Duration(extra))) => extra,
                    _ => Duration::ZERO,
                };
                self.fabric.set_latency_spike(network.ok_or(NoEffect::NoTarget)?, extra);
            }
            FaultKind::Mtu => {
                let mtu = match (action.heal, spec.value) {
                    (false, Some(FaultValue::Bytes(bytes))) => Some(bytes),
                    _ => None,
                };
                match (nic(self, host), nic(self, peer)) {
                    (Some((a, network)), Some((b, _))) => {
                        let (a, b) = (HostId(a as u32), HostId(b as u32));
                        self.fabric.set_link_mtu_override(a, b, network, mtu);
                        self.fabric.set_link_mtu_override(b, a, network, mtu);
                    }
                    (Some((a, network)), None) => {
                        self.fabric.set_mtu_override(HostId(a as u32), network, mtu)
                    }
                    _ => return Err(NoEffect::NoTarget),
                }
            }
            _ => {
                let (Target::Switch(name) | Target::Host(name)) = &spec.target else {
                    return Err(NoEffect::NoTarget);
                };
                self.fabric.set_switch_up(name, spec.kind == FaultKind::SwitchUp);
            }
        }
        Ok(())
    }

    fn inject_witness(&mut self, spec: &FaultSpec) -> Result<(), NoEffect> {
        let witness = self.witness.as_mut().ok_or(NoEffect::NoTarget)?;
        match spec.kind {
            FaultKind::WitnessDown => {
                if !witness.is_up() {
                    return Err(NoEffect::AlreadySo);
                }
                self.set_witness_up(false);
            }
            FaultKind::WitnessUp => {
                witness.set_extra_delay(Duration::ZERO);
                self.set_witness_up(true);
            }
            _ => {
                let Some(FaultValue::Duration(extra)) = spec.value else { return Err(NoEffect::NoTarget) };
                witness.set_extra_delay(extra);
            }
        }
        Ok(())
    }

    /// Faults of the software on a mailbox node: a crash, an operator move, a corrupted log.
    fn inject_software(&mut self, spec: &FaultSpec, host: usize) -> Result<(), NoEffect> {
        let node = self.node_on(host).ok_or(NoEffect::NoTarget)?;
        match spec.kind {
            FaultKind::ResourceCrash => {
                if !self.hosts.is_running(HostId(host as u32)) || self.nodes[node].node.is_none() {
                    return Err(NoEffect::HostNotRunning);
                }
                let db = spec.database.as_deref().and_then(|db| self.db_id(db)).unwrap_or(DbId(0));
                self.node_input(node, Input::ResourceFailed { db });
            }
            FaultKind::Move => {
                let db = spec.database.as_deref().and_then(|db| self.db_id(db)).ok_or(NoEffect::NoTarget)?;
                let to =
                    spec.to.as_ref().and_then(|to| self.scenario.hosts.iter().position(|h| &h.name == to));
                let to = to.and_then(|host| self.node_on(host)).ok_or(NoEffect::NoTarget)?;
                // The operator's command reaches every node; only the coordinator acts on it.
                for node in 0..self.nodes.len() {
                    self.node_input(node, Input::OperatorMove { db, to: NodeId(to as u16) });
                }
            }
            _ => {
                let db = spec.database.as_deref().and_then(|db| self.db_id(db)).unwrap_or(DbId(0));
                self.corrupt_next.insert((host, db));
            }
        }
        Ok(())
    }

    fn inject_san(&mut self, action: &Action) -> Result<(), NoEffect> {
        let now = self.now();
        let spec = &action.spec;
        let lun = spec
            .lun
            .as_deref()
            .and_then(|name| self.scenario.luns.iter().position(|l| l.name == name))
            .map(|lun| emulators::LunId(lun as u16));
        let storage = self.storage.as_mut().ok_or(NoEffect::NoTarget)?;
        match spec.kind {
            FaultKind::ControllerReboot => storage.array.reboot_controllers(now),
            FaultKind::LunOffline | FaultKind::LunOnline => storage
                .array
                .set_lun_offline(lun.ok_or(NoEffect::NoTarget)?, spec.kind == FaultKind::LunOffline),
            _ => {
                let extra = match (action.heal, spec.value) {
                    (false, Some(FaultValue::Duration(extra))) => extra,
                    _ => Duration::ZERO,
                };
                storage.array.set_latency(lun, extra);
            }
        }
        self.drain_array_events();
        Ok(())
    }

    fn heal_all(&mut self) {
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
            self.power_on_host(host);
            self.resume_host(host);
        }
    }

    /// Pauses a host (a VM freeze); it resumes after `resume_after`, if given.
    pub(super) fn freeze_host(&mut self, host: usize, resume_after: Option<Duration>) -> bool {
        if !self.pause_host(host) {
            return false;
        }
        if let Some(after) = resume_after {
            let spec = FaultSpec {
                at: (self.now() + after).saturating_since(SimTime::ZERO),
                kind: FaultKind::Resume,
                target: Target::Host(self.host_names[host].to_string()),
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
            let heal = Action { at: spec.at, spec, resolved: Some((host, None)), heal: true };
            self.queue.schedule(self.now() + after, Ev::Fault(Box::new(heal)));
        }
        true
    }

    pub(super) fn set_witness_up(&mut self, up: bool) {
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
