//! The file model: the scenario exactly as written, before defaults and cross-checks.
//!
//! Every struct denies unknown keys, so a misspelt key is an error rather than a silently ignored
//! setting. Values that a later check may reject are kept `Spanned`, so that check can point at them.
//! Quantities parse inside their own `Deserialize` (see `units`), which locates their errors for free.

use super::model::{
    ClusterKind, DiskFencing, Enumeration, FailoverPolicy, FaultKind, FaultTrigger, HostRole, LinkDirection,
    MountDial, MpioPolicy, NemesisFamily, NemesisKind, NetworkKind, QuorumModel, Reachable, ResourceKind,
    Tier, WriteCache,
};
use super::units::{BandwidthText, DurationText, RangeText, SignedDurationText, SizeText};
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioFile {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: String,
    pub tier: Option<Spanned<Tier>>,
    pub duration: Spanned<DurationText>,
    pub expect: Option<Spanned<String>>,
    #[serde(default)]
    pub tolerate: Vec<Spanned<String>>,
    pub cluster: Option<ClusterFile>,
    #[serde(default)]
    pub network: Vec<NetworkFile>,
    #[serde(default)]
    pub host: Vec<HostFile>,
    #[serde(default)]
    pub database: Vec<DatabaseFile>,
    pub storage: Option<StorageFile>,
    #[serde(default)]
    pub lun: Vec<LunFile>,
    pub transport: Option<TransportFile>,
    pub workload: Option<WorkloadFile>,
    #[serde(default)]
    pub fault: Vec<FaultFile>,
    pub nemesis: Option<NemesisFile>,
    /// vSphere HA over the `hypervisor` hosts.
    pub ha: Option<HaFile>,
    pub checks: ChecksFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HaFile {
    pub management_network: Option<Spanned<String>>,
    /// A host whose answer to a ping ends an isolation; without one, the management network's default
    /// gateway (reachable while the NIC and its switch are up).
    pub isolation_address: Option<Spanned<String>>,
    pub isolation_response: Option<emulators::hypervisor::IsolationResponse>,
    pub isolation_policy_delay: Option<Spanned<DurationText>>,
    pub respect_vm_anti_affinity: Option<bool>,
    pub datastores: Option<Spanned<Vec<Spanned<String>>>>,
    /// VM component protection (`vmStorageProtectionForAPD`, `vmTerminateDelayForAPDSec`,
    /// `vmStorageProtectionForPDL`).
    pub apd_response: Option<emulators::hypervisor::ApdResponse>,
    pub apd_failover_delay: Option<Spanned<DurationText>>,
    pub pdl_response: Option<emulators::hypervisor::PdlResponse>,
    #[serde(default)]
    pub rule: Vec<HaRuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HaRuleFile {
    pub kind: Spanned<HaRuleKind>,
    pub vms: Spanned<Vec<Spanned<String>>>,
    pub hosts: Option<Spanned<Vec<Spanned<String>>>>,
}

/// The DRS rules HA obeys on restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum HaRuleKind {
    /// VM-Host "must run on": the VMs run only on `hosts`.
    MustRunOn,
    /// VM-VM anti-affinity: no two of the VMs on one host.
    AntiAffinity,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClusterFile {
    pub kind: Option<Spanned<ClusterKind>>,
    pub quorum: Option<Spanned<QuorumModel>>,
    pub witness: Option<Spanned<String>>,
    pub heartbeat_interval: Option<Spanned<DurationText>>,
    pub heartbeat_threshold: Option<Spanned<u32>>,
    pub failover: Option<FailoverPolicy>,
    pub mount_dial: Option<MountDial>,
    pub local_restart_attempts: Option<u32>,
    pub witness_arbitration_delay: Option<Spanned<DurationText>>,
    pub witness_lease: Option<Spanned<DurationText>>,
    pub takeover_margin: Option<Spanned<DurationText>>,
    pub inspect_attempts: Option<Spanned<u32>>,
    pub log_size: Option<Spanned<SizeText>>,
    pub log_roll_idle: Option<Spanned<DurationText>>,
    pub replay_time_per_log: Option<Spanned<DurationText>>,
    pub mount_time: Option<Spanned<DurationText>>,
    pub resource_online_time: Option<Spanned<DurationText>>,
    pub health_check_interval: Option<Spanned<DurationText>>,
    pub disk_witness: Option<Spanned<String>>,
    pub disk_fencing: Option<Spanned<DiskFencing>>,
    pub arbitration_delay: Option<Spanned<DurationText>>,
    pub defense_interval: Option<Spanned<DurationText>>,
    pub data_path_check_interval: Option<Spanned<DurationText>>,
    pub data_path_timeout: Option<Spanned<DurationText>>,
    pub storage_request_timeout: Option<Spanned<DurationText>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StorageFile {
    pub array: Option<Spanned<String>>,
    pub enumeration: Option<Enumeration>,
    pub probe_delay: Option<Spanned<DurationText>>,
    pub mapping_delay: Option<Spanned<DurationText>>,
    pub read_service_time: Option<Spanned<DurationText>>,
    pub write_service_time: Option<Spanned<DurationText>>,
    pub write_cache: Option<WriteCache>,
    pub controller_boot_time: Option<Spanned<DurationText>>,
    pub mpio_policy: Option<MpioPolicy>,
    /// `"fail"`, `"queue"` (forever) or a number of path-checker polls to queue for.
    pub no_path_retry: Option<Spanned<toml::Value>>,
    pub polling_interval: Option<Spanned<DurationText>>,
    pub noop_out_interval: Option<Spanned<DurationText>>,
    pub noop_out_timeout: Option<Spanned<DurationText>>,
    pub replacement_timeout: Option<Spanned<DurationText>>,
    pub command_timeout: Option<Spanned<DurationText>>,
    pub pdo_remove_period: Option<Spanned<DurationText>>,
    pub retry_count: Option<Spanned<u32>>,
    pub retry_interval: Option<Spanned<DurationText>>,
    pub aptpl: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LunFile {
    pub name: Spanned<String>,
    pub blocks: Option<Spanned<u64>>,
    #[serde(default)]
    pub read_only: bool,
    pub present_to: Option<Spanned<Vec<Spanned<String>>>>,
    /// How the VMs of a guest cluster attach the LUN: `physical-rdm` (the default) or `multi-writer`.
    pub attach: Option<Spanned<crate::scenario::model::DiskAttach>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NetworkFile {
    pub name: Spanned<String>,
    pub kind: Option<NetworkKind>,
    pub latency: Option<Spanned<DurationText>>,
    pub jitter: Option<Spanned<DurationText>>,
    pub bandwidth: Option<Spanned<BandwidthText>>,
    pub mtu_bytes: Option<Spanned<u32>>,
    pub loss_probability: Option<Spanned<f64>>,
    pub switch: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HostFile {
    pub name: Spanned<String>,
    pub role: Spanned<HostRole>,
    #[serde(default)]
    pub networks: Vec<Spanned<String>>,
    pub rack: Option<Spanned<String>>,
    pub clock_offset: Option<Spanned<SignedDurationText>>,
    pub clock_drift_ppm: Option<Spanned<f64>>,
    /// Receive descriptors per NIC, held while the host is paused.
    pub receive_ring_packets: Option<Spanned<i64>>,
    pub receive_ring_overflow: Option<emulators::host::RingOverflow>,
    pub heartbeat_phase: Option<Spanned<DurationText>>,
    /// Makes this host a VM on the named `hypervisor` host.
    pub runs_on: Option<Spanned<String>>,
    /// A VM's HA restart priority.
    pub restart_priority: Option<Spanned<emulators::hypervisor::RestartPriority>>,
    /// A VM's guest boot: from power-on to its cluster service running.
    pub boot_time: Option<Spanned<DurationText>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatabaseFile {
    pub name: Spanned<String>,
    pub copies: Spanned<Vec<Spanned<String>>>,
    /// LUNs of a shared-disk (SCC) group; the default resource chain starts with one disk per LUN.
    pub disks: Option<Spanned<Vec<Spanned<String>>>>,
    /// The TTL the database's network name is registered with in DNS.
    pub name_ttl: Option<Spanned<DurationText>>,
    #[serde(default)]
    pub resource: Vec<ResourceFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourceFile {
    pub name: Spanned<String>,
    pub kind: Spanned<ResourceKind>,
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    pub online_time: Option<Spanned<DurationText>>,
    pub lun: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransportFile {
    pub dumpster: Option<bool>,
    pub dumpster_size: Option<Spanned<SizeText>>,
    pub dumpster_time: Option<Spanned<DurationText>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkloadFile {
    pub rate_per_second: Option<Spanned<f64>>,
    pub message_size: Option<Spanned<SizeText>>,
    pub start: Option<Spanned<DurationText>>,
    pub stop: Option<Spanned<DurationText>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultFile {
    pub at: Spanned<DurationText>,
    pub kind: Spanned<FaultKind>,
    pub target: Option<Spanned<String>>,
    pub network: Option<Spanned<String>>,
    pub peer: Option<Spanned<String>>,
    pub direction: Option<Spanned<LinkDirection>>,
    pub duration: Option<Spanned<DurationText>>,
    pub value: Option<Spanned<toml::Value>>,
    pub database: Option<Spanned<String>>,
    pub resource: Option<Spanned<String>>,
    pub to: Option<Spanned<String>>,
    pub lun: Option<Spanned<String>>,
    pub trigger: Option<Spanned<FaultTrigger>>,
    /// `snapshot` only: whether the snapshot keeps the VM's memory.
    pub memory: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NemesisFile {
    /// The fixed-kinds form: every kind on every seed.
    pub kinds: Option<Spanned<Vec<Spanned<NemesisKind>>>>,
    /// The swarm form: a random subset of these families per seed.
    pub families: Option<Spanned<Vec<Spanned<NemesisFamily>>>>,
    pub enabled: Option<Spanned<RangeText<u32>>>,
    pub mean_interval: Option<Spanned<RangeText<DurationText>>>,
    pub max_fault_duration: Option<Spanned<RangeText<DurationText>>>,
    pub start: Option<Spanned<DurationText>>,
    pub stop: Option<Spanned<DurationText>>,
    pub targets: Option<Spanned<Vec<Spanned<String>>>>,
    pub tolerance: Option<Spanned<ToleranceFile>>,
    pub settings: Option<Spanned<SettingsFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToleranceFile {
    pub max_nodes_down: Option<Spanned<i64>>,
    pub witness_with_node: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsFile {
    pub heartbeat_threshold: Option<Spanned<RangeText<u32>>>,
    pub resource_online_time: Option<Spanned<RangeText<DurationText>>>,
    pub mount_time: Option<Spanned<RangeText<DurationText>>>,
    pub mount_dial: Option<Spanned<Vec<Spanned<MountDial>>>>,
    pub dumpster_size: Option<Spanned<RangeText<SizeText>>>,
    pub clock_drift_ppm: Option<Spanned<RangeText<i32>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChecksFile {
    pub rto: Spanned<DurationText>,
    pub max_lost_acked: Option<u64>,
    pub max_failovers: Option<u64>,
    pub liveness_bound: Option<Spanned<DurationText>>,
    pub quiesce: Option<Spanned<DurationText>>,
    pub expected_outage: Option<OutageFile>,
    #[serde(default)]
    pub reached: Vec<Spanned<Reachable>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutageFile {
    pub from: Spanned<DurationText>,
    pub to: Option<Spanned<DurationText>>,
}
