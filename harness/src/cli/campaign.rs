//! `drill campaign [PATH...] [--seeds N|A..B] [--shard K/N] [--time-budget D] [--out DIR] [--json]
//! [--jobs N] [--no-shrink] [--shrink-runs N]`: every scenario under the paths with every seed, judged,
//! journalled as each run finishes, and summarised into `campaign.json`, `junit.xml` and
//! `campaign.html`, with the unexpected runs grouped by violated check and fault signature and the
//! first run of each group shrunk into `DIR/shrunk/`.
//!
//! The campaign record is ordered by scenario and seed, never by finishing order: the same commit,
//! scenarios and seeds give the same `campaign.json` whatever `--jobs` is, and whether the campaign
//! ran in one go, was killed and resumed, or ran as shards merged later.

use super::args::CampaignArgs;
use super::catalogue;
use super::error::CliError;
use super::output;
use super::progress::Progress;
use crate::campaign::engine::{self, Driver, Stop, Work};
use crate::campaign::journal::{self, Journal, JournalPlan};
use crate::campaign::plan::{Plan, Shard};
use crate::scenario::Scenario;
use reports::{CampaignPlan, CampaignRecord, RunRecord};
use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The exit code of a campaign a signal stopped (the shell's for SIGINT): its reports are written,
/// but it did not finish.
pub const INTERRUPTED: i32 = 130;

/// Loads every scenario first (any bad file: exit 2 and no report), checks the output directory,
/// resumes its journal, runs what is missing, writes the reports and prints the table. Exit 0 if every
/// run was as expected, 1 if any run broke safety unexpectedly or missed a hazard, 3 if the only
/// surprises are recovery time or liveness, 130 if a signal stopped it.
pub fn campaign(arguments: &CampaignArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32, CliError> {
    let shard = match &arguments.shard {
        Some(text) => Some(Shard::parse(text, &environment).map_err(CliError::Usage)?),
        None => None,
    };
    let scenarios: Arc<[Scenario]> = catalogue::load(&arguments.paths, catalogue::CAMPAIGN_DEFAULT)?.into();
    let plan = Plan::new(scenarios.len(), arguments.seeds, shard);
    output::prepare_directory(&arguments.out)?;
    let journal_plan = journal_plan(&scenarios, &plan)?;
    let opened = Journal::open(&arguments.out, &journal_plan)
        .map_err(|error| CliError::io("open the campaign journal in", &arguments.out, error))?;
    if let Some(reason) = &opened.restarted {
        writeln!(err, "campaign: {} {reason}; starting afresh", arguments.out.display())?;
    }
    let done = done_pairs(&scenarios, &opened.records);
    announce(err, &plan, arguments, done.len())?;

    let interrupt = Interrupt::install()?;
    let mut driver = CampaignDriver {
        journal: opened.journal,
        progress: Progress::new(
            saturate(plan.runs()),
            done.len() as u64,
            opened.records.iter().filter(|record| !record.as_expected).count() as u64,
            std::io::stderr().is_terminal(),
        ),
        records: opened.records,
        err,
        interrupt: Arc::clone(&interrupt.flag),
        time_budget: arguments.time_budget,
    };
    let pages = output::RunPages::new(&arguments.out);
    let work = Work {
        scenarios: Arc::clone(&scenarios),
        plan,
        done,
        jobs: arguments.jobs.map_or_else(default_jobs, |jobs| usize::try_from(jobs).unwrap_or(usize::MAX)),
        on_failing: Arc::new(move |scenario, outcome, record| pages.write(scenario, outcome, record)),
    };
    let ended = engine::run(work, &mut driver);
    driver.progress.done();
    let (stop, _workers) =
        ended.map_err(|error| CliError::io("run the campaign into", driver.journal.path(), error))?;
    // The journal (and its directory lock) and the signal handlers stay until the reports are written:
    // a signal during shrinking stops it, and no other drill writes the directory meanwhile.
    let CampaignDriver { journal, records, progress, err, .. } = driver;
    let ending = Ending { records, stop, wall: progress.elapsed(), interrupted: &interrupt.flag };
    let code = finish(arguments, &scenarios, plan, ending, out, err);
    drop((journal, interrupt));
    code
}

/// How the runs of a campaign ended.
struct Ending<'a> {
    records: Vec<RunRecord>,
    stop: Option<Stop>,
    wall: Duration,
    interrupted: &'a AtomicBool,
}

/// Builds the campaign record, shrinks its failure groups (only when every run finished, and until a
/// signal), writes the reports and prints the table and the closing line. A campaign whose every run
/// is recorded is complete, whatever stopped it: its record does not depend on when a stop came.
fn finish(
    arguments: &CampaignArgs,
    scenarios: &[Scenario],
    plan: Plan,
    ending: Ending<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, CliError> {
    let paths: Vec<String> = scenarios.iter().map(|scenario| scenario.path.display().to_string()).collect();
    let records = journal::in_catalogue_order(ending.records, &paths);
    let mut campaign = CampaignRecord::from_runs(crate::history::provenance(), campaign_plan(&plan), records);
    let stop = if campaign.complete { None } else { ending.stop };
    campaign.stopped = stop.map(|stop| stop.as_str().to_string());
    let keep_going = || !ending.interrupted.load(Ordering::Relaxed);
    if !arguments.no_shrink && stop.is_none() {
        output::shrink_groups(
            &mut campaign,
            scenarios,
            &arguments.out,
            arguments.shrink_runs,
            &keep_going,
            err,
        )?;
    }
    let interrupted = !keep_going();
    let wall = ending.wall;
    let written = output::write_reports(&campaign, &arguments.out)?;
    if arguments.json {
        writeln!(out, "{}", reports::json::line(&campaign))?;
    } else {
        write!(out, "{}", reports::text::campaign_table(&campaign))?;
    }
    let ending = match stop {
        None => String::new(),
        Some(Stop::TimeBudget) => " (time budget spent: rerun with the same --out to go on)".to_string(),
        Some(Stop::Interrupted) => " (interrupted: rerun with the same --out to go on)".to_string(),
    };
    writeln!(
        err,
        "campaign: {} of {} runs recorded in {:.1} s{ending}; wrote {}",
        campaign.runs.len(),
        plan.runs(),
        wall.as_secs_f64(),
        written
    )?;
    Ok(if interrupted { INTERRUPTED } else { campaign.exit_code })
}

/// The journal's side of the campaign: records each run as it arrives, shows progress, says when to
/// stop.
struct CampaignDriver<'a> {
    journal: Journal,
    records: Vec<RunRecord>,
    progress: Progress,
    err: &'a mut dyn Write,
    interrupt: Arc<AtomicBool>,
    time_budget: Option<Duration>,
}

impl Driver for CampaignDriver<'_> {
    fn finished(&mut self, record: RunRecord) -> std::io::Result<()> {
        self.journal.append(&record)?;
        self.progress.finished(record.as_expected);
        self.records.push(record);
        Ok(())
    }

    fn should_stop(&mut self) -> Option<Stop> {
        // A progress line that cannot be written is not worth stopping a campaign for.
        let _ = self.progress.tick(self.err);
        if self.interrupt.load(Ordering::Relaxed) {
            return Some(Stop::Interrupted);
        }
        self.time_budget.filter(|budget| self.progress.elapsed() >= *budget).map(|_| Stop::TimeBudget)
    }
}

