//! A hub transport server: delivers client mail to the active copy of each database, retries until
//! the store acknowledges, and keeps delivered mail in the transport dumpster so that a lossy failover
//! can be made whole by resubmission (the store suppresses duplicates by message id).
//!
//! The dumpster is FIFO per database, bounded by size (`MaxDumpsterSizePerStorageGroup`, 18 MB) and
//! age (`MaxDumpsterTime`, 7 days); disabling it is an unsafe-but-real setting the hazard suite covers.
//!
//! A hub addresses a database by its network name ([`Endpoint::DatabaseName`]) and is never told that
//! the database moved: as with Exchange's hub transport, the host's DNS resolver cache decides where
//! a delivery goes, so after a failover the hub keeps sending to the old owner (and its queue stays in
//! retry) until the cached answer's TTL runs out. Nothing here flushes that cache.

use crate::config::HubConfig;
use crate::io::Message;
use crate::types::{DbId, Endpoint, Epoch, HubId, LocalTime, MessageId, NodeId};
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Clone, Debug, PartialEq)]
pub enum HubInput {
    Wake,
    /// A client hands over a message for `db`.
    Submit {
        msg: MessageId,
        db: DbId,
        bytes: u32,
    },
    Received {
        from: Endpoint,
        message: Message,
    },
    /// The driver could not deliver a send (the name did not resolve, or no route).
    Undeliverable {
        message: Message,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum HubOutput {
    Send {
        to: Endpoint,
        message: Message,
    },
    WakeAt(LocalTime),
    /// The client got its success reply: the message is acknowledged.
    ClientAck {
        msg: MessageId,
        db: DbId,
        node: NodeId,
        epoch: Epoch,
    },
    Resubmitted {
        db: DbId,
        count: u64,
    },
}

#[derive(Clone, Debug)]
struct Pending {
    db: DbId,
    bytes: u32,
    next_attempt: LocalTime,
    resubmitted: bool,
    /// Delivery attempts so far; a second attempt means the first went unanswered.
    attempts: u32,
    /// A resubmission is not a client request: no client is waiting for it.
    client_waiting: bool,
}

#[derive(Clone, Debug)]
struct DumpsterEntry {
    msg: MessageId,
    bytes: u32,
    delivered_at: LocalTime,
}

pub struct Hub {
    id: HubId,
    config: HubConfig,
    now: LocalTime,
    pending: BTreeMap<MessageId, Pending>,
    /// `pending` indexed by next attempt, so finding what is due does not scan a long queue (a
    /// database that is down for minutes queues thousands of messages).
    due: BTreeSet<(LocalTime, MessageId)>,
    /// Databases whose delivery queue is in retry, with the one message that probes the database.
    /// After a failed attempt (a rejection, a name that does not resolve, or a delivery left
    /// unanswered) an Exchange queue goes into retry: it holds its messages and tries again at the
    /// retry interval, instead of sending every queued message at a server that is not there. The
    /// first acknowledgement takes the queue out of retry and releases everything it held.
    retrying: BTreeMap<DbId, MessageId>,
    /// Messages held by a queue in retry (not in `due`).
    parked: BTreeMap<DbId, BTreeSet<MessageId>>,
    dumpster: BTreeMap<DbId, (VecDeque<DumpsterEntry>, u64)>,
    out: Vec<HubOutput>,
}

/// How soon a hub tries again after a rejection or an unresolvable name.
const RETRY_AFTER_REJECT: Duration = Duration::from_secs(1);

impl Hub {
    pub fn new(id: HubId, config: HubConfig, now: LocalTime) -> Hub {
        Hub {
            id,
            config,
            now,
            pending: BTreeMap::new(),
            due: BTreeSet::new(),
            retrying: BTreeMap::new(),
            parked: BTreeMap::new(),
            dumpster: BTreeMap::new(),
            out: Vec::new(),
        }
    }

    pub fn id(&self) -> HubId {
        self.id
    }

    /// Messages waiting for an acknowledgement (queued mail).
    pub fn queued(&self) -> usize {
        self.pending.len()
    }

    pub fn dumpster_len(&self, db: DbId) -> usize {
        self.dumpster.get(&db).map_or(0, |(entries, _)| entries.len())
    }

    pub fn handle(&mut self, now: LocalTime, input: HubInput) -> Vec<HubOutput> {
        self.now = self.now.max(now);
        self.expire_dumpster();
        match input {
            HubInput::Wake => {}
            HubInput::Submit { msg, db, bytes } => {
                let pending = Pending {
                    db,
                    bytes,
                    next_attempt: self.now,
                    resubmitted: false,
                    attempts: 0,
                    client_waiting: true,
                };
                self.enqueue(msg, pending);
            }
            HubInput::Received { from, message } => self.receive(from, message),
            HubInput::Undeliverable { message } => {
                if let Message::Deliver { msg, db, .. } = message {
                    self.enter_retry(db, msg);
                    self.reschedule(msg, self.now + RETRY_AFTER_REJECT);
                }
            }
        }
        self.send_due();
        let next = self.due.first().map(|&(at, _)| at);
        if let Some(next) = next {
            self.out.push(HubOutput::WakeAt(next.max(self.now + Duration::from_millis(1))));
        }
        std::mem::take(&mut self.out)
    }

    fn receive(&mut self, from: Endpoint, message: Message) {
        match message {
            Message::DeliverAck { db, msg, epoch } => {
                let Some(pending) = self.pending.remove(&msg) else { return };
                self.due.remove(&(pending.next_attempt, msg));
                if let (true, Endpoint::Node(node)) = (pending.client_waiting, from) {
                    self.out.push(HubOutput::ClientAck { msg, db, node, epoch });
                }
                // A resubmitted message is not kept again: the store takes most of them as duplicates,
                // and re-keeping thousands after each lossy failover evicted fresh mail from a dumpster
                // sized for the workload (slow/ccr-nemesis-kinds seed 894). Its first delivery stays.
                if !pending.resubmitted {
                    self.keep_in_dumpster(db, msg, pending.bytes);
                }
                self.leave_retry(db);
            }
            Message::DeliverReject { db, msg } => {
                self.enter_retry(db, msg);
                self.reschedule(msg, self.now + RETRY_AFTER_REJECT);
            }
            Message::ResubmitRequest { db, window } => {
                self.resubmit(db, window);
                if let Endpoint::Node(_) = from {
                    self.out.push(HubOutput::Send { to: from, message: Message::ResubmitAck { db } });
                }
            }
            _ => {}
        }
    }

    fn enqueue(&mut self, msg: MessageId, pending: Pending) {
        self.due.insert((pending.next_attempt, msg));
        if let Some(replaced) = self.pending.insert(msg, pending) {
            self.due.remove(&(replaced.next_attempt, msg));
        }
    }

    fn reschedule(&mut self, msg: MessageId, at: LocalTime) {
        if let Some(pending) = self.pending.get_mut(&msg) {
            self.due.remove(&(pending.next_attempt, msg));
            pending.next_attempt = at;
            self.due.insert((at, msg));
        }
    }

    /// Puts `db`'s queue in retry with `msg` as its probe, unless it already is in retry. A message
    /// no longer queued cannot probe: a rejection or a failed send of a message already acknowledged
    /// (a resumed old owner answering the deliveries it held while frozen, after the new owner took
    /// them) says nothing of the database now, and a probe that is never sent again would hold the
    /// queue in retry for good (`fast/scc-zombie-owner`: every message after the resume stranded).
    fn enter_retry(&mut self, db: DbId, msg: MessageId) {
        if self.pending.contains_key(&msg) {
            self.retrying.entry(db).or_insert(msg);
        }
    }

    /// An acknowledgement from `db`: its queue leaves retry and everything it held is due now.
    fn leave_retry(&mut self, db: DbId) {
        self.retrying.remove(&db);
        let held = self.parked.remove(&db).unwrap_or_default();
        for msg in held {
            if let Some(pending) = self.pending.get_mut(&msg) {
                // A fresh start: the database just answered, so this is no retry of a lost attempt.
                pending.attempts = 0;
                pending.next_attempt = self.now;
                self.due.insert((self.now, msg));
            }
        }
    }

    fn send_due(&mut self) {
        let now = self.now;
        let retry = self.config.delivery_retry;
        let id = self.id;
        // Due messages in message-id order, as the queue scan always sent them.
        let mut due: Vec<MessageId> = Vec::new();
        while let Some(&(at, msg)) = self.due.first() {
            if at > now {
                break;
            }
            self.due.pop_first();
            due.push(msg);
        }
        due.sort_unstable();
        for msg in due {
            let Some(pending) = self.pending.get(&msg) else { continue };
            let db = pending.db;
            // A second attempt means the first went unanswered: the queue goes into retry.
            if pending.attempts >= 1 {
                self.enter_retry(db, msg);
            }
            if self.retrying.get(&db).is_some_and(|&probe| probe != msg) {
                self.parked.entry(db).or_default().insert(msg);
                continue;
            }
            let Some(pending) = self.pending.get_mut(&msg) else { continue };
            pending.next_attempt = now + retry;
            self.due.insert((pending.next_attempt, msg));
            pending.attempts += 1;
            self.out.push(HubOutput::Send {
                to: Endpoint::DatabaseName(pending.db),
                message: Message::Deliver {
                    hub: id,
                    db: pending.db,
                    msg,
                    bytes: pending.bytes,
                    resubmitted: pending.resubmitted,
                },
            });
        }
    }

    fn keep_in_dumpster(&mut self, db: DbId, msg: MessageId, bytes: u32) {
        if !self.config.dumpster_enabled || self.config.dumpster_size_bytes == 0 {
            return;
        }
        let (entries, total) = self.dumpster.entry(db).or_default();
        entries.push_back(DumpsterEntry { msg, bytes, delivered_at: self.now });
        *total += u64::from(bytes);
        while *total > self.config.dumpster_size_bytes {
            let Some(evicted) = entries.pop_front() else { break };
            *total -= u64::from(evicted.bytes);
        }
    }

    fn expire_dumpster(&mut self) {
        let cutoff = self.now - self.config.dumpster_time;
        for (entries, total) in self.dumpster.values_mut() {
            while entries.front().is_some_and(|entry| entry.delivered_at < cutoff) {
                if let Some(evicted) = entries.pop_front() {
                    *total -= u64::from(evicted.bytes);
                }
            }
        }
    }

    /// Resubmits what was delivered to `db` within the last `window`.
    fn resubmit(&mut self, db: DbId, window: Duration) {
        let since = self.now - window;
        let entries: Vec<(MessageId, u32)> = self
            .dumpster
            .get(&db)
            .map(|(entries, _)| {
                entries
                    .iter()
                    .filter(|entry| entry.delivered_at >= since)
                    .map(|entry| (entry.msg, entry.bytes))
                    .collect()
            })
            .unwrap_or_default();
        let mut count = 0;
        for (msg, bytes) in entries {
            if self.pending.contains_key(&msg) {
                continue;
            }
            count += 1;
            let pending = Pending {
                db,
                bytes,
                next_attempt: self.now,
                resubmitted: true,
                attempts: 0,
                client_waiting: false,
            };
            self.enqueue(msg, pending);
        }
        self.out.push(HubOutput::Resubmitted { db, count });
    }
}
