//! Cluster configuration as an administrator sets it, including settings known to be unsafe.
//!
//! Defaults come from `reference/domain.md` (WSFC 1000 ms x 5 heartbeats, FSW arbitration delay 6 s,
//! Exchange 2007 1 MB logs, 3 inspection attempts, mount dial GoodAvailability = 6 logs, transport
//! dumpster 18 MB / 7 days, LLR depth 10). Unsafe options stay settable on purpose: the hazard suite
//! proves drill catches them.

use crate::types::{DbId, HubId, LunId, NodeId, PathId};
use core::time::Duration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How votes are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuorumModel {
    /// Majority Node Set: a strict majority of the nodes. A two-node cluster cannot lose a node.
    NodeMajority,
    /// Node and File Share Majority: nodes plus one witness vote held as an exclusive lock.
    NodeAndFileShareMajority,
    /// Node and Disk Majority: nodes plus one witness vote held as the SCSI-3 persistent reservation on
    /// [`ClusterConfig::disk_witness`]. It needs PR: with [`DiskFencing::Disabled`] the vote is never
    /// counted, because nothing can arbitrate it.
    NodeAndDiskMajority,
    /// UNSAFE: every partition believes it may run. Kept so the hazard suite can prove the harm.
    Disabled,
}

/// Whether the cluster moves a failed owner's databases by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailoverPolicy {
    Automatic,
    /// Only an operator command activates another copy (LifeKeeper's single-comm-path advice).
    Manual,
}

/// How a node keeps other nodes off a shared disk it owns (domain.md 2.1 and 2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiskFencing {
    /// Register on every path, reserve type 5 (write exclusive, registrants only), challenge with
    /// PREEMPT AND ABORT and defend, so a deposed owner's queued writes die with its registration.
    PersistentReservation,
    /// UNSAFE: as above, but challenges with plain PREEMPT, which lets the victim's already accepted
    /// writes land after the new owner took over. Kept so the hazard suite can prove the harm.
    PreemptWithoutAbort,
    /// UNSAFE: no persistent reservation at all; any node that brings the disk online writes to it.
    Disabled,
}

/// `AutoDatabaseMountDial`: how many missing logs a lossy failover may accept before mounting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MountDial {
    Lossless,
    GoodAvailability,
    BestAvailability,
}

impl MountDial {
    /// The number of missing log generations the dial accepts (Exchange 2007 SP1 values).
    pub fn max_lost_logs(self) -> u64 {
        match self {
            MountDial::Lossless => 0,
            MountDial::GoodAvailability => 6,
            MountDial::BestAvailability => 12,
        }
    }
}

