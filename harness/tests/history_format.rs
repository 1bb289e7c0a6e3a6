//! `docs/history.md` documents the history format. These tests hold it to the code: every event and
//! every value of every enum the history records is documented, and the documented examples read
//! back as a history of this version.

use harness::history::{
    AbortCause, ArbitrationStep, DrawnSetting, Event, FailoverReason, FaultKind, HISTORY_SCHEMA_VERSION,
    HaHostState, HaRecord, History, HostDownReason, IsolationResponse, LinkDirection, NemesisFamily,
    NoEffect, PathReason, RejectReason, ReservationAction, ResetCause, ResetSuppressed, ResourceState,
    ResponseOutcome, RestartBlock, StopReason, StorageFailure, WitnessResetReason,
};
use serde::de::DeserializeOwned;
use std::path::Path;

fn documentation() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/history.md");
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Every name serde accepts for `T`, from its refusal of the unknown name in `probe` ("unknown variant
/// `zz-unknown`, expected one of `a`, `b`"), so a new variant is found without being listed here.
fn names_of<T: DeserializeOwned>(probe: &str) -> Vec<String> {
    let Err(error) = serde_json::from_str::<T>(probe) else { panic!("`{probe}` was accepted") };
    let error = error.to_string();
    let (_, expected) =
        error.split_once("expected").unwrap_or_else(|| panic!("no expected names in `{error}`"));
    let names: Vec<String> = expected.split('`').skip(1).step_by(2).map(str::to_string).collect();
    assert!(!names.is_empty(), "no names in `{error}`");
    names
}

fn unit_names<T: DeserializeOwned>() -> Vec<String> {
    names_of::<T>(r#""zz-unknown""#)
}

/// The part of the documentation under the heading `heading`, up to the next heading of its level or
/// above.
fn section<'a>(documentation: &'a str, heading: &str) -> Option<&'a str> {
    let level = heading.split(' ').next().unwrap_or_default();
    let start = documentation.find(&format!("\n{heading}\n"))? + 1;
    let body = &documentation[start + heading.len()..];
    let end = body
        .match_indices("\n#")
        .find(|(index, _)| {
            let hashes = body[index + 1..].chars().take_while(|c| *c == '#').count();
            hashes <= level.len()
        })
        .map_or(body.len(), |(index, _)| index);
    Some(&body[..end])
}

/// The fenced JSON blocks of the documentation.
fn json_blocks(documentation: &str) -> Vec<&str> {
    documentation
        .split("```json\n")
        .skip(1)
        .filter_map(|block| block.split_once("```").map(|(json, _)| json))
        .collect()
}

#[test]
fn the_documentation_has_a_section_for_every_event() {
    let documentation = documentation();
    let events = names_of::<Event>(r#"{"event":"zz-unknown"}"#);
    assert!(
        events.contains(&"header".to_string()) && events.contains(&"lun-write".to_string()),
        "{events:?}"
    );
    let undocumented: Vec<&String> =
        events.iter().filter(|event| section(&documentation, &format!("#### `{event}`")).is_none()).collect();
    assert!(
        undocumented.is_empty(),
        "events without a `#### `name`` section in docs/history.md: {undocumented:?}"
    );
}

#[test]
fn the_documentation_lists_every_value_of_every_enum_in_the_history() {
    let documentation = documentation();
    let enums = [
        ("FaultKind", unit_names::<FaultKind>()),
        ("LinkDirection", unit_names::<LinkDirection>()),
        ("NoEffect", unit_names::<NoEffect>()),
        ("HostDownReason", unit_names::<HostDownReason>()),
        ("WitnessResetReason", unit_names::<WitnessResetReason>()),
        ("FailoverReason", unit_names::<FailoverReason>()),
        ("ResourceState", unit_names::<ResourceState>()),
        ("StopReason", unit_names::<StopReason>()),
        ("ArbitrationStep", names_of::<ArbitrationStep>(r#"{"step":"zz-unknown"}"#)),
        ("ReservationAction", unit_names::<ReservationAction>()),
        ("ResetCause", unit_names::<ResetCause>()),
        ("RejectReason", unit_names::<RejectReason>()),
        ("AbortCause", unit_names::<AbortCause>()),
        ("PathReason", unit_names::<PathReason>()),
        ("NemesisFamily", unit_names::<NemesisFamily>()),
        ("DrawnSetting", names_of::<DrawnSetting>(r#"{"setting":"zz-unknown"}"#)),
        ("HaRecord", names_of::<HaRecord>(r#"{"ha":"zz-unknown"}"#)),
        ("HaHostState", unit_names::<HaHostState>()),
        ("IsolationResponse", unit_names::<IsolationResponse>()),
        ("ResponseOutcome", unit_names::<ResponseOutcome>()),
        ("RestartBlock", unit_names::<RestartBlock>()),
        ("ResetSuppressed", unit_names::<ResetSuppressed>()),
        ("StorageFailure", unit_names::<StorageFailure>()),
    ];
    let mut undocumented = Vec::new();
    for (name, values) in &enums {
        let Some(body) = section(&documentation, &format!("### `{name}`")) else {
            undocumented.push(format!("the enum `{name}` has no `### `{name}`` section"));
            continue;
        };
        for value in values {
            if !body.contains(&format!("| `{value}` |")) {
                undocumented.push(format!("`{name}` value `{value}`"));
            }
        }
    }
    assert!(undocumented.is_empty(), "undocumented in docs/history.md:\n{}", undocumented.join("\n"));
    assert_eq!(
        enums.iter().find(|(name, _)| *name == "FaultKind").map(|(_, values)| values.len()),
        Some(FaultKind::ALL.len()),
        "the probe finds every fault kind"
    );
}

#[test]
fn the_documented_examples_read_back_as_histories_of_this_schema_version() {
    let documentation = documentation();
    let blocks = json_blocks(&documentation);
    assert_eq!(blocks.len(), 2, "the header and the example");
    for block in blocks {
        let history = History::read_jsonl(block).unwrap_or_else(|error| panic!("{error}\n{block}"));
        assert!(
            matches!(history.header(), Some(Event::Header { schema_version, .. }) if *schema_version == HISTORY_SCHEMA_VERSION)
        );
    }
    assert!(
        documentation.contains(&format!(
            "| `schema_version` | integer | The version of this format: {HISTORY_SCHEMA_VERSION}. |"
        )),
        "the header's section names the current schema version"
    );
}
