//! Updating `vmesh render --out OUT` as one transaction: after any failure, or a kill at any
//! moment, OUT is entirely as it was or entirely updated (once the next run has recovered
//! it), vmesh never writes through a symbolic link, and two runs never interleave.
//!
//! How (docs/hosts.md, "Writing OUT"):
//! 1. **Lock.** `OUT/.vmesh.lock` (opened without following links) is held with `flock`
//!    for the whole run; a second run fails at once, naming the lock.
//! 2. **Recover.** Under the lock, every `OUT/.vmesh-staging-*` directory belongs to a run
//!    that died: if it holds a `committed` marker the update finished and only the cleanup
//!    is left; else, if it holds a `journal`, the switch had begun and is rolled back; else
//!    nothing in OUT was touched and the directory is removed.
//! 3. **Stage.** A new `OUT/.vmesh-staging-<pid>-<random>/` (created by `mkdir`, so it is
//!    exclusively ours) receives every new file under `new/`, each created with
//!    `O_EXCL | O_NOFOLLOW` and synced. Nothing in OUT has changed yet.
//! 4. **Journal.** The list of directories to create, files to write and files to remove
//!    is written to `journal.tmp`, synced and renamed to `journal`: from then on a dead run
//!    is rolled back by the next one.
//! 5. **Switch.** Each file to replace or remove is renamed into `old/`, each new file is
//!    renamed from `new/` into place. Any error rolls back at once.
//! 6. **Commit.** `committed` is created; then `old/` and the staging directory are removed
//!    with the directories the removals emptied.
//!
//! Paths are relative to OUT and made of safe components (letters, digits, `-`, `_`, `.`),
//! so the journal is one path per line.

use super::source::display;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The lock file, hidden so that walks of OUT skip it.
pub const LOCK_FILE: &str = ".vmesh.lock";
/// The prefix of staging directories, hidden for the same reason.
pub const STAGING_PREFIX: &str = ".vmesh-staging-";
const JOURNAL: &str = "journal";
const COMMITTED: &str = "committed";
const JOURNAL_HEADER: &str = "vmesh-journal 1";

/// An exclusive lock on OUT. Dropping it removes the lock file (so OUT holds nothing but
/// the rendered files after a run) and then releases the lock.
#[derive(Debug)]
pub struct Lock {
    _file: fs::File,
    path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still held: a run that opened the file before the removal and
        // locks it afterwards sees that the path no longer names its file, and retries.
        let _ = fs::remove_file(&self.path);
    }
}

/// Takes the lock on `out` (which must exist), failing at once if another run holds it.
pub fn lock(out: &Path) -> Result<Lock, String> {
    // A lock file removed by the run that held it between our open and our flock is
    // stale: open the new one. A few rounds are plenty; each means another run finished.
    for _ in 0..8 {
        if let Some(lock) = lock_once(out)? {
            return Ok(lock);
        }
    }
    Err(format!(
        "cannot lock {}: other vmesh runs keep replacing {LOCK_FILE}",
        display(out)
    ))
}

/// The lock, or `None` when the file we locked is no longer the lock file.
fn lock_once(out: &Path) -> Result<Option<Lock>, String> {
    let path = out.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => format!(
                "{} is a symbolic link; vmesh does not follow links inside {}: remove it",
                display(&path),
                display(out)
            ),
            _ => format!("cannot open the lock file {}: {e}", display(&path)),
        })?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(format!(
            "{} is not a regular file; remove it (vmesh keeps its lock there)",
            display(&path)
        ));
    }
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this function owns; no memory is involved.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if locked != 0 {
        let error = std::io::Error::last_os_error();
        return Err(match error.raw_os_error() {
            Some(libc::EWOULDBLOCK) => format!(
                "another vmesh render is writing {} (it holds {}); wait for it to finish, then run again",
                display(out),
                display(&path)
            ),
            _ => format!("cannot lock {}: {error}", display(&path)),
        });
    }
    use std::os::unix::fs::MetadataExt;
    let ours = file.metadata().map(|m| (m.dev(), m.ino())).ok();
    let named = fs::symlink_metadata(&path).map(|m| (m.dev(), m.ino())).ok();
    if ours.is_none() || ours != named {
        return Ok(None);
    }
    Ok(Some(Lock { _file: file, path }))
}

