//! DNS: authoritative A records with TTLs, and a resolver cache per client (domain.md pattern 10).
//!
//! After a failover the cluster re-registers the network name to the new owner, but clients keep the
//! cached answer until its TTL runs out (HostRecordTTL 1200 s by default, 300 s in Exchange's standby
//! guidance), so they keep talking to the old node. A delayed registration (AD-integrated zone
//! replication) and an unreachable server stretch that window further. Addresses are hosts: the name
//! resolves to the host that should serve it.
//!
//! The server and the clients are separate halves, so that a harness can carry queries and answers
//! over a network: [`Dns::answer`] is what the server says at the instant a query reaches it,
//! [`Dns::cache_answer`] what a client keeps when the answer reaches it, and [`Dns::cached`] what a
//! client can use without asking. [`Dns::resolve`] is all three at once, for a server reached
//! instantly (one outside the model).

use crate::ids::HostId;
use core::time::Duration;
use kernel::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// DNS timing parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsConfig {
    /// How long an update takes to become visible to resolvers (zone replication). Default 0.
    pub registration_delay: Duration,
    /// TTL of a record registered without one: WSFC's HostRecordTTL. Default 1200 s.
    pub default_ttl: Duration,
    /// How long a client's resolver waits for an answer after each query it sends before it sends the
    /// query again; after the last wait it gives up. Default 1, 1, 2, 4 and 2 s: the Windows DNS
    /// client with one DNS server configured queries at 0, 1, 2, 4 and 8 s and stops at 10 s
    /// (Microsoft KB 2834226, "DNS client resolution timeouts").
    pub query_timeouts: [Duration; 5],
}

impl Default for DnsConfig {
    fn default() -> Self {
        let secs = Duration::from_secs;
        DnsConfig {
            registration_delay: Duration::ZERO,
            default_ttl: Duration::from_secs(1_200),
            query_timeouts: [secs(1), secs(1), secs(2), secs(4), secs(2)],
        }
    }
}

/// What the server answers for a name: the address and how long the client may cache it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub address: HostId,
    pub ttl: Duration,
}

/// The authoritative zone and every client's cache.
#[derive(Debug)]
pub struct Dns {
    config: DnsConfig,
    unreachable: bool,
    /// Per name, every update in the order it becomes visible; the last visible one is authoritative.
    zone: BTreeMap<String, Vec<Update>>,
    caches: BTreeMap<HostId, BTreeMap<String, CacheEntry>>,
}

#[derive(Clone, Copy, Debug)]
struct Update {
    visible_at: SimTime,
    /// `None` for an unregistration.
    record: Option<Record>,
}

#[derive(Clone, Copy, Debug)]
struct Record {
    address: HostId,
    ttl: Duration,
}

#[derive(Clone, Copy, Debug)]
struct CacheEntry {
    address: HostId,
    expires_at: SimTime,
}

impl Dns {
    pub fn new(config: DnsConfig) -> Self {
        Dns { config, unreachable: false, zone: BTreeMap::new(), caches: BTreeMap::new() }
    }

    /// The current configuration, including any registration delay set as a fault.
    pub fn config(&self) -> &DnsConfig {
        &self.config
    }

    /// Points `name` at `address` with `ttl` (the default TTL if `None`), visible to resolvers after the
    /// registration delay.
    pub fn register(&mut self, now: SimTime, name: &str, address: HostId, ttl: Option<Duration>) {
        let ttl = ttl.unwrap_or(self.config.default_ttl);
        self.update(now, name, Some(Record { address, ttl }));
    }

    /// Removes `name`, visible to resolvers after the registration delay. Caches keep it until its TTL.
    pub fn unregister(&mut self, now: SimTime, name: &str) {
        self.update(now, name, None);
    }

    /// Updates become visible in the order they were made: zone replication applies them in sequence,
    /// so shortening the delay never lets a later update overtake an earlier one.
    fn update(&mut self, now: SimTime, name: &str, record: Option<Record>) {
        let updates = self.zone.entry(name.to_string()).or_default();
        let earliest = updates.last().map_or(SimTime::ZERO, |last| last.visible_at);
        updates.push(Update { visible_at: (now + self.config.registration_delay).max(earliest), record });
    }

