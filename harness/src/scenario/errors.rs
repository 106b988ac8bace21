//! The one error type of the scenario module, and the byte-offset -> line helper that lets every
//! error name the line it concerns.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A scenario file that cannot be run as written.
///
/// Displays as one line, `FILE:LINE: key 'DOTTED.KEY': MESSAGE`, so it can be pasted into an
/// editor's "go to" box or matched by CI log parsers. The line is 1-based and left out when it is
/// not known (a missing key, an unreadable file); the key is left out for errors that concern the
/// whole file (TOML syntax, I/O).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The scenario file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The dotted key concerned, e.g. `producers.acks` or `sweep.partitions`.
    pub key: Option<String>,
    /// What is wrong, and when it helps, what would be right. One line.
    pub message: String,
}

impl ScenarioError {
    /// The process exit code for an invalid scenario (usage error, as opposed to a failed run).
    pub fn exit_code(&self) -> i32 {
        2
    }

    pub(crate) fn new(
        file: &Path,
        line: Option<usize>,
        key: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        // One line, always: TOML parser messages can span several.
        let message: String = message.into();
        let message = message
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        ScenarioError {
            file: file.to_path_buf(),
            line,
            // Keys are the user's text: a quoted TOML key can hold a newline or an escape.
            key: key.map(|k| shown(&k, MAX_KEY_CHARS)),
            message: shorten(&escape_controls(&message), MAX_MESSAGE_CHARS),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", quoted_path(&self.file))?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key '{key}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Longest key shown in an error, in characters.
const MAX_KEY_CHARS: usize = 120;
/// Longest message: room for a few quoted values and the hint, not for a 1 MiB value.
const MAX_MESSAGE_CHARS: usize = 400;
/// Longest path shown.
const MAX_PATH_CHARS: usize = 240;

/// Control characters (newline, ESC of an ANSI sequence, ...) as visible escapes, so the
/// user's text can neither break an error into two lines nor reach the terminal as a command.
pub(crate) fn escape_controls(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `s` cut in the middle to at most about `max` characters, saying how much was left out:
/// the start (what the value is) and the end (the hint after it) both stay.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let head: String = s.chars().take(max * 3 / 4).collect();
    let tail_len = max / 4;
    let tail: String = s.chars().skip(n - tail_len).collect();
    let cut = s.len() - head.len() - tail.len();
    format!("{head}…[{cut} bytes cut]…{tail}")
}

/// The user's text shown in a message: control characters escaped, at most `max` characters.
pub(crate) fn shown(s: &str, max: usize) -> String {
    shorten(&escape_controls(s), max)
}

/// A path as shown in a message: escaped and shortened like any text of the user's.
pub(crate) fn quoted_path(p: &Path) -> String {
    shown(&p.display().to_string(), MAX_PATH_CHARS)
}

/// The text of a scenario file with its line starts, to turn toml_edit's byte spans into lines.
pub(crate) struct Source<'a> {
    pub path: &'a Path,
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub fn new(path: &'a Path, text: &str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source { path, line_starts }
    }

    /// The 1-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i, // `i` >= 1 because line_starts[0] == 0 <= offset
        }
    }

    pub fn line(&self, span: Option<Range<usize>>) -> Option<usize> {
        span.map(|s| self.line_of(s.start))
    }

    /// An error about `key` at `span`.
    pub fn err(
        &self,
        span: Option<Range<usize>>,
        key: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::new(self.path, self.line(span), Some(key.to_string()), message)
    }

    /// An error about the whole file (syntax).
    pub fn file_err(
        &self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::new(self.path, self.line(span), None, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_of_maps_offsets_to_lines() {
        let text = "a = 1\nbb = 2\n\nc = 3";
        let s = Source::new(Path::new("x.toml"), text);
        assert_eq!(s.line_of(0), 1);
        assert_eq!(s.line_of(5), 1); // the newline itself belongs to line 1
        assert_eq!(s.line_of(6), 2);
        assert_eq!(s.line_of(13), 3);
        assert_eq!(s.line_of(14), 4);
        assert_eq!(s.line_of(1000), 4);
    }

    #[test]
    fn keys_values_and_paths_are_escaped_and_shortened() {
        let huge = "v".repeat(1 << 20);
        let e = ScenarioError::new(
            Path::new("dir\n\u{1b}[31mred/x.toml"),
            Some(2),
            Some("producers.\u{1b}[2Jk\ney".into()),
            format!("expected a number, got \"{huge}\"; use 1 to 10"),
        );
        let shown = e.to_string();
        assert!(
            !shown.contains('\n') && !shown.contains('\u{1b}'),
            "{shown}"
        );
        assert!(shown.starts_with("dir\\n\\u{1b}[31mred/x.toml:2: key 'producers.\\u{1b}[2Jk\\ney': expected a number, got \"vvv"), "{shown}");
        assert!(shown.len() < 600, "{} bytes", shown.len());
        assert!(
            shown.contains("bytes cut]") && shown.ends_with("v\"; use 1 to 10"),
            "{shown}"
        );
        let long_key = "k".repeat(10_000);
        let e = ScenarioError::new(Path::new("x.toml"), None, Some(long_key), "m");
        assert!(e.key.as_ref().unwrap().len() < 200);
    }

    #[test]
    fn display_is_one_line_with_file_line_and_key() {
        let e = ScenarioError::new(
            Path::new("scenarios/x.toml"),
            Some(12),
            Some("producers.acks".into()),
            "expected one of \"0\", \"1\", \"all\"\ngot \"2\"",
        );
        assert_eq!(
            e.to_string(),
            "scenarios/x.toml:12: key 'producers.acks': expected one of \"0\", \"1\", \"all\"; got \"2\""
        );
        assert_eq!(e.exit_code(), 2);
        let e = ScenarioError::new(Path::new("x.toml"), None, None, "cannot read");
        assert_eq!(e.to_string(), "x.toml: cannot read");
    }
}