/// SIGINT and SIGTERM set a flag the campaign polls; a second one ends the process at once (exit
/// 130), for an operator who will not wait for the reports. Removed when dropped.
struct Interrupt {
    flag: Arc<AtomicBool>,
    handlers: Vec<signal_hook::SigId>,
}

impl Interrupt {
    fn install() -> Result<Interrupt, CliError> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let flag = Arc::new(AtomicBool::new(false));
        let mut handlers = Vec::new();
        for signal in [SIGINT, SIGTERM] {
            let register = |handlers: &mut Vec<signal_hook::SigId>| -> std::io::Result<()> {
                // The conditional shutdown goes first: it sees the flag as the previous signal left it.
                handlers.push(signal_hook::flag::register_conditional_shutdown(
                    signal,
                    1,
                    Arc::clone(&flag),
                )?);
                handlers.push(signal_hook::flag::register(signal, Arc::clone(&flag))?);
                Ok(())
            };
            register(&mut handlers)
                .map_err(|error| CliError::io("install a signal handler for", "drill", error))?;
        }
        Ok(Interrupt { flag, handlers })
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        for handler in self.handlers.drain(..) {
            signal_hook::low_level::unregister(handler);
        }
    }
}

fn announce(err: &mut dyn Write, plan: &Plan, arguments: &CampaignArgs, done: usize) -> std::io::Result<()> {
    let shard = match arguments.shard {
        Some(_) => format!(" (shard {}: {} runs)", plan.shard, plan.runs()),
        None => String::new(),
    };
    writeln!(
        err,
        "campaign: {} scenarios x seeds {} = {} runs{shard}{}",
        plan.scenarios,
        plan.seeds,
        plan.total(),
        if done > 0 {
            format!("; {done} already recorded in {}, resuming", arguments.out.display())
        } else {
            String::new()
        }
    )
}

/// The identity the journal keeps: which drill, which scenario files, which seeds and shard.
fn journal_plan(scenarios: &[Scenario], plan: &Plan) -> Result<JournalPlan, CliError> {
    Ok(JournalPlan {
        provenance: crate::history::provenance(),
        executable_sha256: executable_sha256()?,
        first_seed: plan.seeds.first,
        last_seed: plan.seeds.last,
        shard: (plan.shard.count > 1).then_some((plan.shard.index, plan.shard.count)),
        scenarios: scenarios
            .iter()
            .map(|scenario| (scenario.path.display().to_string(), scenario.sha256.clone()))
            .collect(),
    })
}

/// The report's form of the plan.
pub fn campaign_plan(plan: &Plan) -> CampaignPlan {
    CampaignPlan {
        first_seed: plan.seeds.first,
        last_seed: plan.seeds.last,
        shard: (plan.shard.count > 1)
            .then_some(reports::ShardRecord { index: plan.shard.index, count: plan.shard.count }),
        planned_runs: saturate(plan.runs()),
    }
}

/// The digest of the running executable, read in pieces: the binary (55 MB with its line tables)
/// must not be the campaign's largest allocation.
fn executable_sha256() -> Result<String, CliError> {
    use sha2::{Digest, Sha256};
    let path =
        std::env::current_exe().map_err(|error| CliError::io("find", "the drill executable", error))?;
    let mut file = std::fs::File::open(&path).map_err(|error| CliError::io("read", &path, error))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|error| CliError::io("read", &path, error))?;
    Ok(hex::encode(hasher.finalize()))
}

/// The (scenario index, seed) pairs the journal already holds.
fn done_pairs(scenarios: &[Scenario], records: &[RunRecord]) -> BTreeSet<(usize, u64)> {
    let index =
        |path: &str| scenarios.iter().position(|scenario| scenario.path.display().to_string() == path);
    records
        .iter()
        .filter_map(|record| index(&record.scenario_path).map(|index| (index, record.seed)))
        .collect()
}

fn saturate(runs: u128) -> u64 {
    u64::try_from(runs).unwrap_or(u64::MAX)
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// The environment, for `--shard auto/N` only.
#[expect(
    clippy::disallowed_methods,
    reason = "the batch engine's shard index is the one input drill takes from the environment"
)]
fn environment(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
