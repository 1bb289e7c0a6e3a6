//! The multipath layer: path checker, path selection, the no-path queue and pseudo-LUN removal
//! (dm-multipath, domain.md 5.1, and MSDSM, 5.3).
//!
//! A path is usable when its session is logged in and its last checker result said the target is
//! alive. The checker sends a TEST UNIT READY down every logged-in path each `polling_interval`; an
//! unanswered one fails the path when the next poll is due, and a good one reinstates it. A data
//! command that times out also fails its path (dm-multipath fails a path on an I/O error), which is how
//! an MTU black hole, where TURs pass and big writes vanish, becomes path flapping and then timeouts.

use super::{Initiator, InitiatorOutput, Io, IoResult, MpioPolicy, NoPathRetry, PathIndex, PathReason, Via};
use crate::ids::LunId;
use crate::san::{Command, Sense, Status};
use kernel::SimTime;
use std::collections::VecDeque;

/// An outstanding checker TUR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Check {
    pub(super) tag: u64,
    pub(super) deadline: SimTime,
}

/// The path checker's view of one path.
#[derive(Clone, Copy, Debug)]
pub(super) struct Checker {
    /// The last result said the target answers (TUR good or a unit attention).
    pub(super) alive: bool,
    pub(super) outstanding: Option<Check>,
}

impl Checker {
    pub(super) fn healthy() -> Self {
        Checker { alive: true, outstanding: None }
    }

    pub(super) fn failed() -> Self {
        Checker { alive: false, outstanding: None }
    }

    /// Fails the path until a checker TUR succeeds again. An outstanding check is forgotten: whatever
    /// it says was asked before the failure.
    pub(super) fn fail(&mut self) {
        *self = Checker::failed();
    }
}

/// One LUN's multipath device (the pseudo-LUN of MSDSM).
#[derive(Clone, Debug)]
pub(super) struct Device {
    pub(super) present: bool,
    /// I/O held by `no_path_retry` while no path is usable, oldest first.
    pub(super) held: VecDeque<Io>,
    /// Round robin: the path index to try first for the next command.
    next_path: u8,
}

impl Default for Device {
    fn default() -> Self {
        Device { present: true, held: VecDeque::new(), next_path: 0 }
    }
}

/// Whether a checker TUR's answer means the target is alive behind this path. A unit attention is an
/// answer (it is reported once and means something changed, not that the path is dead), and so is a
/// reservation conflict: the target had to be reachable to refuse. So is "logical unit not
/// supported": the checker probes one LUN for the whole path (a simplification of dm-multipath's
/// per-device checkers), and a host need not see that LUN for the path to its target to work.
fn is_alive(status: &Status) -> bool {
    match status {
        Status::Good(_) | Status::ReservationConflict => true,
        Status::CheckCondition(Sense::LunNotPresented) => true,
        Status::CheckCondition(_) => is_unit_attention(status),
    }
}

pub(super) fn is_unit_attention(status: &Status) -> bool {
    matches!(status, Status::CheckCondition(Sense::UnitAttention(..)))
}

/// Picks the path for the next command among `up` (usable, by index) under `policy`.
fn select(policy: MpioPolicy, up: &[bool], depth: &[usize], next_path: &mut u8) -> Option<usize> {
    let mut usable = (0..up.len()).filter(|&index| up[index]);
    match policy {
        // Always the lowest usable path, so I/O fails back to the original path as soon as it returns.
        MpioPolicy::FailOverOnly => usable.next(),
        MpioPolicy::RoundRobin => {
            let start = usize::from(*next_path);
            let chosen = (0..up.len()).map(|offset| (start + offset) % up.len()).find(|&index| up[index])?;
            *next_path = u8::try_from((chosen + 1) % up.len()).expect("paths were given as a u8");
            Some(chosen)
        }
        // `min_by_key` keeps the first of equal keys: ties go to the lowest index.
        MpioPolicy::LeastQueueDepth => usable.min_by_key(|&index| depth[index]),
    }
}

