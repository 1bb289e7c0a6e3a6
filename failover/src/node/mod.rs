//! One cluster node: the composition of detection, quorum, coordination, resource groups and log
//! shipping, driven by [`Node::handle`].
//!
//! Every call follows the same shape: adopt the new local time, re-evaluate what time alone changes
//! (paths expire, leases run out, quorum may be lost and resources stopped), then process the input,
//! re-evaluate again and ask to be woken at the next deadline. Re-evaluating *before* the input is what
//! keeps a node that resumes from a freeze from acting on what it believed before it froze.

mod arbitration;
mod commit;
mod coordinator;
mod copier;
mod disk_group;
mod disk_witness;
mod quorum;
mod replication;
mod resources;
mod shared_disk;

use crate::config::ClusterConfig;
use crate::copy::{CopyStore, LogFile};
use crate::detector::{Detector, HeartbeatSeen, PeerReport, SendStamp};
use crate::io::{CopyRole, DbAdvert, Input, Message, Output, StopReason};
use crate::io::{Effect, Note};
use crate::types::{DbId, Endpoint, Epoch, Incarnation, LocalTime, NodeId};
use std::collections::BTreeMap;
use std::sync::Arc;

pub use arbitration::{ClaimEvent, ClaimFor, ClaimMode, ClaimStep, DiskClaim, StorageRequests};
pub use commit::{Proposal, Proposals};
pub use copier::{Copier, Inspection};
pub use disk_group::{DiskGroup, WriteStart};
pub use disk_witness::{DiskWitnessState, Ledger, ledger_block};
pub use quorum::WitnessState;
pub use replication::{Activation, ActivationPhase, StartAnnouncement};
pub use resources::Onlining;

/// What survives power loss: the database copies, the ownership records and the boot count on local
/// disk.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    pub copies: BTreeMap<DbId, CopyStore>,
    /// The incarnation of the node's latest boot (0 before the first). Each boot takes the next one
    /// before it sends anything, so no two lives of a node ever stamp a heartbeat alike.
    pub incarnation: Incarnation,
}

/// Volatile per-database state (lost on power loss).
#[derive(Clone, Debug)]
pub struct DbRuntime {
    pub role: CopyRole,
    pub activation: Option<Activation>,
    pub onlining: Option<Onlining>,
    /// The epoch this node mounted in, while active.
    pub active_epoch: Epoch,
    pub current_log_opened_at: LocalTime,
    pub last_write_at: LocalTime,
    /// Following the owner: its progress, our requests, replay and reseed.
    pub copier: Copier,
    /// While this copy is active and owes a resubmission request: when to repeat it.
    pub next_resubmit_at: Option<LocalTime>,
    /// A resource of the group died (its index); the next health check will notice.
    pub crashed: Option<usize>,
    pub restarts: u32,
    /// Whether this copy's newest closed log is one this node wrote as owner (not one it copied).
    pub wrote_newest_log: bool,
    /// Shared-disk groups: the disks' claims, this term's writes and the data-path checks.
    pub disk_group: DiskGroup,
}

impl DbRuntime {
    fn new() -> Self {
        DbRuntime {
            role: CopyRole::Passive,
            activation: None,
            onlining: None,
            active_epoch: 0,
            current_log_opened_at: LocalTime::ZERO,
            last_write_at: LocalTime::ZERO,
            copier: Copier::default(),
            next_resubmit_at: None,
            crashed: None,
            wrote_newest_log: false,
            restarts: 0,
            disk_group: DiskGroup::default(),
        }
    }
}

