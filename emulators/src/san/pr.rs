//! SCSI-3 persistent reservations (SPC-3, domain.md 2.1): the per-LUN table of registrations and the
//! reservation, the PR OUT service actions that change it, and the access rule for data commands.
//!
//! Who holds the reservation: SPC makes the reserving I_T nexus the holder, but this table records the
//! holder's *key*, and every nexus registered with that key counts as the holder. That is how Linux
//! fence_scsi and most arrays behave in practice: a node registers the same key down each of its paths,
//! reserves down one, and writes down any. Under the all-registrants types (7, 8) every registrant is a
//! holder, as SPC says.

use super::Nexus;
use super::ReservationKey;
use super::command::{Reply, Sense, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The persistent reservation types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReservationType {
    WriteExclusive,
    ExclusiveAccess,
    WriteExclusiveRegistrantsOnly,
    ExclusiveAccessRegistrantsOnly,
    WriteExclusiveAllRegistrants,
    ExclusiveAccessAllRegistrants,
}

impl ReservationType {
    pub const ALL: [ReservationType; 6] = [
        ReservationType::WriteExclusive,
        ReservationType::ExclusiveAccess,
        ReservationType::WriteExclusiveRegistrantsOnly,
        ReservationType::ExclusiveAccessRegistrantsOnly,
        ReservationType::WriteExclusiveAllRegistrants,
        ReservationType::ExclusiveAccessAllRegistrants,
    ];

    /// The SPC-3 wire code (the TYPE field of PR OUT): 1, 3, 5, 6, 7, 8.
    ///
    /// Linux's `enum pr_type` (include/uapi/linux/pr.h) numbers the same types 1 to 6 in this order, so
    /// WERO is 3 there but 5 on the wire; anything that talks to a Linux block device must map
    /// explicitly rather than pass the number through.
    pub fn spc_code(self) -> u8 {
        match self {
            ReservationType::WriteExclusive => 1,
            ReservationType::ExclusiveAccess => 3,
            ReservationType::WriteExclusiveRegistrantsOnly => 5,
            ReservationType::ExclusiveAccessRegistrantsOnly => 6,
            ReservationType::WriteExclusiveAllRegistrants => 7,
            ReservationType::ExclusiveAccessAllRegistrants => 8,
        }
    }

    /// The type for an SPC wire code; `None` for a code SPC-3 does not define (0, 2, 4, 9 and up).
    pub fn from_spc_code(code: u8) -> Option<ReservationType> {
        ReservationType::ALL.into_iter().find(|kind| kind.spc_code() == code)
    }

    /// Types 5 to 8: every registered nexus may read and write.
    pub fn registrants_have_access(self) -> bool {
        !matches!(self, ReservationType::WriteExclusive | ReservationType::ExclusiveAccess)
    }

    /// Types 7 and 8: every registrant is a reservation holder.
    pub fn all_registrants(self) -> bool {
        matches!(
            self,
            ReservationType::WriteExclusiveAllRegistrants | ReservationType::ExclusiveAccessAllRegistrants
        )
    }

    /// Types 3, 6 and 8: reads are restricted too, not only writes.
    pub fn restricts_reads(self) -> bool {
        matches!(
            self,
            ReservationType::ExclusiveAccess
                | ReservationType::ExclusiveAccessRegistrantsOnly
                | ReservationType::ExclusiveAccessAllRegistrants
        )
    }
}

/// PERSISTENT RESERVE OUT service actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrOut {
    /// `key` must match the nexus's current registration (0 if none), else RESERVATION CONFLICT;
    /// `service_action_key` 0 unregisters.
    Register {
        key: ReservationKey,
        service_action_key: ReservationKey,
        aptpl: bool,
    },
    RegisterIgnoreExistingKey {
        service_action_key: ReservationKey,
        aptpl: bool,
    },
    Reserve {
        key: ReservationKey,
        kind: ReservationType,
    },
    Release {
        key: ReservationKey,
        kind: ReservationType,
    },
    Clear {
        key: ReservationKey,
    },
    Preempt {
        key: ReservationKey,
        victim_key: ReservationKey,
        kind: ReservationType,
    },
    PreemptAndAbort {
        key: ReservationKey,
        victim_key: ReservationKey,
        kind: ReservationType,
    },
}

/// PERSISTENT RESERVE IN service actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrIn {
    ReadKeys,
    ReadReservation,
}

/// Which kind of data access a command makes, for the reservation check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

