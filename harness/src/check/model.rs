//! The reconstruction pass shared by every checker.
//!
//! It replays the history once and derives, from recorded outputs and emulator ground truth only:
//!
//! - mount intervals per (node, database): opened by `mounted`, closed by `dismounted` or by a
//!   `host-down` of that node whose reason is `power`. A `host-down` with reason `freeze` does not close
//!   a mount, because a frozen owner still holds the database and may write when it resumes;
//! - host down intervals, from `host-down` until `host-up`, whatever the reason;
//! - the witness lock holder over time, from `witness-lease` and `witness-reset`;
//! - per (database, node) contents as generations of messages, rebuilt from `committed`, `log-closed`,
//!   `log-replayed` and `rolled-back` (a full reseed is a roll-back to generation 0 followed by
//!   replays), with the copy's highest closed generation over time
//!   and, for every mount, the generations the mounting copy held just before it mounted.
//!
//! Assumptions, stated so they can be challenged: a node is named after the host it runs on (so a
//! `host-down` of host `n1` concerns node `n1`); replaying a generation replaces whatever the copy held
//! for that generation (a log file is replayed once, not appended twice).
//!
//! Records after the declared end of the run are ignored (and noted), so every checker sees the same
//! prefix of the history.
//!
//! The reconstruction is built as the run goes ([`Builder::observe`], one record at a time), and keeps
//! nothing per message: a copy's logs hold their messages as ranges ([`MessageSet`]), and of the
//! records it keeps only those that are not about one message ([`Kept`]), with their places in the
//! history. The per-message rules are judged as the records pass, by each checker's own online part
//! (`single_writer::Writes`, `fencing::Oracle`, `data_loss::Acks`, `service::Tally`).

use crate::history::{
    Event, HostDownReason, LinkDirection, MessageId, MessageSet, Name, Record, WitnessResetReason,
};
use kernel::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// A record's place in the history: its index (causal order) and its true time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Point {
    pub pos: usize,
    pub at: SimTime,
}

/// A stretch of history from one record to another. `end` is `None` while still open at the end.
///
/// Spans are compared by record index rather than by time, so two events in the same instant keep the
/// causal order the history recorded them in.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub start: Point,
    pub end: Option<Point>,
}

impl Span {
    fn end_pos(&self) -> usize {
        self.end.map_or(usize::MAX, |end| end.pos)
    }

    /// True when the span covers the state reached after applying the first `n` records.
    pub fn open_after(&self, n: usize) -> bool {
        self.start.pos < n && self.end_pos() >= n
    }

    /// True when some state of the history lies inside both spans.
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start.pos < other.end_pos() && other.start.pos < self.end_pos()
    }

    /// The states inside both spans, if any.
    pub fn intersection(&self, other: &Span) -> Option<Span> {
        if !self.overlaps(other) {
            return None;
        }
        let start = if self.start.pos >= other.start.pos { self.start } else { other.start };
        let end = match (self.end, other.end) {
            (Some(a), Some(b)) => Some(if a.pos <= b.pos { a } else { b }),
            (end, None) | (None, end) => end,
        };
        Some(Span { start, end })
    }

    /// This span without `other`: up to two pieces, before and after it.
    fn minus(&self, other: &Span) -> Vec<Span> {
        if !self.overlaps(other) {
            return vec![*self];
        }
        let mut pieces = Vec::new();
        if self.start.pos < other.start.pos {
            pieces.push(Span { start: self.start, end: Some(other.start) });
        }
        if let Some(resumed) = other.end.filter(|end| end.pos < self.end_pos()) {
            pieces.push(Span { start: resumed, end: self.end });
        }
        pieces
    }
}

/// One interval during which `node` had `db` mounted for writing in `epoch`.
#[derive(Clone, Debug)]
pub(crate) struct Mount {
    pub node: Name,
    pub db: Name,
    pub epoch: u64,
    /// The last generation the mounting copy brings; this epoch writes from `generation + 1` on.
    pub generation: u64,
    pub span: Span,
    /// The (generation, epoch) logs the node's copy held just before it mounted.
    pub held_before: Vec<(u64, u64)>,
    /// Reinstated by a revert to a memory snapshot that held it, not mounted by the node's decision.
    pub resumed: bool,
}

