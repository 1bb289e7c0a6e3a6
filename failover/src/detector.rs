//! Heartbeat failure detection over every communication path.
//!
//! Rules (domain.md section 0, steps 1 and 2):
//! - each path to each peer is judged on its own: up while a heartbeat arrived within
//!   `interval x threshold` *and* that heartbeat said the peer hears us (a one-way link counts as down);
//! - a peer is down only when every path to it is down. Losing the private heartbeat NIC alone is
//!   therefore never a reason to fail over.

use crate::io::DbAdvert;
use crate::types::{LocalTime, NodeId, PathId};
use core::time::Duration;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
struct PathState {
    last_received: Option<LocalTime>,
    /// What the peer said in its last heartbeat on this path: does it hear us?
    peer_hears_us: bool,
}

/// What the peer told us about itself in its freshest heartbeat (any path).
#[derive(Clone, Debug, Default)]
pub struct PeerReport {
    pub received_at: Option<LocalTime>,
    pub counts: Vec<NodeId>,
    pub quorate: bool,
    pub dbs: Vec<DbAdvert>,
}

#[derive(Clone, Debug)]
pub struct Detector {
    failure_timeout: Duration,
    paths: BTreeMap<(NodeId, PathId), PathState>,
    reports: BTreeMap<NodeId, PeerReport>,
    /// The last time we told each peer (on some path) that we hear it. The peer keeps counting us
    /// for at most a failure timeout after receiving that, which bounds how long it may stay active.
    last_hears_you_sent: BTreeMap<NodeId, LocalTime>,
}

impl Detector {
    pub fn new(peers: &[NodeId], paths: &[PathId], failure_timeout: Duration) -> Self {
        let mut map = BTreeMap::new();
        for &peer in peers {
            for &path in paths {
                map.insert((peer, path), PathState::default());
            }
        }
        Detector {
            failure_timeout,
            paths: map,
            reports: BTreeMap::new(),
            last_hears_you_sent: BTreeMap::new(),
        }
    }

    /// Records a heartbeat from `peer` on `path`.
    pub fn received(
        &mut self,
        now: LocalTime,
        peer: NodeId,
        path: PathId,
        hears_you: bool,
        report: PeerReport,
    ) {
        let state = self.paths.entry((peer, path)).or_default();
        state.last_received = Some(now);
        state.peer_hears_us = hears_you;
        self.reports.insert(peer, PeerReport { received_at: Some(now), ..report });
    }

    /// Have we heard from `peer` on `path` recently (one direction only)?
    pub fn hears(&self, now: LocalTime, peer: NodeId, path: PathId) -> bool {
        self.paths
            .get(&(peer, path))
            .and_then(|state| state.last_received)
            .is_some_and(|at| now.since(at) < self.failure_timeout)
    }

    /// Is the path to `peer` up in both directions?
    pub fn path_up(&self, now: LocalTime, peer: NodeId, path: PathId) -> bool {
        self.hears(now, peer, path) && self.paths.get(&(peer, path)).is_some_and(|state| state.peer_hears_us)
    }

    /// A peer is up while at least one path to it is up both ways.
    pub fn peer_up(&self, now: LocalTime, peer: NodeId, paths: &[PathId]) -> bool {
        paths.iter().any(|&path| self.path_up(now, peer, path))
    }

    /// When the peer will be declared down if nothing more arrives (for scheduling a re-check).
    pub fn next_expiry(&self, now: LocalTime) -> Option<LocalTime> {
        self.paths
            .values()
            .filter_map(|state| state.last_received)
            .map(|at| at + self.failure_timeout)
            .filter(|&expiry| expiry > now)
            .min()
    }

    pub fn note_hears_you_sent(&mut self, now: LocalTime, peer: NodeId) {
        self.last_hears_you_sent.insert(peer, now);
    }

    /// The earliest local time after which `peer` can no longer be counting our vote: our last
    /// "I hear you" plus its failure timeout. Message latency and clock drift are covered by the
    /// caller's margin.
    pub fn peer_stops_counting_us_by(&self, peer: NodeId) -> LocalTime {
        self.last_hears_you_sent.get(&peer).map(|&at| at + self.failure_timeout).unwrap_or(LocalTime::ZERO)
    }

    pub fn report(&self, peer: NodeId) -> Option<&PeerReport> {
        self.reports.get(&peer)
    }

    pub fn reports(&self) -> impl Iterator<Item = (&NodeId, &PeerReport)> {
        self.reports.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NodeId = NodeId(1);
    const PUBLIC: PathId = PathId(0);
    const PRIVATE: PathId = PathId(1);
    const PATHS: [PathId; 2] = [PUBLIC, PRIVATE];

    fn detector() -> Detector {
        Detector::new(&[A], &PATHS, Duration::from_secs(5))
    }

    fn at(secs: u64) -> LocalTime {
        LocalTime(secs * 1_000_000_000)
    }

    #[test]
    fn a_peer_with_one_path_still_up_is_not_down() {
        let mut d = detector();
        d.received(at(0), A, PUBLIC, true, PeerReport::default());
        d.received(at(0), A, PRIVATE, true, PeerReport::default());
        d.received(at(4), A, PUBLIC, true, PeerReport::default());
        assert!(!d.path_up(at(6), A, PRIVATE), "the private path missed five intervals");
        assert!(d.peer_up(at(6), A, &PATHS), "the public path still carries heartbeats both ways");
    }

    #[test]
    fn a_peer_is_down_only_when_every_path_is_down() {
        let mut d = detector();
        d.received(at(0), A, PUBLIC, true, PeerReport::default());
        d.received(at(1), A, PRIVATE, true, PeerReport::default());
        assert!(d.peer_up(at(5), A, &PATHS));
        assert!(!d.peer_up(at(6), A, &PATHS));
    }

    #[test]
    fn a_path_the_peer_does_not_hear_us_on_counts_as_down() {
        let mut d = detector();
        d.received(at(0), A, PUBLIC, false, PeerReport::default());
        assert!(d.hears(at(1), A, PUBLIC), "we do hear the peer");
        assert!(!d.path_up(at(1), A, PUBLIC), "but a one-way link is not a working path");
    }

    #[test]
    fn a_peer_stops_counting_us_one_failure_timeout_after_our_last_hears_you() {
        let mut d = detector();
        d.note_hears_you_sent(at(10), A);
        assert_eq!(d.peer_stops_counting_us_by(A), at(15));
    }

    #[test]
    fn the_next_expiry_is_the_earliest_path_timeout_still_ahead() {
        let mut d = detector();
        d.received(at(1), A, PUBLIC, true, PeerReport::default());
        d.received(at(3), A, PRIVATE, true, PeerReport::default());
        assert_eq!(d.next_expiry(at(2)), Some(at(6)));
        assert_eq!(d.next_expiry(at(7)), Some(at(8)));
        assert_eq!(d.next_expiry(at(9)), None);
    }
}
