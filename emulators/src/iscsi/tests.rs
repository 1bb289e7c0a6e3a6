//! The initiator driven against a tiny fake target: it answers commands and NOP-Outs after a per-path
//! delay, and can cut a path (nothing gets through) or black-hole it (NOPs and TURs pass, data does
//! not, like an MTU mismatch).

use super::*;
use crate::san::{BlockContent, Reply, Sense, UnitAttention};
use std::collections::VecDeque;

const LUN: LunId = LunId(1);
const P0: PathIndex = PathIndex(0);
const P1: PathIndex = PathIndex(1);

fn good() -> Status {
    Status::Good(Reply::None)
}

fn unit_attention() -> Status {
    Status::CheckCondition(Sense::UnitAttention(UnitAttention::PowerOnReset))
}

fn write() -> Command {
    let block = BlockContent { writer: HostId(1), epoch: 1, payload: 7 };
    Command::Write { lba: 0, data: vec![block; 8], fua: false }
}

fn secs(secs: u64) -> SimTime {
    SimTime::from_secs(secs)
}

fn millis(millis: u64) -> SimTime {
    SimTime::from_millis(millis)
}

/// The initiator, a fake array behind its paths, and a log of what came out.
struct Rig {
    initiator: Initiator,
    now: SimTime,
    events: BTreeMap<(SimTime, u64), InitiatorInput>,
    seq: u64,
    wake: Option<SimTime>,
    /// Per path: frames get through at all.
    link_up: Vec<bool>,
    /// Per path: data commands vanish while NOPs and TURs pass (an MTU black hole).
    black_hole: Vec<bool>,
    /// Per path: how long an answer takes to come back.
    delay: Vec<Duration>,
    /// Answers for the next data commands, in order; `Good` once empty.
    answers: VecDeque<Status>,
    /// Per path: what a checker TUR gets.
    tur_status: Vec<Status>,
    next_io: u64,
    /// Every output with the time it came out.
    log: Vec<(SimTime, InitiatorOutput)>,
}

impl Rig {
    fn new(config: InitiatorConfig, paths: u8) -> Rig {
        let (initiator, out) = Initiator::new(HostId(1), config, paths, &[LUN], SimTime::ZERO);
        let count = usize::from(paths);
        let mut rig = Rig {
            initiator,
            now: SimTime::ZERO,
            events: BTreeMap::new(),
            seq: 0,
            wake: None,
            link_up: vec![true; count],
            black_hole: vec![false; count],
            delay: vec![Duration::from_millis(1); count],
            answers: VecDeque::new(),
            tur_status: vec![good(); count],
            next_io: 0,
            log: Vec::new(),
        };
        rig.absorb(out);
        rig
    }

    fn deliver_at(&mut self, at: SimTime, input: InitiatorInput) {
        self.seq += 1;
        self.events.insert((at, self.seq), input);
    }

    fn absorb(&mut self, out: Vec<InitiatorOutput>) {
        for output in out {
            match &output {
                InitiatorOutput::SendCommand { path, tag, command, .. } => {
                    let index = usize::from(path.0);
                    let is_tur = *command == Command::TestUnitReady;
                    if self.link_up[index] && (is_tur || !self.black_hole[index]) {
                        let status = if is_tur {
                            self.tur_status[index].clone()
                        } else {
                            self.answers.pop_front().unwrap_or_else(good)
                        };
                        let at = self.now + self.delay[index];
                        self.deliver_at(at, InitiatorInput::Response { path: *path, tag: *tag, status });
                    }
                }
                InitiatorOutput::SendNop { path } => {
                    let index = usize::from(path.0);
                    if self.link_up[index] {
                        let at = self.now + self.delay[index];
                        self.deliver_at(at, InitiatorInput::NopIn { path: *path });
                    }
                }
                InitiatorOutput::WakeAt(at) => self.wake = Some(*at),
                _ => {}
            }
            self.log.push((self.now, output));
        }
    }

    /// Runs every answer and timer up to and including `until`.
    fn run_until(&mut self, until: SimTime) {
        loop {
            let event_at = self.events.keys().next().map(|&(at, _)| at);
            let next = [event_at, self.wake].into_iter().flatten().min();
            let Some(at) = next.filter(|&at| at <= until) else { break };
            self.now = at;
            let input = if event_at == Some(at) {
                let key = *self.events.keys().next().expect("an event is due");
                self.events.remove(&key).expect("key came from the map")
            } else {
                self.wake = None;
                InitiatorInput::Wake
            };
            let out = self.initiator.handle(at, input);
            self.absorb(out);
        }
        self.now = until;
    }