/// Why a host stopped executing, as far as mounts care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DownKind {
    /// Volatile state is gone: mounts end.
    PowerLoss,
    /// The host is paused and keeps its state: mounts survive.
    Freeze,
}

/// One interval during which a host was not executing, whatever the reason.
#[derive(Clone, Debug)]
pub(crate) struct Down {
    pub span: Span,
}

/// A change of the witness lock: from `point` on, `holder` holds it until the given time (or nobody).
#[derive(Clone, Debug)]
pub(crate) struct WitnessChange {
    pub point: Point,
    pub holder: Option<(Name, SimTime)>,
    /// For a reset: whether the witness lost its lock table (went down or restarted) rather than the
    /// holder releasing the lock.
    pub lost_with_witness: bool,
}

/// One log generation held by a copy.
#[derive(Clone, Debug)]
struct Log {
    epoch: u64,
    closed: bool,
    messages: MessageSet,
    /// Messages written into this log more than once.
    repeated: MessageSet,
}

impl Log {
    fn new(epoch: u64, closed: bool) -> Log {
        Log { epoch, closed, messages: MessageSet::new(), repeated: MessageSet::new() }
    }
}

/// A database copy's contents: log generations in order, each with its epoch and messages.
#[derive(Clone, Debug, Default)]
pub(crate) struct Contents {
    logs: BTreeMap<u64, Log>,
}

impl Contents {
    /// An active write appends to the open generation. A write tagged with another epoch than the one
    /// the copy holds for that generation starts a new log file of that generation, which replaces the
    /// old one; the lineage checker reports the mount that made this possible.
    fn commit(&mut self, generation: u64, epoch: u64, msg: MessageId) {
        let log = self.logs.entry(generation).or_insert_with(|| Log::new(epoch, false));
        if log.epoch != epoch {
            *log = Log::new(epoch, false);
        }
        if !log.messages.insert(msg) {
            log.repeated.insert(msg);
        }
    }

    /// Closing a generation makes it shippable; a generation with no writes still exists as a log.
    fn close(&mut self, generation: u64, epoch: u64) {
        let log = self.logs.entry(generation).or_insert_with(|| Log::new(epoch, true));
        if log.epoch == epoch {
            log.closed = true;
        } else {
            *log = Log::new(epoch, true);
        }
    }

    /// A replayed generation replaces what the copy held for it, because a log file is applied once.
    fn replay(&mut self, generation: u64, epoch: u64, messages: &[MessageId]) {
        let mut log = Log::new(epoch, true);
        for &msg in messages {
            if !log.messages.insert(msg) {
                log.repeated.insert(msg);
            }
        }
        self.logs.insert(generation, log);
    }

    fn roll_back(&mut self, to_generation: u64) {
        self.logs.retain(|generation, _| *generation <= to_generation);
    }

    /// The highest closed generation: how far this copy has replayed (or, on an active, shipped).
    pub fn highest_closed(&self) -> Option<u64> {
        self.logs.iter().rev().find(|(_, log)| log.closed).map(|(generation, _)| *generation)
    }

    /// Every message the copy holds, in any generation.
    pub fn messages(&self) -> MessageSet {
        let mut all = MessageSet::new();
        for log in self.logs.values() {
            all.union_with(&log.messages);
        }
        all
    }

    /// How many message ids the copy holds more than once (in two generations, or twice in one).
    pub fn duplicates(&self) -> u64 {
        let mut seen = MessageSet::new();
        let mut twice = MessageSet::new();
        for log in self.logs.values() {
            twice.union_with(&log.repeated);
            twice.union_with(&log.messages.intersection(&seen));
            seen.union_with(&log.messages);
        }
        twice.len()
    }

    /// Every (generation, epoch) log held, in generation order.
    pub fn generations(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.logs.iter().map(|(generation, log)| (*generation, log.epoch))
    }
}

/// Everything known about one database copy on one node.
#[derive(Clone, Debug)]
pub(crate) struct DbCopy {
    /// The contents after the last record of the run.
    pub contents: Contents,
    /// (record index, highest closed generation after that record), appended on every change.
    levels: Vec<(usize, Option<u64>)>,
}

impl DbCopy {
    fn new() -> Self {
        DbCopy { contents: Contents::default(), levels: Vec::new() }
    }