/// The staging directories a dead run left in `out`.
fn leftovers(out: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let entries = fs::read_dir(out).map_err(|e| format!("cannot read {}: {e}", display(out)))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", display(out)))?;
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with(STAGING_PREFIX)
        {
            continue;
        }
        let path = entry.path();
        let kind = fs::symlink_metadata(&path)
            .map_err(|e| format!("cannot read {}: {e}", display(&path)))?;
        if !kind.is_dir() {
            return Err(format!(
                "{} is not a staging directory vmesh made (it is not a directory); remove it",
                display(&path)
            ));
        }
        found.push(path);
    }
    found.sort();
    Ok(found)
}

/// Whether `out` holds what a dead run left (`--check` refuses to compare such a tree).
pub fn interrupted(out: &Path) -> Result<bool, String> {
    if !out.is_dir() {
        return Ok(false);
    }
    Ok(!leftovers(out)?.is_empty())
}

/// Completes or rolls back what dead runs left in `out`; the caller holds the [`Lock`].
/// Returns a note per recovered run.
pub fn recover(out: &Path, _lock: &Lock) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    for staging in leftovers(out)? {
        let note = if staging.join(COMMITTED).exists() {
            // The journal goes just before the marker: without it only the marker is left.
            let journal = if staging.join(JOURNAL).exists() {
                Journal::read(&staging.join(JOURNAL))?
            } else {
                Journal::default()
            };
            clean_up(out, &staging, &journal)?;
            "completed the update an interrupted run had committed"
        } else if staging.join(JOURNAL).exists() {
            let journal = Journal::read(&staging.join(JOURNAL))?;
            roll_back(out, &staging, &journal)?;
            "rolled back the update an interrupted run had begun; the files are as they were before it"
        } else {
            remove_staging(&staging)?;
            "removed what an interrupted run had staged; it had changed nothing"
        };
        notes.push(format!("{}: {note}", display(out)));
    }
    Ok(notes)
}

/// What one update does, as recorded in the journal.
#[derive(Debug, Default, PartialEq, Eq)]
struct Journal {
    /// Directories the switch creates (in creation order).
    dirs: Vec<PathBuf>,
    /// Files written (new or replaced).
    writes: Vec<PathBuf>,
    /// Files removed.
    removes: Vec<PathBuf>,
}

impl Journal {
    fn text(&self) -> String {
        let mut text = format!("{JOURNAL_HEADER}\n");
        for (what, paths) in [
            ("dir", &self.dirs),
            ("write", &self.writes),
            ("remove", &self.removes),
        ] {
            for path in paths {
                text.push_str(&format!("{what} {}\n", path.display()));
            }
        }
        text
    }

    fn read(path: &Path) -> Result<Journal, String> {
        let text = fs::read_to_string(path)
            .map_err(|e| format!("cannot read the journal {}: {e}", display(path)))?;
        let bad = || {
            format!(
                "{} is not a journal vmesh wrote; move its directory out of the output directory",
                display(path)
            )
        };
        let mut lines = text.lines();
        if lines.next() != Some(JOURNAL_HEADER) {
            return Err(bad());
        }
        let mut journal = Journal::default();
        for line in lines {
            let (what, rest) = line.split_once(' ').ok_or_else(bad)?;
            let relative = PathBuf::from(rest);
            if !safe_relative(&relative) {
                return Err(bad());
            }
            match what {
                "dir" => journal.dirs.push(relative),
                "write" => journal.writes.push(relative),
                "remove" => journal.removes.push(relative),
                _ => return Err(bad()),
            }
        }
        Ok(journal)
    }
}

/// A path of plain components below OUT (no `..`, not absolute, nothing hidden).
fn safe_relative(path: &Path) -> bool {
    path.components().count() > 0
        && path.components().all(|c| match c {
            std::path::Component::Normal(part) => {
                let part = part.to_string_lossy();
                !part.starts_with('.')
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            }
            _ => false,
        })
}

/// Refuses a symbolic link (or anything but a directory) at every directory of `relative`
/// below `out`, and a link at the file itself: vmesh never reads or writes through links
/// inside OUT, wherever they point.
pub fn refuse_links(out: &Path, relative: &Path) -> Result<(), String> {
    let mut path = out.to_path_buf();
    let parts: Vec<_> = relative.components().collect();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        let Ok(meta) = fs::symlink_metadata(&path) else {
            return Ok(());
        };
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).map_or_else(|_| "?".into(), |t| display(&t));
            return Err(format!(
                "{} is a symbolic link (to {target}); vmesh does not write through links inside {}: replace it with a {} or move it away",
                display(&path),
                display(out),
                if i + 1 == parts.len() {
                    "file"
                } else {
                    "directory"
                }
            ));
        }
        if i + 1 < parts.len() && !meta.is_dir() {
            return Err(format!(
                "{} is not a directory; vmesh writes {} below it",
                display(&path),
                display(&out.join(relative))
            ));
        }
    }
    Ok(())
}

