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
    /// Held for as long as the journal is open (released when the process ends, however it ends).
    _lock: File,
}

/// What opening a journal found.
#[derive(Debug)]
pub struct Opened {
    pub journal: Journal,
    /// The records of an earlier, interrupted campaign of the same plan.
    pub records: Vec<RunRecord>,
    /// Why the directory's earlier campaign was set aside in `previous/`, if it held another one.
    pub restarted: Option<String>,
}

/// The files of a campaign directory that belong to one campaign: set aside together.
const CAMPAIGN_FILES: [&str; 7] =
    [PLAN_FILE, RUNS_FILE, "campaign.json", "junit.xml", "campaign.html", "runs", "shrunk"];

/// Where a campaign of another plan is moved, replacing what an older one left there.
pub const PREVIOUS: &str = "previous";

/// The lock a campaign (or a merge) holds on its directory while it writes there.
const LOCK_FILE: &str = ".drill.lock";

impl Journal {
    /// Opens the journal of `plan` in `directory`, resuming it if the directory holds a journal of the
    /// same plan. A directory holding another campaign (another commit, build, scenario files, seeds or
    /// shard, or a journal without its plan) has that campaign's files moved to `previous/`, and the
    /// reason is returned: nothing recorded is ever deleted by a campaign starting afresh (only what an
    /// older `previous/` held). Refused while another drill writes the directory.
    pub fn open(directory: &Path, plan: &JournalPlan) -> io::Result<Opened> {
        let lock = lock(directory)?;
        let plan_path = directory.join(PLAN_FILE);
        let runs_path = directory.join(RUNS_FILE);
        let resuming = plan_path.exists();
        let restarted = set_aside_unless(directory, plan)?;
        let resuming = resuming && restarted.is_none();
        let records = if resuming { read_records(&runs_path, true)? } else { Vec::new() };
        if !resuming {
            reports::write_atomically(&plan_path, pretty(plan).as_bytes())?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&runs_path)?;
        let journal = Journal { file, path: runs_path, _lock: lock };
        Ok(Opened { journal, records: unique(records), restarted })
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

/// Takes the directory's lock, or says who holds it: two campaigns appending to one journal would
/// run the same pairs twice and interleave their lines.
pub fn lock(directory: &Path) -> io::Result<File> {
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(directory.join(LOCK_FILE))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "another drill campaign or merge is writing this directory; wait for it, or use another --out",
        )),
        Err(std::fs::TryLockError::Error(error)) => Err(error),
    }
}

/// Sets aside (in `previous/`) the campaign `directory` holds unless it is one of `plan`; returns
/// why it was set aside. A directory without a campaign is left as it is.
pub fn set_aside_unless(directory: &Path, plan: &JournalPlan) -> io::Result<Option<String>> {
    let reason = match read_plan(&directory.join(PLAN_FILE)) {
        Ok(Some(earlier)) if earlier == *plan => None,
        Ok(Some(earlier)) => Some(difference(&earlier, plan)),
        Ok(None) if directory.join(RUNS_FILE).exists() => {
            Some("a runs.jsonl without its plan.json".to_string())
        }
        Ok(None) => None,
        Err(error) => Some(format!("a plan.json drill cannot read ({error})")),
    };
    if reason.is_some() {
        set_aside(directory)?;
    }
    Ok(reason)
}

/// Moves the campaign files of `directory` into `directory/previous/`, replacing its contents.
fn set_aside(directory: &Path) -> io::Result<()> {
    let previous = directory.join(PREVIOUS);
    if previous.exists() {
        fs::remove_dir_all(&previous)?;
    }
    fs::create_dir_all(&previous)?;
    for name in CAMPAIGN_FILES {
        let path = directory.join(name);
        if path.exists() {
            fs::rename(&path, previous.join(name))?;
        }
    }
    Ok(())
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
    let invalid =
        |why: String| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {why}", path.display()));
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let plan: JournalPlan = serde_json::from_str(&text).map_err(|error| invalid(error.to_string()))?;
    if plan.first_seed > plan.last_seed {
        return Err(invalid(format!("its seeds {}..={} hold none", plan.first_seed, plan.last_seed)));
    }
    if let Some((index, count)) = plan.shard
        && index >= count
    {
        return Err(invalid(format!("its shard {index}/{count} does not exist")));
    }
    Ok(Some(plan))
}

/// Reads every record. A last line without its newline is a write a kill cut short: dropped, and with
/// `repair` cut off the file so the next append starts on a fresh line. Any other bad line is an error.
fn read_records(path: &Path, repair: bool) -> io::Result<Vec<RunRecord>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    // Cut the torn tail before decoding: it may end inside a multi-byte character.
    let complete = bytes.iter().rposition(|&byte| byte == b'\n').map_or(0, |end| end + 1);
    if repair && complete < bytes.len() {
        OpenOptions::new().write(true).open(path)?.set_len(complete as u64)?;
    }
    let text = std::str::from_utf8(&bytes[..complete]).map_err(|error| {
        io::Error::new(io::ErrorKind::InvalidData, format!("{}: {error}", path.display()))
    })?;
    text.lines()
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

/// The plan as `plan.json` holds it.
pub fn pretty(plan: &JournalPlan) -> String {
    // A struct of strings, numbers and options always serialises.
    let mut text = serde_json::to_string_pretty(plan).unwrap_or_default();
    text.push('\n');
    text
}

