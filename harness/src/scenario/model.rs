//! The validated scenario: plain Rust values with every default filled in and every cross-reference
//! checked, so the world builder can trust it without checking again.

use super::fault::FaultSpec;
use crate::verdict::ViolationKind;
pub use emulators::iscsi::{InitiatorConfig, MpioPolicy, NoPathRetry};
pub use emulators::san::{ArrayConfig, Enumeration, WriteCache};
pub use failover::{ClusterSettings, DiskFencing, FailoverPolicy, HubConfig, MountDial, QuorumModel};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A whole scenario, as loaded from one file.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The file it came from, for messages and replay commands.
    pub path: PathBuf,
    /// The SHA-256 of the file's text, in hex: which version of the file a report is about.
    pub sha256: String,
    pub name: String,
    /// Free text; empty when the file gives none.
    pub description: String,
    pub tier: Tier,
    /// Simulated length of the run, measured from time zero.
    pub duration: Duration,
    /// The one violation a hazard scenario must provoke; `None` means the run must pass.
    pub expect: Option<ViolationKind>,
    /// Violations that do not fail this scenario (for example `rto` in a scenario about safety only).
    pub tolerate: Vec<ViolationKind>,
    pub cluster: ClusterSpec,
    pub networks: Vec<NetworkDef>,
    pub hosts: Vec<HostDef>,
    pub databases: Vec<DatabaseDef>,
    /// The SAN array and the hosts' iSCSI initiators; `Some` exactly when a host has role `array`.
    pub storage: Option<StorageSpec>,
    /// The array's LUNs, in file order.
    pub luns: Vec<LunDef>,
    /// The hubs' transport settings, the failover logic's own type (`failover::HubConfig`).
    pub transport: HubConfig,
    pub workload: WorkloadSpec,
    /// The fixed fault schedule, sorted by `at`; faults at the same instant keep their file order.
    pub faults: Vec<FaultSpec>,
    pub nemesis: Option<NemesisSpec>,
    /// vSphere HA over the `hypervisor` hosts; `Some` exactly when a host has role `hypervisor`.
    pub ha: Option<HaSpec>,
    pub checks: CheckSpec,
}

/// vSphere HA over the scenario's hypervisor hosts, in the emulator's own types: `HostId(i)` is the
/// scenario's `i`-th host (a hypervisor host), `VmId(i)` the `i`-th host when it is a VM, and
/// `DatastoreId(i)` the `i`-th name of `datastores`.
#[derive(Clone, Debug, PartialEq)]
pub struct HaSpec {
    /// The cluster's HA settings, `emulators::hypervisor::HaConfig` with its sourced defaults.
    pub config: emulators::hypervisor::HaConfig,
    /// Every hypervisor host with the datastores it mounts, every VM and the rules.
    pub cluster: emulators::hypervisor::ClusterSpec,
    /// The network the agents talk on.
    pub management_network: String,
    /// The host the agents ping to tell isolation from a partition; `None`: the management
    /// network's default gateway.
    pub isolation_address: Option<String>,
    /// Datastore names, indexed by `DatastoreId`.
    pub datastores: Vec<String>,
    /// For each datastore, the `[[lun]]` (by index) it is a VMFS volume on: one whose name is a LUN's
    /// name. `None`: reachable from every running hypervisor host (no array behind it).
    pub datastore_luns: Vec<Option<usize>>,
}

impl HaSpec {
    /// The hypervisor hosts (by world host index, in file order) VM `vm` may run on: all of them, or
    /// those its VM-Host "must" rules allow.
    pub fn allowed_hosts(&self, vm: usize) -> Vec<usize> {
        use emulators::hypervisor::PlacementRule;
        let id = emulators::hypervisor::VmId(vm as u32);
        self.cluster
            .hosts
            .keys()
            .filter(|host| {
                self.cluster.rules.iter().all(|rule| match rule {
                    PlacementRule::MustRunOn { vms, hosts } => !vms.contains(&id) || hosts.contains(host),
                    PlacementRule::AntiAffinity { .. } => true,
                })
            })
            .map(|host| host.0 as usize)
            .collect()
    }
}

impl Scenario {
    pub fn host(&self, name: &str) -> Option<&HostDef> {
        self.hosts.iter().find(|host| host.name == name)
    }

    pub fn network(&self, name: &str) -> Option<&NetworkDef> {
        self.networks.iter().find(|network| network.name == name)
    }

    pub fn database(&self, name: &str) -> Option<&DatabaseDef> {
        self.databases.iter().find(|database| database.name == name)
    }

    pub fn lun(&self, name: &str) -> Option<&LunDef> {
        self.luns.iter().find(|lun| lun.name == name)
    }

    /// Hosts of one role, in file order.
    pub fn hosts_with_role(&self, role: HostRole) -> impl Iterator<Item = &HostDef> {
        self.hosts.iter().filter(move |host| host.role == role)
    }

