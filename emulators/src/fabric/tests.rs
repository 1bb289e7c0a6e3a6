//! Behaviour of the fabric on its own: timing, queueing, loss, every fault and its inverse, determinism.

use super::*;

const A: HostId = HostId(1);
const B: HostId = HostId(2);
const C: HostId = HostId(3);

/// A fabric with one network of `spec` on which A, B and C each have a NIC.
fn fabric_with(spec: NetworkSpec) -> (Fabric, NetworkId) {
    let mut fabric = Fabric::new(&SeedTree::new(42));
    let network = fabric.add_network(spec);
    for host in [A, B, C] {
        fabric.attach(host, network);
    }
    (fabric, network)
}

/// A LAN without jitter, so delivery times are exact.
fn quiet_lan(name: &str) -> NetworkSpec {
    NetworkSpec { jitter: Duration::ZERO, ..NetworkSpec::lan(name) }
}

fn delivered_at(outcome: Transmission) -> SimTime {
    match outcome {
        Transmission::Delivered { at } => at,
        Transmission::Dropped(reason) => panic!("expected delivery, frame dropped: {reason}"),
    }
}

fn is_delivered(outcome: Transmission) -> bool {
    matches!(outcome, Transmission::Delivered { .. })
}

#[test]
fn delivery_takes_serialisation_plus_latency_plus_jitter_within_its_bounds() {
    let (mut fabric, lan) = fabric_with(NetworkSpec::lan("public"));
    // 1500 bytes at 1 Gbit/s serialise in 12 us.
    let floor = Duration::from_micros(200 + 12);
    let ceiling = floor + Duration::from_micros(50);
    let mut delays = BTreeSet::new();
    for i in 0..1_000 {
        // One frame per millisecond, so no frame queues behind another.
        let now = SimTime::from_millis(i);
        let delay = delivered_at(fabric.transmit(now, A, B, lan, 1_500)) - now;
        assert!(floor <= delay && delay <= ceiling, "delay {delay:?} outside [{floor:?}, {ceiling:?}]");
        delays.insert(delay);
    }
    assert!(delays.len() > 100, "jitter should vary the delay, got {} distinct values", delays.len());
}

#[test]
fn a_frame_is_delayed_by_its_size_over_the_bandwidth() {
    let (mut fabric, lan) = fabric_with(quiet_lan("public"));
    let now = SimTime::from_secs(1);
    let small = delivered_at(fabric.transmit(now, A, B, lan, 125)) - now;
    let large = delivered_at(fabric.transmit(now + Duration::from_secs(1), A, C, lan, 1_250)) - now;
    // 125 bytes = 1000 bits = 1 us at 1 Gbit/s; 1250 bytes take 10 us.
    assert_eq!(small, Duration::from_micros(201));
    assert_eq!(large - Duration::from_secs(1), Duration::from_micros(210));
}

#[test]
fn a_large_frame_on_a_slow_wan_delays_the_frame_queued_behind_it() {
    // The MTU is raised so a 1 MB frame is legal; the point here is queueing, not MTU.
    let spec = NetworkSpec { jitter: Duration::ZERO, mtu_bytes: 2_000_000, ..NetworkSpec::wan("wan") };
    let (mut fabric, wan) = fabric_with(spec);
    let now = SimTime::from_secs(10);
    let log = delivered_at(fabric.transmit(now, A, B, wan, 1_000_000));
    let heartbeat = delivered_at(fabric.transmit(now, A, B, wan, 100));
    // 8,000,000 bits at 45 Mbit/s take 177.777... ms, rounded up to the nanosecond.
    let log_serialisation = Duration::from_nanos(177_777_778);
    assert_eq!(log, now + log_serialisation + Duration::from_millis(20));
    // The heartbeat waits for the log to leave the NIC, then needs its own 800 bits (17.778 us).
    assert_eq!(heartbeat, now + log_serialisation + Duration::from_nanos(17_778) + Duration::from_millis(20));
    // The reverse direction is a different link with its own queue.
    let reply = delivered_at(fabric.transmit(now, B, A, wan, 100));
    assert_eq!(reply, now + Duration::from_nanos(17_778) + Duration::from_millis(20));
}

