//! The heartbeat-only workload on turmoil, the baseline the kernel is measured against.
//!
//! Each host is a turmoil host running tokio tasks: one sender that, every [`HEARTBEAT_INTERVAL`] (a
//! `tokio::time::interval`, so rounds start at 0, 1 s, 2 s, ... like the kernel's), sends a small UDP
//! datagram to every peer on every heartbeat path, and one receiver task per path that records when it
//! last heard each peer on that path.
//!
//! DESIGN.md asks for two heartbeat networks, but turmoil gives a host exactly one IP address, so it
//! cannot be multi-homed. Each "network" is therefore a UDP port instead: every host binds one socket per
//! path ([`PATH_PORTS`]) and sends one datagram per peer per path per interval, so turmoil carries exactly
//! as many heartbeats as the kernel's two fabric networks do.
//!
//! Turmoil runs at its default 1 ms tick with an explicit seed and a fixed epoch, so the run is
//! reproducible. Its link latency is fixed at one tick, the closest it comes to a LAN's 200 us. That
//! also matters for the count: turmoil runs the hosts one after another within a tick and hands a
//! zero-latency datagram over within the same tick, so at time zero a host would send to peers that have
//! not bound their sockets yet and lose the first round. With one tick of latency every host has bound
//! before the first heartbeat arrives, and rounds start at time zero exactly as on the kernel.

use super::{HEARTBEAT_INTERVAL, HEARTBEAT_PATHS, HeartbeatRun, HeartbeatWorkload};
use core::time::Duration;
use std::cell::{Cell, RefCell};
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use turmoil::net::UdpSocket;

/// Turmoil's default tick, set explicitly so a change of default cannot silently change the baseline.
pub const TICK: Duration = Duration::from_millis(1);

/// One UDP port per heartbeat path, standing in for one NIC per heartbeat network.
pub const PATH_PORTS: [u16; HEARTBEAT_PATHS] = [7_001, 7_002];

/// 2000-01-01T00:00:00Z: a fixed epoch instead of turmoil's default, the wall clock at build time.
const EPOCH_SECS_SINCE_UNIX: u64 = 946_684_800;

/// A heartbeat datagram: sender index, path, sequence number, little-endian.
const PAYLOAD_BYTES: usize = 16;

/// What every host's receivers record, shared with the loop outside the simulation. Turmoil runs all
/// hosts on this thread, so `Rc` and `RefCell` suffice.
struct Observed {
    hosts: usize,
    received: Cell<u64>,
    /// `[receiver][peer][path]` flattened: the host-elapsed time of the last heartbeat heard.
    last_seen: RefCell<Vec<Option<Duration>>>,
}

impl Observed {
    fn record(&self, receiver: usize, peer: usize, path: usize, now: Duration) {
        if peer >= self.hosts || path >= HEARTBEAT_PATHS {
            return; // not one of our heartbeats
        }
        self.last_seen.borrow_mut()[(receiver * self.hosts + peer) * HEARTBEAT_PATHS + path] = Some(now);
        self.received.set(self.received.get() + 1);
    }

    /// The least recent last-seen time over every (receiver, peer, path) with receiver ≠ peer.
    fn oldest(&self) -> Option<Duration> {
        if self.hosts < 2 {
            return None;
        }
        let last_seen = self.last_seen.borrow();
        let mut oldest = Duration::MAX;
        for receiver in 0..self.hosts {
            for peer in (0..self.hosts).filter(|&peer| peer != receiver) {
                for path in 0..HEARTBEAT_PATHS {
                    oldest = oldest.min(last_seen[(receiver * self.hosts + peer) * HEARTBEAT_PATHS + path]?);
                }
            }
        }
        Some(oldest)
    }
}

/// Runs `workload` on turmoil until `workload.sim_duration` has elapsed and reports what was delivered
/// and how long it took. Building the simulation is part of the measured time, as it is for the kernel.
///
/// # Panics
/// If a host's software fails (a socket cannot be bound): the benchmark would measure nothing.
pub fn run(workload: &HeartbeatWorkload) -> HeartbeatRun {
    let observed = Rc::new(Observed {
        hosts: workload.hosts,
        received: Cell::new(0),
        last_seen: RefCell::new(vec![None; workload.hosts * workload.hosts * HEARTBEAT_PATHS]),
    });
    let (steps, wall) = super::wall_clock(|| simulate(workload, &observed));
    HeartbeatRun {
        heartbeats_received: observed.received.get(),
        oldest_last_seen: observed.oldest(),
        events: steps,
        simulated: workload.sim_duration,
        wall,
    }
}

