//! The agent's duties towards the VMs on its own host: VM monitoring (reset a VM whose VMware Tools
//! heartbeat stopped and which does no I/O) and VM component protection (APD and PDL).

use super::agent::FdmAgent;
use super::{
    ApdClearedReaction, ApdResponse, DatastoreId, DatastoreState, HaEvent, HaOutput, Message, PdlResponse,
    ResetSuppressed, Role, StorageFailure, VmId, VmMonitoringConfig,
};
use kernel::SimTime;

/// What the agent tracks of one VM running on its host. A power-on or a vMotion arrival starts it
/// afresh, which clears the reset statistics as vSphere does.
#[derive(Clone, Debug)]
pub(super) struct LocalVm {
    powered_on_at: SimTime,
    tools_beating: bool,
    tools_since: SimTime,
    io_active: bool,
    io_since: SimTime,
    resets: Vec<SimTime>,
    suppressed: Option<ResetSuppressed>,
}

impl LocalVm {
    pub(super) fn new(now: SimTime) -> Self {
        LocalVm {
            powered_on_at: now,
            tools_beating: true,
            tools_since: now,
            io_active: true,
            io_since: now,
            resets: Vec::new(),
            suppressed: None,
        }
    }
}

/// An all-paths-down condition on one datastore.
#[derive(Clone, Copy, Debug)]
pub(super) struct Apd {
    since: SimTime,
    timed_out: bool,
    acted: bool,
}

impl FdmAgent {
    pub(super) fn on_tools(&mut self, now: SimTime, vm: VmId, beating: bool) {
        if let Some(local) = self.vms.get_mut(&vm)
            && local.tools_beating != beating
        {
            local.tools_beating = beating;
            local.tools_since = now;
            local.suppressed = None;
        }
    }

    pub(super) fn on_io(&mut self, now: SimTime, vm: VmId, active: bool) {
        if let Some(local) = self.vms.get_mut(&vm)
            && local.io_active != active
        {
            local.io_active = active;
            local.io_since = now;
        }
    }

    fn monitoring_for(&self, vm: VmId) -> VmMonitoringConfig {
        self.cluster.vms.get(&vm).and_then(|spec| spec.monitoring).unwrap_or(self.config.vm_monitoring)
    }

    pub(super) fn monitor_vms(&mut self, now: SimTime, out: &mut Vec<HaOutput>) {
        for vm in self.running_vms() {
            let config = self.monitoring_for(vm);
            let Some(local) = self.vms.get_mut(&vm) else { continue };
            if !config.enabled
                || local.tools_beating
                || now.saturating_since(local.tools_since) < config.failure_interval
            {
                continue;
            }
            let in_window =
                |at: &&SimTime| config.max_resets_window.is_none_or(|w| now.saturating_since(**at) < w);
            let recent = u32::try_from(local.resets.iter().filter(in_window).count()).unwrap_or(u32::MAX);
            let io_quiet =
                !local.io_active && now.saturating_since(local.io_since) >= config.io_stats_interval;
            let suppressed = if now.saturating_since(local.powered_on_at) < config.min_uptime {
                Some(ResetSuppressed::MinUptime)
            } else if !io_quiet {
                Some(ResetSuppressed::IoActive)
            } else if recent >= config.max_resets {
                Some(ResetSuppressed::MaxResets)
            } else {
                None
            };
            match suppressed {
                Some(reason) if local.suppressed != Some(reason) => {
                    local.suppressed = Some(reason);
                    out.push(HaOutput::Event(HaEvent::VmMonitoringSuppressed { vm, reason }));
                }
                Some(_) => {}
                None => {
                    local.resets.push(now);
                    local.powered_on_at = now;
                    local.tools_since = now;
                    local.suppressed = None;
                    out.push(HaOutput::ResetVm { vm });
                    out.push(HaOutput::Event(HaEvent::VmMonitoringReset { vm, resets: recent + 1 }));
                }
            }
        }
    }

    fn vms_on(&self, datastore: DatastoreId) -> Vec<VmId> {
        self.running_vms()
            .into_iter()
            .filter(|vm| self.cluster.vms.get(vm).is_some_and(|spec| spec.home == datastore))
            .collect()
    }

