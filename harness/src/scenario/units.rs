//! Human quantities in scenario files: durations, signed durations, sizes and bandwidths.
//!
//! Each has a plain parsing function (unit tested here) and a serde wrapper for the file model. The
//! wrappers report problems through `serde::de::Error::custom`, which the TOML deserializer locates at
//! the offending value, so a bad quantity never needs a second pass to be placed in the file.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;
use std::time::Duration;

/// Splits `18MB` or `1.5 GiB` into the number and the unit, rejecting anything without digits.
fn split_number(text: &str) -> Option<(f64, &str)> {
    let number_len = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(number_len);
    let value: f64 = number.parse().ok()?;
    Some((value, unit.trim()))
}

/// Converts a non-negative finite quantity to an integer, refusing values a `u64` cannot hold.
fn whole(value: f64) -> Option<u64> {
    let rounded = value.round();
    // `u64::MAX as f64` rounds up to 2^64, so the comparison must be strict.
    (rounded.is_finite() && rounded >= 0.0 && rounded < u64::MAX as f64).then_some(rounded as u64)
}

/// Parses a size such as `18MB`, `20KB`, `512B` or `1GiB` into bytes.
///
/// The multiples are binary (1 KB = 1,024 bytes) because that is how Exchange counts: its "1 MB"
/// transaction log is 1,048,576 bytes and the 18 MB dumpster limit is 18 x 2^20. The `KiB` spellings
/// mean the same and are accepted for readers who prefer them.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let shape = || format!("`{text}` is not a size like `18MB`, `20KB`, `512B` or `1GiB`");
    let (value, unit) = split_number(trimmed).ok_or_else(shape)?;
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        "" => return Err(format!("`{text}` has no unit; write e.g. `{trimmed}B` or `{trimmed}KB`")),
        _ => {
            return Err(format!(
                "unknown size unit `{unit}` in `{text}` (use B, KB, MB, GB, TB; 1 KB = 1024 B)"
            ));
        }
    };
    whole(value * multiplier as f64).ok_or_else(|| format!("`{text}` is too large to represent"))
}

/// Parses a bandwidth such as `1Gbps`, `45Mbps` or `100Kbps` into bits per second.
///
/// Network rates are decimal (1 Mbps = 1,000,000 bit/s), unlike sizes, because that is how links are
/// sold and configured.
pub fn parse_bandwidth(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let shape = || format!("`{text}` is not a bandwidth like `1Gbps`, `45Mbps` or `100Kbps`");
    let (value, unit) = split_number(trimmed).ok_or_else(shape)?;
    if unit.ends_with("Bps") {
        return Err(format!(
            "`{text}` is in bytes per second; bandwidths are in bits per second, so write e.g. `8Gbps` for 1 GB/s"
        ));
    }
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "bps" => 1,
        "kbps" => 1_000,
        "mbps" => 1_000_000,
        "gbps" => 1_000_000_000,
        "tbps" => 1_000_000_000_000,
        "" => return Err(format!("`{text}` has no unit; write e.g. `{trimmed}Mbps`")),
        _ => {
            return Err(format!(
                "unknown bandwidth unit `{unit}` in `{text}` (use bps, Kbps, Mbps, Gbps, Tbps)"
            ));
        }
    };
    whole(value * multiplier as f64).ok_or_else(|| format!("`{text}` is too large to represent"))
}

/// Parses a signed duration such as `-30s`, `+2m` or `0s` into nanoseconds. Only clock offsets and
/// clock steps are signed; every other duration in a scenario is a length of time and cannot be.
pub fn parse_signed_duration(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    let (negative, magnitude) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    if magnitude.starts_with(['+', '-']) {
        return Err(format!("`{text}` has more than one sign"));
    }
    let duration = kernel::parse_duration(magnitude)?;
    let nanos =
        i64::try_from(duration.as_nanos()).map_err(|_| format!("`{text}` is too long to represent"))?;
    Ok(if negative { -nanos } else { nanos })
}

/// A duration written as a string with a unit (`90s`, `1.5ms`, `2h30m`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DurationText(pub Duration);

/// A signed duration written as a string with an optional sign (`-30s`, `+2m`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SignedDurationText(pub i64);

/// A size in bytes, written as a string with a unit (`18MB`) or as a plain integer of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SizeText(pub u64);