#[test]
fn a_link_that_has_drained_its_queue_sends_immediately_again() {
    let (mut fabric, lan) = fabric_with(quiet_lan("public"));
    fabric.transmit(SimTime::ZERO, A, B, lan, 1_500);
    let later = SimTime::from_millis(5);
    assert_eq!(delivered_at(fabric.transmit(later, A, B, lan, 125)), later + Duration::from_micros(201));
}

#[test]
fn loss_drops_roughly_the_configured_share_of_frames() {
    let (mut fabric, lan) = fabric_with(NetworkSpec { loss_probability: 0.1, ..NetworkSpec::lan("lossy") });
    for i in 0..10_000 {
        fabric.transmit(SimTime::from_millis(i), A, B, lan, 200);
    }
    let lost = fabric.stats().dropped(DropReason::Loss);
    assert!((900..1_100).contains(&lost), "{lost} of 10000 frames lost at p = 0.1");
    assert_eq!(fabric.stats().delivered + lost, 10_000);
}

#[test]
fn link_loss_applies_to_its_direction_only_and_zero_removes_it() {
    let (mut fabric, lan) = fabric_with(NetworkSpec::lan("public"));
    fabric.set_link_loss(A, B, lan, 1.0);
    assert_eq!(fabric.transmit(SimTime::ZERO, A, B, lan, 200), Transmission::Dropped(DropReason::Loss));
    assert!(is_delivered(fabric.transmit(SimTime::ZERO, B, A, lan, 200)));
    fabric.set_link_loss(A, B, lan, 0.0);
    assert!(is_delivered(fabric.transmit(SimTime::from_secs(1), A, B, lan, 200)));
}

#[test]
fn network_loss_applies_to_every_link_of_the_network() {
    let (mut fabric, lan) = fabric_with(NetworkSpec::lan("public"));
    fabric.set_network_loss(lan, 1.0);
    for (from, to) in [(A, B), (B, A), (A, C), (C, B)] {
        assert_eq!(
            fabric.transmit(SimTime::ZERO, from, to, lan, 200),
            Transmission::Dropped(DropReason::Loss)
        );
    }
    fabric.set_network_loss(lan, 0.0);
    assert!(is_delivered(fabric.transmit(SimTime::from_secs(1), A, B, lan, 200)));
}

#[test]
fn a_one_way_cut_drops_frames_in_that_direction_only() {
    let (mut fabric, lan) = fabric_with(NetworkSpec::lan("private"));
    fabric.cut_link(A, B, lan, Direction::Forward);
    assert_eq!(fabric.transmit(SimTime::ZERO, A, B, lan, 200), Transmission::Dropped(DropReason::LinkCut));
    assert!(is_delivered(fabric.transmit(SimTime::ZERO, B, A, lan, 200)));
    assert!(is_delivered(fabric.transmit(SimTime::ZERO, A, C, lan, 200)));
    assert_eq!(fabric.path_state(A, B, lan), PathState::Down(DropReason::LinkCut));
    assert_eq!(fabric.path_state(B, A, lan), PathState::Up);

    fabric.heal_link(A, B, lan, Direction::Forward);
    assert!(is_delivered(fabric.transmit(SimTime::from_secs(1), A, B, lan, 200)));
}

