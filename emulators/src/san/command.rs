//! The SCSI commands the array understands, and what it answers.

use super::pr::{PrIn, PrOut, ReservationType};
use super::{RejectReason, ReservationKey};
use crate::ids::HostId;
use serde::{Deserialize, Serialize};

/// An iSCSI basic header segment: every command and response PDU carries one.
pub const PDU_HEADER_BYTES: u64 = 48;
/// One logical block.
pub const BLOCK_BYTES: u64 = 512;

/// What a write puts in one block: who wrote it, in which ownership epoch, and the payload (a client
/// message id). Checkers compare what they read back with what was acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BlockContent {
    pub writer: HostId,
    pub epoch: u64,
    pub payload: u64,
}

/// A command sent down one I_T nexus to one LUN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Command {
    TestUnitReady,
    Inquiry,
    Read {
        lba: u64,
        blocks: u32,
    },
    /// One BlockContent per block; blocks = data.len(). `fua` forces durability before the ack.
    Write {
        lba: u64,
        data: Vec<BlockContent>,
        fua: bool,
    },
    SynchronizeCache,
    PrOut(PrOut),
    PrIn(PrIn),
}

impl Command {
    /// The command PDU's size on the wire: a 48-byte header, plus 512 bytes per block of write data.
    pub fn wire_bytes(&self) -> u64 {
        match self {
            Command::Write { data, .. } => PDU_HEADER_BYTES + BLOCK_BYTES * data.len() as u64,
            _ => PDU_HEADER_BYTES,
        }
    }

    /// Whether a pending unit attention fails this command. SPC exempts INQUIRY (and REPORT LUNS and
    /// REQUEST SENSE, not modelled); PR IN is exempted too, a simplification so that a fenced node can
    /// always read the keys to learn it was preempted.
    pub(crate) fn blocked_by_unit_attention(&self) -> bool {
        !matches!(self, Command::Inquiry | Command::PrIn(_))
    }
}

/// The data a successful command returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reply {
    None,
    /// One entry per block read; `None` for a block never written.
    Data(Vec<Option<BlockContent>>),
    /// PR IN READ KEYS: one key per registered I_T nexus, in nexus order.
    Keys {
        generation: u32,
        keys: Vec<ReservationKey>,
    },
    /// PR IN READ RESERVATION.
    Reservation {
        holder: Option<ReservationKey>,
        kind: Option<ReservationType>,
    },
}

impl Reply {
    /// The response PDU's size on the wire: a 48-byte header, plus 512 bytes per block of read data.
    pub fn wire_bytes(&self) -> u64 {
        match self {
            Reply::Data(blocks) => PDU_HEADER_BYTES + BLOCK_BYTES * blocks.len() as u64,
            _ => PDU_HEADER_BYTES,
        }
    }
}

/// The unit attention conditions the array raises (SPC additional sense codes 29h and 2Ah, 3Fh/0Eh).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnitAttention {
    /// POWER ON, RESET, OR BUS DEVICE RESET OCCURRED: the array rebooted or lost power.
    PowerOnReset,
    /// REGISTRATIONS PREEMPTED: another node removed this nexus's key (it has been fenced).
    RegistrationsPreempted,
    /// RESERVATIONS RELEASED: the reservation went away (RELEASE of a registrants type, or CLEAR).
    ReservationsReleased,
    /// REPORTED LUNS DATA HAS CHANGED: raised only by [`super::Array::raise_unit_attention`].
    ReportedLunsDataChanged,
}

/// The sense data of a CHECK CONDITION.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sense {
    UnitAttention(UnitAttention),
    /// The LUN is write-disabled (a replica, or the read-only fault).
    DataProtect,
    /// The LUN is offline.
    NotReady,
    /// A malformed request: beyond the LUN's capacity, a RELEASE of the wrong type, PREEMPT of key 0.
    IllegalRequest,
    /// LOGICAL UNIT NOT SUPPORTED: the LUN does not exist or the host has not discovered it.
    LunNotPresented,
}

/// The SCSI status of a finished command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Good(Reply),
    /// 0x18: a persistent reservation forbids this nexus the command.
    ReservationConflict,
    CheckCondition(Sense),
}

impl Status {
    pub fn is_good(&self) -> bool {
        matches!(self, Status::Good(_))
    }

    /// The `reason` a write-rejected event records for this status; `None` for GOOD.
    pub(crate) fn rejection_reason(&self) -> Option<RejectReason> {
        Some(match self {
            Status::Good(_) => return None,
            Status::ReservationConflict => RejectReason::ReservationConflict,
            Status::CheckCondition(Sense::UnitAttention(_)) => RejectReason::UnitAttention,
            Status::CheckCondition(Sense::DataProtect) => RejectReason::ReadOnly,
            Status::CheckCondition(Sense::NotReady) => RejectReason::NotReady,
            Status::CheckCondition(Sense::IllegalRequest) => RejectReason::IllegalRequest,
            Status::CheckCondition(Sense::LunNotPresented) => RejectReason::LunNotPresented,
        })
    }
}
