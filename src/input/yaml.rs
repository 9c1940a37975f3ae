//! YAML documents with positions. Every node remembers where it came from, so that any problem
//! found later (by schema or by a rule) can name the file, line and column.

// Diagnostics are returned once per document, on the rare error path; boxing them buys nothing.
#![allow(clippy::result_large_err)]

use std::fmt;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use saphyr_parser::{Event, Parser};

use crate::input::diag::{Diagnostic, Pos, Source};

/// Inputs beyond these bounds are refused before they are parsed, so no document can exhaust
/// memory or the stack (aliases expand by copying; nesting recurses).
/// The largest spec, profile or project file read.
pub const MAX_BYTES: usize = 8 << 20;
/// The most text a document may hold once its aliases are expanded.
const MAX_EXPANDED_BYTES: usize = 32 << 20;
const MAX_DEPTH: usize = 64;
const MAX_EXPANDED_NODES: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

/// One segment of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A field path such as `spec.frontend.env[0].name`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Path(pub Vec<Seg>);

impl Path {
    pub fn root() -> Self {
        Self(Vec::new())
    }

    pub fn key(&self, k: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_owned()));
        p
    }

    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    /// Parses the dotted form used in code (`spec.frontend.replicas`, `spec.env[2].name`).
    pub fn parse(s: &str) -> Self {
        let mut segs = Vec::new();
        for part in s.split('.').filter(|p| !p.is_empty()) {
            let (name, rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
            if !name.is_empty() {
                segs.push(Seg::Key(name.to_owned()));
            }
            for idx in rest.split('[') {
                if let Ok(i) = idx.trim_end_matches(']').parse() {
                    segs.push(Seg::Index(i));
                }
            }
        }
        Self(segs)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A short name of the node's type, for messages ("a string", "a mapping").
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// The position best describing `path`: the value when it exists, otherwise its key, otherwise
    /// the closest existing parent.
    pub fn locate(&self, path: &Path) -> Pos {
        let mut node = self;
        let mut pos = self.pos;
        for seg in &path.0 {
            let next = match (seg, &node.kind) {
                (Seg::Key(k), NodeKind::Map(entries)) => entries.iter().find(|e| &e.key == k).map(|e| {
                    pos = e.key_pos;
                    &e.value
                }),
                (Seg::Index(i), NodeKind::Seq(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(n) => {
                    node = n;
                    if !matches!(n.kind, NodeKind::Map(_) | NodeKind::Seq(_)) || n.pos.line == pos.line {
                        pos = n.pos;
                    }
                }
                None => return pos,
            }
        }
        pos
    }

    /// The position of the key that holds `path` (the field name itself), falling back to
    /// [`Node::locate`].
    pub fn locate_key(&self, path: &Path) -> Pos {
        let Some((Seg::Key(last), parent)) = path.0.split_last() else {
            return self.locate(path);
        };
        let mut node = self;
        for seg in parent {
            let next = match (seg, &node.kind) {
                (Seg::Key(k), NodeKind::Map(_)) => node.get(k),
                (Seg::Index(i), NodeKind::Seq(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return self.locate(path),
            }
        }
        node.entry(last).map_or_else(|| self.locate(path), |e| e.key_pos)
    }

    /// Converts to JSON for serde; YAML scalars keep their resolved types.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => Value::from(*i),
            NodeKind::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => {
                Value::Object(entries.iter().map(|e| (e.key.clone(), e.value.to_json())).collect())
            }
        }
    }
}

/// A parsed document: its node tree, the source it came from and its index in that source.
#[derive(Debug, Clone)]
pub struct Document {
    pub source: Source,
    pub index: usize,
    pub root: Node,
}

impl Document {
    pub fn diag(&self, path: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(&self.source, self.root.locate(path), path.to_string(), message)
    }

    pub fn diag_at_key(&self, path: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(&self.source, self.root.locate_key(path), path.to_string(), message)
    }
}

/// Parses every document of a YAML stream. Empty documents (a bare `---`) are skipped.
pub fn parse_documents(source: &Source) -> Result<Vec<Document>, Diagnostic> {
    let text: &str = &source.text;
    if text.len() > MAX_BYTES {
        return Err(Diagnostic::new(source, Pos { line: 1, col: 1 }, "", "file is too large")
            .with_hint(format!("specs and profiles are small; this one is over {} MiB", MAX_BYTES >> 20)));
    }
    check_shape(source)?;
    let docs = MarkedYaml::load_from_str(text).map_err(|e| {
        let m = e.marker();
        Diagnostic::new(source, Pos { line: m.line(), col: m.col() + 1 }, "", format!("invalid YAML: {}", e.info()))
            .with_hint("check indentation and quoting around this position")
    })?;
    let mut out = Vec::new();
    for (index, doc) in docs.iter().enumerate() {
        let root = convert(source, doc)?;
        if root.kind != NodeKind::Null {
            out.push(Document { source: source.clone(), index, root });
        }
    }
    Ok(out)
}

/// What a node expands to: nodes and bytes of scalar text.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    nodes: usize,
    bytes: usize,
}

impl Size {
    fn add(&mut self, other: Size) {
        self.nodes = self.nodes.saturating_add(other.nodes);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

/// Refuses documents nested too deeply or whose aliases expand beyond reason ("billion laughs"),
/// walking parser events only, before anything is built. Both the nodes and the text an alias
/// brings are counted: one large string aliased a thousand times is as bad as a node tree.
fn check_shape(source: &Source) -> Result<(), Diagnostic> {
    // Per open collection: its anchor id and its size so far.
    let mut stack: Vec<(usize, Size)> = Vec::new();
    let mut anchors: std::collections::HashMap<usize, Size> = std::collections::HashMap::new();
    let mut total = Size::default();
    let too_big = |pos: Pos, what: &str| {
        Diagnostic::new(source, pos, "", format!("document is too {what}")).with_hint(format!(
            "nesting is limited to {MAX_DEPTH} levels and alias expansion to {MAX_EXPANDED_NODES} nodes and {} MiB",
            MAX_EXPANDED_BYTES >> 20
        ))
    };
    for item in Parser::new_from_str(&source.text) {
        // Syntax errors are reported, with a better message, by the loader.
        let Ok((event, span)) = item else { return Ok(()) };
        let pos = Pos { line: span.start.line(), col: span.start.col() + 1 };
        let add = |stack: &mut Vec<(usize, Size)>, total: &mut Size, n: Size| match stack.last_mut() {
            Some(top) => top.1.add(n),
            None => total.add(n),
        };
        match event {
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(too_big(pos, "deeply nested"));
                }
                stack.push((anchor, Size { nodes: 1, bytes: 0 }));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, size)) = stack.pop() {
                    if anchor > 0 {
                        anchors.insert(anchor, size);
                    }
                    add(&mut stack, &mut total, size);
                }
            }
            Event::Scalar(text, _, anchor, _) => {
                let size = Size { nodes: 1, bytes: text.len() };
                if anchor > 0 {
                    anchors.insert(anchor, size);
                }
                add(&mut stack, &mut total, size);
            }
            Event::Alias(id) => {
                let size = anchors.get(&id).copied().unwrap_or(Size { nodes: 1, bytes: 0 });
                add(&mut stack, &mut total, size);
            }
            _ => {}
        }
        let mut all = total;
        stack.iter().for_each(|(_, s)| all.add(*s));
        if all.nodes > MAX_EXPANDED_NODES || all.bytes > MAX_EXPANDED_BYTES {
            return Err(too_big(pos, "large once its aliases are expanded"));
        }
    }
    Ok(())
}

