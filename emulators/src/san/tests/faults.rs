//! Reboots, power, controllers, LUN state, latency and corruption, each with its inverse.

use super::*;

const BOOT: Duration = Duration::from_secs(60);

fn fenced_rig(aptpl: bool) -> Rig {
    let mut rig = Rig::new();
    rig.pr(path(A, 0), PrOut::Register { key: 0, service_action_key: KEY_A, aptpl });
    rig.reserve(path(A, 0), KEY_A, WERO);
    rig.register(path(B, 0), KEY_B);
    // The last REGISTER governs APTPL, so B repeats A's choice.
    rig.pr(path(B, 0), PrOut::Register { key: KEY_B, service_action_key: KEY_B, aptpl });
    rig.pr(path(A, 0), PrOut::PreemptAndAbort { key: KEY_A, victim_key: KEY_B, kind: WERO });
    rig.run(path(B, 0), Command::TestUnitReady); // consumes B's REGISTRATIONS PREEMPTED
    rig.array.take_events();
    rig
}

fn power_on_reset() -> Status {
    check(Sense::UnitAttention(UnitAttention::PowerOnReset))
}

#[test]
fn with_aptpl_registrations_and_the_reservation_survive_a_controller_reboot() {
    let mut rig = fenced_rig(true);
    rig.array.reboot_controllers(rig.now);
    assert!(
        !rig.array.take_events().iter().any(|event| matches!(event, ArrayEvent::ReservationsLost { .. }))
    );
    rig.now += BOOT;
    assert_eq!(rig.array.reservation(LUN), Some((KEY_A, WERO)));
    assert_eq!(rig.array.registrations(LUN), vec![(path(A, 0), KEY_A)]);
    assert_eq!(rig.write(path(B, 0), 0, 1), power_on_reset(), "every nexus still hears of the reset");
    assert_eq!(rig.write(path(B, 0), 0, 1), Status::ReservationConflict, "B is still fenced");
}

#[test]
fn without_aptpl_a_controller_reboot_loses_the_reservation_and_silently_unfences_the_victim() {
    let mut rig = fenced_rig(false);
    rig.array.reboot_controllers(rig.now);
    assert_eq!(
        rig.array.take_events(),
        vec![ArrayEvent::ReservationsLost { lun: LUN, reason: ResetCause::Reboot }]
    );
    rig.now += BOOT;
    assert_eq!(rig.array.reservation(LUN), None);
    assert!(rig.array.registrations(LUN).is_empty());
    for nexus in [path(A, 0), path(A, 1), path(B, 0), path(C, 1)] {
        assert_eq!(rig.run(nexus, Command::TestUnitReady), power_on_reset(), "{nexus}");
        assert_eq!(rig.run(nexus, Command::TestUnitReady), good(), "{nexus} is told once");
    }
    assert!(rig.write(path(B, 0), 0, 1).is_good(), "the fenced node writes again");
}

#[test]
fn the_most_recent_register_decides_whether_reservations_persist() {
    let mut rig = Rig::new();
    rig.pr(path(A, 0), PrOut::Register { key: 0, service_action_key: KEY_A, aptpl: true });
    rig.reserve(path(A, 0), KEY_A, WERO);
    rig.pr(path(B, 0), PrOut::Register { key: 0, service_action_key: KEY_B, aptpl: false });
    rig.array.power_loss(rig.now);
    assert_eq!(rig.array.reservation(LUN), None);
}

#[test]
fn a_rebooting_array_answers_nothing_until_its_controllers_have_booted() {
    let mut rig = Rig::new();
    rig.array.reboot_controllers(t(1_000));
    let at = |rig: &mut Rig, now| rig.array.submit(now, path(A, 0), LUN, Command::TestUnitReady, 0);
    assert_eq!(at(&mut rig, t(60_999)), Submitted::NoResponse);
    assert_eq!(at(&mut rig, t(61_000)), Submitted::Answered(power_on_reset()));
}

#[test]
fn a_reboot_aborts_every_task_in_flight() {
    let mut rig = Rig::new();
    let (task, done) = rig.start_write(path(A, 0), 0, 1, 3);
    rig.array.reboot_controllers(rig.now);
    assert_eq!(
        rig.array.take_events(),
        vec![ArrayEvent::TaskAborted { lun: LUN, nexus: path(A, 0), tag: 3, by: AbortCause::Reboot }]
    );
    assert_eq!(rig.array.complete(done, task), None);
    assert_eq!(rig.array.block(LUN, 0), None);
    assert_eq!(rig.array.pending_tasks(), 0);
}

