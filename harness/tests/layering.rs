//! Module layering of `harness/src`, checked from the source text: which top-level module may
//! refer to which. The rules:
//!
//! - (a) only `cli` itself and the binary (`main.rs`) refer to `crate::cli` (`kbench::cli`);
//! - (b) only `cli` and the binary use `clap` (minus [`CLAP_ALLOWED_FOR_NOW`]);
//! - (c) `report` does not refer to `runner`;
//! - (d) `metrics` does not refer to `runner`, `fleet`, `report` or `cli`.
//!
//! How references are found, simply and without a Rust parser (no new dependencies):
//!
//! 1. Every `.rs` file under `harness/src` is read; its top-level module is the first
//!    component of its path (`runner/cell.rs` -> `runner`, `cli.rs` -> `cli`); `main.rs` is
//!    the binary and `lib.rs` the crate root.
//! 2. A small lexer drops comments (so doc links such as ``[`crate::runner::X`]`` do not
//!    count), string and char literals (so text that merely mentions a path does not count),
//!    and splits the rest into words and punctuation, each with its line number.
//! 3. Every path that starts with `crate::` (or `$crate::`), `super::` or `self::` is a
//!    reference, wherever it occurs: in `use` lines, inline (`crate::x::y(..)`), in attributes.
//!    `super` and `self` are resolved against the file's module path and any inline `mod x {`
//!    blocks around them. Use groups are expanded, over any number of lines and levels:
//!    `use crate::{cli::A, runner::{b, c}}` refers to `cli` and to `runner`, each on the line
//!    where it is written. In `main.rs`, paths starting `kbench::` are the library's. (Inside
//!    the library `kbench::` is not the crate: `versus` has a module called `kbench`.)
//! 4. Any word `clap` is a use of clap (`use clap::..`, `clap::Args`, `clap::value_parser!`).
//!
//! Not followed: names brought in by a glob and then used unqualified, paths relative to the
//! crate root written without `crate::` in `lib.rs`, `#[path]` attributes, and macros that
//! build paths. They are not used in this tree; the rules are about honest code, not a proof.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// TEMPORARY: files outside `cli` that may still hold clap derives until their argument
/// structs move into `cli`. An entry names a file, or a directory and everything under it.
/// The layering refactor empties this list; the test then reports any clap outside `cli`.
const CLAP_ALLOWED_FOR_NOW: &[&str] = &[];

/// Top-level modules that make up the command line: they may use clap and `crate::cli`.
/// `main.rs` is here because it calls `Cli::parse()`, which needs `clap::Parser` in scope.
const COMMAND_LINE: &[&str] = &["cli", BINARY];

/// The unit of `harness/src/main.rs` (and `src/bin/*`).
const BINARY: &str = "(binary main.rs)";
/// The unit of `harness/src/lib.rs`.
const CRATE_ROOT: &str = "(crate root lib.rs)";

/// Which top-level modules may not be referred to from which: (module, forbidden, rule).
const FORBIDDEN: &[(&str, &[&str], &str)] = &[
    (
        "report",
        &["runner"],
        "(c) report must not refer to crate::runner",
    ),
    (
        "metrics",
        &["runner", "fleet", "report", "cli", "sys", "session", "rundir"],
        "(d) metrics (pure arithmetic) must not refer to the clients, samplers, files, report or cli",
    ),
    (
        "rundir",
        &["runner", "report", "session", "findmax", "versus", "compare", "cli"],
        "(e) rundir (the files) must not refer to the drivers, report, session or cli",
    ),
    (
        "session",
        &["runner", "findmax", "versus", "report", "compare", "cli"],
        "(f) session must not refer to the drivers above it, report or cli",
    ),
    (
        "fleet",
        &["runner", "session", "rundir", "report", "findmax", "versus", "cli"],
        "(g) fleet must not refer to the runner, session, run directory, report or cli",
    ),
];

// ---- the lexer ------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An identifier, keyword or number (`r#x` is the word `x`).
    Word(String),
    /// `::`
    Path,
    /// Any other punctuation character.
    Punct(char),
}