/// A bandwidth in bits per second, written as a string with a unit (`1Gbps`) or as a plain integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BandwidthText(pub u64);

/// Which quantity a visitor reads, so one visitor serves all four wrappers.
#[derive(Clone, Copy)]
enum Quantity {
    Duration,
    SignedDuration,
    Size,
    Bandwidth,
}

/// The parsed value, before it is wrapped in the type the field asked for.
enum Parsed {
    Duration(Duration),
    Signed(i64),
    Count(u64),
}

struct QuantityVisitor(Quantity);

impl<'de> Visitor<'de> for QuantityVisitor {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Quantity::Duration => "a duration string such as \"90s\"",
            Quantity::SignedDuration => "a signed duration string such as \"-30s\" or \"+2m\"",
            Quantity::Size => "a size such as \"18MB\" or an integer number of bytes",
            Quantity::Bandwidth => "a bandwidth such as \"1Gbps\" or an integer number of bits per second",
        })
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Parsed, E> {
        let parsed = match self.0 {
            Quantity::Duration => kernel::parse_duration(text).map(Parsed::Duration),
            Quantity::SignedDuration => parse_signed_duration(text).map(Parsed::Signed),
            Quantity::Size => parse_size(text).map(Parsed::Count),
            Quantity::Bandwidth => parse_bandwidth(text).map(Parsed::Count),
        };
        parsed.map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Parsed, E> {
        match self.0 {
            // A bare number is ambiguous for time (seconds? milliseconds?), so it is refused with the fix.
            Quantity::Duration | Quantity::SignedDuration => {
                Err(E::custom(format!("`{value}` has no unit; write it as a string such as \"{value}s\"")))
            }
            Quantity::Size | Quantity::Bandwidth => u64::try_from(value)
                .map(Parsed::Count)
                .map_err(|_| E::custom(format!("`{value}` is negative; a size or bandwidth cannot be"))),
        }
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Parsed, E> {
        match i64::try_from(value) {
            Ok(value) => self.visit_i64(value),
            Err(_) => Err(E::custom(format!("`{value}` is too large"))),
        }
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Parsed, E> {
        Err(E::custom(format!("`{value}` is a bare number; write it as a string with a unit")))
    }
}

fn deserialize_quantity<'de, D: Deserializer<'de>>(
    deserializer: D,
    quantity: Quantity,
) -> Result<Parsed, D::Error> {
    deserializer.deserialize_any(QuantityVisitor(quantity))
}

/// The visitor only produces the variant its quantity asks for; anything else is an internal mistake
/// reported as an ordinary error rather than a panic.
fn mismatch<E: de::Error>() -> E {
    E::custom("internal error: quantity parsed as the wrong kind")
}

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserialize_quantity(deserializer, Quantity::Duration)? {
            Parsed::Duration(duration) => Ok(DurationText(duration)),
            _ => Err(mismatch()),
        }
    }
}

impl<'de> Deserialize<'de> for SignedDurationText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserialize_quantity(deserializer, Quantity::SignedDuration)? {
            Parsed::Signed(nanos) => Ok(SignedDurationText(nanos)),
            _ => Err(mismatch()),
        }
    }
}

impl<'de> Deserialize<'de> for SizeText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserialize_quantity(deserializer, Quantity::Size)? {
            Parsed::Count(bytes) => Ok(SizeText(bytes)),
            _ => Err(mismatch()),
        }
    }
}

impl<'de> Deserialize<'de> for BandwidthText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserialize_quantity(deserializer, Quantity::Bandwidth)? {
            Parsed::Count(bits) => Ok(BandwidthText(bits)),
            _ => Err(mismatch()),
        }
    }
}

/// A range of a quantity in a scenario file: one value (`"45s"`, a fixed value), a pair
/// (`["10s", "60s"]`) or a table (`{ min = "10s", max = "60s" }`). Each end parses as `T` does, so a
/// bad end is located like any other value; `min <= max` is checked by validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RangeText<T> {
    pub min: T,
    pub max: T,
}