    fn submit_via(&mut self, command: Command, via: Via) -> IoId {
        self.next_io += 1;
        let io = IoId(self.next_io);
        let out = self.initiator.handle(self.now, InitiatorInput::Submit { io, lun: LUN, command, via });
        self.absorb(out);
        io
    }

    fn submit(&mut self) -> IoId {
        self.submit_via(write(), Via::Multipath)
    }

    /// Cuts or restores path `index`; answers already on their way back over a cut path are lost.
    fn set_link(&mut self, index: usize, up: bool) {
        self.link_up[index] = up;
        if !up {
            let path = PathIndex(u8::try_from(index).expect("small"));
            self.events.retain(|_, input| match input {
                InitiatorInput::Response { path: p, .. } | InitiatorInput::NopIn { path: p } => *p != path,
                _ => true,
            });
        }
    }

    fn reset(&mut self) {
        let out = self.initiator.reset(self.now);
        self.absorb(out);
    }

    /// The paths that data commands went down, with when.
    fn data_sends(&self) -> Vec<(SimTime, PathIndex)> {
        self.log
            .iter()
            .filter_map(|(at, output)| match output {
                InitiatorOutput::SendCommand { path, command, .. } if *command != Command::TestUnitReady => {
                    Some((*at, *path))
                }
                _ => None,
            })
            .collect()
    }

    fn completions(&self) -> Vec<(SimTime, IoId, IoResult)> {
        self.log
            .iter()
            .filter_map(|(at, output)| match output {
                InitiatorOutput::Complete { io, result } => Some((*at, *io, result.clone())),
                _ => None,
            })
            .collect()
    }

    fn result_of(&self, io: IoId) -> Option<IoResult> {
        self.completions().into_iter().find(|(_, id, _)| *id == io).map(|(_, _, result)| result)
    }

    fn path_events(&self) -> Vec<(SimTime, PathIndex, bool, PathReason)> {
        self.log
            .iter()
            .filter_map(|(at, output)| match output {
                InitiatorOutput::PathState { path, up, reason } => Some((*at, *path, *up, *reason)),
                _ => None,
            })
            .collect()
    }

    fn count(&self, wanted: fn(&InitiatorOutput) -> bool) -> usize {
        self.log.iter().filter(|(_, output)| wanted(output)).count()
    }
}

fn config(policy: MpioPolicy, no_path_retry: NoPathRetry) -> InitiatorConfig {
    InitiatorConfig { policy, no_path_retry, ..InitiatorConfig::default() }
}

fn paths_of(sends: &[(SimTime, PathIndex)]) -> Vec<PathIndex> {
    sends.iter().map(|&(_, path)| path).collect()
}

#[test]
fn defaults_follow_open_iscsi_dm_multipath_and_msdsm() {
    let config = InitiatorConfig::default();
    assert_eq!(config.noop_out_interval, Duration::from_secs(5));
    assert_eq!(config.noop_out_timeout, Duration::from_secs(5));
    assert_eq!(config.replacement_timeout, Duration::from_secs(120));
    assert_eq!(config.login_retry_interval, Duration::from_secs(5));
    assert_eq!(config.command_timeout, Duration::from_secs(30));
    assert_eq!(config.policy, MpioPolicy::RoundRobin);
    assert_eq!(config.polling_interval, Duration::from_secs(5));
    assert_eq!(config.no_path_retry, NoPathRetry::Fail);
    assert_eq!(config.pdo_remove_period, Duration::from_secs(20));
    assert_eq!(config.retry_count, 3);
    assert_eq!(config.retry_interval, Duration::from_secs(1));
}

#[test]
fn path_i_talks_to_controller_i() {
    assert_eq!(PathIndex(1).controller(), ControllerId(1));
}

