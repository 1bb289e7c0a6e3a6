//! The HTML pages: well-formed polyglot markup, the timeline inside, user text escaped, the same
//! bytes for the same input.

mod common;

use common::{AWKWARD_DETAIL, HOSTILE_NAME, assert_well_formed, campaign, hostile_run, run, timeline};
use reports::RunRecord;
use reports::html::{campaign_page, escape, run_page, timeline_svg};
use reports::timeline::Timeline;

fn link(run: &RunRecord) -> Option<String> {
    Some(format!("runs/{}/seed-{}.html?x=1&y=\"2\"", run.scenario, run.seed))
}

fn no_link(_: &RunRecord) -> Option<String> {
    None
}

/// `page` holds `text` only escaped: never a raw `<script`, always its escaped form.
fn assert_only_escaped(page: &str, text: &str) {
    assert!(!page.contains("<script"), "a raw <script> tag in the page");
    assert!(page.contains(&escape(text)), "the escaped form of {text:?} is missing");
}

#[test]
fn a_run_page_is_well_formed_xml_with_the_timeline_svg_inside() {
    let page = run_page(&common::split_brain(run("fast/ha-failover.toml", 2)), &timeline());
    assert!(page.starts_with("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\""));
    assert!(
        assert_well_formed(&page) > 100,
        "a page of a run with findings and a timeline has many elements"
    );
    assert!(page.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"timeline\" viewBox=\"0 0 1000 "));
    for expected in
        ["split-brain", "drill run fast/ha-failover.toml --seed 2", "class=\"violation\"", "class=\"fault\""]
    {
        assert!(page.contains(expected), "the run page lacks {expected:?}");
    }
}

#[test]
fn a_campaign_page_is_well_formed_xml_with_groups_linked_to_their_first_run_and_distributions() {
    let page = campaign_page(&campaign(12), &link);
    assert_well_formed(&page);
    assert!(page.contains("<a href=\"runs/ha-failover/seed-2.html?x=1&amp;y=&quot;2&quot;\">seed 2</a>"));
    assert!(page.contains("shrunk/ha-failover-seed-2.toml"), "the shrunk reproduction");
    assert!(page.contains("class=\"histogram\""), "the distributions' histograms");
    assert!(page.contains("seeds 1 to 12"));
    let unlinked = campaign_page(&campaign(12), &no_link);
    assert_well_formed(&unlinked);
    assert!(!unlinked.contains("<a href"), "no link where the campaign wrote no run page");
}

#[test]
fn a_scenario_named_like_a_script_and_details_with_ampersands_and_quotes_appear_only_escaped() {
    let run_page = run_page(&hostile_run(), &timeline());
    assert_well_formed(&run_page);
    assert_only_escaped(&run_page, HOSTILE_NAME);
    assert_only_escaped(&run_page, AWKWARD_DETAIL);
    assert!(run_page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(run_page.contains("mbx1 &amp; mbx2 both said &quot;mine&quot; on &#39;SG1&#39;"));
    let campaign_page = campaign_page(&campaign(3), &link);
    assert_well_formed(&campaign_page);
    assert_only_escaped(&campaign_page, HOSTILE_NAME);
}

#[test]
fn an_empty_timeline_still_draws_an_axis_in_a_non_empty_svg() {
    let svg = timeline_svg(&Timeline::default(), &[]);
    assert_well_formed(&svg);
    assert!(svg.contains("id=\"timeline\"") && svg.contains("viewBox=") && svg.contains("class=\"axis\""));
    assert!(svg.contains("nothing was recorded"));
    let page = run_page(&run("fast/empty.toml", 1), &Timeline::default());
    assert_well_formed(&page);
}

#[test]
fn findings_without_lanes_are_still_drawn_on_the_timeline() {
    let failing = common::split_brain(run("fast/ha-failover.toml", 2));
    let svg = timeline_svg(&Timeline { duration_ms: 600_000, ..Timeline::default() }, &failing.findings);
    assert_well_formed(&svg);
    assert_eq!(svg.matches("class=\"violation\"").count(), 2, "one mark per finding");
}

#[test]
fn the_same_records_render_to_the_same_bytes() {
    let failing = hostile_run();
    assert_eq!(run_page(&failing, &timeline()), run_page(&failing.clone(), &timeline()));
    assert_eq!(campaign_page(&campaign(20), &link), campaign_page(&campaign(20), &link));
}

#[test]
#[should_panic(expected = "not well-formed")]
fn the_well_formedness_check_rejects_an_element_closed_out_of_order() {
    assert_well_formed("<p><b>bold</p></b>");
}

#[test]
#[should_panic(expected = "knows no entity")]
fn the_well_formedness_check_rejects_an_html_only_entity() {
    assert_well_formed("<p>a&nbsp;b</p>");
}

#[test]
#[should_panic(expected = "left open")]
fn the_well_formedness_check_rejects_an_element_never_closed() {
    assert_well_formed("<p><br>");
}
