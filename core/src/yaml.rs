//! YAML loading with source positions.
//!
//! This module is the one place in mentorflow that parses YAML: workflow
//! definitions, scenario files and directory imports all go through it. It
//! turns YAML text into a [`serde_json::Value`] (so typed structs deserialize
//! with serde) plus a [`Spans`] index that maps *value paths* to source
//! positions, so every definition problem can be reported as
//! `file:line:column: message`.
//!
//! The event parser of `yaml-rust2` does the tokenizing; this module builds the
//! value iteratively (no recursion, so hostile input cannot overflow the stack)
//! and applies the rules below.
//!
//! # Paths
//!
//! A path names one node of the document. Mapping keys are joined with `.`,
//! sequence items are written `[i]`, and the root is the empty path `""`:
//! `actions.accept.to`, `states.pending.timers[0].after`,
//! `actions.create.guard[1].message`. Use [`child_path`] and [`index_path`] to
//! build paths the same way. Keys are expected to be identifiers; a key that
//! itself contains `.` or `[` is accepted, but its paths are ambiguous (for
//! `{"a.b": 1, a: {b: 2}}` both values have the path `a.b` and the index keeps
//! the one that came last in the source).
//!
//! # Positions
//!
//! [`Pos`] is 1-based. Columns count **characters** (Unicode scalar values),
//! not bytes or display cells, so `名前: x` puts `x` at column 5; a tab counts
//! as one column. A leading byte-order mark is ignored and does not count.
//! Line breaks may be `\n`, `\r\n` or a lone `\r`.
//!
//! * [`Spans::get`] is the position of the value itself:
//!   * plain scalars: their first character;
//!   * quoted scalars: the **opening quote**;
//!   * block scalars (`|`, `>`): the `|`/`>` indicator on the header line (the
//!     script content is tracked separately, see [`Spans::script_pos`]);
//!   * block mappings: their first key; block sequences: their first `-`;
//!     flow collections: the `{` or `[`;
//!   * an empty (implicit null) mapping value such as `timeout:` with nothing
//!     after it: the position of its key; an empty sequence item (`-` with
//!     nothing after it): its `-` (found by looking at the source; if that
//!     fails, the token that follows); an empty document: `1:1`;
//!   * an alias (`*name`): the `*`.
//! * [`Spans::key`] is the position of the mapping key whose value is at the
//!   path (the `accept` of `actions.accept`); items of sequences have no key.
//! * [`Spans::nearest`] falls back from value to key to the nearest ancestor
//!   and finally to `1:1`; it never fails.
//!
//! Nodes copied by an alias keep pointing at the anchored original: the alias
//! node itself is at the `*`, but the paths *below* it (and the script
//! positions of an aliased block scalar) point into the anchored node, which
//! is where the text actually is.
//!
//! # Scripts
//!
//! String scalars may hold rhai scripts; [`Spans::script_pos`] maps a
//! script-relative line/column (1-based, as rhai reports them) back to the
//! file:
//!
//! * block scalars: script line `L` is file line `F + L - 1`, where `F` is
//!   the line after the `|`/`>` header (leading empty lines of the block count
//!   as script lines, as they do in the value), and the column is the block's
//!   indentation plus the script column. Folded (`>`) scalars use the same
//!   mapping, which is exact only for lines that were not folded;
//! * plain and quoted scalars: line 1 is the value's line and the column is
//!   the content column (after the opening quote) plus the script column minus
//!   one. Escape sequences in double-quoted scalars and scalars folded over
//!   several source lines make this approximate; a script line other than 1
//!   maps to the value position.
//!
//! # Scalars
//!
//! Plain (unquoted) scalars are resolved with the YAML 1.2 core schema:
//!
//! * `null`, `Null`, `NULL`, `~` and the empty scalar are null;
//! * `true`, `True`, `TRUE`, `false`, `False`, `FALSE` are booleans; `yes`,
//!   `no`, `on`, `off`, `y`, `n` stay **strings** (YAML 1.2, not 1.1);
//! * `[-+]?[0-9]+`, `0x[0-9a-fA-F]+` and `0o[0-7]+` are integers. An integer
//!   that does not fit an `i64` becomes a `u64` if it is positive and fits,
//!   otherwise an (imprecise) `f64`;
//! * `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` are floats;
//!   `.inf`, `-.inf`, `.nan` (and anything that overflows to infinity) are
//!   rejected with "not a finite number", because JSON cannot hold them;
//! * everything else is a string.
//!
//! Quoted and block scalars are always strings. The explicit tags `!!str`,
//! `!!int`, `!!float`, `!!bool` and `!!null` are honoured on scalars (a value
//! that does not fit the tag is an error), `!!map`/`!!seq` are accepted on the
//! matching collection, and the non-specific tag `!` makes a scalar a string.
//! `!!float` also accepts integer syntax. Any other tag (`!!binary`,
//! `!!timestamp`, `!custom`, ...) is an error naming the tag, positioned at the
//! tag. Merge keys (`<<`) are not special: `<<` is an ordinary key.
//!
//! # Mappings
//!
//! Mapping keys become strings: a scalar key is taken **as written** (after
//! unquoting), so `1: x` has the key `"1"`, `true: x` the key `"true"` and
//! `0x10: x` the key `"0x10"`; an empty key is `""`. An alias may be used as a
//! key if it refers to a scalar. Sequences and mappings as keys are an error.
//! A duplicate key in one mapping is an error at the second occurrence:
//! ``duplicate key `accept` (first at line 12)``.
//!
//! # Documents and limits
//!
//! The text must hold at most one document: a second one is an error
//! ("expected one YAML document") at its start. Empty text (or only comments)
//! is `null`. NUL characters are rejected (the scanner would treat one as the
//! end of the input).
//!
//! Anchors and aliases are resolved by copying. To defeat "billion laughs"
//! documents, the number of nodes produced (counting copies) is capped at
//! [`MAX_NODES`] and the bytes of keys, strings and paths produced at
//! [`MAX_BYTES`]. Nesting deeper than [`MAX_DEPTH`] collections is an error
//! (the scanner itself refuses more than 255 nested flow collections). An
//! alias that refers to a node that encloses it is an error.
//!
//! Syntax errors from the scanner are reported with 1-based line and column
//! (`yaml-rust2` markers carry a 1-based line and a 0-based column, which is
//! converted). The message and the exact column are the scanner's: it reports
//! where it noticed the problem, e.g. a badly indented `key: value` line at its
//! `:`. Errors at the end of input point just after the last character.
//!
//! [`YamlError`] displays as `LINE:COL: message`; callers prefix the file name.

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, ScanError, TScalarStyle};

