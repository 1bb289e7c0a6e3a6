//! The history: every input, output, fault and observation of a run, as typed events in true time.
//!
//! Checkers read only this (and emulator ground truth recorded into it), never a node's private
//! state. The history is kept in memory as typed records and serialised to JSON Lines only when asked;
//! its SHA-256 over those bytes is the run's fingerprint, so the same scenario, seed and commit must
//! give the same digest.
//!
//! The first record is a header (schema version, drill version, scenario, seed). Every reason, step,
//! kind and state is an enum written in kebab-case, never free text: the history's own enums live here,
//! and the concepts the failover logic, the emulators or the scenario already name are their types,
//! re-exported here so checkers need nothing else. `docs/history.md` documents every event and value,
//! and `tests/history_format.rs` holds the document to these types.

use crate::check::Checker;
use kernel::SimTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

pub use crate::scenario::{FaultKind, LinkDirection, MountDial, NemesisFamily};
pub use emulators::hypervisor::{
    DatastoreState, HostState as HaHostState, IsolationResponse, ResetSuppressed, ResponseOutcome,
    RestartBlock, StorageFailure,
};
pub use emulators::iscsi::PathReason;
pub use emulators::san::{AbortCause, RejectReason, ResetCause};
pub use failover::MessageSet;
pub use failover::io::{ArbitrationStep, FailoverReason, MoveRefusal, ResourceState, StopReason};

/// The version of the history's format, written in its header. Bumped whenever an event, a field or
/// an enum value changes meaning or disappears. Version 1 was the untyped history before it had a
/// header (reasons, steps and kinds as free strings); version 2 is the typed history with a header;
/// version 3 added `name-registered` and `lookup-timed-out` (DNS on a host); version 4 added
/// `nemesis-drawn` (the swarm nemesis); version 5 added `ha` (vSphere HA); version 6 `vm-migrated`;
/// version 7 the `behind-ledger` step; version 8 `vm-snapshot-taken`, `vm-reverted` and the
/// `no-snapshot` reason; version 9 `lun-contents` as message id ranges.
/// Distinct from the JSON reports' own `reports::SCHEMA_VERSION`.
pub const HISTORY_SCHEMA_VERSION: u32 = 9;

/// The drill release that wrote a history (the workspace version), written in its header.
pub const DRILL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit this drill was built from (`harness/build.rs`), or `unknown`.
pub const DRILL_COMMIT: &str = env!("DRILL_COMMIT");

/// Which drill wrote a report.
pub fn provenance() -> reports::Provenance {
    reports::Provenance { drill_version: DRILL_VERSION.to_string(), drill_commit: DRILL_COMMIT.to_string() }
}

/// A host, node, hub or database name. Shared, so recording an event never copies strings.
pub type Name = Arc<str>;

/// A client message id, unique per run.
pub type MessageId = u64;

/// One event at one instant of true time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// True time in nanoseconds since the run began.
    pub at: SimTime,
    #[serde(flatten)]
    pub event: Event,
}

/// One I_T nexus of shared storage: a host's initiator port on one iSCSI network, to the array
/// controller on that network. Shown as `host:network`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Nexus {
    pub host: Name,
    pub network: Name,
}

impl fmt::Display for Nexus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.network)
    }
}

/// Why a host stopped executing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostDownReason {
    /// Its power went: everything volatile on it is gone.
    Power,
    /// It was paused (a VM stun or suspend): it keeps its state and resumes where it stopped.
    Freeze,
}

/// Why a scheduled fault changed nothing when it fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoEffect {
    /// A role target (`active`, `owner-of:…`) named no host at that instant.
    NoTarget,
    /// The target was already in the state the fault puts it in (off, paused, down, cut…).
    AlreadySo,
    /// A `vmotion` found no running hypervisor host to move its VM to (its `to` is off, or the VM is
    /// already there, or every host its rules allow is).
    NoDestination,
    /// The target's host was off or paused, so software on it could not be hit.
    HostNotRunning,
    /// A `snapshot-revert` found no snapshot of its VM taken before it (the snapshot fault had no
    /// effect, or a shrunk schedule dropped it).
    NoSnapshot,
}

