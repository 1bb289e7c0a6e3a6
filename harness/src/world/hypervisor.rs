//! vSphere HA in the world: one FDM agent (`emulators::hypervisor::FdmAgent`) per hypervisor host, the
//! VMs placed on them, and the one `HaStorage` (the `.vSphere-HA` directories of the datastores).
//!
//! - An agent runs only while its host runs: its inputs pass the host gate (`Packet::Ha`), its timer
//!   follows the one wake rule (`Component::Agent`), and power loss drops it; the boot creates a new
//!   one that starts an election (`master: None`), with no VM running, as after an ESXi reboot.
//! - Agents talk over the management network through the fabric, so a cut NIC, a cut link or a down
//!   switch acts on them as on everything else.
//! - A ping of the isolation address is answered after a round trip when the path to that host runs
//!   both ways; without an isolation address, the management network's default gateway answers while
//!   the host's NIC on it and its switch are up.
//! - Storage: a datastore that is no `[[lun]]` is reachable from every running hypervisor host; one
//!   that is a LUN of the array is reached over the host's iSCSI paths, with APD and PDL
//!   (`datastore.rs`, re-read at every agent input). `StorageOp`s on a datastore the host does not
//!   reach get `HaStorage::unreachable`, and a power-on fails where the VM's home is unreachable.
//! - A VM is a host of the world. Its power follows its hypervisor host (off with it), HA's
//!   `PowerOnVm` boots it where HA asks (placement moves there; a VM that is on anywhere holds its
//!   VMDK lock and the power-on fails), and its traffic rides its hypervisor host's NICs (`mod.rs`,
//!   `uplinks_up`).