/// A fault injected by tests between the steps of [`apply`]: `Err` stops the update there,
/// as a kill would (no rollback, no cleanup).
pub type Stop<'a> = &'a mut dyn FnMut(&str) -> Result<(), String>;

/// Writes `writes` (path → text) and removes `removes` below `out` as one transaction.
/// The caller holds the [`Lock`], has recovered `out` and checked the paths with
/// [`refuse_links`].
pub fn apply(
    out: &Path,
    writes: &[(PathBuf, &str)],
    removes: &[PathBuf],
    _lock: &Lock,
) -> Result<(), String> {
    apply_stopping(out, writes, removes, &mut |_| Ok(()))
}

/// [`apply`] with a [`Stop`] hook between steps.
pub fn apply_stopping(
    out: &Path,
    writes: &[(PathBuf, &str)],
    removes: &[PathBuf],
    stop: Stop,
) -> Result<(), String> {
    let staging = make_staging(out)?;
    let journal = match stage(out, &staging, writes, removes, stop) {
        Ok(journal) => journal,
        Err(e) => {
            // Nothing in OUT changed; the staged files go (unless a test stopped here as a
            // kill would, leaving them to the next run).
            if !e.starts_with(STOPPED) {
                let _ = remove_staging(&staging);
            }
            return Err(e);
        }
    };
    stop("journal")?;
    if let Err(e) = switch(out, &staging, &journal, stop) {
        if e.starts_with(STOPPED) {
            return Err(e);
        }
        return match roll_back(out, &staging, &journal) {
            Ok(()) => Err(format!("{e}; nothing was changed")),
            Err(again) => Err(format!(
                "{e}; rolling back failed too ({again}): the next run completes the roll-back"
            )),
        };
    }
    create_new(&staging.join(COMMITTED), b"")?;
    stop("committed")?;
    clean_up(out, &staging, &journal)
}

/// The prefix of the error a [`Stop`] hook returns, which skips the roll-back.
pub const STOPPED: &str = "stopped at ";

fn make_staging(out: &Path) -> Result<PathBuf, String> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| format!("cannot get random bytes: {e}"))?;
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let staging = out.join(format!("{STAGING_PREFIX}{}-{suffix}", std::process::id()));
    // mkdir fails if anything (a link planted by someone) is there: the directory is ours.
    fs::create_dir(&staging).map_err(|e| format!("cannot create {}: {e}", display(&staging)))?;
    Ok(staging)
}

/// Creates a file that must not exist yet, never through a link, and syncs it.
fn create_new(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", display(path)))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", display(path)))
}

/// Stages the new files and writes the journal; OUT itself is not changed.
fn stage(
    out: &Path,
    staging: &Path,
    writes: &[(PathBuf, &str)],
    removes: &[PathBuf],
    stop: Stop,
) -> Result<Journal, String> {
    let mut journal = Journal::default();
    for (relative, text) in writes {
        let staged = staging.join("new").join(relative);
        let dir = staged.parent().expect("staged files are below new/");
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", display(dir)))?;
        create_new(&staged, text.as_bytes())?;
        stop("stage")?;
        let mut missing = Vec::new();
        let mut parent = relative.parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            if fs::symlink_metadata(out.join(p)).is_ok() {
                break;
            }
            missing.push(p.to_path_buf());
            parent = p.parent();
        }
        for dir in missing.into_iter().rev() {
            if !journal.dirs.contains(&dir) {
                journal.dirs.push(dir);
            }
        }
        journal.writes.push(relative.clone());
    }
    journal.removes = removes.to_vec();
    let temporary = staging.join("journal.tmp");
    create_new(&temporary, journal.text().as_bytes())?;
    fs::rename(&temporary, staging.join(JOURNAL))
        .map_err(|e| format!("cannot write the journal in {}: {e}", display(staging)))?;
    sync_dir(staging);
    Ok(journal)
}

/// Syncs a directory so that a rename in it is on disk (best effort: only a power loss,
/// not a kill, can lose it).
fn sync_dir(dir: &Path) {
    if let Ok(file) = fs::File::open(dir) {
        let _ = file.sync_all();
    }
}

