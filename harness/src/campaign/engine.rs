//! Runs a campaign's pairs on worker threads and hands each finished run's record to the caller, on
//! the caller's thread, as it finishes.
//!
//! One run stays on one thread, so each is as deterministic as `drill run`; the order records arrive
//! in is the only thing parallelism changes, and every report sorts them. The engine reads no clock:
//! the caller's `should_stop`, asked between records and at least every [`TICK`], decides when a time
//! budget is spent or a signal came. When the budget is spent no new run starts and the runs in
//! flight finish and are recorded (a run longer than the budget still makes progress); a signal
//! abandons the runs in flight (their threads end with the process), so it is prompt even in a
//! week-long scenario.

use super::plan::Plan;
use crate::cli::record::{panicked_record, run_record};
use crate::run::RunOutcome;
use crate::scenario::Scenario;
use crate::world::{run_scenario, run_scenario_bounded};
use reports::RunRecord;
use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the caller's `should_stop` and progress are consulted while no run finishes.
pub const TICK: Duration = Duration::from_millis(200);

/// Why a campaign stopped before its plan was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    TimeBudget,
    Interrupted,
}

impl Stop {
    pub fn as_str(self) -> &'static str {
        match self {
            Stop::TimeBudget => "time-budget",
            Stop::Interrupted => "interrupted",
        }
    }
}

/// Called on a worker thread with each failing run (one that broke a property, expected or not, or
/// was not as expected), while its history is at hand: its page is drawn from it.
pub type OnFailing = dyn Fn(&Scenario, &RunOutcome, &RunRecord) + Send + Sync;

/// What the caller does on its own thread: take each record as it arrives, and say when to stop.
pub trait Driver {
    /// A run finished. An error stops the campaign and is returned.
    fn finished(&mut self, record: RunRecord) -> std::io::Result<()>;
    /// Asked between records and every [`TICK`]: `Some` stops the campaign.
    fn should_stop(&mut self) -> Option<Stop>;
}

/// The campaign's work: the plan, the pairs already done, and how to run them.
pub struct Work {
    pub scenarios: Arc<[Scenario]>,
    pub plan: Plan,
    /// (scenario index, seed) pairs with a record already: never run again.
    pub done: BTreeSet<(usize, u64)>,
    pub jobs: usize,
    pub on_failing: Arc<OnFailing>,
}

/// Runs every pair of `work.plan` not in `work.done`. Returns how it ended (`None`: every pair ran)
/// and how many workers could be started; an error if not one could, or if the driver failed.
pub fn run(work: Work, driver: &mut dyn Driver) -> std::io::Result<(Option<Stop>, usize)> {
    let stop = Arc::new(AtomicBool::new(false));
    let cursor = Arc::new(Mutex::new(0u128));
    let done = Arc::new(work.done);
    let (sender, receiver) = mpsc::channel::<RunRecord>();
    let wanted = u128::try_from(work.jobs.max(1)).unwrap_or(1).min(work.plan.runs().max(1));
    let mut started = 0;
    for index in 0..wanted {
        let worker = Worker {
            scenarios: Arc::clone(&work.scenarios),
            plan: work.plan,
            done: Arc::clone(&done),
            cursor: Arc::clone(&cursor),
            stop: Arc::clone(&stop),
            sender: sender.clone(),
            on_failing: Arc::clone(&work.on_failing),
        };
        // Worker threads run whole runs, one run per thread at a time; nothing inside a run is threaded.
        match std::thread::Builder::new().name(format!("campaign-{index}")).spawn(move || worker.work()) {
            Ok(_) => started += 1,
            Err(error) if started == 0 => return Err(error),
            Err(_) => break,
        }
    }
    drop(sender);
    let ended = receive(&receiver, driver, &stop);
    stop.store(true, Ordering::Relaxed);
    ended.map(|ended| (ended, started))
}

fn receive(
    receiver: &mpsc::Receiver<RunRecord>,
    driver: &mut dyn Driver,
    stop: &AtomicBool,
) -> std::io::Result<Option<Stop>> {
    let mut stopped = None;
    loop {
        match receiver.recv_timeout(TICK) {
            Ok(record) => driver.finished(record)?,
            Err(RecvTimeoutError::Timeout) => {}
            // Every worker is done: after a budget stop, the runs in flight have been recorded.
            Err(RecvTimeoutError::Disconnected) => return Ok(stopped),
        }
        match driver.should_stop() {
            Some(Stop::Interrupted) => {
                stop.store(true, Ordering::Relaxed);
                // Runs that finished before the signal keep their records.
                while let Ok(record) = receiver.try_recv() {
                    driver.finished(record)?;
                }
                return Ok(Some(Stop::Interrupted));
            }
            Some(Stop::TimeBudget) => {
                stop.store(true, Ordering::Relaxed);
                stopped = Some(Stop::TimeBudget);
            }
            None => {}
        }
    }
}

struct Worker {
    scenarios: Arc<[Scenario]>,
    plan: Plan,
    done: Arc<BTreeSet<(usize, u64)>>,
    cursor: Arc<Mutex<u128>>,
    stop: Arc<AtomicBool>,
    sender: mpsc::Sender<RunRecord>,
    on_failing: Arc<OnFailing>,
}

impl Worker {
    fn work(self) {
        while !self.stop.load(Ordering::Relaxed) {
            let Some((scenario, seed)) = self.next() else { return };
            let scenario = &self.scenarios[scenario];
            let record = self.run_one(scenario, seed);
            if self.sender.send(record).is_err() {
                // Nobody listens any more (a signal stopped the campaign): drop it unrecorded.
                return;
            }
        }
    }

    /// The next pair of the plan that has no record yet.
    fn next(&self) -> Option<(usize, u64)> {
        // A worker that panicked while holding the cursor left a valid number in it.
        let mut cursor = self.cursor.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            let pair = self.plan.pair(*cursor)?;
            *cursor += 1;
            if !self.done.contains(&pair) {
                return Some(pair);
            }
        }
    }

    /// One run, in memory bounded in simulated time (its history is checked as it is produced and
    /// let go); a panic in the simulation becomes a failed run that says how to reproduce it, so one
    /// harness bug does not throw away the rest of the campaign.
    fn run_one(&self, scenario: &Scenario, seed: u64) -> RunRecord {
        let run = catch_unwind(AssertUnwindSafe(|| run_record(&run_scenario_bounded(scenario, seed))));
        match run {
            Ok(record) => {
                if record.verdict != "pass" || !record.as_expected {
                    self.draw_page(scenario, seed, &record);
                }
                record
            }
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|text| (*text).to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_string());
                panicked_record(scenario, seed, &message)
            }
        }
    }

    /// The page of a failing run: the run again, keeping its history this time (the same scenario,
    /// seed and commit give the same history, which the digest confirms). Drawn outside the run's own
    /// catch: a bug in a report must not change a run's verdict.
    fn draw_page(&self, scenario: &Scenario, seed: u64, record: &RunRecord) {
        let page = catch_unwind(AssertUnwindSafe(|| {
            let outcome = run_scenario(scenario, seed);
            if outcome.history.sha256() != record.history_sha256 {
                tracing::error!(
                    "{} seed {seed} gave another history when run again for its page: the run is not \
                     deterministic",
                    record.scenario_path
                );
            }
            (self.on_failing)(scenario, &outcome, record);
        }));
        if page.is_err() {
            tracing::error!("drawing the page of {} seed {seed} panicked", record.scenario_path);
        }
    }
}
