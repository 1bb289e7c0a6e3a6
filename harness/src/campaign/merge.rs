//! Putting a sharded campaign back together: the shards' records, checked to be of one campaign,
//! disjoint, and (where they are not) complete.

use super::journal::JournalPlan;
use super::plan::{Plan, Shard};
use reports::RunRecord;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One shard's output directory, read.
#[derive(Debug)]
pub struct ShardOutput {
    pub directory: PathBuf,
    pub plan: JournalPlan,
    pub records: Vec<RunRecord>,
}

/// The merged campaign: its plan (no shard), every record, and what is missing.
#[derive(Debug)]
pub struct Merged {
    pub plan: JournalPlan,
    pub records: Vec<RunRecord>,
    /// Shards absent and shards with runs missing, as sentences.
    pub gaps: Vec<String>,
}

/// Merges `shards` given in any order. Refuses directories that are not of one campaign (another
/// drill commit, other scenario files or seeds, another shard count) and any run two directories
/// both hold; reports the shards and runs that are missing.
pub fn merge(shards: &[ShardOutput]) -> Result<Merged, String> {
    let first = shards.first().ok_or("nothing to merge")?;
    for shard in &shards[1..] {
        if !shard.plan.same_campaign(&first.plan) {
            return Err(format!(
                "{} is not a shard of the campaign in {}: {}",
                shard.directory.display(),
                first.directory.display(),
                why_not(&first.plan, &shard.plan)
            ));
        }
    }
    let mut owner: BTreeMap<(&str, u64), &PathBuf> = BTreeMap::new();
    for shard in shards {
        let plan = Plan::new(shard.plan.scenarios.len(), shard.plan.seeds(), shard.plan.shard());
        for record in &shard.records {
            let index = shard.plan.scenarios.iter().position(|(path, _)| *path == record.scenario_path);
            if !index.is_some_and(|index| plan.holds(index, record.seed)) {
                return Err(format!(
                    "{} holds a run its plan does not ({} with seed {}): its journal was edited or mixed",
                    shard.directory.display(),
                    record.scenario_path,
                    record.seed
                ));
            }
            if let Some(other) = owner.insert((&record.scenario_path, record.seed), &shard.directory) {
                return Err(format!(
                    "{} and {} both hold the run of {} with seed {}: the shards overlap",
                    other.display(),
                    shard.directory.display(),
                    record.scenario_path,
                    record.seed
                ));
            }
        }
    }
    let plan = JournalPlan { shard: None, executable_sha256: String::new(), ..first.plan.clone() };
    let records = shards.iter().flat_map(|shard| shard.records.iter().cloned()).collect();
    Ok(Merged { gaps: gaps(shards), plan, records })
}

fn why_not(first: &JournalPlan, other: &JournalPlan) -> String {
    if first.provenance != other.provenance {
        format!(
            "it ran drill {} ({}), not {} ({})",
            other.provenance.drill_version,
            other.provenance.drill_commit,
            first.provenance.drill_version,
            first.provenance.drill_commit
        )
    } else if first.scenarios != other.scenarios {
        "it ran other scenario files, or other versions of them".to_string()
    } else if (first.first_seed, first.last_seed) != (other.first_seed, other.last_seed) {
        format!("it ran seeds {}, not {}", other.seeds(), first.seeds())
    } else {
        "it was split into another number of shards".to_string()
    }
}

/// The shards not given, and the shards given whose runs are not all recorded.
fn gaps(shards: &[ShardOutput]) -> Vec<String> {
    let scenarios = shards[0].plan.scenarios.len();
    let count = shards[0].plan.shard().map_or(1, |shard| shard.count);
    let mut gaps = Vec::new();
    let given: Vec<Option<Shard>> = shards.iter().map(|shard| shard.plan.shard()).collect();
    if given.iter().all(Option::is_some) {
        for index in 0..count {
            if !given.contains(&Some(Shard { index, count })) {
                gaps.push(format!("shard {index}/{count} is missing"));
            }
        }
    }
    for shard in shards {
        let plan = Plan::new(scenarios, shard.plan.seeds(), shard.plan.shard());
        let recorded = shard.records.len() as u128;
        if recorded < plan.runs() {
            gaps.push(format!(
                "{} holds {recorded} of its {} runs (rerun its campaign with the same --out to finish it)",
                shard.directory.display(),
                plan.runs()
            ));
        }
    }
    gaps
}
