//! Shrinking a failing run into a small standalone scenario that fails the same way.
//!
//! The run's schedule is first *realised*: every fault that took effect (from the scenario's
//! `[[fault]]` tables or its nemesis) becomes an explicit `[[fault]]` table, at the instant it fired,
//! pinned to the hosts it hit, with its automatic heal folded into its `duration`
//! ([`RunOutcome::realised_faults`]). The scenario is kept as it is otherwise (parsed as a TOML table,
//! `nemesis` and `fault` replaced), so the seed still drives the workload and every other random
//! stream. That candidate must reproduce the target violation; then it is reduced by delta debugging
//! (ddmin over the fault list), its durations are shortened and its times rounded to whole seconds,
//! each step kept only if the target violation still happens.
//!
//! Every candidate is an ordinary run of the same seed ([`run_scenario_bounded`]: a candidate's
//! verdict and realised faults are all shrinking reads, so it keeps no history), so shrinking is as
//! deterministic as the runs: the same file, seed, target and run budget give the same result. A wall-clock budget
//! is the caller's business (`keep_going`), and only the command line uses one.

use crate::history::{DRILL_VERSION, DrawnSetting};
use crate::run::RunOutcome;
use crate::scenario::{self, FaultSpec, ScenarioError};
use crate::verdict::ViolationKind;
use crate::world::run_scenario_bounded;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use toml::{Table, Value};

/// What to shrink and how much it may cost.
#[derive(Debug)]
pub struct Request<'a> {
    /// The scenario file of the failing run.
    pub scenario: &'a Path,
    pub seed: u64,
    /// The violation to keep; `None`: the run's surprise, or else its earliest violation.
    pub check: Option<ViolationKind>,
    /// The most runs shrinking may take, the original run and the check of the realised schedule
    /// included.
    pub max_runs: u64,
}

/// A shrunk reproduction: the scenario (without its header comment) and how it was reached.
#[derive(Debug)]
pub struct Shrunk {
    /// The violation the file reproduces.
    pub target: ViolationKind,
    /// How many faults took effect in the original run.
    pub realised: usize,
    /// The faults left.
    pub faults: Vec<FaultSpec>,
    /// The scenario with those faults and no nemesis, named after the original and the seed.
    pub document: Table,
    /// Runs taken, the original included.
    pub runs: u64,
    /// Whether the budget ran out before every step was tried (the file still reproduces).
    pub exhausted: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("seed {seed} of {scenario} broke nothing: there is no violation to shrink")]
    NothingBroke { scenario: String, seed: u64 },
    #[error("seed {seed} of {scenario} has no {check} violation (it found: {found})")]
    NoSuchViolation { scenario: String, seed: u64, check: ViolationKind, found: String },
    #[error(
        "the {faults} faults that took effect in seed {seed} of {scenario}, written as a fixed \
         schedule, no longer give {check}; drill cannot shrink this run"
    )]
    NotReproduced { scenario: String, seed: u64, check: ViolationKind, faults: usize },
    #[error("the run budget is too small to check the realised schedule: allow at least 2 runs")]
    BudgetTooSmall,
}

/// Shrinks `request`'s run. `keep_going` is asked before every run after the first two; when it
/// says no, shrinking stops and returns what it has, which still reproduces.
pub fn shrink(request: &Request<'_>, keep_going: &mut dyn FnMut() -> bool) -> Result<Shrunk, ShrinkError> {
    if request.max_runs < 2 {
        return Err(ShrinkError::BudgetTooSmall);
    }
    let original = scenario::load(request.scenario)?;
    let outcome = run_scenario_bounded(&original, request.seed);
    let target = target_of(request, &outcome)?;
    let text = std::fs::read_to_string(request.scenario).map_err(|error| {
        ScenarioError::unlocated(request.scenario, format!("cannot read it again: {error}"))
    })?;
    // It loaded a moment ago, so it is TOML; a file changed in between is refused like any other.
    let mut base: Table = text.parse().map_err(|_| {
        ScenarioError::unlocated(request.scenario, "the file changed while it was being shrunk")
    })?;
    pin_drawn_settings(&mut base, &original, request.seed);
    base.remove("nemesis");
    base.remove("fault");
    let realised = outcome.realised_faults;
    let mut trial = Trial {
        source: request.scenario,
        base,
        seed: request.seed,
        target,
        runs: 1,
        max_runs: request.max_runs,
        exhausted: false,
        tried: BTreeMap::new(),
    };
    if !trial.reproduces(&realised, &mut || true) {
        return Err(ShrinkError::NotReproduced {
            scenario: request.scenario.display().to_string(),
            seed: request.seed,
            check: target,
            faults: realised.len(),
        });
    }
    let mut test = |faults: &[FaultSpec]| trial.reproduces(faults, keep_going);
    let faults = ddmin(realised.clone(), &mut test);
    let faults = shorten(faults, &mut test);
    let faults = round_times(faults, &mut test);
    let document = named(candidate(&trial.base, &faults), request, faults.len(), realised.len(), target);
    Ok(Shrunk {
        target,
        realised: realised.len(),
        faults,
        document,
        runs: trial.runs,
        exhausted: trial.exhausted,
    })
}

