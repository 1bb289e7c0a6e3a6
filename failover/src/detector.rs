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
//!
//! # Which heartbeat is fresh
//!
//! Arrival order says nothing about sending order. A latency spike that ends lets later heartbeats
//! overtake the ones still queued on the link; a node that is power-cycled boots while its last
//! heartbeats are still on the wire; a real network may deliver a frame twice (the harness's links
//! do not, today). So every heartbeat carries its sender's incarnation (a boot count kept on its
//! disk) and a sequence number within it, the echo carries the incarnation of the send time it
//! returns, and we judge a heartbeat by that stamp, never by when it happened to arrive:
//!
//! - **A heartbeat from an older incarnation than the newest we have seen from that peer is ignored
//!   entirely.** It speaks for a process that no longer exists: the mounts, quorum, counted votes and
//!   lent votes it reports were volatile and died with that process, and its echo proves that a dead
//!   process heard us. Letting it refresh a path or the peer's report would have us count, or trust
//!   the "I count the owner" or "I have stopped" of, a node whose present self said none of it.
//! - **A newer incarnation means the peer rebooted, and everything we held from its previous life is
//!   dropped** (every path's freshness, echo and stamp, and its report). Otherwise the old life's
//!   recent heartbeats and echoes on another path would keep the peer counted, and its old report
//!   would keep saying what the new life no longer does, until they timed out.
//! - **On each path, a heartbeat not newer than the last one accepted there is a replay or a reorder,
//!   and does not touch that path.** Its echo is no younger than the one we hold, and its arrival is
//!   no sign of life: a duplicate delivered late would otherwise make us hear a peer that has since
//!   gone silent (and echo it, and lend it our vote), and an overtaken heartbeat would replace a
//!   fresh echo with a stale one and drop a working path. Among one incarnation's heartbeats, the
//!   newest sent wins, never the largest time: a stepped clock cannot pin an old value.
//! - **The peer's report is replaced only by a heartbeat newer than the one that produced it.** The
//!   report is what coordination reads (is the owner still active, does anyone still count it or
//!   borrow its vote, does it say it has stopped), and it is stamped with our arrival time, so a
//!   delayed heartbeat would otherwise bring back an older state looking fresh. "The owner has
//!   stopped" or "nobody counts the owner" from before the owner came back is how a takeover ends up
//!   beside a live owner.
//! - **An echo of an earlier incarnation of ours proves nothing.** Our clock runs on across a reboot,
//!   so a fast reboot finds peers' heartbeats echoing our previous life's send times, young enough to
//!   pass the echo rule. They prove the peer heard a process that died: the peer's counts and lent
//!   vote still describe that process, not us. Counting the peer on them would let a node that just
//!   booted see everyone counted at once, skip its boot wait and coordinate from a view no peer has
//!   confirmed of *this* life (`fast/ccr-heartbeat-from-previous-incarnation` without this rule:
//!   the rebooted owner decided its remount 0.3 s after booting). The path comes up once a peer
//!   echoes a heartbeat we sent since boot.

use crate::io::{DbAdvert, Echo};
use crate::types::{Incarnation, LocalTime, NodeId, PathId};
use core::time::Duration;
use std::collections::BTreeMap;

/// Where a heartbeat stands in its sender's history: the sender's incarnation, then the heartbeat's
/// sequence within it. Stamps order heartbeats by sending, whatever order they arrive in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SendStamp {
    pub incarnation: Incarnation,
    pub sequence: u64,
}

#[derive(Clone, Debug, Default)]
struct PathState {
    /// The stamp of the newest heartbeat accepted on this path.
    accepted: Option<SendStamp>,
    /// When we received that heartbeat (our clock).
    last_received: Option<LocalTime>,
    /// The peer's incarnation and send time (its clock) on that heartbeat: what we echo.
    peer_sent: Option<Echo>,
    /// The send time of ours (our clock, this incarnation) the peer echoed in that heartbeat.
    echoed: Option<LocalTime>,
}

