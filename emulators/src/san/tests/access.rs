//! Who may read and write under each reservation type (SPC-3, domain.md 2.1), checked at acceptance.

use super::*;

#[derive(Clone, Copy, Debug)]
enum Who {
    /// A@ctrl0, which registered KEY_A and reserved.
    Holder,
    /// B@ctrl0, registered with KEY_B.
    Registrant,
    /// C@ctrl0, never registered.
    Unregistered,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Read,
    Write,
}

fn check_access(kind: ReservationType, who: Who, op: Op, allowed: bool) {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.reserve(path(A, 0), KEY_A, kind);
    rig.register(path(B, 0), KEY_B);
    let nexus = match who {
        Who::Holder => path(A, 0),
        Who::Registrant => path(B, 0),
        Who::Unregistered => path(C, 0),
    };
    rig.array.take_events();
    let status = match op {
        Op::Read => rig.read(nexus, 3),
        Op::Write => rig.write(nexus, 3, 42),
    };
    let events = rig.array.take_events();
    if allowed {
        assert!(status.is_good(), "{kind:?}: {who:?} {op:?} got {status:?}");
        if let Op::Write = op {
            assert_eq!(rig.array.block(LUN, 3), Some(content(nexus.host, 42)));
        }
    } else {
        assert_eq!(status, Status::ReservationConflict, "{kind:?}: {who:?} {op:?}");
        assert_eq!(rig.array.block(LUN, 3), None, "a refused command changes nothing");
        if let Op::Write = op {
            assert_eq!(
                events,
                vec![ArrayEvent::WriteRejected {
                    lun: LUN,
                    nexus,
                    reason: RejectReason::ReservationConflict,
                    epoch: 1
                }]
            );
        }
    }
}

macro_rules! access {
    ($($name:ident: $kind:ident, $who:ident, $op:ident => $allowed:expr;)*) => {
        $(
            #[test]
            fn $name() {
                check_access(ReservationType::$kind, Who::$who, Op::$op, $allowed);
            }
        )*
    };
}

