//! The master's duties: heartbeats to every host, the `protectedlist` locks, telling a silent host's
//! state from its datastore heartbeats, and restarting VMs by priority with retries.

use super::agent::FdmAgent;
use super::{
    ClusterSpec, DatastoreId, HaEvent, HaOutput, HostFile, HostState, Message, RestartBlock, RestartPriority,
    StorageOp, VmId,
};
use crate::ids::HostId;
use kernel::SimTime;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

/// What the master knows of one other host.
#[derive(Debug)]
pub(super) struct HostView {
    pub(super) last_heard: SimTime,
    pub(super) vms: BTreeSet<VmId>,
    pub(super) datastores: BTreeSet<DatastoreId>,
    unreachable_reported: bool,
    state: Option<HostState>,
    /// The highest heartbeat sequence read from its files, and when it last went up.
    seq: Option<u64>,
    seq_changed_at: Option<SimTime>,
    file: Option<HostFile>,
    failed_handled: bool,
    /// A heartbeat from it has arrived since this master took over, so `vms` is what it runs now.
    heard: bool,
}

impl HostView {
    fn new(now: SimTime, datastores: BTreeSet<DatastoreId>) -> Self {
        HostView {
            last_heard: now,
            vms: BTreeSet::new(),
            datastores,
            unreachable_reported: false,
            state: None,
            seq: None,
            seq_changed_at: None,
            file: None,
            failed_handled: false,
            heard: false,
        }
    }
}

/// A restart waiting for its next attempt.
#[derive(Debug)]
struct Pending {
    /// Attempts made so far.
    attempts: u32,
    due: SimTime,
    blocked: Option<RestartBlock>,
}

/// A power-on sent to a host and not yet answered.
#[derive(Clone, Copy, Debug)]
pub(super) struct InFlight {
    pub(super) host: HostId,
    attempt: u32,
    sent_at: SimTime,
}

/// The master role's state, dropped when the agent stops being master.
#[derive(Debug)]
pub(super) struct MasterState {
    pub(super) hosts: BTreeMap<HostId, HostView>,
    pub(super) owned: BTreeSet<DatastoreId>,
    queue: BTreeMap<VmId, Pending>,
    pub(super) in_flight: BTreeMap<VmId, InFlight>,
    /// VMs whose restarts all failed: not restarted again until they are seen running.
    gave_up: BTreeSet<VmId>,
}

impl MasterState {
    /// A new master knows every host of the cluster and hears from none yet: each one's clock starts
    /// at the election.
    pub(super) fn new(now: SimTime, cluster: &ClusterSpec, me: HostId) -> Self {
        let hosts = cluster
            .hosts
            .iter()
            .filter(|&(&host, _)| host != me)
            .map(|(&host, stores)| (host, HostView::new(now, stores.clone())))
            .collect();
        MasterState {
            hosts,
            owned: BTreeSet::new(),
            queue: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            gave_up: BTreeSet::new(),
        }
    }

    pub(super) fn on_lock(&mut self, datastore: DatastoreId, granted: bool) {
        if granted {
            self.owned.insert(datastore);
        } else {
            self.owned.remove(&datastore);
        }
    }

    /// A datastore heartbeat read: the first read of a silence is the baseline, a higher sequence
    /// later means the host is alive.
    pub(super) fn on_host_file(&mut self, now: SimTime, host: HostId, file: Option<HostFile>) {
        let (Some(view), Some(file)) = (self.hosts.get_mut(&host), file) else { return };
        if view.seq.is_some_and(|seq| file.seq > seq) {
            view.seq_changed_at = Some(now);
        }
        if view.seq.is_none_or(|seq| file.seq > seq) {
            view.seq = Some(file.seq);
            view.file = Some(file);
        }
    }