fn convert(source: &Source, y: &MarkedYaml<'_>) -> Result<Node, Diagnostic> {
    let pos = Pos { line: y.span.start.line(), col: y.span.start.col() + 1 };
    let kind = match &y.data {
        YamlData::Value(s) => scalar(s),
        YamlData::Representation(raw, _, _) => NodeKind::Str(raw.to_string()),
        YamlData::Sequence(items) => NodeKind::Seq(items.iter().map(|i| convert(source, i)).collect::<Result<_, _>>()?),
        YamlData::Mapping(map) => {
            let mut entries = Vec::with_capacity(map.len());
            for (k, v) in map {
                let key_pos = Pos { line: k.span.start.line(), col: k.span.start.col() + 1 };
                let key = match &k.data {
                    YamlData::Value(Scalar::String(s)) => s.to_string(),
                    YamlData::Value(Scalar::Null) => "null".to_owned(),
                    YamlData::Value(Scalar::Boolean(b)) => b.to_string(),
                    YamlData::Value(Scalar::Integer(i)) => i.to_string(),
                    YamlData::Value(Scalar::FloatingPoint(f)) => f.to_string(),
                    YamlData::Tagged(_, inner) => match &inner.data {
                        YamlData::Value(s) => scalar_text(s),
                        _ => return Err(complex_key(source, key_pos)),
                    },
                    _ => return Err(complex_key(source, key_pos)),
                };
                entries.push(Entry { key, key_pos, value: convert(source, v)? });
            }
            NodeKind::Map(entries)
        }
        YamlData::Tagged(tag, inner) => {
            let node = convert(source, inner)?;
            // `!!str 1.0` forces a string; other tags carry no meaning for specs.
            if tag.is_yaml_core_schema() && tag.suffix == "str" {
                match node.kind {
                    NodeKind::Int(i) => NodeKind::Str(i.to_string()),
                    NodeKind::Float(f) => NodeKind::Str(f.to_string()),
                    NodeKind::Bool(b) => NodeKind::Str(b.to_string()),
                    NodeKind::Null => NodeKind::Str(String::new()),
                    other => other,
                }
            } else {
                node.kind
            }
        }
        YamlData::Alias(_) => {
            return Err(Diagnostic::new(source, pos, "", "unresolved YAML alias")
                .with_hint("define the anchor (&name) before using it (*name)"));
        }
        YamlData::BadValue => {
            return Err(Diagnostic::new(source, pos, "", "invalid YAML value")
                .with_hint("quote the value if it is meant as a string"));
        }
    };
    Ok(Node { pos, kind })
}

