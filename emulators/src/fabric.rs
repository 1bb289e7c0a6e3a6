//! The network fabric: NICs on named networks, directed links between them, and the switches they share.
//!
//! A host has one NIC per network it is attached to, so a node can be multi-homed (public, private
//! heartbeat, iSCSI A and B, replication, WAN). Between every ordered pair of NICs on the same network
//! there is a directed link that inherits the network's [`NetworkSpec`]; faults override it per
//! directed link, per NIC, per network or per switch, and each fault has an inverse.
//!
//! The fabric is a pure model: [`Fabric::transmit`] decides at send time whether and when a frame
//! arrives, and the harness schedules the delivery. Each directed link draws its jitter and loss from
//! its own random stream, `link/{network name}/{from}->{to}`, so traffic on one link never changes what
//! another link draws.
//!
//! A `NetworkId` this fabric did not issue is a harness bug, and every method given one panics.

mod outcome;
mod spec;
#[cfg(test)]
mod tests;

pub use outcome::{Direction, DropReason, FabricStats, PathState, Transmission};
pub use spec::NetworkSpec;

use crate::ids::{HostId, NetworkId};
use core::time::Duration;
use kernel::{RngStream, SeedTree, SimTime};
use std::collections::{BTreeMap, BTreeSet};

/// Every network, NIC and link of a run, with their faults.
#[derive(Debug)]
pub struct Fabric {
    seeds: SeedTree,
    /// Indexed by `NetworkId`, which is the position in this vector.
    networks: Vec<Network>,
    nics: BTreeMap<(HostId, NetworkId), Nic>,
    /// Created on first use (a frame or a fault), because a link's stream depends only on its name.
    links: BTreeMap<LinkKey, Link>,
    switches_down: BTreeSet<String>,
    stats: FabricStats,
}

#[derive(Debug)]
struct Network {
    spec: NetworkSpec,
    faults: NetworkFaults,
    hosts: BTreeSet<HostId>,
}

/// Network-wide fault overrides; the default is "no fault", so healing is resetting to default.
#[derive(Debug, Default)]
struct NetworkFaults {
    loss_probability: Option<f64>,
    latency_spike: Duration,
    bandwidth_bits_per_second: Option<u64>,
}

/// Per-NIC faults. A NIC is a host's port on one network.
#[derive(Debug)]
struct Nic {
    up: bool,
    mtu_override_bytes: Option<u32>,
}

impl Nic {
    const HEALTHY: Nic = Nic { up: true, mtu_override_bytes: None };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct LinkKey {
    network: NetworkId,
    from: HostId,
    to: HostId,
}

#[derive(Debug)]
struct Link {
    rng: RngStream,
    /// The instant the sender finishes serialising the last frame; later frames queue behind it.
    busy_until: SimTime,
    faults: LinkFaults,
}

/// Per-directed-link faults; the default is "no fault".
#[derive(Debug, Default)]
struct LinkFaults {
    cut: bool,
    /// Loss on this link on top of (independent of) the network's loss.
    loss_probability: f64,
    mtu_override_bytes: Option<u32>,
}

impl Fabric {
    /// An empty fabric whose links draw from streams of `seeds`.
    pub fn new(seeds: &SeedTree) -> Self {
        Fabric {
            seeds: *seeds,
            networks: Vec::new(),
            nics: BTreeMap::new(),
            links: BTreeMap::new(),
            switches_down: BTreeSet::new(),
            stats: FabricStats::default(),
        }
    }

    /// Adds a network and returns its id (ids count up from 0 in the order networks are added).
    ///
    /// # Panics
    /// If a network of that name exists (link stream names would collide) or the bandwidth is zero.
    pub fn add_network(&mut self, spec: NetworkSpec) -> NetworkId {
        assert!(self.network_id(&spec.name).is_none(), "network `{}` is already in the fabric", spec.name);
        assert!(spec.bandwidth_bits_per_second > 0, "network `{}` has zero bandwidth", spec.name);
        let id = NetworkId(u32::try_from(self.networks.len()).expect("fewer than 2^32 networks"));
        self.networks.push(Network { spec, faults: NetworkFaults::default(), hosts: BTreeSet::new() });
        id
    }

    /// The id of the network called `name`.
    pub fn network_id(&self, name: &str) -> Option<NetworkId> {
        self.networks.iter().position(|network| network.spec.name == name).map(Self::id_at)
    }

    /// The spec `network` was added with (faults do not change it).
    pub fn spec(&self, network: NetworkId) -> &NetworkSpec {
        &self.network(network).spec
    }

