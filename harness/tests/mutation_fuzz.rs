//! Mutation fuzzing of the catalogue: bad input never crashes.
//!
//! Every catalogue file (`suites/fast`, `hazards`, `slow`, `nightly`) is mutated many times over with a
//! seeded generator: a number or duration replaced by zero, a negative, a huge or tiny value, the
//! documented maximum, another unit; a line deleted or repeated; a key added with an extreme value to
//! the table it belongs in (most catalogue files leave timers at their defaults, so adding them is how
//! their bounds get exercised). For every mutant, loading must not panic and must either refuse it at
//! a file, line and column, or accept a scenario whose estimated size is within the limit. A sample of
//! the accepted mutants is run for real, which the size estimate is what bounds.
//!
//! The first test is sized for CI in a debug build; the ignored one is the big sweep, for a release
//! build: `cargo nextest run -p drill-harness --release --run-ignored only mutant`.

use harness::scenario::{self, MAX_RUN_EVENTS, RunSize, Scenario, ScenarioError};
use harness::world::run_scenario;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// A small, seeded, dependency-free generator (SplitMix64), so a failure names a seed that replays it.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Durations a mutant may put anywhere a duration goes: zero, tiny, at and beyond every floor and
/// ceiling, negative, absurd, malformed.
const DURATIONS: &[&str] = &[
    "0",
    "0s",
    "1ns",
    "1us",
    "999us",
    "1ms",
    "9ms",
    "10ms",
    "100ms",
    "999ms",
    "1s",
    "59s",
    "61s",
    "1h",
    "2h",
    "1d",
    "7d",
    "10d",
    "11d",
    "12d",
    "29d",
    "30d",
    "31d",
    "400d",
    "100000d",
    "9999999999999d",
    "-1s",
    "-12d",
    "+2m",
    "1.5",
    "0.0000001ns",
    "1e3s",
    "",
];

/// Signed durations for clock offsets and clock steps.
const SIGNED: &[&str] =
    &["-1ns", "-30s", "+30s", "-9d", "-10d", "-11d", "-12d", "-30d", "+10d", "+11d", "+30d", "-31d", "0s"];

/// Numbers for counts, rates, probabilities and sizes written as integers.
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "3",
    "120",
    "121",
    "255",
    "256",
    "10000",
    "10001",
    "65535",
    "65536",
    "100000",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "0.0",
    "-0.0",
    "1e-30",
    "5e-20",
    "0.0009",
    "0.001",
    "0.5",
    "1.0",
    "1.5",
    "100000.0",
    "100000.1",
    "1e30",
    "1e308",
    "nan",
    "inf",
    "-inf",
];

/// Keys to add, by the table they go in, with the values they draw from.
const INSERTS: &[(&str, &str, &[&str])] = &[
    ("", "duration", DURATIONS),
    ("[cluster]", "heartbeat_interval", DURATIONS),
    ("[cluster]", "heartbeat_threshold", NUMBERS),
    ("[cluster]", "health_check_interval", DURATIONS),
    ("[cluster]", "witness_lease", DURATIONS),
    ("[cluster]", "takeover_margin", DURATIONS),
    ("[cluster]", "witness_arbitration_delay", DURATIONS),
    ("[cluster]", "arbitration_delay", DURATIONS),
    ("[cluster]", "defense_interval", DURATIONS),
    ("[cluster]", "data_path_check_interval", DURATIONS),
    ("[cluster]", "data_path_timeout", DURATIONS),
    ("[cluster]", "storage_request_timeout", DURATIONS),
    ("[cluster]", "log_roll_idle", DURATIONS),
    ("[cluster]", "replay_time_per_log", DURATIONS),
    ("[cluster]", "mount_time", DURATIONS),
    ("[cluster]", "resource_online_time", DURATIONS),
    ("[cluster]", "log_size", &["\"1B\"", "\"1GB\"", "\"2GB\"", "1", "0"]),
    ("[cluster]", "inspect_attempts", NUMBERS),
    ("[cluster]", "local_restart_attempts", NUMBERS),
    ("[storage]", "probe_delay", DURATIONS),
    ("[storage]", "mapping_delay", DURATIONS),
    ("[storage]", "read_service_time", DURATIONS),
    ("[storage]", "write_service_time", DURATIONS),
    ("[storage]", "controller_boot_time", DURATIONS),
    ("[storage]", "polling_interval", DURATIONS),
    ("[storage]", "noop_out_interval", DURATIONS),
    ("[storage]", "noop_out_timeout", DURATIONS),
    ("[storage]", "replacement_timeout", DURATIONS),
    ("[storage]", "command_timeout", DURATIONS),
    ("[storage]", "pdo_remove_period", DURATIONS),
    ("[storage]", "retry_count", NUMBERS),
    ("[storage]", "retry_interval", DURATIONS),
    ("[storage]", "no_path_retry", NUMBERS),
    ("[workload]", "rate_per_second", NUMBERS),
    ("[workload]", "message_size", &["\"1B\"", "\"1GB\"", "\"2GB\"", "1"]),
    ("[workload]", "start", DURATIONS),
    ("[workload]", "stop", DURATIONS),
    ("[transport]", "dumpster_time", DURATIONS),
    ("[transport]", "dumpster_size", &["\"1B\"", "\"1GB\"", "\"2GB\""]),
    ("[checks]", "quiesce", DURATIONS),
    ("[checks]", "rto", DURATIONS),
    ("[checks]", "liveness_bound", DURATIONS),
    ("[[host]]", "clock_offset", SIGNED),
    ("[[host]]", "clock_drift_ppm", NUMBERS),
    ("[[network]]", "latency", DURATIONS),
    ("[[network]]", "jitter", DURATIONS),
    ("[[network]]", "loss_probability", NUMBERS),
    ("[[network]]", "bandwidth", &["\"1bps\"", "\"1Tbps\"", "1", "0"]),
    ("[[network]]", "mtu_bytes", NUMBERS),
];

