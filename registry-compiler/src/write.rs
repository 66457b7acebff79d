//! Writing generated files: only when their bytes change (so mtimes and cargo fingerprints stay
//! still), atomically (a temp file in the same directory, then renamed over the target, so a
//! reader or a killed build never leaves half a file), streamed as they are rendered (a 100 MB
//! page is compared and written in chunks, never held whole), and a check mode that writes
//! nothing and shows a diff.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// What a write that happens only when the bytes change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// The file did not exist.
    Created,
    /// The file's bytes changed.
    Updated,
    /// The bytes were the same; nothing was written.
    Unchanged,
}

/// How a file on disk compares with what it should contain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// The file on disk is what the registry produces.
    Fresh,
    /// The file does not exist.
    Missing,
    /// The file differs; `diff` is a short unified diff from the file to the expected text.
    Stale {
        /// A unified diff from the file on disk to what it should be.
        diff: String,
    },
}

/// Lines of diff shown before the rest is summarised.
const MAX_DIFF_LINES: usize = 60;

/// Writes `contents` to `path` unless the file already holds exactly these bytes. Either way,
/// temp files that killed writers left beside `path` are removed.
pub(crate) fn write_if_changed(path: &Path, contents: &[u8]) -> io::Result<Written> {
    let mut writer = FileWriter::new(path)?;
    writer.write_all(contents)?;
    writer.finish()
}