struct RangeVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de> + Copy> Visitor<'de> for RangeVisitor<T> {
    type Value = RangeText<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("one value, a pair [min, max], or a table { min = ..., max = ... }")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        let value = T::deserialize(de::value::StrDeserializer::<E>::new(text))?;
        Ok(RangeText { min: value, max: value })
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Self::Value, E> {
        let value = T::deserialize(de::value::I64Deserializer::<E>::new(number))?;
        Ok(RangeText { min: value, max: value })
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        let value = T::deserialize(de::value::U64Deserializer::<E>::new(number))?;
        Ok(RangeText { min: value, max: value })
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Self::Value, E> {
        let value = T::deserialize(de::value::F64Deserializer::<E>::new(number))?;
        Ok(RangeText { min: value, max: value })
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let pair = "a range is a pair [min, max]";
        let min: T = seq.next_element()?.ok_or_else(|| de::Error::custom(pair))?;
        let max: T = seq.next_element()?.ok_or_else(|| de::Error::custom(pair))?;
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("a range is a pair [min, max]; this one has more than two values"));
        }
        Ok(RangeText { min, max })
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut min, mut max) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "min" if min.is_none() => min = Some(map.next_value::<T>()?),
                "max" if max.is_none() => max = Some(map.next_value::<T>()?),
                "min" | "max" => return Err(de::Error::custom(format!("`{key}` is given twice"))),
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown key `{other}` in a range; a range table has `min` and `max`"
                    )));
                }
            }
        }
        match (min, max) {
            (Some(min), Some(max)) => Ok(RangeText { min, max }),
            _ => Err(de::Error::custom("a range table needs both `min` and `max`")),
        }
    }
}

impl<'de, T: Deserialize<'de> + Copy> Deserialize<'de> for RangeText<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RangeVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_binary_multiples_as_exchange_counts_them() {
        assert_eq!(parse_size("1MB"), Ok(1_048_576));
        assert_eq!(parse_size("18MB"), Ok(18 * 1_048_576));
        assert_eq!(parse_size("20KB"), Ok(20_480));
        assert_eq!(parse_size("512B"), Ok(512));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert_eq!(parse_size("1.5 MB"), Ok(1_572_864));
        assert_eq!(parse_size("2tb"), Ok(2 << 40));
    }

    #[test]
    fn sizes_without_a_unit_or_with_a_strange_one_are_rejected_with_a_reason() {
        assert!(parse_size("1024").is_err_and(|e| e.contains("no unit")));
        assert!(parse_size("5 parsecs").is_err_and(|e| e.contains("unknown size unit")));
        assert!(parse_size("MB").is_err_and(|e| e.contains("not a size")));
        assert!(parse_size("-5MB").is_err_and(|e| e.contains("not a size")));
        assert!(parse_size("1.2.3MB").is_err());
        assert!(parse_size("99999999999TB").is_err_and(|e| e.contains("too large")));
        assert!(parse_size("").is_err());
    }

    #[test]
    fn bandwidths_are_decimal_bits_per_second() {
        assert_eq!(parse_bandwidth("1Gbps"), Ok(1_000_000_000));
        assert_eq!(parse_bandwidth("45Mbps"), Ok(45_000_000));
        assert_eq!(parse_bandwidth("100Kbps"), Ok(100_000));
        assert_eq!(parse_bandwidth("1.544 Mbps"), Ok(1_544_000));
        assert_eq!(parse_bandwidth("9600bps"), Ok(9_600));
    }

    #[test]
    fn bandwidths_in_bytes_or_without_a_unit_are_rejected_with_a_hint() {
        assert!(parse_bandwidth("1GBps").is_err_and(|e| e.contains("bits per second")));
        assert!(parse_bandwidth("100").is_err_and(|e| e.contains("no unit")));
        assert!(parse_bandwidth("1Gbit").is_err_and(|e| e.contains("unknown bandwidth unit")));
    }

    #[test]
    fn signed_durations_take_an_optional_sign() {
        assert_eq!(parse_signed_duration("-30s"), Ok(-30_000_000_000));
        assert_eq!(parse_signed_duration("+2m"), Ok(120_000_000_000));
        assert_eq!(parse_signed_duration("0s"), Ok(0));
        assert_eq!(parse_signed_duration("1h"), Ok(3_600_000_000_000));
        assert!(parse_signed_duration("--1s").is_err());
        assert!(parse_signed_duration("-5").is_err_and(|e| e.contains("no unit")));
        assert!(parse_signed_duration("-").is_err());
    }
}
