//! Stamps `rapid --version` with the commit rapid was built from:
//! `git rev-parse --short HEAD` when the sources are a git checkout, and
//! "unknown" otherwise (a source tarball, or no git installed), so that a
//! build never fails for want of git.

use std::path::Path;
use std::process::Command;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    let commit = git(&dir, &["rev-parse", "--short", "HEAD"]);
    println!(
        "cargo:rustc-env=RAPID_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    println!("cargo:rerun-if-changed=build.rs");
    // Build again when HEAD moves: a new commit on the branch (its ref, loose
    // or packed) or a checkout of another one (HEAD itself).
    if commit.is_some() {
        let mut watched = Vec::new();
        if let Some(git_dir) = git(&dir, &["rev-parse", "--absolute-git-dir"]) {
            watched.push(format!("{git_dir}/HEAD"));
        }
        if let Some(common) = git(
            &dir,
            &["rev-parse", "--path-format=absolute", "--git-common-dir"],
        ) {
            watched.push(format!("{common}/packed-refs"));
            if let Some(head_ref) = git(&dir, &["symbolic-ref", "-q", "HEAD"]) {
                watched.push(format!("{common}/{head_ref}"));
            }
        }
        // A path that does not exist would make cargo run this every time.
        for path in watched.iter().filter(|p| Path::new(p).exists()) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

/// One line of git's output, or None when git is missing or fails.
fn git(dir: &str, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let line = text.trim();
    (output.status.success() && !line.is_empty()).then(|| line.to_owned())
}
