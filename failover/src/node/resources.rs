//! Resource groups: started in dependency order (disk, IP, network name, database), stopped in
//! reverse, health-checked, and restarted locally up to `local_restart_attempts` times before the group
//! is marked failed so the coordinator moves it. Most resources come online after their `online_time`;
//! a `PhysicalDisk` comes online when its persistent-reservation arbitration is won (shared_disk.rs).

use super::Node;
use crate::config::{ResourceKind, start_order};
use crate::io::{CopyRole, Output, ResourceState, StopReason};
use crate::io::{Effect, Note};
use crate::types::{DbId, Epoch, LocalTime, LunId};

fn disk_lun(kind: ResourceKind) -> Option<LunId> {
    match kind {
        ResourceKind::PhysicalDisk { lun } => Some(lun),
        _ => None,
    }
}

/// A resource group coming online, one resource at a time.
#[derive(Clone, Debug)]
pub struct Onlining {
    pub epoch: Epoch,
    pub lost_logs: u64,
    /// Resource indexes still to bring online, in start order.
    pub remaining: Vec<usize>,
    /// The resource currently coming online and when it will be.
    pub current: usize,
    pub step_done_at: LocalTime,
}

impl Node {
    pub(super) fn begin_onlining(&mut self, db: DbId, epoch: Epoch, lost_logs: u64) {
        let Some(config) = self.config.database(db) else { return };
        let Some(order) = start_order(&config.resources) else { return };
        let Some((&first, rest)) = order.split_first() else { return };
        let online_time = config.resources[first].online_time;
        let disk = disk_lun(config.resources[first].kind);
        let Some(runtime) = self.dbs.get_mut(&db) else { return };
        runtime.onlining = Some(Onlining {
            epoch,
            lost_logs,
            remaining: rest.to_vec(),
            current: first,
            // A disk is online when its arbitration is won, however long that takes.
            step_done_at: if disk.is_some() { LocalTime::NEVER } else { self.now + online_time },
        });
        if let Some(activation) = runtime.activation.as_mut() {
            activation.deadline = LocalTime::NEVER;
        }
        self.out.push(Output::Note(Note::ResourceState {
            db,
            resource: first,
            state: ResourceState::OnlinePending,
        }));
        if let Some(lun) = disk {
            self.start_disk_claim(db, lun);
        }
    }

    pub(super) fn advance_onlining(&mut self) {
        let dbs: Vec<DbId> = self.dbs.keys().copied().collect();
        for db in dbs {
            while self.quorate {
                let Some(runtime) = self.dbs.get_mut(&db) else { break };
                let Some(onlining) = runtime.onlining.as_mut() else { break };
                if self.now < onlining.step_done_at {
                    break;
                }
                let finished = onlining.current;
                let (epoch, lost_logs) = (onlining.epoch, onlining.lost_logs);
                let next =
                    if onlining.remaining.is_empty() { None } else { Some(onlining.remaining.remove(0)) };
                let Some(config) = self.config.database(db) else { break };
                let kind = config.resources[finished].kind;
                let next_disk = next.and_then(|next| disk_lun(config.resources[next].kind));
                if let Some(next) = next {
                    let online_time = config.resources[next].online_time;
                    onlining.current = next;
                    onlining.step_done_at = if next_disk.is_some() {
                        LocalTime::NEVER
                    } else {
                        onlining.step_done_at + online_time
                    };
                } else {
                    runtime.onlining = None;
                }
                self.out.push(Output::Note(Note::ResourceState {
                    db,
                    resource: finished,
                    state: ResourceState::Online,
                }));
                match kind {
                    ResourceKind::NetworkName => self.out.push(Output::Effect(Effect::RegisterName { db })),
                    ResourceKind::Database => self.mounted(db, epoch, lost_logs),
                    ResourceKind::Ip | ResourceKind::Generic | ResourceKind::PhysicalDisk { .. } => {}
                }
                if let Some(next) = next {
                    self.out.push(Output::Note(Note::ResourceState {
                        db,
                        resource: next,
                        state: ResourceState::OnlinePending,
                    }));
                }
                if let Some(lun) = next_disk {
                    self.start_disk_claim(db, lun);
                }
            }
        }
    }

