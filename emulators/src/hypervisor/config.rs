//! vSphere HA settings, each with its documented default and where it comes from.
//!
//! Sources (cited by tag below; full URLs in `docs/hypervisor.md`):
//! - [API-ISO]: `ClusterDasVmSettingsIsolationResponse` (developer.broadcom.com virtual-infrastructure
//!   JSON API): isolation response workflow after 30 s, `fdm.isolationPolicyDelaySec`, leave powered on.
//! - [DD-RVM]: Epping and Denneman, *vSphere HA Deepdive*, "Restarting Virtual Machines"
//!   (github.com/equelin/vsphere-ha-deepdive `restarting_virtual_machines.md`): failure and isolation
//!   timelines, restart retries at T0, 2, 6, 14, 30 min (`das.maxvmrestartcount` 5), shutdown timeout
//!   300 s, isolation policy delay minimum 30 s, VMCP APD 140 s + 3 min, anti-affinity option.
//! - [DD-FC]: the same book, "Fundamental Concepts": election (~15 s, most datastores then highest
//!   id), network heartbeats every 1 s, 2 heartbeat datastores, failed/isolated/partitioned table.
//! - [DD-VMM]: the same book, "VM and Application Monitoring": sensitivity presets, 120 s I/O window.
//! - [API-TOOLS]: `ClusterVmToolsMonitoringSettings` (failureInterval 30, minUpTime 120, maxFailures
//!   3, maxFailureWindow -1), as also listed by the Salt VMware extension's `cluster_ha.configure`.
//! - [DOC-DSHB]: docs.vmware.com vSphere 7.0 Availability, "Datastore Heartbeating"
//!   (`das.heartbeatdsperhost` default 2, maximum 5).
//! - [DOC-PRIO]: docs.vmware.com vSphere 6.0/8.0 Availability, "VM and Application Monitoring" /
//!   restart priority page: Disabled, Low, Medium (the default), High.
//! - [TF-VMCP]: Terraform vSphere provider docs (`ha_datastore_apd_response`, `ha_datastore_pdl_response`
//!   default disabled; `ha_datastore_apd_response_delay` 180 s).
//! - [KB-VMOTION]: knowledge.broadcom.com article 436882: the 500 ms vMotion switchover time goal.
//! - domain.md 4.1 and 6.1 (`Misc.APDTimeout` 140 s; isolation at T+30 s / T+5 s).
//!
//! "H:" marks a value chosen for the model where no source gives one.

use super::{DatastoreId, VmId};
use crate::ids::HostId;
use core::time::Duration;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What an isolated host does with its VMs (`ClusterDasVmSettingsIsolationResponse`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IsolationResponse {
    /// `none`, shown as "Disabled" since vSphere 6.0: the VMs keep running. The default since
    /// vSphere 5.0 [API-ISO][DD-RVM].
    LeavePoweredOn,
    /// `powerOff`: a hard power-off, then the master restarts the VM elsewhere.
    PowerOffAndRestart,
    /// `shutdown`: a guest shutdown through VMware Tools, a power-off if it has not finished after
    /// `isolation_shutdown_timeout`, then the master restarts the VM elsewhere.
    ShutdownAndRestart,
}

/// Restart priority (`ClusterDasVmSettingsRestartPriority`). Ordered: a greater value restarts first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPriority {
    /// Never restarted by HA, and no isolation response is applied to it [DOC-PRIO].
    Disabled,
    /// vSphere 6.5 and later.
    Lowest,
    Low,
    /// The default [DOC-PRIO].
    Medium,
    High,
    /// vSphere 6.5 and later.
    Highest,
}

/// VMCP's answer to an all-paths-down condition (`vmStorageProtectionForAPD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApdResponse {
    /// No event, no action. The default [TF-VMCP].
    Disabled,
    /// An event only.
    Warning,
    /// Power off and restart only when another host is known to be able to restart the VM (here: this
    /// host is in network contact with a master that is not itself, or is a master with a connected
    /// slave that reaches the datastore).
    RestartConservative,
    /// Power off and restart even when that is unknown (a partition), at the risk that nobody can.
    RestartAggressive,
}

/// VMCP's answer to permanent device loss (`vmStorageProtectionForPDL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PdlResponse {
    /// The default [TF-VMCP].
    Disabled,
    Warning,
    /// Power off at once and restart on a host that reaches the datastore [DD-RVM].
    PowerOffAndRestart,
}

