//! A campaign's output directory: checked before the first run, swept of a killed writer's
//! temporary files, and filled with reports each written atomically.
//!
//! ```text
//! DIR/plan.json       what the campaign set out to run (the journal's identity)
//! DIR/runs.jsonl      one run record per finished run, in finishing order (the journal)
//! DIR/campaign.json   the campaign record (docs/reports.md)
//! DIR/junit.xml       one test case per scenario x seed
//! DIR/campaign.html   the campaign page
//! DIR/runs/*.html     the page of every failing run (a property broke, or not as expected), with
//!                     its timeline
//! DIR/shrunk/*.toml   the shrunk reproduction of each failure group
//! ```

use super::error::CliError;
use super::shrink::{default_out, write};
use crate::campaign::journal;
use crate::run::RunOutcome;
use crate::scenario::Scenario;
use crate::shrink::{self, Request};
use crate::verdict::ViolationKind;
use reports::{CampaignRecord, FailureGroup, NOT_CAUGHT, RunRecord, ShrunkRecord};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Creates `directory`, proves it writable with an atomic write, and sweeps temporary files a killed
/// writer left there and in its `runs/` and `shrunk/`: all before the first run, so a campaign never
/// runs for an hour to find it cannot record anything.
pub fn prepare_directory(directory: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(directory)
        .map_err(|error| CliError::io("create the output directory", directory, error))?;
    for each in [directory.to_path_buf(), directory.join("runs"), directory.join("shrunk")] {
        journal::sweep_temporaries(&each)
            .map_err(|error| CliError::io("sweep temporary files from", &each, error))?;
    }
    let probe = directory.join(".writable");
    reports::write_atomically(&probe, b"drill checks it can write here\n")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|error| CliError::io("write into the output directory", directory, error))
}

/// Where the page of `run` goes, relative to the output directory:
/// `runs/<file stem>-<first 8 hex digits of the path's SHA-256>-seed-<N>.html`: readable, and distinct
/// for two scenario files of one name in two folders.
pub fn run_page_name(scenario_path: &str, seed: u64) -> String {
    use sha2::{Digest, Sha256};
    let stem =
        Path::new(scenario_path).file_stem().map_or_else(|| "scenario".into(), |stem| stem.to_string_lossy());
    let safe: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .collect();
    let digest = hex::encode(&Sha256::digest(scenario_path.as_bytes())[..4]);
    format!("runs/{safe}-{digest}-seed-{seed}.html")
}

/// Writes the page of each failing run, from a worker thread, while its history is at hand.
pub struct RunPages {
    directory: PathBuf,
}

impl RunPages {
    pub fn new(directory: &Path) -> RunPages {
        RunPages { directory: directory.to_path_buf() }
    }

    /// A page that cannot be written is said on stderr; the run's record stands without it.
    pub fn write(&self, _scenario: &Scenario, outcome: &RunOutcome, record: &RunRecord) {
        let path = self.directory.join(run_page_name(&record.scenario_path, record.seed));
        let page = super::run::page(outcome, record);
        let written = std::fs::create_dir_all(self.directory.join("runs"))
            .and_then(|()| reports::write_atomically(&path, page.as_bytes()));
        if let Err(error) = written {
            tracing::warn!("failed to write {}: {error}", path.display());
        }
    }
}

/// Writes `campaign.json`, `junit.xml` and `campaign.html`; returns what it wrote, for the closing line.
pub fn write_reports(campaign: &CampaignRecord, directory: &Path) -> Result<String, CliError> {
    let write = |name: &str, bytes: &[u8]| {
        let path = directory.join(name);
        reports::write_atomically(&path, bytes).map_err(|error| CliError::io("write", &path, error))
    };
    write("campaign.json", reports::json::pretty(campaign).as_bytes())?;
    write("junit.xml", reports::junit::campaign_junit(campaign).as_bytes())?;
    let link = |run: &RunRecord| {
        let name = run_page_name(&run.scenario_path, run.seed);
        let failing = run.verdict != "pass" || !run.as_expected;
        (failing && directory.join(&name).is_file()).then_some(name)
    };
    write("campaign.html", reports::html::campaign_page(campaign, &link).as_bytes())?;
    Ok(format!("campaign.json, junit.xml and campaign.html in {}", directory.display()))
}

/// Shrinks the first run of each failure group while `keep_going` says so (a signal stops it: the
/// groups left get a note, and a group stopped half-way keeps the smaller reproduction so far).
pub fn shrink_groups(
    campaign: &mut CampaignRecord,
    scenarios: &[Scenario],
    directory: &Path,
    max_runs: u64,
    keep_going: &dyn Fn() -> bool,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    for group in &mut campaign.groups {
        if keep_going() {
            shrink_group(group, scenarios, directory, max_runs, keep_going, err)?;
        } else {
            group.shrink_note = Some("not shrunk: the campaign was interrupted".to_string());
        }
    }
    Ok(())
}

/// Shrinks the first run of `group` within the campaign's per-group budget (runs only, so the
/// campaign record stays the same for the same inputs), writes the file under `DIR/shrunk/` and
/// records it in the group; a group that cannot be shrunk gets a note saying why.
fn shrink_group(
    group: &mut FailureGroup,
    scenarios: &[Scenario],
    directory: &Path,
    max_runs: u64,
    keep_going: &dyn Fn() -> bool,
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
    let request = Request { scenario: &scenario.path, seed, check: Some(check), max_runs };
    match shrink::shrink(&request, &mut || keep_going()) {
        Ok(shrunk) => {
            let path = default_out(directory, &scenario.path, seed);
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
