//! The HA timeline, driven by a small deterministic lab: one agent per host, a management network
//! that carries every message in 1 ms unless a host is cut off or the hosts are partitioned, a
//! gateway that answers pings, shared storage that a host reaches unless its storage is cut, and VMs
//! that power on unless told to fail.

mod failures;
mod isolation;
mod monitoring;
mod restarts;
mod rules;

use super::*;
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};

pub(super) const DS1: DatastoreId = DatastoreId(1);
pub(super) const DS2: DatastoreId = DatastoreId(2);

pub(super) fn secs(secs: u64) -> SimTime {
    SimTime::from_secs(secs)
}

pub(super) fn h(id: u32) -> HostId {
    HostId(id)
}

pub(super) fn vm(id: u32) -> VmId {
    VmId(id)
}

/// A cluster of `hosts`, each mounting ds1 and ds2, with `vms` (id, home) of default settings.
pub(super) fn cluster(hosts: &[u32], vms: &[u32]) -> ClusterSpec {
    ClusterSpec {
        hosts: hosts.iter().map(|&id| (h(id), [DS1, DS2].into_iter().collect())).collect(),
        vms: vms.iter().map(|&id| (vm(id), VmSpec::on(DS1))).collect(),
        rules: Vec::new(),
    }
}

pub(super) struct Lab {
    pub(super) now: SimTime,
    pub(super) agents: BTreeMap<HostId, FdmAgent>,
    pub(super) storage: HaStorage,
    queue: BTreeMap<(SimTime, u64), (HostId, HaInput)>,
    seq: u64,
    wakes: BTreeMap<HostId, SimTime>,
    /// Hosts whose management network is cut: no message in or out, no ping.
    pub(super) mgmt_cut: BTreeSet<HostId>,
    /// Hosts that reach no datastore.
    pub(super) storage_cut: BTreeSet<HostId>,
    /// Partition groups; hosts in different groups do not hear each other. Empty: one network.
    pub(super) groups: Vec<BTreeSet<HostId>>,
    pub(super) gateway_up: bool,
    pub(super) down: BTreeSet<HostId>,
    /// VMs whose power-on fails.
    pub(super) power_on_fails: BTreeSet<VmId>,
    /// Guests that never finish a shutdown.
    pub(super) shutdown_hangs: bool,
    /// Ground truth: the hosts each VM runs on.
    pub(super) running: BTreeMap<VmId, BTreeSet<HostId>>,
    pub(super) log: Vec<(SimTime, HostId, HaOutput)>,
}

impl Lab {
    /// A cluster in steady state: `master` is master, `placement` says where each VM runs.
    pub(super) fn steady(config: HaConfig, spec: ClusterSpec, placement: &[(u32, u32)], master: u32) -> Lab {
        Self::build(config, spec, placement, Some(h(master)))
    }

    /// Every agent starting an election at time zero, as after enabling HA.
    pub(super) fn booting(config: HaConfig, spec: ClusterSpec) -> Lab {
        Self::build(config, spec, &[], None)
    }

    fn build(config: HaConfig, spec: ClusterSpec, placement: &[(u32, u32)], master: Option<HostId>) -> Lab {
        let mut lab = Lab {
            now: SimTime::ZERO,
            agents: BTreeMap::new(),
            storage: HaStorage::new(config.protected_list_lease),
            queue: BTreeMap::new(),
            seq: 0,
            wakes: BTreeMap::new(),
            mgmt_cut: BTreeSet::new(),
            storage_cut: BTreeSet::new(),
            groups: Vec::new(),
            gateway_up: true,
            down: BTreeSet::new(),
            power_on_fails: BTreeSet::new(),
            shutdown_hangs: false,
            running: BTreeMap::new(),
            log: Vec::new(),
        };
        for &host in spec.hosts.keys() {
            let vms: Vec<VmId> =
                placement.iter().filter(|(_, on)| h(*on) == host).map(|&(id, _)| vm(id)).collect();
            for &v in &vms {
                lab.running.entry(v).or_default().insert(host);
            }
            let (agent, out) = FdmAgent::new(SimTime::ZERO, host, config.clone(), spec.clone(), &vms, master);
            lab.agents.insert(host, agent);
            lab.carry(host, out);
        }
        lab
    }

    fn push(&mut self, at: SimTime, host: HostId, input: HaInput) {
        self.seq += 1;
        self.queue.insert((at, self.seq), (host, input));
    }

    fn connected(&self, a: HostId, b: HostId) -> bool {
        let up = |x: HostId| !self.down.contains(&x) && !self.mgmt_cut.contains(&x);
        let grouped = self.groups.is_empty() || self.groups.iter().any(|g| g.contains(&a) && g.contains(&b));
        up(a) && up(b) && grouped
    }

    fn reaches(&self, host: HostId, datastore: DatastoreId) -> bool {
        let state = self.agents.get(&host).and_then(|agent| agent.access.get(&datastore).copied());
        !self.storage_cut.contains(&host) && state == Some(DatastoreState::Accessible)
    }

