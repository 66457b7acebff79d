//! Writing generated files: only when their bytes change (so mtimes and cargo fingerprints stay
//! still), atomically (a temp file in the same directory, then renamed over the target, so a
//! reader or a killed build never leaves half a file), and a check mode that writes nothing and
//! shows a diff.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

/// What [`write_if_changed`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    Created,
    Updated,
    Unchanged,
}

/// How a file on disk compares with what it should contain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    Missing,
    /// The file differs; `diff` is a short unified diff from the file to the expected text.
    Stale {
        diff: String,
    },
}

/// Lines of diff shown before the rest is summarised.
const MAX_DIFF_LINES: usize = 60;

/// Writes `contents` to `path` unless the file already holds exactly these bytes. Either way,
/// temp files that killed writers left beside `path` are removed.
pub fn write_if_changed(path: &Path, contents: &[u8]) -> io::Result<Written> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        // A killed build may have left a temp file while the page on disk already holds what
        // this build makes (it was killed building the other version).
        remove_stale_temps(dir, &target_name(path));
    }
    let existed = match same_contents(path, contents) {
        Ok(true) => return Ok(Written::Unchanged),
        Ok(false) => true,
        Err(error) if error.kind() == io::ErrorKind::NotFound => false,
        Err(error) => return Err(error),
    };
    write_atomically(path, contents)?;
    Ok(if existed {
        Written::Updated
    } else {
        Written::Created
    })
}

/// Compares `path` with `expected` without writing anything.
pub fn check(path: &Path, expected: &str) -> io::Result<Freshness> {
    match same_contents(path, expected.as_bytes()) {
        Ok(true) => return Ok(Freshness::Fresh),
        Ok(false) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Freshness::Missing),
        Err(error) => return Err(error),
    }
    let bytes = fs::read(path)?;
    let actual = String::from_utf8_lossy(&bytes);
    let name = crate::display_path(path);
    Ok(Freshness::Stale {
        diff: unified_diff(&actual, expected, &name),
    })
}

/// Whether the file at `path` holds exactly `contents`, read in chunks so a large page is
/// never loaded twice.
fn same_contents(path: &Path, contents: &[u8]) -> io::Result<bool> {
    let file = File::open(path)?;
    if file.metadata()?.len() != contents.len() as u64 {
        return Ok(false);
    }
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut rest = contents;
    let mut buffer = vec![0; 1 << 16];
    loop {
        let read = reader.read(&mut buffer)?;
        if read == 0 {
            return Ok(rest.is_empty());
        }
        if read > rest.len() || buffer[..read] != rest[..read] {
            return Ok(false);
        }
        rest = &rest[read..];
    }
}

/// Replaces `path` with `contents`: write a temp file beside it, then rename it over, so readers
/// and a killed build see the old or the new file, never a torn one.
///
/// No fsync: the files are regenerated from the registry at any time (and `--check` tells when
/// they are stale), while syncing a 100,000-service index costs more than building it (~0.6 s
/// for 200 MB here). Durability against power loss is not worth that on every `cargo build`.
fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let temp = dir.join(temp_name(&target_name(path)));
    let result = (|| {
        let mut file = match File::options().write(true).create_new(true).open(&temp) {
            // Our pid and counter are unique among running processes, so this file is what a
            // killed writer that had our pid left behind.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                fs::remove_file(&temp)?;
                File::options().write(true).create_new(true).open(&temp)?
            }
            other => other?,
        };
        file.write_all(contents)?;
        drop(file);
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        // Leave no stray temp file behind when the write or rename failed.
        let _ = fs::remove_file(&temp);
    }
    result
}

fn target_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned())
}