/// Compares `path` with `expected` without writing anything.
pub(crate) fn check(path: &Path, expected: &str) -> io::Result<Freshness> {
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

/// Bytes compared or written at a time: large enough that a 100 MB page takes few system
/// calls, small enough to stay in cache between rendering and writing.
const CHUNK: usize = 1 << 16;

/// Writes a generated file as it is produced, without holding it in memory, with the
/// guarantees of [`write_if_changed`]: while the output matches the file on disk nothing is
/// written; at the first difference a temp file beside the target gets the matching prefix
/// (copied from the old file, in the kernel) and then the rest, and [`FileWriter::finish`]
/// renames it over the target, so readers and a killed build see the old or the new file,
/// never a torn one. Dropped unfinished (an error while producing), it removes its temp file
/// and leaves the target as it was.
///
/// No fsync: the files are regenerated from the registry at any time (and `--check` tells when
/// they are stale), while syncing a 100,000-service index costs more than building it (~0.6 s
/// for 200 MB here). Durability against power loss is not worth that on every `cargo build`.
#[derive(Debug)]
pub(crate) struct FileWriter {
    path: PathBuf,
    /// The file on disk and its length, while everything so far matches its start. Writers
    /// never modify a file in place (they rename over it), so this handle keeps reading the
    /// version it opened even when another build replaces the target meanwhile.
    /// Its permissions go to the new file: a read-only page stays read-only.
    old: Option<(File, u64, fs::Permissions)>,
    existed: bool,
    /// How many bytes matched the old file (copied into the temp file at the first difference).
    matched: u64,
    /// Output not yet compared or written, up to [`CHUNK`].
    pending: Vec<u8>,
    /// Where the old file's bytes are read for comparing.
    scratch: Vec<u8>,
    temp: Option<(PathBuf, File)>,
    /// The first I/O error, kept because callers between the producer and this writer (a
    /// template engine) may only pass on that writing failed.
    error: Option<(io::ErrorKind, String)>,
}

impl FileWriter {
    /// Opens the file at `path` for comparing, and removes temp files that killed writers left
    /// beside it (also when this build turns out to change nothing: it may have been killed
    /// while writing the other version).
    pub(crate) fn new(path: &Path) -> io::Result<FileWriter> {
        // A symlinked target is written through the link (the link stays a link), with the
        // temp file beside the file it points to, so the rename stays within one directory.
        let path = &final_target(path)?;
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            remove_stale_temps(dir, &target_name(path));
        }
        let old = match File::open(path) {
            Ok(file) => {
                let metadata = file.metadata()?;
                Some((file, metadata.len(), metadata.permissions()))
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        Ok(FileWriter {
            path: path.to_owned(),
            existed: old.is_some(),
            old,
            matched: 0,
            pending: Vec::with_capacity(CHUNK),
            scratch: Vec::new(),
            temp: None,
            error: None,
        })
    }

    /// The first I/O error this writer met, if any: what a producer that could only report
    /// "writing failed" (a template engine) ran into.
    pub(crate) fn take_error(&mut self) -> Option<io::Error> {
        self.error
            .take()
            .map(|(kind, message)| io::Error::new(kind, message))
    }

    /// Compares or writes the rest and puts the new file in place when it differs.
    pub(crate) fn finish(mut self) -> io::Result<Written> {
        self.flush_pending()?;
        if self.temp.is_none() {
            if matches!(self.old, Some((_, len, _)) if len == self.matched) {
                return Ok(Written::Unchanged); // every byte matched and there are no more
            }
            self.diverge()?; // the old file is longer, or missing
        }
        let (temp, file) = self
            .temp
            .take()
            .ok_or_else(|| io::Error::other("no temp file to rename"))?;
        drop(file);
        if let Err(error) = fs::rename(&temp, &self.path) {
            let _ = fs::remove_file(&temp);
            return Err(error);
        }
        Ok(if self.existed {
            Written::Updated
        } else {
            Written::Created
        })
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        let mut pending = std::mem::take(&mut self.pending);
        let result = self.process_recorded(&pending);
        pending.clear();
        self.pending = pending;
        result
    }

    /// [`FileWriter::process`], keeping the first error for [`FileWriter::take_error`].
    fn process_recorded(&mut self, bytes: &[u8]) -> io::Result<()> {
        let result = self.process(bytes);
        if let Err(error) = &result {
            self.error
                .get_or_insert_with(|| (error.kind(), error.to_string()));
        }
        result
    }

    /// Compares `bytes` with the old file's next bytes while they match, else writes them to
    /// the temp file.
    fn process(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.temp.is_none() && !self.matches_old(bytes)? {
            self.diverge()?;
        }
        match &mut self.temp {
            Some((_, file)) => file.write_all(bytes),
            None => Ok(()),
        }
    }

    /// Whether the old file continues with `bytes`; reading past its end is a mismatch.
    fn matches_old(&mut self, bytes: &[u8]) -> io::Result<bool> {
        let Some((file, len, _)) = &mut self.old else {
            return Ok(false);
        };
        if self.matched + bytes.len() as u64 > *len {
            return Ok(false);
        }
        self.scratch.resize(bytes.len(), 0);
        file.read_exact(&mut self.scratch)?;
        if self.scratch != bytes {
            return Ok(false);
        }
        self.matched += bytes.len() as u64;
        Ok(true)
    }

    /// Starts the temp file with the prefix that matched the old file.
    fn diverge(&mut self) -> io::Result<()> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        fs::create_dir_all(dir)?;
        let temp = dir.join(temp_name(&target_name(&self.path)));
        let mut file = match File::options().write(true).create_new(true).open(&temp) {
            // Our pid and counter are unique among running processes, so this file is what a
            // killed writer that had our pid left behind.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                fs::remove_file(&temp)?;
                File::options().write(true).create_new(true).open(&temp)?
            }
            other => other?,
        };
        let copied = match self.old.take() {
            Some((mut old, _, permissions)) => file
                .set_permissions(permissions)
                .and_then(|()| old.seek(SeekFrom::Start(0)))
                .and_then(|_| io::copy(&mut old.take(self.matched), &mut file)),
            None => Ok(0),
        };
        // From here on, drop removes the temp file, also when the copy failed.
        self.temp = Some((temp, file));
        if copied? != self.matched {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} shrank while being read",
                    crate::display_path(&self.path)
                ),
            ));
        }
        Ok(())
    }
}

impl Write for FileWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.pending.is_empty() && bytes.len() >= CHUNK {
            // A large write (a whole file at once) goes through a chunk at a time, uncopied.
            let whole = bytes.len() - bytes.len() % CHUNK;
            for chunk in bytes[..whole].chunks(CHUNK) {
                self.process_recorded(chunk)?;
            }
            self.pending.extend_from_slice(&bytes[whole..]);
        } else {
            self.pending.extend_from_slice(bytes);
            if self.pending.len() >= CHUNK {
                self.flush_pending()?;
            }
        }
        Ok(bytes.len())
    }

    /// Output is compared and written in whole chunks; [`FileWriter::finish`] writes the rest.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        // Unfinished: leave the target as it was and no stray temp file.
        if let Some((temp, file)) = self.temp.take() {
            drop(file);
            let _ = fs::remove_file(temp);
        }
    }
}

