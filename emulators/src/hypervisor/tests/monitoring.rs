//! VM monitoring resets, and VM component protection for APD and PDL.

use super::*;

fn monitored() -> HaConfig {
    HaConfig { vm_monitoring: VmMonitoringConfig::high(), ..HaConfig::default() }
}

/// vm7 on host 2, its Tools heartbeat stopped at `stop` s, with `io` active or not.
fn hung_guest(config: HaConfig, stop: u64, io: bool, until: u64) -> Lab {
    let mut lab = Lab::steady(config, cluster(&[1, 2, 3], &[7]), &[(7, 2)], 3);
    lab.run_until(secs(stop));
    lab.input(h(2), HaInput::VmIo { vm: vm(7), active: io });
    lab.input(h(2), HaInput::ToolsHeartbeat { vm: vm(7), beating: false });
    lab.run_until(secs(until));
    lab
}

fn resets(lab: &Lab) -> Vec<SimTime> {
    lab.outputs(|o| *o == HaOutput::ResetVm { vm: vm(7) }).into_iter().map(|(at, _)| at).collect()
}

#[test]
fn vm_monitoring_resets_a_vm_one_failure_interval_after_its_tools_heartbeat_stopped_without_io() {
    let lab = hung_guest(monitored(), 500, false, 700);
    assert_eq!(resets(&lab), vec![secs(620)], "120 s of no I/O, then the 30 s interval had passed");
}

#[test]
fn vm_monitoring_resets_at_the_failure_interval_when_io_stopped_long_before() {
    let mut lab = Lab::steady(monitored(), cluster(&[1, 2, 3], &[7]), &[(7, 2)], 3);
    lab.run_until(secs(300));
    lab.input(h(2), HaInput::VmIo { vm: vm(7), active: false });
    lab.run_until(secs(500));
    lab.input(h(2), HaInput::ToolsHeartbeat { vm: vm(7), beating: false });
    lab.run_until(secs(600));
    assert_eq!(resets(&lab), vec![secs(530)]);
}

#[test]
fn vm_monitoring_does_not_reset_a_vm_that_still_does_io() {
    let lab = hung_guest(monitored(), 500, true, 900);
    assert!(resets(&lab).is_empty());
    let io = HaEvent::VmMonitoringSuppressed { vm: vm(7), reason: ResetSuppressed::IoActive };
    assert!(lab.first(h(2), |e| *e == io).is_some());
}

#[test]
fn vm_monitoring_is_off_by_default() {
    let lab = hung_guest(HaConfig::default(), 500, false, 900);
    assert!(resets(&lab).is_empty());
}

#[test]
fn vm_monitoring_waits_for_the_minimum_uptime_after_a_reset_and_stops_after_three_resets_in_the_window() {
    let lab = hung_guest(monitored(), 500, false, 2_000);
    assert_eq!(resets(&lab), vec![secs(620), secs(740), secs(860)], "each after 120 s of uptime");
    let max = HaEvent::VmMonitoringSuppressed { vm: vm(7), reason: ResetSuppressed::MaxResets };
    assert_between(lab.first(h(2), |e| *e == max), 980, 980);
    let uptime = HaEvent::VmMonitoringSuppressed { vm: vm(7), reason: ResetSuppressed::MinUptime };
    assert!(lab.first(h(2), |e| *e == uptime).is_some());
}

#[test]
fn vm_monitoring_resets_again_once_the_window_has_passed() {
    let lab = hung_guest(monitored(), 500, false, 4_300);
    assert_eq!(resets(&lab).len(), 4);
    assert_eq!(resets(&lab)[3], secs(4_220), "an hour after the first reset");
}

fn vmcp(apd: ApdResponse, pdl: PdlResponse) -> HaConfig {
    let vmcp = VmcpConfig { apd_response: apd, pdl_response: pdl, ..VmcpConfig::default() };
    HaConfig { vmcp, ..HaConfig::default() }
}

/// vm7 (home ds1) on host 2; host 2 loses ds1 at 100 s with `state`.
fn storage_loss(config: HaConfig, state: DatastoreState, until: u64) -> Lab {
    let mut lab = Lab::steady(config, cluster(&[1, 2, 3], &[7]), &[(7, 2)], 3);
    lab.run_until(secs(100));
    lab.input(h(2), HaInput::Datastore { datastore: DS1, state });
    lab.run_until(secs(until));
    lab
}

