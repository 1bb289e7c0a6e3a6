//! One host's iSCSI initiator and the multipath layer above it (domain.md sections 4.1, 5.1 to 5.4).
//!
//! The host has one iSCSI session per path (one per storage network; path `i` talks to array controller
//! `ControllerId(i)`), and one multipath device per LUN above them, all LUNs sharing the path set.
//!
//! - [`session`]: the per-path session: NOP-Out keepalive, connection failure, re-login, and the
//!   replacement timeout after which commands pinned to a dead session fail upward (open-iscsi).
//! - [`multipath`]: path selection (fail over only, round robin, least queue depth), the TUR path
//!   checker, the `no_path_retry` queue, and pseudo-LUN removal after `PDORemovePeriod` (dm-multipath
//!   and MSDSM, blended: each timer can be set so that its half of the model stays out of the way).
//!
//! The initiator is sans-IO: every effect leaves as an [`InitiatorOutput`] (a PDU to put on a path's
//! wire, a completion for the application, a state change for the history, the next time it wants to
//! be woken), and every stimulus arrives as an [`InitiatorInput`] with the current time. Timers due at
//! or before `now` are processed at the start of every call, so a late `Wake` loses nothing.

mod multipath;
mod session;
#[cfg(test)]
mod tests;

use crate::ids::{ControllerId, HostId, LunId};
use crate::san::{Command, Status};
use core::time::Duration;
use kernel::SimTime;
use multipath::{Checker, Device};
use serde::{Deserialize, Serialize};
use session::Session;
use std::collections::BTreeMap;

/// A path from this host to the array: path `i` runs over storage network `i` to `ControllerId(i)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PathIndex(pub u8);

impl PathIndex {
    /// The array controller at the other end of this path: path `i` talks to `ControllerId(i)`.
    pub fn controller(self) -> ControllerId {
        ControllerId(self.0)
    }
}

/// The caller's id for one I/O, echoed in its [`InitiatorOutput::Complete`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IoId(pub u64);

/// Why the multipath layer started or stopped using a path ([`InitiatorOutput::PathState`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathReason {
    /// The session's NOP-Out went unanswered: the connection is taken to have failed.
    NopTimeout,
    /// A command sent down the path timed out (an I/O error fails the path, as in dm-multipath).
    CommandTimeout,
    /// The path checker's TEST UNIT READY succeeded.
    CheckerOk,
    /// The path checker's TEST UNIT READY returned an error.
    CheckerFailed,
    /// The path checker's TEST UNIT READY went unanswered for a polling interval.
    CheckerTimeout,
    /// The host's initiator was reset (a power loss of the host): every session starts over.
    HostReset,
}

/// How the multipath layer spreads I/O over the usable paths (MSDSM policies, domain.md 5.3; the
/// dm-multipath selectors round-robin and queue-length are the same ideas, 5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MpioPolicy {
    /// The lowest-numbered usable path carries everything; I/O fails back to it when it returns.
    FailOverOnly,
    /// Each command goes to the next usable path in turn.
    RoundRobin,
    /// Each command goes to the usable path with the fewest commands in flight (ties: lowest index).
    LeastQueueDepth,
}

/// What dm-multipath does with I/O when no path is usable (`no_path_retry`, domain.md 5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoPathRetry {
    /// `fail`: complete with [`IoResult::NoPath`] at once.
    Fail,
    /// `N`: hold I/O for `polls` × `polling_interval` after the last path went down, then fail
    /// everything held (and anything new) until a path returns.
    Queue { polls: u32 },
    /// `queue` (`queue_if_no_path`): hold I/O until a path returns, however long that takes.
    QueueForever,
}

