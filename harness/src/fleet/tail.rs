//! Following a file as another process appends to it, the way `tail -F` does
//! (`message_size = { file = "app.log", follow = true }`).
//!
//! [`Tail`] is polled (every [`POLL_INTERVAL`] by the followed producer, `follow.rs`): each poll
//! looks whether the path now names another file (rotation), whether the open file shrank
//! (truncation, as logrotate's `copytruncate` does), and reads what was appended since the last
//! poll, in bounded steps. [`Splitter`] turns those bytes into complete lines; a last line
//! without its newline waits for it. Polling, not inotify: one `stat`, one `fstat` and one
//! `pread` per poll (about 100 polls/s, a few microseconds each), the same on every file system
//! (inotify misses writes over NFS and in some containers), and a line waits at most one poll
//! interval before it is seen.
//!
//! Lines are like a lines file's (`payload.rs`): without their newline, a trailing `\r`
//! dropped, empty lines skipped (a record with an empty value is no log line). Bytes that never
//! become a line are counted ([`Tail::unsent_bytes`]), never dropped silently.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::scenario::input::open_regular;
use crate::scenario::FollowFrom;

/// How often the followed producer polls its file: a line waits at most this long to be seen.
pub const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// The longest line sent, 100 MiB (the largest message a scenario may ask,
/// `scenario::settings::MAX_MESSAGE_SIZE`): a longer one is skipped and counted, so a file
/// without newlines cannot grow a buffer without end.
pub const MAX_LINE: usize = 100 * 1024 * 1024;

/// How much one read step takes from the file.
const CHUNK: usize = 64 * 1024;

/// Bytes in, complete lines out. Pure: [`Tail`] feeds it what it reads.
#[derive(Debug, Default)]
pub struct Splitter {
    /// The last line so far, still waiting for its newline.
    partial: Vec<u8>,
    /// Skipping to the next newline: the rest of a line whose start was not read (following
    /// from the end of a file whose last line was unterminated) or of an over-long line.
    skipping: bool,
    /// Bytes that were not sent as a line: skipped, or cut off by a truncation.
    skipped: u64,
}

impl Splitter {
    /// A splitter; `mid_line` when reading starts in the middle of a line (its rest is skipped).
    pub fn new(mid_line: bool) -> Splitter {
        Splitter {
            skipping: mid_line,
            ..Splitter::default()
        }
    }

    /// Split `bytes` (what follows what was fed before) and hand each complete line to `line`.
    pub fn feed(&mut self, mut bytes: &[u8], line: &mut impl FnMut(&[u8])) {
        while let Some(i) = bytes.iter().position(|&b| b == b'\n') {
            let piece = &bytes[..i];
            bytes = &bytes[i + 1..];
            if self.skipping {
                self.skipped += piece.len() as u64;
                self.skipping = false;
            } else if self.partial.is_empty() {
                self.emit(piece, line);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(piece);
                self.emit(&whole, line);
                whole.clear();
                self.partial = whole;
            }
        }
        if self.skipping {
            self.skipped += bytes.len() as u64;
            return;
        }
        self.partial.extend_from_slice(bytes);
        if self.partial.len() > MAX_LINE {
            self.skipped += self.partial.len() as u64;
            self.partial = Vec::new();
            self.skipping = true;
        }
    }

    /// The unterminated last line, as a line: its file was replaced, so nobody will end it.
    pub fn flush(&mut self, line: &mut impl FnMut(&[u8])) {
        let last = std::mem::take(&mut self.partial);
        self.emit(&last, line);
        self.skipping = false;
    }

    /// Forget the unterminated last line (counted): its file was truncated under it.
    pub fn discard(&mut self) {
        self.skipped += self.partial.len() as u64;
        self.partial.clear();
        self.skipping = false;
    }

    /// Bytes waiting for a newline.
    pub fn pending(&self) -> u64 {
        self.partial.len() as u64
    }

    /// Bytes skipped or discarded so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    fn emit(&mut self, raw: &[u8], line: &mut impl FnMut(&[u8])) {
        // A file written on Windows ends its lines with "\r\n": the '\r' is not content.
        let content = raw.strip_suffix(b"\r").unwrap_or(raw);
        if content.len() > MAX_LINE {
            self.skipped += content.len() as u64;
        } else if !content.is_empty() {
            line(content);
        }
    }
}

