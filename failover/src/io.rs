//! What a driver feeds the state machines and what it must carry out for them.
//!
//! The failover logic never sends, sleeps, reads a clock or draws a random number itself: every
//! effect is an [`Output`] the driver performs (the simulation kernel today, a tokio daemon later),
//! and every observation is an [`Input`]. Timers are a single `WakeAt` per machine: the driver calls
//! back with [`Input::Wake`] at (or after) that local time, and a later `WakeAt` replaces an earlier one.

use crate::message_set::MessageSet;
use crate::types::{
    DbId, Endpoint, Epoch, Generation, HubId, Incarnation, LocalTime, LunId, MessageId, NodeId, PathId,
    RequestId, ReservationKey, StoragePath,
};
use core::time::Duration;
use serde::{Deserialize, Serialize};

/// A request to the file share witness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WitnessOp {
    Acquire,
    Renew,
    Release,
    /// The lock holder records, in the witness's file, that it accepts `epoch` for `db`: the witness's
    /// vote for an ownership decision (`coordinator.rs`). The share keeps the file across its reboots.
    Record {
        db: DbId,
        epoch: Epoch,
    },
}

/// One request to the witness: its operation and the id the node gave it. The driver hands the id back
/// with the answer, so an answer that waited in a queue (a frozen host's receive ring, a slow share)
/// is matched to the request it answers, never to a later one of the same kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessCall {
    pub id: u64,
    pub op: WitnessOp,
}

/// The witness's answer, as the driver delivers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WitnessAnswer {
    /// The lock is ours; `lease` is how long it lasts from when the witness granted it. `ledger` is the
    /// witness file: the newest epoch recorded for each database. A node that knows less than the file
    /// is from an earlier partition in time and must not count the witness (WSFC's paxos tag rule).
    Granted {
        lease: Duration,
        ledger: Vec<(DbId, Epoch)>,
    },
    Denied,
    Released,
    /// A `Record` was written (`accepted`), or refused because the file already holds that epoch or a
    /// newer one for the database.
    Recorded {
        accepted: bool,
    },
    /// The share did not answer (down or unreachable); the driver reports a timeout as this too.
    Unavailable,
}

/// A command to the shared storage array, for one LUN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StorageOp {
    /// Make the LUN visible to this host: map and present it (the disk resource's online does this; it
    /// can take minutes with serial LUN enumeration, so it has no timeout: the driver always answers).
    Connect,
    Read {
        block: u64,
    },
    /// `block` is the message id (one block per message), carrying the writer's ownership epoch.
    Write {
        block: u64,
        payload: MessageId,
        epoch: Epoch,
    },
    /// REGISTER AND IGNORE EXISTING KEY on the request's path.
    Register {
        key: ReservationKey,
    },
    Unregister,
    /// RESERVE type 5 (write exclusive, registrants only).
    Reserve {
        key: ReservationKey,
    },
    Release {
        key: ReservationKey,
    },
    /// PREEMPT (abort: false) or PREEMPT AND ABORT (abort: true) of `victim`'s registrations and
    /// reservation.
    Preempt {
        key: ReservationKey,
        victim: ReservationKey,
        abort: bool,
    },
    ReadKeys,
    ReadReservation,
}

/// Why a storage command failed (other than a reservation conflict).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StorageFailure {
    UnitAttention,
    /// The array refused the command itself (CHECK CONDITION, ILLEGAL REQUEST: a block beyond the
    /// LUN's capacity, say). The paths are fine; failing over would not help.
    IllegalRequest,
    DataProtect,
    NotReady,
    NotPresented,
    NoPath,
    DeviceRemoved,
    TimedOut,
}

/// The array's answer to one [`StorageOp`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StorageResult {
    Done,
    Data {
        payload: Option<(MessageId, Epoch)>,
    },
    Keys(Vec<ReservationKey>),
    Reservation(Option<ReservationKey>),
    /// SCSI status 0x18: the command is not allowed from this I_T nexus (a write from a node whose
    /// registration was preempted, or a PR command with a key that is not registered).
    ReservationConflict,
    Failed(StorageFailure),
}

