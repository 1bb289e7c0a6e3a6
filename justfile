# drill: short recipes over cargo. `just --list` shows them; each help line is one line.

# Run every test of the workspace (the fast tier, the CLI, the architecture checks).
test:
    cargo nextest run --workspace

# Run the campaign over the built-in catalogue and write reports-out/campaign.json.
campaign *ARGS:
    cargo run --release -p drill-harness --bin drill -- campaign {{ARGS}}

# Check formatting and lints exactly as CI does.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Measure the kernel against the performance targets (release build).
bench *ARGS:
    cargo run --release -p drill-harness --bin drill -- bench {{ARGS}}

# Run the nightly gate: every swarm scenario of suites/nightly with seeds 1..=SEEDS (release build).
nightly SEEDS="200":
    cargo run --release -p drill-harness --bin drill -- campaign suites/nightly --seeds {{SEEDS}} --out reports-out/nightly
