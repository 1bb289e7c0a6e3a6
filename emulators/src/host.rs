//! Hosts: whether each host is off, running or paused, and the receive rings of its NICs.
//!
//! This is the one answer to "is this host executing?". Everything the harness runs on a host (the
//! failover node, the hub and its dumpster, the file share witness, the iSCSI initiator) asks it
//! before it handles anything, and packets addressed to a host go through [`Hosts::arrive`]:
//!
//! - **off**: the packet is lost (nothing listens), and power loss empties the rings;
//! - **running**: the packet is delivered;
//! - **paused** (a stunned or suspended VM): the guest runs nothing, so its driver does not drain the
//!   NIC's receive ring. The hypervisor's virtual NIC keeps filling it until it is full; after that
//!   arriving packets are dropped (`DropNewest`, what a full descriptor ring does: there is no buffer
//!   for the frame) or, with `DropOldest`, the oldest is overwritten. On resume the guest drains the
//!   ring in arrival order, so a resumed host first sees packets that may be many seconds old.
//!
//! Power (cords and racks) lives in [`crate::power`]; `Hosts` owns it so that one emulator decides.
//! The hypervisor emulator (a later device) will drive pause and resume for VMs through the same
//! calls.

use crate::ids::{HostId, NetworkId};
use crate::power::Power;
use kernel::SimTime;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Whether a host executes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RunState {
    Off,
    Running,
    Paused,
}

/// What a full receive ring does with one more packet (scenario key `receive_ring_overflow`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RingOverflow {
    /// The arriving packet is dropped (a full descriptor ring has no buffer for it).
    #[default]
    DropNewest,
    /// The oldest queued packet is dropped to make room.
    DropOldest,
}

/// One host's receive rings: `packets` per NIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingConfig {
    /// Receive descriptors per NIC; default 256 (the Linux e1000 driver's `RxDescriptors` default,
    /// and the order of vmxnet3's), so a paused guest holds a few minutes of heartbeats, not hours.
    pub packets: u32,
    pub overflow: RingOverflow,
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig { packets: 256, overflow: RingOverflow::DropNewest }
    }
}

/// What became of a packet that reached a host.
#[derive(Debug, PartialEq, Eq)]
pub enum Arrival<P> {
    /// The host runs: hand the packet to it now.
    Deliver(P),
    /// The host is paused: the packet waits in its NIC's ring.
    Queued,
    /// Lost: the host is off, or its ring was full (with `DropOldest`, the packet dropped is the oldest
    /// one queued, and this one took its place).
    Dropped,
}

/// Ground truth about one host's receive rings, for reports and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingCounts {
    pub queued: u64,
    pub dropped_full: u64,
    pub dropped_off: u64,
}

/// What waited for a host that resumed.
#[derive(Debug, PartialEq, Eq)]
pub struct Resumed<P> {
    /// Every packet its rings held, in arrival order, with the NIC it arrived on.
    pub packets: Vec<(NetworkId, P)>,
    /// Packets its full rings dropped during this pause.
    pub dropped: u64,
}

#[derive(Debug)]
struct HostRuntime<P> {
    config: RingConfig,
    paused_since: Option<SimTime>,
    dropped_this_pause: u64,
    /// Per NIC: (arrival number, packet), oldest first.
    rings: BTreeMap<NetworkId, VecDeque<(u64, P)>>,
    counts: RingCounts,
}

/// The run state of every host of a run, generic over what a packet is.
#[derive(Debug)]
pub struct Hosts<P> {
    power: Power,
    hosts: BTreeMap<HostId, HostRuntime<P>>,
    racks: BTreeSet<String>,
    next_arrival: u64,
}

impl<P> Default for Hosts<P> {
    fn default() -> Self {
        Hosts { power: Power::new(), hosts: BTreeMap::new(), racks: BTreeSet::new(), next_arrival: 0 }
    }
}

impl<P> Hosts<P> {
    pub fn new() -> Self {
        Hosts::default()
    }

    /// Adds a running host with its rings.
    pub fn add_host(&mut self, host: HostId, config: RingConfig) {
        self.power.add_host(host);
        self.hosts.insert(
            host,
            HostRuntime {
                config,
                paused_since: None,
                dropped_this_pause: 0,
                rings: BTreeMap::new(),
                counts: RingCounts::default(),
            },
        );
    }

    /// Adds a powered rack holding `hosts` (see [`Power::add_rack`]).
    pub fn add_rack(&mut self, name: &str, hosts: &[HostId]) {
        self.power.add_rack(name, hosts);
        self.racks.insert(name.to_string());
    }