access! {
    under_write_exclusive_the_holder_may_read: WriteExclusive, Holder, Read => true;
    under_write_exclusive_the_holder_may_write: WriteExclusive, Holder, Write => true;
    under_write_exclusive_another_registrant_may_read: WriteExclusive, Registrant, Read => true;
    under_write_exclusive_another_registrant_may_not_write: WriteExclusive, Registrant, Write => false;
    under_write_exclusive_an_unregistered_nexus_may_read: WriteExclusive, Unregistered, Read => true;
    under_write_exclusive_an_unregistered_nexus_may_not_write: WriteExclusive, Unregistered, Write => false;

    under_exclusive_access_the_holder_may_read: ExclusiveAccess, Holder, Read => true;
    under_exclusive_access_the_holder_may_write: ExclusiveAccess, Holder, Write => true;
    under_exclusive_access_another_registrant_may_not_read: ExclusiveAccess, Registrant, Read => false;
    under_exclusive_access_another_registrant_may_not_write: ExclusiveAccess, Registrant, Write => false;
    under_exclusive_access_an_unregistered_nexus_may_not_read: ExclusiveAccess, Unregistered, Read => false;
    under_exclusive_access_an_unregistered_nexus_may_not_write: ExclusiveAccess, Unregistered, Write => false;

    under_write_exclusive_registrants_only_the_holder_may_read:
        WriteExclusiveRegistrantsOnly, Holder, Read => true;
    under_write_exclusive_registrants_only_the_holder_may_write:
        WriteExclusiveRegistrantsOnly, Holder, Write => true;
    under_write_exclusive_registrants_only_another_registrant_may_read:
        WriteExclusiveRegistrantsOnly, Registrant, Read => true;
    under_write_exclusive_registrants_only_another_registrant_may_write:
        WriteExclusiveRegistrantsOnly, Registrant, Write => true;
    under_write_exclusive_registrants_only_an_unregistered_nexus_may_read:
        WriteExclusiveRegistrantsOnly, Unregistered, Read => true;
    a_write_from_an_unregistered_nexus_under_write_exclusive_registrants_only_gets_reservation_conflict:
        WriteExclusiveRegistrantsOnly, Unregistered, Write => false;

    under_exclusive_access_registrants_only_the_holder_may_read:
        ExclusiveAccessRegistrantsOnly, Holder, Read => true;
    under_exclusive_access_registrants_only_the_holder_may_write:
        ExclusiveAccessRegistrantsOnly, Holder, Write => true;
    under_exclusive_access_registrants_only_another_registrant_may_read:
        ExclusiveAccessRegistrantsOnly, Registrant, Read => true;
    under_exclusive_access_registrants_only_another_registrant_may_write:
        ExclusiveAccessRegistrantsOnly, Registrant, Write => true;
    under_exclusive_access_registrants_only_an_unregistered_nexus_may_not_read:
        ExclusiveAccessRegistrantsOnly, Unregistered, Read => false;
    under_exclusive_access_registrants_only_an_unregistered_nexus_may_not_write:
        ExclusiveAccessRegistrantsOnly, Unregistered, Write => false;

    under_write_exclusive_all_registrants_the_holder_may_read: WriteExclusiveAllRegistrants, Holder, Read => true;
    under_write_exclusive_all_registrants_the_holder_may_write: WriteExclusiveAllRegistrants, Holder, Write => true;
    under_write_exclusive_all_registrants_another_registrant_may_read:
        WriteExclusiveAllRegistrants, Registrant, Read => true;
    under_write_exclusive_all_registrants_another_registrant_may_write:
        WriteExclusiveAllRegistrants, Registrant, Write => true;
    under_write_exclusive_all_registrants_an_unregistered_nexus_may_read:
        WriteExclusiveAllRegistrants, Unregistered, Read => true;
    under_write_exclusive_all_registrants_an_unregistered_nexus_may_not_write:
        WriteExclusiveAllRegistrants, Unregistered, Write => false;

    under_exclusive_access_all_registrants_the_holder_may_read:
        ExclusiveAccessAllRegistrants, Holder, Read => true;
    under_exclusive_access_all_registrants_the_holder_may_write:
        ExclusiveAccessAllRegistrants, Holder, Write => true;
    under_exclusive_access_all_registrants_another_registrant_may_read:
        ExclusiveAccessAllRegistrants, Registrant, Read => true;
    under_exclusive_access_all_registrants_another_registrant_may_write:
        ExclusiveAccessAllRegistrants, Registrant, Write => true;
    under_exclusive_access_all_registrants_an_unregistered_nexus_may_not_read:
        ExclusiveAccessAllRegistrants, Unregistered, Read => false;
    under_exclusive_access_all_registrants_an_unregistered_nexus_may_not_write:
        ExclusiveAccessAllRegistrants, Unregistered, Write => false;
}

#[test]
fn without_a_reservation_registered_and_unregistered_nexuses_alike_read_and_write() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    assert!(rig.write(path(A, 0), 0, 1).is_good());
    assert!(rig.write(path(C, 1), 1, 2).is_good());
    assert!(rig.read(path(C, 1), 0).is_good());
}

#[test]
fn a_holder_writing_down_a_path_it_did_not_register_gets_reservation_conflict() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.reserve(path(A, 0), KEY_A, WERO);
    assert_eq!(rig.write(path(A, 1), 0, 1), Status::ReservationConflict);
    rig.register(path(A, 1), KEY_A);
    assert!(rig.write(path(A, 1), 0, 1).is_good(), "registered on both paths, either may write");
}

#[test]
fn under_write_exclusive_every_path_registered_with_the_holder_key_counts_as_the_holder() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.register(path(A, 1), KEY_A);
    rig.reserve(path(A, 0), KEY_A, ReservationType::WriteExclusive);
    assert!(rig.write(path(A, 1), 0, 1).is_good());
}

#[test]
fn synchronize_cache_from_an_unregistered_nexus_under_write_exclusive_registrants_only_conflicts() {
    let mut rig = Rig::new();
    rig.register(path(A, 0), KEY_A);
    rig.reserve(path(A, 0), KEY_A, WERO);
    assert_eq!(rig.run(path(C, 0), Command::SynchronizeCache), Status::ReservationConflict);
    assert_eq!(rig.run(path(C, 0), Command::TestUnitReady), good(), "TEST UNIT READY is never refused");
    assert_eq!(rig.run(path(C, 0), Command::Inquiry), good());
    assert_eq!(
        rig.run(path(C, 0), Command::PrIn(PrIn::ReadReservation)),
        Status::Good(Reply::Reservation { holder: Some(KEY_A), kind: Some(WERO) })
    );
}
