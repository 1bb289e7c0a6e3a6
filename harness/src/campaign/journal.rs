//! The campaign's journal: what it set out to do (`plan.json`) and every run as it finished
//! (`runs.jsonl`, one run record per line, appended and flushed by one writer).
//!
//! The journal is what makes a campaign resumable: rerun with the same `--out`, a campaign of the same
//! plan reads the records already there and runs only the pairs that have none. A SIGKILL loses at
//! most the runs in flight (their records were never written) and at worst tears the last line, which
//! the next open drops. Nothing is run twice: a pair with a record is never dispatched again.

use super::plan::{SeedRange, Shard};
use reports::{Provenance, RunRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub const PLAN_FILE: &str = "plan.json";
pub const RUNS_FILE: &str = "runs.jsonl";

/// The identity of a campaign: a journal resumes only a campaign with the same one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalPlan {
    pub provenance: Provenance,
    /// The SHA-256 of the drill executable: a rebuilt drill (say, with uncommitted changes) may give
    /// other histories than the one that wrote the journal, so it starts afresh.
    pub executable_sha256: String,
    pub first_seed: u64,
    pub last_seed: u64,
    pub shard: Option<(u64, u64)>,
    /// Each scenario file as given and the SHA-256 of its text, in catalogue order.
    pub scenarios: Vec<(String, String)>,
}

impl JournalPlan {
    pub fn seeds(&self) -> SeedRange {
        SeedRange { first: self.first_seed, last: self.last_seed }
    }

    pub fn shard(&self) -> Option<Shard> {
        self.shard.map(|(index, count)| Shard { index, count })
    }

    /// What merging needs to hold for every shard: the same drill and the same campaign, whatever the
    /// shard and whichever build of that commit ran it.
    pub fn same_campaign(&self, other: &JournalPlan) -> bool {
        self.provenance == other.provenance
            && self.scenarios == other.scenarios
            && (self.first_seed, self.last_seed) == (other.first_seed, other.last_seed)
            && self.shard.map(|(_, count)| count) == other.shard.map(|(_, count)| count)
    }
}

/// An open journal: records are appended as runs finish.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
}

/// What opening a journal found.
#[derive(Debug)]
pub struct Opened {
    pub journal: Journal,
    /// The records of an earlier, interrupted campaign of the same plan.
    pub records: Vec<RunRecord>,
    /// Why earlier records were set aside, if the directory held another campaign's.
    pub restarted: Option<String>,
}

impl Journal {
    /// Opens the journal of `plan` in `directory`, resuming it if the directory holds a journal of the
    /// same plan; a journal of another plan is removed (and the reason returned).
    pub fn open(directory: &Path, plan: &JournalPlan) -> io::Result<Opened> {
        let plan_path = directory.join(PLAN_FILE);
        let runs_path = directory.join(RUNS_FILE);
        let earlier = read_plan(&plan_path)?;
        let restarted = match &earlier {
            Some(earlier) if earlier == plan => None,
            Some(earlier) => Some(difference(earlier, plan)),
            None if runs_path.exists() => Some("its runs.jsonl has no plan.json beside it".to_string()),
            None => None,
        };
        let records = if earlier.is_some() && restarted.is_none() {
            read_records(&runs_path, true)?
        } else {
            remove_if_present(&runs_path)?;
            reports::write_atomically(&plan_path, pretty(plan).as_bytes())?;
            Vec::new()
        };
        let file = OpenOptions::new().create(true).append(true).open(&runs_path)?;
        Ok(Opened { journal: Journal { file, path: runs_path }, records: unique(records), restarted })
    }

    /// Appends `record` as one line, flushed to the operating system before returning: a process
    /// killed afterwards keeps it.
    pub fn append(&mut self, record: &RunRecord) -> io::Result<()> {
        let mut line = reports::json::line(record);
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.flush()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The plan and records of the campaign in `directory`, for `drill merge`.
pub fn read(directory: &Path) -> io::Result<(JournalPlan, Vec<RunRecord>)> {
    let plan = read_plan(&directory.join(PLAN_FILE))?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("no {PLAN_FILE}: not the output directory of a campaign"),
        )
    })?;
    Ok((plan, read_records(&directory.join(RUNS_FILE), false)?))
}

fn read_plan(path: &Path) -> io::Result<Option<JournalPlan>> {
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|error| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{}: {error}", path.display()))
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Reads every record. A last line without its newline is a write a kill cut short: dropped, and with
/// `repair` cut off the file so the next append starts on a fresh line. Any other bad line is an error.
fn read_records(path: &Path, repair: bool) -> io::Result<Vec<RunRecord>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let complete = text.rfind('\n').map_or(0, |end| end + 1);
    if repair && complete < text.len() {
        OpenOptions::new().write(true).open(path)?.set_len(complete as u64)?;
    }
    text[..complete]
        .lines()
        .enumerate()
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|error| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} line {}: {error}", path.display(), index + 1),
                )
            })
        })
        .collect()
}

/// `records` in the campaign's order: by the position of their scenario in `scenarios` (paths in
/// catalogue order), then by seed. Records of a scenario not in the list go last, by path.
pub fn in_catalogue_order(mut records: Vec<RunRecord>, scenarios: &[String]) -> Vec<RunRecord> {
    let position = |path: &str| scenarios.iter().position(|each| each == path).unwrap_or(usize::MAX);
    records.sort_by(|a, b| {
        (position(&a.scenario_path), &a.scenario_path, a.seed).cmp(&(
            position(&b.scenario_path),
            &b.scenario_path,
            b.seed,
        ))
    });
    records
}