/// The initiator's timers and policies. Each field gives its default and where it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiatorConfig {
    /// How often a logged-in session sends a NOP-Out. Default 5 s (open-iscsi `noop_out_interval`,
    /// domain.md 5.2).
    pub noop_out_interval: Duration,
    /// How long a NOP-Out may go unanswered (with nothing else received) before the connection is
    /// failed. Default 5 s (open-iscsi `noop_out_timeout`, 5.2).
    pub noop_out_timeout: Duration,
    /// How long a failed session keeps commands pinned to it before failing them upward. Default 120 s
    /// (open-iscsi `replacement_timeout`; 5 to 15 s is recommended under multipath, 5.2).
    pub replacement_timeout: Duration,
    /// H: 5 s between re-login attempts of a failed session (each attempt is a NOP-style probe).
    pub login_retry_interval: Duration,
    /// How long a data command may wait for its response before it is aborted and retried. Default
    /// 30 s (the SCSI command timer, 30 to 60 s, 5.2).
    pub command_timeout: Duration,
    /// Path selection. Default round robin (the MSDSM default for active-active arrays, 5.3).
    pub policy: MpioPolicy,
    /// How often the path checker sends a TEST UNIT READY down every path; an unanswered check fails
    /// the path after the same time. Default 5 s (dm-multipath `polling_interval`, 5.1).
    pub polling_interval: Duration,
    /// What happens to I/O while no path is usable. Default fail (dm-multipath, 5.1).
    pub no_path_retry: NoPathRetry,
    /// How long the pseudo-LUNs survive after the last path went down; then every device is removed.
    /// Default 20 s (MSDSM `PDORemovePeriod`, 5.3). `Duration::MAX` keeps devices forever.
    pub pdo_remove_period: Duration,
    /// Attempts in total for a data command whose attempts time out. Default 3 (MSDSM `RetryCount`,
    /// 5.3).
    pub retry_count: u32,
    /// Pause before retrying a timed-out command. Default 1 s (MSDSM `RetryInterval`, 5.3).
    pub retry_interval: Duration,
}

impl Default for InitiatorConfig {
    fn default() -> Self {
        InitiatorConfig {
            noop_out_interval: Duration::from_secs(5),
            noop_out_timeout: Duration::from_secs(5),
            replacement_timeout: Duration::from_secs(120),
            login_retry_interval: Duration::from_secs(5),
            command_timeout: Duration::from_secs(30),
            policy: MpioPolicy::RoundRobin,
            polling_interval: Duration::from_secs(5),
            no_path_retry: NoPathRetry::Fail,
            pdo_remove_period: Duration::from_secs(20),
            retry_count: 3,
            retry_interval: Duration::from_secs(1),
        }
    }
}

/// Which way a command goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// Through the multipath device: any usable path, by the policy.
    Multipath,
    /// Down one I_T nexus only, never another: registering a PR key must happen on every path.
    Path(PathIndex),
}

/// What happens to the initiator.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitiatorInput {
    /// The application submits an I/O.
    Submit { io: IoId, lun: LunId, command: Command, via: Via },
    /// A response PDU arrived on `path` for the command sent with `tag`.
    Response { path: PathIndex, tag: u64, status: Status },
    /// The target answered a NOP-Out on `path`.
    NopIn { path: PathIndex },
    /// A timer asked for with [`InitiatorOutput::WakeAt`] fired (or any later time).
    Wake,
}

/// How an I/O ended, as the application sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IoResult {
    /// The target's answer (Good, ReservationConflict, CheckCondition).
    Status(Status),
    /// No usable path and `no_path_retry` says fail (or its N polls ran out), or the session of a
    /// pinned path is down.
    NoPath,
    /// The pseudo-LUN was removed (`pdo_remove_period` after the last path went away): the device is
    /// gone.
    DeviceRemoved,
    /// Every attempt timed out (`command_timeout` on each of `retry_count` attempts).
    TimedOut,
}

