//! The `drill` binary. Everything it does lives in `harness::cli`.

fn main() -> std::process::ExitCode {
    harness::cli::main()
}
