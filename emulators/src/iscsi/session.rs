//! One path's iSCSI session (open-iscsi semantics, domain.md 5.2).
//!
//! A logged-in session sends a NOP-Out every `noop_out_interval`; if nothing at all comes back within
//! `noop_out_timeout` the connection is failed. A failed session probes for re-login every
//! `login_retry_interval` (modelled as a NOP-Out whose NOP-In means the login succeeded), and once it
//! has been failed for `replacement_timeout` the commands pinned to it fail upward.

use super::{
    InFlight, Initiator, InitiatorConfig, InitiatorOutput, Io, IoResult, PathIndex, PathReason, Via,
};
use kernel::SimTime;

#[derive(Clone, Debug)]
enum State {
    LoggedIn {
        /// When the unanswered NOP-Out went out; cleared by anything received.
        nop_sent_at: Option<SimTime>,
        next_nop_at: SimTime,
    },
    Failed {
        since: SimTime,
        next_login_at: SimTime,
        /// The replacement timeout has fired: pinned commands were failed and none are kept any more.
        replaced: bool,
    },
}

/// One path's session and the pinned commands waiting for it to log in again.
#[derive(Clone, Debug)]
pub(super) struct Session {
    state: State,
    /// Commands for this one nexus (`Via::Path`) that were in flight when the connection failed, with
    /// the time their command timer runs out. A pinned command is never sent again after that: its
    /// caller has been told it timed out, and a persistent-reservation REGISTER resent minutes later
    /// could register a node that has since been fenced.
    held: Vec<(Io, SimTime)>,
}

/// What a session's timers asked for.
enum Due {
    Nothing,
    SendNop,
    /// The NOP-Out went unanswered: the connection failed (and the first login probe goes out).
    ConnectionFailed,
    /// `replacement_timeout` ran out: fail these pinned commands upward.
    Replaced(Vec<Io>),
    /// These pinned commands' command timers ran out while the session was down.
    Expired(Vec<Io>),
}

impl Session {
    pub(super) fn logged_in(now: SimTime, config: &InitiatorConfig) -> Self {
        Session {
            state: State::LoggedIn { nop_sent_at: None, next_nop_at: now + config.noop_out_interval },
            held: Vec::new(),
        }
    }

    /// A session that has to log in, with its first probe due at once (a host that just booted).
    pub(super) fn failed(now: SimTime) -> Self {
        Session { state: State::Failed { since: now, next_login_at: now, replaced: false }, held: Vec::new() }
    }

    pub(super) fn is_logged_in(&self) -> bool {
        matches!(self.state, State::LoggedIn { .. })
    }

    /// A PDU arrived on the connection: it is alive, whatever the PDU was.
    pub(super) fn heard(&mut self) {
        if let State::LoggedIn { nop_sent_at, .. } = &mut self.state {
            *nop_sent_at = None;
        }
    }

    /// The login probe was answered: the session is logged in again. Returns the pinned commands kept
    /// through the outage, to be sent again.
    pub(super) fn log_in(&mut self, now: SimTime, config: &InitiatorConfig) -> Vec<Io> {
        self.state = State::LoggedIn { nop_sent_at: None, next_nop_at: now + config.noop_out_interval };
        std::mem::take(&mut self.held).into_iter().map(|(io, _)| io).collect()
    }

    fn fail(&mut self, now: SimTime) {
        self.state = State::Failed { since: now, next_login_at: now, replaced: false };
    }

    /// Keeps a pinned command until the session logs in again, is replaced, or `deadline` passes.
    fn hold(&mut self, io: Io, deadline: SimTime) {
        self.held.push((io, deadline));
    }

