//! The emulators driven together through their public API only, the way the harness will use them.

use core::time::Duration;
use emulators::HostId;
use emulators::dns::{Dns, DnsConfig};
use emulators::fabric::{Direction, DropReason, Fabric, NetworkSpec, PathState, Transmission};
use emulators::power::Power;
use emulators::witness::{FileShareWitness, WitnessConfig, WitnessOp, WitnessReply};
use kernel::{SeedTree, SimTime};

const NODE_1: HostId = HostId(1);
const NODE_2: HostId = HostId(2);
const FILE_SERVER: HostId = HostId(3);
const CLIENT: HostId = HostId(4);

#[test]
fn a_rack_outage_and_a_heartbeat_cut_play_out_across_every_emulator() {
    let mut fabric = Fabric::new(&SeedTree::new(1));
    let public = fabric.add_network(NetworkSpec::lan("public").via_switch("core"));
    let private = fabric.add_network(NetworkSpec::lan("private"));
    for host in [NODE_1, NODE_2, FILE_SERVER, CLIENT] {
        fabric.attach(host, public);
    }
    fabric.attach(NODE_1, private);
    fabric.attach(NODE_2, private);
    assert_eq!(fabric.networks_between(NODE_1, NODE_2), vec![public, private]);

    let mut power = Power::new();
    power.add_rack("rack-a", &[NODE_1]);
    power.add_rack("rack-b", &[NODE_2, FILE_SERVER]);
    let mut witness = FileShareWitness::new(FILE_SERVER, WitnessConfig::default());
    let mut dns = Dns::new(DnsConfig::default());

    // Node 1 owns the cluster: it holds the witness lock and the network name.
    let now = SimTime::from_secs(1);
    assert!(matches!(witness.request(now, NODE_1, WitnessOp::Acquire), WitnessReply::Granted { .. }));
    dns.register(now, "mbx", NODE_1, None);
    assert_eq!(dns.resolve(now, CLIENT, "mbx"), Some(NODE_1));

    // The private heartbeat network is cut one way; the public network still carries heartbeats.
    fabric.cut_link(NODE_1, NODE_2, private, Direction::Forward);
    assert_eq!(fabric.path_state(NODE_1, NODE_2, private), PathState::Down(DropReason::LinkCut));
    assert!(matches!(fabric.transmit(now, NODE_1, NODE_2, public, 100), Transmission::Delivered { .. }));

    // Rack A loses power: node 1 goes down, the harness crashes it, and node 2 takes over.
    let later = SimTime::from_secs(30);
    assert_eq!(power.rack_power_off(later, "rack-a"), vec![(NODE_1, false)]);
    assert_eq!(witness.holder(later), None, "node 1 stopped renewing 29 s ago");
    assert!(matches!(witness.request(later, NODE_2, WitnessOp::Acquire), WitnessReply::Granted { .. }));
    dns.register(later, "mbx", NODE_2, Some(Duration::from_secs(300)));
    assert_eq!(dns.resolve(later, CLIENT, "mbx"), Some(NODE_1), "the client's cached answer is stale");
    assert_eq!(dns.authoritative(later, "mbx"), Some(NODE_2));

    // Node 2 renews its lease, as a holder does well within the 10 s lease.
    assert!(matches!(
        witness.request(SimTime::from_secs(38), NODE_2, WitnessOp::Renew),
        WitnessReply::Granted { .. }
    ));

    // Power returns: node 1 has rebooted, and its old claim on the witness is refused.
    let restored = SimTime::from_secs(45);
    assert_eq!(power.rack_power_on(restored, "rack-a"), vec![(NODE_1, true)]);
    assert_eq!(power.boot_count(NODE_1), 1);
    assert_eq!(witness.request(restored, NODE_1, WitnessOp::Renew), WitnessReply::Denied { holder: NODE_2 });
    fabric.heal_all();
    assert_eq!(fabric.path_state(NODE_1, NODE_2, private), PathState::Up);
}