/// The violation to keep: the one asked for, which the run must have, or the run's own first.
fn target_of(request: &Request<'_>, outcome: &RunOutcome) -> Result<ViolationKind, ShrinkError> {
    let scenario = request.scenario.display().to_string();
    let found: Vec<ViolationKind> =
        outcome.report.violations.iter().map(|violation| violation.check).collect();
    match request.check {
        Some(check) if found.contains(&check) => Ok(check),
        Some(check) => {
            let found = if found.is_empty() {
                "nothing".to_string()
            } else {
                found.iter().map(|kind| kind.as_str()).collect::<Vec<_>>().join(", ")
            };
            Err(ShrinkError::NoSuchViolation { scenario, seed: request.seed, check, found })
        }
        None => outcome
            .first_violation()
            .map(|violation| violation.check)
            .ok_or(ShrinkError::NothingBroke { scenario, seed: request.seed }),
    }
}

/// Runs candidates within the budget, remembering each answer so no candidate runs twice.
struct Trial<'a> {
    source: &'a Path,
    base: Table,
    seed: u64,
    target: ViolationKind,
    runs: u64,
    max_runs: u64,
    exhausted: bool,
    tried: BTreeMap<String, bool>,
}

impl Trial<'_> {
    /// Whether the scenario with `faults` still breaks the target. Out of budget, or a candidate
    /// that does not load, counts as no.
    fn reproduces(&mut self, faults: &[FaultSpec], keep_going: &mut dyn FnMut() -> bool) -> bool {
        let text = candidate(&self.base, faults).to_string();
        if let Some(&known) = self.tried.get(&text) {
            return known;
        }
        if self.exhausted || self.runs >= self.max_runs || !keep_going() {
            self.exhausted = true;
            return false;
        }
        self.runs += 1;
        let breaks = scenario::parse(self.source, &text).is_ok_and(|scenario| {
            let outcome = run_scenario_bounded(&scenario, self.seed);
            outcome.report.violations.iter().any(|violation| violation.check == self.target)
        });
        self.tried.insert(text, breaks);
        breaks
    }
}

/// A swarm nemesis draws settings per seed (heartbeat threshold, online times, mount dial, dumpster
/// size, each host's clock drift); without its nemesis the written file would run with the file's own settings instead, and
/// may no longer fail. So the drawn values are written into the tables they override.
fn pin_drawn_settings(base: &mut Table, original: &scenario::Scenario, seed: u64) {
    let Some(spec) = original.nemesis.as_ref().filter(|spec| spec.is_swarm()) else { return };
    for setting in crate::world::draw_plan(spec, seed).settings {
        let (table, key, value) = match setting {
            DrawnSetting::HeartbeatThreshold { missed } => {
                ("cluster", "heartbeat_threshold", Value::Integer(i64::from(missed)))
            }
            DrawnSetting::ResourceOnlineTime { ms } => {
                ("cluster", "resource_online_time", Value::String(format!("{ms}ms")))
            }
            DrawnSetting::MountTime { ms } => ("cluster", "mount_time", Value::String(format!("{ms}ms"))),
            DrawnSetting::MountDial { dial } => {
                ("cluster", "mount_dial", Value::String(dial_name(dial).to_string()))
            }
            DrawnSetting::DumpsterSize { bytes } => {
                ("transport", "dumpster_size", Value::String(format!("{bytes}B")))
            }
            DrawnSetting::ClockDrift { host, ppm } => {
                pin_host_drift(base, &host, ppm);
                continue;
            }
        };
        let entry = base.entry(table).or_insert_with(|| Value::Table(Table::new()));
        if let Value::Table(table) = entry {
            table.insert(key.to_string(), value);
        }
    }
}