/// Maximum nesting depth of collections.
pub const MAX_DEPTH: usize = 200;

/// Maximum number of nodes (scalars, sequences and mappings, keys included)
/// one document may produce, counting the copies made by aliases.
pub const MAX_NODES: usize = 1_000_000;

/// Maximum number of bytes of keys, string values and value paths one
/// document may produce, counting the copies made by aliases.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

/// The core schema tag prefix (what `!!` expands to).
const CORE_PREFIX: &str = "tag:yaml.org,2002:";

/// 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Pos {
    /// Line, starting at 1.
    pub line: usize,
    /// Column in characters, starting at 1.
    pub column: usize,
}

impl Pos {
    /// The first character of a file (`1:1`).
    pub const START: Pos = Pos { line: 1, column: 1 };

    /// A position from a 1-based line and column.
    #[must_use]
    pub const fn new(line: usize, column: usize) -> Pos {
        Pos { line, column }
    }

    /// Converts a `yaml-rust2` marker (1-based line, 0-based column).
    fn from_marker(mark: &Marker) -> Pos {
        Pos {
            line: mark.line().max(1),
            column: mark.col().saturating_add(1),
        }
    }

    /// The same line, `n` columns further right.
    fn right(self, n: usize) -> Pos {
        Pos {
            line: self.line,
            column: self.column.saturating_add(n),
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Appends a mapping key to a path (`"" + "a"` → `"a"`, `"a" + "b"` → `"a.b"`).
#[must_use]
pub fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        let mut path = String::with_capacity(parent.len() + 1 + key.len());
        path.push_str(parent);
        path.push('.');
        path.push_str(key);
        path
    }
}

/// Appends a sequence index to a path (`"a"` + 2 → `"a[2]"`).
#[must_use]
pub fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// The path of a serde error's place (as `serde_path_to_error` records it) below `parent`,
/// written the way [`Spans`] names paths (`states.open.timers[0].after`).
#[must_use]
pub fn error_path(parent: &str, err: &serde_path_to_error::Path) -> String {
    let mut path = parent.to_owned();
    for segment in err {
        match segment {
            serde_path_to_error::Segment::Seq { index } => path = index_path(&path, *index),
            serde_path_to_error::Segment::Map { key }
            | serde_path_to_error::Segment::Enum { variant: key } => {
                path = child_path(&path, key);
            }
            serde_path_to_error::Segment::Unknown => break,
        }
    }
    path
}

/// The path of the parent of `path`, or `None` for the root.
fn parent_path(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    if path.ends_with(']') {
        if let Some(open) = path.rfind('[') {
            return path.get(..open);
        }
    }
    match path.rfind('.') {
        Some(dot) => path.get(..dot),
        None => Some(""),
    }
}

/// Where the text of a string scalar lives, for [`Spans::script_pos`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    /// A plain or quoted scalar whose content starts at `start`.
    Inline { start: Pos },
    /// A block scalar whose line 1 is file line `first_line`, indented by
    /// `indent` columns.
    Block { first_line: usize, indent: usize },
}

/// Everything known about one path.
#[derive(Debug, Clone, Default)]
struct Entry {
    path: String,
    key: Option<Pos>,
    value: Option<Pos>,
    script: Option<Script>,
    /// Indices (into `Spans::entries`) of the children, in source order.
    children: Vec<usize>,
}

/// Index from value paths to source positions, produced by [`parse`].
#[derive(Debug, Clone, Default)]
pub struct Spans {
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

impl Spans {
    fn entry(&self, path: &str) -> Option<&Entry> {
        self.index.get(path).and_then(|&i| self.entries.get(i))
    }

    /// Position of the value at `path` (see the module docs for which
    /// character of a value that is).
    #[must_use]
    pub fn get(&self, path: &str) -> Option<Pos> {
        self.entry(path).and_then(|e| e.value)
    }

    /// Position of the mapping key whose value is at `path` (e.g. the
    /// `accept` of `actions.accept`). Sequence items and the root have none.
    #[must_use]
    pub fn key(&self, path: &str) -> Option<Pos> {
        self.entry(path).and_then(|e| e.key)
    }

    /// Best position for `path`: the value, else the key, else the nearest
    /// ancestor's, else `1:1`.
    #[must_use]
    pub fn nearest(&self, path: &str) -> Pos {
        let mut current = Some(path);
        while let Some(p) = current {
            if let Some(entry) = self.entry(p) {
                if let Some(pos) = entry.value.or(entry.key) {
                    return pos;
                }
            }
            current = parent_path(p);
        }
        Pos::START
    }

    /// Maps a position inside a script stored as the string scalar at `path`
    /// (script line and column, 1-based, as rhai reports them) to the file
    /// position. See the module docs for the exact rules. A line of 0 means
    /// "unknown" and gives [`nearest`](Self::nearest); a column of 0 is read
    /// as 1.
    #[must_use]
    pub fn script_pos(&self, path: &str, line: usize, column: usize) -> Pos {
        let script = self.entry(path).and_then(|e| e.script);
        let column = column.max(1);
        match script {
            Some(Script::Block { first_line, indent }) if line > 0 => Pos {
                line: first_line.saturating_add(line - 1),
                column: indent.saturating_add(column),
            },
            Some(Script::Inline { start }) if line == 1 => start.right(column - 1),
            _ => self.nearest(path),
        }
    }

