//! Records the git commit drill is built from (`DRILL_COMMIT`), for the provenance of every
//! campaign report: a report names the commit that gives the same histories again.
//!
//! Cargo reruns a build script whose watched path is missing, and a rerun rebuilds the crate: so
//! only files that exist are watched (the git directory's `HEAD` and the ref it points to, resolved
//! by git itself, which also handles worktrees), or else the script alone.

use std::path::PathBuf;
use std::process::Command;

fn git(arguments: &[&str]) -> Option<String> {
    let output = Command::new("git").args(arguments).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=DRILL_COMMIT={commit}");
    let mut watched = Vec::new();
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let git_dir = PathBuf::from(git_dir);
        watched.push(git_dir.join("HEAD"));
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            // A branch's ref lives in the common directory of a worktree.
            let common =
                git(&["rev-parse", "--git-common-dir"]).map_or_else(|| git_dir.clone(), PathBuf::from);
            watched.push(common.join(&reference));
            watched.push(common.join("packed-refs"));
        }
    }
    watched.retain(|path| path.exists());
    if watched.is_empty() {
        println!("cargo:rerun-if-changed=build.rs");
    }
    for path in watched {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
