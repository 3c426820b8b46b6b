//! The static pieces some tests put in an empty root or an image: the
//! static rapid (`scripts/build-static`) and std-only test programs from
//! testdata built as static executables with rustc.

use super::fixtures::{repo_root, testdata};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// The static rapid, or why it is not there. On CI (`CI` set) a missing
/// static binary is a failure: `scripts/test` (the whole suite) builds it.
pub fn static_rapid_path() -> Result<PathBuf, String> {
    let path = std::env::var_os("RAPID_STATIC_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            repo_root().join("target/static/x86_64-unknown-linux-gnu/release/rapid")
        });
    if !path.is_file() {
        let reason = format!(
            "the static rapid is not built ({} is missing): run scripts/build-static",
            path.display()
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "{reason}; on CI scripts/test builds it, so this is a failure"
        );
        return Err(reason);
    }
    Ok(path)
}

/// `testdata/<source>` (std only) built once as one static executable.
pub fn static_program(source: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(path) = built.get(source) {
        return path.clone();
    }
    let name = source
        .rsplit('/')
        .next()
        .unwrap_or(source)
        .trim_end_matches(".rs");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let compiled = Command::new(&rustc)
        .args([
            "--edition",
            "2021",
            "-C",
            "target-feature=+crt-static",
            "-o",
        ])
        .arg(&out)
        .arg(testdata(source))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {rustc}: {e}"));
    assert!(
        compiled.status.success(),
        "building {source} as a static program failed: {}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    built.insert(source.to_owned(), out.clone());
    out
}