    /// The paths of the nodes directly under `path`, in source order: the
    /// child paths of a mapping's keys (`children("actions")` →
    /// `["actions.accept", "actions.create"]`) or a sequence's items
    /// (`["steps[0]", "steps[1]"]`). Empty for scalars and unknown paths.
    #[must_use]
    pub fn children(&self, path: &str) -> Vec<String> {
        self.entry(path)
            .map(|e| {
                e.children
                    .iter()
                    .filter_map(|&i| self.entries.get(i))
                    .map(|c| c.path.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether some node (or key) of the document has this path.
    #[must_use]
    pub fn contains(&self, path: &str) -> bool {
        self.index.contains_key(path)
    }

    /// Appends an entry and indexes it.
    fn push(&mut self, entry: Entry) -> usize {
        let i = self.entries.len();
        self.index.insert(entry.path.clone(), i);
        self.entries.push(entry);
        i
    }

    fn entry_mut(&mut self, i: usize) -> Option<&mut Entry> {
        self.entries.get_mut(i)
    }

    fn add_child(&mut self, parent: usize, child: usize) {
        if let Some(e) = self.entries.get_mut(parent) {
            e.children.push(child);
        }
    }
}

/// A YAML problem with its position (and, for deserialization errors, the
/// path of the offending value). Displays as `LINE:COL: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{}: {message}", .pos.line, .pos.column)]
pub struct YamlError {
    /// What is wrong.
    pub message: String,
    /// Where it is.
    pub pos: Pos,
    /// The path of the value concerned, when known.
    pub path: Option<String>,
}

impl YamlError {
    /// An error at `pos` without a path.
    #[must_use]
    pub fn new(message: impl Into<String>, pos: Pos) -> YamlError {
        YamlError {
            message: message.into(),
            pos,
            path: None,
        }
    }

    /// The same error, concerning the value at `path`.
    #[must_use]
    pub fn with_path(mut self, path: impl Into<String>) -> YamlError {
        self.path = Some(path.into());
        self
    }
}

/// Parses one YAML document into JSON plus spans.
///
/// # Errors
///
/// Syntax errors, more than one document, unsupported tags, non-finite
/// numbers, duplicate or complex keys, recursive aliases and exceeded limits;
/// see the module docs.
pub fn parse(text: &str) -> Result<(Value, Spans), YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let source = Source::new(text);
    if let Some(pos) = source.find_nul() {
        return Err(YamlError::new("NUL characters are not allowed", pos));
    }
    let mut builder = Builder::new(&source);
    let mut parser = Parser::new_from_str(text);
    let mut documents = 0usize;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| scan_error(&e, &source))?;
        let pos = source.clamp(Pos::from_marker(&mark));
        match event {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError::new(
                        "expected one YAML document, found a second one",
                        pos,
                    ));
                }
            }
            Event::Alias(id) => builder.alias(id, pos)?,
            Event::Scalar(text, style, anchor, tag) => {
                builder.scalar(text, style, anchor, tag.as_ref(), &mark)?;
            }
            Event::SequenceStart(anchor, tag) => {
                builder.start(Kind::Seq, anchor, tag.as_ref(), pos)?;
            }
            Event::MappingStart(anchor, tag) => {
                builder.start(Kind::Map, anchor, tag.as_ref(), pos)?;
            }
            Event::SequenceEnd | Event::MappingEnd => builder.end(pos)?,
        }
    }
    Ok((builder.root.unwrap_or(Value::Null), builder.spans))
}

/// Parses and deserializes into `T`.
///
/// # Errors
///
/// Everything [`parse`] reports, and deserialization errors, which carry the
/// path of the offending value and its position (see [`from_value`]).
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<(T, Spans), YamlError> {
    let (value, spans) = parse(text)?;
    let t = from_value(value, &spans)?;
    Ok((t, spans))
}

/// Deserializes an already parsed value (for callers that inspect the JSON
/// first).
///
/// # Errors
///
/// A deserialization error names the path of the offending value
/// (`` `actions.accept.to`: invalid type: ... ``) and carries its position:
/// [`Spans::nearest`] of the path; for `missing field` the key of the
/// mapping missing it, for `unknown field` the offending key and for an
/// `unknown variant` written as a mapping key, that key. Errors inside
/// internally tagged or untagged enums only know the path of the enum value
/// (serde buffers their content).
pub fn from_value<T: serde::de::DeserializeOwned>(
    value: Value,
    spans: &Spans,
) -> Result<T, YamlError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = error_path("", err.path());
        let inner = err.into_inner().to_string();
        let pos = if inner.starts_with("missing field") {
            spans.key(&path).unwrap_or_else(|| spans.nearest(&path))
        } else if let Some(field) = inner
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
        {
            // The path usually already ends with the unknown key.
            let field_path = child_path(&path, field);
            spans
                .key(&path)
                .or_else(|| spans.key(&field_path))
                .unwrap_or_else(|| spans.nearest(&path))
        } else if let Some(variant) = inner
            .strip_prefix("unknown variant `")
            .and_then(|rest| rest.split('`').next())
        {
            // `{bogus: ...}` for an externally tagged enum: point at the key.
            spans
                .key(&child_path(&path, variant))
                .unwrap_or_else(|| spans.nearest(&path))
        } else {
            spans.nearest(&path)
        };
        let message = if path.is_empty() {
            inner
        } else {
            format!("`{path}`: {inner}")
        };
        YamlError::new(message, pos).with_path(path)
    })
}

/// Converts a scanner error (1-based line, 0-based column).
fn scan_error(err: &ScanError, source: &Source<'_>) -> YamlError {
    let mark = err.marker();
    let pos = source.clamp(Pos::from_marker(mark));
    let message = if err.info() == "while parsing node, found unknown anchor" {
        match source.alias_name(pos) {
            Some(name) => format!("unknown alias `*{name}`"),
            None => "unknown alias".to_owned(),
        }
    } else {
        err.info().to_owned()
    };
    YamlError::new(message, pos)
}

/// The source text split into lines the way `yaml-rust2` counts them, with
/// an index to convert character columns to byte offsets quickly (so long
/// lines do not make position lookups quadratic).
#[derive(Debug)]
struct Source<'a> {
    lines: Vec<Line<'a>>,
}

/// One line of the source, without its line break.
#[derive(Debug)]
struct Line<'a> {
    text: &'a str,
    /// Byte offsets of every [`STRIDE`]-th character; empty for ASCII lines,
    /// where columns and byte offsets coincide.
    marks: Vec<usize>,
}

/// Distance between the indexed characters of a non-ASCII line.
const STRIDE: usize = 64;

impl<'a> Line<'a> {
    fn new(text: &'a str) -> Line<'a> {
        let marks = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices()
                .step_by(STRIDE)
                .map(|(at, _)| at)
                .collect()
        };
        Line { text, marks }
    }

    /// Byte offset of the character at 0-based column `col` (the line length
    /// if the line is shorter).
    fn byte(&self, col: usize) -> usize {
        if self.marks.is_empty() {
            return col.min(self.text.len());
        }
        let k = (col / STRIDE).min(self.marks.len().saturating_sub(1));
        let start = self.marks.get(k).copied().unwrap_or(0);
        let skip = col.saturating_sub(k * STRIDE);
        self.text
            .get(start..)
            .and_then(|rest| rest.char_indices().nth(skip))
            .map_or(self.text.len(), |(at, _)| start + at)
    }

    /// 0-based column of the character at byte offset `byte`.
    fn col(&self, byte: usize) -> usize {
        if self.marks.is_empty() {
            return byte;
        }
        let k = self.marks.partition_point(|m| *m <= byte).saturating_sub(1);
        let start = self.marks.get(k).copied().unwrap_or(0);
        k * STRIDE
            + self
                .text
                .get(start..byte.min(self.text.len()))
                .map_or(0, |s| s.chars().count())
    }