/// Whole tables to append: a nemesis and fixed faults at their extremes.
fn appended_table(generator: &mut Generator) -> String {
    match generator.below(3) {
        0 => format!(
            "\n[nemesis]\nkinds = [\"clock-step\", \"freeze\"]\nmean_interval = \"{}\"\nmax_fault_duration = \"{}\"\n",
            generator.pick(DURATIONS),
            generator.pick(DURATIONS)
        ),
        1 => format!(
            "\n[[fault]]\nat = \"{}\"\nkind = \"clock-step\"\ntarget = \"{}\"\nvalue = \"{}\"\n",
            generator.pick(&["1s", "30s", "60s", "2m"]),
            generator.pick(&["active", "passive", "mbx1", "mbx2"]),
            generator.pick(SIGNED)
        ),
        _ => format!(
            "\n[[fault]]\nat = \"{}\"\nkind = \"{}\"\ntarget = \"mbx1\"\nvalue = \"{}\"\nnetwork = \"public\"\nduration = \"{}\"\n",
            generator.pick(&["1s", "60s"]),
            generator.pick(&["latency-spike", "freeze", "power-off"]),
            generator.pick(DURATIONS),
            generator.pick(DURATIONS)
        ),
    }
}

/// The values on a `key = value` line (quoted strings, numbers, booleans), as byte ranges.
fn atoms(line: &str) -> Vec<std::ops::Range<usize>> {
    let Some(equals) = line.find('=') else { return Vec::new() };
    let bytes = line.as_bytes();
    let mut found = Vec::new();
    let mut index = equals + 1;
    while index < bytes.len() {
        let start = index;
        match bytes[index] {
            b'#' => break,
            b'"' => {
                index += 1;
                while index < bytes.len() && bytes[index] != b'"' {
                    index += 1;
                }
                index = (index + 1).min(bytes.len());
                found.push(start..index);
            }
            b'-' | b'+' | b'0'..=b'9' => {
                while index < bytes.len()
                    && (bytes[index].is_ascii_alphanumeric() || b"._+-".contains(&bytes[index]))
                {
                    index += 1;
                }
                found.push(start..index);
            }
            b't' | b'f' if line[index..].starts_with("true") || line[index..].starts_with("false") => {
                index += if line[index..].starts_with("true") { 4 } else { 5 };
                found.push(start..index);
            }
            _ => index += 1,
        }
    }
    found
}

fn looks_like_duration(atom: &str) -> bool {
    let inner = atom.trim_matches('"');
    atom.starts_with('"')
        && inner.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
        && inner.ends_with(|c: char| c.is_ascii_alphabetic())
}

/// A value in the same unit written in another: `"90s"` to `"90ms"` or `"90d"`.
fn swap_unit(atom: &str, generator: &mut Generator) -> String {
    let inner = atom.trim_matches('"');
    let digits = inner.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    format!("\"{digits}{}\"", generator.pick(&["ns", "us", "ms", "s", "m", "h", "d"]))
}

