//! The JSON renderer: the stable, versioned machine form of every record.
//!
//! Field order follows the struct definitions, so the same record always gives the same bytes. The
//! schema version is a field of the record itself (`schema_version`).

use crate::record::{CampaignRecord, RunRecord};
use serde::Serialize;

/// A record that renders as JSON. Sealed: only the report records implement it, and for them
/// serialisation cannot fail (every map key is a string and every value a string, number, bool,
/// option, sequence or struct of those).
pub trait Record: Serialize + sealed::Sealed {}

impl Record for RunRecord {}
impl Record for CampaignRecord {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::record::RunRecord {}
    impl Sealed for crate::record::CampaignRecord {}
}

/// Indented JSON followed by a newline, for report files that people open.
pub fn pretty(record: &impl Record) -> String {
    let mut text = serde_json::to_string_pretty(record).unwrap_or_else(|error| unreachable(&error));
    text.push('\n');
    text
}

/// The record on one line without a trailing newline, for `--json` output and JSON Lines.
pub fn line(record: &impl Record) -> String {
    serde_json::to_string(record).unwrap_or_else(|error| unreachable(&error))
}

#[cold]
fn unreachable(error: &serde_json::Error) -> ! {
    panic!("report records always serialise, but this one did not: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ViolationRecord;
    use crate::record::tests::{campaign_of, run};

    #[test]
    fn a_run_record_on_one_line_is_one_json_object_with_every_documented_field() {
        let mut record = run("suites/fast/ccr-pull-cord.toml", 1);
        record.set_violations(&[ViolationRecord {
            check: "rto".into(),
            subject: "SG1".into(),
            time_ms: 5,
            detail: "slow".into(),
        }]);
        let text = line(&record);
        assert!(!text.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        for field in [
            "schema_version",
            "scenario",
            "scenario_path",
            "seed",
            "verdict",
            "expected",
            "as_expected",
            "exit_code",
            "scenario_sha256",
            "history_sha256",
            "violation_count",
            "findings",
            "metrics",
            "notes",
            "replay",
        ] {
            assert!(value.get(field).is_some(), "missing {field} in {text}");
        }
        assert_eq!(value["findings"][0]["first_ms"], 5);
        assert_eq!(value["findings"][0]["check"], "rto");
        assert_eq!(value["findings"][0]["subject"], "SG1");
        for field in [
            "acked",
            "lost_acked",
            "lost_window_ms",
            "duplicates",
            "rto_ms",
            "failovers",
            "simulated_ms",
            "events",
        ] {
            assert!(value["metrics"].get(field).is_some(), "missing metrics.{field} in {text}");
        }
    }

    #[test]
    fn a_run_record_round_trips_through_its_json_form() {
        let mut record = run("a.toml", 9);
        record.metrics.lost_window_ms = Some((1_000, 2_000));
        record.expected = Some("split-brain".into());
        let back: RunRecord = serde_json::from_str(&pretty(&record)).unwrap();
        assert_eq!(back, record);
    }

    #[test]
    fn the_same_campaign_always_renders_to_the_same_bytes() {
        let build = || campaign_of(vec![run("a.toml", 2), run("a.toml", 1)]);
        assert_eq!(pretty(&build()), pretty(&build()));
        assert!(pretty(&build()).ends_with("}\n"));
    }
}
