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

use crate::history::{
    Event, History, HostDownReason, LinkDirection, MessageId, Name, Record, WitnessResetReason,
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
    messages: Vec<MessageId>,
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
        let log = self.logs.entry(generation).or_insert(Log { epoch, closed: false, messages: Vec::new() });
        if log.epoch != epoch {
            *log = Log { epoch, closed: false, messages: Vec::new() };
        }
        log.messages.push(msg);
    }

    /// Closing a generation makes it shippable; a generation with no writes still exists as a log.
    fn close(&mut self, generation: u64, epoch: u64) {
        let log = self.logs.entry(generation).or_insert(Log { epoch, closed: true, messages: Vec::new() });
        if log.epoch == epoch {
            log.closed = true;
        } else {
            *log = Log { epoch, closed: true, messages: Vec::new() };
        }
    }

    /// A replayed generation replaces what the copy held for it, because a log file is applied once.
    fn replay(&mut self, generation: u64, epoch: u64, messages: &[MessageId]) {
        self.logs.insert(generation, Log { epoch, closed: true, messages: messages.to_vec() });
    }

    fn roll_back(&mut self, to_generation: u64) {
        self.logs.retain(|generation, _| *generation <= to_generation);
    }

    /// The highest closed generation: how far this copy has replayed (or, on an active, shipped).
    pub fn highest_closed(&self) -> Option<u64> {
        self.logs.iter().rev().find(|(_, log)| log.closed).map(|(generation, _)| *generation)
    }

    /// Every (message id, generation, epoch) in log order.
    pub fn entries(&self) -> impl Iterator<Item = (MessageId, u64, u64)> + '_ {
        self.logs
            .iter()
            .flat_map(|(generation, log)| log.messages.iter().map(move |msg| (*msg, *generation, log.epoch)))
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

/// The reconstruction of one history, cut at the declared end of the run.
#[derive(Debug)]
pub(crate) struct Model<'h> {
    /// The records the checkers consider: the history up to the declared end.
    pub records: &'h [Record],
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

