//! Heartbeat failure detection over every communication path.
//!
//! Rules (domain.md section 0, steps 1 and 2):
//! - each path to each peer is judged on its own: up while a heartbeat arrived within
//!   `interval x threshold` *and* that heartbeat proves the peer heard us within the same bound (a
//!   one-way link counts as down);
//! - a peer is down only when every path to it is down. Losing the private heartbeat NIC alone is
//!   therefore never a reason to fail over.
//!
//! "The peer heard us" is proved by an echo, not asserted: every heartbeat carries its sender's send
//! time, and every heartbeat echoes back the send time of the freshest heartbeat it answers. The echo
//! is a time on *our* clock, so its age needs no clock agreement. A heartbeat that waited in a paused
//! host's receive ring arrives looking new, but it echoes a time from before the pause: it proves
//! nothing about the present, and the path stays down until a round trip completes after the resume.

use crate::io::DbAdvert;
use crate::types::{LocalTime, NodeId, PathId};
use core::time::Duration;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
struct PathState {
    /// When we last received a heartbeat on this path (our clock).
    last_received: Option<LocalTime>,
    /// The send time (the peer's clock) of the freshest heartbeat received on this path: what we echo.
    peer_sent_at: Option<LocalTime>,
    /// The freshest of our own send times the peer echoed on this path (our clock).
    echoed: Option<LocalTime>,
}

/// What the peer told us about itself in its freshest heartbeat (any path).
#[derive(Clone, Debug, Default)]
pub struct PeerReport {
    /// When it arrived (our clock).
    pub received_at: Option<LocalTime>,
    pub counts: Vec<NodeId>,
    /// Peers that may still count the sender's vote (see `Message::Heartbeat`).
    pub lends_to: Vec<NodeId>,
    pub quorate: bool,
    pub dbs: Vec<DbAdvert>,
}

/// One received heartbeat, as the detector needs it.
#[derive(Clone, Debug)]
pub struct HeartbeatSeen {
    pub peer: NodeId,
    pub path: PathId,
    /// The peer's clock at sending.
    pub sent_at: LocalTime,
    /// Our own send time the peer echoes, if it has heard us on this path.
    pub echo: Option<LocalTime>,
}

#[derive(Clone, Debug)]
pub struct Detector {
    failure_timeout: Duration,
    /// How old an echo may be and still prove a working path: the failure timeout plus one heartbeat
    /// interval, because the peer echoes our heartbeat in its own next one, up to an interval later.
    echo_timeout: Duration,
    paths: BTreeMap<(NodeId, PathId), PathState>,
    reports: BTreeMap<NodeId, PeerReport>,
    /// The last time we told each peer (on some path) that we hear it. The peer keeps counting us
    /// for at most a failure timeout after receiving that, which bounds how long it may stay active.
    last_hears_you_sent: BTreeMap<NodeId, LocalTime>,
}

impl Detector {
    pub fn new(
        peers: &[NodeId],
        paths: &[PathId],
        failure_timeout: Duration,
        heartbeat_interval: Duration,
    ) -> Self {
        let mut map = BTreeMap::new();
        for &peer in peers {
            for &path in paths {
                map.insert((peer, path), PathState::default());
            }
        }
        Detector {
            failure_timeout,
            echo_timeout: failure_timeout + heartbeat_interval,
            paths: map,
            reports: BTreeMap::new(),
            last_hears_you_sent: BTreeMap::new(),
        }
    }

    /// Records a heartbeat received at `now`. The latest arrival wins, never the largest time: a
    /// stepped clock must not pin an old value, and a reordered heartbeat only makes us more cautious.
    pub fn received(&mut self, now: LocalTime, seen: HeartbeatSeen, report: PeerReport) {
        let state = self.paths.entry((seen.peer, seen.path)).or_default();
        state.last_received = Some(now);
        state.peer_sent_at = Some(seen.sent_at);
        state.echoed = seen.echo;
        self.reports.insert(seen.peer, PeerReport { received_at: Some(now), ..report });
    }

    /// Have we heard from `peer` on `path` recently (one direction only)?
    pub fn hears(&self, now: LocalTime, peer: NodeId, path: PathId) -> bool {
        self.paths
            .get(&(peer, path))
            .and_then(|state| state.last_received)
            .is_some_and(|at| now.since(at) < self.failure_timeout)
    }

    /// What a heartbeat to `peer` on `path` echoes: the peer's send time of the freshest heartbeat we
    /// received there, while we still hear it.
    pub fn echo_for(&self, now: LocalTime, peer: NodeId, path: PathId) -> Option<LocalTime> {
        if !self.hears(now, peer, path) {
            return None;
        }
        self.paths.get(&(peer, path)).and_then(|state| state.peer_sent_at)
    }

    /// Did the peer prove, within the failure timeout, that it hears us on `path`?
    fn heard_by(&self, now: LocalTime, peer: NodeId, path: PathId) -> bool {
        self.paths
            .get(&(peer, path))
            .and_then(|state| state.echoed)
            .is_some_and(|echoed| now.since(echoed) < self.echo_timeout)
    }

    /// Is the path to `peer` up in both directions?
    pub fn path_up(&self, now: LocalTime, peer: NodeId, path: PathId) -> bool {
        self.hears(now, peer, path) && self.heard_by(now, peer, path)
    }

    /// A peer is up while at least one path to it is up both ways.
    pub fn peer_up(&self, now: LocalTime, peer: NodeId, paths: &[PathId]) -> bool {
        paths.iter().any(|&path| self.path_up(now, peer, path))
    }