#[test]
fn healthy_paths_stay_up_and_keep_sending_nops_and_checker_turs() {
    let mut rig = Rig::new(InitiatorConfig::default(), 2);
    for second in 1..=600 {
        rig.run_until(secs(second));
        rig.submit();
    }
    rig.run_until(secs(601));
    assert!(rig.path_events().is_empty(), "no path changed state: {:?}", rig.path_events());
    assert_eq!(rig.completions().len(), 600);
    assert!(rig.completions().iter().all(|(_, _, result)| *result == IoResult::Status(good())));
    // One NOP-Out and one TUR per path every 5 s.
    let nops = rig.count(|output| matches!(output, InitiatorOutput::SendNop { .. }));
    assert_eq!(nops, 2 * 120);
    let turs = rig.count(|output| {
        matches!(output, InitiatorOutput::SendCommand { command: Command::TestUnitReady, .. })
    });
    assert_eq!(turs, 2 * 120);
    let tags: Vec<u64> = rig
        .log
        .iter()
        .filter_map(|(_, output)| match output {
            InitiatorOutput::SendCommand { tag, .. } => Some(*tag),
            _ => None,
        })
        .collect();
    assert!(tags.windows(2).all(|pair| pair[0] < pair[1]), "tags strictly increase");
    assert_eq!(rig.initiator.in_flight(), 0);
}

#[test]
fn failover_only_uses_the_lowest_path_and_fails_back_when_it_returns() {
    let mut rig = Rig::new(config(MpioPolicy::FailOverOnly, NoPathRetry::Fail), 2);
    rig.run_until(secs(1));
    for _ in 0..3 {
        rig.submit();
    }
    assert_eq!(paths_of(&rig.data_sends()), vec![P0, P0, P0]);
    rig.run_until(secs(2));
    rig.set_link(0, false);
    rig.run_until(secs(11));
    assert!(!rig.initiator.path_up(P0));
    for _ in 0..2 {
        rig.submit();
    }
    rig.set_link(0, true);
    // The login probe at 15 s gets through, the TUR sent on login reinstates the path.
    rig.run_until(secs(16));
    assert!(rig.initiator.path_up(P0));
    rig.submit();
    assert_eq!(paths_of(&rig.data_sends()), vec![P0, P0, P0, P1, P1, P0]);
    rig.run_until(secs(17));
    assert_eq!(rig.completions().len(), 6);
}

#[test]
fn round_robin_alternates_paths_for_consecutive_commands() {
    let mut rig = Rig::new(config(MpioPolicy::RoundRobin, NoPathRetry::Fail), 2);
    rig.run_until(secs(1));
    for _ in 0..4 {
        rig.submit();
    }
    assert_eq!(paths_of(&rig.data_sends()), vec![P0, P1, P0, P1]);
}

#[test]
fn round_robin_skips_a_down_path() {
    let mut rig = Rig::new(config(MpioPolicy::RoundRobin, NoPathRetry::Fail), 3);
    rig.set_link(1, false);
    rig.run_until(secs(11));
    for _ in 0..4 {
        rig.submit();
    }
    assert_eq!(paths_of(&rig.data_sends()), vec![P0, PathIndex(2), P0, PathIndex(2)]);
}

#[test]
fn least_queue_depth_picks_the_path_with_fewer_commands_in_flight() {
    let mut rig = Rig::new(config(MpioPolicy::LeastQueueDepth, NoPathRetry::Fail), 2);
    // Path 0 answers slowly, so its commands stay in flight longer.
    rig.delay[0] = Duration::from_secs(2);
    rig.run_until(secs(1));
    rig.submit();
    rig.submit();
    assert_eq!(paths_of(&rig.data_sends()), vec![P0, P1], "a tie goes to the lowest index");
    rig.run_until(millis(1_100));
    assert_eq!(rig.initiator.in_flight(), 1, "path 1 answered, path 0 did not yet");
    rig.submit();
    rig.submit();
    rig.submit();
    assert_eq!(paths_of(&rig.data_sends()), vec![P0, P1, P1, P0, P1]);
}

#[test]
fn pinned_io_to_a_down_path_fails_at_once_with_no_path() {
    let mut rig = Rig::new(config(MpioPolicy::RoundRobin, NoPathRetry::QueueForever), 2);
    rig.set_link(1, false);
    rig.run_until(secs(11));
    assert!(!rig.initiator.session_logged_in(P1));
    let pinned = rig.submit_via(write(), Via::Path(P1));
    assert_eq!(rig.completions(), vec![(secs(11), pinned, IoResult::NoPath)], "not queued, even so");
    let other = rig.submit_via(write(), Via::Path(P0));
    rig.run_until(secs(12));
    assert_eq!(rig.result_of(other), Some(IoResult::Status(good())));
    assert_eq!(rig.data_sends(), vec![(secs(11), P0)]);
}

