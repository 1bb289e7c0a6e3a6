//! Virtual time: nanoseconds since the start of a run.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// A point in true (kernel) virtual time, in nanoseconds since the run began.
///
/// This is the only clock checkers use. Nodes see their own clock, derived from this one with an
/// offset and a drift, so that clock-skew faults change what a node believes but never what happened.
#[derive(
    Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct SimTime(u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn from_nanos(nanos: u64) -> Self {
        SimTime(nanos)
    }

    pub const fn from_millis(millis: u64) -> Self {
        SimTime(millis * 1_000_000)
    }

    pub const fn from_secs(secs: u64) -> Self {
        SimTime(secs * 1_000_000_000)
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// Time elapsed since `earlier`, or zero if `earlier` is later (never panics on reordering).
    pub fn saturating_since(self, earlier: SimTime) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

fn duration_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl Add<Duration> for SimTime {
    type Output = SimTime;
    fn add(self, rhs: Duration) -> SimTime {
        SimTime(self.0.saturating_add(duration_nanos(rhs)))
    }
}

impl AddAssign<Duration> for SimTime {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Duration> for SimTime {
    type Output = SimTime;
    fn sub(self, rhs: Duration) -> SimTime {
        SimTime(self.0.saturating_sub(duration_nanos(rhs)))
    }
}

impl Sub<SimTime> for SimTime {
    type Output = Duration;
    fn sub(self, rhs: SimTime) -> Duration {
        self.saturating_since(rhs)
    }
}

impl fmt::Debug for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SimTime {
    /// `T+12.345678s`: seconds with microsecond precision, the format used in traces and reports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.0 / 1_000;
        write!(f, "T+{}.{:06}s", micros / 1_000_000, micros % 1_000_000)
    }
}

/// Parses a human duration such as `90s`, `1.5ms`, `7d`, `2h30m` or `0`.
///
/// Units: `ns`, `us`, `ms`, `s`, `m`, `h`, `d`. Components may be chained (`1m30s`). Returns a message
/// suitable for "expected a duration: {message}" on failure.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".to_string());
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.starts_with('-') {
        return Err(format!("`{text}` is negative; durations must be zero or positive"));
    }
    let mut total_nanos: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if number_len == 0 {
            return Err(format!("`{text}` is not a duration like `90s`, `1.5ms` or `2h30m`"));
        }
        let (number, after) = rest.split_at(number_len);
        let unit_len = after.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(after.len());
        let (unit, after_unit) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" | "min" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            "d" => 86_400 * 1_000_000_000,
            "" => return Err(format!("`{text}` has no unit; write e.g. `{number}s` or `{number}ms`")),
            other => {
                return Err(format!(
                    "unknown duration unit `{other}` in `{text}` (use ns, us, ms, s, m, h, d)"
                ));
            }
        };
        let value: f64 = number.parse().map_err(|_| format!("`{number}` is not a number in `{text}`"))?;
        let nanos = value * unit_nanos as f64;
        if !nanos.is_finite() || nanos > u64::MAX as f64 {
            return Err(format!("`{text}` is too long to represent"));
        }
        total_nanos += nanos.round() as u128;
        rest = after_unit;
    }
    let nanos = u64::try_from(total_nanos).map_err(|_| format!("`{text}` is too long to represent"))?;
    Ok(Duration::from_nanos(nanos))
}

/// Formats a duration in the same human form `parse_duration` reads, choosing the largest exact unit.
pub fn format_duration(duration: Duration) -> String {
    let nanos = duration_nanos(duration);
    if nanos == 0 {
        return "0s".to_string();
    }
    for (unit, size) in [("d", 86_400_000_000_000u64), ("h", 3_600_000_000_000), ("m", 60_000_000_000)] {
        if nanos.is_multiple_of(size) {
            return format!("{}{unit}", nanos / size);
        }
    }
    if nanos.is_multiple_of(1_000_000) {
        let millis = nanos / 1_000_000;
        if millis.is_multiple_of(1_000) { format!("{}s", millis / 1_000) } else { format!("{millis}ms") }
    } else if nanos.is_multiple_of(1_000) {
        format!("{}us", nanos / 1_000)
    } else {
        format!("{nanos}ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_every_unit_and_chain() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5ms").unwrap(), Duration::from_micros(1_500));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert_eq!(parse_duration("2h30m").unwrap(), Duration::from_secs(9_000));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn negative_unitless_and_unknown_durations_are_rejected_with_a_reason() {
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
        assert!(parse_duration("5").unwrap_err().contains("no unit"));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("5y").unwrap_err().contains("unknown duration unit"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999d").unwrap_err().contains("too long"));
    }

    #[test]
    fn formatted_durations_parse_back_to_the_same_value() {
        for text in ["0s", "90s", "1500ms", "7d", "3h", "250us", "17ns", "2m"] {
            let parsed = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(parsed)).unwrap(), parsed, "{text}");
        }
    }

    #[test]
    fn sim_time_displays_seconds_with_microseconds() {
        assert_eq!(SimTime::from_millis(12_345).to_string(), "T+12.345000s");
        assert_eq!((SimTime::from_secs(1) + Duration::from_micros(7)).to_string(), "T+1.000007s");
    }

    #[test]
    fn sim_time_arithmetic_saturates_instead_of_panicking() {
        assert_eq!(SimTime::ZERO - Duration::from_secs(1), SimTime::ZERO);
        assert_eq!(SimTime::from_secs(1) - SimTime::from_secs(2), Duration::ZERO);
        assert_eq!(SimTime::MAX + Duration::from_secs(1), SimTime::MAX);
    }
}