/// Writes a drawn drift into the `[[host]]` table of that name.
fn pin_host_drift(base: &mut Table, host: &str, ppm: i32) {
    let Some(Value::Array(hosts)) = base.get_mut("host") else { return };
    let named = hosts.iter_mut().find_map(|entry| match entry {
        Value::Table(table) if table.get("name").and_then(Value::as_str) == Some(host) => Some(table),
        _ => None,
    });
    if let Some(table) = named {
        table.insert("clock_drift_ppm".to_string(), Value::Integer(i64::from(ppm)));
    }
}

/// The dial as the scenario format writes it.
fn dial_name(dial: scenario::MountDial) -> &'static str {
    match dial {
        scenario::MountDial::Lossless => "lossless",
        scenario::MountDial::GoodAvailability => "good-availability",
        scenario::MountDial::BestAvailability => "best-availability",
    }
}

/// The scenario `base` (no nemesis, no faults) with `faults` as its fixed schedule.
fn candidate(base: &Table, faults: &[FaultSpec]) -> Table {
    let mut document = base.clone();
    if !faults.is_empty() {
        let tables = faults.iter().map(|fault| Value::Table(fault.to_toml())).collect();
        document.insert("fault".to_string(), Value::Array(tables));
    }
    document
}

/// Whether a candidate fault list still breaks the target (false once the budget is spent).
type Test<'a> = dyn FnMut(&[FaultSpec]) -> bool + 'a;

/// Zeller's ddmin over the fault list: try each of `n` chunks alone, then each complement, refining
/// `n` when neither reproduces, until no single fault can be removed (1-minimal). Once the budget is
/// spent every test says no, so the loop only refines to single faults and stops.
fn ddmin(faults: Vec<FaultSpec>, test: &mut Test<'_>) -> Vec<FaultSpec> {
    if faults.is_empty() || test(&[]) {
        return Vec::new();
    }
    let mut current = faults;
    let mut granularity = 2;
    while current.len() >= 2 {
        let chunks = split(&current, granularity);
        if let Some(chunk) = chunks.iter().find(|chunk| test(chunk)) {
            current = chunk.clone();
            granularity = 2;
            continue;
        }
        let complement = (0..chunks.len()).map(|skip| {
            chunks
                .iter()
                .enumerate()
                .filter(move |(index, _)| *index != skip)
                .flat_map(|(_, chunk)| chunk.clone())
        });
        let found = complement.map(Iterator::collect::<Vec<_>>).find(|rest| test(rest));
        if let Some(rest) = found {
            current = rest;
            granularity = (granularity - 1).max(2);
        } else if granularity >= current.len() {
            break;
        } else {
            granularity = (granularity * 2).min(current.len());
        }
    }
    current
}

/// `items` in `parts` contiguous chunks of nearly equal length, in order.
fn split(items: &[FaultSpec], parts: usize) -> Vec<Vec<FaultSpec>> {
    let parts = parts.clamp(1, items.len().max(1));
    (0..parts)
        .map(|part| items[part * items.len() / parts..(part + 1) * items.len() / parts].to_vec())
        .collect()
}

/// The shortest a fault is shortened to: the nemesis holds none for less, and below it a fault is
/// about timers, not outages.
const SHORTEST: Duration = Duration::from_secs(1);

/// Halves each fault's duration (in whole milliseconds, down to [`SHORTEST`]) while the target still
/// breaks.
fn shorten(mut faults: Vec<FaultSpec>, test: &mut Test<'_>) -> Vec<FaultSpec> {
    for index in 0..faults.len() {
        while let Some(duration) = faults[index].duration {
            let shorter = Duration::from_millis(u64::try_from(duration.as_millis() / 2).unwrap_or(u64::MAX));
            if shorter < SHORTEST {
                break;
            }
            let mut tried = faults.clone();
            tried[index].duration = Some(shorter);
            if !test(&tried) {
                break;
            }
            faults = tried;
        }
    }
    faults
}

/// Moves each fault to the whole second at or before it (and rounds its duration up to keep its end),
/// or failing that to the whole millisecond, so the file reads as a person would write it, when the
/// target still breaks.
fn round_times(mut faults: Vec<FaultSpec>, test: &mut Test<'_>) -> Vec<FaultSpec> {
    for index in 0..faults.len() {
        for unit in [Duration::from_secs(1), Duration::from_millis(1)] {
            let (at, duration) = rounded(&faults[index], unit);
            if (at, duration) == (faults[index].at, faults[index].duration) {
                break;
            }
            let mut tried = faults.clone();
            tried[index].at = at;
            tried[index].duration = duration;
            if test(&tried) {
                faults = tried;
                break;
            }
        }
    }
    faults
}