    /// Number of characters.
    fn chars(&self) -> usize {
        self.col(self.text.len())
    }

    /// The text before 0-based column `col`.
    fn before(&self, col: usize) -> &'a str {
        self.text.get(..self.byte(col)).unwrap_or("")
    }
}

/// Byte offset where a comment starts (`#` at the start or after a blank).
fn comment_start(text: &str) -> Option<usize> {
    let mut prev = ' ';
    for (at, c) in text.char_indices() {
        if c == '#' && (prev == ' ' || prev == '\t') {
            return Some(at);
        }
        prev = c;
    }
    None
}

impl<'a> Source<'a> {
    fn new(text: &'a str) -> Source<'a> {
        let mut lines = Vec::new();
        let bytes = text.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if b == b'\n' || b == b'\r' {
                lines.push(Line::new(text.get(start..i).unwrap_or("")));
                i += if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                start = i;
            } else {
                i += 1;
            }
        }
        lines.push(Line::new(text.get(start..).unwrap_or("")));
        Source { lines }
    }

    fn line(&self, line: usize) -> Option<&Line<'a>> {
        self.lines.get(line.checked_sub(1)?)
    }

    /// The text of `pos`'s line from `pos` on.
    fn rest(&self, pos: Pos) -> Option<&'a str> {
        let line = self.line(pos.line)?;
        line.text.get(line.byte(pos.column.checked_sub(1)?)..)
    }

    /// The text of `pos`'s line before `pos`.
    fn before(&self, pos: Pos) -> Option<&'a str> {
        let line = self.line(pos.line)?;
        Some(line.before(pos.column.saturating_sub(1)))
    }

    /// Moves a position past the end of the text (the scanner reports the
    /// end of input on an extra line) to just after the last character.
    fn clamp(&self, pos: Pos) -> Pos {
        if pos.line <= self.lines.len() {
            return pos;
        }
        match self.lines.iter().rposition(|l| !l.text.is_empty()) {
            Some(i) => Pos {
                line: i + 1,
                column: self.lines.get(i).map_or(0, Line::chars) + 1,
            },
            None => Pos::START,
        }
    }

    fn find_nul(&self) -> Option<Pos> {
        self.lines.iter().enumerate().find_map(|(i, line)| {
            line.text.find('\0').map(|at| Pos {
                line: i + 1,
                column: line.col(at) + 1,
            })
        })
    }

    /// The name of the alias `*name` at `pos`.
    fn alias_name(&self, pos: Pos) -> Option<String> {
        let rest = self.rest(pos)?.strip_prefix('*')?;
        let name: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '{' | '}'))
            .collect();
        (!name.is_empty()).then_some(name)
    }

    /// The column of a block scalar indicator (`|` or `>`) on `line`: one
    /// preceded by whitespace (or at the start of the line) and followed only
    /// by indentation/chomping indicators and whitespace or a comment.
    fn block_indicator(&self, number: usize) -> Option<Pos> {
        let line = self.line(number)?;
        let mut prev = ' ';
        for (at, c) in line.text.char_indices() {
            if (c == '|' || c == '>') && (prev == ' ' || prev == '\t') {
                let after =
                    line.text.get(at + 1..).unwrap_or("").trim_start_matches([
                        '+', '-', '1', '2', '3', '4', '5', '6', '7', '8', '9',
                    ]);
                let code = after.trim_start_matches([' ', '\t']);
                let ends = code.is_empty() || (code.starts_with('#') && code.len() < after.len());
                if ends {
                    return Some(Pos {
                        line: number,
                        column: line.col(at) + 1,
                    });
                }
            }
            prev = c;
        }
        None
    }

    /// The last occurrence of `needle` before `pos` on its line or one of
    /// the two lines above (used to point at a tag, which the parser does
    /// not mark).
    fn find_before(&self, pos: Pos, needle: &str) -> Option<Pos> {
        let first = pos.line.saturating_sub(2).max(1);
        (first..=pos.line).rev().find_map(|number| {
            let line = self.line(number)?;
            let text = if number == pos.line {
                line.before(pos.column.saturating_sub(1))
            } else {
                line.text
            };
            let at = text.rfind(needle)?;
            Some(Pos {
                line: number,
                column: line.col(at) + 1,
            })
        })
    }

    /// Where the tag of a node marked at `pos` is written.
    fn tag_pos(&self, pos: Pos, tag: &Tag) -> Pos {
        let name = tag_name(tag);
        let name = name.strip_prefix("!<").map_or(name.as_str(), |_| "!<");
        self.find_before(pos, name).unwrap_or(pos)
    }

    /// The `-` before `pos` on its line, with only blanks (and a comment) in
    /// between.
    fn dash_before(&self, pos: Pos) -> Option<Pos> {
        let line = self.line(pos.line)?;
        let before = line.before(pos.column.saturating_sub(1));
        let code = comment_start(before)
            .and_then(|at| before.get(..at))
            .unwrap_or(before)
            .trim_end_matches([' ', '\t']);
        code.strip_suffix('-').map(|head| Pos {
            line: pos.line,
            column: line.col(head.len()) + 1,
        })
    }

    /// Finds the `-` of an empty block sequence item whose event is marked at
    /// `pos`: the parser marks it at the token that follows, which is either
    /// the content after the next item's `- ` or a less indented token.
    fn empty_item_dash(&self, pos: Pos) -> Option<Pos> {
        let mut at = pos;
        // Skip the next item's dash, if the mark is just after it.
        if let Some(next) = self.dash_before(at) {
            at = next;
        }
        // A compact nested sequence (`- - `): our dash is on the same line.
        if let Some(own) = self.dash_before(at) {
            return Some(own);
        }
        if !self.before(at)?.trim_start_matches([' ', '\t']).is_empty() {
            return None;
        }
        let mut number = at.line;
        loop {
            number = number.checked_sub(1).filter(|l| *l > 0)?;
            let line = self.line(number)?;
            let text = line.text;
            let code = comment_start(text)
                .and_then(|at| text.get(..at))
                .unwrap_or(text)
                .trim_end_matches([' ', '\t']);
            if code.is_empty() {
                continue;
            }
            return code.strip_suffix('-').map(|head| Pos {
                line: number,
                column: line.col(head.len()) + 1,
            });
        }
    }

    /// Finds the header of an empty block scalar whose event is marked at
    /// `pos` (the indicator itself at end of input, else the next token).
    fn empty_block_header(&self, pos: Pos) -> Option<Pos> {
        if self
            .rest(pos)
            .is_some_and(|r| r.starts_with('|') || r.starts_with('>'))
        {
            return Some(pos);
        }
        let mut number = pos.line;
        loop {
            number = number.checked_sub(1).filter(|l| *l > 0)?;
            if let Some(found) = self.block_indicator(number) {
                return Some(found);
            }
            let text = self.line(number)?.text.trim_start();
            if !(text.is_empty() || text.starts_with('#')) {
                return None;
            }
        }
    }
}

