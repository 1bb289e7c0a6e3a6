//! The event queue: a min-heap ordered by (virtual time, insertion sequence).
//!
//! The sequence number breaks ties between events scheduled for the same instant in the order they
//! were scheduled, which is what makes the loop deterministic without any hashing or thread timing.
//! Cancellation is the caller's business (generation counters checked at pop time), which keeps the
//! heap a plain heap.

use crate::SimTime;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

struct Entry<E> {
    at: SimTime,
    sequence: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.sequence == other.sequence
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest event first.
        other.at.cmp(&self.at).then_with(|| other.sequence.cmp(&self.sequence))
    }
}

/// Pending events of type `E`, popped in time order; time jumps straight to the next event.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_sequence: u64,
    now: SimTime,
    popped: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue { heap: BinaryHeap::new(), next_sequence: 0, now: SimTime::ZERO, popped: 0 }
    }

    /// The time of the event most recently popped (the loop's current instant).
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `at`. An instant in the past is clamped to now: causality never runs backwards.
    pub fn schedule(&mut self, at: SimTime, event: E) {
        let at = at.max(self.now);
        self.heap.push(Entry { at, sequence: self.next_sequence, event });
        self.next_sequence += 1;
    }

    /// Removes and returns the earliest event, advancing the current instant to its time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let entry = self.heap.pop()?;
        self.now = entry.at;
        self.popped += 1;
        Some((entry.at, entry.event))
    }

    /// The time of the next event without removing it.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|entry| entry.at)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// How many events have been popped so far (the run's event count).
    pub fn popped(&self) -> u64 {
        self.popped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_pop_in_time_order_and_time_jumps_to_each() {
        let mut queue = EventQueue::new();
        queue.schedule(SimTime::from_secs(3_600), "late");
        queue.schedule(SimTime::from_millis(5), "early");
        assert_eq!(queue.pop(), Some((SimTime::from_millis(5), "early")));
        assert_eq!(queue.now(), SimTime::from_millis(5));
        assert_eq!(queue.pop(), Some((SimTime::from_secs(3_600), "late")));
        assert_eq!(queue.now(), SimTime::from_secs(3_600));
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn simultaneous_events_pop_in_the_order_they_were_scheduled() {
        let mut queue = EventQueue::new();
        for label in ["a", "b", "c", "d"] {
            queue.schedule(SimTime::from_secs(1), label);
        }
        let order: Vec<_> = std::iter::from_fn(|| queue.pop().map(|(_, label)| label)).collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
    }

    #[test]
    fn an_event_scheduled_in_the_past_runs_now_not_before() {
        let mut queue = EventQueue::new();
        queue.schedule(SimTime::from_secs(10), "first");
        queue.pop();
        queue.schedule(SimTime::from_secs(2), "stale");
        assert_eq!(queue.pop(), Some((SimTime::from_secs(10), "stale")));
    }

    #[test]
    fn popped_counts_every_event() {
        let mut queue = EventQueue::new();
        for i in 0..5 {
            queue.schedule(SimTime::from_secs(i), i);
        }
        while queue.pop().is_some() {}
        assert_eq!(queue.popped(), 5);
    }
}
