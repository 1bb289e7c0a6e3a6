//! Records, timelines and an XML well-formedness check shared by the renderers' tests.
//!
//! Each test binary uses part of this module; the rest would warn as dead code there.
#![allow(dead_code)]

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use reports::timeline::{FaultBand, Lane, Segment, Timeline, Tone};
use reports::{
    CampaignPlan, CampaignRecord, MetricsRecord, Provenance, RunRecord, SCHEMA_VERSION, ShrunkRecord,
    ViolationRecord,
};

/// A name that would run a script if a renderer forgot to escape it.
pub const HOSTILE_NAME: &str = "<script>alert(1)</script>";
/// A detail with every character that means something in markup.
pub const AWKWARD_DETAIL: &str = r#"mbx1 & mbx2 both said "mine" on 'SG1' <at once>"#;

/// A passing run of `path` with `seed`.
pub fn run(path: &str, seed: u64) -> RunRecord {
    let name = path.rsplit('/').next().unwrap_or(path).trim_end_matches(".toml").to_string();
    RunRecord {
        schema_version: SCHEMA_VERSION,
        scenario: name,
        scenario_path: path.to_string(),
        scenario_sha256: "ab".repeat(32),
        seed,
        verdict: "pass".to_string(),
        expected: None,
        as_expected: true,
        exit_code: 0,
        history_sha256: format!("{seed:064x}"),
        violation_count: 0,
        findings: Vec::new(),
        surprise: None,
        fault_signature: Vec::new(),
        metrics: MetricsRecord {
            acked: 1_000 + seed,
            rto_ms: 20_000 + seed * 1_500,
            failovers: 1,
            simulated_ms: 600_000,
            events: 12_000,
            ..MetricsRecord::default()
        },
        notes: Vec::new(),
        replay: format!("drill run {path} --seed {seed}"),
    }
}

/// `run` made a split-brain the scenario did not expect, with findings whose details need escaping.
pub fn split_brain(mut run: RunRecord) -> RunRecord {
    run.verdict = "fail".to_string();
    run.as_expected = false;
    run.exit_code = 1;
    run.surprise = Some("split-brain".to_string());
    run.fault_signature = vec!["partition".to_string(), "freeze".to_string()];
    run.metrics.lost_acked = 7;
    run.metrics.lost_window_ms = Some((61_000, 64_500));
    let mut violations: Vec<ViolationRecord> = (0..40)
        .map(|index| ViolationRecord {
            check: "split-brain".to_string(),
            subject: "SG1".to_string(),
            time_ms: 62_000 + index * 500,
            detail: AWKWARD_DETAIL.to_string(),
        })
        .collect();
    violations.push(ViolationRecord {
        check: "data-loss".to_string(),
        subject: "SG1".to_string(),
        time_ms: 590_000,
        detail: "7 acknowledged messages missing from the active copy".to_string(),
    });
    run.set_violations(&violations);
    run.notes.push("lineage not checked: the log of <mbx2> & its copy were never read".to_string());
    run
}

/// A run of a scenario whose name and path are markup, failing with awkward details.
pub fn hostile_run() -> RunRecord {
    let mut run = split_brain(run("hazards/evil.toml", 3));
    run.scenario = HOSTILE_NAME.to_string();
    run.scenario_path = format!("hazards/{HOSTILE_NAME}.toml");
    run.replay = format!("drill run 'hazards/{HOSTILE_NAME}.toml' --seed 3 && echo \"done\"");
    run
}

