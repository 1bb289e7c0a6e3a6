//! `drill merge DIR... [--out DIR] [--json]`: the output directories of a campaign's shards, in any
//! order, combined into one campaign with the reports of an unsharded one.

use super::args::MergeArgs;
use super::error::CliError;
use super::output;
use crate::campaign::journal::{self, PLAN_FILE, RUNS_FILE};
use crate::campaign::merge::{self, ShardOutput};
use crate::campaign::plan::Plan;
use reports::{CampaignRecord, FailureGroup};
use std::io::Write;
use std::path::Path;

/// Reads every shard, refuses shards of different campaigns and overlapping runs (exit 2), writes the
/// merged journal and reports, and prints the table. The exit code is the campaign's; a merge with
/// gaps (a shard missing or unfinished) that is otherwise clean exits 2, so a CI gate never passes on
/// half a campaign.
pub fn merge(arguments: &MergeArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32, CliError> {
    let mut shards = Vec::new();
    for directory in &arguments.directories {
        if same_directory(directory, &arguments.out) {
            return Err(CliError::Merge(format!(
                "--out {} is one of the shards; merge into another directory",
                arguments.out.display()
            )));
        }
        let (plan, records) = journal::read(directory)
            .map_err(|error| CliError::io("read the campaign in", directory, error))?;
        shards.push(ShardOutput { directory: directory.clone(), plan, records });
    }
    let merged = merge::merge(&shards).map_err(CliError::Merge)?;
    output::prepare_directory(&arguments.out)?;
    let _lock = journal::lock(&arguments.out).map_err(|error| CliError::io("lock", &arguments.out, error))?;
    let set_aside = journal::set_aside_unless(&arguments.out, &merged.plan)
        .map_err(|error| CliError::io("set aside the earlier campaign in", &arguments.out, error))?;
    if let Some(reason) = set_aside {
        writeln!(
            err,
            "merge: {} {reason}; it is now in {}/previous",
            arguments.out.display(),
            arguments.out.display()
        )?;
    }
    for shard in &shards {
        copy_pages(&shard.directory, &arguments.out)?;
    }
    let plan =
        super::campaign::campaign_plan(&Plan::new(merged.plan.scenarios.len(), merged.plan.seeds(), None));
    let planned_runs = plan.planned_runs;
    let paths: Vec<String> = merged.plan.scenarios.iter().map(|(path, _)| path.clone()).collect();
    let records = journal::in_catalogue_order(merged.records, &paths);
    let mut campaign = CampaignRecord::from_runs(merged.plan.provenance.clone(), plan, records);
    adopt_shrunk(&mut campaign.groups, &shards, &arguments.out);
    write_journal(&arguments.out, &merged.plan, &campaign)?;
    let written = output::write_reports(&campaign, &arguments.out)?;
    if arguments.json {
        writeln!(out, "{}", reports::json::line(&campaign))?;
    } else {
        write!(out, "{}", reports::text::campaign_table(&campaign))?;
    }
    for gap in &merged.gaps {
        writeln!(err, "merge: gap: {gap}")?;
    }
    writeln!(
        err,
        "merge: {} shards, {} runs of {}; wrote {written}",
        shards.len(),
        campaign.runs.len(),
        planned_runs
    )?;
    Ok(if campaign.exit_code == 0 && !merged.gaps.is_empty() {
        crate::run::exit_code::BAD_INPUT
    } else {
        campaign.exit_code
    })
}

fn same_directory(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The merged plan and every record, sorted as the campaign record sorts them: the merged directory is
/// itself a campaign directory (another merge can take it).
fn write_journal(
    directory: &Path,
    plan: &journal::JournalPlan,
    campaign: &CampaignRecord,
) -> Result<(), CliError> {
    let mut lines = String::new();
    for run in &campaign.runs {
        lines.push_str(&reports::json::line(run));
        lines.push('\n');
    }
    let plan_text = journal::pretty(plan);
    for (name, bytes) in [(PLAN_FILE, plan_text.into_bytes()), (RUNS_FILE, lines.into_bytes())] {
        let path = directory.join(name);
        reports::write_atomically(&path, &bytes).map_err(|error| CliError::io("write", &path, error))?;
    }
    Ok(())
}

/// Copies each shard's run pages and shrunk files into the merged directory.
fn copy_pages(shard: &Path, directory: &Path) -> Result<(), CliError> {
    for folder in ["runs", "shrunk"] {
        let Ok(entries) = std::fs::read_dir(shard.join(folder)) else { continue };
        let target_folder = directory.join(folder);
        std::fs::create_dir_all(&target_folder)
            .map_err(|error| CliError::io("create", &target_folder, error))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let target = directory.join(folder).join(&name);
            let bytes =
                std::fs::read(entry.path()).map_err(|error| CliError::io("read", entry.path(), error))?;
            reports::write_atomically(&target, &bytes)
                .map_err(|error| CliError::io("write", &target, error))?;
        }
    }
    Ok(())
}

/// Gives each merged failure group the shrunk reproduction a shard made of the same failure (same
/// scenario, check and fault signature; the lowest first seed wins), pointed at its copy here.
fn adopt_shrunk(groups: &mut [FailureGroup], shards: &[ShardOutput], directory: &Path) {
    let mut shard_groups: Vec<FailureGroup> = Vec::new();
    for shard in shards {
        let Ok(text) = std::fs::read_to_string(shard.directory.join("campaign.json")) else { continue };
        let Ok(campaign) = serde_json::from_str::<CampaignRecord>(&text) else { continue };
        // A campaign.json left from another campaign says nothing about this one.
        if campaign.provenance != shard.plan.provenance
            || (campaign.plan.first_seed, campaign.plan.last_seed)
                != (shard.plan.first_seed, shard.plan.last_seed)
        {
            continue;
        }
        shard_groups.extend(campaign.groups);
    }
    shard_groups.sort_by_key(|group| group.first_seed);
    for group in groups {
        let same = |other: &&FailureGroup| {
            other.scenario_path == group.scenario_path
                && other.check == group.check
                && other.fault_signature == group.fault_signature
        };
        let Some(found) = shard_groups.iter().find(same) else { continue };
        group.shrink_note.clone_from(&found.shrink_note);
        group.shrunk = found.shrunk.clone().map(|mut shrunk| {
            let name = Path::new(&shrunk.path).file_name().map(|name| name.to_string_lossy().into_owned());
            if let Some(name) = name {
                let path = directory.join("shrunk").join(name);
                shrunk.path = path.display().to_string();
                shrunk.replay = format!("drill run {} --seed {}", shrunk.path, found.first_seed);
            }
            shrunk
        });
    }
}
