//! The heartbeat-only workload on our kernel: an [`EventQueue`] and the emulated fabric.
//!
//! Two LAN heartbeat networks (`hb1`, `hb2`), every host attached to both. Every
//! [`HEARTBEAT_INTERVAL`] each host sends one heartbeat frame to every peer on each network; the fabric
//! decides each frame's fate and arrival time ([`Fabric::transmit`]) and the loop schedules its arrival.
//! Receivers record the instant they last heard each (peer, network). Time jumps from event to event,
//! so the idle second between rounds costs nothing.

use super::{HEARTBEAT_FRAME_BYTES, HEARTBEAT_INTERVAL, HEARTBEAT_PATHS, HeartbeatRun, HeartbeatWorkload};
use emulators::fabric::{Fabric, NetworkSpec, Transmission};
use emulators::ids::{HostId, NetworkId};
use kernel::{EventQueue, SeedTree, SimTime};

/// The names of the heartbeat networks, one per path.
const NETWORKS: [&str; HEARTBEAT_PATHS] = ["hb1", "hb2"];

#[derive(Clone, Copy, Debug)]
enum Event {
    /// `host` sends this round's heartbeats and schedules its next round.
    Beat { host: u32 },
    /// A heartbeat from `from` reaches `to` over heartbeat network `path`.
    Arrive { from: u32, to: u32, path: u8 },
}

/// Runs `workload` to its end and reports what was delivered and how long it took.
pub fn run(workload: &HeartbeatWorkload) -> HeartbeatRun {
    let (outcome, wall) = super::wall_clock(|| simulate(workload));
    HeartbeatRun { wall, ..outcome }
}

fn simulate(workload: &HeartbeatWorkload) -> HeartbeatRun {
    let hosts = u32::try_from(workload.hosts).expect("fewer than 2^32 hosts");
    let seeds = SeedTree::new(workload.seed);
    let mut fabric = Fabric::new(&seeds);
    let networks: [NetworkId; HEARTBEAT_PATHS] =
        NETWORKS.map(|name| fabric.add_network(NetworkSpec::lan(name)));
    for host in 0..hosts {
        for &network in &networks {
            fabric.attach(HostId(host), network);
        }
    }

    let mut queue = EventQueue::new();
    for host in 0..hosts {
        queue.schedule(SimTime::ZERO, Event::Beat { host });
    }
    let end = SimTime::ZERO + workload.sim_duration;
    let mut last_seen = LastSeen::new(workload.hosts);
    let mut received = 0u64;

    while queue.peek_time().is_some_and(|at| at < end) {
        let Some((now, event)) = queue.pop() else { break };
        match event {
            Event::Beat { host } => {
                for peer in (0..hosts).filter(|&peer| peer != host) {
                    for (path, &network) in (0u8..).zip(&networks) {
                        match fabric.transmit(now, HostId(host), HostId(peer), network, HEARTBEAT_FRAME_BYTES)
                        {
                            Transmission::Delivered { at } => {
                                queue.schedule(at, Event::Arrive { from: host, to: peer, path });
                            }
                            Transmission::Dropped(_) => {}
                        }
                    }
                }
                queue.schedule(now + HEARTBEAT_INTERVAL, Event::Beat { host });
            }
            Event::Arrive { from, to, path } => {
                last_seen.record(to, from, path, now);
                received += 1;
            }
        }
    }

    HeartbeatRun {
        heartbeats_received: received,
        oldest_last_seen: last_seen.oldest(),
        events: queue.popped(),
        simulated: workload.sim_duration,
        wall: core::time::Duration::ZERO,
    }
}

/// When each receiver last heard each peer on each path, `[receiver][peer][path]` flattened.
struct LastSeen {
    hosts: usize,
    at: Vec<Option<SimTime>>,
}

impl LastSeen {
    fn new(hosts: usize) -> Self {
        LastSeen { hosts, at: vec![None; hosts * hosts * HEARTBEAT_PATHS] }
    }

    fn record(&mut self, receiver: u32, peer: u32, path: u8, now: SimTime) {
        let index = (receiver as usize * self.hosts + peer as usize) * HEARTBEAT_PATHS + usize::from(path);
        self.at[index] = Some(now);
    }

    /// The least recent last-seen instant over every (receiver, peer, path) with receiver ≠ peer.
    fn oldest(&self) -> Option<core::time::Duration> {
        if self.hosts < 2 {
            return None;
        }
        let mut oldest = SimTime::MAX;
        for receiver in 0..self.hosts {
            for peer in (0..self.hosts).filter(|&peer| peer != receiver) {
                for path in 0..HEARTBEAT_PATHS {
                    oldest = oldest.min(self.at[(receiver * self.hosts + peer) * HEARTBEAT_PATHS + path]?);
                }
            }
        }
        Some(oldest - SimTime::ZERO)
    }
}
