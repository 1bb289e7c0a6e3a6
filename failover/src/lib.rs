//! The real failover logic of drill: sans-IO state machines for a failover cluster of mailbox
//! servers (Exchange CCR style) and the hub transport servers that feed them.
//!
//! - [`Node`]: detection over every comm path, quorum (node majority, node and file share majority, node
//!   and disk majority), self-fencing, ownership epochs, resource groups with local restart, CCR log
//!   shipping with the mount dial, attempt-copy-last-logs and incremental reseed, and shared-disk (SCC)
//!   groups fenced by SCSI-3 persistent reservations with challenge/defense arbitration.
//! - [`Hub`]: delivery with retry and the transport dumpster that resubmits after a lossy mount.
//!
//! Architecture invariant: this crate reads no clock, draws no random number, performs no I/O and has
//! no notion of being simulated. A driver feeds [`Input`]s with the node's local time and carries out
//! the [`Output`]s. It depends on no other workspace crate.

pub mod config;
pub mod copy;
pub mod detector;
pub mod hub;
pub mod io;
pub mod message_set;
pub mod node;
pub mod types;

pub use config::{
    ClusterConfig, ClusterSettings, DiskFencing, FailoverPolicy, HubConfig, MountDial, QuorumModel,
};
pub use hub::{Hub, HubInput, HubOutput};
pub use io::{
    ArbitrationStep, CopyRole, Echo, Effect, Input, Message, Note, Output, StopReason, StorageFailure,
    StorageOp, StorageResult, Voter, WitnessAnswer, WitnessCall, WitnessOp,
};
pub use message_set::MessageSet;
pub use node::{Disk, Node, ledger_block};
pub use types::{
    DbId, Endpoint, Epoch, Generation, HubId, Incarnation, LocalTime, LunId, MessageId, NodeId, PathId,
    RequestId, ReservationKey, StoragePath, reservation_key,
};
