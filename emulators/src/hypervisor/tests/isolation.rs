//! Isolation detection, the isolation response after its delay, and the master's restart of what the
//! response powered off.

use super::*;

fn with_response(response: IsolationResponse) -> HaConfig {
    HaConfig { isolation_response: response, ..HaConfig::default() }
}

/// Cuts host 2 (a slave running vm7) off the management network at 100 s and runs to `until`.
fn isolate_slave(config: HaConfig, until: u64) -> Lab {
    let mut lab = Lab::steady(config, cluster(&[1, 2, 3], &[7]), &[(7, 2)], 3);
    lab.run_until(secs(100));
    lab.mgmt_cut.insert(h(2));
    lab.run_until(secs(until));
    lab
}

#[test]
fn a_slave_cut_from_the_management_network_declares_itself_isolated_thirty_seconds_later() {
    let lab = isolate_slave(HaConfig::default(), 200);
    let slave = h(2);
    assert_between(lab.first(slave, |e| *e == HaEvent::ElectionStarted), 110, 111);
    assert_between(lab.first(slave, |e| *e == HaEvent::IsolationCheckStarted), 125, 126);
    assert_between(lab.first(slave, |e| *e == HaEvent::IsolationDeclared), 130, 131);
    assert!(lab.agents[&slave].is_isolated());
}

#[test]
fn a_master_cut_from_the_management_network_declares_itself_isolated_five_seconds_after_it_starts_pinging() {
    let mut lab = Lab::steady(HaConfig::default(), cluster(&[1, 2, 3], &[]), &[], 3);
    lab.run_until(secs(100));
    lab.mgmt_cut.insert(h(3));
    lab.run_until(secs(150));
    let check = lab.first(h(3), |e| *e == HaEvent::IsolationCheckStarted).expect("check started");
    let declared = lab.first(h(3), |e| *e == HaEvent::IsolationDeclared).expect("declared");
    assert_eq!(declared.saturating_since(check), Duration::from_secs(5));
    assert_between(Some(declared), 105, 108);
}

#[test]
fn a_host_whose_isolation_address_still_answers_is_partitioned_not_isolated() {
    let mut lab = Lab::steady(HaConfig::default(), cluster(&[1, 2, 3], &[7]), &[(7, 2)], 3);
    lab.run_until(secs(100));
    lab.groups = vec![[h(2)].into(), [h(1), h(3)].into()];
    lab.run_until(secs(300));
    assert!(lab.first(h(2), |e| *e == HaEvent::IsolationCheckStarted).is_some());
    assert!(lab.first(h(2), |e| *e == HaEvent::IsolationDeclared).is_none());
    let partitioned = HaEvent::HostDeclared { host: h(2), state: HostState::Partitioned };
    assert!(lab.first(h(3), |e| *e == partitioned).is_some());
    assert_eq!(lab.hosts_of(vm(7)), [h(2)].into());
}

#[test]
fn power_off_is_applied_thirty_seconds_after_isolation_is_declared_and_the_master_restarts_the_vm() {
    let lab = isolate_slave(with_response(IsolationResponse::PowerOffAndRestart), 250);
    let declared = lab.first(h(2), |e| *e == HaEvent::IsolationDeclared).expect("declared");
    let powered_off = lab.outputs(|o| *o == HaOutput::PowerOffVm { vm: vm(7) });
    assert_eq!(powered_off, vec![(declared + Duration::from_secs(30), h(2))]);
    let isolated = HaEvent::HostDeclared { host: h(2), state: HostState::Isolated };
    assert!(lab.first(h(3), |e| *e == isolated).is_some());
    let restarted = lab.first(h(3), |e| matches!(e, HaEvent::RestartSucceeded { .. })).expect("restarted");
    assert!(restarted > declared + Duration::from_secs(30));
    assert_eq!(lab.hosts_of(vm(7)).len(), 1);
    assert!(!lab.hosts_of(vm(7)).contains(&h(2)));
}

#[test]
fn leave_powered_on_keeps_the_vm_running_on_the_isolated_host_and_nothing_restarts_it() {
    let lab = isolate_slave(HaConfig::default(), 400);
    let left = HaEvent::IsolationResponse {
        vm: vm(7),
        response: IsolationResponse::LeavePoweredOn,
        outcome: ResponseOutcome::LeftPoweredOn,
    };
    assert_between(lab.first(h(2), |e| *e == left), 160, 161);
    assert!(lab.outputs(|o| matches!(o, HaOutput::PowerOffVm { .. })).is_empty());
    assert!(lab.first(h(3), |e| matches!(e, HaEvent::RestartAttempted { .. })).is_none());
    assert_eq!(lab.hosts_of(vm(7)), [h(2)].into());
}