fn rename(from: &Path, to: &Path) -> Result<(), String> {
    fs::rename(from, to)
        .map_err(|e| format!("cannot move {} to {}: {e}", display(from), display(to)))
}

/// Moves `path` (below `out`) into `old/`, creating `old/`'s directories as needed.
fn set_aside(out: &Path, staging: &Path, relative: &Path) -> Result<(), String> {
    let backup = staging.join("old").join(relative);
    let dir = backup.parent().expect("below old/");
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", display(dir)))?;
    rename(&out.join(relative), &backup)
}

fn switch(out: &Path, staging: &Path, journal: &Journal, stop: Stop) -> Result<(), String> {
    for dir in &journal.dirs {
        let path = out.join(dir);
        fs::create_dir(&path).map_err(|e| format!("cannot create {}: {e}", display(&path)))?;
    }
    for relative in &journal.writes {
        let target = out.join(relative);
        if fs::symlink_metadata(&target).is_ok() {
            set_aside(out, staging, relative)?;
            stop("set aside")?;
        }
        rename(&staging.join("new").join(relative), &target)?;
        stop("write")?;
    }
    for relative in &journal.removes {
        set_aside(out, staging, relative)?;
        stop("remove")?;
    }
    sync_dir(out);
    Ok(())
}

/// Undoes a switch that had begun: every file set aside goes back, every added file goes,
/// and the directories the switch created are removed if empty.
fn roll_back(out: &Path, staging: &Path, journal: &Journal) -> Result<(), String> {
    for relative in journal.writes.iter().chain(&journal.removes).rev() {
        let backup = staging.join("old").join(relative);
        let target = out.join(relative);
        if fs::symlink_metadata(&backup).is_ok() {
            rename(&backup, &target)?;
        } else if journal.writes.contains(relative)
            && fs::symlink_metadata(staging.join("new").join(relative)).is_err()
            && fs::symlink_metadata(&target).is_ok()
        {
            // Neither set aside nor still staged: the file was added by this update.
            fs::remove_file(&target)
                .map_err(|e| format!("cannot remove {}: {e}", display(&target)))?;
        }
    }
    for dir in journal.dirs.iter().rev() {
        let _ = fs::remove_dir(out.join(dir));
    }
    remove_staging(staging)
}

/// After a commit: removes what was set aside, the directories of OUT the removals emptied
/// (up to, not including, OUT), the journal, the commit marker and the staging directory,
/// in that order: a run killed in between leaves a marker without a journal, which the next
/// run finishes the same way.
fn clean_up(out: &Path, staging: &Path, journal: &Journal) -> Result<(), String> {
    for part in ["old", "new"] {
        let dir = staging.join(part);
        if fs::symlink_metadata(&dir).is_ok() {
            remove_staging(&dir)?;
        }
    }
    for relative in &journal.removes {
        let mut dir = relative.parent();
        while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            if fs::remove_dir(out.join(d)).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
    for file in [JOURNAL, COMMITTED] {
        match fs::remove_file(staging.join(file)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!(
                    "cannot remove {}: {e}",
                    display(&staging.join(file))
                ));
            }
            _ => {}
        }
    }
    remove_staging(staging)
}