#[test]
fn pinned_io_goes_down_its_own_path_whatever_the_policy_prefers() {
    let mut rig = Rig::new(config(MpioPolicy::FailOverOnly, NoPathRetry::Fail), 2);
    rig.run_until(secs(1));
    rig.submit_via(write(), Via::Path(P1));
    rig.submit_via(write(), Via::Path(P1));
    assert_eq!(paths_of(&rig.data_sends()), vec![P1, P1]);
}

#[test]
fn a_nop_timeout_marks_the_path_down_and_requeues_its_in_flight_commands_onto_the_other_path() {
    let mut rig = Rig::new(config(MpioPolicy::RoundRobin, NoPathRetry::Fail), 2);
    rig.run_until(secs(1));
    rig.set_link(0, false);
    let lost = rig.submit();
    let fine = rig.submit();
    rig.run_until(secs(9));
    assert!(rig.initiator.path_up(P0), "not detected before the NOP-Out times out");
    assert_eq!(rig.initiator.in_flight(), 1);
    // The NOP-Out at 5 s is unanswered at 10 s.
    rig.run_until(secs(11));
    assert_eq!(rig.path_events(), vec![(secs(10), P0, false, PathReason::NopTimeout)]);
    assert_eq!(rig.data_sends(), vec![(secs(1), P0), (secs(1), P1), (secs(10), P1)]);
    assert_eq!(rig.result_of(fine), Some(IoResult::Status(good())));
    assert_eq!(
        rig.completions().iter().find(|(_, io, _)| *io == lost).cloned(),
        Some((millis(10_001), lost, IoResult::Status(good())))
    );
    // The dead session keeps probing for a login.
    let probes = rig.log.iter().filter(|(at, output)| {
        *at >= secs(10) && matches!(output, InitiatorOutput::SendNop { path } if *path == P0)
    });
    assert_eq!(probes.count(), 1, "one probe at 10 s, the next at 15 s");
}

#[test]
fn a_returning_session_logs_in_and_the_checker_brings_the_path_back() {
    let mut rig = Rig::new(InitiatorConfig::default(), 2);
    rig.set_link(0, false);
    rig.run_until(secs(12));
    rig.set_link(0, true);
    rig.run_until(secs(30));
    assert_eq!(
        rig.path_events(),
        vec![
            (secs(10), P0, false, PathReason::NopTimeout),
            (millis(15_002), P0, true, PathReason::CheckerOk)
        ]
    );
    assert!(rig.initiator.session_logged_in(P0));
}

#[test]
fn the_replacement_timeout_fails_pinned_commands_kept_by_a_dead_session() {
    let replacement_timeout = Duration::from_secs(15);
    let config = InitiatorConfig { replacement_timeout, ..InitiatorConfig::default() };
    let mut rig = Rig::new(config, 2);
    rig.run_until(secs(1));
    rig.set_link(0, false);
    let pinned = rig.submit_via(write(), Via::Path(P0));
    rig.run_until(secs(24));
    assert_eq!(rig.result_of(pinned), None, "kept by the session until the replacement timeout");
    assert_eq!(rig.initiator.in_flight(), 0);
    rig.run_until(secs(40));
    assert_eq!(rig.completions(), vec![(secs(25), pinned, IoResult::NoPath)]);
    assert_eq!(rig.data_sends(), vec![(secs(1), P0)], "never tried on another nexus");
}

#[test]
fn a_pinned_command_whose_timer_ran_out_while_its_session_was_down_times_out_and_is_never_resent() {
    let mut rig = Rig::new(InitiatorConfig::default(), 2);
    rig.run_until(secs(1));
    rig.set_link(0, false);
    let pinned = rig.submit_via(write(), Via::Path(P0));
    // The command timer (30 s from 1 s) runs out before the session logs in again at about 40 s.
    rig.run_until(secs(38));
    rig.set_link(0, true);
    rig.run_until(secs(60));
    assert_eq!(rig.completions(), vec![(secs(31), pinned, IoResult::TimedOut)]);
    assert_eq!(
        rig.data_sends(),
        vec![(secs(1), P0)],
        "a command its caller gave up on must not go out again"
    );
}

