//! A run's timeline for its page: the history's ground truth turned into swimlanes (per host its
//! power and pause state, its quorum claim and the votes it counted, the databases it has mounted
//! and in which epoch, its storage paths; per LUN the reservation holder), fault bands, and the
//! client's acknowledged throughput. Built from the history records only, never from a node's own
//! belief beyond what it recorded as a decision (a quorum claim, a mount).

use crate::history::{Event, HostDownReason, ReservationAction};
use crate::run::RunOutcome;
use kernel::SimTime;
use reports::timeline::{FaultBand, Lane, Segment, Timeline, Tone};
use std::collections::BTreeMap;

/// Buckets of the throughput row: fine enough to see an outage of a few seconds in a ten-minute run,
/// coarse enough that a week-long run has a few thousand.
fn bucket_ms(duration_ms: u64) -> u64 {
    (duration_ms / 600).clamp(1_000, 3_600_000)
}

/// The timeline of `outcome`.
pub fn timeline(outcome: &RunOutcome) -> Timeline {
    let duration_ms = outcome.metrics().simulated_ms;
    let mut lanes = Lanes::default();
    let bucket = bucket_ms(duration_ms);
    let mut throughput = vec![0u64; usize::try_from(duration_ms / bucket + 1).unwrap_or(1)];
    for record in outcome.history.records() {
        let at = ms(record.at);
        if let Event::Acked { .. } = record.event {
            if let Some(slot) = usize::try_from(at / bucket).ok().and_then(|index| throughput.get_mut(index))
            {
                *slot += 1;
            }
            continue;
        }
        lanes.record(at, &record.event);
    }
    Timeline {
        duration_ms,
        lanes: lanes.finish(duration_ms),
        faults: fault_bands(outcome, duration_ms),
        throughput,
        throughput_bucket_ms: bucket,
    }
}

fn ms(at: SimTime) -> u64 {
    at.as_millis()
}