/// What the peer told us about itself in its newest heartbeat (any path).
#[derive(Clone, Debug, Default)]
pub struct PeerReport {
    /// When it arrived (our clock).
    pub received_at: Option<LocalTime>,
    /// When the peer sent it (its clock).
    pub sent_at: Option<LocalTime>,
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
    pub stamp: SendStamp,
    /// The peer's clock at sending.
    pub sent_at: LocalTime,
    /// Our own incarnation and send time the peer echoes, if it has heard us on this path.
    pub echo: Option<Echo>,
}

#[derive(Clone, Debug)]
pub struct Detector {
    /// Our own incarnation: only echoes of it prove anything.
    incarnation: Incarnation,
    failure_timeout: Duration,
    /// How old an echo may be and still prove a working path: the failure timeout plus one heartbeat
    /// interval, because the peer echoes our heartbeat in its own next one, up to an interval later.
    echo_timeout: Duration,
    paths: BTreeMap<(NodeId, PathId), PathState>,
    /// Each peer's newest report and the stamp of the heartbeat that carried it. That stamp is also
    /// the newest we accepted from the peer, so its incarnation is the peer's current one.
    reports: BTreeMap<NodeId, (SendStamp, PeerReport)>,
    /// The last time we told each peer (on some path) that we hear it. The peer keeps counting us
    /// for at most a failure timeout after receiving that, which bounds how long it may stay active.
    last_hears_you_sent: BTreeMap<NodeId, LocalTime>,
}