/// For the history: what disk arbitration did. In the history's JSON the step is a `step` field in
/// kebab-case, beside the step's own fields (`"step":"challenged","victim":…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum ArbitrationStep {
    /// Our key is registered on `paths` of our storage paths.
    Registered {
        paths: u8,
    },
    Reserved,
    /// We preempted `victim` and now wait the arbitration delay.
    Challenged {
        victim: ReservationKey,
    },
    Won,
    Lost,
    /// We found `challenger` holding our reservation and preempted it back.
    Defended {
        challenger: ReservationKey,
    },
    /// Our reservation had vanished (an array reboot without APTPL) and we registered and reserved again.
    Reasserted,
    /// A write or check returned RESERVATION CONFLICT: we were preempted.
    Fenced,
    DataPathFailed,
    /// The claim waits: `writes` of our own earlier writes to the LUN are still unanswered, and
    /// registering again now could let them land under the new registration.
    Draining {
        writes: u32,
    },
    /// The array stopped answering in the middle of acquiring (a timeout, no path, not ready, a unit
    /// attention, or our reservation read back gone), and no other node could take the group: the
    /// claim starts again from registering in `retry_in_ms`, its `attempt`-th retry.
    Interrupted {
        attempt: u32,
        retry_in_ms: u64,
    },
    /// The disk witness's epoch ledger, read after winning the witness, holds `ledger_epoch` for a
    /// database whose newest epoch we know is `known_epoch`: we are from an earlier partition in time,
    /// so we do not count the witness and release it.
    BehindLedger {
        ledger_epoch: u64,
        known_epoch: u64,
    },
}

/// What a heartbeat echoes: the receiver's own stamp on the freshest heartbeat the sender got from it
/// on that path. The incarnation makes it an echo of one life of the receiver: its clock runs on
/// across a reboot, so the time alone cannot tell the receiver's previous life from this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Echo {
    pub incarnation: Incarnation,
    pub sent_at: LocalTime,
}

/// A database's state as one node advertises it to its peers in every heartbeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbAdvert {
    pub db: DbId,
    /// The highest (epoch, owner) this node knows of: the cluster's ownership record.
    pub owner_epoch: Epoch,
    pub owner: Option<NodeId>,
    /// The generation after which `owner_epoch` began, if this node knows it: epoch starts are facts
    /// of the cluster's history, so every node learns them and can tell its own abandoned tail.
    pub owner_epoch_start: Option<Generation>,
    pub role: CopyRole,
    /// The last generation this copy holds (closed and, for a passive, inspected).
    pub last_generation: Generation,
    /// For the active copy, the generation being written now (not yet shipped).
    pub current_generation: Generation,
}

/// What a copy is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CopyRole {
    Passive,
    /// Being brought online after an activation.
    Activating,
    Active,
    /// The resource group failed on this node more times than local restart allows.
    Failed,
    /// The copy is being reseeded and cannot be activated.
    Seeding,
}

