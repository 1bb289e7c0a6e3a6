//! Write cache durability (domain.md 4.3).

use super::*;

fn volatile() -> Rig {
    Rig::with(ArrayConfig { write_cache: WriteCache::Volatile, ..ArrayConfig::default() })
}

#[test]
fn with_a_battery_backed_cache_an_acknowledged_write_survives_power_loss() {
    let mut rig = Rig::new();
    assert!(rig.write(path(A, 0), 5, 1).is_good());
    assert_eq!(rig.array.durable_block(LUN, 5), Some(content(A, 1)));
    rig.array.power_loss(rig.now);
    assert_eq!(rig.array.block(LUN, 5), Some(content(A, 1)));
    assert!(
        !rig.array.take_events().iter().any(|event| matches!(event, ArrayEvent::CachedWritesLost { .. }))
    );
}

#[test]
fn with_a_volatile_cache_an_acknowledged_write_is_lost_on_power_loss_before_it_is_destaged() {
    let mut rig = volatile();
    assert!(rig.write(path(A, 0), 5, 1).is_good());
    assert!(rig.write(path(A, 0), 6, 2).is_good());
    assert_eq!(rig.array.block(LUN, 5), Some(content(A, 1)), "reads see the cache");
    assert_eq!(rig.array.durable_block(LUN, 5), None);
    let applied = rig.array.take_events();
    assert!(matches!(applied[0], ArrayEvent::WriteApplied { durable: false, .. }));
    rig.array.power_loss(rig.now + Duration::from_secs(1));
    assert_eq!(rig.array.block(LUN, 5), None);
    assert_eq!(rig.array.blocks(LUN).count(), 0);
    assert_eq!(rig.array.take_events()[0], ArrayEvent::CachedWritesLost { lun: LUN, blocks: 2 });
}

#[test]
fn with_a_volatile_cache_a_forced_unit_access_write_is_durable_when_acknowledged() {
    let mut rig = volatile();
    let command = Command::Write { lba: 5, data: vec![content(A, 1)], fua: true };
    assert!(rig.run(path(A, 0), command).is_good());
    assert_eq!(rig.array.durable_block(LUN, 5), Some(content(A, 1)));
    rig.array.power_loss(rig.now);
    assert_eq!(rig.array.block(LUN, 5), Some(content(A, 1)));
}

#[test]
fn synchronize_cache_makes_every_cached_write_of_the_lun_durable() {
    let mut rig = volatile();
    rig.write(path(A, 0), 5, 1);
    rig.write(path(B, 0), 6, 2);
    assert!(rig.run(path(A, 0), Command::SynchronizeCache).is_good());
    assert_eq!(rig.array.durable_block(LUN, 6), Some(content(B, 2)));
    rig.array.power_loss(rig.now);
    assert_eq!(rig.array.blocks(LUN).count(), 2);
}

#[test]
fn a_volatile_cache_destages_a_block_one_destage_interval_after_it_was_written() {
    let mut rig = volatile();
    rig.write(path(A, 0), 5, 1);
    let written = rig.now;
    // Any call that is told the time destages what is due; a TEST UNIT READY arriving is one.
    rig.array.submit(written + Duration::from_millis(4_999), path(A, 0), LUN, Command::TestUnitReady, 0);
    assert_eq!(rig.array.durable_block(LUN, 5), None);
    rig.array.submit(written + Duration::from_secs(5), path(A, 0), LUN, Command::TestUnitReady, 0);
    assert_eq!(rig.array.durable_block(LUN, 5), Some(content(A, 1)));
}

#[test]
fn power_loss_destages_whatever_was_due_before_dropping_the_rest() {
    let mut rig = volatile();
    rig.write(path(A, 0), 5, 1);
    rig.now += Duration::from_secs(3);
    rig.write(path(A, 0), 6, 2);
    rig.array.power_loss(rig.now + Duration::from_secs(3));
    assert_eq!(rig.array.blocks(LUN).collect::<Vec<_>>(), vec![(5, content(A, 1))]);
}

#[test]
fn a_controller_reboot_destages_the_cache_so_no_acknowledged_write_is_lost() {
    let mut rig = volatile();
    rig.write(path(A, 0), 5, 1);
    rig.array.reboot_controllers(rig.now);
    assert_eq!(rig.array.durable_block(LUN, 5), Some(content(A, 1)));
    assert!(
        !rig.array.take_events().iter().any(|event| matches!(event, ArrayEvent::CachedWritesLost { .. }))
    );
}
