//! Each PERSISTENT RESERVE OUT service action, and PR IN.

use super::*;

#[test]
fn registering_a_key_shows_it_in_read_keys_once_per_nexus_and_bumps_the_generation() {
    let mut rig = Rig::new();
    assert_eq!(rig.keys(path(C, 0)), (0, vec![]));
    let status = rig.pr(path(A, 0), PrOut::Register { key: 0, service_action_key: KEY_A, aptpl: false });
    assert_eq!(status, good());
    rig.register(path(A, 1), KEY_A);
    rig.register(path(B, 0), KEY_B);
    assert_eq!(rig.keys(path(C, 0)), (3, vec![KEY_A, KEY_A, KEY_B]));
    assert_eq!(
        rig.array.registrations(LUN),
        vec![(path(A, 0), KEY_A), (path(A, 1), KEY_A), (path(B, 0), KEY_B)]
    );
    let events = rig.array.take_events();
    assert_eq!(events[0], ArrayEvent::Registered { lun: LUN, nexus: path(A, 0), key: KEY_A });
    assert_eq!(events.len(), 3);
}

#[test]
fn registering_with_a_key_that_does_not_match_the_current_registration_gets_reservation_conflict() {
    let mut rig = Rig::new();
    let wrong = PrOut::Register { key: 0x99, service_action_key: KEY_A, aptpl: false };
    assert_eq!(rig.pr(path(A, 0), wrong), Status::ReservationConflict, "unregistered: the key must be 0");
    rig.register(path(A, 0), KEY_A);
    assert_eq!(rig.pr(path(A, 0), wrong), Status::ReservationConflict);
    let change = PrOut::Register { key: KEY_A, service_action_key: 0xC, aptpl: false };
    assert_eq!(rig.pr(path(A, 0), change), good());
    assert_eq!(rig.array.registrations(LUN), vec![(path(A, 0), 0xC)]);
}

#[test]
fn registering_a_service_action_key_of_zero_unregisters_the_nexus() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.array.take_events();
    let status = rig.pr(path(A, 0), PrOut::Register { key: KEY_A, service_action_key: 0, aptpl: false });
    assert_eq!(status, good());
    assert!(rig.array.registrations(LUN).is_empty());
    assert_eq!(
        rig.array.take_events(),
        vec![ArrayEvent::Unregistered { lun: LUN, nexus: path(A, 0), key: KEY_A }]
    );
}

#[test]
fn the_holder_unregistering_its_last_path_releases_the_reservation() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.register(path(A, 1), KEY_A);
    rig.reserve(path(A, 0), KEY_A, WERO);
    rig.pr(path(A, 0), PrOut::Register { key: KEY_A, service_action_key: 0, aptpl: false });
    assert_eq!(rig.array.reservation(LUN), Some((KEY_A, WERO)), "A@ctrl1 still holds the key");
    rig.array.take_events();
    rig.pr(path(A, 1), PrOut::Register { key: KEY_A, service_action_key: 0, aptpl: false });
    assert_eq!(rig.array.reservation(LUN), None);
    assert!(rig.array.take_events().contains(&ArrayEvent::Released { lun: LUN, by: path(A, 1), key: KEY_A }));
}

#[test]
fn register_and_ignore_existing_key_replaces_a_key_the_caller_does_not_know() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    let status =
        rig.pr(path(A, 0), PrOut::RegisterIgnoreExistingKey { service_action_key: 0x77, aptpl: false });
    assert_eq!(status, good());
    assert_eq!(rig.array.registrations(LUN), vec![(path(A, 0), 0x77)]);
}