#[test]
fn a_cut_in_both_directions_isolates_the_pair_until_healed() {
    let (mut fabric, lan) = fabric_with(NetworkSpec::lan("private"));
    fabric.cut_link(A, B, lan, Direction::Both);
    assert_eq!(fabric.path_state(A, B, lan), PathState::Down(DropReason::LinkCut));
    assert_eq!(fabric.path_state(B, A, lan), PathState::Down(DropReason::LinkCut));
    assert_eq!(fabric.path_state(A, C, lan), PathState::Up);
    fabric.heal_link(B, A, lan, Direction::Both);
    assert_eq!(fabric.path_state(A, B, lan), PathState::Up);
    assert_eq!(fabric.path_state(B, A, lan), PathState::Up);
}

#[test]
fn a_downed_nic_stops_traffic_both_ways_on_that_network_only() {
    let mut fabric = Fabric::new(&SeedTree::new(1));
    let public = fabric.add_network(NetworkSpec::lan("public"));
    let private = fabric.add_network(NetworkSpec::lan("private"));
    for host in [A, B] {
        fabric.attach(host, public);
        fabric.attach(host, private);
    }
    fabric.set_nic_up(A, private, false);
    assert_eq!(
        fabric.transmit(SimTime::ZERO, A, B, private, 100),
        Transmission::Dropped(DropReason::NicDown)
    );
    assert_eq!(
        fabric.transmit(SimTime::ZERO, B, A, private, 100),
        Transmission::Dropped(DropReason::NicDown)
    );
    assert!(is_delivered(fabric.transmit(SimTime::ZERO, A, B, public, 100)));

    fabric.set_nic_up(A, private, true);
    assert!(is_delivered(fabric.transmit(SimTime::from_secs(1), A, B, private, 100)));
}

#[test]
fn a_host_without_a_nic_on_the_network_cannot_send_or_receive_there() {
    let mut fabric = Fabric::new(&SeedTree::new(1));
    let iscsi = fabric.add_network(NetworkSpec::lan("iscsi-a"));
    fabric.attach(A, iscsi);
    assert_eq!(fabric.transmit(SimTime::ZERO, A, B, iscsi, 100), Transmission::Dropped(DropReason::NoNic));
    assert_eq!(fabric.transmit(SimTime::ZERO, B, A, iscsi, 100), Transmission::Dropped(DropReason::NoNic));
    assert_eq!(fabric.path_mtu_bytes(A, B, iscsi), None);
    assert!(fabric.has_nic(A, iscsi));
    assert!(!fabric.has_nic(B, iscsi));
}

#[test]
fn multi_homed_hosts_share_the_networks_where_both_have_a_nic_in_id_order() {
    let mut fabric = Fabric::new(&SeedTree::new(1));
    let public = fabric.add_network(NetworkSpec::lan("public"));
    let iscsi = fabric.add_network(NetworkSpec::lan("iscsi-a"));
    let private = fabric.add_network(NetworkSpec::lan("private"));
    fabric.attach(A, private);
    fabric.attach(A, public);
    fabric.attach(A, iscsi);
    fabric.attach(B, private);
    fabric.attach(B, public);
    assert_eq!(fabric.networks_between(A, B), vec![public, private]);
    assert_eq!(fabric.networks_between(B, A), vec![public, private]);
    assert_eq!(fabric.networks_between(A, C), Vec::<NetworkId>::new());
    assert_eq!(fabric.network_id("private"), Some(private));
    assert_eq!(fabric.network_id("wan"), None);
    assert_eq!(fabric.hosts_on(public), vec![A, B]);
    assert_eq!(fabric.spec(iscsi).name, "iscsi-a");
}

