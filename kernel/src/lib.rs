//! The discrete-event core of drill.
//!
//! Three things live here and nothing else: virtual time ([`SimTime`]), seeded per-component random
//! streams ([`RngStream`]) and the event queue ([`EventQueue`]). There is no domain knowledge in this
//! crate; emulators and the harness build on it.
//!
//! Architecture invariant: nothing in this crate reads the wall clock, the environment or an unseeded
//! random source. Two runs that push the same events in the same order pop them in the same order.

mod queue;
mod rng;
mod time;

pub use queue::EventQueue;
pub use rng::{RngStream, SeedTree};
pub use time::{SimTime, format_duration, parse_duration};