/// What the initiator asks of the harness, in the order it should happen.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitiatorOutput {
    /// Put a command PDU on the wire of `path`: the harness carries it over that path's network to the
    /// array controller, calls the array, and later feeds back [`InitiatorInput::Response`].
    SendCommand { path: PathIndex, tag: u64, lun: LunId, command: Command, bytes: u64 },
    /// Send a NOP-Out on `path` (48 bytes); the harness delivers [`InitiatorInput::NopIn`] if the
    /// controller answers and the reply comes back.
    SendNop { path: PathIndex },
    /// An I/O finished (for the application).
    Complete { io: IoId, result: IoResult },
    /// The multipath layer started or stopped using `path`.
    PathState { path: PathIndex, up: bool, reason: PathReason },
    /// The pseudo-LUN of `lun` was removed.
    DeviceRemoved { lun: LunId },
    /// I/O held in the no-path queue was released onto a path that came back (possibly long after
    /// another node took over, domain.md 5.1 "Known issue").
    QueueReleased { lun: LunId, count: u32 },
    /// Call back with [`InitiatorInput::Wake`] at (or after) this time; a later `WakeAt` replaces an
    /// earlier one.
    WakeAt(SimTime),
}

/// Size of a NOP-Out PDU: one basic header segment.
pub const NOP_BYTES: u64 = crate::san::PDU_HEADER_BYTES;

/// One I/O as the initiator carries it between attempts.
#[derive(Clone, Debug)]
struct Io {
    id: IoId,
    lun: LunId,
    command: Command,
    via: Via,
    /// Attempts that ended in a command timeout so far.
    timeouts: u32,
    /// A unit attention is reported once, so a command is re-sent after one and not after a second.
    ua_retried: bool,
}

/// A data command on the wire, by tag.
#[derive(Clone, Debug)]
struct InFlight {
    io: Io,
    path: PathIndex,
    deadline: SimTime,
}

/// One host's initiator: sessions, path checker, multipath devices, and every I/O in progress.
#[derive(Debug)]
pub struct Initiator {
    host: HostId,
    config: InitiatorConfig,
    sessions: Vec<Session>,
    checkers: Vec<Checker>,
    /// What the history was last told about each path, so `PathState` is emitted on changes only.
    reported_up: Vec<bool>,
    next_poll_at: SimTime,
    devices: BTreeMap<LunId, Device>,
    in_flight: BTreeMap<u64, InFlight>,
    /// Timed-out commands waiting out `retry_interval`, by (due time, sequence).
    retries: BTreeMap<(SimTime, u64), Io>,
    retry_seq: u64,
    next_tag: u64,
    /// Since when no path has been usable: starts the `no_path_retry` countdown and `PDORemovePeriod`.
    all_down_since: Option<SimTime>,
    /// The last `WakeAt` emitted, so an unchanged pending wake is not repeated.
    last_wake: Option<SimTime>,
}

impl Initiator {
    /// A host booted with `paths` sessions logged in and checked, and a device for each of `luns`:
    /// the world starts in steady state. The outputs hold the first `WakeAt`.
    pub fn new(
        host: HostId,
        config: InitiatorConfig,
        paths: u8,
        luns: &[LunId],
        now: SimTime,
    ) -> (Initiator, Vec<InitiatorOutput>) {
        let count = usize::from(paths);
        let mut initiator = Initiator {
            host,
            config,
            sessions: (0..count).map(|_| Session::logged_in(now, &config)).collect(),
            checkers: vec![Checker::healthy(); count],
            reported_up: vec![true; count],
            next_poll_at: now + config.polling_interval,
            devices: luns.iter().map(|&lun| (lun, Device::default())).collect(),
            in_flight: BTreeMap::new(),
            retries: BTreeMap::new(),
            retry_seq: 0,
            next_tag: 1,
            all_down_since: (count == 0).then_some(now),
            last_wake: None,
        };
        let mut out = Vec::new();
        initiator.finish(now, &mut out);
        (initiator, out)
    }

    /// The host this initiator runs on.
    pub fn host(&self) -> HostId {
        self.host
    }

    pub fn config(&self) -> &InitiatorConfig {
        &self.config
    }