    fn poll(&mut self, now: SimTime, config: &InitiatorConfig) -> Due {
        match &mut self.state {
            State::LoggedIn { nop_sent_at, next_nop_at } => {
                if nop_sent_at.is_some_and(|sent| now >= sent + config.noop_out_timeout) {
                    self.fail(now);
                    return Due::ConnectionFailed;
                }
                if now >= *next_nop_at {
                    *next_nop_at = now + config.noop_out_interval;
                    // One NOP-Out outstanding at a time: its timeout, not a second NOP, decides.
                    if nop_sent_at.is_none() {
                        *nop_sent_at = Some(now);
                        return Due::SendNop;
                    }
                }
                Due::Nothing
            }
            State::Failed { since, replaced, .. } => {
                if !*replaced && now >= *since + config.replacement_timeout {
                    *replaced = true;
                    return Due::Replaced(
                        std::mem::take(&mut self.held).into_iter().map(|(io, _)| io).collect(),
                    );
                }
                if self.held.iter().any(|&(_, deadline)| deadline <= now) {
                    let (expired, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
                        .into_iter()
                        .partition(|&(_, deadline)| deadline <= now);
                    self.held = kept;
                    return Due::Expired(expired.into_iter().map(|(io, _)| io).collect());
                }
                self.poll_login(now, config)
            }
        }
    }

    fn poll_login(&mut self, now: SimTime, config: &InitiatorConfig) -> Due {
        if let State::Failed { next_login_at, .. } = &mut self.state
            && now >= *next_login_at
        {
            *next_login_at = now + config.login_retry_interval;
            return Due::SendNop;
        }
        Due::Nothing
    }

    pub(super) fn next_deadline(&self, config: &InitiatorConfig) -> Option<SimTime> {
        match self.state {
            State::LoggedIn { nop_sent_at, next_nop_at } => {
                let timeout = nop_sent_at.map(|sent| sent + config.noop_out_timeout);
                Some(timeout.map_or(next_nop_at, |timeout| timeout.min(next_nop_at)))
            }
            State::Failed { since, next_login_at, replaced } => {
                let replacement = (!replaced).then(|| since + config.replacement_timeout);
                let expiry = self.held.iter().map(|&(_, deadline)| deadline).min();
                let next = replacement.map_or(next_login_at, |at| at.min(next_login_at));
                Some(expiry.map_or(next, |expiry| expiry.min(next)))
            }
        }
    }
}

impl Initiator {
    /// Runs path `index`'s session timers until nothing more is due at `now`.
    pub(super) fn poll_session(&mut self, now: SimTime, index: usize, out: &mut Vec<InitiatorOutput>) {
        let path = PathIndex(u8::try_from(index).expect("paths were given as a u8"));
        // A connection failure is followed at once by the first login probe, and a replacement by a
        // login probe due at the same instant, so poll until the session has nothing more to do.
        loop {
            let config = self.config;
            match self.sessions[index].poll(now, &config) {
                Due::Nothing => return,
                Due::SendNop => {
                    out.push(InitiatorOutput::SendNop { path });
                    return;
                }
                Due::ConnectionFailed => self.on_connection_failed(now, index, path, out),
                Due::Replaced(held) => {
                    for io in held {
                        out.push(InitiatorOutput::Complete { io: io.id, result: IoResult::NoPath });
                    }
                }
                Due::Expired(held) => {
                    for io in held {
                        out.push(InitiatorOutput::Complete { io: io.id, result: IoResult::TimedOut });
                    }
                }
            }
        }
    }

    /// The connection of path `index` failed: the path is down for multipath, and the commands in flight
    /// on it are requeued: multipath I/O to another path (or `no_path_retry`), pinned I/O to the session
    /// itself, to wait for re-login, its command timer or the replacement timeout.
    fn on_connection_failed(
        &mut self,
        now: SimTime,
        index: usize,
        path: PathIndex,
        out: &mut Vec<InitiatorOutput>,
    ) {
        self.checkers[index].fail();
        self.sync_path(now, index, PathReason::NopTimeout, out);
        let tags: Vec<u64> =
            self.in_flight.iter().filter(|(_, flight)| flight.path == path).map(|(&tag, _)| tag).collect();
        for tag in tags {
            let Some(InFlight { io, deadline, .. }) = self.in_flight.remove(&tag) else { continue };
            match io.via {
                // The command timer started when it was sent keeps running while it waits.
                Via::Path(_) => self.sessions[index].hold(io, deadline),
                Via::Multipath => self.dispatch(now, io, out),
            }
        }
    }
}