/// The identity of a file: what a rotation changes.
fn identity(m: &std::fs::Metadata) -> (u64, u64) {
    (m.dev(), m.ino())
}

/// A file followed as it grows, across truncations and rotations.
#[derive(Debug)]
pub struct Tail {
    path: PathBuf,
    file: File,
    id: (u64, u64),
    /// Where the next read starts in `file`.
    offset: u64,
    splitter: Splitter,
    reopens: u64,
}

impl Tail {
    /// Open `path` (a regular file, opened without blocking: `scenario::input`) at its end or
    /// its start. Following from the end of a file whose last line is unterminated starts in
    /// the middle of a line: its rest is skipped, not sent as a line of its own.
    pub fn open(path: &Path, from: FollowFrom) -> Result<Tail, String> {
        let file = open_regular(path)?;
        let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
        let (offset, mid_line) = match from {
            FollowFrom::Start => (0, false),
            FollowFrom::End => {
                let len = meta.len();
                let mut last = [0u8; 1];
                let mid =
                    len > 0 && file.read_exact_at(&mut last, len - 1).is_ok() && last[0] != b'\n';
                (len, mid)
            }
        };
        Ok(Tail {
            path: path.to_path_buf(),
            id: identity(&meta),
            file,
            offset,
            splitter: Splitter::new(mid_line),
            reopens: 0,
        })
    }

    /// Read at most `budget` bytes appended since the last poll and hand each complete line to
    /// `line`. A file that shrank was truncated: it is read again from its start (the
    /// unterminated line it cut is counted). A path that names another file now was rotated:
    /// the old file is read to its end (its unterminated last line sent as it is), then the new
    /// one from its start. A path that is missing for a moment (between a rename and the
    /// creation of the new file) keeps the old file.
    pub fn poll(&mut self, budget: usize, mut line: impl FnMut(&[u8])) -> std::io::Result<()> {
        let replaced = std::fs::metadata(&self.path)
            .map(|m| identity(&m) != self.id)
            .unwrap_or(false);
        if self.file.metadata()?.len() < self.offset {
            self.splitter.discard();
            self.offset = 0;
            self.reopens += 1;
        }
        let at_end = self.read_some(budget, &mut line)?;
        if replaced && at_end {
            // A path replaced by a pipe or a device is not followed: keep the old file and
            // look again at the next poll.
            if let Ok(file) = open_regular(&self.path) {
                self.splitter.flush(&mut line);
                self.id = identity(&file.metadata()?);
                self.file = file;
                self.offset = 0;
                self.reopens += 1;
                self.read_some(budget, &mut line)?;
            }
        }
        Ok(())
    }

