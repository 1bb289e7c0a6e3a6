//! Fault injection: the scenario's fixed schedule and the seeded nemesis (`nemesis.rs`), resolved against the world
//! at the instant each fault fires (role targets such as `active` follow the cluster), carried out by
//! the device the typed fault belongs to, and healed by its inverse when the fault has a duration.
//!
//! One `inject_*` function per device. A fault is recorded as `fault` only once it changed its
//! device's state; otherwise as `fault-without-effect` with the reason. Kinds that could never take
//! effect on a target kind were refused when the scenario loaded.

use super::wake::Component;
use super::{Ev, World};
use crate::history::{Event, Name, NoEffect, WitnessResetReason};
use crate::scenario::{
    FabricFault, Fault, FaultSpec, FaultTrigger, LinkDirection, PowerFault, RunFault, SanFault,
    SoftwareFault, Target, WitnessFault,
};
use emulators::HostId;
use emulators::fabric::Direction;
use failover::{DbId, Input, NodeId};
use kernel::SimTime;
use std::time::Duration;

/// How long a `power-cycle` keeps its host off. A real power cycle has an off time (a PDU outlet's
/// cycle delay, an operator who waits for the lights to go out), and this one is long enough for the
/// peers to notice (the default failure timeout is 5 s), so the cluster sees a node go and come back.
/// `duration` is refused on `power-cycle` at load; a `power-off` with a `duration` sets any other off time.
pub const POWER_CYCLE_OFF_TIME: Duration = Duration::from_secs(10);

/// One fault to fire: the scenario's fault plus, for heals, the hosts resolved at injection.
#[derive(Clone, Debug)]
pub struct Action {
    pub spec: FaultSpec,
    /// Set on automatic heals: the hosts the original fault hit, so the heal undoes exactly that.
    pub resolved: Option<(usize, Option<usize>)>,
    /// An automatic heal (the inverse of a fault with a `duration`), not a fault of the schedule.
    pub heal: bool,
    /// A heal whose fault took effect: the realised schedule carries it as that fault's `duration`,
    /// not as a fault of its own.
    pub covered: bool,
}

impl Action {
    pub(super) fn scheduled(spec: FaultSpec) -> Action {
        Action { spec, resolved: None, heal: false, covered: false }
    }
}