/// `spec`'s time rounded down to a multiple of `unit`, and its duration rounded up so the fault
/// still ends where it did (or up to one `unit` later).
fn rounded(spec: &FaultSpec, unit: Duration) -> (Duration, Option<Duration>) {
    let unit_nanos = unit.as_nanos().max(1);
    let down = |value: Duration| value.as_nanos() / unit_nanos * unit_nanos;
    let to_duration = |nanos: u128| Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
    let at = to_duration(down(spec.at));
    let duration = spec.duration.map(|duration| {
        let rest = (spec.at + duration - at).as_nanos();
        to_duration(rest.div_ceil(unit_nanos) * unit_nanos)
    });
    (at, duration)
}

/// The shrunk scenario's own name and description, so it is not mistaken for the original.
fn named(
    mut document: Table,
    request: &Request<'_>,
    faults: usize,
    realised: usize,
    target: ViolationKind,
) -> Table {
    let name = document.get("name").and_then(Value::as_str).unwrap_or("scenario").to_string();
    let text = |value: String| Value::String(value);
    document.insert("name".into(), text(format!("{name}-seed-{}-shrunk", request.seed)));
    document.insert(
        "description".into(),
        text(format!(
            "{name} seed {} shrunk: {faults} of its {realised} faults still give {target}.",
            request.seed
        )),
    );
    document
}

impl Shrunk {
    /// The file to write: a header saying where it came from and how to run it, then the scenario.
    /// `source` and `out` are the paths as the user gave them.
    pub fn file_text(&self, source: &str, seed: u64, out: &str) -> String {
        let mut document = self.document.clone();
        let mut head = String::new();
        head.push_str(&format!(
            "# Shrunk by drill {DRILL_VERSION} (`drill shrink {source} --seed {seed}`) from {source}, seed {seed}.\n"
        ));
        head.push_str(&format!(
            "# It reproduces {} with {} of the {} faults that took effect in that run: the run's schedule\n",
            self.target,
            self.faults.len(),
            self.realised
        ));
        head.push_str("# written out as fixed faults (nemesis removed, each pinned to the hosts it hit), then reduced\n");
        head.push_str(&format!(
            "# by delta debugging in {} runs. Comments of the original are not kept.\n",
            self.runs
        ));
        head.push_str("# The seed still drives the workload and every other random stream, so run it with the same seed:\n");
        head.push_str(&format!("#   drill run {out} --seed {seed}\n\n"));
        // Name, description and tier first, as the catalogue writes them; the rest as TOML orders it.
        for key in ["name", "description", "tier"] {
            if let Some(value) = document.remove(key) {
                head.push_str(&format!("{key} = {value}\n"));
            }
        }
        head.push_str(&document.to_string());
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Fault, FaultTrigger, RunFault, Target, WitnessFault};