#[test]
fn pinned_commands_are_resent_when_the_session_logs_in_before_the_replacement_timeout() {
    let mut rig = Rig::new(InitiatorConfig::default(), 2);
    rig.run_until(secs(1));
    rig.set_link(0, false);
    let pinned = rig.submit_via(write(), Via::Path(P0));
    rig.run_until(secs(12));
    rig.set_link(0, true);
    rig.run_until(secs(20));
    assert_eq!(rig.data_sends(), vec![(secs(1), P0), (millis(15_001), P0)]);
    assert_eq!(rig.completions(), vec![(millis(15_002), pinned, IoResult::Status(good()))]);
}

/// Cuts every path of a two-path rig at 1 s; both are down for multipath at 10 s.
fn all_paths_lost(config: InitiatorConfig) -> Rig {
    let mut rig = Rig::new(config, 2);
    rig.run_until(secs(1));
    rig.set_link(0, false);
    rig.set_link(1, false);
    rig.run_until(secs(10));
    assert!(!rig.initiator.path_up(P0) && !rig.initiator.path_up(P1));
    rig
}

#[test]
fn no_path_retry_fail_completes_io_with_no_path_at_once() {
    let mut rig = all_paths_lost(config(MpioPolicy::RoundRobin, NoPathRetry::Fail));
    rig.run_until(secs(11));
    let io = rig.submit();
    assert_eq!(rig.completions(), vec![(secs(11), io, IoResult::NoPath)]);
    assert_eq!(rig.initiator.queued(LUN), 0);
}

#[test]
fn no_path_retry_queue_n_holds_io_for_n_polls_then_fails_it() {
    let mut rig = all_paths_lost(config(MpioPolicy::RoundRobin, NoPathRetry::Queue { polls: 3 }));
    rig.run_until(secs(11));
    let first = rig.submit();
    rig.run_until(secs(20));
    let second = rig.submit();
    assert_eq!(rig.initiator.queued(LUN), 2);
    rig.run_until(secs(24));
    assert!(rig.completions().is_empty());
    // 3 polls × 5 s after the last path went down at 10 s.
    rig.run_until(secs(25));
    assert_eq!(
        rig.completions(),
        vec![(secs(25), first, IoResult::NoPath), (secs(25), second, IoResult::NoPath)]
    );
    assert_eq!(rig.initiator.queued(LUN), 0);
    rig.run_until(secs(26));
    let late = rig.submit();
    assert_eq!(rig.result_of(late), Some(IoResult::NoPath), "queueing stays off until a path returns");
}

#[test]
fn no_path_retry_queue_n_releases_held_io_when_a_path_returns_in_time() {
    let mut rig = all_paths_lost(config(MpioPolicy::RoundRobin, NoPathRetry::Queue { polls: 3 }));
    let held = rig.submit();
    rig.set_link(1, true);
    rig.run_until(secs(16));
    assert!(rig.log.iter().any(|(at, output)| *at == millis(15_002)
        && *output == InitiatorOutput::QueueReleased { lun: LUN, count: 1 }));
    assert_eq!(rig.completions(), vec![(millis(15_003), held, IoResult::Status(good()))]);
}

#[test]
fn no_path_retry_queue_forever_holds_io_until_a_path_returns_and_then_releases_it() {
    let config = InitiatorConfig {
        pdo_remove_period: Duration::MAX,
        ..config(MpioPolicy::RoundRobin, NoPathRetry::QueueForever)
    };
    let mut rig = all_paths_lost(config);
    let first = rig.submit();
    rig.run_until(secs(600));
    let second = rig.submit();
    assert_eq!(rig.initiator.queued(LUN), 2);
    assert!(rig.completions().is_empty(), "held for ten minutes and counting");
    rig.set_link(1, true);
    // Login probes go out every 5 s; the one at 605 s is answered and the TUR reinstates path 1.
    rig.run_until(secs(606));
    let released: Vec<_> = rig
        .log
        .iter()
        .filter(|(_, output)| matches!(output, InitiatorOutput::QueueReleased { .. }))
        .cloned()
        .collect();
    assert_eq!(released, vec![(millis(605_002), InitiatorOutput::QueueReleased { lun: LUN, count: 2 })]);
    assert_eq!(rig.data_sends(), vec![(millis(605_002), P1), (millis(605_002), P1)]);
    assert_eq!(
        rig.completions(),
        vec![
            (millis(605_003), first, IoResult::Status(good())),
            (millis(605_003), second, IoResult::Status(good()))
        ]
    );
    assert_eq!(rig.initiator.queued(LUN), 0);
}