/// Why the file share witness lock became free.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WitnessResetReason {
    /// Its holder released it.
    Released,
    /// The witness share went down (a fault); it comes back without a holder.
    WitnessDown,
}

/// What a `reservation` record says the array did to a LUN's persistent reservations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReservationAction {
    /// The nexus registered `key`.
    Registered,
    /// The nexus's registration with `key` was removed (it registered key 0).
    Unregistered,
    /// The nexus took the reservation with `key`.
    Reserved,
    /// The reservation held with `key` is gone: released by the nexus, or left without a holder by
    /// its unregistration.
    Released,
    /// The nexus cleared every registration and the reservation (PR OUT CLEAR, presenting `key`).
    Cleared,
}

/// A setting a swarm nemesis drew for this seed (`[nemesis.settings]`), with its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "setting", rename_all = "kebab-case")]
pub enum DrawnSetting {
    /// `[cluster] heartbeat_threshold`: missed heartbeats before a path is down.
    HeartbeatThreshold { missed: u32 },
    /// `[cluster] resource_online_time`, in milliseconds.
    ResourceOnlineTime { ms: u64 },
    /// `[cluster] mount_time`, in milliseconds.
    MountTime { ms: u64 },
    /// `[cluster] mount_dial`.
    MountDial { dial: MountDial },
    /// `[transport] dumpster_size`, in bytes.
    DumpsterSize { bytes: u64 },
    /// One host's `clock_drift_ppm` (each host draws its own, in file order).
    ClockDrift { host: Name, ppm: i32 },
}

/// What an HA agent did (`emulators::hypervisor::HaEvent`, with hosts, VMs and datastores by name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ha", rename_all = "kebab-case")]
pub enum HaRecord {
    /// The agent is looking for a master.
    ElectionStarted,
    /// The agent ended an election or joined a master: `master` (itself when it won).
    MasterElected {
        master: Name,
    },
    /// This master saw a better one and became its slave.
    Abdicated {
        to: Name,
    },
    /// A master heard nothing from `host` for `unreachable_after`.
    HostUnreachable {
        host: Name,
    },
    /// A master classified a silent host (or changed its classification).
    HostDeclared {
        host: Name,
        state: HaHostState,
    },
    /// A master hears `host` again.
    HostReconnected {
        host: Name,
    },
    /// The agent heard no other agent and started pinging its isolation address.
    IsolationCheckStarted,
    IsolationDeclared,
    IsolationEnded,
    /// The isolation response ran for `vm`.
    IsolationResponse {
        vm: Name,
        response: IsolationResponse,
        outcome: ResponseOutcome,
    },
    /// A guest shutdown did not finish in time: powered off instead.
    ShutdownTimedOut {
        vm: Name,
    },
    /// A master asked hypervisor host `on` to power `vm` on (attempt `attempt`, 1-based).
    RestartAttempted {
        vm: Name,
        on: Name,
        attempt: u32,
    },
    RestartSucceeded {
        vm: Name,
        on: Name,
        attempt: u32,
    },
    RestartFailed {
        vm: Name,
        on: Name,
        attempt: u32,
    },
    /// Every restart attempt failed: HA stops trying.
    RestartGaveUp {
        vm: Name,
    },
    /// A restart waits, and why (reported once per reason).
    RestartBlocked {
        vm: Name,
        reason: RestartBlock,
    },
    /// A queued restart was dropped: `vm` runs on `running_on`, a host in contact.
    RestartCancelled {
        vm: Name,
        running_on: Name,
    },
    VmMonitoringReset {
        vm: Name,
        resets: u32,
    },
    VmMonitoringSuppressed {
        vm: Name,
        reason: ResetSuppressed,
    },
    ApdTimeout {
        datastore: Name,
    },
    VmcpTerminated {
        vm: Name,
        datastore: Name,
        failure: StorageFailure,
    },
    VmcpWarning {
        vm: Name,
        datastore: Name,
        failure: StorageFailure,
    },
    VmcpReset {
        vm: Name,
        datastore: Name,
    },
    /// The agent's host's access to a datastore on the array changed (ground truth from the world:
    /// its paths to the array and the LUN's state), and the agent was told.
    Datastore {
        datastore: Name,
        state: DatastoreState,
    },
}