#[test]
fn reserving_from_a_registered_nexus_makes_its_key_the_holder_and_reserving_again_is_harmless() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.array.take_events();
    assert_eq!(rig.pr(path(A, 0), PrOut::Reserve { key: KEY_A, kind: WERO }), good());
    assert_eq!(rig.array.reservation(LUN), Some((KEY_A, WERO)));
    assert_eq!(
        rig.array.take_events(),
        vec![ArrayEvent::Reserved { lun: LUN, nexus: path(A, 0), key: KEY_A, kind: WERO }]
    );
    assert_eq!(rig.pr(path(A, 0), PrOut::Reserve { key: KEY_A, kind: WERO }), good());
    assert!(rig.array.take_events().is_empty(), "a repeated RESERVE changes nothing");
    let other_type = PrOut::Reserve { key: KEY_A, kind: ReservationType::WriteExclusive };
    assert_eq!(rig.pr(path(A, 0), other_type), Status::ReservationConflict);
}

#[test]
fn reserving_from_an_unregistered_nexus_or_with_the_wrong_key_gets_reservation_conflict() {
    let mut rig = Rig::new();
    assert_eq!(rig.pr(path(A, 0), PrOut::Reserve { key: KEY_A, kind: WERO }), Status::ReservationConflict);
    rig.register(path(A, 0), KEY_A);
    assert_eq!(rig.pr(path(A, 0), PrOut::Reserve { key: KEY_B, kind: WERO }), Status::ReservationConflict);
    assert_eq!(rig.array.reservation(LUN), None);
}

#[test]
fn reserving_while_another_key_holds_the_reservation_gets_reservation_conflict() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.register(path(B, 0), KEY_B);
    rig.reserve(path(A, 0), KEY_A, WERO);
    assert_eq!(rig.pr(path(B, 0), PrOut::Reserve { key: KEY_B, kind: WERO }), Status::ReservationConflict);
    assert_eq!(rig.array.reservation(LUN), Some((KEY_A, WERO)));
}

#[test]
fn releasing_as_the_holder_frees_the_reservation_and_tells_the_other_registrants() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.register(path(B, 0), KEY_B);
    rig.reserve(path(A, 0), KEY_A, WERO);
    rig.array.take_events();
    assert_eq!(rig.pr(path(A, 0), PrOut::Release { key: KEY_A, kind: WERO }), good());
    assert_eq!(rig.array.reservation(LUN), None);
    assert_eq!(rig.array.take_events(), vec![ArrayEvent::Released { lun: LUN, by: path(A, 0), key: KEY_A }]);
    assert_eq!(rig.read(path(B, 0), 0), check(Sense::UnitAttention(UnitAttention::ReservationsReleased)));
    assert_eq!(rig.array.pending_unit_attention(LUN, path(A, 0)), None, "the releaser is not told");
}

#[test]
fn releasing_with_the_wrong_type_is_an_illegal_request_and_keeps_the_reservation() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.reserve(path(A, 0), KEY_A, WERO);
    let wrong = PrOut::Release { key: KEY_A, kind: ReservationType::ExclusiveAccess };
    assert_eq!(rig.pr(path(A, 0), wrong), check(Sense::IllegalRequest));
    assert_eq!(rig.array.reservation(LUN), Some((KEY_A, WERO)));
}

#[test]
fn releasing_as_a_registrant_that_does_not_hold_the_reservation_succeeds_without_effect() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.register(path(B, 0), KEY_B);
    rig.reserve(path(A, 0), KEY_A, ReservationType::WriteExclusive);
    assert_eq!(
        rig.pr(path(B, 0), PrOut::Release { key: KEY_B, kind: ReservationType::WriteExclusive }),
        good()
    );
    assert_eq!(rig.array.reservation(LUN), Some((KEY_A, ReservationType::WriteExclusive)));
    let unregistered = PrOut::Release { key: 0x5, kind: ReservationType::WriteExclusive };
    assert_eq!(rig.pr(path(C, 0), unregistered), Status::ReservationConflict);
}