fn scalar(s: &Scalar<'_>) -> NodeKind {
    match s {
        Scalar::Null => NodeKind::Null,
        Scalar::Boolean(b) => NodeKind::Bool(*b),
        Scalar::Integer(i) => NodeKind::Int(*i),
        Scalar::FloatingPoint(f) => NodeKind::Float(f.into_inner()),
        Scalar::String(s) => NodeKind::Str(s.to_string()),
    }
}

fn scalar_text(s: &Scalar<'_>) -> String {
    match s {
        Scalar::Null => "null".to_owned(),
        Scalar::Boolean(b) => b.to_string(),
        Scalar::Integer(i) => i.to_string(),
        Scalar::FloatingPoint(f) => f.to_string(),
        Scalar::String(s) => s.to_string(),
    }
}

fn complex_key(source: &Source, pos: Pos) -> Diagnostic {
    Diagnostic::new(source, pos, "", "mapping keys must be plain strings")
        .with_hint("use a field name such as `image:`")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(text: &str) -> Vec<Document> {
        parse_documents(&Source::new("t.yaml", text)).unwrap()
    }

    #[test]
    fn positions_are_one_based_and_absolute_across_documents() {
        let d = docs("a: 1\n---\nb:\n  c: [x, y]\n");
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].index, 1);
        let p = Path::parse("b.c[1]");
        assert_eq!(d[1].root.locate(&p), Pos { line: 4, col: 10 });
        assert_eq!(d[1].root.locate_key(&Path::parse("b.c")), Pos { line: 4, col: 3 });
    }

    #[test]
    fn locate_falls_back_to_the_nearest_parent() {
        let d = docs("spec:\n  frontend:\n    image: x\n");
        assert_eq!(d[0].root.locate(&Path::parse("spec.frontend.replicas")), Pos { line: 2, col: 3 });
    }

    #[test]
    fn path_round_trips() {
        let p = Path::root().key("spec").key("env").index(2).key("name");
        assert_eq!(p.to_string(), "spec.env[2].name");
        assert_eq!(Path::parse("spec.env[2].name"), p);
    }

    #[test]
    fn syntax_errors_are_located() {
        let err = parse_documents(&Source::new("t.yaml", "a: [1, 2\nb: 3\n")).unwrap_err();
        assert!(err.message.starts_with("invalid YAML"), "{err}");
        assert!(err.pos.line >= 1);
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let err = parse_documents(&Source::new("t.yaml", "a: 1\na: 2\n")).unwrap_err();
        assert!(err.message.contains("duplicated key"), "{err}");
        assert_eq!(err.pos.line, 2);
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            bomb.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        let err = parse_documents(&Source::new("t.yaml", bomb)).unwrap_err();
        assert!(err.message.contains("too large"), "{err}");
        let deep = "[".repeat(500) + &"]".repeat(500);
        let err = parse_documents(&Source::new("t.yaml", deep)).unwrap_err();
        // The parser's own recursion limit or ours, whichever comes first.
        assert!(err.message.contains("too deeply nested") || err.message.contains("recursion limit"), "{err}");
    }

    #[test]
    fn one_large_string_aliased_many_times_is_refused() {
        // 1 MiB once, 2,000 times by alias: 2 GiB expanded, from a 1 MiB file (issue #11).
        let text = format!("s: &s \"{}\"\nl: [{}]\n", "x".repeat(1 << 20), vec!["*s"; 2000].join(", "));
        let err = parse_documents(&Source::new("t.yaml", text)).unwrap_err();
        assert!(err.message.contains("too large once its aliases are expanded"), "{err}");
        assert!(err.hint.as_deref().unwrap_or_default().contains("32 MiB"), "{err:?}");
        // A few aliases of a small anchor are fine.
        assert!(parse_documents(&Source::new("t.yaml", "a: &a {x: 1}\nb: *a\nc: *a\n")).is_ok());
    }

    #[test]
    fn str_tag_forces_strings() {
        let d = docs("v: !!str 1.0\nw: 1.0\n");
        assert!(matches!(d[0].root.get("v").unwrap().kind, NodeKind::Str(_)));
        assert_eq!(d[0].root.get("w").unwrap().kind, NodeKind::Float(1.0));
    }
}
