//! Reading the files a user hands kbench (the scenario, message files), bounded before they
//! are processed: only regular files (a named pipe would block the read forever, `/dev/zero`
//! would never end), at most a given size (read with a limit, so a file that grows while it is
//! read cannot exhaust memory either), and text that is not UTF-8 named by its byte offset.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// A scenario file larger than this is not written by hand, nor useful: a sweep is capped at
/// 10,000 cells and each axis at as many values.
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;

/// A message file (`message_size = { file = ... }`) is read whole into memory by every run:
/// 256 MiB bounds what that costs.
pub const MAX_MESSAGE_FILE_BYTES: u64 = 256 << 20;

/// Opens `path` for reading without ever blocking and refuses anything but a regular file.
/// Opening a FIFO for reading blocks until a writer comes; with `O_NONBLOCK` it returns at
/// once, and its type (from the opened file, so a symlink or a race cannot change it) is
/// then refused.
pub fn open_regular(path: &Path) -> Result<File, String> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot read: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    let t = meta.file_type();
    if t.is_file() {
        return Ok(file);
    }
    let what = if t.is_fifo() {
        "a named pipe"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_dir() {
        "a directory"
    } else {
        "something else"
    };
    Err(format!(
        "not a regular file but {what}: kbench reads only regular files (copy it to one)"
    ))
}

/// The bytes of the regular file `path`, refused above `limit` bytes.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let file = open_regular(path)?;
    let too_large = || {
        format!(
            "larger than {} MiB, the most kbench reads from such a file",
            limit >> 20
        )
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // One byte past the limit tells a file that grew beyond it.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// `bytes` as text, or where it stops being UTF-8: the 1-based line and the byte offset.
pub fn utf8(bytes: Vec<u8>) -> Result<String, (usize, String)> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
        (
            line,
            format!(
                "not UTF-8 text: byte 0x{:02x} at byte offset {offset} (scenario files are UTF-8)",
                bytes[offset]
            ),
        )
    })
}

/// A message file must be a regular file of at most [`MAX_MESSAGE_FILE_BYTES`] holding at
/// least one non-empty line (an empty one would mean zero-byte messages forever). Reads only
/// up to the first byte that is not whitespace, in fixed-size chunks.
pub fn check_lines_file(path: &Path) -> Result<(), String> {
    let shown = crate::scenario::errors::quoted_path(path);
    let file = open_regular(path).map_err(|m| format!("message file {shown}: {m}"))?;
    if file.metadata().map(|m| m.len()).unwrap_or(0) > MAX_MESSAGE_FILE_BYTES {
        return Err(format!(
            "message file {shown}: larger than {} MiB, the most kbench reads from such a file",
            MAX_MESSAGE_FILE_BYTES >> 20
        ));
    }
    let mut reader = file.take(MAX_MESSAGE_FILE_BYTES);
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("cannot read message file {shown}: {e}")),
        };
        if chunk[..n].iter().any(|b| !b.is_ascii_whitespace()) {
            return Ok(());
        }
    }
    Err(format!("message file {shown} has no non-empty line"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_pipe_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // No writer ever comes: a blocking open would hang this test.
        let e = read_bounded(&fifo, 1024).unwrap_err();
        assert!(e.contains("not a regular file but a named pipe"), "{e}");
    }

    #[test]
    fn devices_and_directories_are_refused() {
        let e = read_bounded(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(
            e.contains("not a regular file but a character device"),
            "{e}"
        );
        let e = read_bounded(Path::new("/"), 1024).unwrap_err();
        assert!(e.contains("not a regular file but a directory"), "{e}");
    }

    #[test]
    fn a_file_over_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, vec![b'a'; 2 << 20]).unwrap();
        let e = read_bounded(&p, 1 << 20).unwrap_err();
        assert!(e.contains("larger than 1 MiB"), "{e}");
        assert_eq!(read_bounded(&p, 2 << 20).unwrap().len(), 2 << 20);
    }

    #[test]
    fn non_utf8_names_line_and_byte_offset() {
        let (line, m) = utf8(b"a = 1\nb = \"\xff\"\n".to_vec()).unwrap_err();
        assert_eq!(line, 2);
        assert!(m.contains("byte 0xff at byte offset 11"), "{m}");
    }
}