impl Event {
    /// Records a run writes for every message or storage command, which drown the story at `-vv`.
    pub fn is_per_message(&self) -> bool {
        matches!(
            self,
            Event::Submitted { .. }
                | Event::Committed { .. }
                | Event::Acked { .. }
                | Event::DuplicateSuppressed { .. }
                | Event::LunWrite { .. }
                | Event::LunContents { .. }
                | Event::LogReplayed { .. }
                | Event::LogClosed { .. }
        )
    }

    /// The event as its history line's JSON object, without the time.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|error| format!("{{\"unserialisable\":\"{error}\"}}"))
    }
}

/// Every kind of event a run records. The JSON form is `{"at":…,"event":"kebab-name",…fields}`;
/// `docs/history.md` documents each one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// The header, always the first record: what wrote the history and what it is a run of.
    Header {
        /// [`HISTORY_SCHEMA_VERSION`] of the drill that wrote it.
        schema_version: u32,
        /// [`DRILL_VERSION`] of the drill that wrote it.
        drill_version: Name,
        /// The scenario's `name`.
        scenario: Name,
        seed: u64,
    },
    /// A fault (or its healing) was injected and took effect. `target` is the resolved host (or the
    /// switch, rack, `all`, or `none` for a device without a host); `network`, `peer` and `direction`
    /// are set for the faults that have them; `heal` marks the automatic inverse of a fault with a
    /// duration.
    Fault {
        kind: FaultKind,
        target: Name,
        network: Option<Name>,
        peer: Option<Name>,
        direction: Option<LinkDirection>,
        heal: bool,
    },
    /// Configuration, recorded at the start of a run with a swarm nemesis (`families`): the families
    /// this seed enabled, the mean interval and longest fault it drew, and every drawn setting. The
    /// faults it then draws are ordinary `fault` (or `fault-without-effect`) records.
    NemesisDrawn {
        families: Vec<NemesisFamily>,
        mean_interval_ms: u64,
        max_fault_duration_ms: u64,
        settings: Vec<DrawnSetting>,
    },
    /// A scheduled fault changed nothing when it fired, and why (its target was already in that
    /// state, or a role target named nobody at that instant). It is not a fault of the run.
    FaultWithoutEffect { kind: FaultKind, target: Name, reason: NoEffect },
    /// Ground truth from the power emulator and the kernel: a host stopped executing.
    HostDown { host: Name, reason: HostDownReason },
    /// Ground truth: a paused host resumed and its NICs' receive rings handed it `packets` that arrived
    /// while it was paused (oldest first); `dropped` more arrived at full rings and were lost.
    RingDrained { host: Name, packets: u64, dropped: u64 },
    /// Ground truth: a host runs again (`boot` true after power-on, false after a freeze ends). A VM
    /// runs again when its guest has booted, `boot_time` after its `vm-powered-on`.
    HostUp { host: Name, boot: bool },
    /// Ground truth: VM `vm` was powered on on hypervisor host `on` (by HA, a reset or a fault): it
    /// holds its VMDK lock and HA sees it on, but its guest is booting and runs nothing until its
    /// `host-up`; a power loss before then cancels the boot (a `host-down`).
    VmPoweredOn { vm: Name, on: Name },
    /// A node's quorum claim changed. `votes` names the nodes it counted and `witness` says whether it
    /// counted the witness vote (file share or disk), out of `total_votes` configured; the claim holds
    /// until the node's next `quorum` event or it goes down.
    Quorum { node: Name, quorate: bool, votes: Vec<Name>, witness: bool, total_votes: u32 },
    /// Ground truth from the witness emulator: `host` holds the file share witness lock until `until`
    /// unless a later `witness-lease` or `witness-reset` says otherwise.
    WitnessLease { host: Name, until: SimTime },
    /// Ground truth: the witness lock is free.
    WitnessReset { reason: WitnessResetReason },
    /// Ground truth from the DNS emulator: the zone took a registration pointing `db`'s network name at
    /// `host`'s address (when the update reached the DNS server, or at once for DNS outside the model).
    NameRegistered { db: Name, host: Name },
    /// A hub's resolver got no answer for `db`'s name from the DNS server within its timeouts and
    /// gave up; the `messages` that waited for it went back to the hub as undeliverable.
    LookupTimedOut { hub: Name, db: Name, messages: u64 },
    /// A database copy was mounted for writing on `node` in ownership `epoch`.
    Mounted { node: Name, db: Name, epoch: u64, generation: u64, lost_logs: u64 },
    /// The database stopped being writable on `node`. (A power loss ends a mount with `host-down`.)
    Dismounted { node: Name, db: Name, reason: StopReason },
    /// A client handed a message to a hub.
    Submitted { msg: MessageId, db: Name, hub: Name },
    /// The active copy on `node` wrote the message into the database's current log.
    Committed { node: Name, db: Name, msg: MessageId, epoch: u64, generation: u64 },
    /// The store recognised a message id it already holds and did not write it again.
    DuplicateSuppressed { node: Name, db: Name, msg: MessageId },
    /// The client received its success reply: the message is acknowledged.
    Acked { msg: MessageId, db: Name, node: Name, epoch: u64 },
    /// The active copy closed a log generation (it can now be shipped).
    LogClosed { node: Name, db: Name, generation: u64, epoch: u64 },
    /// A passive copy inspected and replayed a shipped generation into its database.
    LogReplayed { node: Name, db: Name, generation: u64, epoch: u64, messages: Vec<MessageId> },
    /// A copy discarded every generation after `to_generation`: an incremental reseed to the
    /// divergence point, or with 0 a full reseed (the copy then copies every log again).
    RolledBack { node: Name, db: Name, to_generation: u64 },
    /// A hub resubmitted messages from its transport dumpster after a lossy mount.
    Resubmitted { hub: Name, db: Name, count: u64 },
    /// A cluster resource changed state on a node.
    Resource { node: Name, group: Name, resource: Name, state: ResourceState },
    /// The cluster decided to move a database (failover or switchover).
    Failover { db: Name, from: Option<Name>, to: Name, epoch: u64, reason: FailoverReason },
    /// The coordinator refused an operator's move of `db` to `to` (the `move` fault reached the
    /// cluster, which said no).
    MoveRefused { db: Name, to: Name, reason: MoveRefusal },
    // ----- shared storage: the SAN array's ground truth (the fencing oracle) and the initiators -----
    /// The array applied a write through `nexus`; `epoch` is what the writer tagged the blocks with;
    /// `durable` is false while the write sits in a volatile cache.
    LunWrite {
        lun: Name,
        /// The database the LUN belongs to, if any (the world knows; the array does not).
        db: Option<Name>,
        nexus: Nexus,
        /// The key the nexus was registered with when the write was applied (none if unregistered).
        key: Option<u64>,
        /// The key that held the LUN's reservation when the array accepted the write (none if no
        /// reservation existed then). The array judges a write at acceptance and lets it complete.
        holder_at_acceptance: Option<u64>,
        epoch: u64,
        msgs: Vec<MessageId>,
        durable: bool,
    },
    /// The array refused a write when it arrived.
    LunWriteRejected { lun: Name, nexus: Nexus, epoch: u64, reason: RejectReason },
    /// A command the array had accepted was aborted before it ran.
    LunTaskAborted { lun: Name, nexus: Nexus, by: AbortCause },
    /// A persistent-reservation change made by `nexus`'s command.
    Reservation { lun: Name, nexus: Nexus, action: ReservationAction, key: u64 },
    /// `by` preempted `victim_key`; `victims` are the nexuses whose registrations were removed and
    /// `aborted` how many of their accepted commands were aborted (0 for a plain PREEMPT).
    Preempted { lun: Name, by: Nexus, key: u64, victim_key: u64, victims: Vec<Nexus>, aborted: u32 },
    /// Every registration and the reservation of a LUN vanished (an array power cycle without APTPL).
    ReservationsLost { lun: Name, reason: ResetCause },
    /// Unflushed blocks of a volatile write cache were lost when the array lost power.
    CachedWritesLost { lun: Name, blocks: u64 },
    /// Only the first `applied_blocks` of a multi-block write reached the media.
    TornWrite { lun: Name, lba: u64, applied_blocks: u32, of_blocks: u32 },
    /// A LUN became visible to a host (mapped and probed).
    LunPresented { lun: Name, host: Name },
    /// A host's multipath layer marked one of its storage paths up or down.
    PathState { host: Name, network: Name, up: bool, reason: PathReason },
    /// The pseudo-LUN was removed after the last path stayed down (MPIO PDORemovePeriod).
    DeviceRemoved { host: Name, lun: Name },
    /// I/O held by `no_path_retry` was released onto a path that came back.
    QueueReleased { host: Name, lun: Name, count: u32 },
    /// What the failover logic's disk arbitration did: the `step` field and the step's own fields.
    /// `db` is absent for the disk witness.
    DiskArbitration {
        node: Name,
        db: Option<Name>,
        lun: Name,
        #[serde(flatten)]
        step: ArbitrationStep,
    },
    /// Configuration, recorded at the start: the cluster's witness vote is the reservation on `lun`.
    WitnessDisk { lun: Name },
    // ----- vSphere HA: what each hypervisor host's agent did -----
    /// What the HA agent (FDM) on hypervisor host `agent` did: the `ha` field and its own fields.
    Ha {
        agent: Name,
        #[serde(flatten)]
        what: HaRecord,
    },
    /// A vMotion's switchover finished: `vm`, paused on `from` for the stun, resumed on `to`, whose
    /// NICs its frames now ride.
    VmMigrated { vm: Name, from: Name, to: Name },
    /// A `snapshot` fault kept what `vm`'s disks hold now (its cluster node's copies, ownership
    /// records and boot count) for a later revert. The VM runs on untouched.
    VmSnapshotTaken { vm: Name, memory: bool },
    /// A `snapshot-revert` put back on `vm`'s disks what they held at `taken_at`, its latest
    /// snapshot (a running VM lost power first: its `host-down` comes before this record). Without
    /// `memory` the VM is left off; with it the VM is powered on at once and its guest resumes from
    /// the snapshot's memory (the `host-up` that follows).
    VmReverted { vm: Name, taken_at: SimTime, memory: bool },
    /// Ground truth at the end of the run: the messages each LUN holds (durable or in cache), as
    /// inclusive ranges `[first, last]` of message ids in ascending order, and the database the LUN
    /// belongs to. Ranges, because a LUN holds every message of a run: a week of mail is a few ranges.
    LunContents { lun: Name, db: Option<Name>, msgs: Vec<(MessageId, MessageId)> },
    /// The last record of a run that ran to its end.
    RunEnded,
}