/// A collection kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Seq,
    Map,
}

/// A collection under construction.
#[derive(Debug)]
enum Container {
    Seq(Vec<Value>),
    Map {
        map: Map<String, Value>,
        /// The key waiting for its value, and its entry.
        pending: Option<(String, usize)>,
        /// Keys seen so far and where.
        seen: HashMap<String, Pos>,
    },
}

#[derive(Debug)]
struct Frame {
    container: Container,
    path: String,
    entry: usize,
    anchor: usize,
    /// A block mapping: its position is its first key's, which is only
    /// known when that key arrives (the parser marks the first `:`).
    first_key_is_start: bool,
    start_nodes: usize,
    start_bytes: usize,
}

/// A completed anchored node.
#[derive(Debug)]
struct Anchored {
    value: Value,
    /// The scalar's text as written (for use as a key).
    raw: Option<String>,
    root_entry: usize,
    root_path: String,
    /// Entries of the descendants: `root_entry + 1 .. end`.
    end: usize,
    nodes: usize,
    bytes: usize,
}

/// Where the next node goes.
#[derive(Debug)]
enum Slot {
    Key,
    Value { path: String, entry: usize },
}

/// The tags this module understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagKind {
    NonSpecific,
    Str,
    Int,
    Float,
    Bool,
    Null,
    Map,
    Seq,
}