/// Builds the simulation and steps it to the end; returns the number of steps.
fn simulate(workload: &HeartbeatWorkload, observed: &Rc<Observed>) -> u64 {
    let mut sim = turmoil::Builder::new()
        .tick_duration(TICK)
        .simulation_duration(workload.sim_duration)
        .epoch(std::time::UNIX_EPOCH + Duration::from_secs(EPOCH_SECS_SINCE_UNIX))
        .rng_seed(workload.seed)
        .min_message_latency(TICK)
        .max_message_latency(TICK)
        .build();
    let names: Rc<[String]> = (0..workload.hosts).map(host_name).collect();
    for (me, name) in names.iter().enumerate() {
        let names = Rc::clone(&names);
        let observed = Rc::clone(observed);
        sim.host(name.as_str(), move || heartbeat_host(me, Rc::clone(&names), Rc::clone(&observed)));
    }
    // Hosts never finish, so step by hand rather than `Sim::run` (which waits for clients).
    let mut steps = 0u64;
    while sim.elapsed() < workload.sim_duration {
        sim.step().expect("heartbeat host software failed");
        steps += 1;
    }
    steps
}

/// `host0`, `host1`, ...: the same names the kernel's fabric gives its hosts.
fn host_name(index: usize) -> String {
    format!("host{index}")
}

/// One host's software: a receiver task per path and the sending loop.
async fn heartbeat_host(me: usize, names: Rc<[String]>, observed: Rc<Observed>) -> turmoil::Result {
    let mut sockets = Vec::with_capacity(HEARTBEAT_PATHS);
    for (path, port) in PATH_PORTS.into_iter().enumerate() {
        let socket = Rc::new(UdpSocket::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)).await?);
        tokio::task::spawn_local(receive(me, path, Rc::clone(&socket), Rc::clone(&observed)));
        sockets.push(socket);
    }
    let peers: Vec<IpAddr> = names
        .iter()
        .enumerate()
        .filter(|&(peer, _)| peer != me)
        .map(|(_, name)| turmoil::lookup(name.as_str()))
        .collect();

    let mut ticker = tokio::time::interval(HEARTBEAT_INTERVAL);
    let mut sequence = 0u64;
    loop {
        ticker.tick().await;
        for &peer in &peers {
            for (path, socket) in sockets.iter().enumerate() {
                let payload = encode(me, path, sequence);
                socket.send_to(&payload, (peer, PATH_PORTS[path])).await?;
            }
        }
        sequence += 1;
    }
}

/// Receives heartbeats on one path's socket forever, recording each against its sender.
async fn receive(me: usize, path: usize, socket: Rc<UdpSocket>, observed: Rc<Observed>) -> turmoil::Result {
    let mut buffer = [0u8; 64];
    loop {
        let (length, _from) = socket.recv_from(&mut buffer).await?;
        if let Some((peer, sent_on)) = decode(&buffer[..length])
            && sent_on == path
        {
            observed.record(me, peer, path, turmoil::elapsed());
        }
    }
}

fn encode(sender: usize, path: usize, sequence: u64) -> [u8; PAYLOAD_BYTES] {
    let mut payload = [0u8; PAYLOAD_BYTES];
    payload[0..4].copy_from_slice(&(sender as u32).to_le_bytes());
    payload[4..8].copy_from_slice(&(path as u32).to_le_bytes());
    payload[8..16].copy_from_slice(&sequence.to_le_bytes());
    payload
}

/// The (sender, path) of a heartbeat datagram, or `None` if it is not one.
fn decode(datagram: &[u8]) -> Option<(usize, usize)> {
    let datagram: &[u8; PAYLOAD_BYTES] = datagram.try_into().ok()?;
    let sender = u32::from_le_bytes(datagram[0..4].try_into().ok()?);
    let path = u32::from_le_bytes(datagram[4..8].try_into().ok()?);
    Some((usize::try_from(sender).ok()?, usize::try_from(path).ok()?))
}
