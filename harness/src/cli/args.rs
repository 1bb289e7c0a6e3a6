//! The command-line grammar of `drill`.

use crate::campaign::plan::SeedRange;
use crate::verdict::ViolationKind;
use clap::{ArgAction, Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// drill: deterministic chaos testing of failover clusters on emulated hardware.
///
/// Exit codes: 0 every run as expected; 1 a safety property broke unexpectedly or a hazard was not
/// caught; 2 bad input or usage; 3 only recovery time or liveness missed.
#[derive(Debug, Parser)]
#[command(name = "drill", version, propagate_version = true)]
pub struct Cli {
    /// Log to stderr: -v info, -vv debug, -vvv trace (default: warn, or RUST_LOG when set).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one scenario with one seed and judge it against what the scenario expects.
    Run(RunArgs),
    /// List the scenario catalogue: tier, name, expectation, description.
    List(ListArgs),
    /// Run a scenario twice per seed and check that the histories are byte-identical.
    CheckDeterminism(DeterminismArgs),
    /// Run every scenario under PATHs with every seed; write campaign.json, junit.xml and HTML.
    Campaign(CampaignArgs),
    /// Combine the output directories of a campaign's shards into one campaign.
    Merge(MergeArgs),
    /// Reduce a failing run to a standalone scenario file (no nemesis, few faults) that fails the same
    /// way with the same seed.
    Shrink(ShrinkArgs),
    /// Measure how fast the kernel simulates, against the targets in DESIGN.md.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The seed of the run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write history.jsonl, summary.json and run.html into this directory, as one step: a reader sees
    /// the earlier directory's files or all of the new ones.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write the run's page (summary, findings and the timeline) to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Print exactly one JSON object (the run record) instead of the summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Scenario files or directories [default: suites/fast suites/hazards suites/slow suites/nightly].
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DeterminismArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Check seeds 1..=K.
    #[arg(long, value_name = "K", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    pub seeds: u64,
}

/// The most campaign workers: each holds a whole run in memory, and more threads than this would
/// outnumber the cores of any machine drill runs on.
pub const MAX_JOBS: u64 = 256;

#[derive(Debug, Args)]
pub struct CampaignArgs {
    /// Scenario files or directories [default: suites/fast suites/hazards suites/slow].
    pub paths: Vec<PathBuf>,
    /// The seeds: N (1 to N), A..B (A to B-1) or A..=B; any number, run seed by seed across the
    /// scenarios.
    #[arg(long, value_name = "N|A..B", default_value = "5", value_parser = seed_range)]
    pub seeds: SeedRange,
    /// Run only shard K of N (0-based) of scenarios x seeds; `auto/N` takes K from
    /// DRILL_SHARD_INDEX, JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID. `drill merge`
    /// combines the shards' output directories.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Stop starting runs after this much wall-clock time (e.g. `90s`, `2h`), write the reports of
    /// what finished, and exit; rerun with the same --out to go on.
    #[arg(long, value_name = "DURATION", value_parser = wall_duration)]
    pub time_budget: Option<Duration>,
    /// The output directory: the journal (each run recorded as it finishes; rerunning the same
    /// campaign into it runs only what is missing), campaign.json, junit.xml, campaign.html, the
    /// pages of failing runs and the shrunk reproductions.
    #[arg(long, value_name = "DIR", default_value = "reports-out")]
    pub out: PathBuf,
    /// Print the campaign record as one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Runs at once, 1 to 256 [default: the number of CPUs].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_JOBS))]
    pub jobs: Option<u64>,
    /// Do not shrink the first failure of each failure group.
    #[arg(long)]
    pub no_shrink: bool,
    /// The most runs shrinking one failure group may take.
    #[arg(long, value_name = "N", default_value_t = 60, value_parser = clap::value_parser!(u64).range(2..))]
    pub shrink_runs: u64,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The output directories of the shards, in any order.
    #[arg(required = true)]
    pub directories: Vec<PathBuf>,
    /// Where the merged campaign goes (its journal and reports); a campaign it held before is set
    /// aside in DIR/previous.
    #[arg(long, value_name = "DIR", required = true)]
    pub out: PathBuf,
    /// Print the campaign record as one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShrinkArgs {
    /// The scenario file of the failing run.
    pub scenario: PathBuf,
    /// The seed of the failing run.
    #[arg(long)]
    pub seed: u64,
    /// The violation to keep [default: the run's unexpected violation, or else its first].
    #[arg(long, value_name = "KIND", value_parser = violation_kind)]
    pub check: Option<ViolationKind>,
    /// The most runs shrinking may take, the failing run included.
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u64).range(2..))]
    pub max_runs: u64,
    /// Stop after this much wall-clock time (e.g. `90s`, `5m`); the file written still reproduces.
    #[arg(long, value_name = "DURATION", value_parser = wall_duration)]
    pub time_budget: Option<Duration>,
    /// The file to write [default: reports-out/shrunk/<scenario file name>-seed-<N>.toml].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

