//! Named behaviour tests of VMs on hypervisor hosts under vSphere HA: what rides the hypervisor host
//! (power, NICs) and what HA does about it.

use drill_suites::catalogue_root;
use harness::history::{Event, HaRecord, HostDownReason};
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