    /// Gives `host` a NIC on `network`. Attaching twice is harmless and keeps the NIC's faults.
    pub fn attach(&mut self, host: HostId, network: NetworkId) {
        self.network_mut(network).hosts.insert(host);
        self.nics.entry((host, network)).or_insert(Nic::HEALTHY);
    }

    /// Whether `host` has a NIC on `network` (up or down).
    pub fn has_nic(&self, host: HostId, network: NetworkId) -> bool {
        self.nics.contains_key(&(host, network))
    }

    /// The networks on which both `a` and `b` have a NIC, in id order: the comm paths between them.
    pub fn networks_between(&self, a: HostId, b: HostId) -> Vec<NetworkId> {
        (0..self.networks.len())
            .map(Self::id_at)
            .filter(|&network| self.has_nic(a, network) && self.has_nic(b, network))
            .collect()
    }

    /// The hosts with a NIC on `network`, in id order.
    pub fn hosts_on(&self, network: NetworkId) -> Vec<HostId> {
        self.network(network).hosts.iter().copied().collect()
    }

    /// Sends one frame of `frame_bytes` (the IP packet the MTU limits) and decides its fate now.
    ///
    /// A delivered frame arrives at `max(now, busy_until) + serialisation + latency + spike + jitter`,
    /// and the link stays busy until its serialisation ends. Drops are checked in the order documented
    /// on [`DropReason`]; a frame lost at random was transmitted, so it occupies the link like any other.
    pub fn transmit(
        &mut self,
        now: SimTime,
        from: HostId,
        to: HostId,
        network: NetworkId,
        frame_bytes: u32,
    ) -> Transmission {
        let outcome = self.decide(now, from, to, network, frame_bytes, u64::from(frame_bytes));
        self.stats.record(outcome);
        outcome
    }

    /// Sends a whole message of `message_bytes`, segmented at the *sender's* NIC MTU the way TCP
    /// segments at the interface MTU, and decides its fate as one unit (no retransmission).
    ///
    /// This is what makes an MTU mismatch a gray failure: a 1 MB log sent from a jumbo-frame NIC
    /// travels in 9000-byte frames, which a 1500-byte hop drops, while a 200-byte heartbeat is a single
    /// small frame that passes. With matching MTUs, large messages simply take their serialisation time.
    pub fn transmit_message(
        &mut self,
        now: SimTime,
        from: HostId,
        to: HostId,
        network: NetworkId,
        message_bytes: u64,
    ) -> Transmission {
        let sender_mtu_bytes = self
            .nics
            .get(&(from, network))
            .map(|nic| nic.mtu_override_bytes.unwrap_or(self.network(network).spec.mtu_bytes))
            .unwrap_or(self.network(network).spec.mtu_bytes);
        let largest_frame_bytes = u32::try_from(message_bytes).unwrap_or(u32::MAX).min(sender_mtu_bytes);
        let outcome = self.decide(now, from, to, network, largest_frame_bytes, message_bytes);
        self.stats.record(outcome);
        outcome
    }

    fn decide(
        &mut self,
        now: SimTime,
        from: HostId,
        to: HostId,
        network: NetworkId,
        frame_bytes: u32,
        total_bytes: u64,
    ) -> Transmission {
        if let PathState::Down(reason) = self.path_state(from, to, network) {
            return Transmission::Dropped(reason);
        }
        let path_mtu_bytes = self.path_mtu_bytes(from, to, network).expect("both NICs exist on an up path");
        if frame_bytes > path_mtu_bytes {
            return Transmission::Dropped(DropReason::MtuExceeded);
        }
        let net = &self.networks[Self::index(network)];
        let bandwidth = net.faults.bandwidth_bits_per_second.unwrap_or(net.spec.bandwidth_bits_per_second);
        let propagation = net.spec.latency + net.faults.latency_spike;
        let jitter = net.spec.jitter;
        let network_loss = net.faults.loss_probability.unwrap_or(net.spec.loss_probability);

        let link =
            Self::link_entry(&mut self.links, &self.seeds, &self.networks, LinkKey { network, from, to });
        let sending_from = now.max(link.busy_until);
        link.busy_until = sending_from + serialisation(total_bytes, bandwidth);
        if link.rng.chance(combined_loss(network_loss, link.faults.loss_probability)) {
            return Transmission::Dropped(DropReason::Loss);
        }
        // A zero jitter draws nothing, like a zero loss, so a jitter-free link keeps its stream untouched.
        let jitter = if jitter.is_zero() { Duration::ZERO } else { link.rng.duration_up_to(jitter) };
        Transmission::Delivered { at: link.busy_until + propagation + jitter }
    }