/// One mutation of `text`.
fn mutate_once(text: &str, generator: &mut Generator) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let values: Vec<usize> = (0..lines.len())
        .filter(|&index| {
            let line = lines[index].trim_start();
            !line.starts_with('#') && !line.starts_with('[') && line.contains('=')
        })
        .collect();
    match generator.below(10) {
        // Replace one value on one line, by what it looks like.
        0..=4 if !values.is_empty() => {
            let index = *generator.pick(&values);
            let found = atoms(&lines[index]);
            if found.is_empty() {
                return lines.join("\n");
            }
            let range = generator.pick(&found).clone();
            let atom = lines[index][range.clone()].to_string();
            // Names and enumerations are the parser's business; mostly mutate quantities.
            if atom.starts_with('"') && !looks_like_duration(&atom) && generator.below(4) != 0 {
                return lines.join("\n");
            }
            let replacement = if looks_like_duration(&atom) {
                match generator.below(3) {
                    0 => swap_unit(&atom, generator),
                    1 => format!("\"{}\"", generator.pick(SIGNED)),
                    _ => format!("\"{}\"", generator.pick(DURATIONS)),
                }
            } else if atom.starts_with('"') {
                generator.pick(&["\"\"", "\"mbx9\"", "\"active\"", "\"1s\"", "1"]).to_string()
            } else {
                generator.pick(NUMBERS).to_string()
            };
            lines[index].replace_range(range, &replacement);
        }
        // Delete or repeat a line.
        5 if !lines.is_empty() => {
            let index = generator.below(lines.len());
            lines.remove(index);
        }
        6 if !lines.is_empty() => {
            let index = generator.below(lines.len());
            let line = lines[index].clone();
            lines.insert(index, line);
        }
        // Append a nemesis or a fault at its extremes.
        7 => lines.push(appended_table(generator)),
        // Add a key with an extreme value to its table.
        _ => {
            let (table, key, choices) = *generator.pick(INSERTS);
            let value = *generator.pick(choices);
            let line = format!("{key} = {}", quote_for(key, value));
            let headers: Vec<usize> =
                (0..lines.len()).filter(|&index| lines[index].trim() == table).collect();
            if table.is_empty() {
                // A top-level key goes before the first table, replacing any earlier definition.
                lines.retain(|existing| !existing.starts_with(&format!("{key} =")));
                lines.insert(0, line);
            } else if headers.is_empty() {
                lines.push(format!("\n{table}\n{line}"));
            } else {
                let at = *generator.pick(&headers);
                lines.insert(at + 1, line);
            }
        }
    }
    lines.join("\n")
}

/// Durations, sizes and bandwidths are strings in a scenario file; a number for them tests the
/// "no unit" message, so both forms are produced.
fn quote_for(key: &str, value: &str) -> String {
    let is_quantity = DURATIONS.contains(&value) || SIGNED.contains(&value);
    if is_quantity && !value.starts_with('"') && !matches!(key, "retry_count" | "no_path_retry") {
        format!("\"{value}\"")
    } else {
        value.to_string()
    }
}

fn catalogue() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("suites");
    let mut files = Vec::new();
    for tier in ["fast", "hazards", "slow", "nightly"] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join(tier))
            .unwrap_or_else(|error| panic!("cannot list suites/{tier}: {error}"))
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|extension| extension == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text =
                std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            files.push((path, text));
        }
    }
    assert!(files.len() >= 20, "the catalogue lost files: {}", files.len());
    files
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|text| text.to_string()))
        .unwrap_or_default()
}

/// What a sweep saw.
#[derive(Default)]
struct Sweep {
    mutants: usize,
    loaded: usize,
    refused: usize,
    ran: usize,
    largest_estimate: u64,
    failures: Vec<String>,
    /// How many refusals each message opening had, for the report of a big sweep.
    refusals: std::collections::BTreeMap<String, usize>,
}