    /// The highest closed generation after the first `n` records, or `None` if it held none then.
    pub fn level_after(&self, n: usize) -> Option<u64> {
        let index = self.levels.partition_point(|(pos, _)| *pos < n);
        index.checked_sub(1).and_then(|i| self.levels.get(i)).and_then(|(_, level)| *level)
    }

    /// True when the copy existed (any content event or mount) within the first `n` records.
    pub fn existed_after(&self, n: usize) -> bool {
        self.levels.first().is_some_and(|(pos, _)| *pos < n)
    }

    fn record_level(&mut self, pos: usize) {
        let level = self.contents.highest_closed();
        if self.levels.last().is_none_or(|(_, last)| *last != level) {
            self.levels.push((pos, level));
        }
    }
}

/// The records the reconstruction keeps: every record that is not about one message (see
/// [`Kept::keeps`]), each with its place in the whole history, so spans and positions mean the same as
/// in the history itself.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    records: Vec<(usize, Record)>,
    /// How many records the history had in all, kept or not.
    total: usize,
}

impl Kept {
    /// Whether a record is kept: per-message records (`submitted`, `committed`, `acked`,
    /// `duplicate-suppressed`, `lun-write`, `lun-contents`) are judged as they pass and dropped; a
    /// `log-replayed` is kept without its messages (lineage and reachability need the generation, not
    /// what it held), and a `log-closed` as it is (one per generation, and it moves a copy's level, so
    /// the state at an instant changes only at kept records but for a commit that replaces another
    /// epoch's closed log).
    pub fn keeps(event: &Event) -> bool {
        matches!(event, Event::LogClosed { .. } | Event::LogReplayed { .. }) || !event.is_per_message()
    }

    fn keep(record: &Record) -> Option<Record> {
        match &record.event {
            Event::LogClosed { .. } => Some(record.clone()),
            Event::LogReplayed { node, db, generation, epoch, .. } => Some(Record {
                at: record.at,
                event: Event::LogReplayed {
                    node: node.clone(),
                    db: db.clone(),
                    generation: *generation,
                    epoch: *epoch,
                    messages: Vec::new(),
                },
            }),
            event if event.is_per_message() => None,
            _ => Some(record.clone()),
        }
    }

    fn push(&mut self, record: &Record) {
        if let Some(kept) = Kept::keep(record) {
            self.records.push((self.total, kept));
        }
        self.total += 1;
    }

    /// How many records the history had, kept or not: the position after the last one.
    pub fn len(&self) -> usize {
        self.total
    }

    /// The kept records, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Record> {
        self.records.iter().map(|(_, record)| record)
    }

    /// The kept records with their positions in the history.
    pub fn indexed(&self) -> impl DoubleEndedIterator<Item = (usize, &Record)> {
        self.records.iter().map(|(pos, record)| (*pos, record))
    }

    /// The kept records at positions `from..to`.
    pub fn between(&self, from: usize, to: usize) -> impl Iterator<Item = (usize, &Record)> {
        let start = self.records.partition_point(|(pos, _)| *pos < from);
        self.records[start..].iter().take_while(move |(pos, _)| *pos < to).map(|(pos, record)| (*pos, record))
    }

    /// The record at position `pos`, if it was kept.
    pub fn get(&self, pos: usize) -> Option<&Record> {
        let index = self.records.binary_search_by_key(&pos, |(kept, _)| *kept).ok()?;
        self.records.get(index).map(|(_, record)| record)
    }

    /// How many records happened by true time `t` (inclusive), as far as the kept records tell: the
    /// position of the first kept record after `t`. Dropped records just before it count as happened
    /// by `t` even when they are later; they change nothing the state at an instant is read for.
    fn count_by(&self, t: SimTime) -> usize {
        let index = self.records.partition_point(|(_, record)| record.at <= t);
        self.records.get(index).map_or(self.total, |(pos, _)| *pos)
    }
}

/// The reconstruction of one history, cut at the declared end of the run.
#[derive(Debug, Default)]
pub(crate) struct Model {
    /// The records the checkers consider (the history up to the declared end), without the
    /// per-message ones.
    pub records: Kept,
    /// Every mount interval, in the order the mounts happened.
    pub mounts: Vec<Mount>,
    /// Down intervals per host, in order.
    pub downs: BTreeMap<Name, Vec<Down>>,
    /// Witness lock changes, in order.
    pub witness: Vec<WitnessChange>,
    /// Copies keyed by (database, node).
    pub copies: BTreeMap<(Name, Name), DbCopy>,
    /// What the reconstruction found odd or could not interpret.
    pub notes: Vec<String>,
}