impl<'h> Model<'h> {
    pub fn build(history: &'h History, end: SimTime) -> Model<'h> {
        let all = history.records();
        let kept = all.iter().take_while(|record| record.at <= end).count();
        let records = all.get(..kept).unwrap_or(all);
        let mut model = Model {
            records,
            mounts: Vec::new(),
            downs: BTreeMap::new(),
            witness: Vec::new(),
            copies: BTreeMap::new(),
            notes: Vec::new(),
        };
        if kept < all.len() {
            model.notes.push(format!(
                "{} records after the declared end {end} were ignored by every check",
                all.len() - kept
            ));
        }
        if !matches!(all.last(), Some(Record { event: Event::RunEnded, .. })) {
            model.notes.push(
                "the history does not end with run-ended: it may be truncated, so the checks judged only \
                 what was recorded"
                    .to_string(),
            );
        }
        model.replay();
        model
    }

    fn replay(&mut self) {
        let mut open_mounts: BTreeMap<(Name, Name), usize> = BTreeMap::new();
        let mut open_downs: BTreeMap<Name, usize> = BTreeMap::new();
        let mut reported_disorder = false;
        let mut previous = SimTime::ZERO;
        // Each VM's latest snapshot: its node's copies as they were (a VM is named like its node).
        let mut snapshots: BTreeMap<Name, Vec<(Name, Contents)>> = BTreeMap::new();
        // The mounts a VM's latest memory snapshot holds: (database, epoch, generation).
        let mut image_mounts: BTreeMap<Name, Vec<(Name, u64, u64)>> = BTreeMap::new();
        let records = self.records;
        for (pos, record) in records.iter().enumerate() {
            let point = Point { pos, at: record.at };
            if record.at < previous && !reported_disorder {
                // Out-of-order records only reach us from a hand-edited or corrupted file; durations
                // are computed with saturating arithmetic, so the checks go on but may be off.
                self.notes.push(format!(
                    "record {pos} at {} is earlier than the record before it ({previous}): the history is \
                     out of time order",
                    record.at
                ));
                reported_disorder = true;
            }
            previous = previous.max(record.at);
            match &record.event {
                Event::Mounted { node, db, epoch, generation, .. } => {
                    let key = (db.clone(), node.clone());
                    if let Some(index) = open_mounts.remove(&key) {
                        self.close_mount(index, point);
                        self.notes.push(format!(
                            "{node} mounted {db} at {} while its previous mount was still open; the earlier \
                             mount is taken to end there",
                            record.at
                        ));
                    }
                    let copy = self.copy(db, node);
                    let held_before = copy.contents.generations().collect();
                    copy.record_level(pos);
                    open_mounts.insert(key, self.mounts.len());
                    self.mounts.push(Mount {
                        node: node.clone(),
                        db: db.clone(),
                        epoch: *epoch,
                        generation: *generation,
                        span: Span { start: point, end: None },
                        held_before,
                        resumed: false,
                    });
                }
                Event::Dismounted { node, db, .. } => match open_mounts.remove(&(db.clone(), node.clone())) {
                    Some(index) => self.close_mount(index, point),
                    None => self
                        .notes
                        .push(format!("{node} dismounted {db} at {} without an open mount", record.at)),
                },
                Event::HostDown { host, reason } => {
                    let kind = match reason {
                        HostDownReason::Power => DownKind::PowerLoss,
                        HostDownReason::Freeze => DownKind::Freeze,
                    };
                    // A frozen host may also lose power: the freeze interval ends and a power-loss one starts.
                    if let Some(index) = open_downs.remove(host) {
                        self.close_down(host, index, point);
                    }
                    let downs = self.downs.entry(host.clone()).or_default();
                    open_downs.insert(host.clone(), downs.len());
                    downs.push(Down { span: Span { start: point, end: None } });
                    if kind == DownKind::PowerLoss {
                        let ended: Vec<(Name, Name)> =
                            open_mounts.keys().filter(|(_, node)| node == host).cloned().collect();
                        for key in ended {
                            if let Some(index) = open_mounts.remove(&key) {
                                self.close_mount(index, point);
                            }
                        }
                    }
                }
                Event::HostUp { host, .. } => match open_downs.remove(host) {
                    Some(index) => self.close_down(host, index, point),
                    None => {
                        self.notes.push(format!("host-up of {host} at {} while it was not down", record.at))
                    }
                },
                Event::WitnessLease { host, until } => {
                    let holder = Some((host.clone(), *until));
                    self.witness.push(WitnessChange { point, holder, lost_with_witness: false });
                }
                Event::WitnessReset { reason } => {
                    let lost_with_witness = *reason == WitnessResetReason::WitnessDown;
                    self.witness.push(WitnessChange { point, holder: None, lost_with_witness });
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
                Event::VmSnapshotTaken { vm, memory } => {
                    // A memory image holds the guest's mounts: a revert to it resumes them.
                    let mounts_then = open_mounts
                        .iter()
                        .filter(|((_, node), _)| node == vm)
                        .filter_map(|(_, &index)| self.mounts.get(index))
                        .map(|mount| (mount.db.clone(), mount.epoch, mount.generation))
                        .collect();
                    if *memory {
                        image_mounts.insert(vm.clone(), mounts_then);
                    } else {
                        image_mounts.remove(vm);
                    }
                    let kept = self
                        .copies
                        .iter()
                        .filter(|((_, node), _)| node == vm)
                        .map(|((db, _), copy)| (db.clone(), copy.contents.clone()))
                        .collect();
                    snapshots.insert(vm.clone(), kept);
                }
                // The node's disks go back to the snapshot: a copy it did not hold then is empty.
                Event::VmReverted { vm, memory, .. } => {
                    let kept = snapshots.get(vm).cloned().unwrap_or_default();
                    for ((db, node), copy) in self.copies.iter_mut() {
                        if node == vm {
                            let then = kept.iter().find(|(kept_db, _)| kept_db == db);
                            copy.contents = then.map(|(_, contents)| contents.clone()).unwrap_or_default();
                            copy.record_level(pos);
                        }
                    }
                    // A resumed memory image has the databases mounted that it had at the snapshot.
                    let resumed =
                        if *memory { image_mounts.get(vm).cloned().unwrap_or_default() } else { vec![] };
                    for (db, epoch, generation) in resumed {
                        let held_before = self.copy(&db, vm).contents.generations().collect();
                        open_mounts.insert((db.clone(), vm.clone()), self.mounts.len());
                        let span = Span { start: point, end: None };
                        self.mounts.push(Mount {
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
                _ => {}
            }
        }
    }

    fn copy(&mut self, db: &Name, node: &Name) -> &mut DbCopy {
        self.copies.entry((db.clone(), node.clone())).or_insert_with(DbCopy::new)
    }

    fn close_mount(&mut self, index: usize, point: Point) {
        if let Some(mount) = self.mounts.get_mut(index) {
            mount.span.end = Some(point);
        }
    }

    fn close_down(&mut self, host: &Name, index: usize, point: Point) {
        if let Some(down) = self.downs.get_mut(host).and_then(|downs| downs.get_mut(index)) {
            down.span.end = Some(point);
        }
    }

    /// How many records have happened by true time `t` (inclusive): the state "at" `t`.
    pub fn count_by(&self, t: SimTime) -> usize {
        self.records.partition_point(|record| record.at <= t)
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