fn remove_staging(staging: &Path) -> Result<(), String> {
    // remove_dir_all removes a link itself, never what it points to.
    fs::remove_dir_all(staging).map_err(|e| format!("cannot remove {}: {e}", display(staging)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Every file below `dir` but vmesh's lock, with its text.
    fn snapshot(dir: &Path) -> BTreeMap<String, String> {
        walkdir::WalkDir::new(dir)
            .into_iter()
            .map(Result::unwrap)
            .filter(|e| e.file_type().is_file() && e.file_name() != LOCK_FILE)
            .map(|e| {
                let relative = e.path().strip_prefix(dir).unwrap();
                (
                    relative.display().to_string(),
                    fs::read_to_string(e.path()).unwrap(),
                )
            })
            .collect()
    }

    fn old_tree(out: &Path) {
        for (path, text) in [
            ("c1/ns/gateway.yaml", "old gateway\n"),
            ("c1/ns/serviceentry.yaml", "old se\n"),
            ("c2/ns/gateway.yaml", "gone\n"),
            ("c1/ns/notes.txt", "the user's\n"),
        ] {
            let path = out.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
    }

    fn update() -> (Vec<(PathBuf, &'static str)>, Vec<PathBuf>) {
        (
            vec![
                (PathBuf::from("c1/ns/gateway.yaml"), "new gateway\n"),
                (PathBuf::from("c3/other/destinationrule.yaml"), "new dr\n"),
            ],
            vec![PathBuf::from("c2/ns/gateway.yaml")],
        )
    }

    #[test]
    fn an_update_stopped_at_any_step_recovers_to_old_or_new() {
        let steps = [
            "stage",
            "journal",
            "set aside",
            "write",
            "remove",
            "committed",
        ];
        let (writes, removes) = update();
        let new = {
            let dir = tempfile::tempdir().unwrap();
            old_tree(dir.path());
            let lock = lock(dir.path()).unwrap();
            apply(dir.path(), &writes, &removes, &lock).unwrap();
            snapshot(dir.path())
        };
        assert_eq!(new["c1/ns/gateway.yaml"], "new gateway\n");
        assert!(!new.contains_key("c2/ns/gateway.yaml"));
        assert!(!new.keys().any(|k| k.contains(STAGING_PREFIX)), "{new:?}");
        for step in steps {
            for nth in 0..3 {
                let dir = tempfile::tempdir().unwrap();
                old_tree(dir.path());
                let old = snapshot(dir.path());
                let mut seen = 0;
                let mut stop = |at: &str| {
                    if at == step {
                        seen += 1;
                        if seen > nth {
                            return Err(format!("{STOPPED}{at}"));
                        }
                    }
                    Ok(())
                };
                let stopped = apply_stopping(dir.path(), &writes, &removes, &mut stop);
                if stopped.is_ok() {
                    continue; // the step came fewer than nth + 1 times
                }
                let lock = lock(dir.path()).unwrap();
                let notes = recover(dir.path(), &lock).unwrap();
                assert_eq!(notes.len(), 1, "{step} #{nth}");
                let after = snapshot(dir.path());
                let expected = if step == "committed" { &new } else { &old };
                assert_eq!(&after, expected, "stopped at {step} #{nth}: {notes:?}");
                let dirs: Vec<String> = fs::read_dir(dir.path())
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
                let stray = |d: &String| {
                    d.starts_with(STAGING_PREFIX) || (d == "c3" && step != "committed")
                };
                assert!(
                    !dirs.iter().any(stray),
                    "stopped at {step} #{nth}: {dirs:?}"
                );
            }
        }
    }

    #[test]
    fn a_failing_switch_rolls_back_at_once() {
        let dir = tempfile::tempdir().unwrap();
        old_tree(dir.path());
        let old = snapshot(dir.path());
        // The second file's directory is a file: its rename fails after the first file
        // was replaced.
        let (mut writes, removes) = update();
        writes.insert(1, (PathBuf::from("c1/ns/serviceentry.yaml/x.yaml"), "x\n"));
        let lock = lock(dir.path()).unwrap();
        let err = apply(dir.path(), &writes, &removes, &lock).unwrap_err();
        assert!(err.contains("nothing was changed"), "{err}");
        assert_eq!(snapshot(dir.path()), old);
        assert!(recover(dir.path(), &lock).unwrap().is_empty());
    }

    #[test]
    fn a_second_lock_fails_with_a_clear_message_and_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock(dir.path()).unwrap();
        let err = lock(dir.path()).unwrap_err();
        assert!(err.contains("another vmesh render is writing"), "{err}");
        drop(held);
        lock(dir.path()).unwrap();

        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("c1")).unwrap();
        let err = refuse_links(dir.path(), Path::new("c1/ns/gateway.yaml")).unwrap_err();
        assert!(err.contains("c1 is a symbolic link"), "{err}");
        let linked = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", linked.path().join(LOCK_FILE)).unwrap();
        let err = lock(linked.path()).unwrap_err();
        assert!(err.contains("is a symbolic link"), "{err}");
    }

    #[test]
    fn journals_round_trip_and_hostile_ones_are_refused() {
        let journal = Journal {
            dirs: vec!["a".into()],
            writes: vec!["a/b/c.yaml".into()],
            removes: vec!["d/e/f.yaml".into()],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        fs::write(&path, journal.text()).unwrap();
        assert_eq!(Journal::read(&path).unwrap(), journal);
        for bad in ["write ../../etc/passwd", "write /etc/passwd", "nope a"] {
            fs::write(&path, format!("{JOURNAL_HEADER}\n{bad}\n")).unwrap();
            assert!(Journal::read(&path).is_err(), "{bad}");
        }
    }
}