fn tag_name(tag: &Tag) -> String {
    if tag.handle == CORE_PREFIX {
        format!("!!{}", tag.suffix)
    } else if tag.handle == "!" {
        format!("!{}", tag.suffix)
    } else if tag.handle.is_empty() && tag.suffix != "!" {
        format!("!<{}>", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

fn classify_tag(tag: &Tag) -> Result<TagKind, String> {
    if tag.handle.is_empty() && tag.suffix == "!" {
        return Ok(TagKind::NonSpecific);
    }
    let full = format!("{}{}", tag.handle, tag.suffix);
    let kind = match full.strip_prefix(CORE_PREFIX) {
        Some("str") => TagKind::Str,
        Some("int") => TagKind::Int,
        Some("float") => TagKind::Float,
        Some("bool") => TagKind::Bool,
        Some("null") => TagKind::Null,
        Some("map") => TagKind::Map,
        Some("seq") => TagKind::Seq,
        _ => return Err(format!("unsupported tag `{}`", tag_name(tag))),
    };
    Ok(kind)
}

/// Builds the value and the spans from parser events, without recursion.
#[derive(Debug)]
struct Builder<'s, 'a> {
    source: &'s Source<'a>,
    spans: Spans,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    root: Option<Value>,
    nodes: usize,
    bytes: usize,
}

impl<'s, 'a> Builder<'s, 'a> {
    fn new(source: &'s Source<'a>) -> Self {
        Builder {
            source,
            spans: Spans::default(),
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
            nodes: 0,
            bytes: 0,
        }
    }

    /// Accounts for produced nodes and bytes.
    fn charge(&mut self, nodes: usize, bytes: usize, pos: Pos) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(nodes);
        self.bytes = self.bytes.saturating_add(bytes);
        if self.nodes > MAX_NODES {
            return Err(YamlError::new(
                format!(
                    "document too large: more than {MAX_NODES} nodes (too many alias expansions?)"
                ),
                pos,
            ));
        }
        if self.bytes > MAX_BYTES {
            return Err(YamlError::new(
                format!(
                    "document too large: more than {MAX_BYTES} bytes of keys, strings and paths (too many alias expansions?)"
                ),
                pos,
            ));
        }
        Ok(())
    }

    /// Creates the entry for a new path.
    fn new_entry(&mut self, path: String, pos: Pos) -> Result<usize, YamlError> {
        self.charge(0, path.len().saturating_mul(2), pos)?;
        Ok(self.spans.push(Entry {
            path,
            ..Entry::default()
        }))
    }

    /// Decides where the next node goes, creating its entry if it is a value.
    fn slot(&mut self, pos: Pos) -> Result<Slot, YamlError> {
        let (path, parent) = match self.stack.last() {
            None => (String::new(), None),
            Some(frame) => match &frame.container {
                Container::Map { pending: None, .. } => return Ok(Slot::Key),
                Container::Map {
                    pending: Some((key, entry)),
                    ..
                } => {
                    return Ok(Slot::Value {
                        path: child_path(&frame.path, key),
                        entry: *entry,
                    })
                }
                Container::Seq(items) => (index_path(&frame.path, items.len()), Some(frame.entry)),
            },
        };
        let entry = self.new_entry(path.clone(), pos)?;
        if let Some(parent) = parent {
            self.spans.add_child(parent, entry);
        }
        Ok(Slot::Value { path, entry })
    }

    /// Records a mapping key.
    fn key(&mut self, key: String, pos: Pos) -> Result<(), YamlError> {
        self.charge(1, key.len(), pos)?;
        let Some(frame) = self.stack.last() else {
            return Ok(());
        };
        let path = child_path(&frame.path, &key);
        let parent = frame.entry;
        if let Container::Map { seen, .. } = &frame.container {
            if let Some(first) = seen.get(&key) {
                return Err(YamlError::new(
                    format!("duplicate key `{key}` (first at line {})", first.line),
                    pos,
                )
                .with_path(path));
            }
        }
        let entry = self.new_entry(path, pos)?;
        if let Some(e) = self.spans.entry_mut(entry) {
            e.key = Some(pos);
        }
        self.spans.add_child(parent, entry);
        let mut fix_start = None;
        if let Some(Frame {
            container: Container::Map { pending, seen, .. },
            first_key_is_start,
            entry: map_entry,
            ..
        }) = self.stack.last_mut()
        {
            if *first_key_is_start && seen.is_empty() {
                fix_start = Some(*map_entry);
            }
            seen.insert(key.clone(), pos);
            *pending = Some((key, entry));
        }
        if let Some(e) = fix_start.and_then(|i| self.spans.entry_mut(i)) {
            e.value = Some(pos);
        }
        Ok(())
    }

    /// Puts a finished value where it belongs.
    fn attach(&mut self, value: Value) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(frame) => match &mut frame.container {
                Container::Seq(items) => items.push(value),
                Container::Map { map, pending, .. } => {
                    if let Some((key, _)) = pending.take() {
                        map.insert(key, value);
                    }
                }
            },
        }
    }

    fn scalar(
        &mut self,
        text: String,
        style: TScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        mark: &Marker,
    ) -> Result<(), YamlError> {
        let mark_pos = self.source.clamp(Pos::from_marker(mark));
        let kind = match tag {
            Some(tag) => Some(
                classify_tag(tag)
                    .map_err(|m| YamlError::new(m, self.source.tag_pos(mark_pos, tag)))?,
            ),
            None => None,
        };
        if let Some(kind @ (TagKind::Map | TagKind::Seq)) = kind {
            let name = if kind == TagKind::Map {
                "!!map"
            } else {
                "!!seq"
            };
            return Err(YamlError::new(
                format!("tag `{name}` cannot be applied to a scalar"),
                tag.map_or(mark_pos, |t| self.source.tag_pos(mark_pos, t)),
            ));
        }
        // A plain scalar token is never empty: an empty plain scalar is one the
        // parser made up for a missing node.
        let synthesized = text.is_empty() && style == TScalarStyle::Plain;
        let block = matches!(style, TScalarStyle::Literal | TScalarStyle::Folded);
        let slot = self.slot(mark_pos)?;
        let (path, entry) = match slot {
            Slot::Key => {
                self.key(text.clone(), mark_pos)?;
                if anchor > 0 {
                    let value =
                        resolve(&text, style, kind).unwrap_or_else(|_| Value::String(text.clone()));
                    self.anchors.insert(
                        anchor,
                        Anchored {
                            value,
                            raw: Some(text),
                            root_entry: usize::MAX,
                            root_path: String::new(),
                            end: 0,
                            nodes: 1,
                            bytes: 0,
                        },
                    );
                }
                return Ok(());
            }
            Slot::Value { path, entry } => (path, entry),
        };
        self.charge(1, text.len(), mark_pos)?;

        // Positions.
        let mut script = None;
        let value_pos = if block {
            if text.chars().any(|c| c != '\n') {
                let leading = text.chars().take_while(|c| *c == '\n').count();
                let first_line = mark.line().saturating_sub(leading).max(1);
                script = Some(Script::Block {
                    first_line,
                    indent: mark.col(),
                });
                first_line
                    .checked_sub(1)
                    .and_then(|header| self.source.block_indicator(header))
                    .unwrap_or(Pos {
                        line: first_line,
                        column: mark.col() + 1,
                    })
            } else {
                self.source.empty_block_header(mark_pos).unwrap_or(mark_pos)
            }
        } else if synthesized {
            match self.stack.last().map(|f| &f.container) {
                Some(Container::Map { .. }) => self
                    .spans
                    .entry(&path)
                    .and_then(|e| e.key)
                    .unwrap_or(mark_pos),
                Some(Container::Seq(_)) => {
                    self.source.empty_item_dash(mark_pos).unwrap_or(mark_pos)
                }
                None => Pos::START,
            }
        } else {
            let content = match style {
                TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => mark_pos.right(1),
                _ => mark_pos,
            };
            script = Some(Script::Inline { start: content });
            mark_pos
        };

        let value = resolve(&text, style, kind)
            .map_err(|m| YamlError::new(m, value_pos).with_path(path.clone()))?;
        if !value.is_string() {
            script = None;
        }
        if let Some(e) = self.spans.entry_mut(entry) {
            e.value = Some(value_pos);
            e.script = script;
        }
        if anchor > 0 {
            self.anchors.insert(
                anchor,
                Anchored {
                    value: value.clone(),
                    raw: Some(text.clone()),
                    root_entry: entry,
                    root_path: path,
                    end: entry.saturating_add(1),
                    nodes: 1,
                    bytes: text.len(),
                },
            );
        }
        self.attach(value);
        Ok(())
    }

    fn alias(&mut self, id: usize, pos: Pos) -> Result<(), YamlError> {
        let source = self.source;
        let name = || {
            source
                .alias_name(pos)
                .map_or_else(|| "alias".to_owned(), |n| format!("*{n}"))
        };
        let Some(anchored) = self.anchors.get(&id) else {
            return Err(YamlError::new(
                format!("alias `{}` refers to a node that contains it", name()),
                pos,
            ));
        };
        let (nodes, bytes) = (anchored.nodes, anchored.bytes);
        match self.slot(pos)? {
            Slot::Key => {
                let key = self
                    .anchors
                    .get(&id)
                    .and_then(|a| a.raw.clone())
                    .ok_or_else(|| {
                        YamlError::new(
                            format!(
                                "alias `{}` used as a mapping key must refer to a scalar",
                                name()
                            ),
                            pos,
                        )
                    })?;
                self.key(key, pos)
            }
            Slot::Value { path, entry } => {
                self.charge(nodes, bytes, pos)?;
                let Some(anchored) = self.anchors.get(&id) else {
                    return Ok(());
                };
                let value = anchored.value.clone();
                let root_entry = anchored.root_entry;
                let root_path = anchored.root_path.clone();
                let range = root_entry.saturating_add(1)..anchored.end;
                // Copy the spans of the anchored node's descendants.
                let offset = self.spans.entries.len();
                let remap = |children: &[usize]| -> Vec<usize> {
                    children
                        .iter()
                        .filter_map(|c| c.checked_sub(range.start).map(|d| d + offset))
                        .collect()
                };
                let root = self.spans.entries.get(root_entry).cloned();
                let copies: Vec<Entry> = self
                    .spans
                    .entries
                    .get(range.clone())
                    .unwrap_or(&[])
                    .iter()
                    .map(|old| Entry {
                        path: rebase(&old.path, &root_path, &path),
                        key: old.key,
                        value: old.value,
                        script: old.script,
                        children: remap(&old.children),
                    })
                    .collect();
                let root_children = root.as_ref().map(|r| remap(&r.children));
                for copy in copies {
                    self.charge(0, copy.path.len().saturating_mul(2), pos)?;
                    self.spans.push(copy);
                }
                if let Some(e) = self.spans.entry_mut(entry) {
                    e.value = Some(pos);
                    e.script = root.and_then(|r| r.script);
                    e.children = root_children.unwrap_or_default();
                }
                self.attach(value);
                Ok(())
            }
        }
    }

    fn start(
        &mut self,
        kind: Kind,
        anchor: usize,
        tag: Option<&Tag>,
        pos: Pos,
    ) -> Result<(), YamlError> {
        if let Some(tag) = tag {
            let tag_pos = self.source.tag_pos(pos, tag);
            let ok = match classify_tag(tag).map_err(|m| YamlError::new(m, tag_pos))? {
                TagKind::NonSpecific => true,
                TagKind::Map => kind == Kind::Map,
                TagKind::Seq => kind == Kind::Seq,
                _ => false,
            };
            if !ok {
                let what = if kind == Kind::Map {
                    "a mapping"
                } else {
                    "a sequence"
                };
                return Err(YamlError::new(
                    format!("tag `{}` cannot be applied to {what}", tag_name(tag)),
                    tag_pos,
                ));
            }
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError::new(
                format!("nesting too deep (more than {MAX_DEPTH} levels)"),
                pos,
            ));
        }
        let (path, entry) = match self.slot(pos)? {
            Slot::Key => {
                return Err(YamlError::new(
                    "a sequence or mapping cannot be a mapping key",
                    pos,
                ))
            }
            Slot::Value { path, entry } => (path, entry),
        };
        // Block sequences are marked at their first `-`, except indentless
        // ones (`key:` followed by `- item` at the same indentation), which
        // are marked after the `-`; block mappings are marked at their first
        // `:` and fixed when their first key arrives.
        let rest = self.source.rest(pos).unwrap_or("");
        let (pos, first_key_is_start) = match kind {
            Kind::Seq if !(rest.starts_with('-') || rest.starts_with('[')) => {
                (self.source.dash_before(pos).unwrap_or(pos), false)
            }
            Kind::Seq => (pos, false),
            Kind::Map => (pos, !rest.starts_with('{')),
        };
        if let Some(e) = self.spans.entry_mut(entry) {
            e.value = Some(pos);
        }
        let container = match kind {
            Kind::Seq => Container::Seq(Vec::new()),
            Kind::Map => Container::Map {
                map: Map::new(),
                pending: None,
                seen: HashMap::new(),
            },
        };
        let (start_nodes, start_bytes) = (self.nodes, self.bytes);
        self.charge(1, 0, pos)?;
        self.stack.push(Frame {
            container,
            path,
            entry,
            anchor,
            first_key_is_start,
            start_nodes,
            start_bytes,
        });
        Ok(())
    }

    fn end(&mut self, pos: Pos) -> Result<(), YamlError> {
        let Some(frame) = self.stack.pop() else {
            return Err(YamlError::new("unbalanced end of collection", pos));
        };
        let value = match frame.container {
            Container::Seq(items) => Value::Array(items),
            Container::Map { map, .. } => Value::Object(map),
        };
        if frame.anchor > 0 {
            let nodes = self.nodes.saturating_sub(frame.start_nodes);
            let bytes = self.bytes.saturating_sub(frame.start_bytes);
            // Keeping a copy of the anchored node costs as much as the node.
            self.charge(0, bytes, pos)?;
            self.anchors.insert(
                frame.anchor,
                Anchored {
                    value: value.clone(),
                    raw: None,
                    root_entry: frame.entry,
                    root_path: frame.path,
                    end: self.spans.entries.len(),
                    nodes,
                    bytes,
                },
            );
        }
        self.attach(value);
        Ok(())
    }
}