impl Event {
    /// The header of a run of `scenario` with `seed`, written by this drill.
    pub fn header(scenario: &str, seed: u64) -> Event {
        Event::Header {
            schema_version: HISTORY_SCHEMA_VERSION,
            drill_version: Name::from(DRILL_VERSION),
            scenario: Name::from(scenario),
            seed,
        }
    }
}

/// `record` as one line of JSON Lines, newline included, appended to `out`.
fn json_line(record: &Record, out: &mut Vec<u8>) {
    // A record is strings, numbers, options and sequences of those: it always serialises.
    serde_json::to_writer(&mut *out, record).expect("history records always serialise");
    out.push(b'\n');
}

/// The run's history, in the order events happened (true time, then causal order within an instant).
///
/// It is hashed, and written to its sink if it has one, as it is produced: each instant once the
/// next one begins (until then fault injection may still insert a record before the instant's
/// effects), and the last at [`History::flush`]. The SHA-256 of the JSON Lines form is therefore
/// ready at the end of a run without a pass over the records, and `drill run --out` streams
/// `history.jsonl` to disk while the run goes on.
///
/// A run's history also feeds its [`Checker`] as each instant settles. A *bounded* history
/// ([`History::bounded`]) then lets the settled records go: it holds only the latest instant, so a
/// week-long run needs no more memory than an hour's, and its records are what its sink wrote. A
/// retaining one keeps every record, for tests, replays and run pages.
#[derive(Debug, Default)]
pub struct History {
    records: Vec<Record>,
    /// How many records a bounded history has let go from the front: `records[0]` is record `base`.
    base: usize,
    /// Records before this index of `records` are hashed (and written); the rest are the latest
    /// instant's.
    settled: usize,
    hasher: Sha256,
    sink: Option<Sink>,
    /// The checkers, fed each record as it settles.
    checker: Option<Box<Checker>>,
    /// Whether settled records are let go.
    bounded: bool,
}