#[test]
fn losing_a_switch_takes_down_every_link_of_every_network_behind_it() {
    let mut fabric = Fabric::new(&SeedTree::new(1));
    let public = fabric.add_network(NetworkSpec::lan("public").via_switch("core-1"));
    let private = fabric.add_network(NetworkSpec::lan("private").via_switch("core-1"));
    let iscsi = fabric.add_network(NetworkSpec::lan("iscsi-a").via_switch("storage-1"));
    for host in [A, B, C] {
        for network in [public, private, iscsi] {
            fabric.attach(host, network);
        }
    }
    fabric.set_switch_up("core-1", false);
    assert!(!fabric.is_switch_up("core-1"));
    for network in [public, private] {
        for (from, to) in [(A, B), (B, A), (A, C), (C, B)] {
            assert_eq!(fabric.path_state(from, to, network), PathState::Down(DropReason::SwitchDown));
            assert_eq!(
                fabric.transmit(SimTime::ZERO, from, to, network, 100),
                Transmission::Dropped(DropReason::SwitchDown)
            );
        }
    }
    assert!(is_delivered(fabric.transmit(SimTime::ZERO, A, B, iscsi, 100)));

    fabric.set_switch_up("core-1", true);
    assert_eq!(fabric.path_state(A, B, public), PathState::Up);
    assert!(is_delivered(fabric.transmit(SimTime::from_secs(1), A, B, private, 100)));
}

#[test]
fn an_mtu_mismatch_drops_large_frames_but_passes_small_heartbeats() {
    let (mut fabric, jumbo) = fabric_with(NetworkSpec { mtu_bytes: 9_000, ..NetworkSpec::lan("iscsi-a") });
    assert!(is_delivered(fabric.transmit(SimTime::ZERO, A, B, jumbo, 8_972)));

    fabric.set_mtu_override(B, jumbo, Some(1_500));
    let at = SimTime::from_secs(1);
    assert_eq!(fabric.transmit(at, A, B, jumbo, 8_972), Transmission::Dropped(DropReason::MtuExceeded));
    assert_eq!(fabric.transmit(at, B, A, jumbo, 8_972), Transmission::Dropped(DropReason::MtuExceeded));
    assert!(is_delivered(fabric.transmit(at, A, B, jumbo, 1_500)));
    assert!(is_delivered(fabric.transmit(at, B, A, jumbo, 64)));
    // Hosts that do not talk to B keep their jumbo frames.
    assert!(is_delivered(fabric.transmit(at, A, C, jumbo, 8_972)));
    // It is a gray failure: the path is up as far as ground truth is concerned, just narrower.
    assert_eq!(fabric.path_state(A, B, jumbo), PathState::Up);
    assert_eq!(fabric.path_mtu_bytes(A, B, jumbo), Some(1_500));
    assert_eq!(fabric.path_mtu_bytes(A, C, jumbo), Some(9_000));

    fabric.set_mtu_override(B, jumbo, None);
    assert!(is_delivered(fabric.transmit(SimTime::from_secs(2), A, B, jumbo, 8_972)));
}

#[test]
fn a_frame_larger_than_the_network_mtu_is_dropped_not_fragmented() {
    let (mut fabric, lan) = fabric_with(NetworkSpec::lan("public"));
    assert_eq!(
        fabric.transmit(SimTime::ZERO, A, B, lan, 1_501),
        Transmission::Dropped(DropReason::MtuExceeded)
    );
    assert!(is_delivered(fabric.transmit(SimTime::ZERO, A, B, lan, 1_500)));
}

#[test]
fn a_link_mtu_override_narrows_one_direction_only() {
    let (mut fabric, jumbo) =
        fabric_with(NetworkSpec { mtu_bytes: 9_000, ..NetworkSpec::lan("replication") });
    fabric.set_link_mtu_override(A, B, jumbo, Some(1_500));
    assert_eq!(
        fabric.transmit(SimTime::ZERO, A, B, jumbo, 9_000),
        Transmission::Dropped(DropReason::MtuExceeded)
    );
    assert!(is_delivered(fabric.transmit(SimTime::ZERO, B, A, jumbo, 9_000)));
    fabric.set_link_mtu_override(A, B, jumbo, None);
    assert!(is_delivered(fabric.transmit(SimTime::from_secs(1), A, B, jumbo, 9_000)));
}