#[test]
fn an_apd_times_out_after_140_seconds_and_the_vm_is_terminated_180_seconds_later_and_restarted_elsewhere() {
    let config = vmcp(ApdResponse::RestartConservative, PdlResponse::Disabled);
    let lab = storage_loss(config, DatastoreState::AllPathsDown, 500);
    assert_between(lab.first(h(2), |e| *e == HaEvent::ApdTimeout { datastore: DS1 }), 240, 240);
    assert_eq!(lab.outputs(|o| *o == HaOutput::PowerOffVm { vm: vm(7) }), vec![(secs(420), h(2))]);
    let restarted = lab.first(h(3), |e| matches!(e, HaEvent::RestartSucceeded { host, .. } if *host != h(2)));
    assert_between(restarted, 420, 422);
    assert_eq!(lab.hosts_of(vm(7)).len(), 1);
}

#[test]
fn a_slave_whose_vmcp_terminates_a_vm_no_longer_lists_it_in_the_heartbeat_of_that_tick() {
    // A heartbeat that still listed the VM could reach the master after the `RestartElsewhere` and
    // cancel the restart.
    let config = vmcp(ApdResponse::RestartConservative, PdlResponse::Disabled);
    let lab = storage_loss(config, DatastoreState::AllPathsDown, 500);
    let lists_vm7 = |o: &HaOutput| matches!(o, HaOutput::Send { message: Message::Heartbeat { vms, .. }, .. } if vms.contains(&vm(7)));
    let last_listing =
        lab.outputs(lists_vm7).into_iter().filter(|&(_, host)| host == h(2)).map(|(at, _)| at).max();
    assert!(last_listing.is_some_and(|at| at < secs(420)), "last heartbeat listing vm7: {last_listing:?}");
}

#[test]
fn a_conservative_apd_response_does_not_terminate_a_vm_when_no_other_host_could_restart_it() {
    let config = vmcp(ApdResponse::RestartConservative, PdlResponse::Disabled);
    let mut lab = Lab::steady(config, cluster(&[1, 2], &[7]), &[(7, 2)], 2);
    lab.run_until(secs(50));
    lab.power_off(h(1));
    lab.run_until(secs(100));
    lab.input(h(2), HaInput::Datastore { datastore: DS1, state: DatastoreState::AllPathsDown });
    lab.run_until(secs(500));
    assert!(lab.outputs(|o| matches!(o, HaOutput::PowerOffVm { .. })).is_empty());
    assert!(lab.first(h(2), |e| matches!(e, HaEvent::VmcpWarning { .. })).is_some());
}

#[test]
fn an_apd_that_clears_before_the_failover_delay_terminates_nothing_and_resets_only_when_asked() {
    for (reaction, expected_resets) in [(ApdClearedReaction::None, 0), (ApdClearedReaction::Reset, 1)] {
        let mut config = vmcp(ApdResponse::RestartAggressive, PdlResponse::Disabled);
        config.vmcp.apd_cleared = reaction;
        let mut lab = storage_loss(config, DatastoreState::AllPathsDown, 300);
        lab.input(h(2), HaInput::Datastore { datastore: DS1, state: DatastoreState::Accessible });
        lab.run_until(secs(800));
        assert!(lab.outputs(|o| matches!(o, HaOutput::PowerOffVm { .. })).is_empty());
        assert_eq!(resets(&lab).len(), expected_resets, "{reaction:?}");
    }
}

#[test]
fn a_pdl_powers_the_vm_off_at_once_and_the_master_restarts_it_where_the_datastore_is_reachable() {
    let lab = storage_loss(
        vmcp(ApdResponse::Disabled, PdlResponse::PowerOffAndRestart),
        DatastoreState::PermanentDeviceLoss,
        200,
    );
    assert_eq!(lab.outputs(|o| *o == HaOutput::PowerOffVm { vm: vm(7) }), vec![(secs(100), h(2))]);
    assert_between(lab.first(h(3), |e| matches!(e, HaEvent::RestartSucceeded { .. })), 100, 102);
    assert!(!lab.hosts_of(vm(7)).contains(&h(2)));
}

#[test]
fn vmcp_is_off_by_default_and_leaves_the_vm_on_its_failed_storage() {
    for state in [DatastoreState::AllPathsDown, DatastoreState::PermanentDeviceLoss] {
        let lab = storage_loss(HaConfig::default(), state, 800);
        assert!(lab.outputs(|o| matches!(o, HaOutput::PowerOffVm { .. })).is_empty());
        assert_eq!(lab.hosts_of(vm(7)), [h(2)].into());
    }
}