    pub fn state(&self, host: HostId) -> RunState {
        if !self.power.is_on(host) {
            RunState::Off
        } else if self.runtime(host).paused_since.is_some() {
            RunState::Paused
        } else {
            RunState::Running
        }
    }

    /// Whether the host executes: powered and not paused.
    pub fn is_running(&self, host: HostId) -> bool {
        self.state(host) == RunState::Running
    }

    pub fn is_on(&self, host: HostId) -> bool {
        self.power.is_on(host)
    }

    pub fn boot_count(&self, host: HostId) -> u32 {
        self.power.boot_count(host)
    }

    pub fn ring_counts(&self, host: HostId) -> RingCounts {
        self.runtime(host).counts
    }

    /// Pauses a running host. Returns whether it went from running to paused.
    pub fn pause(&mut self, now: SimTime, host: HostId) -> bool {
        if self.state(host) != RunState::Running {
            return false;
        }
        let runtime = self.runtime_mut(host);
        runtime.paused_since = Some(now);
        runtime.dropped_this_pause = 0;
        true
    }

    /// Resumes a paused host: returns what waited in its rings, in arrival order, or `None` if the
    /// host was not paused.
    pub fn resume(&mut self, host: HostId) -> Option<Resumed<P>> {
        if self.state(host) != RunState::Paused {
            return None;
        }
        let runtime = self.runtime_mut(host);
        runtime.paused_since = None;
        let mut waiting: Vec<(u64, NetworkId, P)> = Vec::new();
        for (&network, ring) in &mut runtime.rings {
            waiting.extend(ring.drain(..).map(|(arrival, packet)| (arrival, network, packet)));
        }
        waiting.sort_by_key(|(arrival, _, _)| *arrival);
        let packets = waiting.into_iter().map(|(_, network, packet)| (network, packet)).collect();
        Some(Resumed { packets, dropped: runtime.dropped_this_pause })
    }

    /// Pulls the host's cord. Returns whether it went off; a paused host loses its pause and its rings.
    pub fn power_off(&mut self, now: SimTime, host: HostId) -> bool {
        let went_off = self.power.pull_cord(now, host);
        if went_off {
            self.lose_volatile(host);
        }
        went_off
    }

    /// Puts the cord back in. Returns whether the host went on (it boots running).
    pub fn power_on(&mut self, now: SimTime, host: HostId) -> bool {
        self.power.power_on(now, host)
    }

    /// Cuts a rack's feed; returns the hosts that went off.
    pub fn rack_power_off(&mut self, now: SimTime, rack: &str) -> Vec<HostId> {
        let changed = self.power.rack_power_off(now, rack);
        let hosts: Vec<HostId> = changed.into_iter().map(|(host, _)| host).collect();
        for &host in &hosts {
            self.lose_volatile(host);
        }
        hosts
    }

    /// Restores a rack's feed; returns the hosts that booted.
    pub fn rack_power_on(&mut self, now: SimTime, rack: &str) -> Vec<HostId> {
        self.power.rack_power_on(now, rack).into_iter().map(|(host, _)| host).collect()
    }

    pub fn has_rack(&self, rack: &str) -> bool {
        self.racks.contains(rack)
    }

    pub fn is_rack_powered(&self, rack: &str) -> bool {
        self.power.is_rack_powered(rack)
    }

    /// A packet reached `host` on its NIC on `network`.
    pub fn arrive(&mut self, host: HostId, network: NetworkId, packet: P) -> Arrival<P> {
        match self.state(host) {
            RunState::Running => Arrival::Deliver(packet),
            RunState::Off => {
                self.runtime_mut(host).counts.dropped_off += 1;
                Arrival::Dropped
            }
            RunState::Paused => {
                let arrival = self.next_arrival;
                self.next_arrival += 1;
                let runtime = self.runtime_mut(host);
                let capacity = runtime.config.packets as usize;
                let overflow = runtime.config.overflow;
                let ring = runtime.rings.entry(network).or_default();
                if ring.len() < capacity {
                    ring.push_back((arrival, packet));
                    runtime.counts.queued += 1;
                    return Arrival::Queued;
                }
                runtime.counts.dropped_full += 1;
                runtime.dropped_this_pause += 1;
                if overflow == RingOverflow::DropOldest && capacity > 0 {
                    ring.pop_front();
                    ring.push_back((arrival, packet));
                }
                Arrival::Dropped
            }
        }
    }

    fn lose_volatile(&mut self, host: HostId) {
        let runtime = self.runtime_mut(host);
        runtime.paused_since = None;
        runtime.rings.clear();
    }

    fn runtime(&self, host: HostId) -> &HostRuntime<P> {
        self.hosts.get(&host).unwrap_or_else(|| panic!("{host} was never added"))
    }