/// Removes the temp files of `name` that a writer killed mid-write (SIGKILL, power loss) left
/// in `dir`, when their process is gone. They are never read, so leaving one is harmless; this
/// only keeps `docs/` tidy. Best effort: where `/proc` does not list processes, nothing is
/// removed. (A writer in another PID namespace sharing the directory would look gone.)
fn remove_stale_temps(dir: &Path, name: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let own = std::process::id();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name.to_str().and_then(|f| temp_pid(f, name)) else {
            continue;
        };
        if pid != own && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The writer's pid, when `file_name` is a temp name of `name` (`.<name>.<pid>.<n>.tmp`).
fn temp_pid(file_name: &str, name: &str) -> Option<u32> {
    let rest = file_name
        .strip_prefix('.')?
        .strip_prefix(name)?
        .strip_prefix('.')?
        .strip_suffix(".tmp")?;
    let (pid, counter) = rest.split_once('.')?;
    counter.parse::<u32>().ok()?;
    pid.parse().ok()
}

/// A hidden name in the target's directory, unique within this process and across processes.
fn temp_name(name: &str) -> String {
    format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

static TEMP_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unified diff from `old` to `new`, cut after [`MAX_DIFF_LINES`] lines.
pub fn unified_diff(old: &str, new: &str, name: &str) -> String {
    let diff = similar::TextDiff::configure()
        .timeout(std::time::Duration::from_secs(2))
        .diff_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(2)
        .header(&format!("{name} (on disk)"), &format!("{name} (expected)"))
        .to_string();
    let mut lines = text.lines();
    let mut out: String = lines
        .by_ref()
        .take(MAX_DIFF_LINES)
        .flat_map(|line| [line, "\n"])
        .collect();
    let more = lines.count();
    if more > 0 {
        out.push_str(&format!("... {more} more diff lines\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "wf-write-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn creates_then_leaves_unchanged_bytes_alone() {
        let dir = temp_dir("unchanged");
        let path = dir.join("out.md");
        assert_eq!(
            write_if_changed(&path, b"hello\n").unwrap(),
            Written::Created
        );
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(
            write_if_changed(&path, b"hello\n").unwrap(),
            Written::Unchanged
        );
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), old);
        assert_eq!(entries(&dir), ["out.md"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn replaces_changed_files_atomically() {
        let dir = temp_dir("atomic");
        let path = dir.join("out.html");
        fs::write(&path, "old contents\n").unwrap();
        // A reader holding the old file keeps the old bytes: the new file is a new inode.
        let mut held = File::open(&path).unwrap();
        assert_eq!(write_if_changed(&path, b"new\n").unwrap(), Written::Updated);
        let mut seen = String::new();
        held.read_to_string(&mut seen).unwrap();
        assert_eq!(seen, "old contents\n");
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        // Same length, different bytes: still rewritten.
        assert_eq!(write_if_changed(&path, b"nEw\n").unwrap(), Written::Updated);
        assert_eq!(fs::read_to_string(&path).unwrap(), "nEw\n");
        assert_eq!(entries(&dir), ["out.html"], "no temp file left behind");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failed_write_leaves_no_temp_file() {
        let dir = temp_dir("failed");
        // The target is a directory: the rename fails after the temp file was written.
        let path = dir.join("taken");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), "x").unwrap();
        assert!(write_if_changed(&path, b"data").is_err());
        assert_eq!(entries(&dir), ["taken"]);
        fs::remove_dir_all(dir).unwrap();
    }

    /// A pid no process has: Linux pids stay below 2^22.
    const DEAD_PID: u32 = 4_194_304 + 17;

    #[test]
    fn temp_files_of_dead_writers_are_removed_and_others_kept() {
        let dir = temp_dir("stale");
        let path = dir.join("INDEX.md");
        let stale = format!(".INDEX.md.{DEAD_PID}.3.tmp");
        // Our parent runs, so its temp file may be a write in progress.
        let live = format!(".INDEX.md.{}.0.tmp", std::os::unix::process::parent_id());
        let unrelated = ".INDEX.md.notes.tmp";
        for name in [&stale, &live, unrelated] {
            fs::write(dir.join(name), "partial").unwrap();
        }
        write_if_changed(&path, b"new\n").unwrap();
        let mut expected = vec![live.clone(), unrelated.to_owned(), "INDEX.md".to_owned()];
        if !Path::new("/proc/self").exists() {
            expected.push(stale.clone()); // no /proc: nothing is removed
        }
        expected.sort();
        assert_eq!(entries(&dir), expected);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn stale_temp_files_are_removed_when_the_page_is_unchanged() {
        let dir = temp_dir("stale-unchanged");
        let path = dir.join("INDEX.md");
        fs::write(&path, "same\n").unwrap();
        fs::write(dir.join(format!(".INDEX.md.{DEAD_PID}.0.tmp")), "partial").unwrap();
        assert_eq!(
            write_if_changed(&path, b"same\n").unwrap(),
            Written::Unchanged
        );
        let mut expected = vec!["INDEX.md".to_owned()];
        if !Path::new("/proc/self").exists() {
            expected.push(format!(".INDEX.md.{DEAD_PID}.0.tmp"));
        }
        expected.sort();
        assert_eq!(entries(&dir), expected);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_temp_file_left_under_our_own_pid_does_not_block_the_write() {
        let dir = temp_dir("own-pid");
        let path = dir.join("out.md");
        // What a killed writer with our (since reused) pid would have left, for the next
        // counter values this process will use.
        let next = TEMP_COUNTER.load(Ordering::Relaxed);
        for n in next..next + 16 {
            fs::write(
                dir.join(format!(".out.md.{}.{n}.tmp", std::process::id())),
                "x",
            )
            .unwrap();
        }
        assert_eq!(write_if_changed(&path, b"data").unwrap(), Written::Created);
        assert_eq!(fs::read(&path).unwrap(), b"data");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn temp_names_are_recognised_exactly() {
        assert_eq!(temp_pid(".a.md.12.0.tmp", "a.md"), Some(12));
        assert_eq!(temp_pid(".a.md.12.tmp", "a.md"), None);
        assert_eq!(temp_pid(".a.md.x.0.tmp", "a.md"), None);
        assert_eq!(temp_pid(".b.md.12.0.tmp", "a.md"), None);
        assert_eq!(temp_pid("a.md.12.0.tmp", "a.md"), None);
    }

    #[test]
    fn check_reports_missing_fresh_and_stale_without_writing() {
        let dir = temp_dir("check");
        let path = dir.join("index.md");
        assert_eq!(check(&path, "a\n").unwrap(), Freshness::Missing);
        assert!(!path.exists(), "check never writes");
        fs::write(&path, "one\ntwo\nthree\n").unwrap();
        assert_eq!(check(&path, "one\ntwo\nthree\n").unwrap(), Freshness::Fresh);
        let Freshness::Stale { diff } = check(&path, "one\n2\nthree\n").unwrap() else {
            panic!("expected a stale file");
        };
        let name = crate::display_path(&path);
        assert_eq!(
            diff,
            format!(
                "--- {name} (on disk)\n+++ {name} (expected)\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n"
            )
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "one\ntwo\nthree\n");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn long_diffs_are_cut() {
        let old: String = (0..200).map(|i| format!("line {i}\n")).collect();
        let new: String = (0..200).map(|i| format!("LINE {i}\n")).collect();
        let diff = unified_diff(&old, &new, "x");
        assert_eq!(diff.lines().count(), MAX_DIFF_LINES + 1);
        assert!(diff.ends_with("... 343 more diff lines\n"), "{diff}");
    }
}
