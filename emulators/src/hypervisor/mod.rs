//! vSphere HA (the Fault Domain Manager agent, FDM) on every hypervisor host: the layer that restarts
//! VMs after a host failure, and which, stacked under a guest cluster, can restart or keep running a VM
//! whose guest cluster already failed over (domain.md section 6, patterns 4 and 5 of section 7).
//!
//! One [`FdmAgent`] runs on each hypervisor host. Like the failover logic, it is sans-IO: every
//! stimulus arrives as an [`HaInput`] with the current time and every effect leaves as an
//! [`HaOutput`], in the order the world must carry it out. The agents talk to each other only through
//! [`Message`]s that the world carries over the management network, so a cut link partitions them
//! and a host that loses its management NIC isolates itself, with no knowledge of the fault here.
//! Shared storage is reached the same way: an agent asks for a [`StorageOp`] on a datastore, the world
//! applies it to the one [`HaStorage`] (the `.vSphere-HA` directories) if the host reaches that
//! datastore, and answers with an input.
//!
//! What each agent does (timeline in `docs/hypervisor.md`):
//! - heartbeats every second, master to slaves and slaves to their master; an election among agents
//!   that lost their master (most reachable datastores wins, then the highest host id);
//! - isolation detection: an agent that hears no other agent pings its isolation addresses and
//!   declares itself isolated when none answers; then, after the policy delay, its isolation
//!   response (leave powered on, power off, shut down);
//! - as master: datastore heartbeats tell a silent host's state apart (failed, isolated,
//!   partitioned), the `protectedlist` lock on each datastore says which master is responsible for
//!   its VMs, and VMs are restarted by priority, with retries, on hosts allowed by the rules;
//! - VM monitoring (reset on lost VMware Tools heartbeats without I/O) and VM component protection
//!   (APD and PDL) for the VMs on its own host.
//!
//! [`vmotion`] models a live migration's stun as steps the world carries out (pause, resume on the
//! target, step the guest clock).
//!
//! Nothing here reads a clock or draws a random number: an agent's timers run on its tick, every
//! `heartbeat_interval`, and the world wakes it at [`FdmAgent::next_deadline`].

mod agent;
mod config;
mod guest;
mod master;
mod placement;
mod storage;
#[cfg(test)]
mod tests;
pub mod vmotion;

pub use agent::FdmAgent;
pub use config::{
    ApdClearedReaction, ApdResponse, ClusterSpec, HaConfig, IsolationResponse, PdlResponse, PlacementRule,
    RestartPriority, VmMonitoringConfig, VmSpec, VmcpConfig, VmotionConfig,
};
pub use storage::{HaStorage, HostFile};

use crate::ids::HostId;
use kernel::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

pub use crate::ids::{DatastoreId, VmId};

/// An agent's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Looking for a master: claims go to every host until the election ends.
    Election,
    Slave {
        master: HostId,
    },
    Master,
}

/// Election rank: more reachable datastores first, then the higher host id. (Real FDM compares
/// managed object ids lexically, so "host-99" beats "host-100"; host ids here compare as numbers.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Goodness {
    pub datastores: u32,
    pub host: HostId,
}

/// What one agent sends another over the management network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Message {
    /// The network heartbeat, with what the master needs to know about the sender: its role, its
    /// rank, the VMs running on it and the datastores it reaches.
    Heartbeat { role: Role, goodness: Goodness, vms: BTreeSet<VmId>, datastores: BTreeSet<DatastoreId> },
    /// An election claim, sent to every host each tick while the election runs.
    Claim { goodness: Goodness },
    /// From the master: power `vm` on here (restart attempt `attempt`, 1-based).
    PowerOn { vm: VmId, attempt: u32 },
    /// To the master: the outcome of a `PowerOn`.
    PowerOnDone { vm: VmId, ok: bool },
    /// To the master: this host powered `vm` off for VM component protection; restart it elsewhere.
    RestartElsewhere { vm: VmId },
}

/// A datastore's state as this host sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatastoreState {
    Accessible,
    /// All paths down: transient or unknown (domain.md 4.1).
    AllPathsDown,
    /// Permanent device loss: the array said the device is gone.
    PermanentDeviceLoss,
}

