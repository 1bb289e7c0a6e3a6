//! Identifiers and small value types shared by every state machine.

use core::fmt;
use core::ops::{Add, Sub};
use core::time::Duration;
use serde::{Deserialize, Serialize};

/// A cluster node (a mailbox server running the cluster service).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u16);

/// A hub transport server (keeps the transport dumpster).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HubId(pub u16);

/// A database (one storage group holding one database, as CCR requires).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DbId(pub u16);

/// A communication path: one of the networks both nodes have a NIC on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PathId(pub u16);

/// A logical unit on the shared storage array (a cluster disk or the disk witness).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LunId(pub u16);

/// One I_T nexus of this node: storage path `i` goes through this node's initiator port `i` to array
/// controller `i`. SCSI-3 registrations are per nexus, so a node registers on every path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StoragePath(pub u8);

/// Names one storage request so its answer finds its way back. Unique per node incarnation (a rebooted
/// node starts again at 1, so a driver must not deliver answers addressed to an earlier incarnation).
pub type RequestId = u64;

/// An 8-byte SCSI-3 persistent reservation key.
pub type ReservationKey = u64;

/// The PR key `node` registers: constant per node, distinct per node and never 0 (key 0 means
/// "unregister" in PR OUT). The high bytes spell "DRIL", like fence_scsi's cluster-name prefix.
pub fn reservation_key(node: NodeId) -> ReservationKey {
    0x4452_494C_0000_0000 | (u64::from(node.0) + 1)
}

/// The node whose [`reservation_key`] is `key`, among `nodes`.
pub fn node_of_key(nodes: &[NodeId], key: ReservationKey) -> Option<NodeId> {
    nodes.iter().copied().find(|&node| reservation_key(node) == key)
}

/// An ownership term of a database. Every mount starts a new epoch and every log generation records
/// the epoch it was written in, so a copy can tell a deposed owner's logs from the current lineage.
pub type Epoch = u64;

/// A log generation number (one 1 MB log file).
pub type Generation = u64;

/// How many times a node has booted: counted on its own disk, so it only grows. A node's volatile
/// state (its mounts, its quorum, the votes it counts and lends) belongs to one incarnation and dies
/// with it; a message stamped with an older incarnation speaks for a process that no longer exists.
pub type Incarnation = u64;

/// A client message id, unique per run.
pub type MessageId = u64;

/// A reading of one node's own clock, in nanoseconds. It is *not* true time: clocks have offsets and
/// drift, and the failover logic must stay safe when they disagree (it only ever compares readings of
/// its own clock with each other).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LocalTime(pub u64);

impl LocalTime {
    pub const ZERO: LocalTime = LocalTime(0);
    pub const NEVER: LocalTime = LocalTime(u64::MAX);

    pub fn since(self, earlier: LocalTime) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl Add<Duration> for LocalTime {
    type Output = LocalTime;
    fn add(self, rhs: Duration) -> LocalTime {
        LocalTime(self.0.saturating_add(nanos(rhs)))
    }
}

impl Sub<Duration> for LocalTime {
    type Output = LocalTime;
    fn sub(self, rhs: Duration) -> LocalTime {
        LocalTime(self.0.saturating_sub(nanos(rhs)))
    }
}

impl fmt::Debug for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L+{:.6}s", self.0 as f64 / 1e9)
    }
}

/// Who a message is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Endpoint {
    Node(NodeId),
    Hub(HubId),
    /// Whichever node the database's network name currently resolves to (a DNS lookup by the sender).
    DatabaseName(DbId),
}
