//! Hubs and their clients in the world: the mail workload, hub inputs through the host gate, and
//! delivery to the database's active copy by DNS name, resolved through the hub host's resolver cache
//! (and on a miss the DNS server, `dns.rs`). Nothing flushes that cache but a power loss of the hub's
//! host: after a failover a hub keeps sending to the old owner until its cached answer expires (the
//! database's `name_ttl`), as an Exchange hub transport server would.

use super::gate::Packet;
use super::wake::Component;
use super::{Ev, World};
use crate::history::Event;
use failover::{DbId, Endpoint, HubId, HubInput, HubOutput, Input, Message};
use kernel::SimTime;
use std::time::Duration;

/// How many message ids each database has: database `k`'s messages are numbered from
/// `k × MESSAGES_PER_DATABASE + 1` on. Each database's mail gets consecutive ids, so a store, a LUN or
/// a checker holds it as a few ranges (`failover::MessageSet`, the array's extents) rather than one
/// entry per message; and the ids stay readable (`1000000042` is database 1's 42nd message). No run
/// comes near it: validation refuses runs of more than `MAX_RUN_EVENTS` events.
pub const MESSAGES_PER_DATABASE: u64 = 1_000_000_000;
const _: () = assert!(crate::scenario::MAX_RUN_EVENTS < MESSAGES_PER_DATABASE);

/// The next message id of database `db`, whose messages so far number `count`.
fn message_id(db: DbId, count: &mut u64) -> failover::MessageId {
    *count += 1;
    u64::from(db.0) * MESSAGES_PER_DATABASE + *count
}

impl World<'_> {
    pub(super) fn submit(&mut self) {
        let now = self.now();
        let stop = SimTime::ZERO + self.scenario.workload.stop;
        if now >= stop || self.db_names.is_empty() || self.hubs.is_empty() {
            return;
        }
        let submission = self.submissions;
        self.submissions += 1;
        let db = DbId(self.workload.below(self.db_names.len() as u64) as u16);
        let msg = message_id(db, &mut self.next_message_of[db.0 as usize]);
        let hub = (submission as usize) % self.hubs.len();
        let bytes = u32::try_from(self.scenario.workload.message_size_bytes).unwrap_or(u32::MAX);
        // A client reaches a hub only while its host runs: a paused, dark or still booting hub
        // accepts nothing.
        if self.executing(self.hubs[hub].host) {
            let hub_name = self.host_names[self.hubs[hub].host].clone();
            self.record(Event::Submitted { msg, db: self.db_names[db.0 as usize].clone(), hub: hub_name });
            self.hub_input(hub, HubInput::Submit { msg, db, bytes });
        }
        let mean = Duration::from_secs_f64(1.0 / self.scenario.workload.rate_per_second);
        let next = now + self.workload.exponential(mean);
        self.queue.schedule(next, Ev::Submit);
    }

    /// An input for a hub from its own host; it passes the host gate.
    pub(super) fn hub_input(&mut self, hub: usize, input: HubInput) {
        let host = self.hubs[hub].host;
        self.deliver_local(host, Packet::Hub { hub, input });
    }

    /// Runs one input through a hub whose host runs.
    pub(super) fn run_hub(&mut self, hub: usize, input: HubInput) {
        let now = self.now();
        let host = self.hubs[hub].host;
        let local = self.clocks[host].local(now);
        let outputs = self.hubs[hub].hub.handle(local, input);
        for output in outputs {
            match output {
                HubOutput::Send { to, message } => self.send_from_hub(hub, to, message),
                HubOutput::WakeAt(local) => {
                    let at = self.clocks[host].true_time(local);
                    self.wake_at(Component::Hub(hub), at);
                }
                HubOutput::ClientAck { msg, db, node, epoch } => {
                    let node = self.node_name(node.0 as usize);
                    let db = self.db_names[db.0 as usize].clone();
                    self.record(Event::Acked { msg, db, node, epoch });
                }
                HubOutput::Resubmitted { db, count } => {
                    let hub_name = self.host_names[host].clone();
                    let db = self.db_names[db.0 as usize].clone();
                    self.record(Event::Resubmitted { hub: hub_name, db, count });
                }
            }
        }
    }

    fn send_from_hub(&mut self, hub: usize, to: Endpoint, message: Message) {
        match to {
            // By name: through the hub host's resolver cache and, on a miss, the DNS server (`dns.rs`).
            Endpoint::DatabaseName(db) => self.send_to_name(hub, db, message),
            Endpoint::Node(node) => self.send_to_node(hub, Some(node.0 as usize), message),
            Endpoint::Hub(_) => self.send_to_node(hub, None, message),
        }
    }

    /// Sends a hub's message to `node`; with no node (the name did not resolve, or nobody holds the
    /// address it resolved to: a stale answer for another subnet) it is undeliverable and the hub tries
    /// again shortly.
    pub(super) fn send_to_node(&mut self, hub: usize, node: Option<usize>, message: Message) {
        let now = self.now();
        let from_host = self.hubs[hub].host;
        let Some(node) = node else {
            let packet = Packet::Hub { hub, input: HubInput::Undeliverable { message } };
            self.schedule_local(now + Duration::from_millis(1), from_host, packet);
            return;
        };
        let to_host = self.nodes[node].host;
        let bytes = message.wire_bytes();
        let from = Endpoint::Hub(HubId(hub as u16));
        let packet = Packet::Node { node, input: Input::Received { from, path: None, message } };
        self.send_packet(now, from_host, to_host, None, bytes, packet);
    }
}
