//! Election, and how a master tells a failed host from an isolated or partitioned one.

use super::*;

fn elected(lab: &Lab, host: u32) -> Option<HostId> {
    lab.events(h(host)).into_iter().rev().find_map(|(_, event)| match event {
        HaEvent::MasterElected { master } => Some(master),
        _ => None,
    })
}

#[test]
fn agents_booting_together_elect_the_host_with_the_most_datastores_about_fifteen_seconds_later() {
    let mut spec = cluster(&[1, 2, 3], &[]);
    spec.hosts.get_mut(&h(1)).unwrap().insert(DatastoreId(3));
    let mut lab = Lab::booting(HaConfig::default(), spec);
    lab.run_until(secs(30));
    for host in [1, 2, 3] {
        assert_eq!(elected(&lab, host), Some(h(1)), "host {host}");
    }
    assert_between(lab.first(h(1), |e| matches!(e, HaEvent::MasterElected { .. })), 15, 16);
    assert_eq!(lab.agents[&h(1)].role(), Role::Master);
    assert_eq!(lab.agents[&h(3)].role(), Role::Slave { master: h(1) });
}

#[test]
fn with_equal_datastores_the_highest_host_id_wins_the_election() {
    let mut lab = Lab::booting(HaConfig::default(), cluster(&[1, 2, 3], &[]));
    lab.run_until(secs(30));
    for host in [1, 2, 3] {
        assert_eq!(elected(&lab, host), Some(h(3)), "host {host}");
    }
    assert!(lab.agents.values().all(|agent| !agent.is_isolated()));
}

#[test]
fn each_side_of_a_management_partition_elects_its_own_master_and_nobody_is_isolated() {
    let mut lab = Lab::steady(HaConfig::default(), cluster(&[1, 2, 3, 4], &[]), &[], 4);
    lab.run_until(secs(100));
    lab.groups = vec![[h(1), h(2)].into(), [h(3), h(4)].into()];
    lab.run_until(secs(140));
    assert_eq!(lab.agents[&h(2)].role(), Role::Master);
    assert_eq!(lab.agents[&h(1)].role(), Role::Slave { master: h(2) });
    assert_eq!(lab.agents[&h(4)].role(), Role::Master);
    assert_between(lab.first(h(2), |e| *e == HaEvent::MasterElected { master: h(2) }), 125, 127);
    assert!(lab.agents.values().all(|agent| !agent.is_isolated()));
    let declared = |e: &HaEvent| matches!(e, HaEvent::HostDeclared { host, state: HostState::Partitioned } if *host == h(1));
    assert!(lab.first(h(4), declared).is_some(), "host 4 sees host 1 partitioned");
}

#[test]
fn when_a_partition_heals_the_lesser_master_abdicates() {
    let mut lab = Lab::steady(HaConfig::default(), cluster(&[1, 2, 3, 4], &[]), &[], 4);
    lab.groups = vec![[h(1), h(2)].into(), [h(3), h(4)].into()];
    lab.run_until(secs(60));
    lab.groups.clear();
    lab.run_until(secs(80));
    assert!(lab.first(h(2), |e| *e == HaEvent::Abdicated { to: h(4) }).is_some());
    let masters = lab.agents.values().filter(|a| a.role() == Role::Master).count();
    assert_eq!(masters, 1);
    assert_eq!(lab.agents[&h(1)].role(), Role::Slave { master: h(4) });
}

#[test]
fn a_failed_host_is_declared_failed_eighteen_seconds_after_its_last_heartbeat_and_its_vm_restarts() {
    let mut lab = Lab::steady(HaConfig::default(), cluster(&[1, 2, 3], &[7]), &[(7, 2)], 3);
    lab.run_until(secs(100));
    lab.power_off(h(2));
    lab.run_until(secs(160));
    let master = h(3);
    assert_between(lab.first(master, |e| *e == HaEvent::HostUnreachable { host: h(2) }), 110, 111);
    let failed = HaEvent::HostDeclared { host: h(2), state: HostState::Failed };
    assert_between(lab.first(master, |e| *e == failed), 118, 119);
    assert_between(lab.first(master, |e| matches!(e, HaEvent::RestartSucceeded { .. })), 118, 120);
    assert_eq!(lab.hosts_of(vm(7)).len(), 1);
}

#[test]
fn without_heartbeat_datastores_a_silent_host_is_declared_failed_after_fifteen_seconds_even_if_it_runs() {
    let config = HaConfig { heartbeat_datastores_per_host: 0, ..HaConfig::default() };
    let mut lab = Lab::steady(config, cluster(&[1, 2, 3], &[7]), &[(7, 2)], 3);
    lab.run_until(secs(100));
    lab.groups = vec![[h(2)].into(), [h(1), h(3)].into()];
    lab.run_until(secs(160));
    let failed = HaEvent::HostDeclared { host: h(2), state: HostState::Failed };
    assert_between(lab.first(h(3), |e| *e == failed), 115, 116);
    assert_eq!(lab.hosts_of(vm(7)).len(), 2, "the partitioned host still runs it: two instances");
}