/// Removes the temporary files killed writers left in `directory`: files named as
/// `write_atomically` names them, `.NAME.PID.N.tmp`, whose process is gone (on Linux, no
/// `/proc/PID`; elsewhere any other process's). Returns how many.
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
        let Some(pid) = temporary_writer(&name.to_string_lossy()) else { continue };
        let alive = pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists();
        if !alive && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
            swept += 1;
        }
    }
    Ok(swept)
}

/// The writer's process id, if `name` is a temporary file of `write_atomically`.
fn temporary_writer(name: &str) -> Option<u32> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = inner.rsplitn(3, '.');
    let sequence = parts.next()?;
    let pid = parts.next()?;
    let file = parts.next()?;
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    (digits(sequence) && !file.is_empty()).then_some(())?;
    digits(pid).then(|| pid.parse().ok()).flatten()
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
        drop(opened); // a kill: the process and its lock are gone
        let mut resumed = Journal::open(directory.path(), &plan(3)).unwrap();
        assert_eq!(resumed.records.iter().map(|r| r.seed).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(resumed.restarted, None);
        resumed.journal.append(&record(3)).unwrap();
        let (_, records) = read(directory.path()).unwrap();
        assert_eq!(records.iter().map(|r| r.seed).collect::<Vec<_>>(), vec![1, 2, 3]);
    }

    #[test]
    fn a_journal_of_another_plan_is_set_aside_in_previous_and_says_why() {
        let directory = tempfile::tempdir().unwrap();
        let mut opened = Journal::open(directory.path(), &plan(3)).unwrap();
        opened.journal.append(&record(1)).unwrap();
        drop(opened);
        fs::write(directory.path().join("campaign.json"), "{}").unwrap();
        let fresh = Journal::open(directory.path(), &plan(4)).unwrap();
        assert!(fresh.records.is_empty());
        assert_eq!(fresh.restarted.as_deref(), Some("it held a campaign of other seeds"));
        assert_eq!(read(directory.path()).unwrap().0, plan(4));
        let previous = directory.path().join(PREVIOUS);
        assert_eq!(read(&previous).unwrap(), (plan(3), vec![record(1)]), "the earlier journal is kept");
        assert!(previous.join("campaign.json").exists() && !directory.path().join("campaign.json").exists());
    }

    #[test]
    fn a_second_writer_of_one_directory_is_refused_while_the_first_holds_it() {
        let directory = tempfile::tempdir().unwrap();
        let first = Journal::open(directory.path(), &plan(3)).unwrap();
        let error = Journal::open(directory.path(), &plan(3)).unwrap_err();
        assert!(error.to_string().contains("another drill campaign"), "{error}");
        drop(first);
        assert!(Journal::open(directory.path(), &plan(3)).is_ok());
    }

    #[test]
    fn a_torn_last_line_cut_inside_a_character_is_dropped_too() {
        let directory = tempfile::tempdir().unwrap();
        let mut opened = Journal::open(directory.path(), &plan(3)).unwrap();
        opened.journal.append(&record(1)).unwrap();
        drop(opened);
        let mut file = OpenOptions::new().append(true).open(directory.path().join(RUNS_FILE)).unwrap();
        file.write_all(&"{\"scenario\":\"é".as_bytes()[..13]).unwrap();
        let resumed = Journal::open(directory.path(), &plan(3)).unwrap();
        assert_eq!(resumed.records.len(), 1);
    }

    #[test]
    fn a_plan_with_no_seeds_or_no_such_shard_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        for bad in [
            JournalPlan { first_seed: 5, last_seed: 4, ..plan(3) },
            JournalPlan { shard: Some((0, 0)), ..plan(3) },
        ] {
            fs::write(directory.path().join(PLAN_FILE), serde_json::to_string(&bad).unwrap()).unwrap();
            assert_eq!(read(directory.path()).unwrap_err().kind(), io::ErrorKind::InvalidData);
        }
    }

    #[test]
    fn a_bad_line_in_the_middle_of_a_journal_is_an_error_not_a_silent_loss() {
        let directory = tempfile::tempdir().unwrap();
        let mut opened = Journal::open(directory.path(), &plan(3)).unwrap();
        opened.journal.append(&record(1)).unwrap();
        drop(opened);
        fs::write(directory.path().join(RUNS_FILE), "garbage\n").unwrap();
        let error = Journal::open(directory.path(), &plan(3)).unwrap_err();
        assert!(error.to_string().contains("line 1"), "{error}");
    }

    #[test]
    fn stale_temporary_files_of_dead_writers_are_swept_and_nothing_else() {
        let directory = tempfile::tempdir().unwrap();
        let dead = u32::MAX - 1; // no process has this id
        let live = std::process::id();
        for name in [
            format!(".campaign.json.{dead}.0.tmp"),
            format!(".junit.xml.{live}.3.tmp"),
            ".notes.tmp".into(),
            "campaign.json".into(),
        ] {
            fs::write(directory.path().join(name), "x").unwrap();
        }
        assert_eq!(sweep_temporaries(directory.path()).unwrap(), 1);
        let left: Vec<String> = fs::read_dir(directory.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left.len(), 3, "{left:?}");
    }
}