#[test]
fn an_array_without_power_answers_nothing_until_powered_on_and_booted() {
    let mut rig = Rig::new();
    rig.array.power_loss(t(0));
    let at = |rig: &mut Rig, now| rig.array.submit(now, path(A, 0), LUN, Command::TestUnitReady, 0);
    assert_eq!(at(&mut rig, t(3_600_000)), Submitted::NoResponse);
    rig.array.power_on(t(3_600_000));
    assert_eq!(at(&mut rig, t(3_600_000) + BOOT - Duration::from_nanos(1)), Submitted::NoResponse);
    assert_eq!(at(&mut rig, t(3_600_000) + BOOT), Submitted::Answered(power_on_reset()));
}

#[test]
fn power_loss_lands_a_random_prefix_of_a_multi_block_write_in_flight() {
    let mut torn = 0;
    for seed in 0..40 {
        let mut rig = Rig::seeded(ArrayConfig::default(), seed);
        let data: Vec<BlockContent> = (0..8).map(|i| content(A, 100 + i)).collect();
        let write = Command::Write { lba: 16, data: data.clone(), fua: false };
        accepted(rig.array.submit(rig.now, path(A, 0), LUN, write, 4));
        rig.array.power_loss(rig.now);
        let events = rig.array.take_events();
        let landed: Vec<BlockContent> = rig.array.blocks(LUN).map(|(_, block)| block).collect();
        assert_eq!(landed, data[..landed.len()], "seed {seed}: only a prefix lands");
        assert_eq!(
            events.last(),
            Some(&ArrayEvent::TaskAborted { lun: LUN, nexus: path(A, 0), tag: 4, by: AbortCause::PowerLoss })
        );
        if (1..8).contains(&landed.len()) {
            torn += 1;
            let expected = u32::try_from(landed.len()).expect("small");
            assert!(
                events.contains(&ArrayEvent::TornWrite {
                    lun: LUN,
                    lba: 16,
                    applied_blocks: expected,
                    of_blocks: 8
                }),
                "seed {seed}: {events:?}"
            );
        } else {
            assert!(!events.iter().any(|event| matches!(event, ArrayEvent::TornWrite { .. })));
        }
    }
    assert!(torn > 20, "only {torn} of 40 writes were torn");
}

#[test]
fn with_a_volatile_cache_a_non_fua_write_in_flight_at_power_loss_leaves_nothing() {
    let mut rig = Rig::with(ArrayConfig { write_cache: WriteCache::Volatile, ..ArrayConfig::default() });
    let data: Vec<BlockContent> = (0..8).map(|i| content(A, i)).collect();
    accepted(rig.array.submit(rig.now, path(A, 0), LUN, Command::Write { lba: 0, data, fua: false }, 0));
    rig.array.power_loss(rig.now);
    assert_eq!(rig.array.blocks(LUN).count(), 0);
}

#[test]
fn an_initiator_losing_power_may_tear_its_writes_but_its_other_tasks_complete() {
    let mut torn_or_dropped = 0;
    for seed in 0..20 {
        let mut rig = Rig::seeded(ArrayConfig::default(), seed);
        let data: Vec<BlockContent> = (0..4).map(|i| content(A, i)).collect();
        let (write, write_done) = accepted(rig.array.submit(
            rig.now,
            path(A, 0),
            LUN,
            Command::Write { lba: 0, data, fua: false },
            1,
        ));
        let (read, read_done) =
            accepted(rig.array.submit(rig.now, path(A, 1), LUN, Command::Read { lba: 0, blocks: 1 }, 2));
        let (other, other_done) = rig.start_write(path(B, 0), 9, 5, 3);
        rig.array.initiator_power_loss(rig.now, A);
        assert_eq!(rig.array.complete(write_done, write), None);
        assert!(rig.array.complete(read_done, read).is_some());
        assert!(rig.array.complete(other_done, other).is_some(), "another host's write is untouched");
        assert_eq!(rig.array.block(LUN, 9), Some(content(B, 5)));
        let landed = rig.array.blocks(LUN).filter(|&(lba, _)| lba < 4).count();
        if landed < 4 {
            torn_or_dropped += 1;
        }
        assert!(rig.array.take_events().contains(&ArrayEvent::TaskAborted {
            lun: LUN,
            nexus: path(A, 0),
            tag: 1,
            by: AbortCause::InitiatorPowerLoss
        }));
    }
    assert!(torn_or_dropped > 10, "only {torn_or_dropped} of 20 writes were torn or dropped");
}

#[test]
fn a_write_to_a_read_only_lun_gets_data_protect_until_it_is_writable_again() {
    let mut rig = Rig::new();
    rig.array.set_read_only(LUN, true);
    assert_eq!(rig.write(path(A, 0), 0, 1), check(Sense::DataProtect));
    assert_eq!(
        rig.array.take_events(),
        vec![ArrayEvent::WriteRejected {
            lun: LUN,
            nexus: path(A, 0),
            reason: RejectReason::ReadOnly,
            epoch: 1
        }]
    );
    assert!(rig.read(path(A, 0), 0).is_good(), "reads still work");
    rig.array.set_read_only(LUN, false);
    assert!(rig.write(path(A, 0), 0, 1).is_good());
}