    /// The ground-truth state of the directed path, without drawing any randomness.
    ///
    /// Loss and MTU depend on the frame, so they never make a path `Down` here.
    pub fn path_state(&self, from: HostId, to: HostId, network: NetworkId) -> PathState {
        let net = self.network(network);
        let (Some(sender), Some(receiver)) = (self.nics.get(&(from, network)), self.nics.get(&(to, network)))
        else {
            return PathState::Down(DropReason::NoNic);
        };
        if !sender.up || !receiver.up {
            return PathState::Down(DropReason::NicDown);
        }
        if self.links.get(&LinkKey { network, from, to }).is_some_and(|link| link.faults.cut) {
            return PathState::Down(DropReason::LinkCut);
        }
        if net.spec.switch.as_ref().is_some_and(|switch| self.switches_down.contains(switch)) {
            return PathState::Down(DropReason::SwitchDown);
        }
        PathState::Up
    }

    /// The largest frame the directed path carries: the smallest of the network's MTU and any MTU
    /// override on either NIC or on the link. `None` if either host has no NIC on the network.
    pub fn path_mtu_bytes(&self, from: HostId, to: HostId, network: NetworkId) -> Option<u32> {
        let sender = self.nics.get(&(from, network))?;
        let receiver = self.nics.get(&(to, network))?;
        let link_override =
            self.links.get(&LinkKey { network, from, to }).and_then(|l| l.faults.mtu_override_bytes);
        let overrides = [sender.mtu_override_bytes, receiver.mtu_override_bytes, link_override];
        Some(overrides.into_iter().flatten().fold(self.network(network).spec.mtu_bytes, u32::min))
    }

    /// Counters of every frame decided so far.
    pub fn stats(&self) -> &FabricStats {
        &self.stats
    }

    // Faults. Each takes effect for frames sent from the call on; frames already decided keep their fate.

    /// Brings `host`'s NIC on `network` down (cable pulled, port disabled) or back up.
    ///
    /// # Panics
    /// If the host has no NIC on that network: the harness targets only NICs it attached.
    pub fn set_nic_up(&mut self, host: HostId, network: NetworkId, up: bool) {
        self.nic_mut(host, network).up = up;
    }

    /// Cuts the link from `from` to `to` (`Forward`) or both directions (`Both`).
    pub fn cut_link(&mut self, from: HostId, to: HostId, network: NetworkId, direction: Direction) {
        for key in directed(from, to, network, direction) {
            self.link_mut(key).faults.cut = true;
        }
    }

    /// The inverse of [`Fabric::cut_link`] for the same direction(s).
    pub fn heal_link(&mut self, from: HostId, to: HostId, network: NetworkId, direction: Direction) {
        for key in directed(from, to, network, direction) {
            self.link_mut(key).faults.cut = false;
        }
    }

    /// Sets the loss of the directed link from `from` to `to`, independent of and on top of the
    /// network's loss. Zero removes it.
    pub fn set_link_loss(&mut self, from: HostId, to: HostId, network: NetworkId, probability: f64) {
        self.link_mut(LinkKey { network, from, to }).faults.loss_probability = probability;
    }

    /// Replaces the loss of every link of `network`. Setting the spec's value back is the inverse.
    pub fn set_network_loss(&mut self, network: NetworkId, probability: f64) {
        self.network_mut(network).faults.loss_probability = Some(probability);
    }

    /// Adds `extra` latency to every frame on `network` (congestion, a rerouted path); zero clears it.
    pub fn set_latency_spike(&mut self, network: NetworkId, extra: Duration) {
        self.network_mut(network).faults.latency_spike = extra;
    }

    /// Gives `host`'s NIC on `network` a smaller MTU than the network's (a jumbo-frame mismatch), so
    /// large frames to or from it vanish while small ones pass. `None` removes the override.
    ///
    /// # Panics
    /// If the host has no NIC on that network.
    pub fn set_mtu_override(&mut self, host: HostId, network: NetworkId, mtu_bytes: Option<u32>) {
        self.nic_mut(host, network).mtu_override_bytes = mtu_bytes;
    }

    /// Gives the directed link from `from` to `to` its own MTU (a smaller hop on that route only).
    /// `None` removes the override.
    pub fn set_link_mtu_override(
        &mut self,
        from: HostId,
        to: HostId,
        network: NetworkId,
        mtu_bytes: Option<u32>,
    ) {
        self.link_mut(LinkKey { network, from, to }).faults.mtu_override_bytes = mtu_bytes;
    }

