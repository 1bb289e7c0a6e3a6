//! Identifiers shared by every emulator.
//!
//! The harness numbers hosts and networks; the emulators only ever compare and order these ids, so they
//! are plain newtypes with a total order (which keeps every map iteration deterministic).

use core::fmt;
use serde::{Deserialize, Serialize};

/// A physical host or VM, numbered by the harness.
///
/// It serialises as its bare number so that history lines stay compact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HostId(pub u32);

impl fmt::Display for HostId {
    /// `host3`: the form used in random stream names such as `link/public/host1->host2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host{}", self.0)
    }
}

/// A network of the fabric, numbered in the order the networks were added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NetworkId(pub u32);

impl fmt::Display for NetworkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "network{}", self.0)
    }
}

/// A logical unit of the SAN array, numbered as the array presents it (the LUN number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LunId(pub u16);

impl fmt::Display for LunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lun{}", self.0)
    }
}

/// A controller (target port) of the SAN array, numbered from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ControllerId(pub u8);

impl fmt::Display for ControllerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ctrl{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_display_with_a_prefix_so_stream_names_read_clearly() {
        assert_eq!(HostId(7).to_string(), "host7");
        assert_eq!(NetworkId(2).to_string(), "network2");
        assert_eq!(LunId(3).to_string(), "lun3");
        assert_eq!(ControllerId(1).to_string(), "ctrl1");
    }

    #[test]
    fn ids_order_by_their_number() {
        assert!(HostId(2) < HostId(10));
        assert!(NetworkId(0) < NetworkId(1));
        assert!(LunId(2) < LunId(10));
        assert!(ControllerId(0) < ControllerId(1));
    }
}