#[test]
fn clearing_removes_every_registration_and_the_reservation_and_tells_the_others() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.register(path(B, 0), KEY_B);
    rig.register(path(B, 1), KEY_B);
    rig.reserve(path(A, 0), KEY_A, WERO);
    let (generation, _) = rig.keys(path(C, 0));
    rig.array.take_events();
    assert_eq!(rig.pr(path(A, 0), PrOut::Clear { key: KEY_A }), good());
    assert!(rig.array.registrations(LUN).is_empty());
    assert_eq!(rig.array.reservation(LUN), None);
    assert_eq!(rig.array.take_events(), vec![ArrayEvent::Cleared { lun: LUN, by: path(A, 0), key: KEY_A }]);
    assert_eq!(rig.keys(path(C, 0)), (generation + 1, vec![]));
    for nexus in [path(B, 0), path(B, 1)] {
        assert_eq!(rig.array.pending_unit_attention(LUN, nexus), Some(UnitAttention::ReservationsReleased));
    }
    assert_eq!(rig.array.pending_unit_attention(LUN, path(A, 0)), None);
}

#[test]
fn clearing_from_an_unregistered_nexus_gets_reservation_conflict() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    assert_eq!(rig.pr(path(C, 0), PrOut::Clear { key: 0 }), Status::ReservationConflict);
    assert_eq!(rig.array.registrations(LUN).len(), 1);
}

#[test]
fn preempting_removes_every_nexus_of_the_victim_key_and_takes_its_reservation() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.register(path(A, 1), KEY_A);
    rig.reserve(path(A, 0), KEY_A, WERO);
    rig.register(path(B, 0), KEY_B);
    let (generation, _) = rig.keys(path(C, 0));
    rig.array.take_events();
    let preempt = PrOut::Preempt { key: KEY_B, victim_key: KEY_A, kind: WERO };
    assert_eq!(rig.pr(path(B, 0), preempt), good());
    assert_eq!(rig.array.registrations(LUN), vec![(path(B, 0), KEY_B)]);
    assert_eq!(rig.array.reservation(LUN), Some((KEY_B, WERO)));
    assert_eq!(
        rig.array.take_events(),
        vec![
            ArrayEvent::Preempted {
                lun: LUN,
                by: path(B, 0),
                key: KEY_B,
                victim_key: KEY_A,
                victims: vec![path(A, 0), path(A, 1)],
                aborted: 0
            },
            ArrayEvent::Reserved { lun: LUN, nexus: path(B, 0), key: KEY_B, kind: WERO },
        ]
    );
    assert_eq!(rig.keys(path(C, 0)).0, generation + 1);
    assert_eq!(
        rig.write(path(A, 1), 0, 1),
        check(Sense::UnitAttention(UnitAttention::RegistrationsPreempted))
    );
    assert_eq!(rig.write(path(A, 1), 0, 1), Status::ReservationConflict, "fenced once the UA is reported");
}

#[test]
fn preempting_a_non_holder_removes_its_registration_but_leaves_the_reservation() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.reserve(path(A, 0), KEY_A, WERO);
    rig.register(path(B, 0), KEY_B);
    assert_eq!(rig.pr(path(A, 0), PrOut::Preempt { key: KEY_A, victim_key: KEY_B, kind: WERO }), good());
    assert_eq!(rig.array.registrations(LUN), vec![(path(A, 0), KEY_A)]);
    assert_eq!(rig.array.reservation(LUN), Some((KEY_A, WERO)));
}

#[test]
fn preempting_a_key_nobody_holds_gets_reservation_conflict_and_key_zero_is_an_illegal_request() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.reserve(path(A, 0), KEY_A, WERO);
    let generation = rig.array.pr_generation(LUN);
    assert_eq!(
        rig.pr(path(A, 0), PrOut::Preempt { key: KEY_A, victim_key: 0x55, kind: WERO }),
        Status::ReservationConflict
    );
    assert_eq!(
        rig.pr(path(A, 0), PrOut::PreemptAndAbort { key: KEY_A, victim_key: 0, kind: WERO }),
        check(Sense::IllegalRequest)
    );
    assert_eq!(
        rig.pr(path(C, 0), PrOut::Preempt { key: 0xC, victim_key: KEY_A, kind: WERO }),
        Status::ReservationConflict
    );
    assert_eq!(rig.array.pr_generation(LUN), generation, "failed preempts change nothing");
    assert_eq!(rig.array.registrations(LUN), vec![(path(A, 0), KEY_A)]);
}