    /// Every other host's silence is judged afresh from `now`: its timers, baselines and verdict are
    /// forgotten; what it last reported running is kept.
    pub(super) fn forget_silences(&mut self, now: SimTime) {
        for view in self.hosts.values_mut() {
            let vms = core::mem::take(&mut view.vms);
            *view = HostView { vms, ..HostView::new(now, core::mem::take(&mut view.datastores)) };
        }
    }

    pub(super) fn on_heartbeat(
        &mut self,
        now: SimTime,
        from: HostId,
        vms: BTreeSet<VmId>,
        datastores: BTreeSet<DatastoreId>,
        out: &mut Vec<HaOutput>,
    ) {
        let Some(view) = self.hosts.get_mut(&from) else { return };
        if view.unreachable_reported || view.state.is_some() {
            out.push(HaOutput::Event(HaEvent::HostReconnected { host: from }));
        }
        *view = HostView { vms, heard: true, ..HostView::new(now, datastores) };
    }
}

impl FdmAgent {
    fn master_state(&self) -> Option<&MasterState> {
        self.master.as_ref()
    }

    /// Whether `host` is in network contact with this master now.
    pub(super) fn in_contact(&self, now: SimTime, host: HostId) -> bool {
        host == self.host
            || self
                .master_state()
                .and_then(|m| m.hosts.get(&host))
                .is_some_and(|view| now.saturating_since(view.last_heard) < self.config.datastore_check_after)
    }

    /// The host in contact that runs `vm`, if any.
    pub(super) fn running_on(&self, now: SimTime, vm: VmId) -> Option<HostId> {
        if self.vms.contains_key(&vm) {
            return Some(self.host);
        }
        let master = self.master_state()?;
        master
            .hosts
            .iter()
            .find(|&(&host, view)| view.vms.contains(&vm) && self.in_contact(now, host))
            .map(|(&host, _)| host)
    }

    pub(super) fn master_tick(&mut self, now: SimTime, out: &mut Vec<HaOutput>) {
        for to in self.others() {
            out.push(HaOutput::Send { to, message: self.heartbeat() });
        }
        if self.is_isolated() {
            return;
        }
        for datastore in self.accessible().collect::<Vec<_>>() {
            out.push(HaOutput::Storage(StorageOp::LockProtectedList { datastore }));
        }
        for host in self.others() {
            self.watch_host(now, host, out);
        }
        self.fail_silent_attempts(now, out);
        self.restart_vanished(now);
        self.issue_restarts(now, out);
    }

    /// Restarts every protected VM that runs nowhere: the master restarts a protected VM that went
    /// down without anyone powering it off through vSphere ([DD-RVM] in docs/hypervisor.md),
    /// which includes the VMs of a host that rebooted before it could be declared failed (its new
    /// agent reports none of them). Judged only once every host has reported since this master took
    /// over or has been declared, and a VM a silent host last reported, or its datastore heartbeat
    /// file lists as powered on, still counts as running there.
    fn restart_vanished(&mut self, now: SimTime) {
        let Some(master) = self.master.as_ref() else { return };
        if !master.hosts.values().all(|view| view.heard || view.state.is_some()) {
            return;
        }
        let somewhere = |vm: &VmId| {
            self.vms.contains_key(vm)
                || master.hosts.values().filter(|view| view.state != Some(HostState::Failed)).any(|view| {
                    view.vms.contains(vm)
                        || view.file.as_ref().is_some_and(|file| file.powered_on.contains(vm))
                })
        };
        let (running, vanished): (Vec<VmId>, Vec<VmId>) =
            self.cluster.vms.keys().partition(|vm| somewhere(vm));
        let Some(master) = self.master.as_mut() else { return };
        for vm in running {
            master.gave_up.remove(&vm);
        }
        let vanished: Vec<VmId> = vanished.into_iter().filter(|vm| !master.gave_up.contains(vm)).collect();
        for vm in vanished {
            self.enqueue_restart(now, vm);
        }
    }