/// A request on shared storage. The world applies it to [`HaStorage`] only if the host reaches
/// `datastore`, and answers reads and locks with the matching [`HaInput`] (an unreachable datastore
/// answers with `None`, `granted: false`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StorageOp {
    /// Rewrite this host's file (heartbeat and poweron file) on `datastore`. No answer.
    WriteHostFile { datastore: DatastoreId, file: HostFile },
    /// Read `host`'s file on `datastore`: answered with [`HaInput::HostFileRead`].
    ReadHostFile { datastore: DatastoreId, host: HostId },
    /// Take or renew the `protectedlist` lock of `datastore`: answered with
    /// [`HaInput::ProtectedListLocked`].
    LockProtectedList { datastore: DatastoreId },
    /// Give the lock up (a master that abdicates or isolates itself). No answer.
    ReleaseProtectedList { datastore: DatastoreId },
    /// Which master holds `datastore`'s lock: answered with [`HaInput::ProtectedListOwner`].
    ReadProtectedList { datastore: DatastoreId },
}

/// What happens to an agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HaInput {
    /// The time asked for with [`HaOutput::WakeAt`] (or later) has come.
    Wake,
    /// A message from another agent arrived.
    Received { from: HostId, message: Message },
    /// Isolation address `address` answered a ping.
    PingReply { address: u8 },
    /// The answer to [`StorageOp::ReadHostFile`]; `None` when the datastore is unreachable or the
    /// host never wrote there.
    HostFileRead { datastore: DatastoreId, host: HostId, file: Option<HostFile> },
    /// The answer to [`StorageOp::LockProtectedList`].
    ProtectedListLocked { datastore: DatastoreId, granted: bool },
    /// The answer to [`StorageOp::ReadProtectedList`]; `None` when unlocked or unreachable.
    ProtectedListOwner { datastore: DatastoreId, owner: Option<HostId> },
    /// This host's access to `datastore` changed.
    Datastore { datastore: DatastoreId, state: DatastoreState },
    /// `vm` now runs on this host (`on`: powered on by anyone, or arrived by vMotion) or no longer
    /// does (powered off, its guest finished shutting down, or it left by vMotion). Not needed for
    /// the agent's own `PowerOffVm`, which it already counts.
    VmPower { vm: VmId, on: bool },
    /// vCenter told every agent that an operator powered `vm` off (`protected: false`: HA leaves it
    /// off, as vSphere HA restarts only protected VMs) or on again (`protected: true`).
    Protection { vm: VmId, protected: bool },
    /// The answer to [`HaOutput::PowerOnVm`].
    PowerOnResult { vm: VmId, ok: bool },
    /// `vm`'s VMware Tools heartbeat started or stopped.
    ToolsHeartbeat { vm: VmId, beating: bool },
    /// `vm` started or stopped doing disk or network I/O.
    VmIo { vm: VmId, active: bool },
}

/// How a silent host was classified by a master (the table in [DD-FC], `docs/hypervisor.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostState {
    /// No network heartbeat and no datastore heartbeat: its VMs are restarted.
    Failed,
    /// No network heartbeat, datastore heartbeats, and its file says it is isolated: only the VMs
    /// its isolation response powered off are restarted.
    Isolated,
    /// No network heartbeat, datastore heartbeats, not isolated: it is in another partition, and its
    /// VMs are left alone.
    Partitioned,
}

/// What became of one VM when the isolation response ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResponseOutcome {
    /// Powered off, or shutdown started.
    Applied,
    /// The response is "leave powered on".
    LeftPoweredOn,
    /// Its restart priority is Disabled, so no response applies.
    RestartDisabled,
    /// Its home datastore is reachable and no master holds its `protectedlist`: nobody would restart
    /// it, so it stays on (re-checked every tick while isolated).
    NoMasterResponsible,
}

/// Why a restart waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartBlock {
    /// This master does not hold the `protectedlist` lock of the VM's home datastore.
    DatastoreNotOwned,
    /// No host in contact reaches the VM's home datastore and is allowed by its VM-Host rules.
    NoCompatibleHost,
    /// Every allowed host already runs a VM it must be kept apart from (and HA respects the rule).
    AntiAffinity,
}