/// Where the history's JSON Lines go as they settle, and the first error writing them.
struct Sink {
    out: Box<dyn Write + Send>,
    error: Option<io::Error>,
}

/// A copy of the records and of the hash so far; not of the sink, which has one writer, nor of the
/// checker.
impl Clone for History {
    fn clone(&self) -> Self {
        History {
            records: self.records.clone(),
            base: self.base,
            settled: self.settled,
            hasher: self.hasher.clone(),
            sink: None,
            checker: None,
            bounded: self.bounded,
        }
    }
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink").field("error", &self.error).finish_non_exhaustive()
    }
}

impl History {
    pub fn new() -> Self {
        History::default()
    }

    /// A run's history: it feeds a [`Checker`] as records settle, and keeps every record.
    pub fn checked(sink: Option<Box<dyn Write + Send>>) -> Self {
        History {
            sink: sink.map(|out| Sink { out, error: None }),
            checker: Some(Box::default()),
            ..History::default()
        }
    }

    /// A run's history that feeds a [`Checker`] and lets every record go once it has settled (been
    /// hashed, written to `sink` if there is one, and checked): memory bounded in simulated time.
    pub fn bounded(sink: Option<Box<dyn Write + Send>>) -> Self {
        History { bounded: true, ..History::checked(sink) }
    }