    /// The failure timeline of one host: datastore heartbeats read from 3 s of silence, unreachable
    /// at 10 s, classified at 18 s (15 s without heartbeat datastores) and re-classified every tick.
    fn watch_host(&mut self, now: SimTime, host: HostId, out: &mut Vec<HaOutput>) {
        let config = &self.config;
        let Some(view) = self.master.as_ref().and_then(|m| m.hosts.get(&host)) else { return };
        let silence = now.saturating_since(view.last_heard);
        if silence < config.datastore_check_after {
            return;
        }
        let mine: BTreeSet<DatastoreId> = self.accessible().collect();
        for datastore in self.cluster.heartbeat_datastores(host, config.heartbeat_datastores_per_host) {
            if mine.contains(&datastore) {
                out.push(HaOutput::Storage(StorageOp::ReadHostFile { datastore, host }));
            }
        }
        let alive = view
            .seq_changed_at
            .is_some_and(|at| now.saturating_since(at) < config.datastore_heartbeat_window);
        let isolated = view.file.as_ref().is_some_and(|file| file.isolated);
        let (declare, window) = (config.declare_after(), config.unreachable_after);
        let Some(view) = self.master.as_mut().and_then(|m| m.hosts.get_mut(&host)) else { return };
        if silence >= window && !view.unreachable_reported {
            view.unreachable_reported = true;
            out.push(HaOutput::Event(HaEvent::HostUnreachable { host }));
        }
        if silence < declare {
            return;
        }
        let state = match (alive, isolated) {
            (false, _) => HostState::Failed,
            (true, true) => HostState::Isolated,
            (true, false) => HostState::Partitioned,
        };
        if view.state != Some(state) {
            view.state = Some(state);
            out.push(HaOutput::Event(HaEvent::HostDeclared { host, state }));
        }
        let file = view.file.clone().unwrap_or_default();
        let to_restart: BTreeSet<VmId> = match state {
            HostState::Failed if !view.failed_handled => {
                view.failed_handled = true;
                view.vms.union(&file.powered_on).chain(&file.powered_off_by_ha).copied().collect()
            }
            HostState::Failed => BTreeSet::new(),
            HostState::Isolated | HostState::Partitioned => file.powered_off_by_ha,
        };
        for vm in to_restart {
            self.enqueue_restart(now, vm);
        }
    }

    /// Queues `vm` for restart unless it is queued, being restarted, running on a host in contact,
    /// powered off by an operator, or has restart priority Disabled.
    pub(super) fn enqueue_restart(&mut self, now: SimTime, vm: VmId) {
        let priority = self.priority(vm);
        let unprotected = self.unprotected.contains(&vm);
        if priority == RestartPriority::Disabled || unprotected || self.running_on(now, vm).is_some() {
            return;
        }
        let Some(master) = self.master.as_mut() else { return };
        if master.queue.contains_key(&vm) || master.in_flight.contains_key(&vm) {
            return;
        }
        master.queue.insert(vm, Pending { attempts: 0, due: now, blocked: None });
    }

    fn priority(&self, vm: VmId) -> RestartPriority {
        self.cluster.vms.get(&vm).map_or(RestartPriority::Medium, |spec| spec.restart_priority)
    }

    /// Issues due restarts, highest priority first. A VM waits while a power-on of a higher priority
    /// is still in flight (the ordering HA documents; not a wait for the guest to be ready).
    fn issue_restarts(&mut self, now: SimTime, out: &mut Vec<HaOutput>) {
        let Some(master) = self.master.as_ref() else { return };
        let mut due: Vec<VmId> =
            master.queue.iter().filter(|(_, p)| p.due <= now).map(|(&vm, _)| vm).collect();
        due.sort_by_key(|&vm| (Reverse(self.priority(vm)), vm));
        for vm in due {
            // An operator powered it off since it was queued (a power-off, or a revert that leaves
            // it off): vCenter no longer protects it, and a retry must not power it back on.
            if self.unprotected.contains(&vm) {
                self.dequeue(vm);
                continue;
            }
            if let Some(host) = self.running_on(now, vm) {
                self.dequeue(vm);
                out.push(HaOutput::Event(HaEvent::RestartCancelled { vm, running_on: host }));
                continue;
            }
            let highest_in_flight =
                self.master_state().and_then(|m| m.in_flight.keys().map(|&other| self.priority(other)).max());
            if highest_in_flight.is_some_and(|p| p > self.priority(vm)) {
                break;
            }
            match self.place(now, vm) {
                Ok(host) => self.attempt(now, vm, host, out),
                Err(reason) => self.block(vm, reason, out),
            }
        }
    }