    /// Every switch named by some network, in order of first appearance.
    pub fn switches(&self) -> Vec<&str> {
        let mut switches: Vec<&str> = Vec::new();
        for switch in self.networks.iter().filter_map(|network| network.spec.switch.as_deref()) {
            if !switches.contains(&switch) {
                switches.push(switch);
            }
        }
        switches
    }
}

/// How often a scenario runs. Only `hazard` changes validation: a hazard must declare `expect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// Every commit, inside `cargo test`.
    Fast,
    Slow,
    Nightly,
    /// Unsafe-by-design configurations that drill must catch.
    Hazard,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Fast => "fast",
            Tier::Slow => "slow",
            Tier::Nightly => "nightly",
            Tier::Hazard => "hazard",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The cluster under test and its settings; the field comments give the source of each default.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterSpec {
    pub kind: ClusterKind,
    /// The host serving the file share witness; `Some` exactly when `settings.quorum` counts one.
    pub witness: Option<String>,
    /// The LUN holding the disk witness; `Some` exactly when `settings.quorum` is node-and-disk-majority.
    pub disk_witness: Option<String>,
    /// Time to mount a database; the default online time of `database` resources.
    pub mount_time: Duration,
    /// Default online time of every other resource.
    pub resource_online_time: Duration,
    /// The failover logic's own settings type, with its own documented defaults
    /// (`failover::ClusterSettings::default`): what validation fills, what the nodes run with.
    pub settings: ClusterSettings,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterKind {
    /// Exchange 2007 Cluster Continuous Replication: two mailbox nodes, log shipping, a witness.
    Ccr,
    /// Exchange Single Copy Cluster: one copy of each database on a shared LUN, fenced with SCSI-3
    /// persistent reservations.
    Scc,
}

/// A network segment: its name and kind, and the fabric's own settings for it (defaults by kind from
/// `emulators::fabric::NetworkSpec`, overridden by the file).
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkDef {
    pub name: String,
    pub kind: NetworkKind,
    pub spec: emulators::fabric::NetworkSpec,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkKind {
    Lan,
    Wan,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HostDef {
    pub name: String,
    pub role: HostRole,
    /// Networks this host has a NIC on, one NIC per network, in file order.
    pub networks: Vec<String>,
    pub rack: Option<String>,
    /// Offset of the host's clock from true time at time zero, in nanoseconds; may be negative.
    pub clock_offset_nanos: i64,
    /// Clock drift in parts per million; positive runs fast.
    pub clock_drift_ppm: f64,
    /// Each NIC's receive ring, which holds packets while the host is paused.
    pub receive_ring: emulators::host::RingConfig,
    /// Mailbox hosts: how long after each boot the node sends its first heartbeat (every later one
    /// follows at `heartbeat_interval`); below the interval. Default 0 (every node beats at boot, so
    /// nodes booted together beat in lockstep). Zero on other hosts, which send no heartbeats.
    pub heartbeat_phase: Duration,
    /// The hypervisor host this host is a VM on at time zero (HA may restart it elsewhere); `None`
    /// for a physical host.
    pub runs_on: Option<String>,
    /// A VM's guest boot: from each power-on to its software (node, hub, witness share) running;
    /// meanwhile it is on (HA sees it, it holds its VMDK lock) and answers nothing. Zero for a
    /// physical host, which boots at once. Default for a VM: `DEFAULT_VM_BOOT_TIME`.
    pub boot_time: Duration,
}

/// How long a VM's guest takes from power-on to its cluster service running (H:: no source: a
/// Windows Server guest's firmware, OS boot to the service control manager, and the Cluster service,
/// an automatic service started after its dependencies, together typically within a minute on
/// SAN-backed storage; not measured).
pub const DEFAULT_VM_BOOT_TIME: Duration = Duration::from_secs(60);

impl HostDef {
    /// The shared LUN this host is presented, if any, other than the HA `datastores` (VMFS volumes
    /// of the hypervisor hosts, not disks of the guest): a VM with one cannot be snapshotted (vSphere
    /// refuses a VM with a raw device mapping or a SCSI controller in bus sharing,
    /// `SnapshotIncompatibleDeviceInVm`, [API-SNAP] in docs/hypervisor.md).
    pub fn shared_lun<'l>(&self, luns: &'l [LunDef], datastores: &[String]) -> Option<&'l LunDef> {
        luns.iter().find(|lun| lun.present_to.contains(&self.name) && !datastores.contains(&lun.name))
    }

    /// Whether a `snapshot` may target this host: a mailbox VM (drill models a cluster node's disks,
    /// no other host's) with no shared LUN.
    pub fn may_snapshot(&self, luns: &[LunDef], datastores: &[String]) -> bool {
        self.role == HostRole::Mailbox
            && self.runs_on.is_some()
            && self.shared_lun(luns, datastores).is_none()
    }

    pub fn has_nic_on(&self, network: &str) -> bool {
        self.networks.iter().any(|name| name == network)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostRole {
    /// A cluster node holding database copies.
    Mailbox,
    /// A hub transport server: submits client mail and keeps the transport dumpster.
    Hub,
    /// A stand-alone file server for the file share witness.
    Witness,
    /// The SAN array: controller `i` is the port on the host's `i`-th network.
    Array,
    /// A domain controller serving the zone of the cluster's names (AD-integrated DNS): it answers
    /// the hubs' lookups and takes the nodes' registrations over the network, as its run state allows.
    /// At most one; without one, DNS is outside the model and answers at once.
    Dns,
    /// An ESXi host running VMs (hosts with `runs_on` naming it) under vSphere HA (`[ha]`).
    Hypervisor,
}

impl HostRole {
    pub fn as_str(self) -> &'static str {
        match self {
            HostRole::Mailbox => "mailbox",
            HostRole::Hub => "hub",
            HostRole::Witness => "witness",
            HostRole::Array => "array",
            HostRole::Dns => "dns",
            HostRole::Hypervisor => "hypervisor",
        }
    }
}

/// A database (an Exchange 2007 storage group) and its resource group.
#[derive(Clone, Debug, PartialEq)]
pub struct DatabaseDef {
    pub name: String,
    /// Mailbox hosts holding a copy, in activation preference order; the first starts active.
    pub copies: Vec<String>,
    /// The resource group in file order; `start_order` gives the dependency order.
    pub resources: Vec<ResourceDef>,
    /// The TTL the group's network name is registered with in DNS each time it comes online (WSFC
    /// `HostRecordTTL`); resolvers, the hubs' included, keep a cached answer that long. Default 300 s,
    /// Exchange's standby guidance (domain.md pattern 10; WSFC's own default is 1200 s).
    pub name_ttl: Duration,
}

impl DatabaseDef {
    /// The resources in an order that starts every dependency first (stop in reverse). Among
    /// resources that are ready together, file order decides, so the order is deterministic.
    pub fn start_order(&self) -> Vec<&ResourceDef> {
        let mut ordered: Vec<&ResourceDef> = Vec::with_capacity(self.resources.len());
        while ordered.len() < self.resources.len() {
            let ready = self.resources.iter().find(|resource| {
                !ordered.iter().any(|done| done.name == resource.name)
                    && resource
                        .depends_on
                        .iter()
                        .all(|dependency| ordered.iter().any(|done| &done.name == dependency))
            });
            match ready {
                Some(resource) => ordered.push(resource),
                // Validation rejects cycles, so this only guards against a hand-built value.
                None => break,
            }
        }
        ordered
    }

    /// The LUNs of the group's physical-disk resources, in file order (empty for a CCR database).
    pub fn disks(&self) -> Vec<&str> {
        self.resources.iter().filter_map(|resource| resource.lun.as_deref()).collect()
    }

    /// The one resource of kind `database`.
    pub fn database_resource(&self) -> Option<&ResourceDef> {
        self.resources.iter().find(|resource| resource.kind == ResourceKind::Database)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResourceDef {
    pub name: String,
    pub kind: ResourceKind,
    /// Names of resources in the same database that must be online first.
    pub depends_on: Vec<String>,
    /// `None` means the cluster default: `mount_time` for databases, `resource_online_time` otherwise.
    pub online_time: Option<Duration>,
    /// For `physical-disk`: the LUN it brings online.
    pub lun: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    Ip,
    NetworkName,
    Database,
    Generic,
    /// A shared LUN: online means presented to this node and won in persistent-reservation arbitration.
    PhysicalDisk,
}

/// The SAN array and every host's iSCSI initiator and multipath settings (domain.md sections 4 and 5).
#[derive(Clone, Debug, PartialEq)]
pub struct StorageSpec {
    /// The host with role `array`.
    pub array: String,
    /// The array's iSCSI networks, one per controller, in the array host's NIC order.
    pub networks: Vec<String>,
    /// The array's timing and cache settings, the emulator's own type (its defaults and sources are
    /// in `emulators::san::ArrayConfig`); `controllers` is the number of `networks`.
    pub array_config: ArrayConfig,
    /// Every mailbox host's iSCSI initiator and multipath settings (`emulators::iscsi::InitiatorConfig`).
    pub initiator: InitiatorConfig,
    /// Whether the nodes register their persistent-reservation keys with APTPL (activate persist
    /// through power loss, SPC-3 5.6.4), so registrations and the reservation survive a controller
    /// reboot. Default false, as Windows registers (domain.md 2.1: without APTPL an array reboot
    /// silently unfences everyone).
    pub aptpl: bool,
}

/// One LUN on the array.
#[derive(Clone, Debug, PartialEq)]
pub struct LunDef {
    pub name: String,
    /// Capacity in 512-byte blocks; default 2^48.
    pub blocks: u64,
    pub read_only: bool,
    /// Hosts the LUN is masked (presented) to at time zero; default every mailbox host that may own
    /// it. A host outside the list that needs the LUN maps it first (`mapping_delay`, then a probe).
    pub present_to: Vec<String>,
    /// How the VMs of a guest cluster attach the LUN (meaningless for physical hosts, which always
    /// see the array's own SCSI device).
    pub attach: DiskAttach,
}

/// How a guest cluster's VMs attach a shared LUN (issue 9, item 4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiskAttach {
    /// A physical-compatibility RDM (or a clustered VMDK): the VMkernel passes every SCSI command,
    /// SCSI-3 persistent reservations included, through to the array. What VMware supports for a
    /// WSFC shared disk ([KB-WSFC] in docs/hypervisor.md), and what a guest on a physical host sees.
    #[default]
    PhysicalRdm,
    /// A shared VMDK on a VMFS datastore opened with the multi-writer flag: the VMkernel emulates the
    /// SCSI device and does not implement PERSISTENT RESERVE IN/OUT, so the guest's PR commands fail
    /// with CHECK CONDITION, ILLEGAL REQUEST ([KB-MW] in docs/hypervisor.md). Not supported for WSFC.
    MultiWriter,
}

/// The client mail load.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadSpec {
    pub rate_per_second: f64,
    pub message_size_bytes: u64,
    pub start: Duration,
    /// When submission stops; the file's default is `duration - checks.quiesce`, filled in here.
    pub stop: Duration,
}

/// When a scheduled fault fires.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultTrigger {
    #[default]
    At,
    /// At the target's first write to a shared disk after `at`; that write is held by the fault (a
    /// `freeze` then resumes with it queued, which is how a zombie owner is built).
    NextWrite,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    PowerOff,
    PowerOn,
    PowerCycle,
    NicDown,
    NicUp,
    LinkCut,
    LinkHeal,
    LinkLoss,
    LatencySpike,
    Mtu,
    SwitchDown,
    SwitchUp,
    WitnessDown,
    WitnessUp,
    WitnessSlow,
    Freeze,
    Resume,
    ClockStep,
    ResourceCrash,
    Move,
    CorruptLog,
    HealAll,
    ControllerReboot,
    LunOffline,
    LunOnline,
    LunLatency,
    RackPowerOff,
    RackPowerOn,
    /// A VM's live migration: paused for the stun, resumed on another hypervisor host.
    Vmotion,
    /// A snapshot of a cluster node's VM: its disks, and optionally its memory.
    Snapshot,
    /// A VM reverted to its latest snapshot: left off, or resumed from the snapshot's memory.
    SnapshotRevert,
}

impl FaultKind {
    pub const ALL: [FaultKind; 31] = [
        FaultKind::PowerOff,
        FaultKind::PowerOn,
        FaultKind::PowerCycle,
        FaultKind::NicDown,
        FaultKind::NicUp,
        FaultKind::LinkCut,
        FaultKind::LinkHeal,
        FaultKind::LinkLoss,
        FaultKind::LatencySpike,
        FaultKind::Mtu,
        FaultKind::SwitchDown,
        FaultKind::SwitchUp,
        FaultKind::WitnessDown,
        FaultKind::WitnessUp,
        FaultKind::WitnessSlow,
        FaultKind::Freeze,
        FaultKind::Resume,
        FaultKind::ClockStep,
        FaultKind::ResourceCrash,
        FaultKind::Move,
        FaultKind::CorruptLog,
        FaultKind::HealAll,
        FaultKind::ControllerReboot,
        FaultKind::LunOffline,
        FaultKind::LunOnline,
        FaultKind::LunLatency,
        FaultKind::RackPowerOff,
        FaultKind::RackPowerOn,
        FaultKind::Vmotion,
        FaultKind::Snapshot,
        FaultKind::SnapshotRevert,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::PowerOff => "power-off",
            FaultKind::PowerOn => "power-on",
            FaultKind::PowerCycle => "power-cycle",
            FaultKind::NicDown => "nic-down",
            FaultKind::NicUp => "nic-up",
            FaultKind::LinkCut => "link-cut",
            FaultKind::LinkHeal => "link-heal",
            FaultKind::LinkLoss => "link-loss",
            FaultKind::LatencySpike => "latency-spike",
            FaultKind::Mtu => "mtu",
            FaultKind::SwitchDown => "switch-down",
            FaultKind::SwitchUp => "switch-up",
            FaultKind::WitnessDown => "witness-down",
            FaultKind::WitnessUp => "witness-up",
            FaultKind::WitnessSlow => "witness-slow",
            FaultKind::Freeze => "freeze",
            FaultKind::Resume => "resume",
            FaultKind::ClockStep => "clock-step",
            FaultKind::ResourceCrash => "resource-crash",
            FaultKind::Move => "move",
            FaultKind::CorruptLog => "corrupt-log",
            FaultKind::HealAll => "heal-all",
            FaultKind::ControllerReboot => "controller-reboot",
            FaultKind::LunOffline => "lun-offline",
            FaultKind::LunOnline => "lun-online",
            FaultKind::LunLatency => "lun-latency",
            FaultKind::RackPowerOff => "rack-power-off",
            FaultKind::RackPowerOn => "rack-power-on",
            FaultKind::Vmotion => "vmotion",
            FaultKind::Snapshot => "snapshot",
            FaultKind::SnapshotRevert => "snapshot-revert",
        }
    }

    /// Whether the kind has an inverse, so it may take an auto-heal `duration`: power-off (power-on),
    /// nic-down (nic-up), link-cut (link-heal), link-loss, latency-spike and mtu (the network's own
    /// loss, latency or MTU again), switch-down (switch-up), witness-down and witness-slow
    /// (witness-up), freeze (resume), lun-offline (lun-online) and lun-latency (no extra latency). A
    /// step, a crash, a move, a reboot, a vMotion or a heal has nothing to undo. rack-power-off heals
    /// by rack-power-on.
    pub fn has_inverse(self) -> bool {
        matches!(
            self,
            FaultKind::PowerOff
                | FaultKind::RackPowerOff
                | FaultKind::NicDown
                | FaultKind::LinkCut
                | FaultKind::LinkLoss
                | FaultKind::LatencySpike
                | FaultKind::Mtu
                | FaultKind::SwitchDown
                | FaultKind::WitnessDown
                | FaultKind::WitnessSlow
                | FaultKind::Freeze
                | FaultKind::LunOffline
                | FaultKind::LunLatency
        )
    }

    /// Whether the kind only repairs, which is allowed during the final quiesce window.
    pub fn is_heal(self) -> bool {
        matches!(
            self,
            FaultKind::PowerOn
                | FaultKind::RackPowerOn
                | FaultKind::NicUp
                | FaultKind::LinkHeal
                | FaultKind::SwitchUp
                | FaultKind::WitnessUp
                | FaultKind::Resume
                | FaultKind::HealAll
                | FaultKind::LunOnline
        )
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a fault hits. Role targets are resolved by the world at the instant the fault fires.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// The node that owns the first database at fault time.
    Active,
    /// The first copy of the first database, in activation preference order, that is not active.
    Passive,
    /// The host serving the file share witness.
    Witness,
    /// The node that owns the named database at fault time.
    OwnerOf(String),
    /// The first non-owner copy of the named database, in activation preference order.
    PassiveOf(String),
    /// A host by name.
    Host(String),
    /// A switch by name (only `switch-*` faults).
    Switch(String),
    /// Everything (only `heal-all`).
    All,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Active => f.write_str("active"),
            Target::Passive => f.write_str("passive"),
            Target::Witness => f.write_str("witness"),
            Target::OwnerOf(database) => write!(f, "owner-of:{database}"),
            Target::PassiveOf(database) => write!(f, "passive-of:{database}"),
            Target::Host(host) => f.write_str(host),
            Target::Switch(switch) => write!(f, "switch:{switch}"),
            Target::All => f.write_str("all"),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkDirection {
    OneWay,
    #[default]
    Both,
}

/// The kind-specific magnitude of a fault.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultValue {
    /// `link-loss`: chance that each packet is dropped, 0 to 1.
    Probability(f64),
    /// `latency-spike`: the added one-way latency; `witness-slow`: the added delay per lock request.
    Duration(Duration),
    /// `mtu`: the new MTU of the target's NIC.
    Bytes(u32),
    /// `clock-step`: how far the target's clock jumps, in nanoseconds; negative steps back.
    SignedDuration(i64),
}

/// Random faults drawn from the run's seed, in one of two forms. `kinds` (the first form) draws
/// every listed kind on every seed, with a fixed rate. `families` is a swarm nemesis (Groce et al.,
/// "Swarm testing", ISSTA 2012): each seed enables a random subset of the families and draws its own
/// rate, fault lengths and declared settings within the ranges, keeps its faults within `tolerance`,
/// and heals everything at `stop`. Exactly one of `kinds` and `families` is non-empty.
#[derive(Clone, Debug, PartialEq)]
pub struct NemesisSpec {
    pub kinds: Vec<NemesisKind>,
    pub families: Vec<NemesisFamily>,
    /// How many families one seed enables, `min..=max` (default `1..=families.len()`).
    pub enabled: (usize, usize),
    /// Mean time between faults (exponentially distributed), default 60 s; drawn per seed within the
    /// range for a swarm (the `kinds` form takes one value).
    pub mean_interval: DurationRange,
    /// Upper bound on how long one fault lasts before it heals, default 30 s; drawn per seed like
    /// `mean_interval`.
    pub max_fault_duration: DurationRange,
    /// Default: the workload's start.
    pub start: Duration,
    /// Default: `duration - checks.quiesce`, filled in here. A swarm heals everything here.
    pub stop: Duration,
    /// Hosts the nemesis may hit; default every mailbox host.
    pub targets: Vec<String>,
    /// What the cluster is designed to survive at once; a swarm never draws beyond it.
    pub tolerance: Tolerance,
    /// Cluster and transport settings a swarm draws per seed.
    pub settings: SettingRanges,
}

impl NemesisSpec {
    /// Whether this is a swarm nemesis (the `families` form).
    pub fn is_swarm(&self) -> bool {
        !self.families.is_empty()
    }
}

/// A closed range of durations; `min == max` for a fixed value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurationRange {
    pub min: Duration,
    pub max: Duration,
}

