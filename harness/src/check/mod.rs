//! Checkers: read the history, never a node's belief.
//!
//! The history holds what the harness carried out on the nodes' behalf (mounts, commits, replays,
//! acknowledgements, quorum claims) and the emulators' ground truth (hosts going down and up, the
//! witness lock, what each LUN applied). A [`Checker`] is fed the history one record at a time, as a
//! run produces it: it rebuilds the world from it ([`model`]) and judges the per-message rules as the
//! records pass, keeping nothing per message, so a week-long run is judged in bounded memory. At the
//! end twelve checkers run over that reconstruction, each in its own module with a doc comment saying
//! exactly what it does and does not check. [`check_all`] feeds a whole history the same way. A
//! history that is malformed or cut short never panics a checker: what cannot be judged becomes a note
//! in the report.

mod data_loss;
mod epochs;
mod failovers;
mod fencing;
mod lineage;
mod liveness;
mod model;
mod quorum;
mod reach;
mod recovery;
mod service;
mod single_writer;
mod votes;

use crate::history::{Event, History, Record};
use crate::scenario::Reachable;
use crate::verdict::Violation;
use kernel::SimTime;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The budgets and instants a run is judged against, taken from the scenario.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckConfig {
    /// The longest outage of a database the scenario accepts.
    pub rto: Duration,
    /// How many acknowledged messages may be missing from the final active copy (the mount dial).
    pub max_lost_acked: u64,
    /// How many failovers after the initial activation the run may decide; `None` bounds nothing.
    pub max_failovers: Option<u64>,
    /// How long after the final heal the cluster has to converge.
    pub liveness_bound: Duration,
    /// A declared unavailability window (start, end or open-ended): outages inside it do not count
    /// against the RTO, and an open-ended window covering the liveness checkpoint excuses liveness.
    pub expected_outage: Option<(SimTime, Option<SimTime>)>,
    /// When the last fault was healed.
    pub final_heal: SimTime,
    /// The end of the run; records after it are ignored.
    pub end: SimTime,
    /// How many generations a healthy passive copy may trail the active's highest closed generation.
    pub copy_lag_tolerance: u64,
    /// How long after a node last executed another may still count its vote: the failure timeout
    /// plus two heartbeat intervals (see `votes`).
    pub vote_freshness: Duration,
    /// The reachability assertions the run must meet (`[checks] reached`).
    pub reached: Vec<Reachable>,
}

impl CheckConfig {
    /// The default for [`CheckConfig::copy_lag_tolerance`]: the current log is never shipped, so a
    /// healthy passive is always at least one generation behind, and one more may be in flight.
    pub const DEFAULT_COPY_LAG_TOLERANCE: u64 = 2;

    /// The vote freshness window for a detector with this heartbeat interval and threshold: a peer
    /// proves itself within the failure timeout plus one interval (its echo), and one more interval
    /// covers clock drift.
    pub fn vote_freshness_for(heartbeat_interval: Duration, heartbeat_threshold: u32) -> Duration {
        heartbeat_interval.saturating_mul(heartbeat_threshold.saturating_add(2))
    }
}

/// Figures measured over the run, whether or not anything was violated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    /// The number of `acked` events.
    pub acked: u64,
    /// Acknowledged messages missing from the final active copy (the worst copy if several were active).
    pub lost_acked: u64,
    /// First and last acknowledgement time (ms) of the lost messages.
    pub lost_window_ms: Option<(u64, u64)>,
    /// Message ids that appear more than once in the final active copy.
    pub duplicates: u64,
    /// The longest outage of any database outside the declared window, in ms.
    pub rto_ms: u64,
    /// The number of `failover` events.
    pub failovers: u64,
    /// The end of the run, in ms.
    pub simulated_ms: u64,
    /// The number of records in the history.
    pub events: u64,
}

/// What the checkers concluded about one history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Every violation found, sorted by time and then by kind.
    pub violations: Vec<Violation>,
    pub metrics: Metrics,
    /// What could not be checked and why, and anything odd the reconstruction met.
    pub notes: Vec<String>,
}

/// Every checker, fed one record at a time in history order; [`Checker::finish`] judges the run.
#[derive(Debug, Default)]
pub struct Checker {
    model: model::Builder,
    writes: single_writer::Writes,
    oracle: fencing::Oracle,
    acks: data_loss::Acks,
    service: service::Tally,
    acked: u64,
    failovers: u64,
}

impl Checker {
    pub fn new() -> Self {
        Checker::default()
    }

    /// Takes the next record of the history.
    pub fn observe(&mut self, record: &Record) {
        // The per-message rules judge a record against the state before it.
        self.writes.observe(self.model.next_pos(), record, &self.model);
        self.oracle.observe(record);
        self.acks.observe(record);
        self.service.observe(record);
        match record.event {
            Event::Acked { .. } => self.acked += 1,
            Event::Failover { .. } => self.failovers += 1,
            _ => {}
        }
        self.model.observe(record);
    }

    /// Judges everything observed, as a run that ended at `config.end`.
    pub fn finish(self, config: &CheckConfig) -> CheckReport {
        let ended = self.model.ended();
        self.judge(config, Vec::new(), ended)
    }

    fn judge(self, config: &CheckConfig, mut notes: Vec<String>, ended: bool) -> CheckReport {
        if !ended {
            notes.push(
                "the history does not end with run-ended: it may be truncated, so the checks judged only \
                 what was recorded"
                    .to_string(),
            );
        }
        let model = self.model.finish();
        let mut report = CheckReport { notes, ..CheckReport::default() };
        report.notes.extend(model.notes.iter().cloned());

        self.writes.check(&model, &mut report);
        self.oracle.check(&mut report);
        data_loss::check(&model, &self.acks, config, &mut report);
        lineage::check(&model, &mut report);
        quorum::check(&model, config.end, &mut report);
        recovery::check(&model, config, &mut report);
        liveness::check(&model, config, &mut report);
        failovers::check(&model, config, &mut report);
        self.service.check(&model, config, &mut report);
        epochs::check(&model, &mut report);
        votes::check(&model, config.vote_freshness, config.end, &mut report);
        reach::check(&model, &config.reached, config.end, &mut report);

        report.metrics.acked = self.acked;
        report.metrics.failovers = self.failovers;
        report.metrics.simulated_ms = config.end.as_millis();
        report.metrics.events = u64::try_from(model.records.len()).unwrap_or(u64::MAX);

        // A stable sort keeps each checker's own order among violations of the same instant and kind.
        report.violations.sort_by_key(|violation| (violation.time_ms, violation.check));
        report
    }
}

/// Runs every checker over `history` and gathers their violations, metrics and notes. Records after
/// `config.end` are not fed (and a note says how many there were).
pub fn check_all(history: &History, config: &CheckConfig) -> CheckReport {
    let all = history.records();
    let kept = all.iter().take_while(|record| record.at <= config.end).count();
    let mut checker = Checker::new();
    for record in &all[..kept] {
        checker.observe(record);
    }
    let mut notes = Vec::new();
    if kept < all.len() {
        notes.push(format!(
            "{} records after the declared end {} were ignored by every check",
            all.len() - kept,
            config.end
        ));
    }
    let ended = matches!(all.last(), Some(Record { event: Event::RunEnded, .. }));
    let mut report = checker.judge(config, notes, ended);
    report.metrics.events = u64::try_from(history.len()).unwrap_or(u64::MAX);
    report
}

/// A duration in whole milliseconds, saturating rather than failing on absurd values.
fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