#[test]
fn a_write_accepted_before_a_plain_preempt_still_lands_after_it() {
    let mut rig = Rig::new();
    rig.array.set_latency(Some(LUN), Duration::from_millis(50));
    rig.register(path(A, 0), KEY_A);
    rig.reserve(path(A, 0), KEY_A, WERO);
    rig.register(path(B, 0), KEY_B);
    let (write, write_done) = rig.start_write(path(A, 0), 9, 111, 7);
    let preempt = PrOut::Preempt { key: KEY_B, victim_key: KEY_A, kind: WERO };
    let (pr, pr_done) = accepted(rig.array.submit(rig.now, path(B, 0), LUN, Command::PrOut(preempt), 8));
    assert!(pr_done < write_done, "the preempt finishes while the write is in flight");
    assert_eq!(rig.array.complete(pr_done, pr).map(|done| done.status), Some(good()));
    assert_eq!(rig.array.reservation(LUN), Some((KEY_B, WERO)));
    rig.array.take_events();
    let completion = rig.array.complete(write_done, write).expect("a plain PREEMPT does not abort");
    assert_eq!(completion, Completion { nexus: path(A, 0), lun: LUN, tag: 7, status: good() });
    assert_eq!(rig.array.block(LUN, 9), Some(content(A, 111)));
    assert_eq!(
        rig.array.take_events(),
        vec![ArrayEvent::WriteApplied {
            lun: LUN,
            nexus: path(A, 0),
            key: None,
            holder_at_acceptance: Some(KEY_A),
            lba: 9,
            contents: vec![content(A, 111)],
            durable: true
        }],
        "the write landed from a nexus that no longer had a key"
    );
}

#[test]
fn a_large_write_whose_data_finishes_arriving_after_a_plain_preempt_is_refused_and_never_lands() {
    // The write's first byte left its host before the preempt; the harness submits it once its data has
    // wholly arrived (a 512 MB write is 4.3 s on a 1 Gbit/s link), which is when the array could start
    // executing it, and that is when its nexus is judged: the preempt has removed it by then.
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.reserve(path(A, 0), KEY_A, WERO);
    rig.register(path(B, 0), KEY_B);
    rig.array.take_events();
    let preempt = PrOut::Preempt { key: KEY_B, victim_key: KEY_A, kind: WERO };
    assert_eq!(rig.pr(path(B, 0), preempt), good());
    let data: Vec<BlockContent> = (0..1024).map(|payload| content(A, payload)).collect();
    let arrived = rig.now + Duration::from_millis(4_295);
    let write = Command::Write { lba: 0, data, fua: true };
    let submitted = rig.array.submit(arrived, path(A, 0), LUN, write, 5);
    assert_eq!(
        submitted,
        Submitted::Answered(Status::CheckCondition(Sense::UnitAttention(
            UnitAttention::RegistrationsPreempted
        )))
    );
    let write = Command::Write { lba: 0, data: vec![content(A, 1)], fua: true };
    let submitted = rig.array.submit(arrived, path(A, 0), LUN, write, 6);
    assert_eq!(submitted, Submitted::Answered(Status::ReservationConflict));
    assert_eq!(rig.array.block(LUN, 0), None, "nothing of the fenced write landed");
    assert_eq!(rig.array.pending_tasks(), 0);
    let events = rig.array.take_events();
    assert!(events.iter().all(|event| !matches!(event, ArrayEvent::WriteApplied { .. })), "{events:?}");
}