    /// When a path will be declared down if nothing more arrives (for scheduling a re-check).
    pub fn next_expiry(&self, now: LocalTime) -> Option<LocalTime> {
        self.paths
            .values()
            .flat_map(|state| {
                let heard = state.last_received.map(|at| at + self.failure_timeout);
                [heard, state.echoed.map(|at| at + self.echo_timeout)]
            })
            .flatten()
            .filter(|&expiry| expiry > now)
            .min()
    }

    pub fn note_hears_you_sent(&mut self, now: LocalTime, peer: NodeId) {
        self.last_hears_you_sent.insert(peer, now);
    }

    /// The earliest local time after which `peer` can no longer be counting our vote: our last echo
    /// plus the echo timeout (the peer needs a fresh echo from us to count us). Message latency and
    /// clock drift are covered by the caller's margin.
    pub fn peer_stops_counting_us_by(&self, peer: NodeId) -> LocalTime {
        self.last_hears_you_sent.get(&peer).map(|&at| at + self.echo_timeout).unwrap_or(LocalTime::ZERO)
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
        Detector::new(&[A], &PATHS, Duration::from_secs(5), Duration::from_secs(1))
    }

    fn at(secs: u64) -> LocalTime {
        LocalTime(secs * 1_000_000_000)
    }

    /// A heartbeat from `A` on `path`, received at `now`, echoing our send time `echo` (seconds).
    fn beat(d: &mut Detector, now: u64, path: PathId, echo: Option<u64>) {
        let seen = HeartbeatSeen { peer: A, path, sent_at: at(now), echo: echo.map(at) };
        d.received(at(now), seen, PeerReport::default());
    }

    #[test]
    fn a_peer_report_is_stamped_with_the_time_its_heartbeat_arrived() {
        // The coordinator trusts an owner's "I have stopped" only while that report is fresh, so the
        // detector stamps every report with its arrival on our clock, whatever the caller filled in.
        let mut d = detector();
        let seen = HeartbeatSeen { peer: A, path: PUBLIC, sent_at: at(1), echo: None };
        d.received(at(7), seen, PeerReport { received_at: None, ..PeerReport::default() });
        assert_eq!(d.report(A).and_then(|report| report.received_at), Some(at(7)));
    }

    #[test]
    fn a_peer_with_one_path_still_up_is_not_down() {
        let mut d = detector();
        beat(&mut d, 0, PUBLIC, Some(0));
        beat(&mut d, 0, PRIVATE, Some(0));
        beat(&mut d, 4, PUBLIC, Some(3));
        assert!(!d.path_up(at(6), A, PRIVATE), "the private path missed five intervals");
        assert!(d.peer_up(at(6), A, &PATHS), "the public path still carries heartbeats both ways");
    }

    #[test]
    fn a_peer_is_down_only_when_every_path_is_down() {
        let mut d = detector();
        beat(&mut d, 0, PUBLIC, Some(0));
        beat(&mut d, 1, PRIVATE, Some(0));
        assert!(d.peer_up(at(5), A, &PATHS));
        assert!(!d.peer_up(at(6), A, &PATHS));
    }

    #[test]
    fn a_path_the_peer_does_not_hear_us_on_counts_as_down() {
        let mut d = detector();
        beat(&mut d, 0, PUBLIC, None);
        assert!(d.hears(at(1), A, PUBLIC), "we do hear the peer");
        assert!(!d.path_up(at(1), A, PUBLIC), "but a one-way link is not a working path");
    }

    #[test]
    fn a_heartbeat_that_waited_in_a_receive_ring_proves_nothing_about_the_present() {
        // We were paused from 10 s to 40 s; the peer's heartbeats queued in our ring echo 9 s, the last
        // heartbeat of ours it heard before the pause. They arrive at 40 s looking new.
        let mut d = detector();
        beat(&mut d, 40, PUBLIC, Some(9));
        assert!(d.hears(at(40), A, PUBLIC), "we did receive something");
        assert!(!d.path_up(at(40), A, PUBLIC), "but no round trip completed within the failure timeout");
        beat(&mut d, 41, PUBLIC, Some(40));
        assert!(d.path_up(at(41), A, PUBLIC), "a heartbeat echoing our post-resume send brings it up");
    }

    #[test]
    fn the_latest_echo_wins_so_a_stepped_clock_cannot_pin_a_path_up() {
        // Our clock stepped back from 100 s to 50 s: an echo of 100 s would look fresh for 50 s more.
        let mut d = detector();
        beat(&mut d, 100, PUBLIC, Some(100));
        beat(&mut d, 50, PUBLIC, None);
        assert!(!d.path_up(at(50), A, PUBLIC), "the peer says it no longer hears us");
    }

    #[test]
    fn we_echo_the_peers_latest_send_time_only_while_we_hear_it() {
        let mut d = detector();
        beat(&mut d, 3, PUBLIC, None);
        assert_eq!(d.echo_for(at(4), A, PUBLIC), Some(at(3)));
        assert_eq!(d.echo_for(at(9), A, PUBLIC), None, "silent for a failure timeout: nothing to echo");
    }

    #[test]
    fn a_peer_stops_counting_us_one_echo_timeout_after_our_last_echo() {
        let mut d = detector();
        d.note_hears_you_sent(at(10), A);
        assert_eq!(d.peer_stops_counting_us_by(A), at(16), "five seconds, plus one interval for the echo");
    }

    #[test]
    fn the_next_expiry_is_the_earliest_path_timeout_still_ahead() {
        let mut d = detector();
        beat(&mut d, 1, PUBLIC, Some(0));
        beat(&mut d, 3, PRIVATE, Some(3));
        assert_eq!(d.next_expiry(at(2)), Some(at(6)), "the public path goes silent first");
        assert_eq!(d.next_expiry(at(7)), Some(at(8)));
        assert_eq!(d.next_expiry(at(8)), Some(at(9)), "the private echo ages out an interval later");
        assert_eq!(d.next_expiry(at(9)), None);
    }
}