    /// Whether settled records are let go ([`History::bounded`]).
    pub fn is_bounded(&self) -> bool {
        self.bounded
    }

    /// The checker, with every record fed to it once [`History::flush`] has settled them all.
    pub fn take_checker(&mut self) -> Option<Checker> {
        self.checker.take().map(|checker| *checker)
    }

    pub fn push(&mut self, at: SimTime, event: Event) {
        debug_assert!(self.records.last().is_none_or(|last| last.at <= at), "history must be in time order");
        if self.records.last().is_some_and(|last| last.at < at) {
            self.settle(self.records.len());
        }
        self.records.push(Record { at, event });
    }

    /// Inserts an event at `index` (counted from the run's first record), which must hold a record of
    /// the same instant or be the end. Fault injection uses it to put a fault before the effects it
    /// caused in the same instant: the fault is recorded only once it is known to have taken effect.
    pub fn insert(&mut self, index: usize, at: SimTime, event: Event) {
        if index == self.len() {
            return self.push(at, event);
        }
        let index = index.checked_sub(self.base).expect("a record inserted before records let go");
        debug_assert!(
            self.records[index..].iter().all(|record| record.at == at),
            "only same-instant insertion keeps the history in time order"
        );
        debug_assert!(self.records[..index].last().is_none_or(|last| last.at <= at));
        assert!(index >= self.settled, "a record inserted before records already hashed");
        self.records.insert(index, Record { at, event });
    }

    /// Hashes and writes every record still unsettled, and flushes the sink: the end of a run.
    pub fn flush(&mut self) {
        self.settle(self.records.len());
        if let Some(sink) = self.sink.as_mut().filter(|sink| sink.error.is_none())
            && let Err(error) = sink.out.flush()
        {
            sink.error = Some(error);
        }
    }

    /// The first error writing the sink, if any (taken: asked once).
    pub fn take_sink_error(&mut self) -> Option<io::Error> {
        self.sink.as_mut().and_then(|sink| sink.error.take())
    }

    /// Hashes (and writes, and checks) the records up to `end` of `records`; a bounded history then
    /// lets them go.
    fn settle(&mut self, end: usize) {
        let mut line = Vec::new();
        for record in &self.records[self.settled..end] {
            line.clear();
            json_line(record, &mut line);
            self.hasher.update(&line);
            if let Some(sink) = self.sink.as_mut().filter(|sink| sink.error.is_none())
                && let Err(error) = sink.out.write_all(&line)
            {
                sink.error = Some(error);
            }
            if let Some(checker) = self.checker.as_mut() {
                checker.observe(record);
            }
        }
        self.settled = end;
        if self.bounded {
            self.records.drain(..end);
            self.base += end;
            self.settled = 0;
        }
    }