/// What VMCP does when an APD clears after its timeout but before the VM was terminated
/// (`vmReactionOnAPDCleared`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApdClearedReaction {
    /// The default for the cluster setting (`ClusterVmComponentProtectionSettings`).
    None,
    /// Reset the VM, whose guest may have given up on its I/O.
    Reset,
}

/// VM Component Protection (vSphere 6.0 and later).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmcpConfig {
    /// Default `Disabled` [TF-VMCP]; the cluster-level switch `vmComponentProtecting` is also off by
    /// default.
    pub apd_response: ApdResponse,
    /// Default `Disabled` [TF-VMCP].
    pub pdl_response: PdlResponse,
    /// ESXi's `Misc.APDTimeout`: from the start of an APD until the device is declared APD timed out.
    /// Default 140 s (domain.md 4.1; [DD-RVM]).
    pub apd_timeout: Duration,
    /// "Delay for VM failover for APD" (`vmTerminateDelayForAPDSec`), counted from the APD timeout.
    /// Default 180 s [DD-RVM][TF-VMCP]; so a VM is terminated at T+320 s.
    pub apd_failover_delay: Duration,
    /// Default `None`.
    pub apd_cleared: ApdClearedReaction,
}

impl Default for VmcpConfig {
    fn default() -> Self {
        VmcpConfig {
            apd_response: ApdResponse::Disabled,
            pdl_response: PdlResponse::Disabled,
            apd_timeout: Duration::from_secs(140),
            apd_failover_delay: Duration::from_secs(180),
            apd_cleared: ApdClearedReaction::None,
        }
    }
}

/// VM Monitoring (`ClusterVmToolsMonitoringSettings`): reset a VM whose VMware Tools heartbeat
/// stopped and which did no I/O.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmMonitoringConfig {
    /// Off by default: `vmMonitoring` defaults to `vmMonitoringDisabled` [API-TOOLS][DD-VMM].
    pub enabled: bool,
    /// No Tools heartbeat for this long declares the VM failed. Default 30 s [API-TOOLS]. Real hosts
    /// add hostd's yellow/red delays (a failure is declared 81 to 119 s after the heartbeats stop,
    /// [DD-VMM]); the model declares it exactly `failure_interval` after the stop.
    pub failure_interval: Duration,
    /// No reset within this long of a power-on (or of the previous reset: H:). Default 120 s
    /// [API-TOOLS].
    pub min_uptime: Duration,
    /// At most this many resets within `max_resets_window`. Default 3 [API-TOOLS].
    pub max_resets: u32,
    /// `None` counts resets forever (`maxFailureWindow` -1, the API default) [API-TOOLS]; the "high"
    /// preset uses 1 h.
    pub max_resets_window: Option<Duration>,
    /// A reset also needs no disk or network I/O for this long (`das.iostatsInterval`). Default 120 s
    /// [DD-VMM].
    pub io_stats_interval: Duration,
}

impl Default for VmMonitoringConfig {
    fn default() -> Self {
        VmMonitoringConfig {
            enabled: false,
            failure_interval: Duration::from_secs(30),
            min_uptime: Duration::from_secs(120),
            max_resets: 3,
            max_resets_window: None,
            io_stats_interval: Duration::from_secs(120),
        }
    }
}

impl VmMonitoringConfig {
    /// The UI's "High" sensitivity, enabled: 30 s, 3 resets per hour [DD-VMM].
    pub fn high() -> Self {
        Self::preset(30, 3_600)
    }

    /// The UI's "Medium" sensitivity, enabled: 60 s, 3 resets per 24 hours [DD-VMM].
    pub fn medium() -> Self {
        Self::preset(60, 86_400)
    }

    /// The UI's "Low" sensitivity, enabled: 120 s, 3 resets per 7 days [DD-VMM].
    pub fn low() -> Self {
        Self::preset(120, 7 * 86_400)
    }

    fn preset(failure_secs: u64, window_secs: u64) -> Self {
        VmMonitoringConfig {
            enabled: true,
            failure_interval: Duration::from_secs(failure_secs),
            max_resets_window: Some(Duration::from_secs(window_secs)),
            ..VmMonitoringConfig::default()
        }
    }
}