    /// Processes every timer due by `now`, then `input`.
    pub fn handle(&mut self, now: SimTime, input: InitiatorInput) -> Vec<InitiatorOutput> {
        let mut out = Vec::new();
        self.advance(now, &mut out);
        match input {
            InitiatorInput::Submit { io, lun, command, via } => {
                let io = Io { id: io, lun, command, via, timeouts: 0, ua_retried: false };
                self.dispatch(now, io, &mut out);
            }
            InitiatorInput::Response { path, tag, status } => {
                self.on_response(now, path, tag, status, &mut out)
            }
            InitiatorInput::NopIn { path } => self.on_nop_in(now, path, &mut out),
            InitiatorInput::Wake => {}
        }
        self.finish(now, &mut out);
        out
    }

    /// The host lost power or rebooted: everything volatile is gone. Sessions start logging in again
    /// (a probe on every path now), and queued and in-flight commands are dropped without completions,
    /// because the application that submitted them is gone too. Devices stay present, but with no path
    /// up the `PDORemovePeriod` starts now.
    pub fn reset(&mut self, now: SimTime) -> Vec<InitiatorOutput> {
        let mut out = Vec::new();
        self.in_flight.clear();
        self.retries.clear();
        for device in self.devices.values_mut() {
            *device = Device::default();
        }
        for (index, session) in self.sessions.iter_mut().enumerate() {
            *session = Session::failed(now);
            self.checkers[index] = Checker::failed();
        }
        for index in 0..self.sessions.len() {
            self.sync_path(now, index, PathReason::HostReset, &mut out);
        }
        self.all_down_since = Some(now);
        self.next_poll_at = now + self.config.polling_interval;
        self.last_wake = None;
        self.advance(now, &mut out);
        self.finish(now, &mut out);
        out
    }

    /// Ground truth: whether the multipath layer would send I/O down `path` (session logged in and
    /// the last checker result alive).
    pub fn path_up(&self, path: PathIndex) -> bool {
        let index = usize::from(path.0);
        index < self.sessions.len() && self.path_is_up(index)
    }

    /// Ground truth: whether `path`'s iSCSI session is logged in (pinned I/O needs only this).
    pub fn session_logged_in(&self, path: PathIndex) -> bool {
        self.sessions.get(usize::from(path.0)).is_some_and(Session::is_logged_in)
    }

    /// Ground truth: I/O for `lun` held by `no_path_retry`.
    pub fn queued(&self, lun: LunId) -> usize {
        self.devices.get(&lun).map_or(0, |device| device.held.len())
    }

    /// Ground truth: data commands on the wire, awaiting a response (checker TURs not counted).
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Ground truth: whether the pseudo-LUN of `lun` exists on this host.
    pub fn device_present(&self, lun: LunId) -> bool {
        self.devices.get(&lun).is_some_and(|device| device.present)
    }

    fn path_is_up(&self, index: usize) -> bool {
        self.sessions[index].is_logged_in() && self.checkers[index].alive
    }

    fn take_tag(&mut self) -> u64 {
        let tag = self.next_tag;
        self.next_tag += 1;
        tag
    }

    /// Puts `io` on the wire of `path` and starts its command timer.
    fn send(&mut self, now: SimTime, io: Io, path: PathIndex, out: &mut Vec<InitiatorOutput>) {
        let tag = self.take_tag();
        out.push(InitiatorOutput::SendCommand {
            path,
            tag,
            lun: io.lun,
            command: io.command.clone(),
            bytes: io.command.wire_bytes(),
        });
        self.in_flight.insert(tag, InFlight { io, path, deadline: now + self.config.command_timeout });
    }

    /// Every timer due by `now`, in a fixed order: sessions (path order), checker, command timeouts,
    /// retries, then the device-level no-path timers.
    fn advance(&mut self, now: SimTime, out: &mut Vec<InitiatorOutput>) {
        for index in 0..self.sessions.len() {
            self.poll_session(now, index, out);
        }
        self.poll_checker(now, out);
        self.expire_commands(now, out);
        let due: Vec<(SimTime, u64)> = self.retries.range(..=(now, u64::MAX)).map(|(&key, _)| key).collect();
        for key in due {
            if let Some(io) = self.retries.remove(&key) {
                self.dispatch(now, io, out);
            }
        }
        self.expire_no_path(now, out);
    }

