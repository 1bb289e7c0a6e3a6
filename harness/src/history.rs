//! The history: every input, output, fault and observation of a run, as typed events in true time.
//!
//! Checkers read only this (and emulator ground truth recorded into it), never a node's private
//! state. The history is kept in memory as typed records and serialised to JSON Lines only when asked;
//! its SHA-256 over those bytes is the run's fingerprint, so the same scenario, seed and commit must
//! give the same digest.

use kernel::SimTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{self, Write};
use std::sync::Arc;

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

/// Why a database stopped being served on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DismountReason {
    /// The node lost quorum and stopped its resources (self-fencing).
    QuorumLost,
    /// The host lost power or crashed: volatile state is gone.
    PowerLoss,
    /// An orderly move to another node (scheduled switchover).
    Moved,
    /// The database resource failed its health check.
    ResourceFailed,
    /// The node saw a higher epoch for the database and stepped down.
    Deposed,
    /// The node found itself preempted on the group's shared disk (a write got RESERVATION CONFLICT).
    Fenced,
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
    /// The target's host was off or paused, so software on it could not be hit.
    HostNotRunning,
}

/// Every kind of event a run records. The JSON form is `{"at":…,"event":"kebab-name",…fields}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    RunStarted {
        scenario: Name,
        seed: u64,
    },
    /// A fault (or its healing) was injected and took effect. `target` is the resolved host or network.
    Fault {
        kind: Name,
        target: Name,
        detail: String,
    },
    /// A scheduled fault changed nothing when it fired, and why (its target was already in that
    /// state, or a role target named nobody at that instant). It is not a fault of the run.
    FaultWithoutEffect {
        kind: Name,
        target: Name,
        reason: NoEffect,
    },
    /// Ground truth from the power emulator and the kernel: a host stopped executing.
    HostDown {
        host: Name,
        reason: HostDownReason,
    },
    /// Ground truth: a paused host resumed and its NICs' receive rings handed it `packets` that arrived
    /// while it was paused (oldest first); `dropped` more arrived at full rings and were lost.
    RingDrained {
        host: Name,
        packets: u64,
        dropped: u64,
    },
    /// Ground truth: a host runs again (`boot` true after power-on, false after a freeze ends).
    HostUp {
        host: Name,
        boot: bool,
    },
    /// A node's quorum claim changed. `votes` names the voters it counted (nodes, and `witness`) out
    /// of `total_votes` configured; the claim holds until the node's next `quorum` event or it goes down.
    Quorum {
        node: Name,
        quorate: bool,
        votes: Vec<Name>,
        total_votes: u32,
    },
    /// Ground truth from the witness emulator: `host` holds the file share witness lock until `until`
    /// unless a later `witness-lease` or `witness-reset` says otherwise.
    WitnessLease {
        host: Name,
        until: SimTime,
    },
    /// Ground truth: the witness lock is free (released, witness down or rebooted).
    WitnessReset {
        reason: Name,
    },
    /// A database copy was mounted for writing on `node` in ownership `epoch`.
    Mounted {
        node: Name,
        db: Name,
        epoch: u64,
        generation: u64,
        lost_logs: u64,
    },
    /// The database stopped being writable on `node`.
    Dismounted {
        node: Name,
        db: Name,
        reason: DismountReason,
    },
    /// A client handed a message to a hub.
    Submitted {
        msg: MessageId,
        db: Name,
        hub: Name,
    },
    /// The active copy on `node` wrote the message into the database's current log.
    Committed {
        node: Name,
        db: Name,
        msg: MessageId,
        epoch: u64,
        generation: u64,
    },
    /// The store recognised a message id it already holds and did not write it again.
    DuplicateSuppressed {
        node: Name,
        db: Name,
        msg: MessageId,
    },
    /// The client received its success reply: the message is acknowledged.
    Acked {
        msg: MessageId,
        db: Name,
        node: Name,
        epoch: u64,
    },
    /// The active copy closed a log generation (it can now be shipped).
    LogClosed {
        node: Name,
        db: Name,
        generation: u64,
        epoch: u64,
    },
    /// A passive copy inspected and replayed a shipped generation into its database.
    LogReplayed {
        node: Name,
        db: Name,
        generation: u64,
        epoch: u64,
        messages: Vec<MessageId>,
    },
    /// A copy discarded every generation after `to_generation` (incremental reseed to the divergence point).
    RolledBack {
        node: Name,
        db: Name,
        to_generation: u64,
    },
    /// A copy was replaced by a full copy of `source` up to `generation`.
    Reseeded {
        node: Name,
        db: Name,
        source: Name,
        generation: u64,
    },
    /// A hub resubmitted messages from its transport dumpster after a lossy mount.
    Resubmitted {
        hub: Name,
        db: Name,
        count: u64,
    },
    /// A cluster resource changed state on a node.
    Resource {
        node: Name,
        group: Name,
        resource: Name,
        state: Name,
    },
    /// The cluster decided to move a database (failover or switchover).
    Failover {
        db: Name,
        from: Option<Name>,
        to: Name,
        epoch: u64,
        reason: Name,
    },
    // ----- shared storage: the SAN array's ground truth (the fencing oracle) and the initiators -----
    /// The array applied a write. `nexus` is `host:network` (one I_T nexus); `epoch` is what the writer
    /// tagged the blocks with; `durable` is false while the write sits in a volatile cache.
    LunWrite {
        lun: Name,
        /// The database the LUN belongs to, if any (the world knows; the array does not).
        db: Option<Name>,
        nexus: Name,
        /// The key the nexus was registered with when the write was applied (none if unregistered).
        key: Option<u64>,
        epoch: u64,
        msgs: Vec<MessageId>,
        durable: bool,
    },
    /// The array refused a write (`reason`: reservation-conflict, read-only, not-ready, ...).
    LunWriteRejected {
        lun: Name,
        nexus: Name,
        epoch: u64,
        reason: Name,
    },
    /// A command the array had accepted was aborted before it ran (`by`: preempt-and-abort, reboot,
    /// power-loss).
    LunTaskAborted {
        lun: Name,
        nexus: Name,
        by: Name,
    },
    /// A persistent-reservation change (`action`: registered, unregistered, reserved, released, cleared).
    Reservation {
        lun: Name,
        nexus: Name,
        action: Name,
        key: u64,
    },
    /// `by` preempted `victim_key`; `victims` are the nexuses whose registrations were removed and
    /// `aborted` how many of their accepted commands were aborted (0 for a plain PREEMPT).
    Preempted {
        lun: Name,
        by: Name,
        key: u64,
        victim_key: u64,
        victims: Vec<Name>,
        aborted: u32,
    },
    /// Every registration and the reservation of a LUN vanished (an array reboot without APTPL).
    ReservationsLost {
        lun: Name,
        reason: Name,
    },
    /// Unflushed blocks of a volatile write cache were lost when the array lost power.
    CachedWritesLost {
        lun: Name,
        blocks: u64,
    },
    /// Only the first `applied_blocks` of a multi-block write reached the media.
    TornWrite {
        lun: Name,
        lba: u64,
        applied_blocks: u32,
        of_blocks: u32,
    },
    /// A LUN became visible to a host (mapped and probed).
    LunPresented {
        lun: Name,
        host: Name,
    },
    /// A host's multipath layer marked one of its storage paths up or down.
    PathState {
        host: Name,
        network: Name,
        up: bool,
        reason: Name,
    },
    /// The pseudo-LUN was removed after the last path stayed down (MPIO PDORemovePeriod).
    DeviceRemoved {
        host: Name,
        lun: Name,
    },
    /// I/O held by `no_path_retry` was released onto a path that came back.
    QueueReleased {
        host: Name,
        lun: Name,
        count: u32,
    },
    /// What the failover logic's disk arbitration did (`step`: registered, reserved, challenged, won,
    /// lost, defended, reasserted, fenced, data-path-failed). `db` is absent for the disk witness.
    DiskArbitration {
        node: Name,
        db: Option<Name>,
        lun: Name,
        step: Name,
    },
    /// Configuration, recorded at the start: the cluster's witness vote is the reservation on `lun`.
    WitnessDisk {
        lun: Name,
    },
    /// Ground truth at the end of the run: the messages each LUN holds (durable or in cache), in
    /// block order, and the database the LUN belongs to.
    LunContents {
        lun: Name,
        db: Option<Name>,
        msgs: Vec<MessageId>,
    },
    RunEnded,
}

