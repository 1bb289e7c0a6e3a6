//! The campaign as JUnit XML: a test case per scenario and seed, failures with their replay command,
//! the same bytes for the same campaign.

mod common;

use common::{assert_well_formed, campaign};
use reports::junit::campaign_junit;

#[test]
fn the_junit_report_parses_as_xml_with_one_testcase_per_scenario_and_seed() {
    let campaign = campaign(7);
    let xml = campaign_junit(&campaign);
    assert_well_formed(&xml);
    assert_eq!(campaign.scenarios.len(), 2);
    assert_eq!(xml.matches("<testcase ").count(), 2 * 7);
    assert_eq!(xml.matches("<testsuite ").count(), 2);
    assert!(xml.contains("<testcase name=\"seed 7\" classname=\"ha-failover\""));
    assert!(xml.contains("<testsuite name=\"fast/ha-failover.toml\""));
}

#[test]
fn a_failing_run_is_a_failure_naming_the_verdict_and_surprise_with_its_findings_and_replay_command() {
    let xml = campaign_junit(&campaign(3));
    assert_eq!(xml.matches("<failure ").count(), 2, "seeds 2 and 3 of the first scenario");
    let seed_two = &xml[xml.find("<testcase name=\"seed 2\"").expect("seed 2")..];
    let seed_two = &seed_two[..seed_two.find("</testcase>").expect("seed 2 closed")];
    assert!(seed_two.contains("<failure message=\"fail: split-brain\" type=\"split-brain\">"), "{seed_two}");
    assert!(seed_two.contains("replay: drill run fast/ha-failover.toml --seed 2"));
    assert!(seed_two.contains("split-brain on SG1: 40 times, 1m02s to 1m21.5s; first: mbx1 &amp; mbx2"));
    assert!(seed_two.contains("data-loss on SG1: once at 9m50s; first: 7 acknowledged messages"));
}

#[test]
fn the_junit_report_holds_no_time_and_is_the_same_bytes_for_the_same_campaign() {
    let xml = campaign_junit(&campaign(5));
    assert!(!xml.contains("time=") && !xml.contains("timestamp="), "wall-clock time has no place in it");
    assert_eq!(xml, campaign_junit(&campaign(5)));
}