/// The first record of each (scenario, seed): a journal never holds two, but one edited by hand might.
fn unique(records: Vec<RunRecord>) -> Vec<RunRecord> {
    let mut seen = BTreeSet::new();
    records.into_iter().filter(|record| seen.insert((record.scenario_path.clone(), record.seed))).collect()
}

fn difference(earlier: &JournalPlan, now: &JournalPlan) -> String {
    let what = if earlier.provenance != now.provenance {
        "another drill commit"
    } else if earlier.executable_sha256 != now.executable_sha256 {
        "another build of drill"
    } else if earlier.scenarios != now.scenarios {
        "other scenario files (or other versions of them)"
    } else if (earlier.first_seed, earlier.last_seed) != (now.first_seed, now.last_seed) {
        "other seeds"
    } else {
        "another shard"
    };
    format!("it held a campaign of {what}")
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

fn pretty(plan: &JournalPlan) -> String {
    // A struct of strings, numbers and options always serialises.
    let mut text = serde_json::to_string_pretty(plan).unwrap_or_default();
    text.push('\n');
    text
}

/// Removes the temporary files a killed writer left in `directory` (`write_atomically` names them
/// `.NAME.PID.N.tmp`); returns how many. Run before anything of this campaign is written.
pub fn sweep_temporaries(directory: &Path) -> io::Result<usize> {
    let mut swept = 0;
    let entries = match fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(".tmp") && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
            swept += 1;
        }
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(last_seed: u64) -> JournalPlan {
        JournalPlan {
            provenance: Provenance { drill_version: "0.1.0".into(), drill_commit: "abc".into() },
            executable_sha256: "e".repeat(64),
            first_seed: 1,
            last_seed,
            shard: None,
            scenarios: vec![("a.toml".into(), "0".repeat(64))],
        }
    }

    fn record(seed: u64) -> RunRecord {
        let mut record: RunRecord = serde_json::from_value(serde_json::json!({
            "schema_version": 2, "scenario": "a", "scenario_path": "a.toml", "seed": seed, "verdict": "pass",
            "expected": null, "as_expected": true, "exit_code": 0, "history_sha256": "h",
            "metrics": {"acked": 1, "lost_acked": 0, "lost_window_ms": null, "duplicates": 0, "rto_ms": 0,
                        "failovers": 0, "simulated_ms": 1, "events": 1},
            "notes": [], "replay": "r"
        }))
        .unwrap();
        record.seed = seed;
        record
    }

    #[test]
    fn a_journal_of_the_same_plan_resumes_with_its_records_and_a_torn_last_line_is_dropped() {
        let directory = tempfile::tempdir().unwrap();
        let mut opened = Journal::open(directory.path(), &plan(3)).unwrap();
        opened.journal.append(&record(1)).unwrap();
        opened.journal.append(&record(2)).unwrap();
        let runs = directory.path().join(RUNS_FILE);
        let mut file = OpenOptions::new().append(true).open(&runs).unwrap();
        file.write_all(b"{\"schema_version\":2,\"scen").unwrap();
        let mut resumed = Journal::open(directory.path(), &plan(3)).unwrap();
        assert_eq!(resumed.records.iter().map(|r| r.seed).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(resumed.restarted, None);
        resumed.journal.append(&record(3)).unwrap();
        let (_, records) = read(directory.path()).unwrap();
        assert_eq!(records.iter().map(|r| r.seed).collect::<Vec<_>>(), vec![1, 2, 3]);
    }

    #[test]
    fn a_journal_of_another_plan_is_set_aside_and_says_why() {
        let directory = tempfile::tempdir().unwrap();
        let mut opened = Journal::open(directory.path(), &plan(3)).unwrap();
        opened.journal.append(&record(1)).unwrap();
        let fresh = Journal::open(directory.path(), &plan(4)).unwrap();
        assert!(fresh.records.is_empty());
        assert_eq!(fresh.restarted.as_deref(), Some("it held a campaign of other seeds"));
        assert_eq!(read(directory.path()).unwrap().0, plan(4));
    }

    #[test]
    fn a_bad_line_in_the_middle_of_a_journal_is_an_error_not_a_silent_loss() {
        let directory = tempfile::tempdir().unwrap();
        let mut opened = Journal::open(directory.path(), &plan(3)).unwrap();
        opened.journal.append(&record(1)).unwrap();
        fs::write(directory.path().join(RUNS_FILE), "garbage\n").unwrap();
        let error = Journal::open(directory.path(), &plan(3)).unwrap_err();
        assert!(error.to_string().contains("line 1"), "{error}");
    }

    #[test]
    fn stale_temporary_files_are_swept_and_nothing_else() {
        let directory = tempfile::tempdir().unwrap();
        fs::write(directory.path().join(".campaign.json.123.0.tmp"), "x").unwrap();
        fs::write(directory.path().join("campaign.json"), "{}").unwrap();
        assert_eq!(sweep_temporaries(directory.path()).unwrap(), 1);
        assert!(directory.path().join("campaign.json").exists());
    }
}
