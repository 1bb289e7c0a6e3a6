//! VM-VM anti-affinity and VM-Host "must" rules during restarts, and the vMotion stun.

use super::super::vmotion::{Vmotion, VmotionStep};
use super::*;

/// Hosts 1 to 3, master 3. vm1 and vm2 must stay apart; vm1 runs on host 2, vm2 on host 3, and two
/// filler VMs on host 1 make host 3 the least loaded survivor.
fn apart(respect: bool) -> Lab {
    let mut spec = cluster(&[1, 2, 3], &[1, 2, 5, 6]);
    spec.rules.push(PlacementRule::AntiAffinity { vms: [vm(1), vm(2)].into() });
    let config = HaConfig { respect_vm_anti_affinity: respect, ..HaConfig::default() };
    let mut lab = Lab::steady(config, spec, &[(1, 2), (2, 3), (5, 1), (6, 1)], 3);
    lab.run_until(secs(100));
    lab.power_off(h(2));
    lab.run_until(secs(200));
    lab
}

#[test]
fn by_default_ha_ignores_anti_affinity_and_restarts_a_vm_next_to_the_one_it_must_avoid() {
    let lab = apart(false);
    assert_eq!(lab.hosts_of(vm(1)), [h(3)].into());
    assert_eq!(lab.hosts_of(vm(2)), [h(3)].into());
}

#[test]
fn when_told_to_respect_anti_affinity_ha_keeps_the_vms_apart() {
    let lab = apart(true);
    assert_eq!(lab.hosts_of(vm(1)), [h(1)].into());
}

#[test]
fn when_only_hosts_running_its_rival_remain_ha_respecting_anti_affinity_does_not_restart_the_vm() {
    let mut spec = cluster(&[2, 3], &[1, 2]);
    spec.rules.push(PlacementRule::AntiAffinity { vms: [vm(1), vm(2)].into() });
    let config = HaConfig { respect_vm_anti_affinity: true, ..HaConfig::default() };
    let mut lab = Lab::steady(config, spec, &[(1, 2), (2, 3)], 3);
    lab.run_until(secs(100));
    lab.power_off(h(2));
    lab.run_until(secs(300));
    let blocked = HaEvent::RestartBlocked { vm: vm(1), reason: RestartBlock::AntiAffinity };
    assert!(lab.first(h(3), |e| *e == blocked).is_some());
    assert!(lab.hosts_of(vm(1)).is_empty());
}

#[test]
fn a_vm_host_must_rule_decides_where_ha_restarts_the_vm() {
    let mut spec = cluster(&[1, 2, 3, 4], &[1, 5]);
    spec.rules.push(PlacementRule::MustRunOn { vms: [vm(1)].into(), hosts: [h(1), h(2)].into() });
    let mut lab = Lab::steady(HaConfig::default(), spec, &[(1, 2), (5, 1)], 4);
    lab.run_until(secs(100));
    lab.power_off(h(2));
    lab.run_until(secs(200));
    assert_eq!(lab.hosts_of(vm(1)), [h(1)].into(), "the only allowed survivor, though the busiest");
}

#[test]
fn a_vm_whose_must_hosts_are_all_down_is_not_restarted() {
    let mut spec = cluster(&[1, 2, 3], &[1]);
    spec.rules.push(PlacementRule::MustRunOn { vms: [vm(1)].into(), hosts: [h(2)].into() });
    let mut lab = Lab::steady(HaConfig::default(), spec, &[(1, 2)], 3);
    lab.run_until(secs(100));
    lab.power_off(h(2));
    lab.run_until(secs(300));
    let blocked = HaEvent::RestartBlocked { vm: vm(1), reason: RestartBlock::NoCompatibleHost };
    assert!(lab.first(h(3), |e| *e == blocked).is_some());
    assert!(lab.hosts_of(vm(1)).is_empty());
}

#[test]
fn in_a_partition_only_the_master_holding_the_datastore_lock_restarts_a_failed_hosts_vm() {
    let mut lab = Lab::steady(HaConfig::default(), cluster(&[1, 2, 3, 4], &[7]), &[(7, 2)], 4);
    lab.run_until(secs(100));
    lab.groups = vec![[h(2), h(3)].into(), [h(1), h(4)].into()];
    lab.run_until(secs(160));
    assert_eq!(lab.agents[&h(3)].role(), Role::Master, "a second master, in the other partition");
    lab.power_off(h(2));
    lab.run_until(secs(300));
    let not_owned = HaEvent::RestartBlocked { vm: vm(7), reason: RestartBlock::DatastoreNotOwned };
    assert!(lab.first(h(3), |e| *e == not_owned).is_some());
    assert!(lab.first(h(3), |e| matches!(e, HaEvent::RestartAttempted { .. })).is_none());
    assert!(lab.first(h(4), |e| matches!(e, HaEvent::RestartSucceeded { .. })).is_some());
    assert_eq!(lab.hosts_of(vm(7)).len(), 1);
    assert_eq!(lab.storage.owner(lab.now, DS1), Some(h(4)));
}

#[test]
fn a_vmotion_stuns_the_vm_then_resumes_it_on_the_target_with_its_clock_stepped_by_the_stun() {
    let config = VmotionConfig { stun: Duration::from_millis(1_500), clock_step: None };
    let (motion, first) = Vmotion::start(secs(10), vm(7), h(1), h(2), config);
    assert_eq!(first, VmotionStep::Pause { vm: vm(7), host: h(1) });
    assert_eq!(motion.resume_at(), SimTime::from_millis(11_500));
    assert_eq!(
        motion.finish(),
        [
            VmotionStep::Resume { vm: vm(7), host: h(2) },
            VmotionStep::StepGuestClock { vm: vm(7), by: Duration::from_millis(1_500) },
        ]
    );
}

#[test]
fn the_default_vmotion_stun_is_the_half_second_switchover_goal() {
    let (motion, _) = Vmotion::start(SimTime::ZERO, vm(7), h(1), h(2), VmotionConfig::default());
    assert_eq!(motion.resume_at(), SimTime::from_millis(500));
}

#[test]
fn a_vm_arriving_by_vmotion_starts_with_cleared_vm_monitoring_statistics() {
    let config = HaConfig { vm_monitoring: VmMonitoringConfig::high(), ..HaConfig::default() };
    let mut lab = Lab::steady(config, cluster(&[1, 2, 3], &[7]), &[(7, 2)], 3);
    lab.run_until(secs(500));
    lab.input(h(2), HaInput::VmIo { vm: vm(7), active: false });
    lab.input(h(2), HaInput::ToolsHeartbeat { vm: vm(7), beating: false });
    lab.run_until(secs(1_000));
    lab.input(h(2), HaInput::VmPower { vm: vm(7), on: false });
    lab.input(h(1), HaInput::VmPower { vm: vm(7), on: true });
    lab.input(h(1), HaInput::VmIo { vm: vm(7), active: false });
    lab.input(h(1), HaInput::ToolsHeartbeat { vm: vm(7), beating: false });
    lab.run_until(secs(1_200));
    let on_target = lab.outputs(|o| *o == HaOutput::ResetVm { vm: vm(7) });
    assert_eq!(on_target.iter().filter(|(_, host)| *host == h(2)).count(), 3);
    assert_eq!(
        on_target.iter().filter(|(_, host)| *host == h(1)).collect::<Vec<_>>(),
        vec![&(secs(1_120), h(1))]
    );
}
