//! The scenario catalogue lives beside this crate as TOML files; its tests are in `tests/`.
