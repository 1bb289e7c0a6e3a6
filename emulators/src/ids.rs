//! Identifiers shared by every emulator.
//!
//! The harness numbers hosts and networks; the emulators only ever compare and order these ids, so they
//! are plain newtypes with a total order (which keeps every map iteration deterministic).

use core::fmt;
use serde::{Deserialize, Serialize};

/// A newtype id with a total order, serialised as its bare number (so history lines stay compact) and
/// displayed as `<prefix><number>`, the form used in random stream names such as
/// `link/public/host1->host2`.
macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident($inner:ty), $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id_newtype!(
    /// A physical host or VM, numbered by the harness.
    HostId(u32),
    "host"
);
id_newtype!(
    /// A network of the fabric, numbered in the order the networks were added.
    NetworkId(u32),
    "network"
);
id_newtype!(
    /// A logical unit of the SAN array, numbered as the array presents it (the LUN number).
    LunId(u16),
    "lun"
);
id_newtype!(
    /// A controller (target port) of the SAN array, numbered from 0.
    ControllerId(u8),
    "ctrl"
);
id_newtype!(
    /// A virtual machine protected by hypervisor HA, numbered by the harness.
    VmId(u32),
    "vm"
);
id_newtype!(
    /// A datastore (a VMFS volume on a LUN, or an NFS export) that hypervisor hosts mount.
    DatastoreId(u16),
    "ds"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_display_with_a_prefix_so_stream_names_read_clearly() {
        assert_eq!(HostId(7).to_string(), "host7");
        assert_eq!(NetworkId(2).to_string(), "network2");
        assert_eq!(LunId(3).to_string(), "lun3");
        assert_eq!(ControllerId(1).to_string(), "ctrl1");
        assert_eq!(VmId(4).to_string(), "vm4");
        assert_eq!(DatastoreId(5).to_string(), "ds5");
    }

    #[test]
    fn ids_order_by_their_number() {
        assert!(HostId(2) < HostId(10));
        assert!(NetworkId(0) < NetworkId(1));
        assert!(LunId(2) < LunId(10));
        assert!(ControllerId(0) < ControllerId(1));
    }
}
