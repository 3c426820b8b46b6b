//! External extensions: the executable files of the extensions directory
//! (`/opt/extensions`, spec §5), each started as a process before the
//! runtime.

use std::path::{Path, PathBuf};

/// The executable regular files of `dir`, by name. A missing directory has none.
pub(in crate::engine) fn discover(dir: Option<&Path>) -> std::io::Result<Vec<(String, PathBuf)>> {
    use std::os::unix::fs::PermissionsExt;
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
            files.push((entry.file_name().to_string_lossy().into_owned(), path));
        }
    }
    files.sort();
    Ok(files)
}