/// The cluster-wide HA settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaConfig {
    /// Agents exchange network heartbeats this often (master to every slave, slave to its master).
    /// Default 1 s [DD-FC]. Every timer of the agent is checked on this tick.
    pub heartbeat_interval: Duration,
    /// A slave that has heard nothing from its master for this long enters the election. Default
    /// 10 s [DD-RVM] ("T10s – Slave enters election state").
    pub election_wait: Duration,
    /// How long an election runs before the best claim wins. Default 15 s [DD-FC] ("approximately 15
    /// seconds"; domain.md 6.1 says 10-15 s).
    pub election_duration: Duration,
    /// A master starts pinging its isolation addresses once it has heard no agent for this long.
    /// Default 2 s (H:; [DD-RVM] puts the ping at the master's T0).
    pub master_silence: Duration,
    /// Isolation is declared when no isolation address answered for this long after the first ping.
    /// Default 5 s [DD-RVM] (slave: ping at T+25 s, isolated at T+30 s; master: T0 and T+5 s).
    pub isolation_ping_window: Duration,
    /// Isolation addresses pinged: the default gateway (`das.usedefaultisolationaddress`, true by
    /// default) plus `das.isolationaddress0..9` (none by default) [DD-RVM]. Default 1.
    pub isolation_addresses: u8,
    /// The isolation response starts this long after isolation is declared
    /// (`das.config.fdm.isolationPolicyDelaySec`). Default 30 s, and a smaller value counts as 30 s
    /// [API-ISO][DD-RVM]; the model takes the value as given.
    pub isolation_policy_delay: Duration,
    /// The cluster's default isolation response. Default `LeavePoweredOn` [API-ISO].
    pub isolation_response: IsolationResponse,
    /// A guest shutdown that has not finished after this long is followed by a power-off
    /// (`das.isolationshutdowntimeout`). Default 300 s [API-ISO][DD-RVM].
    pub isolation_shutdown_timeout: Duration,
    /// Heartbeat datastores per host (`das.heartbeatdsperhost`). Default 2, at most 5 [DOC-DSHB]. The
    /// model picks a host's lowest-numbered datastores (vCenter picks datastores that most hosts
    /// share, on different LUNs).
    pub heartbeat_datastores_per_host: u8,
    /// How often a host rewrites its heartbeat file. Default 5 s ([DD-FC]: NFS heartbeat files are
    /// written every 5 s; VMFS heartbeat regions are updated at least as often, H:).
    pub datastore_heartbeat_interval: Duration,
    /// A master starts reading a silent slave's heartbeat files after this long. Default 3 s [DD-RVM].
    pub datastore_check_after: Duration,
    /// A silent slave is declared unreachable after this long. Default 10 s [DD-RVM].
    pub unreachable_after: Duration,
    /// A silent slave is classified (failed, isolated, partitioned) after this long when it has
    /// heartbeat datastores. Default 18 s [DD-RVM].
    pub declare_with_datastores_after: Duration,
    /// The same without heartbeat datastores (`heartbeat_datastores_per_host` 0). Default 15 s
    /// [DD-RVM].
    pub declare_without_datastores_after: Duration,
    /// A host whose datastore heartbeat did not advance for this long counts as failed. Default 15 s
    /// (the master's datastore monitoring window, [DD-RVM]).
    pub datastore_heartbeat_window: Duration,
    /// The master's lease on a datastore's `protectedlist` file: another master can lock it once the
    /// holder stopped renewing for this long. Default 16 s (H:; VMFS lock leases are of this order,
    /// not verified).
    pub protected_list_lease: Duration,
    /// Restart attempts in all, the first included (`das.maxvmrestartcount`). Default 5 [DD-RVM].
    pub max_restart_attempts: u32,
    /// The wait before the first retry; each later wait doubles it, so attempts fall at T0, T+2, T+6,
    /// T+14 and T+30 min, counted from the failure of the previous attempt. Default 2 min [DD-RVM].
    pub restart_retry_delay: Duration,
    /// HA refuses a restart that would break a VM-VM anti-affinity rule
    /// (`das.respectVmVmAntiAffinityRules`). Default false ([DD-RVM], vSphere 5.5/6.0; later releases
    /// may default to true: not verified).
    pub respect_vm_anti_affinity: bool,
    pub vm_monitoring: VmMonitoringConfig,
    pub vmcp: VmcpConfig,
}