    fn runtime_mut(&mut self, host: HostId) -> &mut HostRuntime<P> {
        self.hosts.get_mut(&host).unwrap_or_else(|| panic!("{host} was never added"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: HostId = HostId(0);
    const LAN: NetworkId = NetworkId(0);
    const SAN: NetworkId = NetworkId(1);

    fn t(secs: u64) -> SimTime {
        SimTime::from_nanos(secs * 1_000_000_000)
    }

    fn hosts(packets: u32, overflow: RingOverflow) -> Hosts<u32> {
        let mut hosts = Hosts::new();
        hosts.add_host(H, RingConfig { packets, overflow });
        hosts
    }

    #[test]
    fn a_running_host_gets_its_packets_at_once() {
        let mut hosts = hosts(4, RingOverflow::DropNewest);
        assert_eq!(hosts.arrive(H, LAN, 7), Arrival::Deliver(7));
    }

    #[test]
    fn a_paused_host_holds_packets_and_gets_them_in_arrival_order_across_nics_on_resume() {
        let mut hosts = hosts(4, RingOverflow::DropNewest);
        assert!(hosts.pause(t(1), H));
        assert_eq!(hosts.state(H), RunState::Paused);
        assert_eq!(hosts.arrive(H, SAN, 1), Arrival::Queued);
        assert_eq!(hosts.arrive(H, LAN, 2), Arrival::Queued);
        assert_eq!(hosts.arrive(H, SAN, 3), Arrival::Queued);
        assert_eq!(
            hosts.resume(H),
            Some(Resumed { packets: vec![(SAN, 1), (LAN, 2), (SAN, 3)], dropped: 0 })
        );
        assert!(hosts.is_running(H));
        assert_eq!(hosts.resume(H), None, "resuming a running host does nothing");
    }

    #[test]
    fn a_full_ring_drops_the_newest_packet_by_default() {
        let mut hosts = hosts(2, RingOverflow::DropNewest);
        hosts.pause(t(1), H);
        for packet in 1..=4 {
            hosts.arrive(H, LAN, packet);
        }
        assert_eq!(hosts.resume(H), Some(Resumed { packets: vec![(LAN, 1), (LAN, 2)], dropped: 2 }));
        assert_eq!(hosts.ring_counts(H), RingCounts { queued: 2, dropped_full: 2, dropped_off: 0 });
    }

    #[test]
    fn a_full_ring_set_to_drop_oldest_keeps_the_newest_packets() {
        let mut hosts = hosts(2, RingOverflow::DropOldest);
        hosts.pause(t(1), H);
        for packet in 1..=4 {
            hosts.arrive(H, LAN, packet);
        }
        assert_eq!(hosts.resume(H), Some(Resumed { packets: vec![(LAN, 3), (LAN, 4)], dropped: 2 }));
    }

    #[test]
    fn each_nic_has_its_own_ring() {
        let mut hosts = hosts(1, RingOverflow::DropNewest);
        hosts.pause(t(1), H);
        assert_eq!(hosts.arrive(H, LAN, 1), Arrival::Queued);
        assert_eq!(hosts.arrive(H, SAN, 2), Arrival::Queued);
        assert_eq!(hosts.arrive(H, LAN, 3), Arrival::Dropped);
    }

    #[test]
    fn power_loss_empties_the_rings_and_ends_the_pause() {
        let mut hosts = hosts(4, RingOverflow::DropNewest);
        hosts.pause(t(1), H);
        hosts.arrive(H, LAN, 1);
        assert!(hosts.power_off(t(2), H));
        assert_eq!(hosts.state(H), RunState::Off);
        assert_eq!(hosts.arrive(H, LAN, 2), Arrival::Dropped);
        assert!(hosts.power_on(t(3), H));
        assert_eq!(hosts.state(H), RunState::Running, "a host boots running, not paused");
        assert_eq!(hosts.arrive(H, LAN, 3), Arrival::Deliver(3));
        assert!(hosts.pause(t(4), H));
        let resumed = hosts.resume(H).map(|resumed| resumed.packets);
        assert_eq!(resumed, Some(Vec::new()), "nothing queued before the power loss survived");
    }

    #[test]
    fn only_a_running_host_can_be_paused() {
        let mut hosts = hosts(4, RingOverflow::DropNewest);
        hosts.power_off(t(1), H);
        assert!(!hosts.pause(t(2), H), "an off host cannot be paused");
        hosts.power_on(t(3), H);
        assert!(hosts.pause(t(4), H));
        assert!(!hosts.pause(t(5), H), "pausing twice changes nothing");
    }
}
