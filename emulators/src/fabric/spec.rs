//! The static description of a network: what every link on it inherits unless a fault overrides it.

use core::time::Duration;
use serde::{Deserialize, Serialize};

/// One named network (public, private heartbeat, iSCSI A/B, replication, WAN) and its link parameters.
///
/// Every directed link between two NICs on the network inherits these values; faults override them per
/// link, per NIC or per network and `Fabric::heal_all` returns to them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// The name scenarios use, and part of every link's random stream name.
    pub name: String,
    /// One-way propagation delay added to every frame.
    pub latency: Duration,
    /// Extra delay drawn uniformly in `[0, jitter]` per frame from the link's own stream.
    pub jitter: Duration,
    /// Serialisation rate of each directed link; a frame occupies its link for `bits / rate`.
    pub bandwidth_bits_per_second: u64,
    /// Largest frame (IP packet) the network carries; larger frames are dropped, never fragmented.
    pub mtu_bytes: u32,
    /// Probability that a frame is lost on the wire, drawn per frame.
    pub loss_probability: f64,
    /// The switch the network's links go through, if any; losing that switch takes down every link.
    pub switch: Option<String>,
}

impl NetworkSpec {
    /// A 1 GbE LAN: 200 us latency, 50 us jitter, MTU 1500, no loss (domain.md section 8).
    pub fn lan(name: impl Into<String>) -> Self {
        NetworkSpec {
            name: name.into(),
            latency: Duration::from_micros(200),
            jitter: Duration::from_micros(50),
            bandwidth_bits_per_second: 1_000_000_000,
            mtu_bytes: 1_500,
            loss_probability: 0.0,
            switch: None,
        }
    }

    /// A T3-class WAN between sites: 20 ms latency, 2 ms jitter, 45 Mbit/s, MTU 1500, no loss.
    pub fn wan(name: impl Into<String>) -> Self {
        NetworkSpec {
            name: name.into(),
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(2),
            bandwidth_bits_per_second: 45_000_000,
            mtu_bytes: 1_500,
            loss_probability: 0.0,
            switch: None,
        }
    }

    /// The same spec with its links going through `switch`.
    pub fn via_switch(mut self, switch: impl Into<String>) -> Self {
        self.switch = Some(switch.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lan_defaults_to_gigabit_with_sub_millisecond_latency() {
        let lan = NetworkSpec::lan("private");
        assert_eq!(lan.name, "private");
        assert_eq!(lan.latency, Duration::from_micros(200));
        assert_eq!(lan.jitter, Duration::from_micros(50));
        assert_eq!(lan.bandwidth_bits_per_second, 1_000_000_000);
        assert_eq!(lan.mtu_bytes, 1_500);
        assert_eq!(lan.loss_probability, 0.0);
        assert_eq!(lan.switch, None);
    }

    #[test]
    fn a_wan_defaults_to_a_t3_with_tens_of_milliseconds_latency() {
        let wan = NetworkSpec::wan("wan");
        assert_eq!(wan.latency, Duration::from_millis(20));
        assert_eq!(wan.jitter, Duration::from_millis(2));
        assert_eq!(wan.bandwidth_bits_per_second, 45_000_000);
        assert_eq!(wan.mtu_bytes, 1_500);
        assert_eq!(wan.loss_probability, 0.0);
    }

    #[test]
    fn via_switch_names_the_switch_the_links_share() {
        assert_eq!(NetworkSpec::lan("a").via_switch("core-1").switch.as_deref(), Some("core-1"));
    }
}