#[test]
fn the_pseudo_lun_is_removed_twenty_seconds_after_the_last_path_went_down() {
    let mut rig = all_paths_lost(config(MpioPolicy::RoundRobin, NoPathRetry::QueueForever));
    let held = rig.submit();
    rig.run_until(secs(29));
    assert!(rig.initiator.device_present(LUN));
    rig.run_until(secs(30));
    assert!(!rig.initiator.device_present(LUN));
    assert!(rig.log.contains(&(secs(30), InitiatorOutput::DeviceRemoved { lun: LUN })));
    assert_eq!(rig.completions(), vec![(secs(30), held, IoResult::DeviceRemoved)], "queueing or not");
    let late = rig.submit();
    assert_eq!(rig.result_of(late), Some(IoResult::DeviceRemoved));
    let pinned = rig.submit_via(write(), Via::Path(P0));
    assert_eq!(rig.result_of(pinned), Some(IoResult::DeviceRemoved));
    // A path back is a rescan: the device is found again.
    rig.set_link(0, true);
    rig.run_until(secs(36));
    assert!(rig.initiator.device_present(LUN));
    let again = rig.submit();
    rig.run_until(secs(37));
    assert_eq!(rig.result_of(again), Some(IoResult::Status(good())));
    assert_eq!(rig.count(|output| matches!(output, InitiatorOutput::DeviceRemoved { .. })), 1);
}

#[test]
fn a_ten_second_outage_of_every_path_keeps_the_pseudo_lun() {
    let mut rig = all_paths_lost(InitiatorConfig::default());
    rig.run_until(secs(19));
    rig.set_link(0, true);
    rig.set_link(1, true);
    rig.run_until(secs(21));
    assert!(rig.initiator.path_up(P0) && rig.initiator.path_up(P1), "back at 20 s");
    rig.run_until(secs(120));
    assert!(rig.initiator.device_present(LUN));
    assert_eq!(rig.count(|output| matches!(output, InitiatorOutput::DeviceRemoved { .. })), 0);
    let io = rig.submit();
    rig.run_until(secs(121));
    assert_eq!(rig.result_of(io), Some(IoResult::Status(good())));
}

#[test]
fn a_command_timeout_retries_on_the_other_path_then_times_out_after_retry_count_attempts() {
    let mut rig = Rig::new(InitiatorConfig::default(), 2);
    // An MTU black hole on both paths: NOPs and TURs pass, data vanishes.
    rig.black_hole = vec![true, true];
    rig.run_until(secs(1));
    let io = rig.submit();
    rig.run_until(secs(120));
    // 30 s timer, 1 s retry interval; path 0 was reinstated by the checker at 35 s meanwhile.
    assert_eq!(rig.data_sends(), vec![(secs(1), P0), (secs(32), P1), (secs(63), P0)]);
    assert_eq!(rig.completions(), vec![(secs(93), io, IoResult::TimedOut)]);
    let downs: Vec<_> = rig.path_events().into_iter().filter(|event| !event.2).collect();
    assert_eq!(
        downs,
        vec![
            (secs(31), P0, false, PathReason::CommandTimeout),
            (secs(62), P1, false, PathReason::CommandTimeout),
            (secs(93), P0, false, PathReason::CommandTimeout)
        ]
    );
}

#[test]
fn a_command_that_times_out_once_succeeds_on_the_other_path() {
    let mut rig = Rig::new(InitiatorConfig::default(), 2);
    rig.black_hole[0] = true;
    rig.run_until(secs(1));
    let io = rig.submit();
    rig.run_until(secs(40));
    assert_eq!(rig.data_sends(), vec![(secs(1), P0), (secs(32), P1)]);
    assert_eq!(rig.completions(), vec![(millis(32_001), io, IoResult::Status(good()))]);
}

#[test]
fn the_checker_reinstates_a_path_that_a_command_timeout_failed() {
    let mut rig = Rig::new(InitiatorConfig::default(), 1);
    rig.black_hole[0] = true;
    rig.run_until(secs(1));
    let io = rig.submit();
    rig.run_until(secs(33));
    assert!(!rig.initiator.path_up(P0));
    assert_eq!(rig.result_of(io), Some(IoResult::NoPath), "the retry at 32 s found no path");
    rig.run_until(secs(36));
    assert!(rig.initiator.path_up(P0));
    assert_eq!(
        rig.path_events(),
        vec![
            (secs(31), P0, false, PathReason::CommandTimeout),
            (millis(35_001), P0, true, PathReason::CheckerOk)
        ]
    );
}