/// Builds the [`Model`] one record at a time, as the run produces them.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    model: Model,
    open_mounts: BTreeMap<(Name, Name), usize>,
    open_downs: BTreeMap<Name, usize>,
    reported_disorder: bool,
    previous: SimTime,
    /// Each VM's latest snapshot: its node's copies as they were (a VM is named like its node).
    snapshots: BTreeMap<Name, Vec<(Name, Contents)>>,
    /// The mounts a VM's latest memory snapshot holds: (database, epoch, generation).
    image_mounts: BTreeMap<Name, Vec<(Name, u64, u64)>>,
    ended: bool,
}

impl Builder {
    /// Whether `node` has `db` mounted now, before the next record is applied.
    pub fn mounted(&self, db: &Name, node: &Name) -> bool {
        self.open_mounts.contains_key(&(db.clone(), node.clone()))
    }

    /// The position the next record will have.
    pub fn next_pos(&self) -> usize {
        self.model.records.len()
    }

    /// Whether the last record observed was `run-ended`.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The model of everything observed.
    pub fn finish(self) -> Model {
        self.model
    }

    /// Applies one record.
    pub fn observe(&mut self, record: &Record) {
        let pos = self.model.records.len();
        let point = Point { pos, at: record.at };
        if record.at < self.previous && !self.reported_disorder {
            // Out-of-order records only reach us from a hand-edited or corrupted file; durations
            // are computed with saturating arithmetic, so the checks go on but may be off.
            self.model.notes.push(format!(
                "record {pos} at {} is earlier than the record before it ({}): the history is out of time \
                 order",
                record.at, self.previous
            ));
            self.reported_disorder = true;
        }
        self.previous = self.previous.max(record.at);
        self.ended = matches!(record.event, Event::RunEnded);
        self.apply(record, point);
        self.model.records.push(record);
    }

    fn apply(&mut self, record: &Record, point: Point) {
        let pos = point.pos;
        match &record.event {
            Event::Mounted { node, db, epoch, generation, .. } => {
                self.mount_opened(node, db, *epoch, *generation, point);
            }
            Event::Dismounted { node, db, .. } => {
                match self.open_mounts.remove(&(db.clone(), node.clone())) {
                    Some(index) => self.close_mount(index, point),
                    None => self
                        .model
                        .notes
                        .push(format!("{node} dismounted {db} at {} without an open mount", point.at)),
                }
            }
            Event::HostDown { host, reason } => self.host_down(host, *reason, point),
            Event::HostUp { host, .. } => match self.open_downs.remove(host) {
                Some(index) => self.close_down(host, index, point),
                None => {
                    self.model.notes.push(format!("host-up of {host} at {} while it was not down", point.at))
                }
            },
            Event::WitnessLease { host, until } => {
                let holder = Some((host.clone(), *until));
                self.model.witness.push(WitnessChange { point, holder, lost_with_witness: false });
            }
            Event::WitnessReset { reason } => {
                let lost_with_witness = *reason == WitnessResetReason::WitnessDown;
                self.model.witness.push(WitnessChange { point, holder: None, lost_with_witness });
            }
            Event::Committed { node, db, msg, epoch, generation } => {
                let copy = self.copy(db, node);
                copy.contents.commit(*generation, *epoch, *msg);
                copy.record_level(pos);
            }
            Event::LogClosed { node, db, generation, epoch } => {
                let copy = self.copy(db, node);
                copy.contents.close(*generation, *epoch);
                copy.record_level(pos);
            }
            Event::LogReplayed { node, db, generation, epoch, messages } => {
                let copy = self.copy(db, node);
                copy.contents.replay(*generation, *epoch, messages);
                copy.record_level(pos);
            }
            Event::RolledBack { node, db, to_generation } => {
                let copy = self.copy(db, node);
                copy.contents.roll_back(*to_generation);
                copy.record_level(pos);
            }
            Event::VmSnapshotTaken { vm, memory } => self.snapshot_taken(vm, *memory),
            Event::VmReverted { vm, memory, .. } => self.reverted(vm, *memory, point),
            _ => {}
        }
    }