/// Moves `path` from under `old_root` to under `new_root`.
fn rebase(path: &str, old_root: &str, new_root: &str) -> String {
    let suffix = path.strip_prefix(old_root).unwrap_or(path);
    if suffix.starts_with('[') {
        format!("{new_root}{suffix}")
    } else {
        child_path(new_root, suffix.strip_prefix('.').unwrap_or(suffix))
    }
}

/// Resolves a scalar to a JSON value.
fn resolve(text: &str, style: TScalarStyle, tag: Option<TagKind>) -> Result<Value, String> {
    match tag {
        None if style == TScalarStyle::Plain => resolve_plain(text),
        None | Some(TagKind::NonSpecific | TagKind::Str | TagKind::Map | TagKind::Seq) => {
            Ok(Value::String(text.to_owned()))
        }
        Some(TagKind::Null) => {
            if is_null(text) {
                Ok(Value::Null)
            } else {
                Err(format!("invalid `!!null` value `{text}`"))
            }
        }
        Some(TagKind::Bool) => parse_bool(text)
            .map(Value::Bool)
            .ok_or_else(|| format!("invalid `!!bool` value `{text}`")),
        Some(TagKind::Int) => parse_int(text)
            .map(Value::Number)
            .ok_or_else(|| format!("invalid `!!int` value `{text}`")),
        Some(TagKind::Float) => {
            if is_special_float(text) {
                return Err(not_finite(text));
            }
            let number = if is_float(text) {
                text.parse::<f64>().ok()
            } else {
                parse_int(text).and_then(|n| n.as_f64())
            };
            match number {
                Some(f) => Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| not_finite(text)),
                None => Err(format!("invalid `!!float` value `{text}`")),
            }
        }
    }
}