impl Detector {
    /// A detector for a node in its incarnation `incarnation`.
    pub fn new(
        incarnation: Incarnation,
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
            incarnation,
            failure_timeout,
            echo_timeout: failure_timeout + heartbeat_interval,
            paths: map,
            reports: BTreeMap::new(),
            last_hears_you_sent: BTreeMap::new(),
        }
    }

    /// Is `incarnation` older than the newest we have heard from `peer`? Such a heartbeat comes from a
    /// previous life of the peer and counts for nothing (see the module docs).
    pub fn from_a_previous_life(&self, peer: NodeId, incarnation: Incarnation) -> bool {
        self.reports.get(&peer).is_some_and(|(newest, _)| incarnation < newest.incarnation)
    }

    /// Records a heartbeat received at `now`, by the rules in the module docs: one from a previous
    /// life of the peer is ignored, a newer incarnation forgets the old one, a path takes only a
    /// heartbeat newer than its last, and the report only one newer than the one it holds.
    pub fn received(&mut self, now: LocalTime, seen: HeartbeatSeen, report: PeerReport) {
        if self.from_a_previous_life(seen.peer, seen.stamp.incarnation) {
            return;
        }
        let rebooted = self
            .reports
            .get(&seen.peer)
            .is_some_and(|(newest, _)| seen.stamp.incarnation > newest.incarnation);
        if rebooted {
            self.forget_previous_life(seen.peer);
        }
        let state = self.paths.entry((seen.peer, seen.path)).or_default();
        if state.accepted.is_some_and(|accepted| seen.stamp <= accepted) {
            return;
        }
        state.accepted = Some(seen.stamp);
        state.last_received = Some(now);
        state.peer_sent = Some(Echo { incarnation: seen.stamp.incarnation, sent_at: seen.sent_at });
        state.echoed = seen.echo.filter(|echo| echo.incarnation == self.incarnation).map(|echo| echo.sent_at);
        let newer_report = self.reports.get(&seen.peer).is_none_or(|(newest, _)| seen.stamp > *newest);
        if newer_report {
            let report = PeerReport { received_at: Some(now), sent_at: Some(seen.sent_at), ..report };
            self.reports.insert(seen.peer, (seen.stamp, report));
        }
    }

    /// The peer rebooted: what its previous life told us, on any path, no longer describes it.
    fn forget_previous_life(&mut self, peer: NodeId) {
        for (_, state) in self.paths.range_mut((peer, PathId(0))..=(peer, PathId(u16::MAX))) {
            *state = PathState::default();
        }
        self.reports.remove(&peer);
    }

    /// Have we heard from `peer` on `path` recently (one direction only)?
    pub fn hears(&self, now: LocalTime, peer: NodeId, path: PathId) -> bool {
        self.paths
            .get(&(peer, path))
            .and_then(|state| state.last_received)
            .is_some_and(|at| now.since(at) < self.failure_timeout)
    }

    /// What a heartbeat to `peer` on `path` echoes: the peer's incarnation and send time on the
    /// freshest heartbeat we received there, while we still hear it.
    pub fn echo_for(&self, now: LocalTime, peer: NodeId, path: PathId) -> Option<Echo> {
        if !self.hears(now, peer, path) {
            return None;
        }
        self.paths.get(&(peer, path)).and_then(|state| state.peer_sent)
    }

    /// Did the peer prove, within the failure timeout, that it hears us on `path`?
    fn heard_by(&self, now: LocalTime, peer: NodeId, path: PathId) -> bool {
        self.paths
            .get(&(peer, path))
            .and_then(|state| state.echoed)
            .is_some_and(|echoed| now.since(echoed) < self.echo_timeout)
    }

    /// Whether `peer` echoed, on some path, a heartbeat of ours sent at or after `since`: a round trip
    /// that began then.
    pub fn echoed_since(&self, peer: NodeId, since: LocalTime) -> bool {
        self.paths
            .range((peer, PathId(0))..=(peer, PathId(u16::MAX)))
            .any(|(_, state)| state.echoed.is_some_and(|echoed| echoed >= since))
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

    /// The stamp of the newest heartbeat we accepted from `peer` (its current life's), which our
    /// heartbeats report back to it.
    /// The stamp of the newest heartbeat accepted from `peer`, and when the peer sent it (its clock).
    pub fn newest_from(&self, peer: NodeId) -> Option<(SendStamp, Option<LocalTime>)> {
        self.reports.get(&peer).map(|(stamp, report)| (*stamp, report.sent_at))
    }

    /// We take a new incarnation in the middle of a life (ours repeated an earlier life's): every
    /// echo we hold was of the repeated incarnation, possibly sent by the earlier life, and proves
    /// nothing about this one.
    pub fn reincarnate(&mut self, incarnation: Incarnation) {
        self.incarnation = incarnation;
        for state in self.paths.values_mut() {
            state.echoed = None;
        }
    }

    pub fn report(&self, peer: NodeId) -> Option<&PeerReport> {
        self.reports.get(&peer).map(|(_, report)| report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NodeId = NodeId(1);
    const B: NodeId = NodeId(2);
    const PUBLIC: PathId = PathId(0);
    const PRIVATE: PathId = PathId(1);
    const PATHS: [PathId; 2] = [PUBLIC, PRIVATE];
    /// Our own incarnation in these tests; the peer's start at 1.
    const OURS: Incarnation = 3;

    fn detector() -> Detector {
        Detector::new(OURS, &[A], &PATHS, Duration::from_secs(5), Duration::from_secs(1))
    }

    fn at(secs: u64) -> LocalTime {
        LocalTime(secs * 1_000_000_000)
    }

    /// Peer `A` as it stamps its heartbeats: one life at a time, each heartbeat the next sequence.
    struct Peer {
        incarnation: Incarnation,
        sequence: u64,
    }

    impl Peer {
        fn new() -> Peer {
            Peer { incarnation: 1, sequence: 0 }
        }

        /// A boots again: its next heartbeat starts a new incarnation.
        fn reboot(&mut self) {
            self.incarnation += 1;
            self.sequence = 0;
        }

        /// A's next heartbeat on `path`, sent at `sent` seconds and echoing our send time `echo`.
        fn next(&mut self, path: PathId, sent: u64, echo: Option<u64>) -> HeartbeatSeen {
            self.sequence += 1;
            let stamp = SendStamp { incarnation: self.incarnation, sequence: self.sequence };
            let echo = echo.map(|echo| Echo { incarnation: OURS, sent_at: at(echo) });
            HeartbeatSeen { peer: A, path, stamp, sent_at: at(sent), echo }
        }
    }

    /// A report saying whether A is quorate (what the report tests tell apart).
    fn saying(quorate: bool) -> PeerReport {
        PeerReport { quorate, ..PeerReport::default() }
    }

    /// A's next heartbeat on `path`, sent and received at `now`, echoing our send time `echo`.
    fn beat(d: &mut Detector, peer: &mut Peer, now: u64, path: PathId, echo: Option<u64>) {
        d.received(at(now), peer.next(path, now, echo), PeerReport::default());
    }

    fn quorate(d: &Detector) -> Option<bool> {
        d.report(A).map(|report| report.quorate)
    }

    #[test]
    fn a_peer_report_is_stamped_with_the_time_its_heartbeat_arrived() {
        // The coordinator trusts an owner's "I have stopped" only while that report is fresh, so the
        // detector stamps every report with its arrival on our clock, whatever the caller filled in.
        let mut d = detector();
        let seen = Peer::new().next(PUBLIC, 1, None);
        d.received(at(7), seen, PeerReport { received_at: None, ..PeerReport::default() });
        assert_eq!(d.report(A).and_then(|report| report.received_at), Some(at(7)));
    }

    #[test]
    fn a_peer_with_one_path_still_up_is_not_down() {
        let (mut d, mut a) = (detector(), Peer::new());
        beat(&mut d, &mut a, 0, PUBLIC, Some(0));
        beat(&mut d, &mut a, 0, PRIVATE, Some(0));
        beat(&mut d, &mut a, 4, PUBLIC, Some(3));
        assert!(!d.path_up(at(6), A, PRIVATE), "the private path missed five intervals");
        assert!(d.peer_up(at(6), A, &PATHS), "the public path still carries heartbeats both ways");
    }

    #[test]
    fn a_peer_is_down_only_when_every_path_is_down() {
        let (mut d, mut a) = (detector(), Peer::new());
        beat(&mut d, &mut a, 0, PUBLIC, Some(0));
        beat(&mut d, &mut a, 1, PRIVATE, Some(0));
        assert!(d.peer_up(at(5), A, &PATHS));
        assert!(!d.peer_up(at(6), A, &PATHS));
    }

    #[test]
    fn a_path_the_peer_does_not_hear_us_on_counts_as_down() {
        let (mut d, mut a) = (detector(), Peer::new());
        beat(&mut d, &mut a, 0, PUBLIC, None);
        assert!(d.hears(at(1), A, PUBLIC), "we do hear the peer");
        assert!(!d.path_up(at(1), A, PUBLIC), "but a one-way link is not a working path");
    }

    #[test]
    fn a_heartbeat_that_waited_in_a_receive_ring_proves_nothing_about_the_present() {
        // We were paused from 10 s to 40 s; the peer's heartbeats queued in our ring echo 9 s, the last
        // heartbeat of ours it heard before the pause. They arrive at 40 s looking new.
        let (mut d, mut a) = (detector(), Peer::new());
        beat(&mut d, &mut a, 40, PUBLIC, Some(9));
        assert!(d.hears(at(40), A, PUBLIC), "we did receive something");
        assert!(!d.path_up(at(40), A, PUBLIC), "but no round trip completed within the failure timeout");
        beat(&mut d, &mut a, 41, PUBLIC, Some(40));
        assert!(d.path_up(at(41), A, PUBLIC), "a heartbeat echoing our post-resume send brings it up");
    }

    #[test]
    fn the_latest_echo_wins_so_a_stepped_clock_cannot_pin_a_path_up() {
        // Our clock stepped back from 100 s to 50 s: an echo of 100 s would look fresh for 50 s more.
        // The peer's newer heartbeat wins by its sequence, not by the larger time.
        let (mut d, mut a) = (detector(), Peer::new());
        beat(&mut d, &mut a, 100, PUBLIC, Some(100));
        beat(&mut d, &mut a, 50, PUBLIC, None);
        assert!(!d.path_up(at(50), A, PUBLIC), "the peer says it no longer hears us");
    }

    #[test]
    fn we_echo_the_peers_latest_send_time_only_while_we_hear_it() {
        let (mut d, mut a) = (detector(), Peer::new());
        beat(&mut d, &mut a, 3, PUBLIC, None);
        assert_eq!(d.echo_for(at(4), A, PUBLIC), Some(Echo { incarnation: 1, sent_at: at(3) }));
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
        let (mut d, mut a) = (detector(), Peer::new());
        beat(&mut d, &mut a, 1, PUBLIC, Some(0));
        beat(&mut d, &mut a, 3, PRIVATE, Some(3));
        assert_eq!(d.next_expiry(at(2)), Some(at(6)), "the public path goes silent first");
        assert_eq!(d.next_expiry(at(7)), Some(at(8)));
        assert_eq!(d.next_expiry(at(8)), Some(at(9)), "the private echo ages out an interval later");
        assert_eq!(d.next_expiry(at(9)), None);
    }

    #[test]
    fn a_heartbeat_from_before_the_peers_reboot_is_never_fresh() {
        // A sent a heartbeat at 9 s, quorate and hearing us, then was power-cycled. A latency spike held
        // that heartbeat on the link: it arrives at 11 s, after A's new life said it is not quorate.
        let (mut d, mut a) = (detector(), Peer::new());
        let before_reboot = a.next(PUBLIC, 9, Some(9));
        a.reboot();
        d.received(at(10), a.next(PUBLIC, 10, None), saying(false));
        d.received(at(11), before_reboot.clone(), saying(true));
        assert!(!d.path_up(at(11), A, PUBLIC), "the old life's echo proves nothing about the new one");
        assert!(
            !d.hears(at(15) + Duration::from_millis(500), A, PUBLIC),
            "nor is its arrival a sign of life"
        );
        assert_eq!(quorate(&d), Some(false), "the new life's report stands");
        assert_eq!(d.echo_for(at(11), A, PUBLIC).map(|echo| echo.incarnation), Some(2));

        // Had the new life not been heard yet, the same heartbeat would be fresh.
        let mut d = detector();
        d.received(at(11), before_reboot, saying(true));
        assert!(d.path_up(at(11), A, PUBLIC));
        assert_eq!(quorate(&d), Some(true));
    }

    #[test]
    fn a_previous_lifes_heartbeat_on_a_path_the_new_life_has_not_used_yet_is_not_fresh() {
        // A's new life has been heard on the public path only; a heartbeat of its old life that waited
        // on the private path arrives now. That path has no newer stamp to compare with: the
        // incarnation alone must turn it away.
        let (mut d, mut a) = (detector(), Peer::new());
        let old_private = a.next(PRIVATE, 9, Some(9));
        a.reboot();
        d.received(at(10), a.next(PUBLIC, 10, Some(10)), saying(false));
        d.received(at(11), old_private, saying(true));
        assert!(!d.hears(at(11), A, PRIVATE), "the old life's heartbeat is no sign of life");
        assert!(d.path_up(at(11), A, PUBLIC), "the new life's path stays up");
    }

    #[test]
    fn a_heartbeat_replayed_on_another_path_does_not_refresh_the_peers_report() {
        // Every heartbeat has its own stamp, so one stamp on a second path is a replay: it must not
        // make an old report (say, "the owner stopped") look as if it had just arrived.
        let (mut d, mut a) = (detector(), Peer::new());
        let seen = a.next(PUBLIC, 1, Some(1));
        d.received(at(1), seen.clone(), saying(false));
        d.received(at(4), HeartbeatSeen { path: PRIVATE, ..seen }, saying(false));
        assert_eq!(d.report(A).and_then(|report| report.received_at), Some(at(1)));
    }

    #[test]
    fn heartbeats_of_one_life_on_two_paths_keep_both_paths_up() {
        let (mut d, mut a) = (detector(), Peer::new());
        beat(&mut d, &mut a, 1, PUBLIC, Some(1));
        beat(&mut d, &mut a, 1, PRIVATE, Some(1));
        beat(&mut d, &mut a, 2, PUBLIC, Some(2));
        assert!(d.path_up(at(2), A, PRIVATE), "a later heartbeat of the same life is not a reboot");
        assert!(d.path_up(at(2), A, PUBLIC));
    }

    #[test]
    fn a_path_is_down_exactly_one_failure_timeout_after_its_last_heartbeat() {
        let (mut d, mut a) = (detector(), Peer::new());
        beat(&mut d, &mut a, 10, PUBLIC, Some(10));
        let just_before = at(15) - Duration::from_nanos(1);
        assert!(d.hears(just_before, A, PUBLIC) && d.path_up(just_before, A, PUBLIC));
        assert!(!d.hears(at(15), A, PUBLIC), "the failure timeout is 5 s");
    }

    #[test]
    fn an_echo_proves_the_path_until_exactly_one_echo_timeout_after_our_send() {
        // The echo timeout is the failure timeout plus one interval: 6 s. The peer keeps answering
        // (so we hear it), but its echoes stay at our send time of 10 s.
        let (mut d, mut a) = (detector(), Peer::new());
        for now in [12, 14, 15] {
            beat(&mut d, &mut a, now, PUBLIC, Some(10));
        }
        assert!(d.path_up(at(16) - Duration::from_nanos(1), A, PUBLIC));
        assert!(!d.path_up(at(16), A, PUBLIC));
    }

    #[test]
    fn a_rebooted_peer_is_not_counted_on_what_its_previous_life_proved() {
        // A's first life proved both paths at 10 s. Its new life is heard at 11 s on the public path
        // only, not yet hearing us: the private path's proof came from a process that no longer exists.
        let (mut d, mut a) = (detector(), Peer::new());
        beat(&mut d, &mut a, 10, PUBLIC, Some(10));
        beat(&mut d, &mut a, 10, PRIVATE, Some(10));
        let mut same_life = d.clone();
        a.reboot();
        beat(&mut d, &mut a, 11, PUBLIC, None);
        assert!(!d.peer_up(at(11), A, &PATHS), "no path proves the new life hears us");
        assert!(!d.hears(at(11), A, PRIVATE), "the private path has not carried the new life");

        // The same heartbeat from the same life leaves the private path's proof standing.
        let mut a = Peer { incarnation: 1, sequence: 2 };
        beat(&mut same_life, &mut a, 11, PUBLIC, None);
        assert!(same_life.peer_up(at(11), A, &PATHS), "the private path still works both ways");
    }

    #[test]
    fn a_replayed_heartbeat_does_not_refresh_its_path() {
        // A heartbeat of 1 s delivered again at 5.5 s (a duplicated frame): A has said nothing since.
        let (mut d, mut a) = (detector(), Peer::new());
        let heartbeat = a.next(PUBLIC, 1, Some(1));
        d.received(at(1), heartbeat.clone(), PeerReport::default());
        let late = at(5) + Duration::from_millis(500);
        d.received(late, heartbeat, PeerReport::default());
        assert!(!d.hears(at(6) + Duration::from_millis(500), A, PUBLIC), "A went silent at 1 s");
        assert_eq!(d.echo_for(at(6) + Duration::from_millis(500), A, PUBLIC), None, "so we echo nothing");

        // A new heartbeat arriving at the same instant does refresh the path.
        d.received(late, a.next(PUBLIC, 5, Some(5)), PeerReport::default());
        assert!(d.path_up(at(6) + Duration::from_millis(500), A, PUBLIC));
    }

    #[test]
    fn an_overtaken_heartbeat_does_not_take_back_a_fresher_echo() {
        // A's heartbeats of 20 s and 21 s: a latency spike ended between them, so 21 s arrives first.
        let (mut d, mut a) = (detector(), Peer::new());
        let (older, newer) = (a.next(PUBLIC, 20, Some(14)), a.next(PUBLIC, 21, Some(20)));
        d.received(at(21), newer, PeerReport::default());
        d.received(at(22), older.clone(), PeerReport::default());
        assert!(d.path_up(at(22), A, PUBLIC), "the echo of 20 s stands; 14 s would be too old");

        // In sending order, the later heartbeat's echo is the one that counts.
        let mut d = detector();
        d.received(at(21), older, PeerReport::default());
        assert!(!d.path_up(at(21), A, PUBLIC), "an echo of 14 s is too old at 21 s");
    }

    #[test]
    fn a_reordered_heartbeat_does_not_overwrite_the_newer_report() {
        // A said "not quorate" at 30 s on the private path, which a latency spike held, then "quorate"
        // at 31 s on the public path. The private one arrives last.
        let (mut d, mut a) = (detector(), Peer::new());
        let (older, newer) = (a.next(PRIVATE, 30, Some(30)), a.next(PUBLIC, 31, Some(31)));
        d.received(at(31), newer, saying(true));
        d.received(at(32), older, saying(false));
        assert_eq!(quorate(&d), Some(true), "the newer report stands");
        assert_eq!(d.report(A).and_then(|report| report.received_at), Some(at(31)));
        assert!(d.path_up(at(32), A, PRIVATE), "the private path did carry A's heartbeat both ways");

        // A newer heartbeat replaces the report, on whichever path it comes.
        d.received(at(33), a.next(PRIVATE, 32, Some(32)), saying(false));
        assert_eq!(quorate(&d), Some(false));
    }

    #[test]
    fn an_echo_of_our_previous_incarnation_proves_nothing() {
        // We rebooted fast at 10 s. A heard our previous life at 9 s and echoes it: young enough to
        // pass the echo rule, since our clock ran on, but it was not this life that A heard.
        let (mut d, mut a) = (detector(), Peer::new());
        let mut previous_life = a.next(PUBLIC, 10, None);
        previous_life.echo = Some(Echo { incarnation: OURS - 1, sent_at: at(9) });
        d.received(at(10), previous_life, PeerReport::default());
        assert!(d.hears(at(10), A, PUBLIC));
        assert!(!d.path_up(at(10), A, PUBLIC), "A has not heard us yet");
        assert_eq!(d.next_expiry(at(10)), Some(at(15)), "no echo of ours to age out");

        // The echo of a send of this life does prove the path.
        beat(&mut d, &mut a, 11, PUBLIC, Some(10));
        assert!(d.path_up(at(11), A, PUBLIC));
    }

    #[test]
    fn a_peers_heartbeats_are_judged_apart_from_other_peers() {
        // B's reboot or sequence says nothing about A's.
        let mut d = Detector::new(OURS, &[A, B], &PATHS, Duration::from_secs(5), Duration::from_secs(1));
        let mut a = Peer::new();
        let b = |sequence| HeartbeatSeen {
            peer: B,
            path: PUBLIC,
            stamp: SendStamp { incarnation: 7, sequence },
            sent_at: at(1),
            echo: Some(Echo { incarnation: OURS, sent_at: at(1) }),
        };
        d.received(at(1), b(100), PeerReport::default());
        beat(&mut d, &mut a, 1, PUBLIC, Some(1));
        assert!(d.path_up(at(1), A, PUBLIC) && d.path_up(at(1), B, PUBLIC));
    }
}