    /// What `client` gets when it looks `name` up at `now` from a server it reaches at once.
    ///
    /// An unexpired cached answer wins, however stale. Otherwise the server answers with the record
    /// visible now and the client caches it for its TTL; a missing name is not cached. While the server
    /// is unreachable only unexpired cached answers are available.
    pub fn resolve(&mut self, now: SimTime, client: HostId, name: &str) -> Option<HostId> {
        if let Some(address) = self.cached(now, client, name) {
            return Some(address);
        }
        // The entry, if any, has expired: an expired answer is never used, so drop it.
        if let Some(cache) = self.caches.get_mut(&client) {
            cache.remove(name);
        }
        if self.unreachable {
            return None;
        }
        let answer = self.answer(now, name)?;
        self.cache_answer(now, client, name, answer);
        Some(answer.address)
    }

    /// The server's answer to a query for `name` that reaches it at `now`: the record visible then, or
    /// `None` for a name it does not have (a negative answer). Whether the query reaches the server at
    /// all is the network's business, not the zone's: `unreachable` does not apply here.
    pub fn answer(&self, now: SimTime, name: &str) -> Option<Answer> {
        visible(&self.zone, now, name).map(|record| Answer { address: record.address, ttl: record.ttl })
    }

    /// `client` received `answer` for `name` at `now` and caches it for its TTL, replacing whatever it
    /// had.
    pub fn cache_answer(&mut self, now: SimTime, client: HostId, name: &str, answer: Answer) {
        let entry = CacheEntry { address: answer.address, expires_at: now + answer.ttl };
        self.caches.entry(client).or_default().insert(name.to_string(), entry);
    }

    /// Empties `client`'s cache (`ipconfig /flushdns`, or a reboot: the DNS Client service keeps its
    /// cache in memory).
    pub fn flush_cache(&mut self, client: HostId) {
        self.caches.remove(&client);
    }

    /// Ground truth: where the zone points `name` at `now`, ignoring every cache.
    pub fn authoritative(&self, now: SimTime, name: &str) -> Option<HostId> {
        visible(&self.zone, now, name).map(|record| record.address)
    }

    /// Ground truth: the unexpired answer `client` has cached for `name`, without resolving.
    pub fn cached(&self, now: SimTime, client: HostId, name: &str) -> Option<HostId> {
        let entry = self.caches.get(&client)?.get(name)?;
        (now < entry.expires_at).then_some(entry.address)
    }

    /// Makes the DNS server unreachable (or reachable again): clients live on their caches meanwhile.
    pub fn set_unreachable(&mut self, unreachable: bool) {
        self.unreachable = unreachable;
    }

    pub fn is_unreachable(&self) -> bool {
        self.unreachable
    }

    /// Changes how long later updates take to become visible (slow zone replication); zero restores it.
    pub fn set_registration_delay(&mut self, delay: Duration) {
        self.config.registration_delay = delay;
    }
}

