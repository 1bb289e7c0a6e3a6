//! Masking and discovery timing (domain.md 4.1).

use super::*;

const MINUTE: Duration = Duration::from_secs(60);

fn nine_luns(enumeration: Enumeration) -> Array {
    let config = ArrayConfig { enumeration, probe_delay: 10 * MINUTE, ..ArrayConfig::default() };
    let luns = (0..9).map(|id| lun_config(id, vec![A])).collect();
    Array::new(config, luns, SeedTree::new(1).stream("san"))
}

fn minutes(n: u64) -> SimTime {
    SimTime::from_secs(n * 60)
}

#[test]
fn serial_enumeration_of_nine_luns_at_ten_minutes_each_shows_the_last_after_ninety_minutes() {
    let mut array = nine_luns(Enumeration::Serial);
    array.host_rebooted(A);
    assert!(!array.is_presented(SimTime::ZERO, A, LunId(0)), "a rebooted host has discovered nothing");
    let visible = array.rescan(SimTime::ZERO, A);
    let expected: Vec<(LunId, SimTime)> =
        (0..9).map(|id| (LunId(id), minutes(10 * (u64::from(id) + 1)))).collect();
    assert_eq!(visible, expected);
    assert!(!array.is_presented(minutes(90) - Duration::from_nanos(1), A, LunId(8)));
    assert!(array.is_presented(minutes(90), A, LunId(8)));
    assert_eq!(array.take_events().len(), 9, "one Presented event per LUN");
}

#[test]
fn parallel_enumeration_of_nine_luns_at_ten_minutes_each_shows_them_all_after_ten_minutes() {
    let mut array = nine_luns(Enumeration::Parallel);
    array.host_rebooted(A);
    let visible = array.rescan(SimTime::ZERO, A);
    assert_eq!(visible.len(), 9);
    assert!(visible.iter().all(|&(_, at)| at == minutes(10)), "{visible:?}");
}

#[test]
fn a_lun_not_yet_discovered_answers_lun_not_presented_until_its_probe_finishes() {
    let mut array = nine_luns(Enumeration::Serial);
    array.host_rebooted(A);
    array.rescan(SimTime::ZERO, A);
    let submit = |array: &mut Array, now| array.submit(now, path(A, 0), LunId(1), Command::TestUnitReady, 0);
    assert_eq!(submit(&mut array, minutes(19)), Submitted::Answered(check(Sense::LunNotPresented)));
    assert!(matches!(submit(&mut array, minutes(20)), Submitted::Accepted { .. }));
    let missing = array.submit(SimTime::ZERO, path(A, 0), LunId(50), Command::Inquiry, 0);
    assert_eq!(missing, Submitted::Answered(check(Sense::LunNotPresented)));
}

#[test]
fn presenting_a_lun_to_a_new_host_waits_for_the_mapping_then_the_probe() {
    let mut rig = Rig::new();
    let d = HostId(4);
    assert_eq!(rig.write(path(d, 0), 0, 1), check(Sense::LunNotPresented));
    assert_eq!(
        rig.array.take_events(),
        vec![ArrayEvent::WriteRejected {
            lun: LUN,
            nexus: path(d, 0),
            reason: RejectReason::LunNotPresented,
            epoch: 1
        }]
    );
    assert_eq!(rig.array.present(t(1_000), d, LUN), Some(t(1_000 + 2_000 + 100)));
    assert_eq!(rig.array.take_events(), vec![ArrayEvent::Presented { lun: LUN, host: d }]);
    assert!(!rig.array.is_presented(t(3_099), d, LUN));
    assert!(rig.array.is_presented(t(3_100), d, LUN));
    assert_eq!(rig.array.present(t(2_000), d, LUN), Some(t(3_100)), "asking again waits for the same probe");
    assert_eq!(rig.array.present(t(5_000), d, LUN), Some(t(5_000)), "already visible: now");
    assert!(rig.array.take_events().is_empty());
    assert_eq!(rig.array.present(t(0), d, LunId(9)), None);
}

#[test]
fn a_rebooted_host_keeps_its_mapping_so_its_rescan_needs_only_the_probe() {
    let mut rig = Rig::new();
    let d = HostId(4);
    rig.array.present(t(0), d, LUN);
    rig.array.host_rebooted(d);
    assert!(!rig.array.is_presented(t(10_000), d, LUN));
    assert_eq!(rig.array.rescan(t(10_000), d), vec![(LUN, t(10_100))]);
}

#[test]
fn serial_probes_queue_behind_each_other_across_hosts() {
    let mut rig = Rig::new();
    rig.array.host_rebooted(A);
    rig.array.host_rebooted(B);
    assert_eq!(rig.array.rescan(t(0), A), vec![(LUN, t(100))]);
    assert_eq!(rig.array.rescan(t(50), B), vec![(LUN, t(200))]);
    assert_eq!(rig.array.rescan(t(500), C), vec![(LUN, t(500))], "C never forgot the LUN");
}