#[test]
fn a_checker_tur_that_fails_takes_the_path_out_until_one_succeeds() {
    let mut rig = Rig::new(InitiatorConfig::default(), 2);
    rig.tur_status[0] = Status::CheckCondition(Sense::NotReady);
    rig.run_until(secs(6));
    assert!(!rig.initiator.path_up(P0));
    assert!(rig.initiator.session_logged_in(P0), "the session itself is fine");
    rig.submit();
    rig.submit();
    assert_eq!(paths_of(&rig.data_sends()), vec![P1, P1]);
    rig.tur_status[0] = unit_attention();
    rig.run_until(secs(11));
    assert!(rig.initiator.path_up(P0), "a unit attention means the target answers");
    assert_eq!(
        rig.path_events(),
        vec![
            (millis(5_001), P0, false, PathReason::CheckerFailed),
            (millis(10_001), P0, true, PathReason::CheckerOk)
        ]
    );
}

#[test]
fn a_checker_tur_answered_with_lun_not_presented_keeps_the_path_up_because_the_target_answered() {
    let mut rig = Rig::new(InitiatorConfig::default(), 2);
    rig.tur_status[0] = Status::CheckCondition(Sense::LunNotPresented);
    rig.run_until(secs(11));
    assert!(rig.initiator.path_up(P0), "the target answered on that nexus");
    assert_eq!(rig.path_events(), vec![]);
}

#[test]
fn an_unanswered_checker_tur_fails_the_path_at_the_next_poll() {
    let config = InitiatorConfig { noop_out_interval: Duration::from_secs(60), ..InitiatorConfig::default() };
    let mut rig = Rig::new(config, 2);
    rig.black_hole[0] = true;
    rig.run_until(secs(1));
    rig.set_link(0, false);
    rig.run_until(secs(11));
    assert_eq!(rig.path_events(), vec![(secs(10), P0, false, PathReason::CheckerTimeout)]);
    assert!(rig.initiator.session_logged_in(P0), "the NOP-Out has not noticed yet");
}

#[test]
fn a_unit_attention_is_retried_once_on_the_same_path() {
    let mut rig = Rig::new(InitiatorConfig::default(), 2);
    rig.answers = VecDeque::from([unit_attention()]);
    rig.run_until(secs(1));
    let io = rig.submit();
    rig.run_until(secs(2));
    assert_eq!(rig.data_sends(), vec![(secs(1), P0), (millis(1_001), P0)]);
    assert_eq!(rig.completions(), vec![(millis(1_002), io, IoResult::Status(good()))]);
}

#[test]
fn a_second_unit_attention_is_reported_to_the_application() {
    let mut rig = Rig::new(InitiatorConfig::default(), 2);
    rig.answers = VecDeque::from([unit_attention(), unit_attention()]);
    rig.run_until(secs(1));
    let io = rig.submit();
    rig.run_until(secs(2));
    assert_eq!(rig.data_sends().len(), 2);
    assert_eq!(rig.completions(), vec![(millis(1_002), io, IoResult::Status(unit_attention()))]);
}

#[test]
fn a_reservation_conflict_is_never_retried() {
    let mut rig = Rig::new(InitiatorConfig::default(), 2);
    rig.answers = VecDeque::from([Status::ReservationConflict]);
    rig.run_until(secs(1));
    let io = rig.submit();
    rig.run_until(secs(2));
    assert_eq!(rig.data_sends().len(), 1);
    assert_eq!(rig.completions(), vec![(millis(1_001), io, IoResult::Status(Status::ReservationConflict))]);
    assert!(rig.path_events().is_empty(), "a conflict says nothing against the path");
}