use super::World;
use super::gate::Packet;
use super::wake::{Component, WakeSlot};
use crate::history::{Event, HaRecord, Name};
use crate::scenario::{HaSpec, HostRole, Scenario};
use emulators::HostId;
use emulators::fabric::{Fabric, PathState};
use emulators::hypervisor::{
    DatastoreId, DatastoreState, FdmAgent, HaEvent, HaInput, HaOutput, HaStorage, Message, StorageOp, VmId,
};
use failover::LocalTime;
use kernel::SimTime;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a guest takes to shut down when HA asks it to (H:: no source; Windows with Exchange
/// stops its services first, typically within a minute).
const GUEST_SHUTDOWN_TIME: Duration = Duration::from_secs(60);

/// What an agent's message weighs on the wire (H:: a heartbeat with a few VM ids and datastores).
const MESSAGE_BYTES: u64 = 300;

pub(super) struct AgentSlot {
    pub(super) host: usize,
    agent: Option<FdmAgent>,
    pub(super) wake: WakeSlot,
}

pub(super) struct Ha {
    pub(super) spec: HaSpec,
    pub(super) agents: Vec<AgentSlot>,
    storage: HaStorage,
    /// The hypervisor host each VM (by world host index) is placed on: where it last powered on.
    pub(super) placement: BTreeMap<usize, usize>,
    management: emulators::NetworkId,
    isolation_address: Option<usize>,
    /// Which host reaches which datastore on the array, and the guests stalled by an APD.
    pub(super) access: super::datastore::DatastoreAccess,
    /// VMs an operator powered off (vCenter's view, pushed to every agent, a new one included).
    unprotected: std::collections::BTreeSet<usize>,
}

/// The HA layer of a scenario with hypervisor hosts.
pub(super) fn build(scenario: &Scenario, fabric: &Fabric) -> Option<Ha> {
    let spec = scenario.ha.clone()?;
    let index_of = |name: &str| scenario.hosts.iter().position(|host| host.name == name);
    let agents = (0..scenario.hosts.len())
        .filter(|&index| scenario.hosts[index].role == HostRole::Hypervisor)
        .map(|host| AgentSlot { host, agent: None, wake: WakeSlot::default() })
        .collect();
    let placement = scenario
        .hosts
        .iter()
        .enumerate()
        .filter_map(|(vm, host)| Some((vm, index_of(host.runs_on.as_deref()?)?)))
        .collect();
    Some(Ha {
        unprotected: std::collections::BTreeSet::new(),
        storage: HaStorage::new(spec.config.protected_list_lease),
        management: fabric.network_id(&spec.management_network)?,
        isolation_address: spec.isolation_address.as_deref().and_then(index_of),
        agents,
        placement,
        spec,
        access: Default::default(),
    })
}

/// The datastore a storage operation is on.
fn op_datastore(op: &StorageOp) -> DatastoreId {
    match op {
        StorageOp::WriteHostFile { datastore, .. }
        | StorageOp::ReadHostFile { datastore, .. }
        | StorageOp::LockProtectedList { datastore }
        | StorageOp::ReleaseProtectedList { datastore }
        | StorageOp::ReadProtectedList { datastore } => *datastore,
    }
}

fn agent_time(local: LocalTime) -> SimTime {
    SimTime::from_nanos(local.0)
}

impl World<'_> {
    /// The hypervisor host `host` runs on, if it is a VM.
    pub(super) fn vm_placement(&self, host: usize) -> Option<usize> {
        self.ha.as_ref().and_then(|ha| ha.placement.get(&host).copied())
    }

    /// The agent slot of hypervisor host `host`.
    pub(super) fn agent_on(&self, host: usize) -> Option<usize> {
        self.ha.as_ref().and_then(|ha| ha.agents.iter().position(|slot| slot.host == host))
    }

    /// At time zero the HA cluster is in steady state: the best host (the highest id, every host
    /// mounting the same datastores) is master and every VM runs where the scenario places it.
    pub(super) fn start_hypervisors(&mut self) {
        let Some(ha) = self.ha.as_ref() else { return };
        let master = ha.agents.last().map(|slot| HostId(slot.host as u32));
        for agent in 0..ha.agents.len() {
            self.create_agent(agent, master);
        }
    }

    fn create_agent(&mut self, agent: usize, master: Option<HostId>) {
        let now = self.now();
        let Some(host) = self.ha.as_ref().map(|ha| ha.agents[agent].host) else { return };
        self.forget_datastores(host);
        let Some(ha) = self.ha.as_mut() else { return };
        let running: Vec<VmId> = if master.is_some() {
            ha.placement.iter().filter(|&(_, &on)| on == host).map(|(&vm, _)| VmId(vm as u32)).collect()
        } else {
            Vec::new()
        };
        let local = agent_time(self.clocks[host].monotonic(now));
        let (created, outputs) = FdmAgent::new(
            local,
            HostId(host as u32),
            ha.spec.config.clone(),
            ha.spec.cluster.clone(),
            &running,
            master,
        );
        let unprotected: Vec<usize> = ha.unprotected.iter().copied().collect();
        let slot = &mut ha.agents[agent];
        slot.agent = Some(created);
        slot.wake.cancel();
        self.carry_out_ha(agent, outputs);
        for vm in unprotected {
            self.ha_input(agent, HaInput::Protection { vm: VmId(vm as u32), protected: false }, now);
        }
    }

    /// An input for an agent from its own host: it passes the host gate.
    pub(super) fn ha_input(&mut self, agent: usize, input: HaInput, at: SimTime) {
        let Some(host) = self.ha.as_ref().map(|ha| ha.agents[agent].host) else { return };
        self.schedule_local(at, host, Packet::Ha { agent, input });
    }

    /// Runs one input through an agent whose host runs, after telling it of any change in its
    /// host's access to its datastores (`datastore.rs`).
    pub(super) fn run_agent(&mut self, agent: usize, input: HaInput) {
        self.refresh_datastores(agent);
        self.handle_agent(agent, input);
    }

    /// Runs one input through an agent, which its caller already let past the host gate.
    pub(super) fn handle_agent(&mut self, agent: usize, input: HaInput) {
        let now = self.now();
        let Some(ha) = self.ha.as_mut() else { return };
        let host = ha.agents[agent].host;
        let local = agent_time(self.clocks[host].monotonic(now));
        let Some(running) = ha.agents[agent].agent.as_mut() else { return };
        let outputs = running.handle(local, input);
        self.carry_out_ha(agent, outputs);
    }

    /// Carries out an agent's outputs in order, while its host runs.
    fn carry_out_ha(&mut self, agent: usize, outputs: Vec<HaOutput>) {
        let Some(host) = self.ha.as_ref().map(|ha| ha.agents[agent].host) else { return };
        let now = self.now();
        for output in outputs {
            if !self.hosts.is_running(HostId(host as u32)) {
                return;
            }
            match output {
                HaOutput::Send { to, message } => self.send_ha(host, to, message),
                HaOutput::Ping { address } => {
                    if let Some(round_trip) = self.ping_round_trip(host) {
                        self.ha_input(agent, HaInput::PingReply { address }, now + round_trip);
                    }
                }
                HaOutput::Storage(op) => {
                    let reachable =
                        self.datastore_state(host, op_datastore(&op)) == DatastoreState::Accessible;
                    let Some(ha) = self.ha.as_mut() else { return };
                    let answer = if reachable {
                        ha.storage.apply(now, HostId(host as u32), &op)
                    } else {
                        HaStorage::unreachable(&op)
                    };
                    if let Some(answer) = answer {
                        self.ha_input(agent, answer, now);
                    }
                }
                HaOutput::PowerOnVm { vm } => {
                    let ok = self.power_on_vm(vm.0 as usize, host);
                    self.ha_input(agent, HaInput::PowerOnResult { vm, ok }, now);
                }
                HaOutput::PowerOffVm { vm } => {
                    if self.vm_placement(vm.0 as usize) == Some(host) {
                        self.power_off_host(vm.0 as usize);
                    }
                }
                HaOutput::ShutdownGuest { vm } => {
                    let packet = Packet::GuestShutDown { vm: vm.0 as usize, on: host };
                    self.schedule_local(now + GUEST_SHUTDOWN_TIME, vm.0 as usize, packet);
                }
                HaOutput::ResetVm { vm } => {
                    if self.vm_placement(vm.0 as usize) == Some(host) && self.power_off_host(vm.0 as usize) {
                        self.power_on_host(vm.0 as usize);
                    }
                }
                HaOutput::WakeAt(local) => {
                    let at = self.clocks[host].monotonic_true_time(LocalTime(local.as_nanos()));
                    self.wake_at(Component::Agent(agent), at);
                }
                HaOutput::Event(event) => self.record_ha(host, event),
            }
        }
    }

    /// HA powers `vm` on on hypervisor host `on`: refused while an instance of it is on anywhere (its
    /// VMDK lock), else it is placed there and boots from its disk.
    fn power_on_vm(&mut self, vm: usize, on: usize) -> bool {
        if self.hosts.is_on(HostId(vm as u32)) {
            return false;
        }
        // Its .vmx and disks are on its home datastore: no power-on where that is not reachable.
        let home =
            self.ha.as_ref().and_then(|ha| ha.spec.cluster.vms.get(&VmId(vm as u32)).map(|spec| spec.home));
        if home.is_some_and(|home| self.datastore_state(on, home) != DatastoreState::Accessible) {
            return false;
        }
        if let Some(ha) = self.ha.as_mut() {
            ha.placement.insert(vm, on);
        }
        self.power_on_host(vm)
    }

    /// A guest HA asked to shut down finished: the VM powers off (its agent hears it through
    /// `vm_power_changed`). A guest that moved or stopped meanwhile is left alone.
    pub(super) fn guest_shut_down(&mut self, vm: usize, on: usize) {
        if self.vm_placement(vm) == Some(on) {
            self.power_off_host(vm);
        }
    }

    fn send_ha(&mut self, from: usize, to: HostId, message: Message) {
        let Some(ha) = self.ha.as_ref() else { return };
        let network = ha.management;
        let Some(agent) = self.agent_on(to.0 as usize) else { return };
        let input = HaInput::Received { from: HostId(from as u32), message };
        self.send_packet(
            self.now(),
            from,
            to.0 as usize,
            Some(network),
            MESSAGE_BYTES,
            Packet::Ha { agent, input },
        );
    }

    /// The round trip of a ping from `host` to its isolation address, if it answers.
    fn ping_round_trip(&self, host: usize) -> Option<Duration> {
        let ha = self.ha.as_ref()?;
        let network = ha.management;
        let round_trip = self.fabric.spec(network).latency * 2;
        let up = |from: usize, to: usize| {
            self.fabric.path_state(HostId(from as u32), HostId(to as u32), network) == PathState::Up
        };
        let answers = match ha.isolation_address {
            Some(address) => self.executing(address) && up(host, address) && up(address, host),
            // The default gateway: reachable while this host's NIC and the network's switch are up.
            None => up(host, host),
        };
        answers.then_some(round_trip)
    }

    /// A hypervisor host lost power: its agent is gone, and every VM on it is off.
    pub(super) fn hypervisor_lost_power(&mut self, host: usize) {
        let Some(agent) = self.agent_on(host) else { return };
        let Some(ha) = self.ha.as_mut() else { return };
        ha.agents[agent].agent = None;
        ha.agents[agent].wake.cancel();
        let vms: Vec<usize> = ha.placement.iter().filter(|&(_, &on)| on == host).map(|(&vm, _)| vm).collect();
        for vm in vms {
            self.power_off_host(vm);
        }
    }

    /// A hypervisor host booted: a new agent, in an election, with no VM running (HA-protected VMs do
    /// not start with their host; a master restarts them).
    pub(super) fn hypervisor_booted(&mut self, host: usize) {
        if let Some(agent) = self.agent_on(host) {
            self.create_agent(agent, None);
        }
    }

    /// Whether VM `vm` may power on now: its hypervisor host runs. `true` for a physical host.
    pub(super) fn vm_may_power_on(&self, vm: usize) -> bool {
        self.vm_placement(vm).is_none_or(|on| self.hosts.is_running(HostId(on as u32)))
    }

    /// An operator powered VM `host` off (`on: false`) or on through vSphere (a `power-off` or
    /// `power-on` fault of the VM): vCenter tells every agent, and HA restarts the VM only while it is
    /// protected. A VM that goes down with its hypervisor host stays protected. Nothing for a physical
    /// host.
    pub(super) fn operator_powered_vm(&mut self, host: usize, on: bool) {
        if self.vm_placement(host).is_none() {
            return;
        }
        let now = self.now();
        let Some(ha) = self.ha.as_mut() else { return };
        if on {
            ha.unprotected.remove(&host);
        } else {
            ha.unprotected.insert(host);
        }
        let agents = ha.agents.len();
        let input = HaInput::Protection { vm: VmId(host as u32), protected: on };
        for agent in 0..agents {
            self.ha_input(agent, input.clone(), now);
        }
    }

    /// A VM's power changed (a fault, its host, or HA): its hypervisor host's agent hears it.
    pub(super) fn vm_power_changed(&mut self, vm: usize, on: bool) {
        if !on {
            self.forget_stall(vm);
        }
        let Some(agent) = self.vm_placement(vm).and_then(|host| self.agent_on(host)) else { return };
        let now = self.now();
        self.ha_input(agent, HaInput::VmPower { vm: VmId(vm as u32), on }, now);
    }

    /// Whether a packet between `from` and `to` on `network` gets past the physical NICs the VMs
    /// among them ride: the path between their hypervisor hosts (a VM's own host when physical) must
    /// be up. Two VMs on one hypervisor host talk through its virtual switch.
    pub(super) fn uplinks_up(&self, from: usize, to: usize, network: emulators::NetworkId) -> bool {
        let Some(ha) = self.ha.as_ref() else { return true };
        let physical = |host: usize| ha.placement.get(&host).copied().unwrap_or(host);
        let (from_host, to_host) = (physical(from), physical(to));
        if (from_host == from && to_host == to) || from_host == to_host {
            return true;
        }
        self.fabric.path_state(HostId(from_host as u32), HostId(to_host as u32), network) == PathState::Up
    }

    fn record_ha(&mut self, host: usize, event: HaEvent) {
        let name = |id: u32| self.host_names.get(id as usize).cloned().unwrap_or_else(|| Name::from("?"));
        let datastore = |id: emulators::hypervisor::DatastoreId| {
            let names = self.ha.as_ref().map_or(&[][..], |ha| &ha.spec.datastores[..]);
            names.get(id.0 as usize).map_or_else(|| Name::from("?"), |n| Name::from(n.as_str()))
        };
        let what = match event {
            HaEvent::ElectionStarted => HaRecord::ElectionStarted,
            HaEvent::MasterElected { master } => HaRecord::MasterElected { master: name(master.0) },
            HaEvent::Abdicated { to } => HaRecord::Abdicated { to: name(to.0) },
            HaEvent::HostUnreachable { host } => HaRecord::HostUnreachable { host: name(host.0) },
            HaEvent::HostDeclared { host, state } => HaRecord::HostDeclared { host: name(host.0), state },
            HaEvent::HostReconnected { host } => HaRecord::HostReconnected { host: name(host.0) },
            HaEvent::IsolationCheckStarted => HaRecord::IsolationCheckStarted,
            HaEvent::IsolationDeclared => HaRecord::IsolationDeclared,
            HaEvent::IsolationEnded => HaRecord::IsolationEnded,
            HaEvent::IsolationResponse { vm, response, outcome } => {
                HaRecord::IsolationResponse { vm: name(vm.0), response, outcome }
            }
            HaEvent::ShutdownTimedOut { vm } => HaRecord::ShutdownTimedOut { vm: name(vm.0) },
            HaEvent::RestartAttempted { vm, host, attempt } => {
                HaRecord::RestartAttempted { vm: name(vm.0), on: name(host.0), attempt }
            }
            HaEvent::RestartSucceeded { vm, host, attempt } => {
                HaRecord::RestartSucceeded { vm: name(vm.0), on: name(host.0), attempt }
            }
            HaEvent::RestartFailed { vm, host, attempt } => {
                HaRecord::RestartFailed { vm: name(vm.0), on: name(host.0), attempt }
            }
            HaEvent::RestartGaveUp { vm } => HaRecord::RestartGaveUp { vm: name(vm.0) },
            HaEvent::RestartBlocked { vm, reason } => HaRecord::RestartBlocked { vm: name(vm.0), reason },
            HaEvent::RestartCancelled { vm, running_on } => {
                HaRecord::RestartCancelled { vm: name(vm.0), running_on: name(running_on.0) }
            }
            HaEvent::VmMonitoringReset { vm, resets } => {
                HaRecord::VmMonitoringReset { vm: name(vm.0), resets }
            }
            HaEvent::VmMonitoringSuppressed { vm, reason } => {
                HaRecord::VmMonitoringSuppressed { vm: name(vm.0), reason }
            }
            HaEvent::ApdTimeout { datastore: id } => HaRecord::ApdTimeout { datastore: datastore(id) },
            HaEvent::VmcpTerminated { vm, datastore: id, failure } => {
                HaRecord::VmcpTerminated { vm: name(vm.0), datastore: datastore(id), failure }
            }
            HaEvent::VmcpWarning { vm, datastore: id, failure } => {
                HaRecord::VmcpWarning { vm: name(vm.0), datastore: datastore(id), failure }
            }
            HaEvent::VmcpReset { vm, datastore: id } => {
                HaRecord::VmcpReset { vm: name(vm.0), datastore: datastore(id) }
            }
        };
        tracing::info!(t = %self.now(), agent = %self.host_names[host], ?what, "ha");
        let agent = self.host_names[host].clone();
        self.record(Event::Ha { agent, what });
    }
}