impl DurationRange {
    pub fn fixed(value: Duration) -> DurationRange {
        DurationRange { min: value, max: value }
    }
}

/// What the cluster is designed to survive at once. A node is down while it is off, paused, or cut
/// off from every other cluster member (mailbox nodes and the witness) on every cluster network; the
/// file share witness is down while its share is down, its host is off or paused, or it is cut off
/// from every mailbox node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tolerance {
    /// Mailbox nodes down at one instant, default 1.
    pub max_nodes_down: usize,
    /// Whether the witness may be down while a node is down, default false.
    pub witness_with_node: bool,
}

impl Default for Tolerance {
    fn default() -> Tolerance {
        Tolerance { max_nodes_down: 1, witness_with_node: false }
    }
}

/// Settings a swarm draws per seed, each within its declared range; `None` (or empty) keeps the
/// scenario's own value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SettingRanges {
    /// `[cluster] heartbeat_threshold`, missed heartbeats.
    pub heartbeat_threshold: Option<(u32, u32)>,
    /// `[cluster] resource_online_time`, the online time of every resource without its own.
    pub resource_online_time: Option<DurationRange>,
    /// `[cluster] mount_time`, the online time of the database resource.
    pub mount_time: Option<DurationRange>,
    /// `[cluster] mount_dial`, one of these.
    pub mount_dial: Vec<MountDial>,
    /// `[transport] dumpster_size`, bytes.
    pub dumpster_size_bytes: Option<(u64, u64)>,
    /// `clock_drift_ppm` of every host, drawn per host.
    pub clock_drift: Option<DriftRange>,
}