/// Every non-heal fault that took effect, from when it fired until its heal (or the end of the run).
fn fault_bands(outcome: &RunOutcome, duration_ms: u64) -> Vec<FaultBand> {
    outcome
        .realised_faults
        .iter()
        .filter(|spec| !spec.fault.kind().is_heal())
        .map(|spec| {
            let from_ms = u64::try_from(spec.at.as_millis()).unwrap_or(u64::MAX);
            let to_ms = spec.duration.map_or(duration_ms, |duration| {
                from_ms.saturating_add(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
            });
            let target = spec.fault.target().map(|target| format!(" {target}")).unwrap_or_default();
            FaultBand {
                from_ms,
                to_ms: to_ms.min(duration_ms).max(from_ms),
                label: format!("{}{target}", spec.fault.kind()),
            }
        })
        .collect()
}

/// Lanes under construction: each (group, label) has its closed segments and the open one.
#[derive(Default)]
struct Lanes {
    /// (group, label) in order of first appearance.
    order: Vec<(String, String)>,
    lanes: BTreeMap<(String, String), LaneState>,
}

#[derive(Default)]
struct LaneState {
    segments: Vec<Segment>,
    open: Option<(u64, String, Tone)>,
}

impl Lanes {
    /// Starts `text` on the lane at `at`, closing what held before.
    fn set(&mut self, group: &str, label: &str, at: u64, text: String, tone: Tone) {
        let state = self.state(group, label);
        close(state, at);
        state.open = Some((at, text, tone));
    }

    /// Ends what holds on the lane at `at`.
    fn clear(&mut self, group: &str, label: &str, at: u64) {
        if let Some(state) = self.lanes.get_mut(&(group.to_string(), label.to_string())) {
            close(state, at);
        }
    }

    /// Whether the lane has shown nothing yet.
    fn untouched(&self, group: &str, label: &str) -> bool {
        self.lanes
            .get(&(group.to_string(), label.to_string()))
            .is_none_or(|state| state.segments.is_empty() && state.open.is_none())
    }

    fn state(&mut self, group: &str, label: &str) -> &mut LaneState {
        let key = (group.to_string(), label.to_string());
        if !self.lanes.contains_key(&key) {
            self.order.push(key.clone());
        }
        self.lanes.entry(key).or_default()
    }

    fn record(&mut self, at: u64, event: &Event) {
        match event {
            Event::HostDown { host, reason } => {
                let (text, tone) = match reason {
                    HostDownReason::Power => ("down", Tone::Bad),
                    HostDownReason::Freeze => ("paused", Tone::Warn),
                };
                // A host starts running at time zero without a record: its first word being a
                // host-down means it ran until then.
                if self.untouched(host, "power") {
                    self.set(host, "power", 0, "up".to_string(), Tone::Good);
                }
                self.set(host, "power", at, text.to_string(), tone);
                self.clear(host, "quorum", at);
                self.clear_owned(host, at);
            }
            Event::VmPoweredOn { vm, .. } => self.set(vm, "power", at, "booting".to_string(), Tone::Warn),
            Event::HostUp { host, .. } => self.set(host, "power", at, "up".to_string(), Tone::Good),
            Event::Quorum { node, quorate, votes, witness, total_votes } => {
                let mut voters: Vec<String> = votes.iter().map(ToString::to_string).collect();
                if *witness {
                    voters.push("witness".to_string());
                }
                let (text, tone) = if *quorate {
                    (format!("quorate: {} of {total_votes} votes", voters.join(", ")), Tone::Good)
                } else {
                    (format!("no quorum: {} of {total_votes} votes", voters.join(", ")), Tone::Bad)
                };
                self.set(node, "quorum", at, text, tone);
            }
            Event::Mounted { node, db, epoch, .. } => {
                self.set(node, &format!("owns {db}"), at, format!("{db} epoch {epoch}"), Tone::Good);
            }
            Event::Dismounted { node, db, .. } => self.clear(node, &format!("owns {db}"), at),
            Event::PathState { host, network, up, .. } => {
                let (text, tone) = if *up { ("up", Tone::Good) } else { ("down", Tone::Bad) };
                self.set(host, &format!("path {network}"), at, text.to_string(), tone);
            }
            Event::Reservation { lun, nexus, action, key } => {
                self.reservation(at, lun, &nexus.to_string(), *action, *key)
            }
            Event::Preempted { lun, by, key, .. } => {
                self.set(lun, "reservation", at, format!("{by} (key {key:#x}, preempted)"), Tone::Neutral);
            }
            Event::ReservationsLost { lun, .. } => self.clear(lun, "reservation", at),
            _ => {}
        }
    }

    fn reservation(&mut self, at: u64, lun: &str, nexus: &str, action: ReservationAction, key: u64) {
        match action {
            ReservationAction::Reserved => {
                self.set(lun, "reservation", at, format!("{nexus} (key {key:#x})"), Tone::Neutral);
            }
            ReservationAction::Released | ReservationAction::Cleared => self.clear(lun, "reservation", at),
            ReservationAction::Registered | ReservationAction::Unregistered => {}
        }
    }

    /// A host that goes down holds no mount.
    fn clear_owned(&mut self, host: &str, at: u64) {
        let owned: Vec<String> = self
            .order
            .iter()
            .filter(|(group, label)| group == host && label.starts_with("owns "))
            .map(|(_, label)| label.clone())
            .collect();
        for label in owned {
            self.clear(host, &label, at);
        }
    }

    /// The lanes, grouped by subject in order of first appearance, every open segment closed at the end.
    fn finish(mut self, duration_ms: u64) -> Vec<Lane> {
        let mut groups: Vec<String> = Vec::new();
        for (group, _) in &self.order {
            if !groups.contains(group) {
                groups.push(group.clone());
            }
        }
        let mut lanes = Vec::new();
        for group in groups {
            for key in self.order.iter().filter(|(each, _)| *each == group) {
                let Some(mut state) = self.lanes.remove(key) else { continue };
                close(&mut state, duration_ms);
                lanes.push(Lane { group: key.0.clone(), label: key.1.clone(), segments: state.segments });
            }
        }
        lanes
    }
}

fn close(state: &mut LaneState, at: u64) {
    if let Some((from_ms, text, tone)) = state.open.take()
        && at > from_ms
    {
        state.segments.push(Segment { from_ms, to_ms: at, text, tone });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;
    use crate::world::run_scenario;
    use std::path::Path;

    fn outcome(path: &str) -> RunOutcome {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let scenario = scenario::load(&root.join(path)).unwrap();
        run_scenario(&scenario, 1)
    }

    #[test]
    fn a_failover_run_shows_the_owner_power_off_a_mount_moving_and_a_fault_band() {
        let timeline = timeline(&outcome("suites/fast/ccr-pull-cord.toml"));
        let lane = |group: &str, label: &str| {
            timeline.lanes.iter().find(|lane| lane.group == group && lane.label == label).cloned()
        };
        let power = lane("mbx1", "power").expect("a power lane for the first owner");
        assert!(power.segments.iter().any(|segment| segment.text == "down" && segment.tone == Tone::Bad));
        assert_eq!(
            (power.segments[0].from_ms, power.segments[0].text.as_str()),
            (0, "up"),
            "up from the start"
        );
        let owners: Vec<&Lane> =
            timeline.lanes.iter().filter(|lane| lane.label.starts_with("owns ")).collect();
        assert!(owners.len() >= 2, "the database was mounted on two nodes in turn: {owners:?}");
        assert!(
            timeline.faults.iter().any(|band| band.label.starts_with("power-off")),
            "{:?}",
            timeline.faults
        );
        assert!(timeline.throughput.iter().sum::<u64>() > 0);
        for lane in &timeline.lanes {
            assert!(
                lane.segments.windows(2).all(|pair| pair[0].to_ms <= pair[1].from_ms),
                "{lane:?} overlaps"
            );
        }
    }
}