    /// Emits `WakeAt` for the earliest pending timer unless the harness already holds that wake.
    fn finish(&mut self, now: SimTime, out: &mut Vec<InitiatorOutput>) {
        let Some(wake) = self.next_deadline() else { return };
        let pending = self.last_wake.is_some_and(|last| last == wake && last > now);
        if !pending {
            out.push(InitiatorOutput::WakeAt(wake));
            self.last_wake = Some(wake);
        }
    }

    fn next_deadline(&self) -> Option<SimTime> {
        let config = &self.config;
        let sessions = self.sessions.iter().filter_map(|session| session.next_deadline(config));
        let checks =
            self.checkers.iter().filter_map(|checker| checker.outstanding.map(|check| check.deadline));
        let poll = (!self.sessions.is_empty()).then_some(self.next_poll_at);
        let commands = self.in_flight.values().map(|flight| flight.deadline);
        let retries = self.retries.keys().next().map(|&(at, _)| at);
        sessions.chain(checks).chain(poll).chain(commands).chain(retries).chain(self.no_path_deadline()).min()
    }

    /// Aborts data commands whose timer ran out: the path they used is failed for multipath (an I/O
    /// error fails a path in dm-multipath), and the command is retried after `retry_interval` by the
    /// usual selection, which now avoids that path, until `retry_count` attempts have timed out.
    fn expire_commands(&mut self, now: SimTime, out: &mut Vec<InitiatorOutput>) {
        let expired: Vec<u64> =
            self.in_flight.iter().filter(|(_, flight)| flight.deadline <= now).map(|(&tag, _)| tag).collect();
        for tag in expired {
            let Some(InFlight { mut io, path, .. }) = self.in_flight.remove(&tag) else { continue };
            let index = usize::from(path.0);
            self.checkers[index].fail();
            self.sync_path(now, index, PathReason::CommandTimeout, out);
            io.timeouts += 1;
            if io.timeouts >= self.config.retry_count.max(1) {
                out.push(InitiatorOutput::Complete { io: io.id, result: IoResult::TimedOut });
            } else {
                self.retry_seq += 1;
                self.retries.insert((now + self.config.retry_interval, self.retry_seq), io);
            }
        }
    }

    fn on_response(
        &mut self,
        now: SimTime,
        path: PathIndex,
        tag: u64,
        status: Status,
        out: &mut Vec<InitiatorOutput>,
    ) {
        let index = usize::from(path.0);
        let Some(session) = self.sessions.get_mut(index) else { return };
        if !session.is_logged_in() {
            // The connection was already failed and its commands requeued: a straggler from the old
            // connection proves nothing and answers nothing.
            return;
        }
        session.heard();
        if self.checkers[index].outstanding.is_some_and(|check| check.tag == tag) {
            self.on_check_result(now, index, &status, out);
            return;
        }
        let Some(flight) = self.in_flight.remove(&tag) else { return };
        let mut io = flight.io;
        if multipath::is_unit_attention(&status) && !io.ua_retried {
            // A unit attention is reported once per nexus; the command itself did not run, so
            // initiators send it again on the same path and report whatever comes back.
            io.ua_retried = true;
            self.send(now, io, flight.path, out);
            return;
        }
        out.push(InitiatorOutput::Complete { io: io.id, result: IoResult::Status(status) });
    }

    fn on_nop_in(&mut self, now: SimTime, path: PathIndex, out: &mut Vec<InitiatorOutput>) {
        let index = usize::from(path.0);
        let config = self.config;
        let Some(session) = self.sessions.get_mut(index) else { return };
        if session.is_logged_in() {
            session.heard();
            return;
        }
        // The login probe was answered: the session is back. Pinned commands kept through the outage
        // go out again; the multipath layer waits for a checker TUR before using the path, so one is
        // sent at once instead of at the next poll.
        let held = session.log_in(now, &config);
        for io in held {
            self.send(now, io, path, out);
        }
        self.send_check(now, index, out);
    }
}