    #[test]
    fn a_swarm_runs_drawn_settings_are_written_into_the_shrunk_file_and_load_as_drawn() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/nightly/ccr-nemesis.toml");
        let original = scenario::load(&path).expect("the nightly file loads");
        let mut base: Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        for seed in 1..=5 {
            pin_drawn_settings(&mut base, &original, seed);
            let mut written = base.clone();
            written.remove("nemesis");
            let reloaded = scenario::parse(&path, &written.to_string()).expect("the written file loads");
            let drawn = crate::world::with_drawn_settings(&original, seed).expect("the file draws settings");
            assert_eq!(reloaded.cluster.settings, drawn.cluster.settings, "seed {seed}");
            assert_eq!(reloaded.cluster.mount_time, drawn.cluster.mount_time, "seed {seed}");
            assert_eq!(reloaded.transport, drawn.transport, "seed {seed}");
        }
    }

    fn spec(seconds: u64) -> FaultSpec {
        FaultSpec {
            at: Duration::from_secs(seconds),
            fault: Fault::Witness(WitnessFault::Down),
            duration: None,
        }
    }

    fn seconds(faults: &[FaultSpec]) -> Vec<u64> {
        faults.iter().map(|fault| fault.at.as_secs()).collect()
    }

    #[test]
    fn delta_debugging_keeps_exactly_the_faults_that_break_it_together() {
        let faults: Vec<FaultSpec> = (0..10).map(spec).collect();
        // The shrinker runs each distinct candidate once; count those.
        let mut tried = std::collections::BTreeSet::new();
        let mut test = |faults: &[FaultSpec]| {
            let at = seconds(faults);
            let breaks = at.contains(&3) && at.contains(&8);
            tried.insert(at);
            breaks
        };
        assert_eq!(seconds(&ddmin(faults, &mut test)), [3, 8]);
        assert!(tried.len() < 40, "ddmin ran {} candidates for 10 faults", tried.len());
    }

    #[test]
    fn a_failure_that_needs_no_fault_shrinks_to_none_and_one_that_needs_all_keeps_all() {
        let faults: Vec<FaultSpec> = (0..5).map(spec).collect();
        assert!(ddmin(faults.clone(), &mut |_: &[FaultSpec]| true).is_empty());
        let all = |candidate: &[FaultSpec]| candidate.len() == 5;
        assert_eq!(ddmin(faults.clone(), &mut { all }).len(), 5);
    }

    #[test]
    fn a_spent_budget_stops_delta_debugging_with_what_it_has() {
        let faults: Vec<FaultSpec> = (0..6).map(spec).collect();
        assert_eq!(ddmin(faults, &mut |_: &[FaultSpec]| false).len(), 6);
    }

    #[test]
    fn durations_are_halved_while_the_failure_still_happens_and_never_below_a_second() {
        let mut long = spec(60);
        long.duration = Some(Duration::from_secs(60));
        let at_least_five = |faults: &[FaultSpec]| faults[0].duration >= Some(Duration::from_secs(5));
        assert_eq!(
            shorten(vec![long.clone()], &mut { at_least_five })[0].duration,
            Some(Duration::from_millis(7_500))
        );
        assert_eq!(
            shorten(vec![long], &mut |_: &[FaultSpec]| true)[0].duration,
            Some(Duration::from_millis(1_875))
        );
    }

    #[test]
    fn times_move_to_the_whole_second_before_and_keep_their_end_when_the_failure_still_happens() {
        let mut odd = spec(0);
        odd.at = Duration::from_millis(37_251);
        odd.duration = Some(Duration::from_millis(29_100));
        let rounded = round_times(vec![odd.clone()], &mut |_: &[FaultSpec]| true);
        assert_eq!(
            (rounded[0].at, rounded[0].duration),
            (Duration::from_secs(37), Some(Duration::from_secs(30)))
        );
        assert_eq!(round_times(vec![odd.clone()], &mut |_: &[FaultSpec]| false), [odd.clone()]);
        let mut precise = odd;
        precise.at = Duration::from_nanos(37_251_000_123);
        let only_milliseconds = |faults: &[FaultSpec]| faults[0].at.subsec_millis() == 251;
        let rounded = round_times(vec![precise], &mut { only_milliseconds });
        assert_eq!(
            rounded[0].at,
            Duration::from_millis(37_251),
            "the whole second did not do, the millisecond did"
        );
        assert_eq!(rounded[0].duration, Some(Duration::from_millis(29_101)));
    }

    #[test]
    fn chunks_cover_the_list_in_order_whatever_the_granularity() {
        let faults: Vec<FaultSpec> = (0..7).map(spec).collect();
        for parts in 1..=9 {
            let chunks = split(&faults, parts);
            assert_eq!(chunks.concat(), faults, "{parts} parts");
            assert!(chunks.iter().all(|chunk| !chunk.is_empty()), "{parts} parts");
        }
    }

    #[test]
    fn a_shrunk_file_says_where_it_came_from_and_how_to_replay_it() {
        let mut document: Table = "name = \"x-seed-4-shrunk\"\nduration = \"5m\"\n".parse().unwrap();
        document.insert("tier".into(), Value::String("hazard".into()));
        let freeze =
            Fault::Run(RunFault::Freeze { target: Target::Host("mbx1".into()), trigger: FaultTrigger::At });
        let shrunk = Shrunk {
            target: ViolationKind::SplitBrain,
            realised: 9,
            faults: vec![FaultSpec { at: Duration::from_secs(60), fault: freeze, duration: None }],
            document,
            runs: 14,
            exhausted: false,
        };
        let text = shrunk.file_text("suites/hazards/x.toml", 4, "out/x.toml");
        assert!(text.starts_with("# Shrunk by drill "), "{text}");
        assert!(text.contains("from suites/hazards/x.toml, seed 4."), "{text}");
        assert!(text.contains("reproduces split-brain with 1 of the 9 faults"), "{text}");
        assert!(text.contains("#   drill run out/x.toml --seed 4\n"), "{text}");
        let body: Vec<&str> =
            text.lines().filter(|line| !line.starts_with('#') && !line.is_empty()).collect();
        assert_eq!(body, ["name = \"x-seed-4-shrunk\"", "tier = \"hazard\"", "duration = \"5m\""]);
    }
}