#[test]
fn a_lun_declared_read_only_refuses_writes_from_the_start() {
    let mut config = lun_config(0, vec![A]);
    config.read_only = true;
    let mut array = Array::new(ArrayConfig::default(), vec![config], SeedTree::new(1).stream("san"));
    let write = Command::Write { lba: 0, data: vec![content(A, 1)], fua: false };
    assert_eq!(array.submit(t(0), path(A, 0), LUN, write, 0), Submitted::Answered(check(Sense::DataProtect)));
}

#[test]
fn an_offline_lun_answers_not_ready_until_it_is_back_online() {
    let mut rig = Rig::new();
    rig.array.set_lun_offline(LUN, true);
    assert_eq!(rig.read(path(A, 0), 0), check(Sense::NotReady));
    assert_eq!(rig.run(path(A, 0), Command::TestUnitReady), check(Sense::NotReady));
    rig.array.set_lun_offline(LUN, false);
    assert!(rig.read(path(A, 0), 0).is_good());
}

#[test]
fn a_down_controller_answers_nothing_while_the_other_path_still_works() {
    let mut rig = Rig::new();
    let (task, done) = rig.start_write(path(A, 0), 0, 1, 6);
    rig.array.set_controller_up(ControllerId(0), false);
    assert_eq!(rig.array.complete(done, task), None, "the task died with its controller");
    assert_eq!(rig.array.submit(rig.now, path(A, 0), LUN, Command::TestUnitReady, 0), Submitted::NoResponse);
    assert!(rig.write(path(A, 1), 0, 2).is_good());
    assert_eq!(rig.array.submit(rig.now, path(A, 0), LUN, Command::Inquiry, 0), Submitted::NoResponse);
    rig.array.set_controller_up(ControllerId(0), true);
    assert!(rig.write(path(A, 0), 0, 3).is_good());
    assert_eq!(
        rig.array.submit(rig.now, path(A, 7), LUN, Command::Inquiry, 0),
        Submitted::NoResponse,
        "no such port"
    );
}

#[test]
fn the_latency_fault_slows_data_commands_but_not_reservation_commands_and_heals_at_zero() {
    let mut rig = Rig::new();
    rig.array.set_latency(None, Duration::from_secs(2));
    let (_, done) = accepted(rig.array.submit(t(0), path(A, 0), LUN, Command::Read { lba: 0, blocks: 1 }, 0));
    assert_eq!(done, t(2_001));
    let (_, done) = rig.start_write(path(A, 0), 0, 1, 0);
    assert_eq!(done, t(2_001));
    let keys = Command::PrIn(PrIn::ReadKeys);
    assert_eq!(accepted(rig.array.submit(t(0), path(A, 0), LUN, keys, 0)).1, t(1));
    rig.array.set_latency(Some(LUN), Duration::ZERO);
    let (_, done) = accepted(rig.array.submit(t(0), path(A, 0), LUN, Command::Read { lba: 0, blocks: 1 }, 0));
    assert_eq!(done, t(1));
}

#[test]
fn a_corrupt_block_reads_back_a_payload_nobody_wrote() {
    let mut rig = Rig::new();
    rig.write(path(A, 0), 3, 77);
    rig.array.corrupt_block(LUN, 3);
    match rig.read(path(B, 0), 3) {
        Status::Good(Reply::Data(blocks)) => {
            let block = blocks[0].expect("still written");
            assert_ne!(block.payload, 77);
            assert_eq!(block.writer, A);
        }
        other => panic!("read answered {other:?}"),
    }
}

#[test]
fn a_unit_attention_storm_fails_the_next_command_of_every_nexus_once() {
    let mut rig = Rig::new();
    rig.array.raise_unit_attention(None, UnitAttention::ReportedLunsDataChanged);
    let changed = check(Sense::UnitAttention(UnitAttention::ReportedLunsDataChanged));
    for nexus in [path(A, 0), path(A, 1), path(C, 1)] {
        assert_eq!(rig.read(nexus, 0), changed, "{nexus}");
        assert!(rig.read(nexus, 0).is_good());
    }
}

#[test]
fn a_unit_attention_fails_a_write_and_records_why() {
    let mut rig = Rig::new();
    rig.array.raise_unit_attention(Some(LUN), UnitAttention::ReportedLunsDataChanged);
    rig.write(path(A, 0), 0, 1);
    assert_eq!(
        rig.array.take_events(),
        vec![ArrayEvent::WriteRejected {
            lun: LUN,
            nexus: path(A, 0),
            reason: RejectReason::UnitAttention,
            epoch: 1
        }]
    );
}
