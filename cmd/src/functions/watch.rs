//! `--watch`: when a file under a function's `CodeUri` changes, its
//! environments are retired (the idle ones at once, the busy ones once
//! their invoke is done: `rapid::Pool::retire_all`), so the next invoke
//! starts the new code. Changes are seen through inotify, a watch on every
//! directory under the `CodeUri` (and on each one created later); files
//! an interpreter or an editor writes on its own (`__pycache__`, `*.pyc`,
//! dot files, `*~`, `*.swp`) are not changes.

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use tokio::io::unix::AsyncFd;

/// What is watched in each directory: a file written and closed, moved in
/// or out, created or deleted (a save by rename is a move in).
fn flags() -> AddWatchFlags {
    AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
}

struct Fd(Inotify);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// One function's code, watched.
pub struct Watcher {
    fd: AsyncFd<Fd>,
    /// The directory of each watch, to watch the directories created in it.
    dirs: Vec<(nix::sys::inotify::WatchDescriptor, PathBuf)>,
}

/// Whether a file named `name` is the function's code rather than what a
/// runtime or an editor leaves beside it.
pub fn is_code(name: &str) -> bool {
    !(name.is_empty()
        || name.starts_with('.')
        || name == "__pycache__"
        || name.ends_with(".pyc")
        || name.ends_with('~')
        || name.ends_with(".swp"))
}

impl Watcher {
    /// Watches every directory under `root` (itself included).
    pub fn new(root: &Path) -> Result<Watcher, String> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(|err| format!("cannot watch files (inotify): {err}"))?;
        // `AsyncFd::new` is deprecated for types that may close their
        // descriptor while registered; `Fd` owns the inotify descriptor and
        // the `AsyncFd` owns `Fd`, so it stays open until deregistered
        // (what the unsafe `register` would ask us to promise).
        #[allow(deprecated)]
        let fd = AsyncFd::new(Fd(inotify))
            .map_err(|err| format!("cannot watch files (inotify): {err}"))?;
        let mut watcher = Watcher {
            fd,
            dirs: Vec::new(),
        };
        watcher.add_tree(root)?;
        Ok(watcher)
    }

    fn add_tree(&mut self, dir: &Path) -> Result<(), String> {
        let wd = self
            .fd
            .get_ref()
            .0
            .add_watch(dir, flags())
            .map_err(|err| format!("cannot watch {}: {err}", dir.display()))?;
        self.dirs.push((wd, dir.to_path_buf()));
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && is_code(&name.to_string_lossy()) {
                self.add_tree(&entry.path())?;
            }
        }
        Ok(())
    }

    /// The next change: the path of the first file that changed in the
    /// batch the kernel gave (a save is often several events at once).
    pub async fn changed(&mut self) -> Result<PathBuf, String> {
        loop {
            let mut ready = self
                .fd
                .readable()
                .await
                .map_err(|err| format!("inotify: {err}"))?;
            let events = match ready.get_inner().0.read_events() {
                Ok(events) => events,
                Err(nix::errno::Errno::EAGAIN) => {
                    ready.clear_ready();
                    continue;
                }
                Err(err) => return Err(format!("inotify: {err}")),
            };
            let mut first = None;
            for event in events {
                let Some(name) = event
                    .name
                    .as_ref()
                    .map(|n| n.to_string_lossy().into_owned())
                else {
                    continue;
                };
                if !is_code(&name) {
                    continue;
                }
                let Some(dir) = self
                    .dirs
                    .iter()
                    .find(|(wd, _)| *wd == event.wd)
                    .map(|(_, dir)| dir.clone())
                else {
                    continue;
                };
                let path = dir.join(&name);
                if event.mask.contains(AddWatchFlags::IN_ISDIR)
                    && event.mask.contains(AddWatchFlags::IN_CREATE)
                {
                    // A new directory: its files are code too.
                    let _ = self.add_tree(&path);
                }
                first.get_or_insert(path);
            }
            if let Some(path) = first {
                return Ok(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_runtimes_and_editors_write_is_not_code() {
        for name in ["app.py", "bootstrap", "index.mjs", "lib"] {
            assert!(is_code(name), "{name}");
        }
        for name in [
            "__pycache__",
            "app.cpython-311.pyc",
            ".app.py.swp",
            "app.py~",
            ".git",
        ] {
            assert!(!is_code(name), "{name}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_file_written_in_a_new_directory_is_a_change() {
        let root = std::env::temp_dir().join(format!("rapid-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let mut watcher = Watcher::new(&root).unwrap();
        std::fs::create_dir(root.join("pkg")).unwrap();
        let first = watcher.changed().await.unwrap();
        assert_eq!(first, root.join("pkg"));
        std::fs::write(root.join("pkg/__pycache__"), "").unwrap();
        std::fs::write(root.join("pkg/mod.py"), "x = 1\n").unwrap();
        let next = watcher.changed().await.unwrap();
        assert_eq!(next, root.join("pkg/mod.py"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