#[test]
fn a_latency_spike_adds_to_every_frame_until_cleared() {
    let (mut fabric, lan) = fabric_with(quiet_lan("public"));
    let base = delivered_at(fabric.transmit(SimTime::ZERO, A, B, lan, 125)) - SimTime::ZERO;
    fabric.set_latency_spike(lan, Duration::from_millis(300));
    let now = SimTime::from_secs(1);
    assert_eq!(delivered_at(fabric.transmit(now, A, B, lan, 125)) - now, base + Duration::from_millis(300));
    assert_eq!(delivered_at(fabric.transmit(now, C, A, lan, 125)) - now, base + Duration::from_millis(300));
    fabric.set_latency_spike(lan, Duration::ZERO);
    let later = SimTime::from_secs(2);
    assert_eq!(delivered_at(fabric.transmit(later, A, B, lan, 125)) - later, base);
}

#[test]
fn a_bandwidth_cut_slows_serialisation_until_restored() {
    let spec = NetworkSpec { jitter: Duration::ZERO, ..NetworkSpec::wan("wan") };
    let (mut fabric, wan) = fabric_with(spec);
    let now = SimTime::from_secs(1);
    // 1500 bytes at 45 Mbit/s: 266.667 us.
    assert_eq!(
        delivered_at(fabric.transmit(now, A, B, wan, 1_500)) - now,
        Duration::from_millis(20) + Duration::from_nanos(266_667)
    );
    fabric.set_bandwidth(wan, 1_500_000);
    let later = SimTime::from_secs(2);
    // At 1.5 Mbit/s the same frame takes 8 ms.
    assert_eq!(delivered_at(fabric.transmit(later, A, B, wan, 1_500)) - later, Duration::from_millis(28));
    fabric.set_bandwidth(wan, 45_000_000);
    let restored = SimTime::from_secs(3);
    assert_eq!(
        delivered_at(fabric.transmit(restored, A, B, wan, 1_500)) - restored,
        Duration::from_millis(20) + Duration::from_nanos(266_667)
    );
}

#[test]
fn heal_all_restores_every_fault_to_the_spec() {
    let mut fabric = Fabric::new(&SeedTree::new(9));
    let lan = fabric
        .add_network(NetworkSpec { jitter: Duration::ZERO, ..NetworkSpec::lan("lan").via_switch("sw") });
    let other = fabric.add_network(NetworkSpec { jitter: Duration::ZERO, ..NetworkSpec::lan("other") });
    for host in [A, B, C] {
        fabric.attach(host, lan);
        fabric.attach(host, other);
    }
    let now = SimTime::from_secs(1);
    let healthy = delivered_at(fabric.transmit(now, A, B, other, 1_000)) - now;

    fabric.set_nic_up(C, lan, false);
    fabric.cut_link(A, B, lan, Direction::Both);
    fabric.set_link_loss(B, C, other, 1.0);
    fabric.set_network_loss(other, 1.0);
    fabric.set_latency_spike(other, Duration::from_secs(1));
    fabric.set_mtu_override(A, other, Some(500));
    fabric.set_link_mtu_override(C, A, other, Some(500));
    fabric.set_bandwidth(other, 1_000);
    fabric.set_switch_up("sw", false);

    fabric.heal_all();
    assert!(fabric.is_switch_up("sw"));
    for network in [lan, other] {
        for (from, to) in [(A, B), (B, A), (A, C), (C, A), (B, C), (C, B)] {
            assert_eq!(fabric.path_state(from, to, network), PathState::Up);
        }
    }
    let later = SimTime::from_secs(2);
    assert_eq!(delivered_at(fabric.transmit(later, A, B, other, 1_000)) - later, healthy);
    assert!(is_delivered(fabric.transmit(later, B, C, other, 1_000)));
    assert!(is_delivered(fabric.transmit(later, C, A, other, 1_000)));
    assert!(is_delivered(fabric.transmit(later, A, C, lan, 1_000)));
}