fn violation_kind(text: &str) -> Result<ViolationKind, String> {
    ViolationKind::parse(text).ok_or_else(|| {
        let kinds: Vec<&str> = ViolationKind::ALL.iter().map(|kind| kind.as_str()).collect();
        format!("not a violation kind; one of {}", kinds.join(", "))
    })
}

fn seed_range(text: &str) -> Result<SeedRange, String> {
    SeedRange::parse(text)
}

fn wall_duration(text: &str) -> Result<Duration, String> {
    kernel::parse_duration(text)
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Print the figures as one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// The scenario timed as the reference drill [default: suites/bench/reference-drill.toml of the
    /// workspace drill was built from].
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Also run the reference drill stretched to this simulated length (e.g. `7d`) and report its
    /// peak memory against the target (without it, the week's figure is estimated from the growth).
    #[arg(long, value_name = "DURATION", value_parser = wall_duration)]
    pub stretch: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_defaults_to_seed_one_and_the_summary() {
        let cli = Cli::try_parse_from(["drill", "run", "x.toml"]).unwrap();
        let Command::Run(run) = cli.command else { panic!("not a run: {cli:?}") };
        assert_eq!((run.seed, run.json, run.out, run.html), (1, false, None, None));
    }

    #[test]
    fn verbosity_counts_and_may_follow_the_subcommand() {
        let cli = Cli::try_parse_from(["drill", "run", "x.toml", "-vv"]).unwrap();
        assert_eq!(cli.verbose, 2);
    }

    #[test]
    fn campaign_defaults_to_five_seeds_into_reports_out() {
        let cli = Cli::try_parse_from(["drill", "campaign"]).unwrap();
        let Command::Campaign(campaign) = cli.command else { panic!("not a campaign: {cli:?}") };
        assert_eq!(campaign.seeds, SeedRange { first: 1, last: 5 });
        assert_eq!(campaign.out, PathBuf::from("reports-out"));
        assert!(campaign.paths.is_empty());
    }

    #[test]
    fn bench_takes_an_optional_scenario_file() {
        let cli = Cli::try_parse_from(["drill", "bench"]).unwrap();
        let Command::Bench(bench) = cli.command else { panic!("not a bench: {cli:?}") };
        assert_eq!(bench.scenario, None);
        let cli = Cli::try_parse_from(["drill", "bench", "--scenario", "drill.toml"]).unwrap();
        let Command::Bench(bench) = cli.command else { panic!("not a bench: {cli:?}") };
        assert_eq!(bench.scenario, Some(PathBuf::from("drill.toml")));
    }

    #[test]
    fn more_jobs_than_the_limit_is_a_usage_error() {
        let error = Cli::try_parse_from(["drill", "campaign", "--jobs", "10000"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(error.to_string().contains("1..=256"), "{error}");
        assert!(Cli::try_parse_from(["drill", "campaign", "--jobs", "256"]).is_ok());
    }

    #[test]
    fn shrink_needs_a_seed_and_takes_a_violation_kind_and_a_time_budget() {
        assert_eq!(Cli::try_parse_from(["drill", "shrink", "x.toml"]).unwrap_err().exit_code(), 2);
        let cli = Cli::try_parse_from([
            "drill",
            "shrink",
            "x.toml",
            "--seed",
            "7",
            "--check",
            "split-brain",
            "--time-budget",
            "90s",
        ])
        .unwrap();
        let Command::Shrink(shrink) = cli.command else { panic!("not a shrink: {cli:?}") };
        assert_eq!((shrink.seed, shrink.check), (7, Some(ViolationKind::SplitBrain)));
        assert_eq!(shrink.time_budget, Some(Duration::from_secs(90)));
        assert_eq!((shrink.max_runs, shrink.out), (200, None));
        let error = Cli::try_parse_from(["drill", "shrink", "x.toml", "--seed", "1", "--check", "brains"])
            .unwrap_err();
        assert!(error.to_string().contains("split-brain"), "{error}");
    }

    #[test]
    fn zero_seeds_is_a_usage_error() {
        let error =
            Cli::try_parse_from(["drill", "check-determinism", "x.toml", "--seeds", "0"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
    }
}
