//! The DNS server on its host, the nodes' registrations and the hubs' resolvers.
//!
//! With a host of role `dns` the DNS server is a component of that host, and everything it does
//! crosses the fabric and the host gate: a node's `RegisterName` becomes a dynamic update from the
//! node's host to the server, applied when it arrives; a hub's delivery to a database name its
//! resolver cache does not answer becomes a query to the server and an answer back. A paused DNS host
//! holds both in its receive ring and acts on them when it resumes, an off one answers nothing, a cut
//! link loses them.
//!
//! The messages a hub sends to a name while its lookup is in flight wait here, one query per name
//! whatever the number of messages (a hub addresses databases by name and is never told more; the
//! failover logic does not change). The answer sends them to whichever node holds the address it names
//! (`address.rs`) and is cached for its TTL. Without an answer the resolver asks again on the Windows
//! DNS client's schedule (queries at 0, 1, 2, 4 and 8 s; `DnsConfig::query_timeouts`, KB 2834226)
//! and gives up after 10 s: the messages go back to the hub as undeliverable and its queue goes into
//! retry. An answer to a lookup the resolver gave up on is dropped, as a closed query's answer is.
//! A lost update stays lost: a Windows DNS client re-registers its records once a day, longer than
//! any run.
//!
//! Without a `dns` host, DNS is outside the model: a lookup that misses the cache is answered at once
//! and a registration takes effect at once, whatever the hosts and the network do.

use super::World;
use super::gate::Packet;
use crate::history::Event;
use emulators::HostId;
use emulators::dns::Answer;
use failover::{DbId, HubInput, Message};
use std::time::Duration;

/// H: the wire size of a DNS query for a short name (UDP and IP headers, the DNS header, one question).
const QUERY_BYTES: u64 = 64;
/// H: an answer: the query plus one A record.
const ANSWER_BYTES: u64 = 80;
/// H: a dynamic update (RFC 2136) of one A record, with its prerequisites.
const UPDATE_BYTES: u64 = 200;

/// One hub's lookup of one name: the messages waiting for its answer.
#[derive(Debug)]
pub(super) struct Lookup {
    /// Tells this lookup's timers from those of an earlier lookup of the same name.
    id: u64,
    waiting: Vec<Message>,
}

impl Lookup {
    /// Adds a message to wait; a resend of a message already waiting replaces it.
    fn wait(&mut self, message: Message) {
        let id_of = |message: &Message| match message {
            Message::Deliver { msg, .. } => Some(*msg),
            _ => None,
        };
        let resent = id_of(&message)
            .and_then(|msg| self.waiting.iter().position(|waiting| id_of(waiting) == Some(msg)));
        match resent {
            Some(index) => self.waiting[index] = message,
            None => self.waiting.push(message),
        }
    }
}