/// A node's failover logic. Construct it at boot with what its disk holds. A clone is the node's
/// whole memory at one instant (a hypervisor's memory snapshot keeps one).
#[derive(Clone)]
pub struct Node {
    pub(crate) id: NodeId,
    pub(crate) config: Arc<ClusterConfig>,
    pub(crate) peers: Vec<NodeId>,
    pub(crate) now: LocalTime,
    pub(crate) booted_at: LocalTime,
    pub(crate) detector: Detector,
    /// This life's boot count, from the disk, and the sequence of the last heartbeat it sent.
    pub(crate) incarnation: Incarnation,
    pub(crate) heartbeat_sequence: u64,
    pub(crate) next_heartbeat: LocalTime,
    pub(crate) next_health_check: LocalTime,
    pub(crate) witness: WitnessState,
    pub(crate) quorate: bool,
    pub(crate) votes: Vec<crate::io::Voter>,
    pub(crate) quorum_announced: Option<(bool, Vec<crate::io::Voter>)>,
    pub(crate) dbs: BTreeMap<DbId, DbRuntime>,
    pub(crate) pending_decisions: BTreeMap<DbId, (Epoch, LocalTime)>,
    pub(crate) proposals: Proposals,
    pub(crate) disk_witness: DiskWitnessState,
    pub(crate) storage: StorageRequests,
    pub(crate) disk: Disk,
    pub(crate) out: Vec<Output>,
    /// When this node's clock jumped past a pause (a freeze, a hypervisor stun, a memory image
    /// resumed), until it has fresh evidence of its standing: while set, it acknowledges no delivery.
    pub(crate) resumed_at: Option<LocalTime>,
    /// The log each database had open here the last time this node's clock jumped by more than a
    /// heartbeat interval between two inputs (a stun, a freeze, or a resumed memory image: it cannot
    /// tell which). A node that later learns it is a rolled-back image of the owner wrote its own
    /// version of that log since (`reincarnate_if_repeated`).
    pub(crate) open_at_last_jump: BTreeMap<DbId, crate::types::Generation>,
    /// This life's recent heartbeats: sequence and send time (`note_heartbeat_sent`).
    pub(crate) heartbeats_sent: BTreeMap<u64, LocalTime>,
}

