//! Named behaviour tests of VMs on hypervisor hosts under vSphere HA: what rides the hypervisor host
//! (power, NICs) and what HA does about it.

use drill_suites::catalogue_root;
use harness::history::{Event, HaHostState, HaRecord, HostDownReason};
use harness::scenario;
use harness::world::run_scenario;

/// The host-failure scenario with its fault replaced by `fault` (a `[[fault]]` table's keys).
fn host_failure_with(fault: &str) -> scenario::Scenario {
    let path = catalogue_root().join("fast/stacked-ha-host-failure.toml");
    let text = std::fs::read_to_string(&path).expect("the catalogue file");
    let original = "kind = \"power-off\"\ntarget = \"esx1\"\n";
    assert!(text.contains(original), "the fault to replace is in the file");
    let changed = text.replacen(original, fault, 1);
    scenario::parse(&path, &changed).unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn a_vm_loses_its_traffic_when_its_hypervisor_hosts_nics_go_down_and_ha_restarts_nothing() {
    let mut scenario = host_failure_with(
        "kind = \"nic-down\"\ntarget = \"esx1\"\nnetwork = \"public\"\n\n[[fault]]\nat = \"60s\"\nkind = \"nic-down\"\ntarget = \"esx1\"\nnetwork = \"private\"\n",
    );
    scenario.checks.reached.clear();
    let outcome = run_scenario(&scenario, 1);
    let events: Vec<&Event> = outcome.history.records().iter().map(|record| &record.event).collect();
    let failed_over = events.iter().any(|event| {
        matches!(event, Event::Failover { from: Some(from), to, .. } if &**from == "mbx1" && &**to == "mbx2")
    });
    assert!(failed_over, "mbx1's NICs ride esx1's, so the cluster lost it and failed over to mbx2");
    let mbx1_down =
        events.iter().any(|event| matches!(event, Event::HostDown { host, .. } if &**host == "mbx1"));
    assert!(!mbx1_down, "the VM itself kept running");
    let restarted =
        events.iter().any(|event| matches!(event, Event::Ha { what: HaRecord::RestartSucceeded { .. }, .. }));
    assert!(!restarted, "esx1's management network is up, so HA sees nothing wrong");
}

#[test]
fn a_hypervisor_hosts_power_loss_powers_its_vms_off_and_ha_restarts_them_on_the_allowed_host() {
    let outcome = run_scenario(&host_failure_with("kind = \"power-off\"\ntarget = \"esx1\"\n"), 1);
    let events: Vec<&Event> = outcome.history.records().iter().map(|record| &record.event).collect();
    let down = |name: &str| {
        events.iter().position(
            |event| matches!(event, Event::HostDown { host, reason: HostDownReason::Power } if &**host == name),
        )
    };
    let (esx1, mbx1) = (down("esx1").expect("esx1 lost power"), down("mbx1").expect("its VM went with it"));
    assert!(esx1 < mbx1, "the host's own host-down comes first");
    let restarted_on = events.iter().find_map(|event| match event {
        Event::Ha { what: HaRecord::RestartSucceeded { vm, on, .. }, .. } if &**vm == "mbx1" => {
            Some(on.to_string())
        }
        _ => None,
    });
    assert_eq!(restarted_on.as_deref(), Some("esx3"), "its must rule allows esx1 and esx3 only");
    assert!(outcome.as_expected, "{:?}", outcome.report.violations);
}

/// The records of a run, with their times in whole milliseconds.
fn timed(outcome: &harness::run::RunOutcome) -> Vec<(u64, &Event)> {
    outcome.history.records().iter().map(|record| (record.at.as_millis(), &record.event)).collect()
}

fn powered_on_at(events: &[(u64, &Event)], name: &str) -> Vec<u64> {
    events
        .iter()
        .filter(|(_, event)| matches!(event, Event::VmPoweredOn { vm, .. } if &**vm == name))
        .map(|(at, _)| *at)
        .collect()
}

fn booted_at(events: &[(u64, &Event)], name: &str) -> Vec<u64> {
    events
        .iter()
        .filter(|(_, event)| matches!(event, Event::HostUp { host, boot: true } if &**host == name))
        .map(|(at, _)| *at)
        .collect()
}

#[test]
fn a_vm_that_ha_restarts_is_on_at_once_and_its_node_starts_only_when_its_guest_has_booted() {
    let outcome = run_scenario(&host_failure_with("kind = \"power-off\"\ntarget = \"esx1\"\n"), 1);
    let events = timed(&outcome);
    let powered = powered_on_at(&events, "mbx1");
    assert_eq!(powered.len(), 1, "HA powered mbx1 on once, on esx3");
    let booted = booted_at(&events, "mbx1");
    assert_eq!(booted, vec![powered[0] + 60_000], "the default boot time is 60 s");
    let node_spoke = events.iter().any(|(at, event)| {
        (powered[0]..booted[0]).contains(at)
            && matches!(event, Event::Quorum { node, .. } if &**node == "mbx1")
    });
    assert!(!node_spoke, "mbx1's node runs nothing while its guest boots");
    assert!(outcome.as_expected, "{:?}", outcome.report.violations);
}

#[test]
fn a_power_cycled_vm_boots_for_its_boot_time_and_a_zero_boot_time_starts_it_at_power_on() {
    let cycled = host_failure_with("kind = \"power-cycle\"\ntarget = \"mbx1\"\n");
    let outcome = run_scenario(&cycled, 1);
    let events = timed(&outcome);
    assert_eq!(powered_on_at(&events, "mbx1"), vec![70_000], "off for the power cycle's 10 s");
    assert_eq!(booted_at(&events, "mbx1"), vec![130_000]);
    let mut instant = cycled.clone();
    let mbx1 = instant.hosts.iter_mut().find(|host| host.name == "mbx1").expect("mbx1");
    mbx1.boot_time = std::time::Duration::ZERO;
    let outcome = run_scenario(&instant, 1);
    assert_eq!(booted_at(&timed(&outcome), "mbx1"), vec![70_000]);
}

#[test]
fn a_power_loss_during_the_guest_boot_cancels_it() {
    // mbx1 is restarted on esx3 about 18 s after esx1 fails; esx3 then fails while mbx1 boots, and
    // both hosts mbx1 may run on are off, so nothing boots it again.
    let scenario = host_failure_with(
        "kind = \"power-off\"\ntarget = \"esx1\"\n\n[[fault]]\nat = \"100s\"\nkind = \"power-off\"\ntarget = \"esx3\"\n",
    );
    let outcome = run_scenario(&scenario, 1);
    let events = timed(&outcome);
    let powered = powered_on_at(&events, "mbx1");
    assert_eq!(powered.len(), 1, "{powered:?}");
    assert!(powered[0] < 100_000 && powered[0] + 60_000 > 100_000, "the power loss falls inside the boot");
    let lost = events.iter().any(|(at, event)| {
        *at == 100_000
            && matches!(event, Event::HostDown { host, reason: HostDownReason::Power } if &**host == "mbx1")
    });
    assert!(lost, "mbx1 went down with esx3");
    assert!(booted_at(&events, "mbx1").is_empty(), "the cancelled boot never finished");
}

#[test]
fn a_management_partition_elects_a_master_per_side_and_neither_restarts_the_others_vms() {
    let path = catalogue_root().join("fast/ha-master-partition.toml");
    let outcome = run_scenario(&scenario::load(&path).unwrap_or_else(|error| panic!("{error}")), 1);
    let events = timed(&outcome);
    let declared_partitioned = |by: &str, of: &str| {
        events.iter().any(|(_, event)| {
            matches!(event, Event::Ha { agent, what: HaRecord::HostDeclared { host, state } }
                if &**agent == by && &**host == of && *state == HaHostState::Partitioned)
        })
    };
    assert!(declared_partitioned("esx3", "esx1") && declared_partitioned("esx3", "esx2"));
    assert!(declared_partitioned("esx2", "esx3"), "the other side's master sees esx3 partitioned too");
    let restarts = events.iter().any(|(_, event)| {
        matches!(
            event,
            Event::Ha { what: HaRecord::RestartAttempted { .. } | HaRecord::RestartFailed { .. }, .. }
        )
    });
    assert!(!restarts, "a partitioned host's VMs still run: no master tries to start them again");
    assert!(powered_on_at(&events, "mbx1").is_empty() && powered_on_at(&events, "mbx2").is_empty());
    assert!(outcome.as_expected, "{:?}", outcome.report.violations);
}

#[test]
fn a_hub_whose_guest_is_booting_accepts_no_mail_until_it_has_booted() {
    let path = catalogue_root().join("fast/stacked-ha-host-failure.toml");
    let text = std::fs::read_to_string(&path).expect("the catalogue file");
    let hub = "name = \"hub1\"\nrole = \"hub\"\nnetworks = [\"public\"]\n";
    assert!(text.contains(hub));
    let changed = text.replacen(hub, &format!("{hub}runs_on = \"esx2\"\n"), 1).replacen(
        "kind = \"power-off\"\ntarget = \"esx1\"\n",
        "kind = \"power-cycle\"\ntarget = \"hub1\"\n",
        1,
    );
    let scenario = scenario::parse(&path, &changed).unwrap_or_else(|error| panic!("{error}"));
    let outcome = run_scenario(&scenario, 1);
    let events = timed(&outcome);
    assert_eq!(powered_on_at(&events, "hub1"), vec![70_000]);
    assert_eq!(booted_at(&events, "hub1"), vec![130_000]);
    let submitted = |from: u64, to: u64| {
        events
            .iter()
            .filter(|(at, event)| (from..to).contains(at) && matches!(event, Event::Submitted { .. }))
            .count()
    };
    assert_eq!(submitted(60_000, 130_000), 0, "off, then booting: no client reached the hub");
    assert!(submitted(130_000, 190_000) > 0, "it takes mail again once booted");
}
