//! What a campaign sets out to run: every scenario with every seed of a range, or one shard's share.
//!
//! The pairs are numbered seed-major (`position = seed offset × scenarios + scenario index`), so a
//! campaign cut short by a time budget or a signal has run every scenario with its first seeds rather
//! than its first scenario with every seed; shard `K/N` takes the positions `K, K+N, K+2N, …`. Any
//! number of seeds is a range, never a list: `--seeds 18446744073709551615` plans without
//! allocating.

use std::fmt;

/// Seeds `first..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    pub first: u64,
    pub last: u64,
}

impl SeedRange {
    /// `N` (seeds 1 to N), `A..B` (A to B-1) or `A..=B` (A to B).
    pub fn parse(text: &str) -> Result<SeedRange, String> {
        let number = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{part}` is not a seed (a whole number 0 to 2^64-1)"))
        };
        let range = if let Some((first, last)) = text.split_once("..=") {
            SeedRange { first: number(first)?, last: number(last)? }
        } else if let Some((first, end)) = text.split_once("..") {
            let (first, end) = (number(first)?, number(end)?);
            if end <= first {
                return Err(format!("`{text}` holds no seed: the end of `A..B` is excluded"));
            }
            SeedRange { first, last: end - 1 }
        } else {
            let count = number(text)?;
            if count == 0 {
                return Err("a campaign needs at least one seed".to_string());
            }
            SeedRange { first: 1, last: count }
        };
        if range.last < range.first {
            return Err(format!("`{text}` holds no seed: it ends before it starts"));
        }
        Ok(range)
    }

    /// How many seeds (up to 2^64, hence the wide type; never zero).
    pub fn count(self) -> u128 {
        u128::from(self.last - self.first) + 1
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}..={}", self.first, self.last)
        }
    }
}

/// Shard `index` of `count` (0-based, as Kubernetes Indexed Jobs number their pods).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

/// Where `--shard auto/N` looks for its index, in order: drill's own variable (set it from a CI
/// matrix), Kubernetes Indexed Jobs, Slurm job arrays.
pub const SHARD_INDEX_VARIABLES: [&str; 3] =
    ["DRILL_SHARD_INDEX", "JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"];

impl Shard {
    /// `K/N` with `0 <= K < N`, or `auto/N` with K from the first of [`SHARD_INDEX_VARIABLES`] that
    /// is set (`lookup` reads the environment; a Slurm task id counts from `SLURM_ARRAY_TASK_MIN`).
    pub fn parse(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not a shard: write K/N, e.g. 0/4, or auto/N"))?;
        let count: u64 = count.trim().parse().map_err(|_| format!("`{count}` is not a shard count"))?;
        if count == 0 {
            return Err("a campaign has at least one shard: N must be 1 or more".to_string());
        }
        let index = if index.trim() == "auto" { auto_index(lookup)? } else { parse_index(index, "")? };
        if index >= count {
            return Err(format!(
                "shard {index} of {count} does not exist: shards are numbered 0 to {}",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }
}

fn auto_index(lookup: &dyn Fn(&str) -> Option<String>) -> Result<u64, String> {
    for variable in SHARD_INDEX_VARIABLES {
        let Some(value) = lookup(variable) else { continue };
        let index = parse_index(&value, variable)?;
        if variable == "SLURM_ARRAY_TASK_ID" {
            let minimum = match lookup("SLURM_ARRAY_TASK_MIN") {
                Some(minimum) => parse_index(&minimum, "SLURM_ARRAY_TASK_MIN")?,
                None => 0,
            };
            return index.checked_sub(minimum).ok_or_else(|| {
                format!("SLURM_ARRAY_TASK_ID {index} is below SLURM_ARRAY_TASK_MIN {minimum}")
            });
        }
        return Ok(index);
    }
    Err(format!("--shard auto/N reads its index from {}, and none is set", SHARD_INDEX_VARIABLES.join(", ")))
}

fn parse_index(text: &str, variable: &str) -> Result<u64, String> {
    let source = if variable.is_empty() { String::new() } else { format!(" (from {variable})") };
    text.trim().parse().map_err(|_| format!("`{text}`{source} is not a shard index"))
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The (scenario, seed) pairs of a campaign or of one of its shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub scenarios: usize,
    pub seeds: SeedRange,
    pub shard: Shard,
}

impl Plan {
    pub fn new(scenarios: usize, seeds: SeedRange, shard: Option<Shard>) -> Plan {
        Plan { scenarios, seeds, shard: shard.unwrap_or(Shard { index: 0, count: 1 }) }
    }

    /// Every pair of the whole campaign, whatever the shard.
    pub fn total(&self) -> u128 {
        self.seeds.count() * self.scenarios as u128
    }

    /// The pairs of this shard.
    pub fn runs(&self) -> u128 {
        let (index, count) = (u128::from(self.shard.index), u128::from(self.shard.count));
        if self.total() <= index { 0 } else { (self.total() - index).div_ceil(count) }
    }

    /// The `n`th pair of this shard (0-based), as (scenario index, seed); `None` past the end.
    pub fn pair(&self, n: u128) -> Option<(usize, u64)> {
        if n >= self.runs() {
            return None;
        }
        let position = u128::from(self.shard.index) + n * u128::from(self.shard.count);
        let scenarios = self.scenarios as u128;
        let scenario = usize::try_from(position % scenarios).ok()?;
        let seed = self.seeds.first.checked_add(u64::try_from(position / scenarios).ok()?)?;
        Some((scenario, seed))
    }

    /// Whether `(scenario, seed)` belongs to this shard.
    pub fn holds(&self, scenario: usize, seed: u64) -> bool {
        if scenario >= self.scenarios || seed < self.seeds.first || seed > self.seeds.last {
            return false;
        }
        let position = u128::from(seed - self.seeds.first) * self.scenarios as u128 + scenario as u128;
        position % u128::from(self.shard.count) == u128::from(self.shard.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_environment(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn seeds_are_a_count_a_half_open_range_or_an_inclusive_one() {
        assert_eq!(SeedRange::parse("20"), Ok(SeedRange { first: 1, last: 20 }));
        assert_eq!(SeedRange::parse("100..200"), Ok(SeedRange { first: 100, last: 199 }));
        assert_eq!(SeedRange::parse("7..=7"), Ok(SeedRange { first: 7, last: 7 }));
        assert_eq!(SeedRange::parse("18446744073709551615").map(SeedRange::count), Ok(u128::from(u64::MAX)));
        assert_eq!(SeedRange::parse("0..=18446744073709551615").map(SeedRange::count), Ok(1 << 64));
        for bad in ["0", "5..5", "9..=3", "x", "-1", "1..", "18446744073709551616"] {
            assert!(SeedRange::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn a_shard_index_comes_from_the_argument_or_from_the_batch_engines_variable() {
        assert_eq!(Shard::parse("2/3", &no_environment), Ok(Shard { index: 2, count: 3 }));
        assert!(Shard::parse("3/3", &no_environment).unwrap_err().contains("numbered 0 to 2"));
        assert!(Shard::parse("0/0", &no_environment).is_err());
        assert!(Shard::parse("auto/4", &no_environment).unwrap_err().contains("JOB_COMPLETION_INDEX"));
        let kubernetes = |name: &str| (name == "JOB_COMPLETION_INDEX").then(|| "3".to_string());
        assert_eq!(Shard::parse("auto/4", &kubernetes), Ok(Shard { index: 3, count: 4 }));
        let slurm = |name: &str| match name {
            "SLURM_ARRAY_TASK_ID" => Some("5".to_string()),
            "SLURM_ARRAY_TASK_MIN" => Some("4".to_string()),
            _ => None,
        };
        assert_eq!(Shard::parse("auto/2", &slurm), Ok(Shard { index: 1, count: 2 }));
    }

    #[test]
    fn shards_are_disjoint_and_together_cover_every_pair_once() {
        let seeds = SeedRange { first: 3, last: 9 };
        let whole: Vec<(usize, u64)> = (0..).map_while(|n| Plan::new(4, seeds, None).pair(n)).collect();
        assert_eq!(whole.len(), 28);
        let mut union: Vec<(usize, u64)> = Vec::new();
        for index in 0..3 {
            let plan = Plan::new(4, seeds, Some(Shard { index, count: 3 }));
            let pairs: Vec<(usize, u64)> = (0..).map_while(|n| plan.pair(n)).collect();
            assert_eq!(pairs.len() as u128, plan.runs());
            assert!(pairs.iter().all(|&(scenario, seed)| plan.holds(scenario, seed)));
            union.extend(pairs);
        }
        union.sort_unstable();
        let mut expected = whole.clone();
        expected.sort_unstable();
        assert_eq!(union, expected);
    }

    #[test]
    fn pairs_go_seed_by_seed_so_a_campaign_cut_short_ran_every_scenario() {
        let plan = Plan::new(3, SeedRange { first: 1, last: u64::MAX }, None);
        let first: Vec<(usize, u64)> = (0..4).filter_map(|n| plan.pair(n)).collect();
        assert_eq!(first, vec![(0, 1), (1, 1), (2, 1), (0, 2)]);
        assert_eq!(plan.pair(plan.runs() - 1), Some((2, u64::MAX)));
        assert_eq!(plan.pair(plan.runs()), None);
    }
}