/// The file `path` names once every symbolic link is followed (`path` itself when it is no
/// link); a dangling link resolves to the missing file it points to, which is then created.
pub(crate) fn final_target(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_owned();
    // Linux gives up after 40 links too (ELOOP).
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                // A relative link is relative to the directory holding it; an absolute one
                // replaces the path.
                current = match current.parent() {
                    Some(dir) => dir.join(link),
                    None => link,
                };
            }
            Ok(_) => return Ok(current),
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::other(format!(
        "{}: too many levels of symbolic links",
        crate::display_path(path)
    )))
}

pub(crate) fn target_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned())
}

/// Removes the temp files of `name` that a writer killed mid-write (SIGKILL, power loss) left
/// in `dir`, when their process is gone. They are never read, so leaving one is harmless; this
/// only keeps `docs/` tidy. Best effort: where `/proc` does not list processes, nothing is
/// removed. (A writer in another PID namespace sharing the directory would look gone.)
pub(crate) fn remove_stale_temps(dir: &Path, name: &str) {
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
pub(crate) fn temp_name(name: &str) -> String {
    format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

static TEMP_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unified diff from `old` to `new`, cut after 60 lines.
#[cfg_attr(not(feature = "scaffold"), allow(unreachable_pub))]
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

    /// A page of several chunks whose line `n` says `n` and `tag`.
    fn page(lines: usize, tag: impl Fn(usize) -> &'static str) -> Vec<u8> {
        (0..lines)
            .flat_map(|n| format!("line {n:06} {}\n", tag(n)).into_bytes())
            .collect()
    }

    /// Writes `bytes` through a [`FileWriter`] in uneven pieces, as a template engine does.
    fn stream(path: &Path, bytes: &[u8]) -> io::Result<Written> {
        let mut writer = FileWriter::new(path)?;
        for piece in bytes.chunks(1000) {
            writer.write_all(piece)?;
        }
        writer.finish()
    }

    #[test]
    fn streamed_pages_are_compared_chunk_by_chunk_and_replaced_whole() {
        let dir = temp_dir("stream");
        let path = dir.join("sub").join("INDEX.html");
        let old = page(20_000, |_| "old"); // ~330 KB: several chunks
        assert_eq!(stream(&path, &old).unwrap(), Written::Created);
        assert_eq!(stream(&path, &old).unwrap(), Written::Unchanged);
        // Differs only after the first chunks: the matching prefix is copied from the old file.
        let late = page(20_000, |n| if n < 15_000 { "old" } else { "new" });
        assert_eq!(stream(&path, &late).unwrap(), Written::Updated);
        assert_eq!(fs::read(&path).unwrap(), late);
        // A prefix of the file on disk: shorter output still replaces it.
        let prefix = &late[..CHUNK * 2 + 10];
        assert_eq!(stream(&path, prefix).unwrap(), Written::Updated);
        assert_eq!(fs::read(&path).unwrap(), prefix);
        // Longer than the file on disk.
        assert_eq!(stream(&path, &late).unwrap(), Written::Updated);
        assert_eq!(fs::read(&path).unwrap(), late);
        assert_eq!(entries(path.parent().unwrap()), ["INDEX.html"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn whole_files_written_at_once_are_compared_and_replaced() {
        let dir = temp_dir("whole");
        let path = dir.join("services.json");
        let old = page(30_000, |_| "old"); // ~500 KB: several chunks and a partial one
        assert_eq!(write_if_changed(&path, &old).unwrap(), Written::Created);
        assert_eq!(write_if_changed(&path, &old).unwrap(), Written::Unchanged);
        let new = page(30_000, |n| if n == 29_999 { "new" } else { "old" });
        assert_eq!(write_if_changed(&path, &new).unwrap(), Written::Updated);
        assert_eq!(fs::read(&path).unwrap(), new);
        assert_eq!(entries(&dir), ["services.json"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_unfinished_stream_leaves_the_old_file_and_no_temp_file() {
        let dir = temp_dir("unfinished");
        let path = dir.join("INDEX.md");
        let old = page(10_000, |_| "old");
        fs::write(&path, &old).unwrap();
        let mut writer = FileWriter::new(&path).unwrap();
        writer.write_all(&page(10_000, |_| "new")).unwrap();
        assert_eq!(entries(&dir).len(), 2, "the temp file is being written");
        drop(writer); // the producer failed
        assert_eq!(fs::read(&path).unwrap(), old);
        assert_eq!(entries(&dir), ["INDEX.md"]);
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