impl Initiator {
    /// Sends `io` the way it asked to go, or deals with there being no way.
    pub(super) fn dispatch(&mut self, now: SimTime, io: Io, out: &mut Vec<InitiatorOutput>) {
        if !self.device_present(io.lun) {
            // A removed pseudo-LUN (or one this host never saw) fails everything, queueing or not.
            out.push(InitiatorOutput::Complete { io: io.id, result: IoResult::DeviceRemoved });
            return;
        }
        match io.via {
            Via::Path(path) => {
                // A pinned command needs that nexus and no other, so it is not queued either.
                if self.session_logged_in(path) {
                    self.send(now, io, path, out);
                } else {
                    out.push(InitiatorOutput::Complete { io: io.id, result: IoResult::NoPath });
                }
            }
            Via::Multipath => match self.select_path(io.lun) {
                Some(path) => self.send(now, io, path, out),
                None => self.no_path(now, io, out),
            },
        }
    }

    fn select_path(&mut self, lun: LunId) -> Option<PathIndex> {
        let up: Vec<bool> = (0..self.sessions.len()).map(|index| self.path_is_up(index)).collect();
        let mut depth = vec![0; up.len()];
        for flight in self.in_flight.values() {
            depth[usize::from(flight.path.0)] += 1;
        }
        let policy = self.config.policy;
        let device = self.devices.get_mut(&lun)?;
        let chosen = select(policy, &up, &depth, &mut device.next_path)?;
        Some(PathIndex(u8::try_from(chosen).expect("paths were given as a u8")))
    }

    /// No usable path for a multipath command: fail it, or hold it, as `no_path_retry` says.
    fn no_path(&mut self, now: SimTime, io: Io, out: &mut Vec<InitiatorOutput>) {
        let holding = match self.config.no_path_retry {
            NoPathRetry::Fail => false,
            NoPathRetry::Queue { .. } => self.queue_deadline().is_none_or(|deadline| now < deadline),
            NoPathRetry::QueueForever => true,
        };
        match self.devices.get_mut(&io.lun) {
            Some(device) if holding => device.held.push_back(io),
            _ => out.push(InitiatorOutput::Complete { io: io.id, result: IoResult::NoPath }),
        }
    }

    /// When `no_path_retry = N` stops queueing: N polls after the last path went down.
    fn queue_deadline(&self) -> Option<SimTime> {
        match self.config.no_path_retry {
            NoPathRetry::Queue { polls } => {
                self.all_down_since.map(|since| since + self.config.polling_interval.saturating_mul(polls))
            }
            NoPathRetry::Fail | NoPathRetry::QueueForever => None,
        }
    }

    /// When the pseudo-LUNs go, if no path has returned by then and any device is still present.
    fn removal_deadline(&self) -> Option<SimTime> {
        let since = self.all_down_since?;
        self.devices.values().any(|device| device.present).then(|| since + self.config.pdo_remove_period)
    }

    /// The earliest device-level timer that still has work to do.
    pub(super) fn no_path_deadline(&self) -> Option<SimTime> {
        let anything_held = self.devices.values().any(|device| !device.held.is_empty());
        let queue = self.queue_deadline().filter(|_| anything_held);
        [queue, self.removal_deadline()].into_iter().flatten().min()
    }

    /// Fails held I/O once `no_path_retry = N` runs out, then removes the pseudo-LUNs once
    /// `pdo_remove_period` has passed without a path.
    pub(super) fn expire_no_path(&mut self, now: SimTime, out: &mut Vec<InitiatorOutput>) {
        if self.queue_deadline().is_some_and(|deadline| now >= deadline) {
            for device in self.devices.values_mut() {
                for io in device.held.drain(..) {
                    out.push(InitiatorOutput::Complete { io: io.id, result: IoResult::NoPath });
                }
            }
        }
        if self.removal_deadline().is_some_and(|deadline| now >= deadline) {
            for (&lun, device) in &mut self.devices {
                if !device.present {
                    continue;
                }
                device.present = false;
                out.push(InitiatorOutput::DeviceRemoved { lun });
                for io in device.held.drain(..) {
                    out.push(InitiatorOutput::Complete { io: io.id, result: IoResult::DeviceRemoved });
                }
            }
        }
    }