/// A ten-minute timeline with two nodes, a LUN, the client, a partition and a freeze; one host
/// is named like a script.
pub fn timeline() -> Timeline {
    let segment = |from_ms, to_ms, text: &str, tone| Segment { from_ms, to_ms, text: text.to_string(), tone };
    let lane = |group: &str, label: &str, segments| Lane {
        group: group.to_string(),
        label: label.to_string(),
        segments,
    };
    Timeline {
        duration_ms: 600_000,
        lanes: vec![
            lane("mbx1", "power", vec![segment(0, 600_000, "up", Tone::Good)]),
            lane(
                "mbx1",
                "owns",
                vec![
                    segment(0, 60_000, "SG1", Tone::Neutral),
                    segment(60_000, 600_000, "SG1 & SG2", Tone::Neutral),
                ],
            ),
            lane(
                HOSTILE_NAME,
                "power",
                vec![
                    segment(0, 90_000, "up", Tone::Good),
                    segment(90_000, 150_000, "paused \"frozen\"", Tone::Warn),
                    segment(150_000, 600_000, "down", Tone::Bad),
                ],
            ),
            lane(
                HOSTILE_NAME,
                "quorum",
                vec![
                    segment(0, 60_000, "quorate (mbx1, <mbx2>, witness)", Tone::Good),
                    segment(60_000, 600_000, "no quorum", Tone::Bad),
                ],
            ),
            lane("lun0", "reservation", vec![segment(5_000, 600_000, "key 0x2", Tone::Neutral)]),
            lane(
                "client",
                "availability",
                vec![
                    segment(0, 61_000, "serving", Tone::Good),
                    segment(61_000, 140_000, "unavailable", Tone::Bad),
                    segment(140_000, 600_000, "serving", Tone::Good),
                ],
            ),
        ],
        faults: vec![
            FaultBand {
                from_ms: 60_000,
                to_ms: 120_000,
                label: "partition mbx1/<mbx2> on heartbeat".to_string(),
            },
            FaultBand { from_ms: 90_000, to_ms: 150_000, label: "freeze mbx2".to_string() },
        ],
        throughput: (0..60)
            .map(|bucket| if (6..14).contains(&bucket) { 0 } else { 40 + bucket % 7 })
            .collect(),
        throughput_bucket_ms: 10_000,
    }
}

/// Two scenarios of `seeds` seeds each, where seeds 2 and 3 of the first split-brain, and its first
/// failure group has a shrunk reproduction; the second scenario has the hostile name.
pub fn campaign(seeds: u64) -> CampaignRecord {
    let mut runs = Vec::new();
    for seed in 1..=seeds {
        let plain = run("fast/ha-failover.toml", seed);
        runs.push(if seed == 2 || seed == 3 { split_brain(plain) } else { plain });
        let mut hostile = run(&format!("hazards/{HOSTILE_NAME}.toml"), seed);
        hostile.scenario = HOSTILE_NAME.to_string();
        runs.push(hostile);
    }
    let provenance = Provenance { drill_version: "0.1.0".to_string(), drill_commit: "c0ffee".to_string() };
    let plan = CampaignPlan { first_seed: 1, last_seed: seeds, shard: None, planned_runs: 2 * seeds };
    let mut campaign = CampaignRecord::from_runs(provenance, plan, runs);
    if let Some(group) = campaign.groups.first_mut() {
        group.shrunk = Some(ShrunkRecord {
            path: "shrunk/ha-failover-seed-2.toml".to_string(),
            replay: "drill run shrunk/ha-failover-seed-2.toml --seed 2".to_string(),
            check: "split-brain".to_string(),
            faults: 2,
            realised_faults: 9,
            runs: 31,
        });
    }
    campaign
}

/// Reads `xml` to its end with an XML parser: every element closed in order, every attribute value
/// and reference valid, one root. Returns the number of elements.
pub fn assert_well_formed(xml: &str) -> usize {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let (mut depth, mut elements, mut roots) = (0usize, 0usize, 0usize);
    loop {
        let event = reader.read_event().unwrap_or_else(|error| {
            panic!("not well-formed XML at byte {}: {error}", reader.error_position())
        });
        match event {
            Event::Eof => break,
            Event::Start(start) => {
                roots += usize::from(depth == 0);
                elements += 1;
                depth += 1;
                assert_attributes_valid(&start);
            }
            Event::Empty(start) => {
                roots += usize::from(depth == 0);
                elements += 1;
                assert_attributes_valid(&start);
            }
            Event::End(_) => depth -= 1,
            Event::GeneralRef(reference) => {
                let name = reference.decode().expect("a reference in UTF-8");
                let known = ["amp", "lt", "gt", "quot", "apos"].contains(&name.as_ref());
                let character =
                    reference.is_char_ref() && matches!(reference.resolve_char_ref(), Ok(Some(_)));
                assert!(known || character, "an XML parser knows no entity &{name};");
            }
            _ => {}
        }
    }
    assert_eq!(depth, 0, "elements left open at the end");
    assert_eq!(roots, 1, "one root element");
    elements
}

fn assert_attributes_valid(element: &BytesStart<'_>) {
    for attribute in element.attributes() {
        let attribute = attribute.unwrap_or_else(|error| panic!("a bad attribute: {error}"));
        attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .unwrap_or_else(|error| panic!("a bad attribute value: {error}"));
    }
}