impl Default for HaConfig {
    fn default() -> Self {
        HaConfig {
            heartbeat_interval: Duration::from_secs(1),
            election_wait: Duration::from_secs(10),
            election_duration: Duration::from_secs(15),
            master_silence: Duration::from_secs(2),
            isolation_ping_window: Duration::from_secs(5),
            isolation_addresses: 1,
            isolation_policy_delay: Duration::from_secs(30),
            isolation_response: IsolationResponse::LeavePoweredOn,
            isolation_shutdown_timeout: Duration::from_secs(300),
            heartbeat_datastores_per_host: 2,
            datastore_heartbeat_interval: Duration::from_secs(5),
            datastore_check_after: Duration::from_secs(3),
            unreachable_after: Duration::from_secs(10),
            declare_with_datastores_after: Duration::from_secs(18),
            declare_without_datastores_after: Duration::from_secs(15),
            datastore_heartbeat_window: Duration::from_secs(15),
            protected_list_lease: Duration::from_secs(16),
            max_restart_attempts: 5,
            restart_retry_delay: Duration::from_secs(120),
            respect_vm_anti_affinity: false,
            vm_monitoring: VmMonitoringConfig::default(),
            vmcp: VmcpConfig::default(),
        }
    }
}

impl HaConfig {
    /// When a silent slave is classified: 18 s with heartbeat datastores, 15 s without [DD-RVM].
    pub fn declare_after(&self) -> Duration {
        if self.heartbeat_datastores_per_host == 0 {
            self.declare_without_datastores_after
        } else {
            self.declare_with_datastores_after
        }
    }

    /// The wait after failed attempt `attempt` (1-based) before the next: 2, 4, 8, 16 min.
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        self.restart_retry_delay.saturating_mul(1 << attempt.saturating_sub(1).min(16))
    }
}

/// One VM as HA protects it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmSpec {
    /// The datastore holding its `.vmx` (its "home"): HA restarts it only where this is reachable.
    pub home: DatastoreId,
    /// Default `Medium` [DOC-PRIO].
    pub restart_priority: RestartPriority,
    /// `None` uses the cluster's `isolation_response`.
    pub isolation_response: Option<IsolationResponse>,
    /// `None` uses the cluster's VM monitoring settings.
    pub monitoring: Option<VmMonitoringConfig>,
}

impl VmSpec {
    /// A VM on `home` with every per-VM setting left to the cluster.
    pub fn on(home: DatastoreId) -> Self {
        VmSpec { home, restart_priority: RestartPriority::Medium, isolation_response: None, monitoring: None }
    }
}

/// A DRS rule that HA may have to obey when it restarts VMs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlacementRule {
    /// VM-VM anti-affinity: no two of these VMs on one host. HA obeys it only with
    /// `respect_vm_anti_affinity`.
    AntiAffinity { vms: BTreeSet<VmId> },
    /// VM-Host "must run on" rule: these VMs run only on these hosts. HA always obeys it (the VM's
    /// compatibility set includes required VM-Host rules, vSphere 6.0 Availability, "Factors
    /// Considered for Virtual Machine Restarts").
    MustRunOn { vms: BTreeSet<VmId>, hosts: BTreeSet<HostId> },
}

/// The cluster as vCenter pushed it to every agent (`clusterconfig`, `vmmetadata`, `hostlist`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSpec {
    /// Every host of the cluster and the datastores it mounts.
    pub hosts: BTreeMap<HostId, BTreeSet<DatastoreId>>,
    pub vms: BTreeMap<VmId, VmSpec>,
    pub rules: Vec<PlacementRule>,
}

impl ClusterSpec {
    /// The datastores `host` writes its heartbeat file to: its lowest-numbered `per_host` datastores.
    pub fn heartbeat_datastores(&self, host: HostId, per_host: u8) -> Vec<DatastoreId> {
        self.hosts
            .get(&host)
            .map(|stores| stores.iter().copied().take(usize::from(per_host)).collect())
            .unwrap_or_default()
    }
}

/// A live migration's switchover.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmotionConfig {
    /// How long the VM is stunned while the last dirty pages move. Default 500 ms, vMotion's
    /// switchover time goal [KB-VMOTION]; a busy VM or a slow network makes it longer (domain.md 6.2:
    /// long enough to miss a guest cluster's heartbeats).
    pub stun: Duration,
    /// How far the guest clock is stepped when the VM resumes: it stood still during the stun and
    /// VMware Tools time sync catches it up. `None` steps by the stun (H:).
    pub clock_step: Option<Duration>,
}

impl Default for VmotionConfig {
    fn default() -> Self {
        VmotionConfig { stun: Duration::from_millis(500), clock_step: None }
    }
}