impl World<'_> {
    /// A hub sends `message` to `db`'s network name: to the address its resolver cache holds, or, on
    /// a miss, once the DNS server has answered.
    pub(super) fn send_to_name(&mut self, hub: usize, db: DbId, message: Message) {
        let now = self.now();
        let client = HostId(self.hubs[hub].host as u32);
        let name = &self.db_names[db.0 as usize];
        if self.dns_host.is_none() {
            let address = self.dns.resolve(now, client, name);
            self.send_to_address(hub, db, address, message);
            return;
        }
        if let Some(address) = self.dns.cached(now, client, name) {
            self.send_to_address(hub, db, Some(address), message);
            return;
        }
        if let Some(lookup) = self.lookups.get_mut(&(hub, db)) {
            lookup.wait(message);
            return;
        }
        let id = self.next_lookup;
        self.next_lookup += 1;
        self.lookups.insert((hub, db), Lookup { id, waiting: vec![message] });
        self.send_query(hub, db, id, 0);
    }

    /// Sends a hub's message to the node holding `db`'s address on the subnet `address` names.
    fn send_to_address(&mut self, hub: usize, db: DbId, address: Option<HostId>, message: Message) {
        let node = address.and_then(|address| self.address_holder(db, address.0 as usize));
        self.send_to_node(hub, node, message);
    }

    /// The `attempt`-th query of a lookup leaves the hub's host; its timer starts.
    fn send_query(&mut self, hub: usize, db: DbId, lookup: u64, attempt: usize) {
        let Some(server) = self.dns_host else { return };
        let now = self.now();
        let host = self.hubs[hub].host;
        self.send_packet(now, host, server, None, QUERY_BYTES, Packet::DnsQuery { hub, db, lookup });
        let wait = self.dns.config().query_timeouts[attempt];
        self.schedule_local(now + wait, host, Packet::DnsTimer { hub, db, lookup, attempt });
    }

    /// A query reached the DNS server (whose host runs: the gate saw to that); the answer goes back,
    /// from the zone as it is now.
    pub(super) fn dns_query_arrive(&mut self, hub: usize, db: DbId, lookup: u64) {
        let Some(server) = self.dns_host else { return };
        let now = self.now();
        let answer = self.dns.answer(now, &self.db_names[db.0 as usize]);
        let packet = Packet::DnsAnswer { hub, db, lookup, answer };
        self.send_packet(now, server, self.hubs[hub].host, None, ANSWER_BYTES, packet);
    }

    /// An answer reached a hub's resolver: it is cached, and what waited for it is sent. An answer to
    /// a lookup the resolver gave up on is dropped (its query id is no longer open): a DNS host that
    /// resumes answers the queries in its ring oldest first, and the oldest may predate a registration
    /// waiting behind them.
    pub(super) fn dns_answer_arrive(&mut self, hub: usize, db: DbId, lookup: u64, answer: Option<Answer>) {
        if self.lookups.get(&(hub, db)).is_none_or(|current| current.id != lookup) {
            return;
        }
        let Some(lookup) = self.lookups.remove(&(hub, db)) else { return };
        let now = self.now();
        let client = HostId(self.hubs[hub].host as u32);
        if let Some(answer) = answer {
            self.dns.cache_answer(now, client, &self.db_names[db.0 as usize], answer);
        }
        for message in lookup.waiting {
            self.send_to_address(hub, db, answer.map(|answer| answer.address), message);
        }
    }

    /// A resolver timer of a hub whose host runs: ask again, or give up after the last query.
    pub(super) fn dns_timer(&mut self, hub: usize, db: DbId, lookup: u64, attempt: usize) {
        if self.lookups.get(&(hub, db)).is_none_or(|current| current.id != lookup) {
            return;
        }
        if attempt + 1 < self.dns.config().query_timeouts.len() {
            self.send_query(hub, db, lookup, attempt + 1);
            return;
        }
        let Some(lookup) = self.lookups.remove(&(hub, db)) else { return };
        self.record(Event::LookupTimedOut {
            hub: self.host_names[self.hubs[hub].host].clone(),
            db: self.db_names[db.0 as usize].clone(),
            messages: lookup.waiting.len() as u64,
        });
        for message in lookup.waiting {
            self.hub_input(hub, HubInput::Undeliverable { message });
        }
    }

    /// A node's `RegisterName`: its database's name now points at its host's address, with the
    /// database's `name_ttl`. An update to the DNS server, or applied at once without one.
    pub(super) fn register_name(&mut self, node: usize, db: DbId) {
        let host = self.nodes[node].host;
        let ttl = self.scenario.databases.get(db.0 as usize).map(|database| database.name_ttl);
        match self.dns_host {
            None => self.dns_update_arrive(db, host, ttl),
            Some(server) => {
                let packet = Packet::DnsUpdate { db, host, ttl };
                self.send_packet(self.now(), host, server, None, UPDATE_BYTES, packet);
            }
        }
    }

    /// An update reached the DNS server (or DNS outside the model): the zone takes it.
    pub(super) fn dns_update_arrive(&mut self, db: DbId, host: usize, ttl: Option<Duration>) {
        let now = self.now();
        self.dns.register(now, &self.db_names[db.0 as usize], HostId(host as u32), ttl);
        let event = Event::NameRegistered {
            db: self.db_names[db.0 as usize].clone(),
            host: self.host_names[host].clone(),
        };
        self.record(event);
    }

    /// `host` lost power: its resolver cache (kept in memory by the DNS Client service) and the lookups
    /// of a hub on it are gone. The hub's queue is on disk and sends again once it is back.
    pub(super) fn dns_client_lost_power(&mut self, host: usize) {
        self.dns.flush_cache(HostId(host as u32));
        self.lookups.retain(|&(hub, _), _| self.hubs[hub].host != host);
    }
}

#[cfg(test)]
mod tests {
    use super::super::World;
    use emulators::HostId;
    use kernel::SimTime;
    use std::path::Path;
    use std::time::Duration;

    /// Runs `world` up to (not including) `until`.
    fn run_before(world: &mut World, until: SimTime) {
        while world.queue.peek_time().is_some_and(|at| at < until) {
            let Some((_, event)) = world.queue.pop() else { break };
            if !world.handle(event) {
                break;
            }
        }
    }

    #[test]
    fn a_hub_host_that_loses_power_forgets_its_cached_answers_and_its_lookups_in_flight() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/fast/ccr-multi-subnet-dns-frozen.toml");
        let scenario = crate::scenario::load(&path).unwrap_or_else(|error| panic!("{error}"));
        let mut world = World::new(&scenario, 1);
        world.start();
        // Mail starts at 10 s: by 20 s the hub has asked dc1 and cached the answer for 30 s.
        run_before(&mut world, SimTime::from_secs(20));
        let hub_host = world.hubs[0].host;
        let name = world.db_names[0].clone();
        let now = world.now();
        let cached = world.dns.cached(now, HostId(hub_host as u32), &name);
        assert_eq!(cached, Some(HostId(0)), "the answer names mbx1, the first host");
        world.lookups.insert((0, failover::DbId(0)), super::Lookup { id: 99, waiting: Vec::new() });
        assert!(world.power_off_host(hub_host));
        assert_eq!(world.dns.cached(now, HostId(hub_host as u32), &name), None);
        assert!(world.lookups.is_empty());
        // The zone is the server's, not the client's: it still names mbx1.
        assert_eq!(world.dns.authoritative(now + Duration::from_secs(1), &name), Some(HostId(0)));
    }
}