/// Messages between nodes and hubs. Sizes for the fabric come from [`Message::wire_bytes`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// Sent on every path to every peer each heartbeat interval. `incarnation` is the sender's boot
    /// count and `sequence` numbers the heartbeats of that incarnation (every heartbeat the sender
    /// sends, on any path, gets the next one), so the receiver can tell a delayed, reordered or
    /// replayed heartbeat from a fresh one whatever order they arrive in. `sent_at` is the sender's
    /// clock; `echo` returns the incarnation and `sent_at` of the freshest heartbeat the sender
    /// received from the receiver on this path, while it hears the receiver there. A link is up only
    /// if it works both ways, and the echo proves it on the receiver's own clock, for the receiver's
    /// current incarnation only (see `detector`).
    Heartbeat {
        from: NodeId,
        incarnation: Incarnation,
        sequence: u64,
        sent_at: LocalTime,
        echo: Option<Echo>,
        counts: Vec<NodeId>,
        /// Peers that may still be counting the sender's vote, though it may no longer hear them: the
        /// vote a peer borrowed lasts until the sender's last echo to it expires (plus the takeover
        /// margin). A coordinator waits until no member lends its vote to the owner it replaces.
        lends_to: Vec<NodeId>,
        quorate: bool,
        dbs: Vec<DbAdvert>,
        /// The (incarnation, sequence) of the newest heartbeat the sender accepted from the receiver,
        /// on any path, and the receiver's send time on it. A receiver that never sent that stamp in
        /// its present life, or sent it at another time, is repeating an incarnation an earlier life
        /// already used (its disk was rolled back: a snapshot revert), and takes a newer one (see
        /// `Node::reincarnate_if_repeated`).
        newest_of_yours: Option<(Incarnation, u64, LocalTime)>,
    },
    /// The coordinator asks every member it counts to accept `epoch` as the next ownership term of
    /// `db`, with `owner` as its owner. A member accepts an epoch newer than any it has accepted or
    /// knows committed, stores that durably, and answers; the decision is committed once a majority
    /// of all votes has accepted it, so two coordinators can never commit one epoch twice.
    Propose {
        db: DbId,
        epoch: Epoch,
        owner: NodeId,
    },
    /// A member's answer to `Propose`: its own vote (`voter` is the node) or, when it holds the witness
    /// and the witness recorded the epoch, the witness's vote. A refusal carries the newest epoch the
    /// member has accepted, so the coordinator proposes beyond it next time.
    ProposeReply {
        db: DbId,
        epoch: Epoch,
        voter: Voter,
        accepted: bool,
        newest: Epoch,
    },
    /// The new owner of `db` tells every member it counts where `epoch` begins, before it opens the
    /// epoch's first log: a member that later takes over must be able to tell our history from a tail
    /// it wrote in an older epoch, even if we are gone by then.
    EpochStarted {
        db: DbId,
        epoch: Epoch,
        start: Generation,
    },
    /// A member stored where `epoch` began.
    EpochStartedAck {
        db: DbId,
        epoch: Epoch,
    },
    /// The coordinator tells a node to activate its copy of `db` in the new `epoch`.
    Activate {
        db: DbId,
        epoch: Epoch,
        previous_owner: Option<NodeId>,
    },
    /// The active copy closed a generation. `continues` says whether it opened the next one (it did
    /// not if it closed its last log because it stopped serving): only then is there an open log the
    /// next owner may lose.
    LogClosed {
        db: DbId,
        epoch: Epoch,
        generation: Generation,
        continues: bool,
    },
    /// A passive (or an activating node doing attempt-copy-last-logs) asks for generations from `from`.
    CopyRequest {
        db: DbId,
        from: Generation,
        max_count: u64,
    },
    /// One log generation. `corrupt` is set by a corruption fault on the wire; inspection catches it.
    /// `reply_last` is the last generation of the reply this one belongs to: the owner serves what it
    /// holds when asked, which may be fewer than the `max_count` asked for, and the copy must not wait
    /// for the rest of a batch that will never come.
    LogData {
        db: DbId,
        generation: Generation,
        epoch: Epoch,
        messages: MessageSet,
        bytes: u64,
        corrupt: bool,
        reply_last: Generation,
    },
    /// A joining copy asks the owner where each epoch began, to find where it diverged.
    LineageRequest {
        db: DbId,
    },
    LineageReply {
        db: DbId,
        epoch_starts: Vec<(Epoch, Generation)>,
    },
    /// Ask a hub to resubmit what it delivered to `db` within the last `window`. Repeated until the
    /// hub answers with `ResubmitAck`; the store suppresses what a repeat delivers twice.
    ResubmitRequest {
        db: DbId,
        window: Duration,
    },
    /// A hub resubmitted what a `ResubmitRequest` asked for.
    ResubmitAck {
        db: DbId,
    },
    /// A hub delivers a message to the database's active copy.
    Deliver {
        hub: HubId,
        db: DbId,
        msg: MessageId,
        bytes: u32,
        resubmitted: bool,
    },
    DeliverAck {
        db: DbId,
        msg: MessageId,
        epoch: Epoch,
    },
    /// The receiver does not hold the active copy of `db`.
    DeliverReject {
        db: DbId,
        msg: MessageId,
    },
}