    /// Changes the bandwidth of every link of `network` (a WAN bandwidth cut). Setting the spec's value
    /// back is the inverse.
    ///
    /// # Panics
    /// If `bits_per_second` is zero: a link that carries nothing is a cut, not a bandwidth.
    pub fn set_bandwidth(&mut self, network: NetworkId, bits_per_second: u64) {
        assert!(bits_per_second > 0, "a zero bandwidth never finishes a frame; cut the links instead");
        self.network_mut(network).faults.bandwidth_bits_per_second = Some(bits_per_second);
    }

    /// Powers the switch called `switch` off or on. While it is off, every link of every network whose
    /// spec names it is down. A name no network uses is remembered but affects nothing.
    pub fn set_switch_up(&mut self, switch: &str, up: bool) {
        if up {
            self.switches_down.remove(switch);
        } else {
            self.switches_down.insert(switch.to_string());
        }
    }

    /// Whether the switch called `switch` has power.
    pub fn is_switch_up(&self, switch: &str) -> bool {
        !self.switches_down.contains(switch)
    }

    /// Removes every fault: NICs up without MTU overrides, links uncut and loss-free, networks back to
    /// their specs, switches powered. Frames already queued on a link stay queued.
    pub fn heal_all(&mut self) {
        for nic in self.nics.values_mut() {
            *nic = Nic::HEALTHY;
        }
        for link in self.links.values_mut() {
            link.faults = LinkFaults::default();
        }
        for network in &mut self.networks {
            network.faults = NetworkFaults::default();
        }
        self.switches_down.clear();
    }

    fn id_at(index: usize) -> NetworkId {
        NetworkId(u32::try_from(index).expect("network ids fit in u32"))
    }

    fn index(network: NetworkId) -> usize {
        usize::try_from(network.0).expect("network ids fit in usize")
    }

    fn network(&self, network: NetworkId) -> &Network {
        self.networks.get(Self::index(network)).unwrap_or_else(|| panic!("{network} is not in this fabric"))
    }

    fn network_mut(&mut self, network: NetworkId) -> &mut Network {
        self.networks
            .get_mut(Self::index(network))
            .unwrap_or_else(|| panic!("{network} is not in this fabric"))
    }

    fn nic_mut(&mut self, host: HostId, network: NetworkId) -> &mut Nic {
        if !self.has_nic(host, network) {
            panic!("{host} has no NIC on network `{}`", self.spec(network).name);
        }
        self.nics.get_mut(&(host, network)).expect("the NIC exists, checked above")
    }

    fn link_mut(&mut self, key: LinkKey) -> &mut Link {
        Self::link_entry(&mut self.links, &self.seeds, &self.networks, key)
    }

    /// The link for `key`, created with its own stream on first use. It takes the fields it needs
    /// rather than `&mut self` so that `decide` can hold it while reading the network.
    fn link_entry<'a>(
        links: &'a mut BTreeMap<LinkKey, Link>,
        seeds: &SeedTree,
        networks: &[Network],
        key: LinkKey,
    ) -> &'a mut Link {
        links.entry(key).or_insert_with(|| {
            let network = networks
                .get(Self::index(key.network))
                .unwrap_or_else(|| panic!("{} is not in this fabric", key.network));
            let name = format!("link/{}/{}->{}", network.spec.name, key.from, key.to);
            Link { rng: seeds.stream(&name), busy_until: SimTime::ZERO, faults: LinkFaults::default() }
        })
    }
}

/// The directed links a cut or heal touches.
fn directed(from: HostId, to: HostId, network: NetworkId, direction: Direction) -> Vec<LinkKey> {
    let forward = LinkKey { network, from, to };
    match direction {
        Direction::Forward => vec![forward],
        Direction::Both => vec![forward, LinkKey { network, from: to, to: from }],
    }
}

/// How long a frame occupies its link: its bits over the bandwidth, rounded up to whole nanoseconds so
/// that even a tiny frame on a fast link takes some time.
fn serialisation(bytes: u64, bits_per_second: u64) -> Duration {
    let bits = u128::from(bytes) * 8;
    let nanos = (bits * 1_000_000_000).div_ceil(u128::from(bits_per_second));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// The loss of two independent lossy stages in series. Two zeros give exactly zero, so `chance` draws
/// nothing on a loss-free link.
fn combined_loss(network: f64, link: f64) -> f64 {
    let network = network.clamp(0.0, 1.0);
    let link = link.clamp(0.0, 1.0);
    1.0 - (1.0 - network) * (1.0 - link)
}