/// Why VM monitoring did not reset a VM whose heartbeat stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResetSuppressed {
    /// The VM has not been up for `min_uptime`.
    MinUptime,
    /// The VM did disk or network I/O within `io_stats_interval`.
    IoActive,
    /// `max_resets` already happened within the window.
    MaxResets,
}

/// Which storage failure VMCP answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StorageFailure {
    AllPathsDown,
    PermanentDeviceLoss,
}

/// Typed ground truth for the history. Times are the instant of the call that emitted it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HaEvent {
    ElectionStarted,
    /// This agent ended an election or joined a master: `master` is the master it now follows
    /// (itself when it won).
    MasterElected {
        master: HostId,
    },
    /// This master saw a better master and became its slave.
    Abdicated {
        to: HostId,
    },
    /// A master heard nothing from `host` for `unreachable_after`.
    HostUnreachable {
        host: HostId,
    },
    /// A master classified a silent host, or changed its classification.
    HostDeclared {
        host: HostId,
        state: HostState,
    },
    /// A master hears `host` again.
    HostReconnected {
        host: HostId,
    },
    /// This agent heard no other agent and started pinging its isolation addresses.
    IsolationCheckStarted,
    IsolationDeclared,
    /// A ping was answered or another agent was heard again.
    IsolationEnded,
    IsolationResponse {
        vm: VmId,
        response: IsolationResponse,
        outcome: ResponseOutcome,
    },
    /// A guest shutdown did not finish within `isolation_shutdown_timeout`: powered off instead.
    ShutdownTimedOut {
        vm: VmId,
    },
    RestartAttempted {
        vm: VmId,
        host: HostId,
        attempt: u32,
    },
    RestartSucceeded {
        vm: VmId,
        host: HostId,
        attempt: u32,
    },
    RestartFailed {
        vm: VmId,
        host: HostId,
        attempt: u32,
    },
    /// `max_restart_attempts` failed: HA stops trying.
    RestartGaveUp {
        vm: VmId,
    },
    /// A restart waits (reported once per reason).
    RestartBlocked {
        vm: VmId,
        reason: RestartBlock,
    },
    /// A queued restart was dropped because the VM is running on a host in contact.
    RestartCancelled {
        vm: VmId,
        running_on: HostId,
    },
    VmMonitoringReset {
        vm: VmId,
        resets: u32,
    },
    VmMonitoringSuppressed {
        vm: VmId,
        reason: ResetSuppressed,
    },
    /// `Misc.APDTimeout` ran out on `datastore`.
    ApdTimeout {
        datastore: DatastoreId,
    },
    /// VMCP powered `vm` off to restart it elsewhere.
    VmcpTerminated {
        vm: VmId,
        datastore: DatastoreId,
        failure: StorageFailure,
    },
    /// VMCP would act but its setting is Warning, or Conservative without a known restarter.
    VmcpWarning {
        vm: VmId,
        datastore: DatastoreId,
        failure: StorageFailure,
    },
    /// The APD cleared after its timeout and VMCP reset `vm`.
    VmcpReset {
        vm: VmId,
        datastore: DatastoreId,
    },
}

/// What the agent asks of the world, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HaOutput {
    /// Carry `message` to the agent on `to` over the management network.
    Send { to: HostId, message: Message },
    /// Ping isolation address `address`; answer with [`HaInput::PingReply`] if it replies.
    Ping { address: u8 },
    /// Apply to shared storage if this host reaches the datastore (see [`StorageOp`]).
    Storage(StorageOp),
    /// Power `vm` on here; answer with [`HaInput::PowerOnResult`] (false when its files are locked by a
    /// running instance, or it cannot start).
    PowerOnVm { vm: VmId },
    /// Hard power-off of `vm` on this host.
    PowerOffVm { vm: VmId },
    /// Ask `vm`'s guest to shut down; answer with [`HaInput::VmPower`] `on: false` when it has.
    ShutdownGuest { vm: VmId },
    /// Reset `vm` (a hard reboot of the guest on this host).
    ResetVm { vm: VmId },
    /// Call back with [`HaInput::Wake`] at (or after) this time; replaces an earlier request.
    WakeAt(SimTime),
    /// For the history.
    Event(HaEvent),
}