impl Message {
    /// Approximate frame size on the wire: what the fabric's bandwidth and MTU see.
    pub fn wire_bytes(&self) -> u64 {
        match self {
            // A fixed part (sender, incarnation, sequence, send time, echo, quorate flag, framing)
            // and what varies with the cluster.
            Message::Heartbeat { dbs, counts, lends_to, .. } => {
                88 + 32 * dbs.len() as u64 + 2 * (counts.len() + lends_to.len()) as u64
            }
            Message::LogData { bytes, .. } => 128 + bytes,
            Message::Deliver { bytes, .. } => 256 + u64::from(*bytes),
            Message::LineageReply { epoch_starts, .. } => 64 + 16 * epoch_starts.len() as u64,
            _ => 96,
        }
    }
}

/// What the driver observed for a node.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// The node's clock reached a time it asked for.
    Wake,
    Received {
        from: Endpoint,
        path: Option<PathId>,
        message: Message,
    },
    Witness {
        call: WitnessCall,
        answer: WitnessAnswer,
    },
    /// A resource of `db`'s group died on this node (its process, its address): the next health check
    /// notices and restarts it and everything that depends on it, or fails the group over. `resource`
    /// is an index into the group's resources; `None` is the database resource.
    ResourceFailed {
        db: DbId,
        resource: Option<usize>,
    },
    /// An administrator moves `db` to `to` (a switchover, or the manual-failover activation).
    OperatorMove {
        db: DbId,
        to: NodeId,
    },
    /// The driver could not deliver an earlier `Send` (no route, name did not resolve).
    Undeliverable {
        to: Endpoint,
        message: Message,
    },
    /// The array answered an earlier `Output::Effect(Effect::Storage)` (a driver-side timeout need not be reported:
    /// the node gives up on unanswered requests by itself).
    Storage {
        request: RequestId,
        result: StorageResult,
    },
}

/// Why a node stopped serving a database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    QuorumLost,
    Moved,
    ResourceFailed,
    Deposed,
    /// The node found itself preempted on the group's disk (a write returned RESERVATION CONFLICT).
    Fenced,
}

/// Who a quorum claim counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Voter {
    Node(NodeId),
    Witness,
}

/// What one step of a node produced, in the order it happened: effects the driver must carry out,
/// and notes of what the node did, which a driver records (the simulation's history, a daemon's log)
/// but need not act on. This is the whole contract of a driver: carry out every `Effect`, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Effect(Effect),
    Note(Note),
}

/// Something the driver must do for the node.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Send {
        to: Endpoint,
        path: Option<PathId>,
        message: Message,
    },
    /// Feed `Input::Wake` once the node's clock reads this (the latest request replaces earlier ones).
    WakeAt(LocalTime),
    WitnessRequest(WitnessCall),
    /// Register the database's network name as pointing at this node.
    RegisterName {
        db: DbId,
    },
    /// A command to the shared storage array; `path: None` goes through multipath (any working path).
    Storage {
        request: RequestId,
        lun: LunId,
        path: Option<StoragePath>,
        op: StorageOp,
    },
}

/// Something the node did, for the record.
#[derive(Clone, Debug, PartialEq)]
pub enum Note {
    QuorumChanged {
        quorate: bool,
        votes: Vec<Voter>,
        total_votes: u32,
    },
    Mounted {
        db: DbId,
        epoch: Epoch,
        generation: Generation,
        lost_logs: u64,
    },
    Dismounted {
        db: DbId,
        reason: StopReason,
    },
    Committed {
        db: DbId,
        msg: MessageId,
        epoch: Epoch,
        generation: Generation,
    },
    DuplicateSuppressed {
        db: DbId,
        msg: MessageId,
    },
    LogClosed {
        db: DbId,
        generation: Generation,
        epoch: Epoch,
    },
    LogReplayed {
        db: DbId,
        generation: Generation,
        epoch: Epoch,
        messages: Vec<MessageId>,
    },
    RolledBack {
        db: DbId,
        to_generation: Generation,
    },
    ResourceState {
        db: DbId,
        resource: usize,
        state: ResourceState,
    },
    /// The coordinator refused an operator's move of `db` to `to`.
    MoveRefused {
        db: DbId,
        to: NodeId,
        reason: MoveRefusal,
    },
    FailoverDecided {
        db: DbId,
        from: Option<NodeId>,
        to: NodeId,
        epoch: Epoch,
        reason: FailoverReason,
    },
    /// What disk arbitration did (`db: None` for the disk witness).
    DiskArbitration {
        db: Option<DbId>,
        lun: LunId,
        step: ArbitrationStep,
    },
}