#[test]
fn shutdown_powers_the_vm_off_when_the_guest_has_not_shut_down_three_hundred_seconds_later() {
    let mut lab = Lab::steady(
        with_response(IsolationResponse::ShutdownAndRestart),
        cluster(&[1, 2, 3], &[7]),
        &[(7, 2)],
        3,
    );
    lab.shutdown_hangs = true;
    lab.run_until(secs(100));
    lab.mgmt_cut.insert(h(2));
    lab.run_until(secs(600));
    let (shutdown, _) = lab.outputs(|o| *o == HaOutput::ShutdownGuest { vm: vm(7) })[0];
    let timed_out = lab.first(h(2), |e| *e == HaEvent::ShutdownTimedOut { vm: vm(7) }).expect("timed out");
    assert_eq!(timed_out.saturating_since(shutdown), Duration::from_secs(300));
    assert_eq!(lab.outputs(|o| *o == HaOutput::PowerOffVm { vm: vm(7) }), vec![(timed_out, h(2))]);
    assert!(!lab.hosts_of(vm(7)).contains(&h(2)));
}

#[test]
fn a_guest_that_shuts_down_in_time_is_not_powered_off_and_is_restarted_elsewhere() {
    let lab = isolate_slave(with_response(IsolationResponse::ShutdownAndRestart), 300);
    assert!(lab.outputs(|o| *o == HaOutput::PowerOffVm { vm: vm(7) }).is_empty());
    assert!(lab.first(h(2), |e| matches!(e, HaEvent::ShutdownTimedOut { .. })).is_none());
    assert!(lab.first(h(3), |e| matches!(e, HaEvent::RestartSucceeded { .. })).is_some());
    assert_eq!(lab.hosts_of(vm(7)).len(), 1);
}

#[test]
fn a_vm_with_restart_priority_disabled_gets_no_isolation_response() {
    let mut spec = cluster(&[1, 2, 3], &[7]);
    spec.vms.get_mut(&vm(7)).unwrap().restart_priority = RestartPriority::Disabled;
    let mut lab = Lab::steady(with_response(IsolationResponse::PowerOffAndRestart), spec, &[(7, 2)], 3);
    lab.run_until(secs(100));
    lab.mgmt_cut.insert(h(2));
    lab.run_until(secs(300));
    let disabled = |e: &HaEvent| {
        matches!(e, HaEvent::IsolationResponse { outcome: ResponseOutcome::RestartDisabled, .. })
    };
    assert!(lab.first(h(2), disabled).is_some());
    assert!(lab.outputs(|o| matches!(o, HaOutput::PowerOffVm { .. })).is_empty());
}

#[test]
fn a_lone_isolated_host_keeps_its_vm_when_no_master_owns_its_datastore() {
    let mut lab = Lab::steady(
        with_response(IsolationResponse::PowerOffAndRestart),
        cluster(&[1, 2], &[7]),
        &[(7, 2)],
        2,
    );
    lab.run_until(secs(100));
    lab.power_off(h(1));
    lab.mgmt_cut.insert(h(2));
    lab.run_until(secs(300));
    assert!(lab.agents[&h(2)].is_isolated());
    let nobody = |e: &HaEvent| {
        matches!(e, HaEvent::IsolationResponse { outcome: ResponseOutcome::NoMasterResponsible, .. })
    };
    assert!(lab.first(h(2), nobody).is_some());
    assert_eq!(lab.hosts_of(vm(7)), [h(2)].into());
}

#[test]
fn isolation_ends_when_the_isolation_address_answers_again_and_no_response_follows() {
    let mut lab = isolate_slave(with_response(IsolationResponse::PowerOffAndRestart), 140);
    assert!(lab.agents[&h(2)].is_isolated());
    lab.mgmt_cut.remove(&h(2));
    lab.run_until(secs(300));
    assert!(lab.first(h(2), |e| *e == HaEvent::IsolationEnded).is_some());
    assert!(!lab.agents[&h(2)].is_isolated());
    assert!(lab.outputs(|o| matches!(o, HaOutput::PowerOffVm { .. })).is_empty());
}