/// A range of clock drift, in whole parts per million, and the hosts that each draw one within it
/// (every host of the scenario, in file order).
#[derive(Clone, Debug, PartialEq)]
pub struct DriftRange {
    pub min: i32,
    pub max: i32,
    pub hosts: Vec<String>,
}

impl SettingRanges {
    pub fn is_empty(&self) -> bool {
        self.heartbeat_threshold.is_none()
            && self.resource_online_time.is_none()
            && self.mount_time.is_none()
            && self.mount_dial.is_empty()
            && self.dumpster_size_bytes.is_none()
            && self.clock_drift.is_none()
    }
}

/// A family of faults a swarm nemesis draws from; each draw is an ordinary typed [`super::Fault`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NemesisFamily {
    /// `power-off` of a target host, healed by `power-on`.
    Power,
    /// `rack-power-off` of a target host's rack.
    RackPower,
    /// `freeze` of a target host (a VM pause), healed by `resume`.
    Freeze,
    /// `nic-down` of one of a target host's NICs.
    Nic,
    /// `link-cut` both ways between a target host and a peer on a shared network.
    LinkCut,
    /// `link-cut` one way.
    OneWayCut,
    /// A flapping link: three to six short `link-cut`s of one link in a row.
    LinkFlap,
    /// `link-loss` on a link, probability 5 % to 50 %.
    LinkLoss,
    /// `latency-spike` on a target host's network, 10 ms to 2 s.
    Latency,
    /// `mtu` of a target host's NIC, below the network's.
    Mtu,
    /// `switch-down` of a switch some network names.
    Switch,
    /// `witness-down` of the file share witness.
    WitnessDown,
    /// A witness restart: `witness-down` for 100 ms to 2 s (its lock table is lost).
    WitnessRestart,
    /// `witness-slow`, 1 s to 10 s added to every request.
    WitnessSlow,
    /// `clock-step` of a target host, uniform in ±30 s.
    ClockStep,
    /// `resource-crash` of a database's resource on its owner.
    ResourceCrash,
    /// An operator's `move` of a database to one of its copies.
    Move,
    /// `corrupt-log` of a database's next shipped log (CCR only).
    CorruptLog,
    /// `controller-reboot` of the array.
    ControllerReboot,
    /// `lun-offline` of a LUN.
    LunOffline,
    /// `lun-latency` of a LUN, 10 ms to 5 s.
    LunLatency,
    /// A storage path flap: `link-cut` between a mailbox target and the array on an iSCSI network.
    PathFlap,
    /// The DNS server's host paused or off.
    Dns,
    /// `power-off` of a hypervisor host (its VMs with it), healed by `power-on`.
    HostFailure,
    /// `nic-down` of a hypervisor host's NIC on the HA management network.
    HostIsolation,
    /// The HA management network split: `link-cut`s between a random group of hypervisor hosts and
    /// the rest.
    ManagementPartition,
    /// A `vmotion` of a VM, its stun 100 ms to 10 s.
    Stun,
    /// All paths down: a hypervisor host's links to the array cut on every storage network (its
    /// datastores, datastore heartbeats and VMs' disks with them).
    Apd,
    /// A `snapshot` of a guest node's VM (with or without memory), then its `snapshot-revert`.
    SnapshotRevert,
}