/// The run's history, in the order events happened (true time, then causal order within an instant).
#[derive(Clone, Debug, Default)]
pub struct History {
    records: Vec<Record>,
}

impl History {
    pub fn new() -> Self {
        History::default()
    }

    pub fn push(&mut self, at: SimTime, event: Event) {
        debug_assert!(self.records.last().is_none_or(|last| last.at <= at), "history must be in time order");
        self.records.push(Record { at, event });
    }

    /// Inserts an event at `index`, which must hold a record of the same instant or be the end. Fault
    /// injection uses it to put a fault before the effects it caused in the same instant: the fault is
    /// recorded only once it is known to have taken effect.
    pub fn insert(&mut self, index: usize, at: SimTime, event: Event) {
        debug_assert!(
            self.records[index..].iter().all(|record| record.at == at),
            "only same-instant insertion keeps the history in time order"
        );
        debug_assert!(self.records[..index].last().is_none_or(|last| last.at <= at));
        self.records.insert(index, Record { at, event });
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Writes one JSON object per line. Field order is fixed by the types, so the bytes are stable.
    pub fn write_jsonl(&self, out: &mut impl Write) -> io::Result<()> {
        for record in &self.records {
            serde_json::to_writer(&mut *out, record).map_err(io::Error::other)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// The SHA-256 of the JSON Lines form, lower-case hex: the run's fingerprint.
    pub fn sha256(&self) -> String {
        struct HashWriter(Sha256);
        impl Write for HashWriter {
            fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
                self.0.update(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut writer = HashWriter(Sha256::new());
        self.write_jsonl(&mut writer).expect("hashing never fails");
        hex::encode(writer.0.finalize())
    }

    /// Reads a history back from JSON Lines (used by tests and by `drill check` on saved runs).
    pub fn read_jsonl(text: &str) -> Result<History, String> {
        let mut history = History::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let record: Record =
                serde_json::from_str(line).map_err(|error| format!("line {}: {error}", index + 1))?;
            history.records.push(record);
        }
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Arc::from(text)
    }

    #[test]
    fn a_history_round_trips_through_json_lines() {
        let mut history = History::new();
        history.push(SimTime::ZERO, Event::RunStarted { scenario: name("s"), seed: 7 });
        history.push(
            SimTime::from_secs(1),
            Event::Acked { msg: 3, db: name("SG1"), node: name("mbx1"), epoch: 1 },
        );
        let mut bytes = Vec::new();
        history.write_jsonl(&mut bytes).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with(r#"{"at":0,"event":"run-started","scenario":"s","seed":7}"#), "{text}");
        let back = History::read_jsonl(&text).unwrap();
        assert_eq!(back.records(), history.records());
    }

    #[test]
    fn the_fingerprint_changes_when_any_event_changes() {
        let mut a = History::new();
        a.push(SimTime::ZERO, Event::RunStarted { scenario: name("s"), seed: 1 });
        let mut b = History::new();
        b.push(SimTime::ZERO, Event::RunStarted { scenario: name("s"), seed: 2 });
        assert_ne!(a.sha256(), b.sha256());
        assert_eq!(a.sha256(), a.clone().sha256());
        assert_eq!(a.sha256().len(), 64);
    }
}