fn not_finite(text: &str) -> String {
    format!("`{text}` is not a finite number (JSON cannot hold it); quote it to make it a string")
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve_plain(text: &str) -> Result<Value, String> {
    if is_null(text) {
        return Ok(Value::Null);
    }
    if let Some(b) = parse_bool(text) {
        return Ok(Value::Bool(b));
    }
    if let Some(n) = parse_int(text) {
        return Ok(Value::Number(n));
    }
    if is_special_float(text) {
        return Err(not_finite(text));
    }
    if is_float(text) {
        return match text.parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(not_finite(text)),
        };
    }
    Ok(Value::String(text.to_owned()))
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// `[-+]?[0-9]+`, `0x[0-9a-fA-F]+` or `0o[0-7]+`.
fn parse_int(text: &str) -> Option<Number> {
    let (digits, radix) = if let Some(hex) = text.strip_prefix("0x") {
        (hex, 16)
    } else if let Some(oct) = text.strip_prefix("0o") {
        (oct, 8)
    } else {
        let unsigned = text
            .strip_prefix('-')
            .or_else(|| text.strip_prefix('+'))
            .unwrap_or(text);
        if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if let Ok(i) = text.parse::<i64>() {
            return Some(Number::from(i));
        }
        if let Ok(u) = text.parse::<u64>() {
            return Some(Number::from(u));
        }
        return text.parse::<f64>().ok().and_then(Number::from_f64);
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    match u64::from_str_radix(digits, radix) {
        Ok(u) => Some(i64::try_from(u).map_or_else(|_| Number::from(u), Number::from)),
        Err(_) => {
            let f = digits
                .chars()
                .filter_map(|c| c.to_digit(radix))
                .fold(0f64, |acc, d| acc * f64::from(radix) + f64::from(d));
            Number::from_f64(f)
        }
    }
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_float(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `[-+]?.inf` or `.nan` in their three spellings.
fn is_special_float(text: &str) -> bool {
    let unsigned = text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('+'))
        .unwrap_or(text);
    matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_paths() {
        assert_eq!(parent_path(""), None);
        assert_eq!(parent_path("a"), Some(""));
        assert_eq!(parent_path("a.b"), Some("a"));
        assert_eq!(parent_path("a.b[3]"), Some("a.b"));
        assert_eq!(parent_path("[3]"), Some(""));
        assert_eq!(parent_path("a[1][2]"), Some("a[1]"));
    }

    #[test]
    fn path_building() {
        assert_eq!(child_path("", "a"), "a");
        assert_eq!(child_path("a", "b"), "a.b");
        assert_eq!(index_path("", 0), "[0]");
        assert_eq!(index_path("a", 2), "a[2]");
        assert_eq!(rebase("x.a.b", "x.a", "y"), "y.b");
        assert_eq!(rebase("x[0]", "x", "y.z"), "y.z[0]");
        assert_eq!(rebase("a", "", "y"), "y.a");
        assert_eq!(rebase("a", "", ""), "a");
    }

    #[test]
    fn float_syntax() {
        for ok in [
            "1.5", "-1.5", "+.5", ".5", "1.", "1e3", "1.e3", "2.5E-3", "0.0",
        ] {
            assert!(is_float(ok), "{ok}");
            assert!(ok.parse::<f64>().is_ok(), "{ok}");
        }
        for bad in [
            "", ".", "-", "e3", "1e", "1.5.2", "1_000.0", "inf", "nan", "1e+",
        ] {
            assert!(!is_float(bad), "{bad}");
        }
    }

    #[test]
    fn int_syntax() {
        assert_eq!(parse_int("42"), Some(Number::from(42)));
        assert_eq!(parse_int("-42"), Some(Number::from(-42)));
        assert_eq!(parse_int("+7"), Some(Number::from(7)));
        assert_eq!(parse_int("007"), Some(Number::from(7)));
        assert_eq!(parse_int("0x1F"), Some(Number::from(31)));
        assert_eq!(parse_int("0o17"), Some(Number::from(15)));
        assert_eq!(
            parse_int("0xFFFFFFFFFFFFFFFF"),
            Some(Number::from(u64::MAX))
        );
        assert_eq!(
            parse_int("18446744073709551615"),
            Some(Number::from(u64::MAX))
        );
        assert!(parse_int("99999999999999999999999")
            .and_then(|n| n.as_f64())
            .is_some_and(|f| f > 9.9e22));
        assert!(parse_int("0x1FFFFFFFFFFFFFFFF")
            .and_then(|n| n.as_f64())
            .is_some());
        for bad in ["", "-", "0x", "0o8", "0xG", "1_000", "-0x1", "1.0", "٣"] {
            assert_eq!(parse_int(bad), None, "{bad}");
        }
    }

    #[test]
    fn tag_names() {
        let t = |handle: &str, suffix: &str| Tag {
            handle: handle.to_owned(),
            suffix: suffix.to_owned(),
        };
        assert_eq!(tag_name(&t(CORE_PREFIX, "binary")), "!!binary");
        assert_eq!(tag_name(&t("!", "foo")), "!foo");
        assert_eq!(classify_tag(&t("", "!")), Ok(TagKind::NonSpecific));
        assert_eq!(classify_tag(&t(CORE_PREFIX, "int")), Ok(TagKind::Int));
        assert!(classify_tag(&t("!", "int")).is_err());
    }

    #[test]
    fn source_lines() {
        let s = Source::new("a\r\nb\rc\nd");
        let texts: Vec<&str> = s.lines.iter().map(|l| l.text).collect();
        assert_eq!(texts, vec!["a", "b", "c", "d"]);
        assert_eq!(s.rest(Pos::new(1, 2)), Some(""));
        assert_eq!(s.rest(Pos::new(9, 1)), None);
        let s = Source::new("k: *näme, x\n");
        assert_eq!(s.alias_name(Pos::new(1, 4)).as_deref(), Some("näme"));
        assert_eq!(s.alias_name(Pos::new(1, 1)), None);
    }

    #[test]
    fn line_columns() {
        let ascii = Line::new("hello");
        assert_eq!(ascii.byte(2), 2);
        assert_eq!(ascii.byte(99), 5);
        assert_eq!(ascii.col(3), 3);
        let text = "é".repeat(200) + "x";
        let line = Line::new(&text);
        assert_eq!(line.chars(), 201);
        for col in [0, 1, 63, 64, 65, 128, 199, 200] {
            assert_eq!(line.byte(col), col * 2, "{col}");
            assert_eq!(line.col(col * 2), col, "{col}");
        }
        assert_eq!(line.byte(201), 401);
        assert_eq!(line.byte(1000), 401);
        assert_eq!(line.before(2), "éé");
        assert_eq!(Line::new("").byte(3), 0);
        assert_eq!(comment_start("a # b"), Some(2));
        assert_eq!(comment_start("# b"), Some(0));
        assert_eq!(comment_start("a#b"), None);
    }

    #[test]
    fn block_indicator_heuristic() {
        let s = Source::new("run: |\nrun: >- # c\n\"a | b\": |2\nx: a|b\n- |+\n");
        assert_eq!(s.block_indicator(1), Some(Pos::new(1, 6)));
        assert_eq!(s.block_indicator(2), Some(Pos::new(2, 6)));
        assert_eq!(s.block_indicator(3), Some(Pos::new(3, 10)));
        assert_eq!(s.block_indicator(4), None);
        assert_eq!(s.block_indicator(5), Some(Pos::new(5, 3)));
        assert_eq!(s.block_indicator(99), None);
    }

    #[test]
    fn scalar_resolution() {
        assert_eq!(resolve_plain("~"), Ok(Value::Null));
        assert_eq!(resolve_plain("TRUE"), Ok(Value::Bool(true)));
        assert_eq!(resolve_plain("yes"), Ok(Value::from("yes")));
        assert!(resolve_plain(".inf").is_err());
        assert!(resolve_plain("-.Inf").is_err());
        assert!(resolve_plain(".NaN").is_err());
        assert!(resolve_plain("1e999").is_err());
        assert_eq!(resolve_plain(".infinity"), Ok(Value::from(".infinity")));
        assert_eq!(
            resolve("12", TScalarStyle::Plain, Some(TagKind::Float)),
            Ok(Value::from(12.0))
        );
        assert!(resolve("x", TScalarStyle::Plain, Some(TagKind::Int)).is_err());
        assert_eq!(
            resolve("12", TScalarStyle::DoubleQuoted, Some(TagKind::Int)),
            Ok(Value::from(12))
        );
    }
}