#[test]
fn preempt_and_abort_kills_the_victims_writes_still_in_flight() {
    let mut rig = Rig::new();
    rig.array.set_latency(Some(LUN), Duration::from_millis(50));
    rig.register(path(A, 0), KEY_A);
    rig.reserve(path(A, 0), KEY_A, WERO);
    rig.register(path(B, 0), KEY_B);
    let (write, write_done) = rig.start_write(path(A, 0), 9, 111, 7);
    let (own, own_done) = rig.start_write(path(B, 0), 10, 222, 9);
    let preempt = PrOut::PreemptAndAbort { key: KEY_B, victim_key: KEY_A, kind: WERO };
    let (pr, pr_done) = accepted(rig.array.submit(rig.now, path(B, 0), LUN, Command::PrOut(preempt), 8));
    rig.array.take_events();
    assert_eq!(rig.array.complete(pr_done, pr).map(|done| done.status), Some(good()));
    let events = rig.array.take_events();
    assert!(matches!(&events[0], ArrayEvent::Preempted { aborted: 1, .. }), "{events:?}");
    assert!(events.contains(&ArrayEvent::TaskAborted {
        lun: LUN,
        nexus: path(A, 0),
        tag: 7,
        by: AbortCause::PreemptAndAbort
    }));
    assert_eq!(rig.array.complete(write_done, write), None);
    assert_eq!(rig.array.block(LUN, 9), None, "the victim's write never landed");
    assert!(rig.array.complete(own_done, own).is_some(), "the preemptor's own write is not aborted");
    assert_eq!(rig.array.block(LUN, 10), Some(content(B, 222)));
}

#[test]
fn a_pr_out_takes_effect_when_it_completes_not_when_it_is_accepted() {
    let mut rig = Rig::new();
    let register = PrOut::RegisterIgnoreExistingKey { service_action_key: KEY_A, aptpl: false };
    let (task, done) = accepted(rig.array.submit(t(0), path(A, 0), LUN, Command::PrOut(register), 0));
    assert_eq!(done, t(1), "pr_service_time is 1 ms");
    assert!(rig.array.registrations(LUN).is_empty());
    rig.array.complete(done, task);
    assert_eq!(rig.array.registrations(LUN), vec![(path(A, 0), KEY_A)]);
}

#[test]
fn a_preempted_nexus_is_told_once_and_inquiry_and_read_keys_do_not_consume_the_unit_attention() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.reserve(path(A, 0), KEY_A, WERO);
    rig.register(path(B, 0), KEY_B);
    rig.pr(path(B, 0), PrOut::PreemptAndAbort { key: KEY_B, victim_key: KEY_A, kind: WERO });
    assert_eq!(rig.run(path(A, 0), Command::Inquiry), good());
    assert_eq!(rig.keys(path(A, 0)).1, vec![KEY_B]);
    let preempted = check(Sense::UnitAttention(UnitAttention::RegistrationsPreempted));
    assert_eq!(rig.run(path(A, 0), Command::TestUnitReady), preempted);
    assert_eq!(rig.run(path(A, 0), Command::TestUnitReady), good());
    assert_eq!(
        rig.read(path(A, 0), 0),
        Status::Good(Reply::Data(vec![None])),
        "WERO lets the fenced node read"
    );
}

#[test]
fn a_write_accepted_before_any_reservation_lands_after_another_key_reserves_and_says_so() {
    // SPC lets any initiator write a LUN nobody reserves; the reservation taken while the write is in
    // flight does not undo its acceptance. The event names the holder at acceptance (none), which is
    // what a checker must judge the write by.
    let mut rig = Rig::new();
    rig.array.set_latency(Some(LUN), Duration::from_millis(50));
    rig.register(path(A, 0), KEY_A);
    rig.register(path(B, 0), KEY_B);
    let (write, write_done) = rig.start_write(path(A, 0), 3, 42, 7);
    let reserve = PrOut::Reserve { key: KEY_B, kind: WERO };
    let (pr, pr_done) = accepted(rig.array.submit(rig.now, path(B, 0), LUN, Command::PrOut(reserve), 8));
    assert!(pr_done < write_done, "the reserve finishes while the write is in flight");
    assert_eq!(rig.array.complete(pr_done, pr).map(|done| done.status), Some(good()));
    rig.array.take_events();
    assert!(rig.array.complete(write_done, write).is_some());
    assert_eq!(
        rig.array.take_events(),
        vec![ArrayEvent::WriteApplied {
            lun: LUN,
            nexus: path(A, 0),
            key: Some(KEY_A),
            holder_at_acceptance: None,
            lba: 3,
            contents: vec![content(A, 42)],
            durable: true
        }]
    );
}