/// Mutates every catalogue file `per_file` times (mostly one mutation, up to three), loads every mutant,
/// and runs with seed 1 the first `runs` loaded mutants whose estimate is at most `run_budget` events.
fn sweep(seed: u64, per_file: usize, runs: usize, run_budget: u64) -> Sweep {
    let mut generator = Generator(seed);
    let mut result = Sweep::default();
    for (path, text) in catalogue() {
        for number in 0..per_file {
            let mut mutant = text.clone();
            let mutations = *generator.pick(&[1, 1, 1, 1, 1, 1, 2, 2, 2, 3]);
            for _ in 0..mutations {
                mutant = mutate_once(&mutant, &mut generator);
            }
            result.mutants += 1;
            let name = format!("{} mutant {number} (seed {seed})", path.display());
            let loaded = panic::catch_unwind(AssertUnwindSafe(|| scenario::parse(&path, &mutant)));
            match loaded {
                Err(payload) => result
                    .failures
                    .push(format!("{name}: loading panicked: {}\n{mutant}", panic_message(&*payload))),
                Ok(Err(error)) => {
                    result.refused += 1;
                    *result.refusals.entry(opening(&error)).or_default() += 1;
                    if !error.is_located() || error.to_string().is_empty() {
                        result.failures.push(format!("{name}: refused without a location: {error}"));
                    }
                }
                Ok(Ok(scenario)) => {
                    result.loaded += 1;
                    let estimate = RunSize::of(&scenario).events();
                    result.largest_estimate = result.largest_estimate.max(estimate);
                    if estimate > MAX_RUN_EVENTS {
                        result
                            .failures
                            .push(format!("{name}: loaded with an estimate of {estimate} events\n{mutant}"));
                    } else if result.ran < runs && estimate <= run_budget {
                        result.ran += 1;
                        if let Err(failure) = run_within_estimate(&scenario, estimate) {
                            result.failures.push(format!("{name}: {failure}\n{mutant}"));
                        }
                    }
                }
            }
        }
    }
    result
}

/// A refusal's message with its particulars (quoted names, numbers) blanked, to group refusals.
fn opening(error: &ScenarioError) -> String {
    let mut shape = String::new();
    let mut quoted = false;
    for c in error.message.chars() {
        match c {
            '`' => {
                quoted = !quoted;
                if quoted {
                    shape.push_str("`…`");
                }
            }
            _ if quoted => {}
            '0'..='9' if shape.ends_with('#') => {}
            '0'..='9' => shape.push('#'),
            _ => shape.push(c),
        }
        if shape.chars().count() >= 70 {
            break;
        }
    }
    shape
}

/// Runs one seed; the run must not panic, and what it records must be in proportion to the estimate
/// (the history holds fewer entries than the kernel pops events).
fn run_within_estimate(scenario: &Scenario, estimate: u64) -> Result<(), String> {
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| run_scenario(scenario, 1)))
        .map_err(|payload| format!("the run panicked: {}", panic_message(&*payload)))?;
    let recorded = outcome.history.len() as u64;
    if recorded > 2 * estimate + 10_000 {
        return Err(format!("the run recorded {recorded} events against an estimate of {estimate}"));
    }
    Ok(())
}

fn summary(sweep: &Sweep, groups: usize) -> String {
    let mut text = format!(
        "{} mutants: {} loaded ({} run, largest estimate {}), {} refused\n",
        sweep.mutants, sweep.loaded, sweep.ran, sweep.largest_estimate, sweep.refused
    );
    let mut refusals: Vec<(&String, &usize)> = sweep.refusals.iter().collect();
    refusals.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (opening, count) in refusals.iter().take(groups) {
        text.push_str(&format!("{count:>6}  {opening}\n"));
    }
    text
}

#[test]
fn every_catalogue_scenario_loads_at_a_tenth_of_the_run_size_limit_or_less() {
    let mut report = Vec::new();
    for (path, text) in catalogue() {
        let scenario = scenario::parse(&path, &text).unwrap_or_else(|error| panic!("{error}"));
        let estimate = RunSize::of(&scenario).events();
        report.push(format!("{estimate:>10}  {}", path.display()));
        assert!(estimate <= MAX_RUN_EVENTS / 10, "{} is estimated at {estimate} events", path.display());
    }
    println!("{}", report.join("\n"));
}

#[test]
fn no_mutant_of_the_catalogue_panics_and_every_one_that_loads_fits_the_limit_and_runs() {
    let sweep = sweep(7, 200, 8, 100_000);
    println!("{}", summary(&sweep, 40));
    assert!(sweep.failures.is_empty(), "{}\n{}", summary(&sweep, 40), sweep.failures.join("\n\n"));
    assert!(
        sweep.loaded * 10 >= sweep.mutants,
        "too few mutants load to test anything:\n{}",
        summary(&sweep, 40)
    );
    assert!(sweep.refused * 10 >= sweep.mutants, "too few mutants are refused:\n{}", summary(&sweep, 40));
    assert_eq!(sweep.ran, 8, "too few small mutants loaded to run:\n{}", summary(&sweep, 40));
}

#[test]
#[ignore = "the big sweep: six thousand mutants, every small one run; use a release build"]
fn six_thousand_mutants_of_the_catalogue_never_panic_and_the_loaded_ones_run_within_their_estimate() {
    let sweep = sweep(2026, 240, usize::MAX, 2_000_000);
    println!("{}", summary(&sweep, usize::MAX));
    assert!(sweep.failures.is_empty(), "{}\n{}", summary(&sweep, 40), sweep.failures.join("\n\n"));
}