    /// Reports path `index` to the history if its usability changed, and applies what follows: the
    /// first path back ends the outage (devices return, held I/O is released onto it); the last path
    /// lost starts the no-path timers.
    pub(super) fn sync_path(
        &mut self,
        now: SimTime,
        index: usize,
        reason: PathReason,
        out: &mut Vec<InitiatorOutput>,
    ) {
        let up = self.path_is_up(index);
        if up == self.reported_up[index] {
            return;
        }
        self.reported_up[index] = up;
        let path = PathIndex(u8::try_from(index).expect("paths were given as a u8"));
        out.push(InitiatorOutput::PathState { path, up, reason });
        if !up {
            if !(0..self.sessions.len()).any(|other| self.path_is_up(other)) {
                self.all_down_since.get_or_insert(now);
            }
            return;
        }
        if self.all_down_since.take().is_none() {
            return;
        }
        // A path came back: a rescan finds removed devices again, and everything held goes out now,
        // however long ago it was submitted and whoever owns the disk by now.
        let luns: Vec<LunId> = self.devices.keys().copied().collect();
        for lun in luns {
            let held = {
                let device = self.devices.get_mut(&lun).expect("lun listed from the map");
                device.present = true;
                std::mem::take(&mut device.held)
            };
            if held.is_empty() {
                continue;
            }
            let count = u32::try_from(held.len()).unwrap_or(u32::MAX);
            out.push(InitiatorOutput::QueueReleased { lun, count });
            for io in held {
                self.dispatch(now, io, out);
            }
        }
    }

    /// Fails checks that went unanswered for a polling interval, then starts a poll if one is due.
    pub(super) fn poll_checker(&mut self, now: SimTime, out: &mut Vec<InitiatorOutput>) {
        for index in 0..self.checkers.len() {
            if self.checkers[index].outstanding.is_some_and(|check| now >= check.deadline) {
                self.checkers[index].fail();
                self.sync_path(now, index, PathReason::CheckerTimeout, out);
            }
        }
        if now < self.next_poll_at {
            return;
        }
        while self.next_poll_at <= now {
            self.next_poll_at += self.config.polling_interval.max(core::time::Duration::from_nanos(1));
        }
        for index in 0..self.checkers.len() {
            if self.sessions[index].is_logged_in() && self.checkers[index].outstanding.is_none() {
                self.send_check(now, index, out);
            }
        }
    }

    /// Sends a checker TUR down path `index` (to the lowest LUN: all LUNs share the path).
    pub(super) fn send_check(&mut self, now: SimTime, index: usize, out: &mut Vec<InitiatorOutput>) {
        let tag = self.take_tag();
        let path = PathIndex(u8::try_from(index).expect("paths were given as a u8"));
        let lun = self.devices.keys().next().copied().unwrap_or(LunId(0));
        let command = Command::TestUnitReady;
        let bytes = command.wire_bytes();
        out.push(InitiatorOutput::SendCommand { path, tag, lun, command, bytes });
        self.checkers[index].outstanding = Some(Check { tag, deadline: now + self.config.polling_interval });
    }

    pub(super) fn on_check_result(
        &mut self,
        now: SimTime,
        index: usize,
        status: &Status,
        out: &mut Vec<InitiatorOutput>,
    ) {
        let alive = is_alive(status);
        self.checkers[index] = Checker { alive, outstanding: None };
        let reason = if alive { PathReason::CheckerOk } else { PathReason::CheckerFailed };
        self.sync_path(now, index, reason, out);
    }
}