impl World<'_> {
    fn db_id(&self, name: &str) -> Option<DbId> {
        self.scenario.databases.iter().position(|db| db.name == name).map(|index| DbId(index as u16))
    }

    fn owner_of(&self, db: DbId) -> Option<usize> {
        let node =
            self.mounted.holder(&db).or_else(|| self.last_owner.get(&db).copied()).map(|id| id.0 as usize);
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

    /// The host a software fault hits, from the database it names. A crash hits the process that
    /// serves the database, so a database mounted nowhere gives no target.
    fn software_host(&self, fault: &SoftwareFault) -> Option<usize> {
        let node_host = |node: usize| self.nodes.get(node).map(|slot| slot.host);
        match fault {
            SoftwareFault::ResourceCrash { database, .. } => {
                let db = self.db_id(database)?;
                self.mounted.holder(&db).and_then(|node| node_host(node.0 as usize))
            }
            SoftwareFault::CorruptLog { database } => {
                self.db_id(database).and_then(|db| self.passive_of(db)).and_then(node_host)
            }
            SoftwareFault::Move { to, .. } => self.scenario.hosts.iter().position(|host| &host.name == to),
        }
    }

    /// The hosts a fault hits now: its target (or the host its device lives on) and, for a link, the peer.
    fn resolve_fault(&self, fault: &Fault) -> (Option<usize>, Option<usize>) {
        let peer = match fault {
            Fault::Fabric(
                FabricFault::LinkCut { peer, .. }
                | FabricFault::LinkHeal { peer, .. }
                | FabricFault::LinkLoss { peer, .. },
            )
            | Fault::Fabric(FabricFault::Mtu { peer: Some(peer), .. }) => self.resolve(peer),
            _ => None,
        };
        let host = match fault {
            Fault::Witness(_) => self.witness_host,
            Fault::San(_) => self.storage.as_ref().map(|storage| storage.array_host),
            Fault::Software(software) => self.software_host(software),
            other => other.target().and_then(|target| self.resolve(target)),
        };
        (host, peer)
    }

    /// What the history names as a fault's target.
    fn target_name(&self, fault: &Fault, host: Option<usize>) -> Name {
        match (fault, host) {
            (Fault::Fabric(FabricFault::SwitchDown { switch } | FabricFault::SwitchUp { switch }), _) => {
                Name::from(switch.as_str())
            }
            (Fault::Power(PowerFault::RackOff { rack } | PowerFault::RackOn { rack }), _) => {
                Name::from(rack.as_str())
            }
            (Fault::HealAll, _) => Name::from("all"),
            (_, Some(host)) => self.host_names[host].clone(),
            (_, None) => Name::from("none"),
        }
    }

    /// Fires one fault. It is recorded as a `fault` only if it changed some device's state, and then
    /// before the effects it caused; otherwise as a `fault-without-effect` with the reason.
    pub(super) fn apply(&mut self, action: Action) {
        let now = self.now();
        let (host, peer) = match action.resolved {
            Some((host, peer)) => (Some(host), peer),
            None => self.resolve_fault(&action.spec.fault),
        };
        let target_name = self.target_name(&action.spec.fault, host);
        let kind = action.spec.fault.kind();
        let mark = self.history.len();
        let effect = self.inject(&action, host, peer);
        match effect {
            Ok(()) => {
                tracing::info!(t = %now, kind = kind.as_str(), target = %target_name, "fault");
                let event = self.fault_event(&action, target_name, peer);
                self.history.insert(mark, now, event);
                self.last_fault_at = now;
                self.realise(&action, host, peer);
            }
            Err(reason) => {
                tracing::info!(t = %now, kind = kind.as_str(), target = %target_name, ?reason, "fault without effect");
                self.record(Event::FaultWithoutEffect { kind, target: target_name, reason });
            }
        }
        // Faults with a duration heal by their inverse, against the same hosts, even when the fault
        // found its target already so: the heal then restores the state the scenario asked for. An
        // armed next-write freeze is the exception: its duration counts from the write that fires it,
        // and `freeze_host` schedules that resume, so a resume here would come early.
        if !action.heal
            && !action.spec.fault.fires_on_next_write()
            && let (Some(duration), Some(inverse)) = (action.spec.duration, action.spec.fault.inverse())
        {
            let at = action.spec.at + duration;
            let heal = Action {
                spec: FaultSpec { at, fault: inverse, duration: None },
                resolved: host.map(|host| (host, peer)),
                heal: true,
                covered: effect.is_ok(),
            };
            self.queue.schedule(SimTime::ZERO + at, Ev::Fault(Box::new(heal)));
        }
    }

    /// Adds a fault that took effect to the realised schedule: the scenario's own fault (or nemesis
    /// draw) with its duration, its targets pinned to the hosts it hit, at the instant it fired. A heal
    /// is part of its fault's duration, unless that fault took no effect: then it stands alone.
    fn realise(&mut self, action: &Action, host: Option<usize>, peer: Option<usize>) {
        if action.heal && action.covered {
            return;
        }
        let name = |host: Option<usize>| host.map(|host| self.host_names[host].to_string());
        let (host, peer) = (name(host), name(peer));
        let fault = action.spec.fault.pinned(host.as_deref(), peer.as_deref());
        let at = self.now().saturating_since(SimTime::ZERO);
        let duration = if action.heal { None } else { action.spec.duration };
        self.realised.push(FaultSpec { at, fault, duration });
    }

    /// The `fault` record of an action that took effect: its kind and target, and the network, peer
    /// and direction of the faults that have them.
    fn fault_event(&self, action: &Action, target: Name, peer: Option<usize>) -> Event {
        let (network, direction) = match &action.spec.fault {
            Fault::Fabric(
                FabricFault::LinkCut { network, direction, .. }
                | FabricFault::LinkHeal { network, direction, .. }
                | FabricFault::LinkLoss { network, direction, .. },
            ) => (Some(network), Some(*direction)),
            Fault::Fabric(
                FabricFault::NicDown { network, .. }
                | FabricFault::NicUp { network, .. }
                | FabricFault::LatencySpike { network, .. }
                | FabricFault::Mtu { network, .. },
            ) => (Some(network), None),
            _ => (None, None),
        };
        Event::Fault {
            kind: action.spec.fault.kind(),
            target,
            network: network.map(|network| Name::from(network.as_str())),
            peer: peer.map(|peer| self.host_names[peer].clone()),
            direction,
            heal: action.heal,
        }
    }

    /// Carries a fault out on the device it belongs to.
    fn inject(&mut self, action: &Action, host: Option<usize>, peer: Option<usize>) -> Result<(), NoEffect> {
        match &action.spec.fault {
            Fault::Power(fault) => self.inject_power(fault, host),
            Fault::Run(fault) => self.inject_run_state(action, fault, host.ok_or(NoEffect::NoTarget)?),
            Fault::Fabric(fault) => self.inject_fabric(fault, host, peer),
            Fault::Witness(fault) => self.inject_witness(fault),
            Fault::Software(fault) => self.inject_software(fault, host.ok_or(NoEffect::NoTarget)?),
            Fault::San(fault) => self.inject_san(fault),
            Fault::Hypervisor(fault) => self.inject_hypervisor(fault, host.ok_or(NoEffect::NoTarget)?),
            Fault::HealAll => {
                self.heal_all();
                Ok(())
            }
        }
    }

    fn inject_power(&mut self, fault: &PowerFault, host: Option<usize>) -> Result<(), NoEffect> {
        let now = self.now();
        let changed = match fault {
            PowerFault::RackOff { rack } => {
                let hosts = self.hosts.rack_power_off(now, rack);
                for &host in &hosts {
                    self.host_lost_power(host.0 as usize);
                }
                !hosts.is_empty() || self.hosts.has_rack(rack)
            }
            PowerFault::RackOn { rack } => {
                let was_dark = self.hosts.has_rack(rack) && !self.hosts.is_rack_powered(rack);
                for host in self.hosts.rack_power_on(now, rack) {
                    self.host_booted(host.0 as usize);
                }
                was_dark
            }
            PowerFault::On { .. } => self.power_on_host(host.ok_or(NoEffect::NoTarget)?),
            PowerFault::Cycle { .. } => {
                let host = host.ok_or(NoEffect::NoTarget)?;
                let changed = self.power_off_host(host);
                // An operator's power cycle of a VM: HA leaves it off until the cycle's power-on.
                if changed {
                    self.operator_powered_vm(host, false);
                }
                let back = POWER_CYCLE_OFF_TIME;
                let at = (now + back).saturating_since(SimTime::ZERO);
                let on =
                    Fault::Power(PowerFault::On { target: Target::Host(self.host_names[host].to_string()) });
                let heal = Action {
                    spec: FaultSpec { at, fault: on, duration: None },
                    resolved: Some((host, None)),
                    heal: true,
                    covered: changed,
                };
                self.queue.schedule(now + back, Ev::Fault(Box::new(heal)));
                changed
            }
            PowerFault::Off { .. } => {
                let host = host.ok_or(NoEffect::NoTarget)?;
                let changed = self.power_off_host(host);
                if changed {
                    self.operator_powered_vm(host, false);
                }
                changed
            }
        };
        if let (PowerFault::On { .. }, Some(host)) = (fault, host) {
            self.operator_powered_vm(host, true);
        }
        if changed { Ok(()) } else { Err(NoEffect::AlreadySo) }
    }

    /// Pause, resume and clock steps: what the host's run state owns.
    fn inject_run_state(&mut self, action: &Action, fault: &RunFault, host: usize) -> Result<(), NoEffect> {
        match fault {
            RunFault::Freeze { trigger: FaultTrigger::NextWrite, .. } if !action.heal => {
                // Armed: the freeze fires at the node's next shared-disk write, which it holds, and
                // schedules its own resume then. Validation only accepts this on mailbox hosts.
                let node = self.node_on(host).ok_or(NoEffect::NoTarget)?;
                let storage = self.storage.as_mut().ok_or(NoEffect::NoTarget)?;
                storage.initiators[node].freeze_on_next_write = Some(action.spec.duration);
                Ok(())
            }
            RunFault::Freeze { .. } => self.freeze_host(host, None).then_some(()).ok_or(NoEffect::AlreadySo),
            RunFault::Resume { .. } => self.resume_host(host).then_some(()).ok_or(NoEffect::AlreadySo),
            RunFault::ClockStep { step_nanos, .. } => {
                self.clocks[host].step(*step_nanos);
                // Software that is running notices the jump at once; a paused guest on resume.
                if self.hosts.is_running(HostId(host as u32)) {
                    if let Some(node) = self.node_on(host) {
                        self.wake_component(Component::Node(node));
                    }
                    if let Some(hub) = self.hub_on(host) {
                        self.wake_component(Component::Hub(hub));
                    }
                }
                Ok(())
            }
        }
    }

    fn inject_fabric(
        &mut self,
        fault: &FabricFault,
        host: Option<usize>,
        peer: Option<usize>,
    ) -> Result<(), NoEffect> {
        let nic = |world: &Self, host: Option<usize>, network: &str| {
            let network = world.fabric.network_id(network)?;
            host.filter(|&host| world.fabric.has_nic(HostId(host as u32), network))
                .map(|host| (HostId(host as u32), network))
        };
        let way = |direction: LinkDirection| {
            if direction == LinkDirection::OneWay { Direction::Forward } else { Direction::Both }
        };
        match fault {
            FabricFault::NicDown { network, .. } | FabricFault::NicUp { network, .. } => {
                let (host, network) = nic(self, host, network).ok_or(NoEffect::NoTarget)?;
                self.fabric.set_nic_up(host, network, matches!(fault, FabricFault::NicUp { .. }));
            }
            FabricFault::LinkCut { network, direction, .. }
            | FabricFault::LinkHeal { network, direction, .. } => {
                let ((a, network), (b, _)) =
                    nic(self, host, network).zip(nic(self, peer, network)).ok_or(NoEffect::NoTarget)?;
                if matches!(fault, FabricFault::LinkCut { .. }) {
                    self.fabric.cut_link(a, b, network, way(*direction));
                } else {
                    self.fabric.heal_link(a, b, network, way(*direction));
                }
            }
            FabricFault::LinkLoss { network, direction, probability, .. } => {
                let ((a, network), (b, _)) =
                    nic(self, host, network).zip(nic(self, peer, network)).ok_or(NoEffect::NoTarget)?;
                self.fabric.set_link_loss(a, b, network, *probability);
                if *direction == LinkDirection::Both {
                    self.fabric.set_link_loss(b, a, network, *probability);
                }
            }
            FabricFault::LatencySpike { network, extra, .. } => {
                let network = self.fabric.network_id(network).ok_or(NoEffect::NoTarget)?;
                self.fabric.set_latency_spike(network, *extra);
            }
            FabricFault::Mtu { network: name, bytes, peer: with_peer, .. } => {
                let (a, network) = nic(self, host, name).ok_or(NoEffect::NoTarget)?;
                match (with_peer, nic(self, peer, name)) {
                    (Some(_), Some((b, _))) => {
                        self.fabric.set_link_mtu_override(a, b, network, *bytes);
                        self.fabric.set_link_mtu_override(b, a, network, *bytes);
                    }
                    (Some(_), None) => return Err(NoEffect::NoTarget),
                    (None, _) => self.fabric.set_mtu_override(a, network, *bytes),
                }
            }
            FabricFault::SwitchDown { switch } | FabricFault::SwitchUp { switch } => {
                self.fabric.set_switch_up(switch, matches!(fault, FabricFault::SwitchUp { .. }));
            }
        }
        Ok(())
    }

    fn inject_witness(&mut self, fault: &WitnessFault) -> Result<(), NoEffect> {
        let witness = self.witness.as_mut().ok_or(NoEffect::NoTarget)?;
        match fault {
            WitnessFault::Down => {
                if !witness.is_up() {
                    return Err(NoEffect::AlreadySo);
                }
                self.set_witness_up(false);
            }
            WitnessFault::Up => {
                witness.set_extra_delay(Duration::ZERO);
                self.set_witness_up(true);
            }
            WitnessFault::Slow { extra } => witness.set_extra_delay(*extra),
        }
        Ok(())
    }

    /// Faults of the software on a mailbox node: a crash, an operator move, a corrupted log.
    fn inject_software(&mut self, fault: &SoftwareFault, host: usize) -> Result<(), NoEffect> {
        let node = self.node_on(host).ok_or(NoEffect::NoTarget)?;
        match fault {
            SoftwareFault::ResourceCrash { database, resource } => {
                if !self.hosts.is_running(HostId(host as u32)) || self.nodes[node].node.is_none() {
                    return Err(NoEffect::HostNotRunning);
                }
                let db = self.db_id(database).ok_or(NoEffect::NoTarget)?;
                let resources = &self.scenario.databases[db.0 as usize].resources;
                let resource = match resource {
                    Some(name) => {
                        Some(resources.iter().position(|r| &r.name == name).ok_or(NoEffect::NoTarget)?)
                    }
                    None => None,
                };
                self.node_input(node, Input::ResourceFailed { db, resource });
            }
            SoftwareFault::Move { database, .. } => {
                let db = self.db_id(database).ok_or(NoEffect::NoTarget)?;
                // A switchover moves a database that is being served; with none, there is nothing to move.
                if !self.mounted.is_claimed(&db) {
                    return Err(NoEffect::NoTarget);
                }
                // The operator's command reaches every node; only the coordinator acts on it.
                for each in 0..self.nodes.len() {
                    self.node_input(each, Input::OperatorMove { db, to: NodeId(node as u16) });
                }
            }
            SoftwareFault::CorruptLog { database } => {
                let db = self.db_id(database).ok_or(NoEffect::NoTarget)?;
                self.corrupt_next.insert((host, db));
            }
        }
        Ok(())
    }

    fn inject_san(&mut self, fault: &SanFault) -> Result<(), NoEffect> {
        let now = self.now();
        let lun_id = |world: &Self, name: &str| {
            world
                .scenario
                .luns
                .iter()
                .position(|lun| lun.name == name)
                .map(|lun| emulators::LunId(lun as u16))
        };
        let lun = match fault {
            SanFault::LunOffline { lun } | SanFault::LunOnline { lun } => {
                Some(lun_id(self, lun).ok_or(NoEffect::NoTarget)?)
            }
            SanFault::LunLatency { lun: Some(lun), .. } => Some(lun_id(self, lun).ok_or(NoEffect::NoTarget)?),
            _ => None,
        };
        let storage = self.storage.as_mut().ok_or(NoEffect::NoTarget)?;
        match fault {
            SanFault::ControllerReboot => storage.array.reboot_controllers(now),
            SanFault::LunOffline { .. } | SanFault::LunOnline { .. } => {
                let offline = matches!(fault, SanFault::LunOffline { .. });
                storage.array.set_lun_offline(lun.ok_or(NoEffect::NoTarget)?, offline);
            }
            SanFault::LunLatency { extra, .. } => storage.array.set_latency(lun, *extra),
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
        let racks: Vec<String> = self.scenario.hosts.iter().filter_map(|host| host.rack.clone()).collect();
        for rack in racks {
            for host in self.hosts.rack_power_on(self.now(), &rack) {
                self.host_booted(host.0 as usize);
            }
        }
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
            let at = (self.now() + after).saturating_since(SimTime::ZERO);
            let target = Target::Host(self.host_names[host].to_string());
            let spec = FaultSpec { at, fault: Fault::Run(RunFault::Resume { target }), duration: None };
            // Only an armed next-write freeze passes a resume time, and it is realised with it.
            let heal = Action { spec, resolved: Some((host, None)), heal: true, covered: true };
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
            self.record(Event::WitnessReset { reason: WitnessResetReason::WitnessDown });
        }
    }
}