impl From<Effect> for Output {
    fn from(effect: Effect) -> Self {
        Output::Effect(effect)
    }
}

impl From<Note> for Output {
    fn from(note: Note) -> Self {
        Output::Note(note)
    }
}

/// A cluster resource's state on one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceState {
    OnlinePending,
    Online,
    Offline,
    Failed,
    Restarting,
}

/// Why the coordinator refused an operator's move of a database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MoveRefusal {
    /// An earlier decision for the database is still unsettled (WSFC refuses to move a group in a
    /// pending state).
    DecisionPending,
    /// The target already owns the database and serves it.
    AlreadyThere,
    /// The target is not a member the coordinator counts, or its copy is not a healthy passive one.
    TargetUnavailable,
}

/// Why the coordinator moved a database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailoverReason {
    /// First activation when the cluster forms.
    Initial,
    /// The owner is down (all paths, and no peer counts it).
    OwnerDown,
    /// The owner's resources failed beyond local restart.
    ResourceFailed,
    /// An operator asked for it.
    Operator,
    /// The owner lost its mount (self-fenced) and is back; it gets a new epoch.
    Remount,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advert(db: u16) -> DbAdvert {
        DbAdvert {
            db: DbId(db),
            owner_epoch: 1,
            owner: Some(NodeId(0)),
            owner_epoch_start: Some(0),
            role: CopyRole::Passive,
            last_generation: 7,
            current_generation: 0,
        }
    }

    #[test]
    fn a_heartbeat_frame_grows_with_the_databases_it_advertises_and_the_peers_it_names() {
        // The fabric's MTU and bandwidth see this size: a four-database node's heartbeat is larger
        // than a one-database node's, and so is one that names more peers.
        let heartbeat = |dbs: u16, counts: usize, lends_to: usize| Message::Heartbeat {
            from: NodeId(0),
            incarnation: 1,
            sequence: 1,
            sent_at: LocalTime::ZERO,
            echo: Some(Echo { incarnation: 1, sent_at: LocalTime::ZERO }),
            counts: vec![NodeId(1); counts],
            lends_to: vec![NodeId(2); lends_to],
            quorate: true,
            dbs: (0..dbs).map(advert).collect(),
            newest_of_yours: Some((1, 1, LocalTime(5))),
        };
        assert_eq!(heartbeat(0, 0, 0).wire_bytes(), 88);
        assert_eq!(heartbeat(1, 2, 1).wire_bytes(), 88 + 32 + 2 * 3);
        assert_eq!(heartbeat(4, 3, 3).wire_bytes(), 88 + 4 * 32 + 2 * 6);
    }

    #[test]
    fn log_data_deliveries_and_lineage_replies_are_as_large_as_what_they_carry() {
        let log = Message::LogData {
            db: DbId(0),
            generation: 3,
            epoch: 1,
            messages: [1, 2].into_iter().collect(),
            bytes: 1 << 20,
            corrupt: false,
            reply_last: 3,
        };
        assert_eq!(log.wire_bytes(), 128 + (1 << 20));
        let deliver =
            Message::Deliver { hub: HubId(0), db: DbId(0), msg: 9, bytes: 200_000, resubmitted: false };
        assert_eq!(deliver.wire_bytes(), 256 + 200_000);
        let lineage = Message::LineageReply { db: DbId(0), epoch_starts: vec![(1, 0), (2, 40), (3, 77)] };
        assert_eq!(lineage.wire_bytes(), 64 + 3 * 16);
        assert_eq!(Message::LineageRequest { db: DbId(0) }.wire_bytes(), 96);
    }
}
