//! The DNS server runs on a host and obeys its run state. `fast/ccr-multi-subnet-dns-frozen` puts it
//! on a domain controller, `dc1`, frozen from 50 s to 140 s while the active node loses power at 60 s
//! and the database fails over to the other subnet: a pass must show that the freeze really held the
//! new owner's registration and the hub's lookups, not only that no checker complained. Variants of
//! the same file (no freeze, the host off, the links to it cut) and the DNS-less original
//! (`fast/ccr-multi-subnet-failover`) show what the freeze, the power and the network each change.

use drill_suites::catalogue_root;
use harness::history::{Event, HostDownReason, Record};
use harness::run::RunOutcome;
use harness::scenario::{self, Scenario};
use harness::world::run_scenario;

const SEEDS: std::ops::RangeInclusive<u64> = 1..=5;
const FROZEN: &str = "fast/ccr-multi-subnet-dns-frozen.toml";
/// The file's freeze of the DNS host, as written.
const FREEZE: &str = "[[fault]]\nat = \"50s\"\nkind = \"freeze\"\ntarget = \"dc1\"\nduration = \"90s\"\n";

fn secs(record: &Record) -> f64 {
    record.at.as_nanos() as f64 / 1e9
}

fn load(relative: &str) -> Scenario {
    scenario::load(&catalogue_root().join(relative)).unwrap_or_else(|error| panic!("{error}"))
}

/// The catalogue file `relative` with its first `from` replaced by `to`.
fn replaced(relative: &str, from: &str, to: &str) -> Scenario {
    let path = catalogue_root().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let changed = text.replacen(from, to, 1);
    assert_ne!(changed, text, "{relative} has no `{from}`");
    scenario::parse(&path, &changed).unwrap_or_else(|error| panic!("{error}"))
}

fn first(outcome: &RunOutcome, matches: impl Fn(&Event) -> bool) -> Option<f64> {
    outcome.history.records().iter().find(|record| matches(&record.event)).map(secs)
}

fn all(outcome: &RunOutcome, matches: impl Fn(&Event) -> bool) -> Vec<f64> {
    outcome.history.records().iter().filter(|record| matches(&record.event)).map(secs).collect()
}

fn registered_to(host: &'static str) -> impl Fn(&Event) -> bool {
    move |event| matches!(event, Event::NameRegistered { host: to, .. } if &**to == host)
}

fn name_online_on(node: &'static str) -> impl Fn(&Event) -> bool {
    move |event| {
        matches!(event, Event::Resource { node: on, resource, state: harness::history::ResourceState::Online, .. }
            if &**on == node && &**resource == "name")
    }
}

fn acked_by_new_owner(event: &Event) -> bool {
    matches!(event, Event::Acked { epoch: 2, .. })
}

fn timed_out(event: &Event) -> bool {
    matches!(event, Event::LookupTimedOut { .. })
}

#[test]
fn a_frozen_dns_host_holds_the_new_owners_registration_and_the_hubs_lookups_until_it_resumes() {
    let scenario = load(FROZEN);
    for seed in SEEDS {
        let outcome = run_scenario(&scenario, seed);
        assert!(outcome.as_expected, "seed {seed}: {:?}", outcome.report.violations);
        let frozen = first(
            &outcome,
            |event| matches!(event, Event::HostDown { host, reason: HostDownReason::Freeze } if &**host == "dc1"),
        );
        let resumed =
            first(&outcome, |event| matches!(event, Event::HostUp { host, boot: false } if &**host == "dc1"));
        assert_eq!((frozen, resumed), (Some(50.0), Some(140.0)), "seed {seed}");
        let resumed = 140.0;
        let mounted = first(
            &outcome,
            |event| matches!(event, Event::Mounted { node, epoch: 2, .. } if &**node == "mbx2"),
        )
        .expect("SG1 fails over to mbx2");
        assert!(
            mounted < 100.0,
            "seed {seed}: the frozen DNS server does not delay the failover ({mounted} s)"
        );
        // mbx2's name came online well before the resume, but its update waited in dc1's ring.
        let online = first(&outcome, name_online_on("mbx2")).expect("mbx2's network name comes online");
        assert!(online < resumed, "seed {seed}: {online} s");
        assert_eq!(all(&outcome, registered_to("mbx2")), [resumed], "seed {seed}: applied when dc1 resumed");
        // Meanwhile the hub's resolver asked, got nothing and gave up, again and again.
        let timeouts = all(&outcome, timed_out);
        assert!(
            timeouts.len() >= 3 && timeouts.iter().all(|&at| at > 60.0 && at < resumed),
            "seed {seed}: lookups time out during the freeze only: {timeouts:?}"
        );
        let first_ack = first(&outcome, acked_by_new_owner).expect("the new owner acknowledges mail");
        // The hub's resolver has a lookup open at the resume, or opens one within its 1 s retry.
        assert!(
            (resumed..resumed + 2.0).contains(&first_ack),
            "seed {seed}: the first delivery to the new owner comes with the resume at {resumed} s, not at \
             {first_ack} s"
        );
        assert_eq!(outcome.metrics().lost_acked, 0, "seed {seed}");
    }
}