/// The record for `name` as of `now`: the last update visible by then, if it registered something.
fn visible(zone: &BTreeMap<String, Vec<Update>>, now: SimTime, name: &str) -> Option<Record> {
    let updates = zone.get(name)?;
    let visible_count = updates.partition_point(|update| update.visible_at <= now);
    updates[..visible_count].last()?.record
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: HostId = HostId(1);
    const NEW: HostId = HostId(2);
    const CLIENT: HostId = HostId(100);
    const OTHER_CLIENT: HostId = HostId(101);
    const NAME: &str = "mbx-cms";

    fn t(secs: u64) -> SimTime {
        SimTime::from_secs(secs)
    }

    fn dns() -> Dns {
        Dns::new(DnsConfig::default())
    }

    #[test]
    fn defaults_are_immediate_registration_and_a_twenty_minute_ttl() {
        let config = DnsConfig::default();
        assert_eq!(config.registration_delay, Duration::ZERO);
        assert_eq!(config.default_ttl, Duration::from_secs(1_200));
    }

    #[test]
    fn a_registered_name_resolves_to_its_address() {
        let mut dns = dns();
        dns.register(t(0), NAME, OLD, None);
        assert_eq!(dns.authoritative(t(0), NAME), Some(OLD));
        assert_eq!(dns.resolve(t(0), CLIENT, NAME), Some(OLD));
        assert_eq!(dns.resolve(t(0), CLIENT, "unknown"), None);
    }

    #[test]
    fn a_client_keeps_the_stale_answer_until_its_ttl_runs_out() {
        let mut dns = dns();
        dns.register(t(0), NAME, OLD, None);
        assert_eq!(dns.resolve(t(10), CLIENT, NAME), Some(OLD));
        dns.register(t(60), NAME, NEW, None);
        assert_eq!(dns.authoritative(t(60), NAME), Some(NEW));
        assert_eq!(dns.resolve(t(61), CLIENT, NAME), Some(OLD), "cached at 10 s for 1200 s");
        assert_eq!(dns.resolve(t(1_209), CLIENT, NAME), Some(OLD));
        assert_eq!(dns.resolve(t(1_210), CLIENT, NAME), Some(NEW), "expired at 1210 s");
        // A client without a cached answer sees the new owner at once.
        assert_eq!(dns.resolve(t(61), OTHER_CLIENT, NAME), Some(NEW));
    }

    #[test]
    fn a_record_registered_with_its_own_ttl_is_cached_for_that_long() {
        let mut dns = dns();
        dns.register(t(0), NAME, OLD, Some(Duration::from_secs(300)));
        dns.resolve(t(0), CLIENT, NAME);
        dns.register(t(1), NAME, NEW, Some(Duration::from_secs(300)));
        assert_eq!(dns.resolve(t(299), CLIENT, NAME), Some(OLD));
        assert_eq!(dns.resolve(t(300), CLIENT, NAME), Some(NEW));
    }

    #[test]
    fn a_delayed_registration_is_invisible_until_the_delay_has_passed() {
        let mut dns =
            Dns::new(DnsConfig { registration_delay: Duration::from_secs(15), ..DnsConfig::default() });
        dns.register(t(100), NAME, NEW, None);
        assert_eq!(dns.authoritative(t(114), NAME), None);
        assert_eq!(dns.resolve(t(114), CLIENT, NAME), None);
        // The miss was not cached, so the client sees the record as soon as it is visible.
        assert_eq!(dns.resolve(t(115), CLIENT, NAME), Some(NEW));
    }

    #[test]
    fn a_registration_delay_set_as_a_fault_applies_to_later_updates() {
        let mut dns = dns();
        dns.register(t(0), NAME, OLD, None);
        dns.set_registration_delay(Duration::from_secs(30));
        assert_eq!(dns.config().registration_delay, Duration::from_secs(30));
        dns.register(t(10), NAME, NEW, None);
        assert_eq!(dns.authoritative(t(39), NAME), Some(OLD));
        assert_eq!(dns.authoritative(t(40), NAME), Some(NEW));
    }

    #[test]
    fn a_later_update_never_overtakes_an_earlier_one_when_the_delay_shrinks() {
        let mut dns = dns();
        dns.set_registration_delay(Duration::from_secs(60));
        dns.register(t(0), NAME, OLD, None);
        dns.set_registration_delay(Duration::ZERO);
        dns.register(t(1), NAME, NEW, None);
        assert_eq!(dns.authoritative(t(30), NAME), None);
        assert_eq!(dns.authoritative(t(60), NAME), Some(NEW));
    }

    #[test]
    fn an_unregistered_name_stops_resolving_except_from_caches() {
        let mut dns = dns();
        dns.register(t(0), NAME, OLD, None);
        dns.resolve(t(0), CLIENT, NAME);
        dns.unregister(t(5), NAME);
        assert_eq!(dns.authoritative(t(5), NAME), None);
        assert_eq!(dns.resolve(t(5), OTHER_CLIENT, NAME), None);
        assert_eq!(dns.resolve(t(5), CLIENT, NAME), Some(OLD));
        assert_eq!(dns.resolve(t(1_200), CLIENT, NAME), None);
    }

    #[test]
    fn flushing_a_cache_makes_the_client_ask_the_server_again() {
        let mut dns = dns();
        dns.register(t(0), NAME, OLD, None);
        dns.resolve(t(0), CLIENT, NAME);
        dns.resolve(t(0), OTHER_CLIENT, NAME);
        dns.register(t(1), NAME, NEW, None);
        dns.flush_cache(CLIENT);
        assert_eq!(dns.cached(t(2), CLIENT, NAME), None);
        assert_eq!(dns.resolve(t(2), CLIENT, NAME), Some(NEW));
        assert_eq!(dns.resolve(t(2), OTHER_CLIENT, NAME), Some(OLD), "only the flushed client forgot");
    }

    #[test]
    fn an_unreachable_server_leaves_clients_with_unexpired_cached_answers_only() {
        let mut dns = dns();
        dns.register(t(0), NAME, OLD, Some(Duration::from_secs(100)));
        dns.resolve(t(0), CLIENT, NAME);
        dns.set_unreachable(true);
        assert!(dns.is_unreachable());
        assert_eq!(dns.resolve(t(50), CLIENT, NAME), Some(OLD));
        assert_eq!(dns.resolve(t(50), OTHER_CLIENT, NAME), None, "nothing cached, server unreachable");
        assert_eq!(dns.resolve(t(100), CLIENT, NAME), None, "an expired answer is not used");
        dns.set_unreachable(false);
        assert_eq!(dns.resolve(t(101), CLIENT, NAME), Some(OLD));
        assert_eq!(dns.cached(t(101), CLIENT, NAME), Some(OLD));
    }

    #[test]
    fn the_resolver_asks_five_times_over_ten_seconds_before_it_gives_up() {
        let timeouts = DnsConfig::default().query_timeouts;
        let sent_at: Vec<u64> = timeouts
            .iter()
            .scan(0, |at, wait| {
                let sent = *at;
                *at += wait.as_secs();
                Some(sent)
            })
            .collect();
        assert_eq!(sent_at, [0, 1, 2, 4, 8]);
        assert_eq!(timeouts.iter().sum::<Duration>(), Duration::from_secs(10));
    }

    #[test]
    fn the_server_answers_with_the_visible_record_and_the_client_caches_it_when_it_arrives() {
        let mut dns = dns();
        dns.register(t(0), NAME, OLD, Some(Duration::from_secs(30)));
        assert_eq!(dns.answer(t(0), "unknown"), None);
        let answer = dns.answer(t(1), NAME).expect("registered");
        assert_eq!(answer, Answer { address: OLD, ttl: Duration::from_secs(30) });
        assert_eq!(dns.cached(t(1), CLIENT, NAME), None, "answering caches nothing at the client");
        dns.register(t(2), NAME, NEW, Some(Duration::from_secs(30)));
        // The answer left the server at 1 s and reaches the client at 3 s: cached from its arrival.
        dns.cache_answer(t(3), CLIENT, NAME, answer);
        assert_eq!(dns.cached(t(32), CLIENT, NAME), Some(OLD));
        assert_eq!(dns.cached(t(33), CLIENT, NAME), None);
        assert_eq!(dns.resolve(t(33), CLIENT, NAME), Some(NEW));
    }

    #[test]
    fn an_unreachable_flag_leaves_the_servers_own_answers_alone() {
        let mut dns = dns();
        dns.register(t(0), NAME, OLD, None);
        dns.set_unreachable(true);
        assert_eq!(dns.answer(t(1), NAME).map(|answer| answer.address), Some(OLD));
        assert_eq!(dns.resolve(t(1), CLIENT, NAME), None);
    }

    #[test]
    fn the_cache_query_reports_without_resolving() {
        let mut dns = dns();
        dns.register(t(0), NAME, OLD, None);
        assert_eq!(dns.cached(t(0), CLIENT, NAME), None);
        dns.resolve(t(0), CLIENT, NAME);
        assert_eq!(dns.cached(t(1_199), CLIENT, NAME), Some(OLD));
        assert_eq!(dns.cached(t(1_200), CLIENT, NAME), None);
    }
}