    /// The records held: every record of a retaining history; of a bounded one, only the latest
    /// instant's.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The records from the `mark`th of the run on (a mark taken with [`History::len`]).
    pub fn since(&self, mark: usize) -> &[Record] {
        let start = mark.saturating_sub(self.base).min(self.records.len());
        &self.records[start..]
    }

    /// How many records the run has produced, whether held or let go.
    pub fn len(&self) -> usize {
        self.base + self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes one JSON object per line: the records held (all of them unless the history is
    /// bounded). Field order is fixed by the types, so the bytes are stable.
    pub fn write_jsonl(&self, out: &mut impl Write) -> io::Result<()> {
        let mut line = Vec::new();
        for record in &self.records {
            line.clear();
            json_line(record, &mut line);
            out.write_all(&line)?;
        }
        Ok(())
    }

    /// The SHA-256 of the JSON Lines form, lower-case hex: the run's fingerprint. Hashed as the
    /// records settled; only the latest instant's are hashed here.
    pub fn sha256(&self) -> String {
        let mut hasher = self.hasher.clone();
        let mut line = Vec::new();
        for record in &self.records[self.settled..] {
            line.clear();
            json_line(record, &mut line);
            hasher.update(&line);
        }
        hex::encode(hasher.finalize())
    }

    /// The header, if the history starts with one (every history a run records does).
    pub fn header(&self) -> Option<&Event> {
        let first = self.records.first().filter(|_| self.base == 0)?;
        Some(&first.event).filter(|event| matches!(event, Event::Header { .. }))
    }

    /// Reads a history back from JSON Lines. The first record must be a header of this schema
    /// version: a history of another version is refused with both versions named, rather than
    /// misread.
    pub fn read_jsonl(text: &str) -> Result<History, String> {
        let mut history = History::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            if history.records.is_empty() {
                check_header(line).map_err(|error| format!("line {}: {error}", index + 1))?;
            }
            let record: Record =
                serde_json::from_str(line).map_err(|error| format!("line {}: {error}", index + 1))?;
            history.records.push(record);
        }
        Ok(history)
    }
}

/// Checks that `line`, the first record of a history, is a header of [`HISTORY_SCHEMA_VERSION`],
/// before the rest is read with this version's types.
fn check_header(line: &str) -> Result<(), String> {
    #[derive(Deserialize)]
    struct First {
        event: Option<String>,
        schema_version: Option<u64>,
    }
    let first: First = serde_json::from_str(line).map_err(|error| error.to_string())?;
    match (first.event.as_deref(), first.schema_version) {
        (Some("header"), Some(version)) if version == u64::from(HISTORY_SCHEMA_VERSION) => Ok(()),
        (Some("header"), Some(version)) => Err(format!(
            "the history has schema version {version}; this drill ({DRILL_VERSION}) reads version \
             {HISTORY_SCHEMA_VERSION}"
        )),
        (Some("header"), None) => Err("the header has no schema_version".to_string()),
        (event, _) => Err(format!(
            "a history starts with a header record (schema version {HISTORY_SCHEMA_VERSION}), not {}; a \
             history without one was written before schema version 2",
            event.map_or_else(|| "a record without an event".to_string(), |event| format!("`{event}`"))
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Arc::from(text)
    }

    fn jsonl(history: &History) -> String {
        let mut bytes = Vec::new();
        history.write_jsonl(&mut bytes).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_history_round_trips_through_json_lines() {
        let mut history = History::new();
        history.push(SimTime::ZERO, Event::header("s", 7));
        history.push(
            SimTime::from_secs(1),
            Event::Acked { msg: 3, db: name("SG1"), node: name("mbx1"), epoch: 1 },
        );
        history.push(
            SimTime::from_secs(2),
            Event::DiskArbitration {
                node: name("mbx1"),
                db: None,
                lun: name("quorum"),
                step: ArbitrationStep::Challenged { victim: 0xB },
            },
        );
        let text = jsonl(&history);
        let header = format!(
            r#"{{"at":0,"event":"header","schema_version":{HISTORY_SCHEMA_VERSION},"drill_version":"{DRILL_VERSION}","scenario":"s","seed":7}}"#
        );
        assert!(text.starts_with(&header), "{text}");
        assert!(text.contains(r#""lun":"quorum","step":"challenged","victim":11}"#), "{text}");
        let back = History::read_jsonl(&text).unwrap();
        assert_eq!(back.records(), history.records());
        assert_eq!(back.header(), Some(&Event::header("s", 7)));
    }

    #[test]
    fn a_history_of_another_schema_version_or_without_a_header_is_refused() {
        let mut history = History::new();
        history.push(SimTime::ZERO, Event::header("s", 7));
        let text = jsonl(&history)
            .replace(&format!(r#""schema_version":{HISTORY_SCHEMA_VERSION}"#), r#""schema_version":999"#);
        let error = History::read_jsonl(&text).unwrap_err();
        assert!(error.starts_with("line 1: the history has schema version 999;"), "{error}");

        let version_one = r#"{"at":0,"event":"run-started","scenario":"s","seed":7}"#;
        let error = History::read_jsonl(version_one).unwrap_err();
        assert!(error.contains("not `run-started`"), "{error}");
    }

    #[test]
    fn the_fingerprint_changes_when_any_event_changes() {
        let mut a = History::new();
        a.push(SimTime::ZERO, Event::header("s", 1));
        let mut b = History::new();
        b.push(SimTime::ZERO, Event::header("s", 2));
        assert_ne!(a.sha256(), b.sha256());
        assert_eq!(a.sha256(), a.clone().sha256());
        assert_eq!(a.sha256().len(), 64);
    }

    #[test]
    fn a_bounded_history_lets_settled_records_go_and_checks_them_as_they_settle() {
        let at = |ms: u64| SimTime::ZERO + std::time::Duration::from_millis(ms);
        let mut bounded = History::bounded(None);
        let mut kept = History::checked(None);
        for history in [&mut bounded, &mut kept] {
            history.push(at(0), Event::header("s", 1));
            history.push(at(5), Event::RunEnded);
            // Insertion takes the run's own numbering, records let go included.
            let mark = history.len();
            history.push(at(5), Event::RunEnded);
            history.insert(mark, at(5), Event::WitnessReset { reason: WitnessResetReason::Released });
            assert_eq!(history.since(mark).len(), 2);
            history.push(at(9), Event::RunEnded);
            history.flush();
        }
        assert_eq!(bounded.len(), 5);
        assert_eq!(bounded.records().len(), 0, "everything settled has gone");
        assert_eq!(kept.records().len(), 5);
        assert_eq!(bounded.sha256(), kept.sha256());
        assert!(bounded.header().is_none(), "the header went with the rest");
        let (bounded_checker, kept_checker) = (bounded.take_checker(), kept.take_checker());
        let config = crate::check::CheckConfig { end: at(9), ..Default::default() };
        let reports =
            [bounded_checker, kept_checker].map(|checker| checker.map(|checker| checker.finish(&config)));
        assert_eq!(reports[0], reports[1]);
        assert_eq!(reports[0].as_ref().map(|report| report.metrics.events), Some(5));
    }

    #[test]
    fn a_streamed_history_writes_and_hashes_the_bytes_of_its_json_lines_form_insertions_included() {
        #[derive(Clone, Default)]
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let shared = Shared::default();
        let mut history = History::checked(Some(Box::new(shared.clone())));
        let at = |ms: u64| SimTime::ZERO + std::time::Duration::from_millis(ms);
        history.push(at(0), Event::header("s", 1));
        history.push(at(5), Event::RunEnded);
        // A fault recorded before the effect it caused in the same instant.
        history.insert(1, at(5), Event::WitnessReset { reason: WitnessResetReason::Released });
        history.push(at(9), Event::RunEnded);
        let unflushed = shared.0.lock().unwrap().len();
        history.flush();
        let mut whole = Vec::new();
        history.write_jsonl(&mut whole).unwrap();
        assert_eq!(*shared.0.lock().unwrap(), whole, "the stream is the JSON Lines form");
        assert!(unflushed < whole.len(), "the latest instant waits until the next begins");
        use sha2::Digest;
        assert_eq!(history.sha256(), hex::encode(Sha256::digest(&whole)));
        assert!(history.take_sink_error().is_none());
    }
}