#[test]
fn without_the_freeze_the_dns_host_answers_a_round_trip_later_and_hubs_reach_the_new_owner_within_a_ttl() {
    let running = replaced(FROZEN, FREEZE, "");
    let outside = load("fast/ccr-multi-subnet-failover.toml");
    for seed in SEEDS {
        for (label, scenario) in [("dns on dc1", &running), ("dns outside the model", &outside)] {
            let outcome = run_scenario(scenario, seed);
            assert!(outcome.as_expected, "seed {seed}, {label}: {:?}", outcome.report.violations);
            assert!(all(&outcome, timed_out).is_empty(), "seed {seed}, {label}: a running server answers");
            let mounted = first(&outcome, |event| matches!(event, Event::Mounted { epoch: 2, .. }))
                .expect("SG1 fails over");
            let first_ack = first(&outcome, acked_by_new_owner).expect("the new owner acknowledges mail");
            assert!(
                first_ack <= mounted + 30.0 + 5.0,
                "seed {seed}, {label}: the hub finds the new owner (mounted at {mounted} s) within a TTL and a \
                 retry, not at {first_ack} s"
            );
            for node in ["mbx1", "mbx2"] {
                let online = first(&outcome, name_online_on(node)).expect("the name comes online");
                let registered = first(&outcome, registered_to(node)).expect("the name is registered");
                if label == "dns outside the model" {
                    assert_eq!(
                        registered, online,
                        "seed {seed}: outside the model a registration is instant"
                    );
                } else {
                    assert!(
                        registered > online && registered < online + 0.01,
                        "seed {seed}: the update crosses the network to dc1: online {online} s, registered \
                         {registered} s"
                    );
                }
            }
        }
    }
}

#[test]
fn an_off_dns_host_answers_nothing_and_takes_no_registration() {
    let off = replaced(FROZEN, FREEZE, "[[fault]]\nat = \"50s\"\nkind = \"power-off\"\ntarget = \"dc1\"\n");
    let outcome = run_scenario(&off, 1);
    assert!(first(&outcome, |event| matches!(event, Event::Mounted { epoch: 2, .. })).is_some());
    assert!(all(&outcome, registered_to("mbx2")).is_empty(), "the update to a dark server is lost");
    assert!(first(&outcome, acked_by_new_owner).is_none(), "nothing can find the new owner");
    // Each lookup gives up 10 s after its first query (queries at 0, 1, 2, 4 and 8 s), and the hub's
    // queue, in retry, sends its probe again 1 s later: one timeout every 11 s until the run ends.
    let timeouts = all(&outcome, timed_out);
    assert!(timeouts.len() > 20, "{timeouts:?}");
    let gaps: Vec<f64> = timeouts.windows(2).map(|pair| pair[1] - pair[0]).collect();
    assert!(gaps.iter().all(|&gap| (gap - 11.0).abs() < 0.01), "{gaps:?}");
}

#[test]
fn cut_links_between_the_hub_and_the_dns_host_lose_the_lookups_while_registrations_still_arrive() {
    let cut = |network: &str| {
        format!(
            "[[fault]]\nat = \"50s\"\nkind = \"link-cut\"\ntarget = \"hub1\"\npeer = \"dc1\"\nnetwork = \"{network}\"\nduration = \"90s\"\n"
        )
    };
    let cuts = replaced(FROZEN, FREEZE, &format!("{}\n{}", cut("public-a"), cut("public-b")));
    for seed in 1..=3 {
        let outcome = run_scenario(&cuts, seed);
        assert!(outcome.as_expected, "seed {seed}: {:?}", outcome.report.violations);
        let online = first(&outcome, name_online_on("mbx2")).expect("mbx2's name comes online");
        let registered = first(&outcome, registered_to("mbx2")).expect("mbx2's update reaches dc1");
        assert!(registered < online + 0.01, "seed {seed}: mbx2's link to dc1 is intact");
        assert!(!all(&outcome, timed_out).is_empty(), "seed {seed}: the hub's queries are lost");
        let first_ack = first(&outcome, acked_by_new_owner).expect("the new owner acknowledges mail");
        // After the heal at 140 s the lookup in flight asks again within its next timeout (at most 4 s).
        assert!(
            (140.0..145.0).contains(&first_ack),
            "seed {seed}: first delivery to the new owner at {first_ack} s"
        );
    }
}

#[test]
fn a_hub_with_an_unexpired_cached_answer_asks_the_dns_server_nothing() {
    // The hub first resolves SG1 when mail starts at 10 s and keeps the answer for the 30 s TTL; a
    // freeze of dc1 from 15 s to 35 s, inside it, finds nothing to hold and stops no mail.
    let inside_ttl = replaced(
        FROZEN,
        FREEZE,
        "[[fault]]\nat = \"15s\"\nkind = \"freeze\"\ntarget = \"dc1\"\nduration = \"20s\"\n",
    );
    for seed in 1..=3 {
        let outcome = run_scenario(&inside_ttl, seed);
        assert!(outcome.as_expected, "seed {seed}: {:?}", outcome.report.violations);
        let drained: Vec<(f64, u64)> = outcome
            .history
            .records()
            .iter()
            .filter_map(|record| match &record.event {
                Event::RingDrained { host, packets, .. } if &**host == "dc1" => {
                    Some((secs(record), *packets))
                }
                _ => None,
            })
            .collect();
        assert_eq!(drained, [(35.0, 0)], "seed {seed}: no query reached the frozen server");
        let acked_during = all(&outcome, |event| matches!(event, Event::Acked { .. }))
            .into_iter()
            .filter(|&at| at > 15.0 && at < 35.0)
            .count();
        assert!(acked_during > 100, "seed {seed}: mail flows on the cached answer: {acked_during} acks");
    }
}