/// What a successful PR OUT changed; the array turns these into events, unit attentions and aborts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PrChange {
    Registered {
        nexus: Nexus,
        key: ReservationKey,
    },
    Unregistered {
        nexus: Nexus,
        key: ReservationKey,
    },
    Reserved {
        nexus: Nexus,
        key: ReservationKey,
        kind: ReservationType,
    },
    /// The reservation went away; `notify` get RESERVATIONS RELEASED.
    Released {
        key: ReservationKey,
        notify: Vec<Nexus>,
    },
    Preempted {
        key: ReservationKey,
        victim_key: ReservationKey,
        victims: Vec<Nexus>,
    },
    /// Every registration and the reservation went away; `notify` are the other nexuses that were
    /// registered.
    Cleared {
        key: ReservationKey,
        notify: Vec<Nexus>,
    },
}

/// One LUN's persistent reservation state.
#[derive(Clone, Debug, Default)]
pub(crate) struct PrTable {
    registrations: BTreeMap<Nexus, ReservationKey>,
    /// The holder's key and the type.
    reservation: Option<(ReservationKey, ReservationType)>,
    generation: u32,
    /// Activate Persist Through Power Loss, as the most recent REGISTER set it (SPC-3 5.6.4: "the most
    /// recently received valid APTPL value ... shall govern").
    aptpl: bool,
}

impl PrTable {
    pub(crate) fn key_of(&self, nexus: Nexus) -> Option<ReservationKey> {
        self.registrations.get(&nexus).copied()
    }

    pub(crate) fn reservation(&self) -> Option<(ReservationKey, ReservationType)> {
        self.reservation
    }