    fn mount_opened(&mut self, node: &Name, db: &Name, epoch: u64, generation: u64, point: Point) {
        let key = (db.clone(), node.clone());
        if let Some(index) = self.open_mounts.remove(&key) {
            self.close_mount(index, point);
            self.model.notes.push(format!(
                "{node} mounted {db} at {} while its previous mount was still open; the earlier mount is \
                 taken to end there",
                point.at
            ));
        }
        let copy = self.copy(db, node);
        let held_before = copy.contents.generations().collect();
        copy.record_level(point.pos);
        self.open_mounts.insert(key, self.model.mounts.len());
        self.model.mounts.push(Mount {
            node: node.clone(),
            db: db.clone(),
            epoch,
            generation,
            span: Span { start: point, end: None },
            held_before,
            resumed: false,
        });
    }

    fn host_down(&mut self, host: &Name, reason: HostDownReason, point: Point) {
        // A frozen host may also lose power: the freeze interval ends and a power-loss one starts.
        if let Some(index) = self.open_downs.remove(host) {
            self.close_down(host, index, point);
        }
        let downs = self.model.downs.entry(host.clone()).or_default();
        self.open_downs.insert(host.clone(), downs.len());
        downs.push(Down { span: Span { start: point, end: None } });
        let kind = match reason {
            HostDownReason::Power => DownKind::PowerLoss,
            HostDownReason::Freeze => DownKind::Freeze,
        };
        if kind == DownKind::PowerLoss {
            let ended: Vec<(Name, Name)> =
                self.open_mounts.keys().filter(|(_, node)| node == host).cloned().collect();
            for key in ended {
                if let Some(index) = self.open_mounts.remove(&key) {
                    self.close_mount(index, point);
                }
            }
        }
    }

    /// A snapshot keeps the VM's node's copies as they are; a memory image also its mounts, which a
    /// revert to it resumes.
    fn snapshot_taken(&mut self, vm: &Name, memory: bool) {
        let mounts_then = self
            .open_mounts
            .iter()
            .filter(|((_, node), _)| node == vm)
            .filter_map(|(_, &index)| self.model.mounts.get(index))
            .map(|mount| (mount.db.clone(), mount.epoch, mount.generation))
            .collect();
        if memory {
            self.image_mounts.insert(vm.clone(), mounts_then);
        } else {
            self.image_mounts.remove(vm);
        }
        let kept = self
            .model
            .copies
            .iter()
            .filter(|((_, node), _)| node == vm)
            .map(|((db, _), copy)| (db.clone(), copy.contents.clone()))
            .collect();
        self.snapshots.insert(vm.clone(), kept);
    }

    /// The node's disks go back to the snapshot (a copy it did not hold then is empty); a resumed
    /// memory image has the databases mounted that it had at the snapshot.
    fn reverted(&mut self, vm: &Name, memory: bool, point: Point) {
        let kept = self.snapshots.get(vm).cloned().unwrap_or_default();
        for ((db, node), copy) in self.model.copies.iter_mut() {
            if node == vm {
                let then = kept.iter().find(|(kept_db, _)| kept_db == db);
                copy.contents = then.map(|(_, contents)| contents.clone()).unwrap_or_default();
                copy.record_level(point.pos);
            }
        }
        let resumed = if memory { self.image_mounts.get(vm).cloned().unwrap_or_default() } else { vec![] };
        for (db, epoch, generation) in resumed {
            let held_before = self.copy(&db, vm).contents.generations().collect();
            self.open_mounts.insert((db.clone(), vm.clone()), self.model.mounts.len());
            let span = Span { start: point, end: None };
            self.model.mounts.push(Mount {
                node: vm.clone(),
                db,
                epoch,
                generation,
                span,
                held_before,
                resumed: true,
            });
        }
    }

    fn copy(&mut self, db: &Name, node: &Name) -> &mut DbCopy {
        self.model.copies.entry((db.clone(), node.clone())).or_insert_with(DbCopy::new)
    }

    fn close_mount(&mut self, index: usize, point: Point) {
        if let Some(mount) = self.model.mounts.get_mut(index) {
            mount.span.end = Some(point);
        }
    }