    /// Carries out an agent's outputs, in order.
    fn carry(&mut self, host: HostId, out: Vec<HaOutput>) {
        let (now, later) = (self.now, self.now + Duration::from_millis(1));
        for output in out {
            match &output {
                HaOutput::Send { to, message } if self.connected(host, *to) => {
                    self.push(later, *to, HaInput::Received { from: host, message: message.clone() })
                }
                HaOutput::Send { .. } => {}
                HaOutput::Ping { address } if self.gateway_up && !self.mgmt_cut.contains(&host) => {
                    self.push(later, host, HaInput::PingReply { address: *address })
                }
                HaOutput::Ping { .. } => {}
                HaOutput::Storage(op) => {
                    let reachable = storage_datastore(op).is_some_and(|ds| self.reaches(host, ds));
                    let answer = if reachable {
                        self.storage.apply(now, host, op)
                    } else {
                        HaStorage::unreachable(op)
                    };
                    if let Some(answer) = answer {
                        self.push(now, host, answer);
                    }
                }
                HaOutput::PowerOnVm { vm } => {
                    let ok = !self.power_on_fails.contains(vm);
                    if ok {
                        self.running.entry(*vm).or_default().insert(host);
                    }
                    self.push(later, host, HaInput::PowerOnResult { vm: *vm, ok });
                }
                HaOutput::PowerOffVm { vm } => self.stop(*vm, host),
                HaOutput::ShutdownGuest { vm } if !self.shutdown_hangs => {
                    self.push(now + Duration::from_secs(20), host, HaInput::VmPower { vm: *vm, on: false })
                }
                HaOutput::ShutdownGuest { .. } | HaOutput::ResetVm { .. } | HaOutput::Event(_) => {}
                HaOutput::WakeAt(at) => {
                    self.wakes.insert(host, *at);
                    self.push(*at, host, HaInput::Wake);
                }
            }
            self.log.push((now, host, output));
        }
    }

    pub(super) fn stop(&mut self, vm: VmId, host: HostId) {
        if let Some(hosts) = self.running.get_mut(&vm) {
            hosts.remove(&host);
        }
    }

    /// Delivers one input to `host` now (from the test itself).
    pub(super) fn input(&mut self, host: HostId, input: HaInput) {
        if let HaInput::VmPower { vm, on: false } = input {
            self.stop(vm, host);
        }
        let now = self.now;
        let out = self.agents.get_mut(&host).map(|agent| agent.handle(now, input)).unwrap_or_default();
        self.carry(host, out);
    }

    pub(super) fn run_until(&mut self, until: SimTime) {
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > until {
                break;
            }
            let ((at, _), (host, input)) = entry.remove_entry();
            self.now = at;
            if self.down.contains(&host) || (input == HaInput::Wake && self.wakes.get(&host) != Some(&at)) {
                continue;
            }
            if let HaInput::VmPower { vm, on: false } = input {
                self.stop(vm, host);
            }
            let out = self.agents.get_mut(&host).map(|agent| agent.handle(at, input)).unwrap_or_default();
            self.carry(host, out);
        }
        self.now = until;
    }

    pub(super) fn power_off(&mut self, host: HostId) {
        self.down.insert(host);
        for hosts in self.running.values_mut() {
            hosts.remove(&host);
        }
    }

    /// Power returns to `host`: a new agent starts an election with no VM running, as after an ESXi
    /// boot.
    pub(super) fn reboot(&mut self, host: HostId) {
        self.down.remove(&host);
        let Some(old) = self.agents.get(&host) else { return };
        let (config, spec) = (old.config.clone(), old.cluster.clone());
        let (agent, out) = FdmAgent::new(self.now, host, config, spec, &[], None);
        self.agents.insert(host, agent);
        self.carry(host, out);
    }

    /// Every event of `host`, with its time.
    pub(super) fn events(&self, host: HostId) -> Vec<(SimTime, HaEvent)> {
        self.log
            .iter()
            .filter(|(_, from, _)| *from == host)
            .filter_map(|(at, _, output)| match output {
                HaOutput::Event(event) => Some((*at, event.clone())),
                _ => None,
            })
            .collect()
    }

    /// When `host` first emitted an event matching `pred`.
    pub(super) fn first(&self, host: HostId, pred: impl Fn(&HaEvent) -> bool) -> Option<SimTime> {
        self.events(host).into_iter().find(|(_, event)| pred(event)).map(|(at, _)| at)
    }

    /// Every (time, host) at which an output matching `pred` came out.
    pub(super) fn outputs(&self, pred: impl Fn(&HaOutput) -> bool) -> Vec<(SimTime, HostId)> {
        self.log.iter().filter(|(_, _, output)| pred(output)).map(|(at, host, _)| (*at, *host)).collect()
    }

    pub(super) fn hosts_of(&self, v: VmId) -> BTreeSet<HostId> {
        self.running.get(&v).cloned().unwrap_or_default()
    }
}

fn storage_datastore(op: &StorageOp) -> Option<DatastoreId> {
    match op {
        StorageOp::WriteHostFile { datastore, .. }
        | StorageOp::ReadHostFile { datastore, .. }
        | StorageOp::LockProtectedList { datastore }
        | StorageOp::ReleaseProtectedList { datastore }
        | StorageOp::ReadProtectedList { datastore } => Some(*datastore),
    }
}

/// Asserts `at` lies within `[from, to]` seconds.
pub(super) fn assert_between(at: Option<SimTime>, from: u64, to: u64) {
    let at = at.expect("the event happened");
    assert!(at >= secs(from) && at <= secs(to), "at {at:?}, expected between {from} s and {to} s");
}