/// The kind of a cluster resource; it decides what bringing it online does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResourceKind {
    Ip,
    /// Registers the database's network name in DNS when it comes online.
    NetworkName,
    /// Mounts the database; exactly one per group.
    Database,
    /// A shared cluster disk (Single Copy Cluster): brought online by winning its persistent
    /// reservation. A group holding one is shared-disk and ships no logs.
    PhysicalDisk {
        lun: LunId,
    },
    Generic,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceConfig {
    pub name: String,
    pub kind: ResourceKind,
    /// Indexes into the group's resource list that must be online first.
    pub depends_on: Vec<usize>,
    pub online_time: Duration,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseConfig {
    pub id: DbId,
    pub name: String,
    /// Nodes holding a copy, in activation preference order; the first is the preferred owner.
    pub copies: Vec<NodeId>,
    /// The resource group, in any order; it is started in dependency order and stopped in reverse.
    pub resources: Vec<ResourceConfig>,
}

impl DatabaseConfig {
    /// The LUNs of the group's `PhysicalDisk` resources, in resource order.
    pub fn shared_disks(&self) -> Vec<LunId> {
        self.resources
            .iter()
            .filter_map(|resource| match resource.kind {
                ResourceKind::PhysicalDisk { lun } => Some(lun),
                _ => None,
            })
            .collect()
    }

    /// A group on shared disks (Single Copy Cluster) rather than replicated copies (CCR): `copies` are
    /// then only the possible owners, and the data lives on the array, not on any node.
    pub fn is_shared_disk(&self) -> bool {
        self.resources.iter().any(|resource| matches!(resource.kind, ResourceKind::PhysicalDisk { .. }))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterConfig {
    pub nodes: Vec<NodeId>,
    pub hubs: Vec<HubId>,
    /// The communication paths (networks) heartbeats are sent on.
    pub paths: Vec<PathId>,
    /// How long after booting each node sends its first heartbeat, so that nodes need not beat in
    /// lockstep; every later heartbeat follows at `heartbeat_interval`. A node not listed beats at once
    /// (see [`ClusterConfig::heartbeat_phase_of`]). Each phase must be below `heartbeat_interval`.
    pub heartbeat_phase: BTreeMap<NodeId, Duration>,
    /// Storage paths (I_T nexuses) each node has to the array; 0 for a cluster without shared disks.
    pub storage_paths: u8,
    /// The LUN whose persistent reservation is the witness vote under `NodeAndDiskMajority`.
    pub disk_witness: Option<LunId>,
    pub databases: Vec<DatabaseConfig>,
    /// What the administrator set, each with its documented default.
    pub settings: ClusterSettings,
}

/// The cluster's settings as an administrator sets them, including those known to be unsafe. The
/// defaults are `Default`, each with its source; scenario validation starts from them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterSettings {
    pub quorum: QuorumModel,
    /// `SameSubnetDelay`: time between heartbeats on each path.
    pub heartbeat_interval: Duration,
    /// `SameSubnetThreshold`: missed heartbeats before a path is down.
    pub heartbeat_threshold: u32,
    pub failover: FailoverPolicy,
    pub mount_dial: MountDial,
    /// Restarts on the same node before the group fails over (LifeKeeper local recovery).
    pub local_restart_attempts: u32,
    /// A node that does not hold the witness waits this long before trying to take it (FSW `ArbitrationDelay`).
    pub witness_arbitration_delay: Duration,
    /// How long a granted witness lock lasts without renewal (the share's session timeout).
    pub witness_lease: Duration,
    /// Safety margin added to every wait that protects against clock drift and message latency.
    pub takeover_margin: Duration,
    /// Copy-and-inspect attempts per log before the copy is declared failed (Exchange: 3).
    pub inspect_attempts: u32,
    pub log_size_bytes: u64,
    /// A partly filled log is closed after this long without writes, so idle databases still ship.
    pub log_roll_idle: Duration,
    pub replay_time_per_log: Duration,
    /// Lost Log Resilience depth: how many generations a diverged former active can roll back.
    pub llr_depth: u64,
    /// Time to reseed a copy from scratch when it cannot roll back incrementally.
    pub full_reseed_time: Duration,
    /// How long a node waits for a copy reply before asking again.
    pub copy_timeout: Duration,
    /// How long attempt-copy-last-logs waits for the old owner before giving up.
    pub acll_timeout: Duration,
    /// Extra history requested from the dumpster beyond the last copied log.
    pub resubmit_margin: Duration,
    pub health_check_interval: Duration,
    pub disk_fencing: DiskFencing,
    /// A challenger waits this long after preempting before checking it still holds the reservation;
    /// a live owner restores its own within it (WS2008 arbitration, domain.md 2.3: 6 s).
    pub arbitration_delay: Duration,
    /// The owner re-reads its reservations (and the disk witness holder its vote) this often; it must
    /// be well below `arbitration_delay` so a live owner always defends in time (domain.md 2.3: 3 s).
    pub defense_interval: Duration,
    /// Real I/O through the paths while a disk is online, so a dead path fails the group over.
    pub data_path_check_interval: Duration,
    /// A data-path check or write not answered in this long fails the disk.
    pub data_path_timeout: Duration,
    /// A persistent-reservation command not answered in this long counts as failed.
    pub storage_request_timeout: Duration,
}

impl Default for ClusterSettings {
    /// The documented defaults (`reference/domain.md`; "H:" marks a modelling choice where the domain
    /// gives no number).
    fn default() -> Self {
        ClusterSettings {
            quorum: QuorumModel::NodeAndFileShareMajority,
            // WSFC SameSubnetDelay 1000 ms and SameSubnetThreshold 5 (domain.md 1.1).
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_threshold: 5,
            failover: FailoverPolicy::Automatic,
            // Exchange 2007 AutoDatabaseMountDial default (domain.md 3.1).
            mount_dial: MountDial::GoodAvailability,
            // LifeKeeper local recovery (domain.md 1.3).
            local_restart_attempts: 3,
            // FSW ArbitrationDelay (domain.md 1.2).
            witness_arbitration_delay: Duration::from_secs(6),
            witness_lease: Duration::from_secs(10),
            takeover_margin: Duration::from_secs(2),
            // Exchange copy-and-inspect attempts (domain.md 3.1).
            inspect_attempts: 3,
            // Exchange 2007 transaction log generation size: 1 MB.
            log_size_bytes: 1 << 20,
            log_roll_idle: Duration::from_secs(90),
            replay_time_per_log: Duration::from_millis(50),
            // Lost Log Resilience depth (domain.md 3.1).
            llr_depth: 10,
            full_reseed_time: Duration::from_secs(120),
            copy_timeout: Duration::from_secs(10),
            acll_timeout: Duration::from_secs(10),
            resubmit_margin: Duration::from_secs(60),
            health_check_interval: Duration::from_secs(5),
            disk_fencing: DiskFencing::PersistentReservation,
            // WS2008 challenge/defense (domain.md 2.3).
            arbitration_delay: Duration::from_secs(6),
            defense_interval: Duration::from_secs(3),
            data_path_check_interval: Duration::from_secs(5),
            data_path_timeout: Duration::from_secs(15),
            storage_request_timeout: Duration::from_secs(10),
        }
    }
}

impl ClusterConfig {
    /// Interval x threshold: a path with no heartbeat for this long is down.
    pub fn failure_timeout(&self) -> Duration {
        self.settings.heartbeat_interval * self.settings.heartbeat_threshold
    }

    /// The offset of `node`'s first heartbeat after boot: its entry in `heartbeat_phase`, or zero.
    pub fn heartbeat_phase_of(&self, node: NodeId) -> Duration {
        self.heartbeat_phase.get(&node).copied().unwrap_or(Duration::ZERO)
    }

    pub fn total_votes(&self) -> u32 {
        let nodes = self.nodes.len() as u32;
        if self.uses_witness() { nodes + 1 } else { nodes }
    }

    /// Whether a witness (file share or disk) holds a vote.
    pub fn uses_witness(&self) -> bool {
        self.uses_file_share_witness() || self.uses_disk_witness()
    }

    pub fn uses_file_share_witness(&self) -> bool {
        self.settings.quorum == QuorumModel::NodeAndFileShareMajority
    }

    pub fn uses_disk_witness(&self) -> bool {
        self.settings.quorum == QuorumModel::NodeAndDiskMajority
    }

    pub fn database(&self, id: DbId) -> Option<&DatabaseConfig> {
        self.databases.iter().find(|db| db.id == id)
    }

    /// A two-node CCR cluster with a file share witness and the documented defaults; tests start here.
    pub fn ccr_two_node() -> ClusterConfig {
        ClusterConfig {
            nodes: vec![NodeId(0), NodeId(1)],
            hubs: vec![HubId(0)],
            paths: vec![PathId(0), PathId(1)],
            heartbeat_phase: BTreeMap::new(),
            storage_paths: 0,
            disk_witness: None,
            databases: vec![DatabaseConfig {
                id: DbId(0),
                name: "SG1".to_string(),
                copies: vec![NodeId(0), NodeId(1)],
                resources: default_resource_chain(Duration::from_secs(1), Duration::from_secs(2)),
            }],
            settings: ClusterSettings::default(),
        }
    }

    /// A two-node Single Copy Cluster: file share witness, two storage paths per node, and one storage
    /// group "SG1" on LUN 0 whose resources are disk -> IP -> name -> database; tests start here.
    pub fn scc_two_node() -> ClusterConfig {
        let mut config = ClusterConfig::ccr_two_node();
        config.storage_paths = 2;
        config.databases[0].resources =
            shared_disk_resource_chain(LunId(0), Duration::from_secs(1), Duration::from_secs(2));
        config
    }
}

/// The Exchange clustered mailbox server chain: IP address -> network name -> database.
pub fn default_resource_chain(online_time: Duration, mount_time: Duration) -> Vec<ResourceConfig> {
    vec![
        ResourceConfig { name: "ip".into(), kind: ResourceKind::Ip, depends_on: vec![], online_time },
        ResourceConfig {
            name: "name".into(),
            kind: ResourceKind::NetworkName,
            depends_on: vec![0],
            online_time,
        },
        ResourceConfig {
            name: "database".into(),
            kind: ResourceKind::Database,
            depends_on: vec![1],
            online_time: mount_time,
        },
    ]
}

/// The Exchange SCC clustered mailbox server chain: physical disk -> IP address -> network name ->
/// database (the database depends on the name, the name on the IP, the IP on the disk).
pub fn shared_disk_resource_chain(
    lun: LunId,
    online_time: Duration,
    mount_time: Duration,
) -> Vec<ResourceConfig> {
    let mut chain = vec![ResourceConfig {
        name: "disk".into(),
        kind: ResourceKind::PhysicalDisk { lun },
        depends_on: vec![],
        online_time,
    }];
    for mut resource in default_resource_chain(online_time, mount_time) {
        resource.depends_on = resource.depends_on.iter().map(|&dep| dep + 1).collect();
        if resource.depends_on.is_empty() {
            resource.depends_on.push(0);
        }
        chain.push(resource);
    }
    chain
}

/// Hub transport settings (the transport dumpster).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HubConfig {
    pub dumpster_enabled: bool,
    /// `MaxDumpsterSizePerStorageGroup`.
    pub dumpster_size_bytes: u64,
    /// `MaxDumpsterTime`.
    pub dumpster_time: Duration,
    /// How long the hub waits for a delivery acknowledgement before trying again.
    pub delivery_retry: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            dumpster_enabled: true,
            dumpster_size_bytes: 18 << 20,
            dumpster_time: Duration::from_secs(7 * 86_400),
            delivery_retry: Duration::from_secs(5),
        }
    }
}

/// Orders a resource group so every resource comes after what it depends on. Returns `None` if the
/// dependencies form a cycle (the scenario loader reports cycles before they ever reach here).
pub fn start_order(resources: &[ResourceConfig]) -> Option<Vec<usize>> {
    let mut order = Vec::with_capacity(resources.len());
    let mut placed = vec![false; resources.len()];
    while order.len() < resources.len() {
        let next = (0..resources.len()).find(|&index| {
            !placed[index]
                && resources[index].depends_on.iter().all(|&dep| placed.get(dep).copied().unwrap_or(false))
        })?;
        placed[next] = true;
        order.push(next);
    }
    Some(order)
}