#[test]
fn a_host_that_lost_only_the_management_network_keeps_datastore_heartbeats_and_its_vm_is_not_restarted() {
    let mut lab = Lab::steady(HaConfig::default(), cluster(&[1, 2, 3], &[7]), &[(7, 2)], 3);
    lab.run_until(secs(100));
    lab.mgmt_cut.insert(h(2));
    lab.run_until(secs(300));
    let isolated = HaEvent::HostDeclared { host: h(2), state: HostState::Isolated };
    assert!(lab.first(h(3), |e| *e == isolated).is_some());
    assert!(
        lab.first(h(3), |e| matches!(e, HaEvent::HostDeclared { state: HostState::Failed, .. })).is_none()
    );
    assert!(lab.first(h(3), |e| matches!(e, HaEvent::RestartAttempted { .. })).is_none());
    assert_eq!(lab.hosts_of(vm(7)), [h(2)].into());
}

#[test]
fn a_host_that_lost_management_and_storage_networks_is_declared_failed_and_its_vm_runs_twice() {
    let mut lab = Lab::steady(HaConfig::default(), cluster(&[1, 2, 3], &[7]), &[(7, 2)], 3);
    lab.run_until(secs(100));
    lab.mgmt_cut.insert(h(2));
    lab.storage_cut.insert(h(2));
    lab.run_until(secs(200));
    let failed = HaEvent::HostDeclared { host: h(2), state: HostState::Failed };
    assert!(lab.first(h(3), |e| *e == failed).is_some());
    assert!(lab.agents[&h(2)].is_isolated());
    assert_eq!(lab.hosts_of(vm(7)).len(), 2, "leave powered on: the old instance keeps running");
}

#[test]
fn when_the_master_fails_a_new_master_is_elected_and_restarts_the_old_masters_vms() {
    let mut lab = Lab::steady(HaConfig::default(), cluster(&[1, 2, 3], &[7]), &[(7, 3)], 3);
    lab.run_until(secs(100));
    lab.power_off(h(3));
    lab.run_until(secs(200));
    assert_between(lab.first(h(2), |e| *e == HaEvent::ElectionStarted), 110, 111);
    assert_between(lab.first(h(2), |e| *e == HaEvent::MasterElected { master: h(2) }), 125, 126);
    let failed = HaEvent::HostDeclared { host: h(3), state: HostState::Failed };
    assert_between(lab.first(h(2), |e| *e == failed), 143, 144);
    assert_eq!(lab.hosts_of(vm(7)).len(), 1);
    assert!(!lab.hosts_of(vm(7)).contains(&h(3)));
}

#[test]
fn a_host_that_reboots_before_it_is_declared_failed_gets_its_vms_restarted() {
    let mut lab = Lab::steady(HaConfig::default(), cluster(&[1, 2, 3], &[7]), &[(7, 2)], 3);
    lab.run_until(secs(100));
    lab.power_off(h(2));
    lab.run_until(secs(105));
    lab.reboot(h(2));
    lab.run_until(secs(200));
    let failed = HaEvent::HostDeclared { host: h(2), state: HostState::Failed };
    assert!(lab.first(h(3), |e| *e == failed).is_none(), "back within 5 s: never declared failed");
    assert!(lab.first(h(3), |e| matches!(e, HaEvent::RestartSucceeded { .. })).is_some());
    assert_eq!(lab.hosts_of(vm(7)).len(), 1);
}

#[test]
fn a_new_master_does_not_restart_a_vm_before_every_host_has_reported() {
    // The master fails; the new one must not take the VM on host 1 for gone before host 1's first
    // heartbeat reaches it.
    let mut lab = Lab::steady(HaConfig::default(), cluster(&[1, 2, 3], &[7]), &[(7, 1)], 3);
    lab.run_until(secs(100));
    lab.power_off(h(3));
    lab.run_until(secs(300));
    assert!(lab.outputs(|o| matches!(o, HaOutput::PowerOnVm { .. })).is_empty());
    assert_eq!(lab.hosts_of(vm(7)), [h(1)].into());
}

#[test]
fn a_master_back_from_isolation_does_not_declare_the_hosts_it_could_not_hear_failed() {
    let mut lab = Lab::steady(HaConfig::default(), cluster(&[1, 2, 3], &[7]), &[(7, 2)], 3);
    lab.run_until(secs(100));
    lab.mgmt_cut.insert(h(3));
    lab.run_until(secs(145));
    assert!(lab.agents[&h(3)].is_isolated());
    lab.mgmt_cut.clear();
    lab.run_until(secs(300));
    let declared_failed = |e: &HaEvent| matches!(e, HaEvent::HostDeclared { state: HostState::Failed, .. });
    assert!(lab.first(h(3), declared_failed).is_none());
    assert!(lab.outputs(|o| matches!(o, HaOutput::PowerOnVm { .. })).is_empty());
    assert_eq!(lab.hosts_of(vm(7)), [h(2)].into());
}
