//! Emulated hardware and infrastructure for drill.
//!
//! Each emulator is a pure, deterministic model: it takes the current virtual time as an argument,
//! draws randomness only from its own named [`kernel::RngStream`]s, and never schedules events itself.
//! The harness owns the event loop, calls these APIs, and schedules whatever they say happens later.
//! Every fault has an inverse, and every emulator answers ground-truth queries for checkers without
//! changing its state.
//!
//! - [`fabric`]: NICs on named networks, directed links with latency, jitter, bandwidth and MTU, and
//!   the switches they share; faults are NIC down, one-way or two-way cuts, loss, latency spikes, MTU
//!   mismatches, bandwidth cuts and switch loss.
//! - [`host`]: whether each host is off, running or paused, and its NICs' receive rings: the one gate
//!   everything running on a host obeys.
//! - [`power`]: per-host cords and per-rack power, with boot counts so a restarted host is told apart.
//! - [`witness`]: the file share witness, an exclusive lock kept alive by renewal; it can go down, be
//!   slow, or reboot and lose the lock.
//! - [`dns`]: records with TTLs and per-client caches; registration can be delayed and the server
//!   unreachable, so clients keep using stale answers. The server's answer and the client's cache are
//!   separate calls, so a query can cross a network; the resolver's query timeouts are its config.
//! - [`san`]: the SAN array: LUNs with a block store and write cache, SCSI-3 persistent reservations per
//!   I_T nexus, LUN masking and probe-by-probe discovery; faults are controller reboot and loss, power
//!   loss (lost cache, torn writes), offline and read-only LUNs, latency and corrupt blocks.
//! - [`iscsi`]: one host's iSCSI initiator and multipath layer: per-path sessions with NOP-Out keepalive
//!   and replacement timeout, the TUR path checker, fail-over-only, round-robin and least-queue-depth
//!   path selection, command timeouts with retries, the `no_path_retry` queue and pseudo-LUN removal.
//! - [`hypervisor`]: vSphere HA's agent (FDM) on each hypervisor host: elections, isolation
//!   detection and response, failed/isolated/partitioned hosts told apart by datastore heartbeats,
//!   restarts by priority with retries and placement rules, VM monitoring, VMCP, the vMotion stun.
//! - [`ids`]: the host, network, LUN and controller ids they share.

pub mod dns;
pub mod fabric;
pub mod host;
pub mod hypervisor;
pub mod ids;
pub mod iscsi;
pub mod power;
pub mod san;
pub mod witness;

pub use ids::{ControllerId, HostId, LunId, NetworkId};
