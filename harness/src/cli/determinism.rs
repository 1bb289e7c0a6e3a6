//! `drill check-determinism SCENARIO [--seeds K]`: the same scenario and seed must give the same
//! history, byte for byte.

use super::args::DeterminismArgs;
use super::error::CliError;
use crate::run::exit_code;
use crate::scenario;
use crate::world::run_scenario_bounded;
use std::collections::BTreeSet;
use std::io::Write;

/// Runs seeds 1..=K twice each and compares the history digests. Exit 0 if every seed gave the same
/// digest twice, 1 otherwise. Whether different seeds gave different digests is reported but does not
/// change the exit code: a scenario without randomness may legitimately ignore its seed.
pub fn check_determinism(arguments: &DeterminismArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let scenario = scenario::load(&arguments.scenario).map_err(|error| CliError::Scenarios(vec![error]))?;
    writeln!(
        out,
        "{} ({}): seeds 1..={}, each run twice",
        scenario.name,
        scenario.path.display(),
        arguments.seeds
    )?;
    let mut differing = Vec::new();
    let mut distinct = BTreeSet::new();
    for seed in 1..=arguments.seeds {
        let first = run_scenario_bounded(&scenario, seed).history.sha256();
        let second = run_scenario_bounded(&scenario, seed).history.sha256();
        let same = first == second;
        writeln!(out, "seed {seed}  {first}  {second}  {}", if same { "identical" } else { "DIFFERENT" })?;
        if !same {
            differing.push(seed);
        }
        distinct.insert(first);
    }
    if differing.is_empty() {
        writeln!(out, "deterministic: every seed gave the same history twice")?;
    } else {
        let seeds: Vec<String> = differing.iter().map(u64::to_string).collect();
        writeln!(out, "NOT deterministic: seed {} gave different histories on two runs", seeds.join(", "))?;
        writeln!(
            out,
            "compare: drill run {path} --seed {seed} --out a && drill run {path} --seed {seed} --out b && diff a/history.jsonl b/history.jsonl",
            path = scenario.path.display(),
            seed = differing[0]
        )?;
    }
    writeln!(
        out,
        "{} distinct histories from {} seeds (informational: seeds that change nothing are not an error)",
        distinct.len(),
        arguments.seeds
    )?;
    Ok(if differing.is_empty() { exit_code::AS_EXPECTED } else { exit_code::SAFETY })
}