    fn dequeue(&mut self, vm: VmId) -> Option<Pending> {
        self.master.as_mut().and_then(|m| m.queue.remove(&vm))
    }

    fn block(&mut self, vm: VmId, reason: RestartBlock, out: &mut Vec<HaOutput>) {
        let Some(pending) = self.master.as_mut().and_then(|m| m.queue.get_mut(&vm)) else { return };
        if pending.blocked != Some(reason) {
            pending.blocked = Some(reason);
            out.push(HaOutput::Event(HaEvent::RestartBlocked { vm, reason }));
        }
    }

    fn attempt(&mut self, now: SimTime, vm: VmId, host: HostId, out: &mut Vec<HaOutput>) {
        let Some(pending) = self.dequeue(vm) else { return };
        let attempt = pending.attempts + 1;
        if let Some(master) = self.master.as_mut() {
            master.in_flight.insert(vm, InFlight { host, attempt, sent_at: now });
        }
        out.push(HaOutput::Event(HaEvent::RestartAttempted { vm, host, attempt }));
        if host == self.host {
            self.power_on_here(vm, out);
        } else {
            out.push(HaOutput::Send { to: host, message: Message::PowerOn { vm, attempt } });
        }
    }

    /// A power-on whose target went silent for `unreachable_after`, or that has gone unanswered that
    /// long (the target rebooted and its new agent never heard of it), counts as failed.
    fn fail_silent_attempts(&mut self, now: SimTime, out: &mut Vec<HaOutput>) {
        let Some(master) = self.master.as_ref() else { return };
        let limit = self.config.unreachable_after;
        let silent: Vec<(VmId, HostId)> = master
            .in_flight
            .iter()
            .filter(|(_, flight)| {
                now.saturating_since(flight.sent_at) >= limit
                    || master
                        .hosts
                        .get(&flight.host)
                        .is_some_and(|view| now.saturating_since(view.last_heard) >= limit)
            })
            .map(|(&vm, flight)| (vm, flight.host))
            .collect();
        for (vm, host) in silent {
            self.restart_done(now, host, vm, false, out);
        }
    }

    /// The outcome of a power-on: success, a retry after 2, 4, 8, 16 minutes, or giving up.
    pub(super) fn restart_done(
        &mut self,
        now: SimTime,
        from: HostId,
        vm: VmId,
        ok: bool,
        out: &mut Vec<HaOutput>,
    ) {
        let max_attempts = self.config.max_restart_attempts;
        let Some(master) = self.master.as_mut() else { return };
        let Some(flight) = master.in_flight.get(&vm).copied().filter(|f| f.host == from) else { return };
        master.in_flight.remove(&vm);
        let (host, attempt) = (flight.host, flight.attempt);
        if ok {
            if let Some(view) = master.hosts.get_mut(&host) {
                view.vms.insert(vm);
            }
            out.push(HaOutput::Event(HaEvent::RestartSucceeded { vm, host, attempt }));
            return;
        }
        out.push(HaOutput::Event(HaEvent::RestartFailed { vm, host, attempt }));
        if attempt >= max_attempts {
            out.push(HaOutput::Event(HaEvent::RestartGaveUp { vm }));
            master.gave_up.insert(vm);
            return;
        }
        let due = now + self.config.retry_delay(attempt);
        master.queue.insert(vm, Pending { attempts: attempt, due, blocked: None });
    }
}