    /// Stops a database on this node (self-fencing, deposition, move or failure).
    pub(super) fn stop_db(&mut self, db: DbId, reason: StopReason) {
        // Shared disks: stop defending and checking. The reservation stays where it is; the next owner
        // preempts it, which also aborts anything of ours still queued at the array.
        self.drop_storage(db);
        let Some(runtime) = self.dbs.get_mut(&db) else { return };
        let was_active = runtime.role == CopyRole::Active;
        let was_busy = was_active || runtime.role == CopyRole::Activating;
        runtime.activation = None;
        runtime.onlining = None;
        if !was_busy {
            return;
        }
        runtime.role =
            if reason == StopReason::ResourceFailed { CopyRole::Failed } else { CopyRole::Passive };
        // Nothing more will be written: the open log is closed so it can be shipped (a move is lossless).
        if was_active {
            self.out.push(Output::Note(Note::Dismounted { db, reason }));
            self.close_log(db);
        }
        let Some(config) = self.config.database(db) else { return };
        let order = start_order(&config.resources).unwrap_or_default();
        for &resource in order.iter().rev() {
            let state = if reason == StopReason::ResourceFailed {
                ResourceState::Failed
            } else {
                ResourceState::Offline
            };
            self.out.push(Output::Note(Note::ResourceState { db, resource, state }));
        }
    }

    /// The periodic health check: a failed resource is restarted locally with everything that depends
    /// on it, up to `local_restart_attempts` times per ownership term; then the group fails.
    pub(super) fn health_check_if_due(&mut self) {
        if self.now < self.next_health_check {
            return;
        }
        self.next_health_check = self.now + self.config.settings.health_check_interval;
        let failed: Vec<(DbId, usize)> = self
            .dbs
            .iter()
            .filter_map(|(&db, runtime)| runtime.crashed.map(|resource| (db, resource)))
            .collect();
        for (db, resource) in failed {
            let attempts = self.config.settings.local_restart_attempts;
            let Some(runtime) = self.dbs.get_mut(&db) else { continue };
            runtime.crashed = None;
            if runtime.role != CopyRole::Active {
                continue;
            }
            runtime.restarts += 1;
            if runtime.restarts <= attempts {
                self.restart_locally(db, resource);
            } else {
                self.stop_db(db, StopReason::ResourceFailed);
            }
        }
    }

    /// Local recovery: the failed resource and everything that depends on it go offline (in reverse
    /// start order) and come back in start order, on this node, in the same ownership term.
    fn restart_locally(&mut self, db: DbId, failed: usize) {
        let Some(config) = self.config.database(db) else { return };
        let Some(order) = start_order(&config.resources) else { return };
        let mut chain: Vec<usize> = Vec::new();
        for &resource in &order {
            let depends =
                config.resources[resource].depends_on.iter().any(|dependency| chain.contains(dependency));
            if resource == failed || depends {
                chain.push(resource);
            }
        }
        let stops_database =
            chain.iter().any(|&resource| config.resources[resource].kind == ResourceKind::Database);
        let Some((&first, rest)) = chain.split_first() else { return };
        let online_time = config.resources[first].online_time;
        let Some(runtime) = self.dbs.get_mut(&db) else { return };
        let epoch = runtime.active_epoch;
        if stops_database {
            runtime.role = CopyRole::Activating;
            self.out.push(Output::Note(Note::Dismounted { db, reason: StopReason::ResourceFailed }));
            self.close_log(db);
        }
        for &resource in chain.iter().skip(1).rev() {
            self.out.push(Output::Note(Note::ResourceState { db, resource, state: ResourceState::Offline }));
        }
        let Some(runtime) = self.dbs.get_mut(&db) else { return };
        runtime.onlining = Some(Onlining {
            epoch,
            lost_logs: 0,
            remaining: rest.to_vec(),
            current: first,
            step_done_at: self.now + online_time,
        });
        self.out.push(Output::Note(Note::ResourceState {
            db,
            resource: first,
            state: ResourceState::Restarting,
        }));
    }
}
