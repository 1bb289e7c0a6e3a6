//! The one timer rule for every state machine the world drives (failover nodes, hubs, iSCSI
//! initiators): each asks to be woken at one instant; a newer request supersedes the older, whose
//! queued event is then ignored by its stale generation. A timer that comes due while its host is not
//! running is dropped: the resume (or the boot) wakes every machine on the host, and each asks again.

use super::{Ev, World};
use failover::{HubInput, Input};
use kernel::SimTime;

/// A state machine the world drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Component {
    Node(usize),
    Hub(usize),
    Initiator(usize),
    /// A hypervisor host's HA agent, by its slot.
    Agent(usize),
}

/// When one state machine wants to be woken next.
#[derive(Clone, Debug, Default)]
pub(super) struct WakeSlot {
    generation: u64,
    at: Option<SimTime>,
}

impl WakeSlot {
    /// Asks for a wake at `at`; returns the generation to schedule, or `None` if that wake is already
    /// scheduled.
    fn arm(&mut self, at: SimTime) -> Option<u64> {
        if self.at == Some(at) {
            return None;
        }
        self.generation += 1;
        self.at = Some(at);
        Some(self.generation)
    }

    /// Whether the wake of `generation` is the current one; it is consumed if so.
    fn fire(&mut self, generation: u64) -> bool {
        if self.generation != generation || self.at.is_none() {
            return false;
        }
        self.at = None;
        true
    }

    /// Forgets the scheduled wake (power loss: the machine is gone with its timers).
    pub(super) fn cancel(&mut self) {
        self.generation += 1;
        self.at = None;
    }
}

impl World<'_> {
    pub(super) fn host_of(&self, component: Component) -> usize {
        match component {
            Component::Node(node) | Component::Initiator(node) => self.nodes[node].host,
            Component::Hub(hub) => self.hubs[hub].host,
            Component::Agent(agent) => self.ha.as_ref().map_or(0, |ha| ha.agents[agent].host),
        }
    }

    pub(super) fn wake_slot(&mut self, component: Component) -> Option<&mut WakeSlot> {
        match component {
            Component::Node(node) => Some(&mut self.nodes[node].wake),
            Component::Hub(hub) => Some(&mut self.hubs[hub].wake),
            Component::Initiator(node) => {
                self.storage.as_mut().map(|storage| &mut storage.initiators[node].wake)
            }
            Component::Agent(agent) => self.ha.as_mut().map(|ha| &mut ha.agents[agent].wake),
        }
    }

    /// `component` asks to be woken at true time `at` (never in the past).
    pub(super) fn wake_at(&mut self, component: Component, at: SimTime) {
        let at = at.max(self.now());
        if let Some(generation) = self.wake_slot(component).and_then(|slot| slot.arm(at)) {
            self.queue.schedule(at, Ev::Wake { component, generation });
        }
    }

    pub(super) fn wake_fired(&mut self, component: Component, generation: u64) {
        let current = self.wake_slot(component).is_some_and(|slot| slot.fire(generation));
        if current && self.hosts.is_running(emulators::HostId(self.host_of(component) as u32)) {
            self.wake_component(component);
        }
    }

    /// Wakes `component` now (it re-evaluates what time alone changed and asks for its next wake). A
    /// wake it asked for earlier and that is still ahead stays armed: a machine may rely on the
    /// driver holding it (the initiator does not repeat an unchanged `WakeAt`), and cancelling it here
    /// lost the initiator's path checker for good after a pause (nightly `scc-nemesis` seed 243: the
    /// paths stayed down 190 s after the array was back, and the group with them).
    pub(super) fn wake_component(&mut self, component: Component) {
        match component {
            Component::Node(node) => self.node_input(node, Input::Wake),
            Component::Hub(hub) => self.hub_input(hub, HubInput::Wake),
            Component::Initiator(node) => self.initiator_input(node, emulators::iscsi::InitiatorInput::Wake),
            Component::Agent(agent) => self.run_agent(agent, emulators::hypervisor::HaInput::Wake),
        }
    }
}