impl NemesisFamily {
    pub const ALL: [NemesisFamily; 29] = [
        NemesisFamily::Power,
        NemesisFamily::RackPower,
        NemesisFamily::Freeze,
        NemesisFamily::Nic,
        NemesisFamily::LinkCut,
        NemesisFamily::OneWayCut,
        NemesisFamily::LinkFlap,
        NemesisFamily::LinkLoss,
        NemesisFamily::Latency,
        NemesisFamily::Mtu,
        NemesisFamily::Switch,
        NemesisFamily::WitnessDown,
        NemesisFamily::WitnessRestart,
        NemesisFamily::WitnessSlow,
        NemesisFamily::ClockStep,
        NemesisFamily::ResourceCrash,
        NemesisFamily::Move,
        NemesisFamily::CorruptLog,
        NemesisFamily::ControllerReboot,
        NemesisFamily::LunOffline,
        NemesisFamily::LunLatency,
        NemesisFamily::PathFlap,
        NemesisFamily::Dns,
        NemesisFamily::HostFailure,
        NemesisFamily::HostIsolation,
        NemesisFamily::ManagementPartition,
        NemesisFamily::Stun,
        NemesisFamily::Apd,
        NemesisFamily::SnapshotRevert,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NemesisFamily::Power => "power",
            NemesisFamily::RackPower => "rack-power",
            NemesisFamily::Freeze => "freeze",
            NemesisFamily::Nic => "nic",
            NemesisFamily::LinkCut => "link-cut",
            NemesisFamily::OneWayCut => "one-way-cut",
            NemesisFamily::LinkFlap => "link-flap",
            NemesisFamily::LinkLoss => "link-loss",
            NemesisFamily::Latency => "latency",
            NemesisFamily::Mtu => "mtu",
            NemesisFamily::Switch => "switch",
            NemesisFamily::WitnessDown => "witness-down",
            NemesisFamily::WitnessRestart => "witness-restart",
            NemesisFamily::WitnessSlow => "witness-slow",
            NemesisFamily::ClockStep => "clock-step",
            NemesisFamily::ResourceCrash => "resource-crash",
            NemesisFamily::Move => "move",
            NemesisFamily::CorruptLog => "corrupt-log",
            NemesisFamily::ControllerReboot => "controller-reboot",
            NemesisFamily::LunOffline => "lun-offline",
            NemesisFamily::LunLatency => "lun-latency",
            NemesisFamily::PathFlap => "path-flap",
            NemesisFamily::Dns => "dns",
            NemesisFamily::HostFailure => "host-failure",
            NemesisFamily::HostIsolation => "host-isolation",
            NemesisFamily::ManagementPartition => "management-partition",
            NemesisFamily::Stun => "stun",
            NemesisFamily::Apd => "apd",
            NemesisFamily::SnapshotRevert => "snapshot-revert",
        }
    }

    /// Whether the family hits the hypervisor layer (its hosts, VMs, management network or their
    /// paths to the array) rather than the nemesis's `targets`.
    pub fn hits_the_hypervisor(self) -> bool {
        matches!(
            self,
            NemesisFamily::HostFailure
                | NemesisFamily::HostIsolation
                | NemesisFamily::ManagementPartition
                | NemesisFamily::Stun
                | NemesisFamily::Apd
                | NemesisFamily::SnapshotRevert
        )
    }

    /// The fault kind a draw of this family injects against a nemesis target, if it hits one.
    pub fn target_kind(self) -> Option<FaultKind> {
        match self {
            NemesisFamily::Power => Some(FaultKind::PowerOff),
            NemesisFamily::Freeze => Some(FaultKind::Freeze),
            NemesisFamily::Nic => Some(FaultKind::NicDown),
            NemesisFamily::LinkCut
            | NemesisFamily::OneWayCut
            | NemesisFamily::LinkFlap
            | NemesisFamily::PathFlap => Some(FaultKind::LinkCut),
            NemesisFamily::LinkLoss => Some(FaultKind::LinkLoss),
            NemesisFamily::Latency => Some(FaultKind::LatencySpike),
            NemesisFamily::Mtu => Some(FaultKind::Mtu),
            NemesisFamily::ClockStep => Some(FaultKind::ClockStep),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NemesisKind {
    PowerCycle,
    NicFlap,
    LinkCut,
    OneWayCut,
    WitnessDown,
    Freeze,
    ClockStep,
    ResourceCrash,
}

impl NemesisKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NemesisKind::PowerCycle => "power-cycle",
            NemesisKind::NicFlap => "nic-flap",
            NemesisKind::LinkCut => "link-cut",
            NemesisKind::OneWayCut => "one-way-cut",
            NemesisKind::WitnessDown => "witness-down",
            NemesisKind::Freeze => "freeze",
            NemesisKind::ClockStep => "clock-step",
            NemesisKind::ResourceCrash => "resource-crash",
        }
    }
}