impl Node {
    /// Boots a node at local time `now` from its disk. A node that crashed while active finds its open
    /// log on disk and closes it (ESE soft recovery); it never resumes as owner on its own say-so.
    pub fn boot(
        id: NodeId,
        config: Arc<ClusterConfig>,
        mut disk: Disk,
        now: LocalTime,
    ) -> (Node, Vec<Output>) {
        let peers: Vec<NodeId> = config.nodes.iter().copied().filter(|&n| n != id).collect();
        // Counted before anything is sent: the driver keeps the disk across power loss, so this life's
        // heartbeats are told apart from every earlier life's still on the wire.
        disk.incarnation += 1;
        let incarnation = disk.incarnation;
        let mut detector = Detector::new(
            incarnation,
            &peers,
            &config.paths,
            config.failure_timeout(),
            config.settings.heartbeat_interval,
        );
        // Our previous life may have echoed any peer just before it went down, and that peer may count
        // our vote until the echo expires. The reboot wiped the record of it, so we assume the worst:
        // we lent our vote to everyone at boot, and say so in `lends_to` until it runs out, so that no
        // coordinator replaces an owner that may still count us.
        for &peer in &peers {
            detector.note_hears_you_sent(now, peer);
        }
        let mut out = Vec::new();
        let mut dbs = BTreeMap::new();
        for db in &config.databases {
            // Every node keeps the ownership record of every database (the cluster database is
            // replicated to all members), so any node can coordinate; only copy holders hold logs.
            let copy = disk.copies.entry(db.id).or_default();
            if !db.copies.contains(&id) {
                continue;
            }
            if let Some((generation, log)) = copy.current.take() {
                out.push(Output::Note(Note::LogClosed { db: db.id, generation, epoch: log.epoch }));
                copy.logs.insert(generation, log);
                copy.replayed_through = copy.replayed_through.max(generation);
                copy.recovered = Some(generation);
            }
            dbs.insert(db.id, DbRuntime::new());
        }
        let mut node = Node {
            id,
            peers,
            now,
            booted_at: now,
            resumed_at: None,
            open_at_last_jump: BTreeMap::new(),
            heartbeats_sent: BTreeMap::new(),
            detector,
            incarnation,
            heartbeat_sequence: 0,
            // The first heartbeat waits for this node's phase; the rest follow at the interval.
            next_heartbeat: now + config.heartbeat_phase_of(id),
            next_health_check: now + config.settings.health_check_interval,
            witness: WitnessState::default(),
            quorate: false,
            votes: Vec::new(),
            quorum_announced: None,
            dbs,
            pending_decisions: BTreeMap::new(),
            proposals: Proposals::default(),
            disk_witness: DiskWitnessState::default(),
            storage: StorageRequests::default(),
            disk,
            config,
            out,
        };
        node.step(None);
        let outputs = std::mem::take(&mut node.out);
        (node, outputs)
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The persistent part, handed back to the driver when the node loses power.
    pub fn into_disk(self) -> Disk {
        self.disk
    }

    pub fn disk(&self) -> &Disk {
        &self.disk
    }

    /// The role of this node's copy of `db` (for drivers that target faults by role).
    pub fn role(&self, db: DbId) -> Option<CopyRole> {
        self.dbs.get(&db).map(|runtime| runtime.role)
    }

    /// Feeds one input observed at local time `now`; returns what the driver must do.
    pub fn handle(&mut self, now: LocalTime, input: Input) -> Vec<Output> {
        self.note_pause(now);
        self.now = self.now.max(now);
        self.step(Some(input));
        std::mem::take(&mut self.out)
    }

    fn step(&mut self, input: Option<Input>) {
        self.evaluate();
        if let Some(input) = input {
            self.process(input);
            self.evaluate();
        }
        self.send_heartbeats_if_due();
        self.health_check_if_due();
        self.out.push(Output::Effect(Effect::WakeAt(self.next_deadline())));
    }

    fn process(&mut self, input: Input) {
        match input {
            Input::Wake => {}
            Input::Received { from, path, message } => self.receive(from, path, message),
            Input::Witness { call, answer } => self.witness_answer(call, answer),
            Input::ResourceFailed { db, resource } => {
                let database = self.config.database(db).and_then(|config| {
                    config.resources.iter().position(|r| r.kind == crate::config::ResourceKind::Database)
                });
                if let (Some(runtime), Some(failed)) = (self.dbs.get_mut(&db), resource.or(database)) {
                    runtime.crashed = Some(failed);
                }
            }
            Input::OperatorMove { db, to } => self.operator_move(db, to),
            Input::Undeliverable { .. } => {}
            Input::Storage { request, result } => {
                for unanswered in self.storage.unanswered.values_mut() {
                    unanswered.remove(&request);
                }
                self.storage.unanswered.retain(|_, unanswered| !unanswered.is_empty());
                self.storage_answer(request, result);
            }
        }
    }

    fn receive(&mut self, from: Endpoint, path: Option<crate::types::PathId>, message: Message) {
        match message {
            Message::Heartbeat {
                from: peer,
                incarnation,
                sequence,
                sent_at,
                echo,
                counts,
                lends_to,
                quorate,
                dbs,
                newest_of_yours,
            } => {
                let Some(path) = path else { return };
                self.reincarnate_if_repeated(newest_of_yours);
                // A previous life's heartbeat is ignored entirely, adverts too: the new life advertises
                // the same durable ownership record from its disk, so nothing is lost by waiting for it.
                if !self.peers.contains(&peer) || self.detector.from_a_previous_life(peer, incarnation) {
                    return;
                }
                for advert in &dbs {
                    self.observe_advert(peer, advert);
                }
                let report = PeerReport {
                    received_at: Some(self.now),
                    sent_at: Some(sent_at),
                    counts,
                    lends_to,
                    quorate,
                    dbs,
                };
                let stamp = SendStamp { incarnation, sequence };
                self.detector.received(self.now, HeartbeatSeen { peer, path, stamp, sent_at, echo }, report);
            }
            Message::Propose { db, epoch, .. } => {
                if let Endpoint::Node(coordinator) = from {
                    self.proposed(coordinator, db, epoch);
                }
            }
            Message::ProposeReply { db, epoch, voter, accepted, newest } => {
                self.vote_received(db, epoch, voter, accepted, newest);
            }
            Message::Activate { db, epoch, previous_owner } => self.activate(db, epoch, previous_owner),
            Message::EpochStarted { db, epoch, start } => {
                if let (Endpoint::Node(owner), Some(copy)) = (from, self.disk.copies.get_mut(&db)) {
                    copy.record_epoch_start(epoch, start);
                    self.send(Endpoint::Node(owner), Message::EpochStartedAck { db, epoch });
                }
            }
            Message::EpochStartedAck { db, epoch } => {
                if let Endpoint::Node(peer) = from {
                    self.start_acknowledged(db, epoch, peer);
                }
            }
            Message::LogClosed { db, epoch, generation, continues } => {
                self.note_log_closed(db, epoch, generation, continues);
            }
            Message::CopyRequest { db, from: first, max_count } => {
                if let Endpoint::Node(peer) = from {
                    self.serve_copy(peer, db, first, max_count);
                }
            }
            Message::LogData { db, generation, epoch, messages, bytes, corrupt, reply_last } => {
                let log = LogFile { epoch, messages, bytes };
                self.receive_log(db, generation, log, corrupt, reply_last);
            }
            Message::LineageRequest { db } => {
                if let (Endpoint::Node(peer), Some(copy)) = (from, self.disk.copies.get(&db)) {
                    let epoch_starts = copy.epoch_starts.clone();
                    self.send(Endpoint::Node(peer), Message::LineageReply { db, epoch_starts });
                }
            }
            Message::LineageReply { db, epoch_starts } => self.lineage_reply(db, epoch_starts),
            Message::Deliver { hub, db, msg, bytes, .. } => self.deliver(hub, db, msg, bytes),
            Message::ResubmitAck { db } => {
                if let Endpoint::Hub(hub) = from {
                    self.resubmission_acknowledged(db, hub);
                }
            }
            Message::ResubmitRequest { .. } | Message::DeliverAck { .. } | Message::DeliverReject { .. } => {}
        }
    }

    /// Re-evaluates everything that time alone can change.
    /// A running node wakes at least every heartbeat interval, so a longer gap between two inputs
    /// means it did not run: it was frozen, stunned, or is a memory image resumed long after it was
    /// taken. What it believed before the gap (its leases, its peers' last reports) may describe a
    /// cluster that has moved on without it, and a later life of a rolled-back image may have written
    /// the very logs it is about to write. So it acknowledges nothing until it has heard from the
    /// cluster again (`settle_pause`). Without this, a memory image of the owner acknowledged mail
    /// for the half second before a peer's heartbeat told it it was a rolled-back image, into a log
    /// its later life had already written and shipped with other mail: that mail was lost (the
    /// hypervisor swarm with owner reverts, `ha-ccr-nemesis` seeds 446, 737 and nine more).
    /// Part of membership: with quorum disabled (unsafe, settable) nothing checks it, and the resumed
    /// zombie of `hazards/no-quorum-frozen-owner` serves its queued mail, as that hazard shows.
    fn note_pause(&mut self, now: LocalTime) {
        if now > self.now + self.config.settings.heartbeat_interval {
            self.open_at_last_jump = self
                .disk
                .copies
                .iter()
                .filter_map(|(&db, copy)| copy.current.as_ref().map(|(open, _)| (db, *open)))
                .collect();
        }
        let longest_sleep = self.config.settings.heartbeat_interval * 2;
        let membership = self.config.settings.quorum != crate::config::QuorumModel::Disabled;
        if membership && now > self.now + longest_sleep {
            self.resumed_at = Some(now);
        }
    }

    /// The pause is settled by a peer that echoes a heartbeat we sent since (its heartbeats also
    /// tell a rolled-back image what its later life sent, `reincarnate_if_repeated`), or, with no peer
    /// to hear, by a failure timeout, by which time every vote we count was heard since the pause. A
    /// witness grant does not settle it: the witness cannot tell an image from its later life.
    fn settle_pause(&mut self) {
        let Some(since) = self.resumed_at else { return };
        let echoed = self.peers.iter().any(|&peer| self.detector.echoed_since(peer, since));
        if echoed || self.now >= since + self.config.failure_timeout() {
            self.resumed_at = None;
        }
    }

    fn evaluate(&mut self) {
        self.settle_pause();
        self.expire_storage_requests();
        self.evaluate_quorum();
        self.manage_witness();
        self.manage_disk_witness();
        // Releasing the witness ends its vote at once: the claim must say so in the same step.
        self.evaluate_quorum();
        if self.quorate {
            self.coordinate();
        }
        self.advance_replication();
        self.repeat_resubmissions();
        self.advance_activations();
        self.advance_onlining();
        self.advance_storage();
    }

    fn adverts(&self) -> Vec<DbAdvert> {
        self.dbs
            .iter()
            .map(|(&db, runtime)| {
                let copy = self.disk.copies.get(&db);
                DbAdvert {
                    db,
                    owner_epoch: copy.map_or(0, |c| c.owner_epoch),
                    owner: copy.and_then(|c| c.owner),
                    owner_epoch_start: copy.and_then(|c| c.epoch_start(c.owner_epoch)),
                    role: runtime.role,
                    last_generation: copy.map_or(0, CopyStore::last_generation),
                    current_generation: copy.and_then(|c| c.current.as_ref()).map_or(0, |(g, _)| *g),
                }
            })
            .collect()
    }

    fn send_heartbeats_if_due(&mut self) {
        if self.now < self.next_heartbeat {
            return;
        }
        self.next_heartbeat = self.now + self.config.settings.heartbeat_interval;
        let counts = self.counted_peers();
        let lends_to = self.peers_that_may_count_us();
        let dbs = self.adverts();
        for index in 0..self.peers.len() {
            let peer = self.peers[index];
            for path_index in 0..self.config.paths.len() {
                let path = self.config.paths[path_index];
                let echo = self.detector.echo_for(self.now, peer, path);
                let newest_of_yours = self.detector.newest_from(peer).and_then(|(stamp, sent_at)| {
                    sent_at.map(|sent_at| (stamp.incarnation, stamp.sequence, sent_at))
                });
                if echo.is_some() {
                    self.detector.note_hears_you_sent(self.now, peer);
                }
                self.heartbeat_sequence += 1;
                self.note_heartbeat_sent();
                self.out.push(Output::Effect(Effect::Send {
                    to: Endpoint::Node(peer),
                    path: Some(path),
                    message: Message::Heartbeat {
                        from: self.id,
                        incarnation: self.incarnation,
                        sequence: self.heartbeat_sequence,
                        sent_at: self.now,
                        echo,
                        counts: counts.clone(),
                        lends_to: lends_to.clone(),
                        quorate: self.quorate,
                        dbs: dbs.clone(),
                        newest_of_yours,
                    },
                }));
            }
        }
    }

    /// A peer reports the newest heartbeat it accepted from us. If we never sent that stamp in this
    /// life, an earlier life of ours with the same incarnation (or a later one) sent it: our disk,
    /// boot count included, was rolled back (a VM reverted to a snapshot) and this life repeats an
    /// incarnation. Peers would discard our heartbeats as older than that life's until our sequence
    /// caught up (or forever, from an older incarnation), and their echoes of that life would look
    /// like ours. So we take the incarnation after the one reported, on disk too, and number our
    /// heartbeats afresh: the peers see a reboot. A stamp we did send never triggers this, since
    /// our stamps only grow within a life. (SWIM's refutation, Das et al. 2002: a member that hears
    /// of its own incarnation beyond its present one takes a larger one.)
    ///
    /// A stamp we did send, but at another time, proves it too: a revert shorter than a few
    /// heartbeat intervals lets the image's sequence reach its later life's before any peer reports
    /// a stamp beyond it, and then it sends again, at other times, the very stamps its later life sent
    /// (`ha-ccr-nemesis` seeds 1034 and 1557 with owner reverts drawn).
    fn reincarnate_if_repeated(&mut self, newest_of_yours: Option<(Incarnation, u64, LocalTime)>) {
        let Some((incarnation, sequence, sent_at)) = newest_of_yours else { return };
        let beyond_ours = (incarnation, sequence) > (self.incarnation, self.heartbeat_sequence);
        let sent_otherwise = incarnation == self.incarnation
            && self.heartbeats_sent.get(&sequence).is_some_and(|&ours| ours != sent_at);
        if !beyond_ours && !sent_otherwise {
            return;
        }
        self.incarnation = incarnation.max(self.incarnation) + 1;
        self.disk.incarnation = self.incarnation;
        self.heartbeat_sequence = 0;
        self.heartbeats_sent.clear();
        self.detector.reincarnate(self.incarnation);
        // This life is a rolled-back image: a later life may have gone on writing the log this image
        // has open (the open log of a memory image is not closed by recovery at boot), so it is
        // marked like a recovered log and re-copied if the lineage holds it in full; so is the log it
        // closed when it stepped down. Only a log written here: one copied whole from an owner is
        // the lineage's own, and marking a passive's newest copied log made a later epoch's lineage
        // look forked there, so the passive reseeded from scratch (`ha-ccr-nemesis` seed 1306).
        for (db, copy) in &mut self.disk.copies {
            let wrote_newest = self.dbs.get(db).is_some_and(|runtime| runtime.wrote_newest_log);
            let written_here = copy.current.as_ref().map(|(open, _)| *open).or_else(|| {
                let newest = copy.last_generation();
                (wrote_newest && newest > 0).then_some(newest)
            });
            if let Some(generation) = written_here {
                copy.recovered = Some(generation);
            }
        }
        // An image that serves would go on writing, in the same epoch, generations its later life
        // already wrote and shipped: a fork of the lineage the passive copies hold, and the mail its
        // later life acknowledged in them lost (ha-ccr-nemesis seeds 71, 189 and 214). It steps down,
        // as a deposed owner does, and the coordinator decides afresh who serves.
        let serving: Vec<DbId> = self
            .dbs
            .iter()
            .filter(|(_, runtime)| matches!(runtime.role, CopyRole::Active | CopyRole::Activating))
            .map(|(&db, _)| db)
            .collect();
        // An image that believed it owned a database (serving now, or having stopped for lost
        // quorum the instant it resumed) had a later life that may have acknowledged mail.
        let owned: Vec<DbId> = self
            .disk
            .copies
            .iter()
            .filter(|(db, copy)| copy.owner == Some(self.id) || serving.contains(db))
            .map(|(&db, _)| db)
            .collect();
        for db in serving {
            self.stop_db(db, StopReason::Deposed);
        }
        for db in owned {
            self.owe_resubmission_since_open_log(db);
            self.discard_own_version_since_resume(db);
        }
    }

    /// The log the image had open when it resumed was also written, and shipped, by its later life:
    /// whatever the image wrote there and after is its own fork of the lineage in the same epoch,
    /// which epochs cannot tell apart. It goes (the hubs resubmit its mail, and the copy takes the
    /// later life's logs from a peer that holds them) rather than being kept beside the passive's
    /// other version (`ha-ccr-nemesis` seed 3180: a revert 1.2 s back, three acknowledged messages
    /// in the image's own generation 65, then suppressed as duplicates of it and lost).
    fn discard_own_version_since_resume(&mut self, db: DbId) {
        let Some(&resumed_with) = self.open_at_last_jump.get(&db) else { return };
        let Some(copy) = self.disk.copies.get_mut(&db) else { return };
        if resumed_with == 0 || copy.last_generation() < resumed_with {
            return;
        }
        copy.roll_back(resumed_with - 1);
        self.out.push(Output::Note(Note::RolledBack { db, to_generation: resumed_with - 1 }));
    }

    /// A rolled-back image of an owner knows that its later life may have acknowledged mail the revert
    /// took from its disk, which no copy may hold yet (the later life's open log). Only the
    /// hubs' dumpsters still have it: ask them for everything delivered since the log the image had
    /// open was opened, before the snapshot; the next owner receives it and suppresses duplicates.
    fn owe_resubmission_since_open_log(&mut self, db: DbId) {
        let Some(opened_at) = self.dbs.get(&db).map(|runtime| runtime.current_log_opened_at) else { return };
        let since = opened_at - self.config.settings.resubmit_margin;
        if let Some(copy) = self.disk.copies.get_mut(&db) {
            let owed = copy
                .resubmission
                .get_or_insert(crate::copy::OwedResubmission { since, ..Default::default() });
            owed.since = owed.since.min(since);
            owed.acknowledged.clear();
        }
        self.request_resubmission(db);
    }

    /// Remembers when this life sent each of its recent heartbeats, to tell its own stamps from an
    /// earlier life's (`reincarnate_if_repeated`). A peer reports the newest it accepted, at most a
    /// few intervals old, so the last 256 are plenty and the map stays bounded.
    fn note_heartbeat_sent(&mut self) {
        self.heartbeats_sent.insert(self.heartbeat_sequence, self.now);
        while self.heartbeats_sent.len() > 256 {
            self.heartbeats_sent.pop_first();
        }
    }

    /// Peers whose heartbeats arrive both ways on at least one path.
    pub(crate) fn counted_peers(&self) -> Vec<NodeId> {
        self.peers
            .iter()
            .copied()
            .filter(|&peer| self.detector.peer_up(self.now, peer, &self.config.paths))
            .collect()
    }

    /// Peers that may still be counting our vote: our last echo to them has not yet expired, with the
    /// takeover margin for latency and drift.
    fn peers_that_may_count_us(&self) -> Vec<NodeId> {
        let margin = self.config.settings.takeover_margin;
        self.peers
            .iter()
            .copied()
            .filter(|&peer| self.now < self.detector.peer_stops_counting_us_by(peer) + margin)
            .collect()
    }

    pub(crate) fn send(&mut self, to: Endpoint, message: Message) {
        self.out.push(Output::Effect(Effect::Send { to, path: None, message }));
    }

    fn next_deadline(&self) -> LocalTime {
        let mut deadline = self.next_heartbeat.min(self.next_health_check);
        let mut consider = |at: Option<LocalTime>| {
            if let Some(at) = at.filter(|&at| at > self.now) {
                deadline = deadline.min(at);
            }
        };
        consider(self.detector.next_expiry(self.now));
        consider(self.witness.next_deadline(self.config.settings.heartbeat_interval * 2));
        consider(self.disk_witness.next_deadline(self.now));
        consider(self.proposals.next_deadline());
        consider(self.storage_deadline());
        for runtime in self.dbs.values() {
            for deadline in runtime.copier.deadlines() {
                consider(deadline);
            }
            consider(runtime.next_resubmit_at);
            consider(runtime.onlining.as_ref().map(|onlining| onlining.step_done_at));
            consider(runtime.activation.as_ref().map(|activation| activation.deadline));
            consider(
                runtime
                    .activation
                    .as_ref()
                    .and_then(|activation| activation.announcement.as_ref())
                    .map(|announcement| announcement.sent_at + self.config.settings.heartbeat_interval),
            );
            if runtime.role == CopyRole::Active {
                consider(Some(runtime.last_write_at + self.config.settings.log_roll_idle));
            }
        }
        for &(_, at) in self.pending_decisions.values() {
            consider(Some(at));
        }
        for &peer in &self.peers {
            consider(Some(
                self.detector.peer_stops_counting_us_by(peer) + self.config.settings.takeover_margin,
            ));
        }
        deadline.max(self.now + core::time::Duration::from_millis(1))
    }
}