    fn close_down(&mut self, host: &Name, index: usize, point: Point) {
        if let Some(down) = self.model.downs.get_mut(host).and_then(|downs| downs.get_mut(index)) {
            down.span.end = Some(point);
        }
    }
}

impl Model {
    /// How many records have happened by true time `t` (inclusive): the state "at" `t`.
    pub fn count_by(&self, t: SimTime) -> usize {
        self.records.count_by(t)
    }

    /// True when `host` was executing after the first `n` records (neither powered off nor frozen).
    pub fn running_after(&self, host: &Name, n: usize) -> bool {
        self.downs.get(host).is_none_or(|downs| !downs.iter().any(|down| down.span.open_after(n)))
    }

    /// The parts of `span` during which `host` was executing: the span without the host's downs (a
    /// frozen host keeps its mounts but does nothing with them).
    pub fn executing(&self, host: &Name, span: Span) -> Vec<Span> {
        let mut pieces = vec![span];
        for down in self.downs.get(host).into_iter().flatten() {
            pieces = pieces.iter().flat_map(|piece| piece.minus(&down.span)).collect();
        }
        pieces
    }

    /// The mounts of `db`, in the order they happened.
    pub fn mounts_of(&self, db: &Name) -> impl Iterator<Item = &Mount> {
        self.mounts.iter().filter(move |mount| &mount.db == db)
    }

    /// Every database that was ever mounted, in name order.
    pub fn mounted_dbs(&self) -> BTreeSet<Name> {
        self.mounts.iter().map(|mount| mount.db.clone()).collect()
    }

    /// The node holding the witness lock after the first `n` records, judged at true time `t`.
    /// The node whose lock the witness lost when it went down (not released, not expired), if nobody
    /// has been granted the lock since and that node's lease has not yet run out at `t`. Such a node
    /// may go on counting the vote: nobody else can hold it until the witness grants it again.
    pub fn witness_lost_holder(&self, n: usize, t: SimTime) -> Option<&Name> {
        let index = self.witness.partition_point(|change| change.point.pos < n);
        let last = index.checked_sub(1).and_then(|i| self.witness.get(i))?;
        if last.holder.is_some() || !last.lost_with_witness {
            return None;
        }
        let before = index.checked_sub(2).and_then(|i| self.witness.get(i))?;
        before.holder.as_ref().filter(|(_, until)| t < *until).map(|(host, _)| host)
    }

    pub fn witness_holder(&self, n: usize, t: SimTime) -> Option<&Name> {
        let index = self.witness.partition_point(|change| change.point.pos < n);
        let change = index.checked_sub(1).and_then(|i| self.witness.get(i))?;
        change.holder.as_ref().filter(|(_, until)| t < *until).map(|(host, _)| host)
    }

    pub fn copy_of(&self, db: &Name, node: &Name) -> Option<&DbCopy> {
        self.copies.get(&(db.clone(), node.clone()))
    }

    /// The copies of `db`, by node name.
    pub fn copies_of(&self, db: &Name) -> impl Iterator<Item = (&Name, &DbCopy)> {
        self.copies
            .iter()
            .filter(move |((copy_db, _), _)| copy_db == db)
            .map(|((_, node), copy)| (node, copy))
    }

    /// The most recent `fault` record at or before true time `t`, described for a violation detail.
    pub fn fault_before(&self, t: SimTime) -> String {
        let fault =
            self.records.iter().rev().filter(|record| record.at <= t).find_map(|record| {
                match &record.event {
                    Event::Fault { kind, target, network, peer, direction, heal } => {
                        let mut detail = Vec::new();
                        if let Some(network) = network {
                            detail.push(format!("network {network}"));
                        }
                        if let Some(peer) = peer {
                            detail.push(format!("peer {peer}"));
                        }
                        if *direction == Some(LinkDirection::OneWay) {
                            detail.push("one way".to_string());
                        }
                        if *heal {
                            detail.push("automatic heal".to_string());
                        }
                        Some((record.at, kind, target, detail.join(", ")))
                    }
                    _ => None,
                }
            });
        match fault {
            Some((at, kind, target, detail)) if detail.is_empty() => {
                format!("last fault: {kind} on {target} at {at}")
            }
            Some((at, kind, target, detail)) => format!("last fault: {kind} on {target} ({detail}) at {at}"),
            None => "no fault was injected before it".to_string(),
        }
    }
}
