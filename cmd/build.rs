//! Stamps `rapid --version` with the commit rapid was built from:
//! `git rev-parse --short HEAD` when the sources are a git checkout, and
//! "unknown" otherwise (a source tarball, or no git installed), so that a
//! build never fails for want of git. And gives release builds their link
//! order (fewer resident pages of code, [`link_order`]).

use std::path::Path;
use std::process::Command;

fn main() {
    link_order();
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

/// Release builds linked by rust-lld lay out the functions that start-up
/// and warm invokes execute (symbol-order.txt, written by
/// scripts/symbol-order from a callgrind profile) together at the start of
/// the text, so the 64 KB the kernel maps around each fault of code hold
/// code that runs: fewer resident pages (names the binary lacks are
/// skipped). When linked against glibc 2.36 or later, relative
/// relocations are packed (DT_RELR): the loader reads a 2 KB table
/// instead of 160 KB. Not for `scripts/build-static`'s build: cargo hashes
/// the explicit target into its symbols' names, so the list (taken from
/// the usual build) would not match them, and it was not measured.
fn link_order() {
    println!("cargo:rerun-if-changed=symbol-order.txt");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let static_build = features.split(',').any(|f| f == "crt-static");
    if !release || static_build || !linker_is_rust_lld() {
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    let file = Path::new(&dir).join("symbol-order.txt");
    if file.is_file() {
        println!(
            "cargo:rustc-link-arg-bin=rapid=-Wl,--symbol-ordering-file={}",
            file.display()
        );
        println!("cargo:rustc-link-arg-bin=rapid=-Wl,--no-warn-symbol-ordering");
    }
    if glibc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bin=rapid=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether rapid links with the toolchain's own lld: the default for
/// x86_64 Linux (gnu) since Rust 1.90, unless a linker is configured.
fn linker_is_rust_lld() -> bool {
    let target = std::env::var("TARGET").unwrap_or_default();
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if target != "x86_64-unknown-linux-gnu"
        || std::env::var_os("RUSTC_LINKER").is_some()
        || flags.contains("linker")
    {
        return false;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = output(&rustc, &["--version"]).unwrap_or_default();
    // "rustc 1.95.0 (...)"
    let minor = version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 90)
}

/// Whether the glibc rapid is built against (this machine's: the gnu
/// target builds for it) is at least `major.minor`; `getconf` says
/// "glibc 2.36".
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Some(text) = output("getconf", &["GNU_LIBC_VERSION"]) else {
        return false;
    };
    let mut parts = text
        .trim()
        .strip_prefix("glibc ")
        .unwrap_or_default()
        .split('.')
        .map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(have_major), Some(have_minor)) => (have_major, have_minor) >= (major, minor),
        _ => false,
    }
}

/// A program's standard output, or None when it cannot run or fails.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()
}