    pub(super) fn on_datastore(
        &mut self,
        now: SimTime,
        datastore: DatastoreId,
        state: DatastoreState,
        out: &mut Vec<HaOutput>,
    ) {
        self.access.insert(datastore, state);
        match state {
            DatastoreState::AllPathsDown => {
                self.apd.entry(datastore).or_insert(Apd { since: now, timed_out: false, acted: false });
            }
            DatastoreState::PermanentDeviceLoss => {
                self.apd.remove(&datastore);
                let failure = StorageFailure::PermanentDeviceLoss;
                match self.config.vmcp.pdl_response {
                    PdlResponse::Disabled => {}
                    PdlResponse::Warning => self.vmcp_warn(datastore, failure, out),
                    PdlResponse::PowerOffAndRestart => self.vmcp_terminate(now, datastore, failure, out),
                }
            }
            DatastoreState::Accessible => {
                let Some(apd) = self.apd.remove(&datastore) else { return };
                let vmcp = self.config.vmcp;
                if apd.timed_out && !apd.acted && vmcp.apd_cleared == ApdClearedReaction::Reset {
                    for vm in self.vms_on(datastore) {
                        out.push(HaOutput::ResetVm { vm });
                        out.push(HaOutput::Event(HaEvent::VmcpReset { vm, datastore }));
                    }
                }
            }
        }
    }

    /// APD timeline: declared timed out after `apd_timeout` (140 s), answered `apd_failover_delay`
    /// (180 s) later.
    pub(super) fn vmcp_tick(&mut self, now: SimTime, out: &mut Vec<HaOutput>) {
        let vmcp = self.config.vmcp;
        for (datastore, apd) in self.apd.clone() {
            let elapsed = now.saturating_since(apd.since);
            if !apd.timed_out && elapsed >= vmcp.apd_timeout {
                out.push(HaOutput::Event(HaEvent::ApdTimeout { datastore }));
            }
            let act = !apd.acted && elapsed >= vmcp.apd_timeout + vmcp.apd_failover_delay;
            if let Some(entry) = self.apd.get_mut(&datastore) {
                entry.timed_out |= elapsed >= vmcp.apd_timeout;
                entry.acted |= act;
            }
            if !act {
                continue;
            }
            let failure = StorageFailure::AllPathsDown;
            match vmcp.apd_response {
                ApdResponse::Disabled => {}
                ApdResponse::Warning => self.vmcp_warn(datastore, failure, out),
                ApdResponse::RestartConservative if !self.restarter_known(now, datastore) => {
                    self.vmcp_warn(datastore, failure, out)
                }
                ApdResponse::RestartConservative | ApdResponse::RestartAggressive => {
                    self.vmcp_terminate(now, datastore, failure, out)
                }
            }
        }
    }

    /// Whether some other host is known to be able to restart VMs of `datastore`: a master in
    /// contact, or (as master) a connected slave that reaches it.
    fn restarter_known(&self, now: SimTime, datastore: DatastoreId) -> bool {
        match self.role {
            Role::Slave { .. } => self.master_heard_recently(now),
            Role::Election => false,
            Role::Master => self.master.as_ref().is_some_and(|m| {
                m.hosts
                    .iter()
                    .any(|(&host, view)| self.in_contact(now, host) && view.datastores.contains(&datastore))
            }),
        }
    }

    fn vmcp_warn(&self, datastore: DatastoreId, failure: StorageFailure, out: &mut Vec<HaOutput>) {
        for vm in self.vms_on(datastore) {
            out.push(HaOutput::Event(HaEvent::VmcpWarning { vm, datastore, failure }));
        }
    }

    /// Powers the datastore's VMs off and has the master restart them on a host that reaches it.
    fn vmcp_terminate(
        &mut self,
        now: SimTime,
        datastore: DatastoreId,
        failure: StorageFailure,
        out: &mut Vec<HaOutput>,
    ) {
        for vm in self.vms_on(datastore) {
            out.push(HaOutput::PowerOffVm { vm });
            out.push(HaOutput::Event(HaEvent::VmcpTerminated { vm, datastore, failure }));
            self.powered_off_by_ha(vm, out);
            match self.role {
                Role::Slave { master } => {
                    out.push(HaOutput::Send { to: master, message: Message::RestartElsewhere { vm } })
                }
                Role::Master => self.enqueue_restart(now, vm),
                Role::Election => {}
            }
        }
    }
}