/// What the checkers hold the run to.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckSpec {
    /// Recovery time objective: the longest acceptable outage after one fault.
    pub rto: Duration,
    /// Acknowledged messages that may be missing after heal and quiesce.
    pub max_lost_acked: u64,
    /// The most failovers the run may decide after the initial activation (every `failover` record
    /// whose reason is not `initial`); `None`, the default, bounds nothing.
    pub max_failovers: Option<u64>,
    /// After the final heal the cluster must converge within this long.
    pub liveness_bound: Duration,
    /// Fault-free time at the end of the run before loss and liveness are judged.
    pub quiesce: Duration,
    /// A window in which the service is expected to be down, so the outage is not held against the RTO.
    pub expected_outage: Option<OutageWindow>,
    /// What the run must reach at least once (`reached = [...]`), in the order the file names them.
    pub reached: Vec<Reachable>,
}

/// A reachability assertion: something a scenario claims its run makes happen at least once, judged
/// from the history's ground truth (`check/reach.rs`). A pass that never reached what the scenario is
/// about proves nothing, so an assertion that never held is an `unreached` violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reachable {
    /// A `failover` decision whose reason is not `initial`.
    Failover,
    /// The array refused a write with RESERVATION CONFLICT from a nexus an earlier preemption removed:
    /// a fenced node's write reached the array and was refused.
    FencedWriteRefused,
    /// A hub resubmitted at least one message from its transport dumpster.
    DumpsterResubmitted,
    /// A copy mounted knowing it lacked logs (`mounted` with `lost_logs` above zero).
    LossyMount,
    /// A node stopped serving on its own: dismounted because it lost quorum or found itself fenced.
    SelfFenced,
    /// A host's multipath layer marked one of its storage paths down.
    PathFailed,
    /// The file share witness granted its lock to another host than the one it last granted it to.
    WitnessChangedHands,
    /// The array preempted a reservation key (a challenger took a disk from its holder).
    ReservationPreempted,
    /// A node found its reservation gone (an array reboot without APTPL) and registered and reserved
    /// again (disk arbitration's `reasserted` step).
    ReservationReasserted,
    /// A node kept a mount through a freeze of its host and dismounted after it resumed.
    FrozenOwnerSteppedDown,
    /// vSphere HA restarted a VM (an `ha` record `restart-succeeded`).
    HaRestarted,
    /// A VM finished a vMotion: it resumed on another hypervisor host (a `vm-migrated` record).
    VmMigrated,
    /// A node that won the disk witness found its epoch ledger ahead of what it knew and did not count
    /// it (disk arbitration's `behind-ledger` step): a partition in time across a disk witness.
    WitnessLedgerAhead,
    /// A VM that HA restarted booted and its node joined a quorate cluster while another node held a
    /// mount and it held none: the restarted node rejoined as passive.
    RestartedRejoinedPassive,
    /// Two HA agents were masters at once (a master per partition of the management network).
    HaMastersSplit,
    /// A hypervisor host lost all paths to a datastore on the array (an `ha` record `datastore` with
    /// state `all-paths-down`).
    DatastoreApd,
    /// VM component protection powered a VM off to restart it elsewhere (an `ha` record
    /// `vmcp-terminated`).
    VmcpTerminated,
    /// A VM was reverted to a snapshot (a `vm-reverted` record).
    VmReverted,
    /// A reverted VM's node caught up as a passive copy: after its `vm-reverted`, it replayed a log of
    /// an epoch another node mounted, before mounting anything itself.
    RevertedNodeCaughtUp,
}

