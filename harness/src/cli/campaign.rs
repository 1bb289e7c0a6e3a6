//! `drill campaign [PATH...] [--seeds N] [--out DIR] [--json] [--jobs N] [--no-shrink] [--shrink-runs N]`:
//! every scenario under the paths, for seeds 1..=N, judged and summarised into `campaign.json`, with
//! the unexpected runs grouped by violated check and fault signature and the first run of each group
//! shrunk into `DIR/shrunk/`.
//!
//! Runs are spread over worker threads (one run stays on one thread, so each is as deterministic as
//! `drill run`), and the campaign record is ordered by scenario and seed, never by finishing order:
//! the same commit, scenarios and seeds give the same `campaign.json` whatever `--jobs` is.

use super::args::CampaignArgs;
use super::catalogue;
use super::error::CliError;
use super::record::{panicked_record, run_record};
use super::shrink::{default_out, write};
use crate::scenario::Scenario;
use crate::shrink::{self, Request};
use crate::verdict::ViolationKind;
use crate::world::run_scenario;
use reports::{CampaignRecord, FailureGroup, NOT_CAUGHT, RunRecord, ScenarioSummary, ShrunkRecord};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// Loads every scenario first (any bad file: exit 2 and no report), runs them all, writes
/// `campaign.json` and prints the table. Exit 0 if every run was as expected, 1 if any run broke
/// safety unexpectedly or missed a hazard, 3 if the only surprises are recovery time or liveness.
pub fn campaign(arguments: &CampaignArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32, CliError> {
    let scenarios = catalogue::load(&arguments.paths, catalogue::CAMPAIGN_DEFAULT)?;
    // Fail on an unusable output directory before spending time on runs.
    std::fs::create_dir_all(&arguments.out)
        .map_err(|error| CliError::io("create the output directory", &arguments.out, error))?;
    let seeds: Vec<u64> = (1..=arguments.seeds).collect();
    let jobs = arguments.jobs.map_or_else(default_jobs, |jobs| usize::try_from(jobs).unwrap_or(usize::MAX));
    writeln!(
        err,
        "campaign: {} scenarios x {} seeds = {} runs, {} at a time",
        scenarios.len(),
        seeds.len(),
        scenarios.len() * seeds.len(),
        jobs.min(scenarios.len() * seeds.len())
    )?;

    let (runs, wall) = wall_clock(|| run_all(&scenarios, &seeds, jobs, err));
    let planned_runs = u64::try_from(scenarios.len()).unwrap_or(u64::MAX).saturating_mul(arguments.seeds);
    let plan = reports::CampaignPlan { first_seed: 1, last_seed: arguments.seeds, shard: None, planned_runs };
    let mut campaign = CampaignRecord::from_runs(crate::history::provenance(), plan, runs?);
    if !arguments.no_shrink {
        for group in &mut campaign.groups {
            shrink_group(group, &scenarios, arguments, err)?;
        }
    }

    let path = arguments.out.join("campaign.json");
    reports::write_atomically(&path, reports::json::pretty(&campaign).as_bytes())
        .map_err(|error| CliError::io("write", &path, error))?;
    if arguments.json {
        writeln!(out, "{}", reports::json::line(&campaign))?;
    } else {
        write!(out, "{}", reports::text::campaign_table(&campaign))?;
    }
    writeln!(
        err,
        "campaign: {} runs in {:.1} s; wrote {}",
        campaign.runs.len(),
        wall.as_secs_f64(),
        path.display()
    )?;
    Ok(campaign.exit_code)
}

/// Shrinks the first run of `group` within the campaign's per-group budget (runs only, so the
/// campaign record stays the same for the same inputs), writes the file under `DIR/shrunk/` and
/// records it in the group; a group that cannot be shrunk gets a note saying why.
fn shrink_group(
    group: &mut FailureGroup,
    scenarios: &[Scenario],
    arguments: &CampaignArgs,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let Some(check) = ViolationKind::parse(&group.check) else {
        group.shrink_note = Some(if group.check == NOT_CAUGHT {
            "a hazard that was not caught has no violation to shrink".to_string()
        } else {
            "the simulation panicked; replay the run".to_string()
        });
        return Ok(());
    };
    let Some(scenario) = scenarios.iter().find(|each| each.path.display().to_string() == group.scenario_path)
    else {
        return Ok(());
    };
    let seed = group.first_seed;
    let request =
        Request { scenario: &scenario.path, seed, check: Some(check), max_runs: arguments.shrink_runs };
    match shrink::shrink(&request, &mut || true) {
        Ok(shrunk) => {
            let path = default_out(&arguments.out, &scenario.path, seed);
            let replay = write(&shrunk, &scenario.path, seed, &path)?;
            writeln!(
                err,
                "shrink: {} seed {seed}: {check} with {} of {} faults in {} runs: {replay}",
                group.scenario,
                shrunk.faults.len(),
                shrunk.realised,
                shrunk.runs
            )?;
            group.shrunk = Some(ShrunkRecord {
                path: path.display().to_string(),
                replay,
                check: check.as_str().to_string(),
                faults: shrunk.faults.len() as u64,
                realised_faults: shrunk.realised as u64,
                runs: shrunk.runs,
            });
        }
        Err(error) => {
            writeln!(err, "shrink: {} seed {seed}: not shrunk: {error}", group.scenario)?;
            group.shrink_note = Some(error.to_string());
        }
    }
    Ok(())
}

/// Runs every (scenario, seed) pair on `jobs` worker threads, printing a progress line on `err` as
/// each scenario completes, in catalogue order. When the system refuses a thread, the campaign goes on
/// with the workers it has (saying so); with none it is an error.
fn run_all(
    scenarios: &[Scenario],
    seeds: &[u64],
    jobs: usize,
    err: &mut dyn Write,
) -> Result<Vec<RunRecord>, CliError> {
    let work: Vec<(usize, u64)> =
        (0..scenarios.len()).flat_map(|scenario| seeds.iter().map(move |&seed| (scenario, seed))).collect();
    let next = AtomicUsize::new(0);
    let mut done: Vec<Vec<RunRecord>> = vec![Vec::new(); scenarios.len()];
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel::<(usize, RunRecord)>();
        let wanted = jobs.clamp(1, work.len().max(1));
        let mut started = 0;
        let mut refused = None;
        for index in 0..wanted {
            let (sender, next, work) = (sender.clone(), &next, &work);
            let worker = move || {
                while let Some(&(scenario, seed)) = work.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if sender.send((scenario, run_one(&scenarios[scenario], seed))).is_err() {
                        // The main thread stopped listening (its output failed); stop working.
                        return;
                    }
                }
            };
            match std::thread::Builder::new().name(format!("campaign-{index}")).spawn_scoped(scope, worker) {
                Ok(_) => started += 1,
                Err(error) => {
                    refused = Some(error);
                    break;
                }
            }
        }
        drop(sender);
        match refused {
            Some(error) if started == 0 => return Err(CliError::Threads(error)),
            Some(error) => writeln!(
                err,
                "campaign: started {started} of {wanted} workers ({error}); running with those"
            )?,
            None => {}
        }
        let mut reported = 0;
        for (scenario, record) in receiver {
            done[scenario].push(record);
            while reported < done.len() && done[reported].len() == seeds.len() {
                done[reported].sort_by_key(|run| run.seed);
                writeln!(err, "{}", reports::text::progress_line(&ScenarioSummary::of(&done[reported])))?;
                reported += 1;
            }
        }
        Ok::<(), CliError>(())
    })?;
    Ok(done.into_iter().flatten().collect())
}

/// One run, with a panic in the simulation turned into a failed run that says how to reproduce it,
/// so one harness bug does not throw away the rest of the campaign.
fn run_one(scenario: &Scenario, seed: u64) -> RunRecord {
    match catch_unwind(AssertUnwindSafe(|| run_record(&run_scenario(scenario, seed)))) {
        Ok(record) => record,
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

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Runs `work` and measures how long it took, for the closing line on stderr only: nothing in the
/// campaign record depends on it.
#[expect(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "the campaign's elapsed wall time is printed for the operator; no run or report reads it"
)]
fn wall_clock<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let started = std::time::Instant::now();
    let result = work();
    (result, started.elapsed())
}