/// Sends the same traffic pattern through a fresh fabric and returns every outcome.
fn run_pattern(seed: u64) -> Vec<Transmission> {
    let mut fabric = Fabric::new(&SeedTree::new(seed));
    let lan = fabric.add_network(NetworkSpec { loss_probability: 0.05, ..NetworkSpec::lan("lan") });
    let wan = fabric.add_network(NetworkSpec::wan("wan"));
    for host in [A, B, C] {
        fabric.attach(host, lan);
        fabric.attach(host, wan);
    }
    let mut outcomes = Vec::new();
    for i in 0..500u64 {
        // Every 150 us, so the WAN link (200 bytes take 35.6 us) sometimes still queues.
        let now = SimTime::from_nanos(i * 150_000);
        outcomes.push(fabric.transmit(now, A, B, lan, 1_400));
        outcomes.push(fabric.transmit(now, C, A, wan, 200));
    }
    outcomes
}

#[test]
fn two_fabrics_with_the_same_seed_decide_identically() {
    assert_eq!(run_pattern(7), run_pattern(7));
}

#[test]
fn a_different_seed_gives_different_jitter() {
    assert_ne!(run_pattern(7), run_pattern(8));
}

#[test]
fn traffic_on_one_link_does_not_change_what_another_link_draws() {
    let quiet = {
        let (mut fabric, lan) = fabric_with(NetworkSpec::lan("lan"));
        (0..50).map(|i| fabric.transmit(SimTime::from_millis(i), A, B, lan, 100)).collect::<Vec<_>>()
    };
    let busy = {
        let (mut fabric, lan) = fabric_with(NetworkSpec::lan("lan"));
        (0..50)
            .map(|i| {
                // Interleave traffic on other links, including the reverse direction.
                fabric.transmit(SimTime::from_millis(i), B, A, lan, 100);
                fabric.transmit(SimTime::from_millis(i), A, C, lan, 100);
                fabric.transmit(SimTime::from_millis(i), A, B, lan, 100)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(quiet, busy);
}

#[test]
fn querying_path_state_draws_no_randomness() {
    let pattern = |query: bool| {
        let (mut fabric, lan) = fabric_with(NetworkSpec::lan("lan"));
        (0..20)
            .map(|i| {
                if query {
                    assert_eq!(fabric.path_state(A, B, lan), PathState::Up);
                }
                fabric.transmit(SimTime::from_millis(i), A, B, lan, 100)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(pattern(false), pattern(true));
}

#[test]
fn stats_count_every_decided_frame_by_outcome() {
    let (mut fabric, lan) = fabric_with(NetworkSpec::lan("lan"));
    fabric.transmit(SimTime::ZERO, A, B, lan, 100);
    fabric.transmit(SimTime::ZERO, A, B, lan, 9_000);
    fabric.cut_link(A, C, lan, Direction::Forward);
    fabric.transmit(SimTime::ZERO, A, C, lan, 100);
    fabric.transmit(SimTime::ZERO, A, HostId(99), lan, 100);
    let stats = fabric.stats();
    assert_eq!(stats.delivered, 1);
    assert_eq!(stats.dropped(DropReason::MtuExceeded), 1);
    assert_eq!(stats.dropped(DropReason::LinkCut), 1);
    assert_eq!(stats.dropped(DropReason::NoNic), 1);
    assert_eq!(stats.dropped_total(), 3);
}

#[test]
fn a_frame_lost_on_the_wire_still_occupied_the_link() {
    let spec = NetworkSpec { jitter: Duration::ZERO, mtu_bytes: 2_000_000, ..NetworkSpec::wan("wan") };
    let (mut fabric, wan) = fabric_with(spec);
    let now = SimTime::from_secs(1);
    fabric.set_link_loss(A, B, wan, 1.0);
    assert_eq!(fabric.transmit(now, A, B, wan, 1_000_000), Transmission::Dropped(DropReason::Loss));
    fabric.set_link_loss(A, B, wan, 0.0);
    let heartbeat = delivered_at(fabric.transmit(now, A, B, wan, 100));
    assert!(heartbeat > now + Duration::from_millis(177), "the heartbeat should queue behind the lost frame");
}

#[test]
fn a_frame_stopped_by_a_fault_never_reaches_the_wire() {
    let spec = NetworkSpec { jitter: Duration::ZERO, ..NetworkSpec::wan("wan") };
    let (mut fabric, wan) = fabric_with(spec);
    let now = SimTime::from_secs(1);
    fabric.cut_link(A, B, wan, Direction::Forward);
    fabric.transmit(now, A, B, wan, 1_500);
    fabric.heal_link(A, B, wan, Direction::Forward);
    // 100 bytes at 45 Mbit/s: 17.778 us, with nothing queued ahead.
    let heartbeat = delivered_at(fabric.transmit(now, A, B, wan, 100));
    assert_eq!(heartbeat, now + Duration::from_nanos(17_778) + Duration::from_millis(20));
}

#[test]
fn each_link_draws_its_jitter_from_the_stream_named_after_it() {
    let (mut fabric, lan) = fabric_with(NetworkSpec::lan("public"));
    let mut expected_stream = SeedTree::new(42).stream("link/public/host1->host2");
    for i in 0..10 {
        let now = SimTime::from_millis(i);
        // 100 bytes at 1 Gbit/s take 800 ns.
        let expected = now
            + Duration::from_nanos(800)
            + Duration::from_micros(200)
            + expected_stream.duration_up_to(Duration::from_micros(50));
        assert_eq!(delivered_at(fabric.transmit(now, A, B, lan, 100)), expected);
    }
}

#[test]
fn the_two_directions_of_a_link_draw_different_jitter() {
    let (mut fabric, lan) = fabric_with(NetworkSpec::lan("public"));
    let mut forward = Vec::new();
    let mut backward = Vec::new();
    for i in 0..20 {
        let now = SimTime::from_millis(i);
        forward.push(delivered_at(fabric.transmit(now, A, B, lan, 100)) - now);
        backward.push(delivered_at(fabric.transmit(now, B, A, lan, 100)) - now);
    }
    assert_ne!(forward, backward);
}

#[test]
fn a_large_message_from_a_jumbo_nic_is_dropped_by_a_smaller_mtu_but_a_heartbeat_passes() {
    let mut fabric = Fabric::new(&SeedTree::new(1));
    let mut spec = NetworkSpec::lan("iscsi");
    spec.mtu_bytes = 9_000;
    let iscsi = fabric.add_network(spec);
    fabric.attach(A, iscsi);
    fabric.attach(B, iscsi);
    fabric.set_mtu_override(B, iscsi, Some(1_500));
    let at = SimTime::ZERO;
    assert_eq!(
        fabric.transmit_message(at, A, B, iscsi, 1 << 20),
        Transmission::Dropped(DropReason::MtuExceeded)
    );
    assert!(matches!(fabric.transmit_message(at, A, B, iscsi, 200), Transmission::Delivered { .. }));
}

#[test]
fn a_large_message_on_matching_mtus_is_delivered_after_its_serialisation_time() {
    let mut fabric = Fabric::new(&SeedTree::new(1));
    let mut spec = NetworkSpec::lan("wan");
    spec.bandwidth_bits_per_second = 8_000_000; // 1 MB/s
    spec.latency = Duration::ZERO;
    spec.jitter = Duration::ZERO;
    let wan = fabric.add_network(spec);
    fabric.attach(A, wan);
    fabric.attach(B, wan);
    match fabric.transmit_message(SimTime::ZERO, A, B, wan, 1_000_000) {
        Transmission::Delivered { at } => assert_eq!(at, SimTime::from_secs(1)),
        other => panic!("expected delivery, got {other:?}"),
    }
}