impl Reachable {
    pub fn as_str(self) -> &'static str {
        match self {
            Reachable::Failover => "failover",
            Reachable::FencedWriteRefused => "fenced-write-refused",
            Reachable::DumpsterResubmitted => "dumpster-resubmitted",
            Reachable::LossyMount => "lossy-mount",
            Reachable::SelfFenced => "self-fenced",
            Reachable::PathFailed => "path-failed",
            Reachable::WitnessChangedHands => "witness-changed-hands",
            Reachable::ReservationPreempted => "reservation-preempted",
            Reachable::ReservationReasserted => "reservation-reasserted",
            Reachable::FrozenOwnerSteppedDown => "frozen-owner-stepped-down",
            Reachable::HaRestarted => "ha-restarted",
            Reachable::VmMigrated => "vm-migrated",
            Reachable::VmReverted => "vm-reverted",
            Reachable::RevertedNodeCaughtUp => "reverted-node-caught-up",
            Reachable::WitnessLedgerAhead => "witness-ledger-ahead",
            Reachable::RestartedRejoinedPassive => "restarted-rejoined-passive",
            Reachable::HaMastersSplit => "ha-masters-split",
            Reachable::DatastoreApd => "datastore-apd",
            Reachable::VmcpTerminated => "vmcp-terminated",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutageWindow {
    pub from: Duration,
    /// `None` means until the end of the run.
    pub to: Option<Duration>,
}