#[test]
fn reset_drops_queued_and_in_flight_io_without_completions_and_logs_in_again() {
    let mut rig = all_paths_lost(config(MpioPolicy::RoundRobin, NoPathRetry::QueueForever));
    rig.set_link(0, true);
    rig.black_hole[0] = true;
    rig.run_until(secs(16));
    assert!(rig.initiator.path_up(P0));
    let in_flight = rig.submit();
    rig.set_link(0, false);
    rig.run_until(secs(26));
    assert_eq!(rig.initiator.queued(LUN), 1, "requeued when path 0 failed again at 25 s");
    rig.submit();
    assert_eq!(rig.initiator.queued(LUN), 2);
    rig.set_link(0, true);
    rig.set_link(1, true);
    rig.black_hole[0] = false;
    let before = rig.log.len();
    rig.reset();
    assert_eq!(rig.initiator.queued(LUN), 0);
    assert_eq!(rig.initiator.in_flight(), 0);
    let after_reset: Vec<InitiatorOutput> =
        rig.log[before..].iter().map(|(_, output)| output.clone()).collect();
    assert!(after_reset.contains(&InitiatorOutput::SendNop { path: P0 }));
    assert!(after_reset.contains(&InitiatorOutput::SendNop { path: P1 }));
    rig.run_until(secs(100));
    assert!(rig.completions().is_empty(), "no completion, ever, for I/O of the dead application");
    assert_eq!(rig.result_of(in_flight), None);
    assert_eq!(rig.count(|output| matches!(output, InitiatorOutput::QueueReleased { .. })), 0);
    assert!(rig.initiator.path_up(P0) && rig.initiator.path_up(P1), "logged in again after the reboot");
    assert!(rig.initiator.device_present(LUN));
}

#[test]
fn reset_reports_up_paths_going_down() {
    let mut rig = Rig::new(InitiatorConfig::default(), 2);
    rig.run_until(secs(1));
    rig.reset();
    assert_eq!(
        rig.path_events(),
        vec![(secs(1), P0, false, PathReason::HostReset), (secs(1), P1, false, PathReason::HostReset)]
    );
    assert!(!rig.initiator.path_up(P0));
    rig.run_until(secs(2));
    assert!(rig.initiator.path_up(P0) && rig.initiator.path_up(P1));
}

#[test]
fn a_wake_is_asked_for_again_only_when_the_earliest_timer_changes() {
    let (mut initiator, out) =
        Initiator::new(HostId(1), InitiatorConfig::default(), 2, &[LUN], SimTime::ZERO);
    assert_eq!(out, vec![InitiatorOutput::WakeAt(secs(5))]);
    // A NOP-In for no NOP changes no timer, so the pending wake stands.
    assert_eq!(initiator.handle(secs(1), InitiatorInput::NopIn { path: P0 }), vec![]);
    let out = initiator.handle(secs(5), InitiatorInput::Wake);
    assert_eq!(out.last(), Some(&InitiatorOutput::WakeAt(secs(10))));
}

#[test]
fn unknown_luns_and_paths_are_answered_without_panicking() {
    let (mut initiator, _) = Initiator::new(HostId(1), InitiatorConfig::default(), 2, &[LUN], SimTime::ZERO);
    let out = initiator.handle(
        secs(1),
        InitiatorInput::Submit { io: IoId(1), lun: LunId(99), command: write(), via: Via::Multipath },
    );
    assert!(out.contains(&InitiatorOutput::Complete { io: IoId(1), result: IoResult::DeviceRemoved }));
    let out = initiator.handle(
        secs(1),
        InitiatorInput::Submit { io: IoId(2), lun: LUN, command: write(), via: Via::Path(PathIndex(7)) },
    );
    assert!(out.contains(&InitiatorOutput::Complete { io: IoId(2), result: IoResult::NoPath }));
    initiator.handle(secs(1), InitiatorInput::NopIn { path: PathIndex(7) });
    initiator.handle(secs(1), InitiatorInput::Response { path: PathIndex(7), tag: 1, status: good() });
    initiator.handle(secs(1), InitiatorInput::Response { path: P0, tag: 12345, status: good() });
    assert!(!initiator.path_up(PathIndex(7)));
    assert_eq!(initiator.in_flight(), 0);
}

#[test]
fn the_same_inputs_give_the_same_outputs() {
    let run = || {
        let mut rig = Rig::new(config(MpioPolicy::LeastQueueDepth, NoPathRetry::Queue { polls: 2 }), 3);
        rig.black_hole[2] = true;
        for second in 1..200 {
            if second % 37 == 0 {
                let index = usize::try_from(second % 3).expect("small");
                let up = !rig.link_up[index];
                rig.set_link(index, up);
            }
            rig.run_until(secs(second));
            rig.submit();
        }
        rig.log
    };
    assert_eq!(run(), run());
}
