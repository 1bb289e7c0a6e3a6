//! The `.vSphere-HA` directory on each datastore: every host's heartbeat and poweron file, and the
//! `protectedlist` file whose lock says which master is responsible for the datastore's VMs ([DD-FC]).
//!
//! The world owns one [`HaStorage`] and applies an agent's [`StorageOp`] to it only when that agent's
//! host reaches the datastore, so APD, path loss and a cut storage network all show up here as writes
//! that stop and reads that fail.

use super::{DatastoreId, HaInput, StorageOp, VmId};
use crate::ids::HostId;
use core::time::Duration;
use kernel::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One host's file on a heartbeat datastore: the heartbeat region (`seq`, bumped on every write) and
/// the poweron file (whether the host is isolated, which VMs run on it, which ones its isolation
/// response or VMCP powered off so that a master restarts them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFile {
    pub seq: u64,
    pub isolated: bool,
    pub powered_on: BTreeSet<VmId>,
    pub powered_off_by_ha: BTreeSet<VmId>,
}

#[derive(Clone, Copy, Debug)]
struct Lock {
    holder: HostId,
    renewed_at: SimTime,
}

/// Every datastore's `.vSphere-HA` directory.
#[derive(Debug, Default)]
pub struct HaStorage {
    lease: Duration,
    files: BTreeMap<(DatastoreId, HostId), HostFile>,
    locks: BTreeMap<DatastoreId, Lock>,
}

impl HaStorage {
    /// Empty directories; a `protectedlist` lock not renewed for `lease` can be taken by another
    /// master (`HaConfig::protected_list_lease`).
    pub fn new(lease: Duration) -> Self {
        HaStorage { lease, files: BTreeMap::new(), locks: BTreeMap::new() }
    }

    /// Applies `op` from `host`, which reaches the datastore, and returns the answer, if any.
    pub fn apply(&mut self, now: SimTime, host: HostId, op: &StorageOp) -> Option<HaInput> {
        match op {
            StorageOp::WriteHostFile { datastore, file } => {
                self.files.insert((*datastore, host), file.clone());
                None
            }
            StorageOp::ReadHostFile { datastore, host: of } => Some(HaInput::HostFileRead {
                datastore: *datastore,
                host: *of,
                file: self.files.get(&(*datastore, *of)).cloned(),
            }),
            StorageOp::LockProtectedList { datastore } => {
                let granted = self.lock(now, host, *datastore);
                Some(HaInput::ProtectedListLocked { datastore: *datastore, granted })
            }
            StorageOp::ReleaseProtectedList { datastore } => {
                if self.owner(now, *datastore) == Some(host) {
                    self.locks.remove(datastore);
                }
                None
            }
            StorageOp::ReadProtectedList { datastore } => Some(HaInput::ProtectedListOwner {
                datastore: *datastore,
                owner: self.owner(now, *datastore),
            }),
        }
    }

    /// The answer an op gets when its host does not reach the datastore.
    pub fn unreachable(op: &StorageOp) -> Option<HaInput> {
        match op {
            StorageOp::ReadHostFile { datastore, host } => {
                Some(HaInput::HostFileRead { datastore: *datastore, host: *host, file: None })
            }
            StorageOp::LockProtectedList { datastore } => {
                Some(HaInput::ProtectedListLocked { datastore: *datastore, granted: false })
            }
            StorageOp::ReadProtectedList { datastore } => {
                Some(HaInput::ProtectedListOwner { datastore: *datastore, owner: None })
            }
            StorageOp::WriteHostFile { .. } | StorageOp::ReleaseProtectedList { .. } => None,
        }
    }

    /// Ground truth: the master holding `datastore`'s `protectedlist` lock at `now`.
    pub fn owner(&self, now: SimTime, datastore: DatastoreId) -> Option<HostId> {
        self.locks
            .get(&datastore)
            .filter(|lock| now.saturating_since(lock.renewed_at) < self.lease)
            .map(|lock| lock.holder)
    }

    /// Ground truth: `host`'s file on `datastore`.
    pub fn host_file(&self, datastore: DatastoreId, host: HostId) -> Option<&HostFile> {
        self.files.get(&(datastore, host))
    }

    fn lock(&mut self, now: SimTime, host: HostId, datastore: DatastoreId) -> bool {
        match self.owner(now, datastore) {
            Some(holder) if holder != host => false,
            _ => {
                self.locks.insert(datastore, Lock { holder: host, renewed_at: now });
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DS: DatastoreId = DatastoreId(1);

    #[test]
    fn a_protectedlist_lock_is_refused_to_a_second_master_until_the_holder_stops_renewing() {
        let mut storage = HaStorage::new(Duration::from_secs(16));
        let lock = StorageOp::LockProtectedList { datastore: DS };
        let granted = |answer| matches!(answer, Some(HaInput::ProtectedListLocked { granted: true, .. }));
        assert!(granted(storage.apply(SimTime::from_secs(0), HostId(1), &lock)));
        assert!(!granted(storage.apply(SimTime::from_secs(15), HostId(2), &lock)));
        assert!(granted(storage.apply(SimTime::from_secs(16), HostId(2), &lock)));
        assert_eq!(storage.owner(SimTime::from_secs(16), DS), Some(HostId(2)));
    }

    #[test]
    fn a_released_lock_is_free_at_once() {
        let mut storage = HaStorage::new(Duration::from_secs(16));
        storage.apply(SimTime::ZERO, HostId(1), &StorageOp::LockProtectedList { datastore: DS });
        storage.apply(SimTime::ZERO, HostId(1), &StorageOp::ReleaseProtectedList { datastore: DS });
        assert_eq!(storage.owner(SimTime::ZERO, DS), None);
    }
}