    /// Read up to `budget` bytes from the offset; true when the end of the file was reached.
    fn read_some(&mut self, budget: usize, line: &mut impl FnMut(&[u8])) -> std::io::Result<bool> {
        let mut buf = [0u8; CHUNK];
        let mut left = budget;
        while left > 0 {
            let want = left.min(CHUNK);
            let n = match self.file.read_at(&mut buf[..want], self.offset) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Ok(true);
            }
            self.offset += n as u64;
            left -= n;
            self.splitter.feed(&buf[..n], line);
        }
        Ok(false)
    }

    /// Times the file was truncated or replaced and read again from its start.
    pub fn reopens(&self) -> u64 {
        self.reopens
    }

    /// Bytes of the file not sent as lines: skipped or cut by a truncation, waiting for a
    /// newline, or not read yet.
    pub fn unsent_bytes(&self) -> u64 {
        let unread = self
            .file
            .metadata()
            .map(|m| m.len().saturating_sub(self.offset))
            .unwrap_or(0);
        self.splitter.skipped() + self.splitter.pending() + unread
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines_of(s: &mut Splitter, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        s.feed(bytes, &mut |l: &[u8]| {
            out.push(String::from_utf8_lossy(l).into_owned())
        });
        out
    }

    #[test]
    fn a_partial_line_waits_for_its_newline() {
        let mut s = Splitter::new(false);
        assert_eq!(lines_of(&mut s, b"one\ntw"), ["one"]);
        assert_eq!(s.pending(), 2);
        assert_eq!(lines_of(&mut s, b"o and"), Vec::<String>::new());
        assert_eq!(
            lines_of(&mut s, b" more\r\n\nthree\n"),
            ["two and more", "three"]
        );
        assert_eq!((s.pending(), s.skipped()), (0, 0));
    }

    #[test]
    fn starting_mid_line_skips_its_rest_and_counts_it() {
        let mut s = Splitter::new(true);
        assert_eq!(lines_of(&mut s, b"rest of a line\nnext\n"), ["next"]);
        assert_eq!(s.skipped(), 14);
    }

    #[test]
    fn discard_counts_the_cut_line_and_flush_sends_it() {
        let mut s = Splitter::new(false);
        assert!(lines_of(&mut s, b"half").is_empty());
        s.discard();
        assert_eq!((s.pending(), s.skipped()), (0, 4));
        assert!(lines_of(&mut s, b"last words").is_empty());
        let mut out = Vec::new();
        s.flush(&mut |l: &[u8]| out.push(l.to_vec()));
        assert_eq!(out, [b"last words".to_vec()]);
    }

    fn append(path: &Path, bytes: &[u8]) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        f.write_all(bytes).unwrap();
    }

    fn poll(t: &mut Tail) -> Vec<String> {
        let mut out = Vec::new();
        t.poll(1 << 20, |l| {
            out.push(String::from_utf8_lossy(l).into_owned())
        })
        .unwrap();
        out
    }

    #[test]
    fn from_end_sends_only_what_is_appended_and_from_start_everything() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.log");
        std::fs::write(&p, "old 1\nold 2\n").unwrap();
        let mut end = Tail::open(&p, FollowFrom::End).unwrap();
        let mut start = Tail::open(&p, FollowFrom::Start).unwrap();
        assert!(poll(&mut end).is_empty());
        append(&p, b"new 1\nnew");
        assert_eq!(poll(&mut end), ["new 1"]);
        assert_eq!(poll(&mut start), ["old 1", "old 2", "new 1"]);
        append(&p, b" 2\n");
        assert_eq!(poll(&mut end), ["new 2"]);
        assert_eq!(end.unsent_bytes(), 0);
        assert_eq!(end.reopens(), 0);
    }

    #[test]
    fn the_budget_bounds_each_read_and_the_rest_comes_next() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.log");
        std::fs::write(&p, "aaaa\nbbbb\ncccc\n").unwrap();
        let mut t = Tail::open(&p, FollowFrom::Start).unwrap();
        let mut out = Vec::new();
        t.poll(7, |l| out.push(l.to_vec())).unwrap();
        assert_eq!(out, [b"aaaa".to_vec()]);
        assert_eq!(t.unsent_bytes(), 15 - 5);
        assert_eq!(poll(&mut t), ["bbbb", "cccc"]);
    }

    #[test]
    fn a_truncated_file_is_read_again_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.log");
        std::fs::write(&p, "").unwrap();
        let mut t = Tail::open(&p, FollowFrom::End).unwrap();
        append(&p, b"first line, long enough\ncut");
        assert_eq!(poll(&mut t), ["first line, long enough"]);
        // copytruncate: the file is emptied in place, then written again.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&p, b"after\n");
        assert_eq!(poll(&mut t), ["after"]);
        assert_eq!(t.reopens(), 1);
        assert_eq!(t.unsent_bytes(), 3, "the cut fragment is counted");
    }

    #[test]
    fn a_rotated_file_is_read_to_its_end_then_the_new_one_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.log");
        std::fs::write(&p, "").unwrap();
        let mut t = Tail::open(&p, FollowFrom::End).unwrap();
        append(&p, b"one\n");
        assert_eq!(poll(&mut t), ["one"]);
        append(&p, b"two\nunterminated");
        std::fs::rename(&p, dir.path().join("app.log.1")).unwrap();
        // Between the rename and the new file: the old one is still followed.
        assert_eq!(poll(&mut t), ["two"]);
        append(&p, b"three\n");
        assert_eq!(poll(&mut t), ["unterminated", "three"]);
        assert_eq!(t.reopens(), 1);
        append(&p, b"four\n");
        assert_eq!(poll(&mut t), ["four"]);
    }

    #[test]
    fn following_refuses_what_is_not_a_regular_file() {
        let e = Tail::open(Path::new("/dev/zero"), FollowFrom::Start).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
    }
}