/// The tokens of `src` with their 1-based lines; comments and literals are dropped.
fn lex(src: &str) -> Result<Vec<(Tok, usize)>, String> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    // Skip to just past the closing quote of a (non-raw) string that opens before `i`.
    let skip_string = |mut i: usize, line: &mut usize| -> Result<usize, String> {
        let start = *line;
        loop {
            match c.get(i) {
                None => return Err(format!("string opened on line {start} never ends")),
                Some('\\') => {
                    if c.get(i + 1) == Some(&'\n') {
                        *line += 1;
                    }
                    i += 2;
                }
                Some('"') => return Ok(i + 1),
                Some(ch) => {
                    if *ch == '\n' {
                        *line += 1;
                    }
                    i += 1;
                }
            }
        }
    };
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let (start, mut depth) = (line, 0);
            loop {
                match (c.get(i), c.get(i + 1)) {
                    (None, _) => return Err(format!("comment opened on line {start} never ends")),
                    (Some('/'), Some('*')) => (depth, i) = (depth + 1, i + 2),
                    (Some('*'), Some('/')) => {
                        (depth, i) = (depth - 1, i + 2);
                        if depth == 0 {
                            break;
                        }
                    }
                    (Some(x), _) => {
                        if *x == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
        } else if ch == '"' {
            i = skip_string(i + 1, &mut line)?;
        } else if ch == '\'' {
            if at(i + 1) == '\\' {
                // An escaped char literal: '\n', '\'', '\u{1F600}'.
                i += 3;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3; // 'x'
            } else {
                i += 1; // a lifetime or label: its name lexes as a word
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let prefix = matches!(word.as_str(), "r" | "br" | "cr");
            if prefix && (at(i) == '"' || (at(i) == '#' && (at(i + 1) == '#' || at(i + 1) == '"')))
            {
                // A raw string: r"..", r#".."#, br##".."##.
                let start = line;
                let mut hashes = 0;
                while at(i) == '#' {
                    hashes += 1;
                    i += 1;
                }
                i += 1; // the opening quote
                loop {
                    if i >= c.len() {
                        return Err(format!("raw string opened on line {start} never ends"));
                    }
                    if c[i] == '"' && (1..=hashes).all(|h| at(i + h) == '#') {
                        i += 1 + hashes;
                        break;
                    }
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            } else if (word == "b" || word == "c") && at(i) == '"' {
                i = skip_string(i + 1, &mut line)?; // b"..", c".."
            } else if word == "b" && at(i) == '\'' {
                // b'x', b'\n'
                i += if at(i + 1) == '\\' { 2 } else { 1 };
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if word == "r" && at(i) == '#' {
                i += 1; // r#ident: the identifier follows
            } else {
                out.push((Tok::Word(word), line));
            }
        } else if ch == ':' && at(i + 1) == ':' {
            out.push((Tok::Path, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    Ok(out)
}

// ---- references -----------------------------------------------------------------------------

/// One path to somewhere in the crate, resolved to its absolute segments (without `crate`).
#[derive(Debug, Clone, PartialEq)]
struct Ref {
    line: usize,
    path: Vec<String>,
}

impl Ref {
    /// The top-level module the path leads into, if it leads into one.
    fn module(&self) -> Option<&str> {
        self.path
            .first()
            .map(String::as_str)
            .filter(|m| *m != "*" && *m != "self")
    }
}

/// What a file's source says about its dependencies.
#[derive(Debug, Default)]
struct Scan {
    refs: Vec<Ref>,
    /// Lines on which the word `clap` occurs.
    clap: BTreeSet<usize>,
}

/// Every crate-internal path in `src`, for a file whose module path is `module`
/// (`["runner", "cell"]` for `runner/cell.rs`, `[]` for `lib.rs`). `lib_alias` is a name that
/// stands for the library's root besides `crate` (`kbench` in `main.rs`), and `crate_is_lib`
/// says whether `crate::` itself is the library (false in `main.rs`, whose `crate` is the binary).
fn scan(
    src: &str,
    module: &[String],
    lib_alias: Option<&str>,
    crate_is_lib: bool,
) -> Result<Scan, String> {
    let toks = lex(src)?;
    let word = |i: usize| match toks.get(i) {
        Some((Tok::Word(w), _)) => Some(w.as_str()),
        _ => None,
    };
    let is = |i: usize, t: &Tok| toks.get(i).map(|(x, _)| x) == Some(t);
    let mut scan = Scan::default();
    // Inline `mod name {` blocks around the current token: (name, brace depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < toks.len() {
        let (tok, line) = &toks[i];
        match tok {
            Tok::Punct('{') => {
                depth += 1;
                if word(i.wrapping_sub(2)) == Some("mod") {
                    if let Some(name) = word(i - 1) {
                        inline.push((name.to_string(), depth));
                    }
                }
            }
            Tok::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Word(w) if w == "clap" => {
                scan.clap.insert(*line);
            }
            // The first word of a path (not a segment inside one).
            Tok::Word(w) if is(i + 1, &Tok::Path) && !(i > 0 && is(i - 1, &Tok::Path)) => {
                let here = || -> Vec<String> {
                    let inner = inline.iter().map(|(n, _)| n.clone());
                    module.iter().cloned().chain(inner).collect()
                };
                // The absolute prefix the path starts from, and where its next segment is.
                let base: Option<(Vec<String>, usize)> = match w.as_str() {
                    "crate" if crate_is_lib || (i > 0 && is(i - 1, &Tok::Punct('$'))) => {
                        Some((vec![], i + 2))
                    }
                    "self" => Some((here(), i + 2)),
                    "super" => {
                        let (mut base, mut j, mut ok) = (here(), i, true);
                        while word(j) == Some("super") && is(j + 1, &Tok::Path) {
                            ok &= base.pop().is_some();
                            j += 2;
                        }
                        ok.then_some((base, j))
                    }
                    _ if Some(w.as_str()) == lib_alias => Some((vec![], i + 2)),
                    _ => None,
                };
                if let Some((base, start)) = base {
                    i = use_tree(&toks, start, base, *line, &mut scan.refs);
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(scan)
}

/// Reads the path (or use tree) whose segments start at token `i`, with `prefix` already
/// resolved; pushes a [`Ref`] for every path it names and returns the index after it.
/// Handles `a::b`, `a::b::*`, `a::{b, c::{d, self}}`, `a as b`, and stops at anything else
/// (`::<` of a turbofish, `(` of a call, `!` of a macro).
fn use_tree(
    toks: &[(Tok, usize)],
    mut i: usize,
    mut prefix: Vec<String>,
    mut line: usize,
    refs: &mut Vec<Ref>,
) -> usize {
    loop {
        match toks.get(i) {
            Some((Tok::Word(w), l)) => {
                if prefix.is_empty() || w != "self" {
                    prefix.push(w.clone());
                }
                line = line.min(*l);
                i += 1;
                if matches!(toks.get(i), Some((Tok::Path, _))) {
                    i += 1;
                    continue;
                }
                break;
            }
            Some((Tok::Punct('*'), _)) => {
                prefix.push("*".into());
                i += 1;
                break;
            }
            Some((Tok::Punct('{'), _)) => {
                i += 1;
                loop {
                    match toks.get(i) {
                        None => return i,
                        Some((Tok::Punct('}'), _)) => return i + 1,
                        Some((Tok::Punct(','), _)) => i += 1,
                        Some((_, l)) => {
                            let next = use_tree(toks, i, prefix.clone(), *l, refs);
                            // `as alias` and anything else up to the next `,` or `}`.
                            i = next.max(i + 1);
                            while let Some((t, _)) = toks.get(i) {
                                if matches!(t, Tok::Punct(',') | Tok::Punct('}')) {
                                    break;
                                }
                                i += 1;
                            }
                        }
                    }
                }
            }
            _ => break,
        }
    }
    refs.push(Ref { line, path: prefix });
    i
}

// ---- the source tree ------------------------------------------------------------------------

/// One `.rs` file of `harness/src`.
struct SourceFile {
    /// Relative to the workspace root, `/`-separated: `harness/src/runner/cell.rs`.
    name: String,
    /// The top-level module (`runner`), [`BINARY`] or [`CRATE_ROOT`].
    unit: String,
    text: String,
    scan: Scan,
}

/// The module path of a file given relative to `src`, and its unit.
fn module_of(rel: &Path) -> (Vec<String>, String) {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    match parts.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["main.rs"] => (vec![], BINARY.into()),
        ["bin", ..] => (vec![], BINARY.into()),
        ["lib.rs"] => (vec![], CRATE_ROOT.into()),
        _ => {
            let mut path: Vec<String> = parts.clone();
            let last = path.pop().unwrap();
            let stem = last.strip_suffix(".rs").unwrap_or(&last);
            if stem != "mod" {
                path.push(stem.to_string());
            }
            let unit = path[0].clone();
            (path, unit)
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn source_files() -> Vec<SourceFile> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    walk(&src, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&src).unwrap();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            SourceFile::new(rel, text)
        })
        .collect()
}

impl SourceFile {
    /// `rel` is the path below `harness/src`.
    fn new(rel: &Path, text: String) -> SourceFile {
        let name = format!("harness/src/{}", rel.to_string_lossy().replace('\\', "/"));
        let (module, unit) = module_of(rel);
        let binary = unit == BINARY;
        let scan = scan(&text, &module, binary.then_some("kbench"), !binary)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        SourceFile {
            name,
            unit,
            text,
            scan,
        }
    }
}

/// A reference that breaks a rule.
struct Violation<'a> {
    rule: &'a str,
    file: &'a SourceFile,
    line: usize,
    what: String,
}

impl fmt::Display for Violation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let code = self.file.text.lines().nth(self.line - 1).unwrap_or("");
        write!(
            f,
            "  {}:{}: {}: {}",
            self.file.name,
            self.line,
            self.what,
            code.trim()
        )
    }
}

fn clap_allowed(file: &str) -> bool {
    listed(CLAP_ALLOWED_FOR_NOW, file)
}

/// Whether `file` is one of `list`, or under a directory in it.
fn listed(list: &[&str], file: &str) -> bool {
    list.iter()
        .any(|a| file == *a || file.starts_with(&format!("{a}/")))
}

fn violations(files: &[SourceFile]) -> Vec<Violation<'_>> {
    let mut out: Vec<Violation<'_>> = Vec::new();
    let mut seen = BTreeSet::new();
    for file in files {
        let command_line = COMMAND_LINE.contains(&file.unit.as_str());
        // One entry per rule, line and kind of reference, however often the line repeats it.
        let mut push = |rule: &'static str, line: usize, what: String| {
            if seen.insert((rule, file.name.clone(), line, what.clone())) {
                out.push(Violation {
                    rule,
                    file,
                    line,
                    what,
                });
            }
        };
        for r in &file.scan.refs {
            let Some(target) = r.module() else { continue };
            let what = format!("refers to crate::{target}");
            if target == "cli" && !command_line {
                push(
                    "(a) only cli and main.rs refer to crate::cli",
                    r.line,
                    what.clone(),
                );
            }
            for (from, forbidden, rule) in FORBIDDEN {
                if file.unit == *from && forbidden.contains(&target) {
                    push(rule, r.line, what.clone());
                }
            }
        }
        if !command_line && !clap_allowed(&file.name) {
            for &line in &file.scan.clap {
                push(
                    "(b) only cli and main.rs use clap",
                    line,
                    "uses clap".into(),
                );
            }
        }
    }
    out
}

#[test]
fn modules_respect_the_layering() {
    let files = source_files();
    assert!(
        files.iter().any(|f| f.unit == "cli") && files.len() > 20,
        "the walk found {} files under harness/src",
        files.len()
    );
    for allowed in CLAP_ALLOWED_FOR_NOW {
        if !files.iter().any(|f| {
            clap_allowed(&f.name) && f.name.starts_with(allowed) && !f.scan.clap.is_empty()
        }) {
            eprintln!("note: CLAP_ALLOWED_FOR_NOW entry {allowed} matches no file that uses clap");
        }
    }
    let found = violations(&files);
    if found.is_empty() {
        return;
    }
    let mut report = format!("{} layering violations:\n", found.len());
    let rules: BTreeSet<&str> = found.iter().map(|v| v.rule).collect();
    for rule in rules {
        report.push_str(&format!("{rule}:\n"));
        for v in found.iter().filter(|v| v.rule == rule) {
            report.push_str(&format!("{v}\n"));
        }
    }
    panic!("{report}");
}

// ---- the checker, on an example ------------------------------------------------------------

fn paths(scan: &Scan) -> Vec<(usize, String)> {
    scan.refs
        .iter()
        .map(|r| (r.line, r.path.join("::")))
        .collect()
}

/// The lexer and the path reader on a file that uses every form they handle, including ones
/// that must not count.
#[test]
fn the_parser_finds_what_a_file_refers_to() {
    let src = r####"//! Doc: [`crate::doc_only`] is not a reference.
use crate::cli::RunArgs;
use crate::{
    runner::{self, CellFiles as Files},
    report::csv::*,
};
use super::sibling::Thing;
/* block /* nested crate::in_comment */ still comment */
fn f<'a>(x: &'a str) -> char {
    let _ = "crate::in_string \" crate::still_string";
    let _ = r#"crate::in_raw "string""#;
    let _ = b"crate::in_bytes";
    let q = '"';
    let _ = crate::fleet::producer::send::<u8>(x);
    let _ = $crate::metrics::now();
    #[derive(clap::Args)]
    struct A;
    q
}
mod tests {
    use super::*;
    use super::super::findmax::Probe;
    fn g() { self::h(); }
}
"####;
    let scan = scan(src, &["report".into(), "chart".into()], None, true).unwrap();
    assert_eq!(
        paths(&scan),
        [
            (2, "cli::RunArgs".to_string()),
            (4, "runner".into()),
            (4, "runner::CellFiles".into()),
            (5, "report::csv::*".into()),
            (7, "report::sibling::Thing".into()),
            (14, "fleet::producer::send".into()),
            (15, "metrics::now".into()),
            (21, "report::chart::*".into()),
            (22, "report::findmax::Probe".into()),
            (23, "report::chart::tests::h".into()),
        ]
    );
    assert_eq!(scan.clap.iter().copied().collect::<Vec<_>>(), [16]);
    let modules: Vec<_> = scan.refs.iter().filter_map(Ref::module).collect();
    assert!(modules.contains(&"cli") && modules.contains(&"runner"));

    // In the binary, `kbench::` is the library and `crate::` is not.
    let scan = scan_main("use clap::Parser;\nfn main() { kbench::cli::run(crate::x::y()); }\n");
    assert_eq!(paths(&scan), [(2, "cli::run".to_string())]);
    assert_eq!(scan.clap.iter().copied().collect::<Vec<_>>(), [1]);

    // What fails to lex is an error, not a silent skip.
    assert!(lex("let s = \"never closed;\n").is_err());
    assert!(lex("/* never closed").is_err());
}

fn scan_main(src: &str) -> Scan {
    scan(src, &[], Some("kbench"), false).unwrap()
}

#[test]
fn files_map_to_their_top_level_module() {
    let unit = |p: &str| module_of(Path::new(p));
    assert_eq!(
        unit("runner/cell.rs"),
        (vec!["runner".into(), "cell".into()], "runner".into())
    );
    assert_eq!(
        unit("runner/mod.rs"),
        (vec!["runner".into()], "runner".into())
    );
    assert_eq!(unit("cli.rs"), (vec!["cli".into()], "cli".into()));
    assert_eq!(unit("main.rs").1, BINARY);
    assert_eq!(unit("lib.rs").1, CRATE_ROOT);
    let list = ["harness/src/findmax", "harness/src/compare/mod.rs"];
    assert!(listed(&list, "harness/src/findmax/mod.rs"));
    assert!(listed(&list, "harness/src/compare/mod.rs"));
    assert!(!listed(&list, "harness/src/findmaxx.rs"));
    assert!(!listed(&list, "harness/src/compare/text.rs"));
}

/// The rules on a made-up tree: each kind of violation is found once, allowed references are not.
#[test]
fn the_rules_flag_exactly_the_forbidden_references() {
    let file = |rel: &str, text: &str| SourceFile::new(Path::new(rel), text.to_string());
    let files = [
        file(
            "main.rs",
            "use clap::Parser;\nfn main() { kbench::cli::run(); }\n",
        ),
        file("cli.rs", "use clap::Args;\nuse crate::runner::run;\n"),
        file(
            "runner/mod.rs",
            "use crate::cli::RunArgs;\nuse crate::report::csv;\n",
        ),
        file(
            "report/csv.rs",
            "use crate::metrics::X;\nfn f() { crate::runner::g() }\n",
        ),
        file(
            "metrics/cell.rs",
            "use crate::{\n    scenario::S,\n    fleet::F,\n};\nuse super::client::C;\n",
        ),
        file("scenario/mod.rs", "#[derive(clap::Args)]\nstruct A;\n"),
    ];
    let found: Vec<String> = violations(&files)
        .iter()
        .map(|v| format!("{} {}:{} {}", &v.rule[..3], v.file.name, v.line, v.what))
        .collect();
    assert_eq!(
        found,
        [
            "(a) harness/src/runner/mod.rs:1 refers to crate::cli",
            "(c) harness/src/report/csv.rs:2 refers to crate::runner",
            "(d) harness/src/metrics/cell.rs:3 refers to crate::fleet",
            "(b) harness/src/scenario/mod.rs:1 uses clap",
        ]
    );
}