    pub(crate) fn registrations(&self) -> impl Iterator<Item = (Nexus, ReservationKey)> + '_ {
        self.registrations.iter().map(|(&nexus, &key)| (nexus, key))
    }

    pub(crate) fn generation(&self) -> u32 {
        self.generation
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.registrations.is_empty() && self.reservation.is_none()
    }

    /// Whether the table survives a power cycle of the array.
    pub(crate) fn persists_through_power_loss(&self) -> bool {
        self.aptpl
    }

    /// A power cycle without APTPL: every registration and the reservation are gone. The generation
    /// keeps counting so that READ KEYS never repeats a generation with different keys.
    pub(crate) fn forget(&mut self) {
        self.registrations.clear();
        self.reservation = None;
        self.aptpl = false;
        self.generation = self.generation.wrapping_add(1);
    }

    pub(crate) fn is_holder(&self, nexus: Nexus) -> bool {
        match (self.reservation, self.key_of(nexus)) {
            (Some((_, kind)), Some(_)) if kind.all_registrants() => true,
            (Some((holder, _)), Some(key)) => key == holder,
            _ => false,
        }
    }

    /// Whether the reservation lets `nexus` make `access` (SPC-3 table 'persistent reservations type
    /// codes': WE and EA admit the holder, the registrants types admit every registrant, and the
    /// write-exclusive types let anyone read).
    pub(crate) fn allows(&self, nexus: Nexus, access: Access) -> bool {
        let Some((_, kind)) = self.reservation else { return true };
        if access == Access::Read && !kind.restricts_reads() {
            return true;
        }
        if kind.registrants_have_access() { self.key_of(nexus).is_some() } else { self.is_holder(nexus) }
    }

    /// Applies a PR OUT from `nexus`; an `Err` is the status the command fails with and nothing changed.
    pub(crate) fn apply(&mut self, nexus: Nexus, command: PrOut) -> Result<Vec<PrChange>, Status> {
        match command {
            PrOut::Register { key, service_action_key, aptpl } => {
                if key != self.key_of(nexus).unwrap_or(0) {
                    return Err(Status::ReservationConflict);
                }
                Ok(self.register(nexus, service_action_key, aptpl))
            }
            PrOut::RegisterIgnoreExistingKey { service_action_key, aptpl } => {
                Ok(self.register(nexus, service_action_key, aptpl))
            }
            PrOut::Reserve { key, kind } => {
                self.check_key(nexus, key)?;
                match self.reservation {
                    None => {
                        self.reservation = Some((key, kind));
                        Ok(vec![PrChange::Reserved { nexus, key, kind }])
                    }
                    Some((_, held)) if held == kind && self.is_holder(nexus) => Ok(Vec::new()),
                    Some(_) => Err(Status::ReservationConflict),
                }
            }
            PrOut::Release { key, kind } => {
                self.check_key(nexus, key)?;
                let Some((holder, held)) = self.reservation else { return Ok(Vec::new()) };
                // A registrant that does not hold the reservation may release it without effect.
                if !self.is_holder(nexus) {
                    return Ok(Vec::new());
                }
                if held != kind {
                    return Err(Status::CheckCondition(Sense::IllegalRequest));
                }
                self.reservation = None;
                // SPC-3 5.6.10.2: releasing a registrants-only or all-registrants reservation tells the
                // other registrants, whose access just changed.
                let notify = if held.registrants_have_access() { self.others(nexus) } else { Vec::new() };
                Ok(vec![PrChange::Released { key: holder, notify }])
            }
            PrOut::Clear { key } => {
                self.check_key(nexus, key)?;
                let notify = self.others(nexus);
                self.registrations.clear();
                self.reservation = None;
                self.bump();
                Ok(vec![PrChange::Cleared { key, notify }])
            }
            PrOut::Preempt { key, victim_key, kind } | PrOut::PreemptAndAbort { key, victim_key, kind } => {
                self.preempt(nexus, key, victim_key, kind)
            }
        }
    }

    /// Answers a PR IN.
    pub(crate) fn read(&self, command: PrIn) -> Reply {
        match command {
            PrIn::ReadKeys => Reply::Keys {
                generation: self.generation,
                keys: self.registrations.values().copied().collect(),
            },
            PrIn::ReadReservation => Reply::Reservation {
                holder: self.reservation.map(|(key, _)| key),
                kind: self.reservation.map(|(_, kind)| kind),
            },
        }
    }

    fn register(&mut self, nexus: Nexus, new_key: ReservationKey, aptpl: bool) -> Vec<PrChange> {
        self.bump();
        let old = self.registrations.remove(&nexus);
        let mut changes = Vec::new();
        if new_key == 0 {
            // Unregistering an unregistered nexus is allowed and changes nothing.
            if let Some(old) = old {
                changes.push(PrChange::Unregistered { nexus, key: old });
                changes.extend(self.release_if_orphaned());
            }
            return changes;
        }
        self.aptpl = aptpl;
        self.registrations.insert(nexus, new_key);
        changes.push(PrChange::Registered { nexus, key: new_key });
        // A holder that changes its key keeps the reservation (SPC: the nexus holds it, not the key), so
        // the reservation follows when no nexus is left with the old key.
        if let (Some(old), Some((holder, kind))) = (old, self.reservation)
            && old == holder
            && !self.registrations.values().any(|&key| key == old)
        {
            self.reservation = Some((new_key, kind));
        }
        changes
    }

    fn preempt(
        &mut self,
        nexus: Nexus,
        key: ReservationKey,
        victim_key: ReservationKey,
        kind: ReservationType,
    ) -> Result<Vec<PrChange>, Status> {
        self.check_key(nexus, key)?;
        // SPC lets key 0 preempt every other registrant of an all-registrants reservation; drill's
        // clients never do that, so it is refused like every other key-0 preempt.
        if victim_key == 0 {
            return Err(Status::CheckCondition(Sense::IllegalRequest));
        }
        let victims: Vec<Nexus> = self
            .registrations
            .iter()
            .filter(|&(&other, &other_key)| other_key == victim_key && other != nexus)
            .map(|(&other, _)| other)
            .collect();
        // An all-registrants reservation has no single holder key to take over; it stays as it is.
        let takes_reservation = matches!(self.reservation, Some((holder, held)) if holder == victim_key && !held.all_registrants());
        if victims.is_empty() && !takes_reservation {
            return Err(Status::ReservationConflict);
        }
        for victim in &victims {
            self.registrations.remove(victim);
        }
        self.bump();
        let mut changes = vec![PrChange::Preempted { key, victim_key, victims }];
        if takes_reservation {
            self.reservation = Some((key, kind));
            changes.push(PrChange::Reserved { nexus, key, kind });
        }
        Ok(changes)
    }

    /// Fails with RESERVATION CONFLICT unless `nexus` is registered with `key`.
    fn check_key(&self, nexus: Nexus, key: ReservationKey) -> Result<(), Status> {
        match self.key_of(nexus) {
            Some(registered) if registered == key => Ok(()),
            _ => Err(Status::ReservationConflict),
        }
    }

    /// Releases the reservation once no registration entitles anyone to hold it: for the single-holder
    /// types when the holder key's last nexus unregistered, for all-registrants when the last registrant
    /// did.
    fn release_if_orphaned(&mut self) -> Option<PrChange> {
        let (holder, kind) = self.reservation?;
        let orphaned = if kind.all_registrants() {
            self.registrations.is_empty()
        } else {
            !self.registrations.values().any(|&key| key == holder)
        };
        if !orphaned {
            return None;
        }
        self.reservation = None;
        Some(PrChange::Released { key: holder, notify: Vec::new() })
    }

    fn others(&self, nexus: Nexus) -> Vec<Nexus> {
        self.registrations.keys().copied().filter(|&other| other != nexus).collect()
    }

    fn bump(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }
}
