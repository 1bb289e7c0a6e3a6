//! The array's parameters and the LUNs it is built with.

use crate::ids::{HostId, LunId};
use core::time::Duration;
use serde::{Deserialize, Serialize};

/// How the array answers the probes of a rescan (REPORT LUNS, then INQUIRY and READ CAPACITY per LUN).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Enumeration {
    /// One probe at a time for the whole array: discovering n LUNs takes n probes back to back
    /// (domain.md 4.1, H: "rescan latency = sum over LUNs").
    Serial,
    /// Every probe runs at once: each LUN is visible one probe after its mapping takes effect.
    Parallel,
}

/// What an acknowledged write means for durability (domain.md 4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteCache {
    /// The ack comes from battery-backed cache: acknowledged means durable.
    BatteryBacked,
    /// The ack comes from volatile cache: a write is durable only with FUA, after SYNCHRONIZE CACHE, or
    /// once the cache destages it; power loss drops the rest.
    Volatile,
}

/// The array's timing and cache parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayConfig {
    /// Target ports, numbered `ControllerId(0)` upwards. Default 2 (a dual-controller array, one per
    /// iSCSI network; H:).
    pub controllers: u8,
    /// How rescans are probed. Default `Serial` (domain.md 4.1, H: serial per target).
    pub enumeration: Enumeration,
    /// How long one LUN's probe takes. Default 100 ms (domain.md 4.1, H:).
    pub probe_delay: Duration,
    /// How long after the array command a masking change takes effect. Default 2 s (domain.md 4.1:
    /// 1-5 s).
    pub mapping_delay: Duration,
    /// Service time of a READ. Default 1 ms (H:).
    pub read_service_time: Duration,
    /// Service time of a WRITE or SYNCHRONIZE CACHE. Default 1 ms (H:).
    pub write_service_time: Duration,
    /// Service time of PERSISTENT RESERVE OUT/IN, TEST UNIT READY and INQUIRY. Default 1 ms (H:). The
    /// latency fault does not apply: it models a slow data path (busy spindles, a degraded RAID group),
    /// and reservations are kept in controller memory.
    pub pr_service_time: Duration,
    /// What an acknowledged write means. Default `BatteryBacked` (domain.md 4.3: arrays ack from
    /// battery-backed cache).
    pub write_cache: WriteCache,
    /// With a volatile cache, how long a dirty block stays cached before the array writes it back.
    /// Default 5 s (H:).
    pub destage_interval: Duration,
    /// How long the controllers take to come back after a reboot or power-on; no command is answered
    /// meanwhile. Default 60 s (H:).
    pub controller_boot_time: Duration,
}

impl Default for ArrayConfig {
    fn default() -> Self {
        ArrayConfig {
            controllers: 2,
            enumeration: Enumeration::Serial,
            probe_delay: Duration::from_millis(100),
            mapping_delay: Duration::from_secs(2),
            read_service_time: Duration::from_millis(1),
            write_service_time: Duration::from_millis(1),
            pr_service_time: Duration::from_millis(1),
            write_cache: WriteCache::BatteryBacked,
            destage_interval: Duration::from_secs(5),
            controller_boot_time: Duration::from_secs(60),
        }
    }
}

/// One logical unit as the scenario declares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LunConfig {
    pub id: LunId,
    /// The name the scenario and the history use (`quorum`, `sg1-data`).
    pub name: String,
    /// Capacity in 512-byte blocks; an access beyond it is ILLEGAL REQUEST.
    pub blocks: u64,
    /// Write-disabled from the start (an SRDF R2 or SnapMirror destination): writes get DATA PROTECT.
    pub read_only: bool,
    /// Hosts the LUN is masked to. The lab was running before time zero, so each of them has already
    /// discovered it.
    pub masked_to: Vec<HostId>,
}
