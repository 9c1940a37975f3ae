//! Structural checks of a YAML document against an OpenAPI v3 schema (the CRD's own schema for
//! specs, a generated one for profiles). This is what the API server would refuse, reported
//! before anything is sent, with file, line, column and a suggestion.

use schemars::JsonSchema;
use serde_json::Value;

use crate::input::diag::{Diagnostic, did_you_mean};
use crate::input::yaml::{Document, Node, NodeKind, Path};

/// The schema kube-derive would generate for `T` (inlined, structural), as JSON.
pub fn schema_for<T: JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .with_transform(schemars::transform::AddNullable::default())
        .with_transform(kube::core::schema::StructuralSchemaRewriter)
        .with_transform(kube::core::schema::OptionalEnum)
        .into_generator();
    generator.into_root_schema_for::<T>().to_value()
}

/// Checks `node` (found at `path` in `doc`) against `schema`, appending every problem.
pub fn check(doc: &Document, node: &Node, path: &Path, schema: &Value, out: &mut Vec<Diagnostic>) {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        || schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
    {
        return;
    }
    if let NodeKind::Null = node.kind {
        // A bare `key:` means "not set"; required fields are checked by the parent.
        return;
    }
    let ty = schema.get("type").and_then(Value::as_str);
    if let Some(ty) = ty
        && !type_matches(ty, node)
    {
        out.push(type_error(doc, node, path, ty));
        return;
    }
    match &node.kind {
        NodeKind::Map(entries) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            for e in entries {
                let p = path.key(&e.key);
                match (props.and_then(|m| m.get(&e.key)), additional) {
                    (Some(sub), _) => check(doc, &e.value, &p, sub, out),
                    (None, Some(add)) if add.is_object() => check(doc, &e.value, &p, add, out),
                    (None, Some(Value::Bool(true))) => {}
                    (None, _) if props.is_none() => {}
                    (None, _) => {
                        let names: Vec<&str> = props.into_iter().flat_map(|m| m.keys().map(String::as_str)).collect();
                        let hint = match did_you_mean(&e.key, names.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`? fields allowed here: {}", names.join(", ")),
                            None => format!("fields allowed here: {}", names.join(", ")),
                        };
                        out.push(doc.diag_at_key(&p, format!("unknown field `{}`", e.key)).with_hint(hint));
                    }
                }
            }
            for req in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                let Some(req) = req.as_str() else { continue };
                let present = entries.iter().any(|e| e.key == req && e.value.kind != NodeKind::Null);
                if !present {
                    let what = props
                        .and_then(|m| m.get(req))
                        .and_then(|s| s.get("description"))
                        .and_then(Value::as_str)
                        .map(|d| format!(" ({})", first_sentence(d)))
                        .unwrap_or_default();
                    let mut d = doc.diag_at_key(path, format!("missing required field `{req}`{what}"));
                    if path.0.is_empty() {
                        d.path = req.to_owned();
                    } else {
                        d.path = format!("{path}.{req}");
                    }
                    out.push(d.with_hint(format!(
                        "add `{req}:` under `{}`",
                        if path.0.is_empty() { "the document" } else { last_key(path) }
                    )));
                }
            }
        }
        NodeKind::Seq(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(doc, item, &path.index(i), item_schema, out);
                }
            }
        }
        _ => check_scalar(doc, node, path, schema, out),
    }
}

fn check_scalar(doc: &Document, node: &Node, path: &Path, schema: &Value, out: &mut Vec<Diagnostic>) {
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        let value = node.to_json();
        if !options.contains(&value) {
            let names: Vec<&str> = options.iter().filter_map(Value::as_str).collect();
            let shown = match &node.kind {
                NodeKind::Str(s) => s.clone(),
                _ => value.to_string(),
            };
            let hint = match did_you_mean(&shown, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? expected one of: {}", names.join(", ")),
                None => format!("expected one of: {}", names.join(", ")),
            };
            out.push(doc.diag(path, format!("invalid value `{shown}`")).with_hint(hint));
            return;
        }
    }
    let number = match node.kind {
        NodeKind::Int(i) => Some(i as f64),
        NodeKind::Float(f) => Some(f),
        _ => None,
    };
    if let Some(n) = number {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            out.push(doc.diag(path, format!("must be at least {min}, found {n}")).with_hint(range_hint(schema)));
            return;
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            out.push(doc.diag(path, format!("must be at most {max}, found {n}")).with_hint(range_hint(schema)));
        }
    }
    if let NodeKind::Str(s) = &node.kind {
        let len = s.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && len < min
        {
            let msg =
                if len == 0 { "must not be empty".to_owned() } else { format!("must be at least {min} characters") };
            out.push(doc.diag(path, msg));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && len > max
        {
            out.push(doc.diag(path, format!("is {len} characters long; at most {max} are allowed")));
        }
    }
}

fn range_hint(schema: &Value) -> String {
    match (schema.get("minimum").and_then(Value::as_f64), schema.get("maximum").and_then(Value::as_f64)) {
        (Some(a), Some(b)) => format!("use a whole number from {a} to {b}"),
        (Some(a), None) => format!("use a number of at least {a}"),
        (None, Some(b)) => format!("use a number of at most {b}"),
        (None, None) => String::new(),
    }
}

fn type_matches(ty: &str, node: &Node) -> bool {
    matches!(
        (ty, &node.kind),
        ("object", NodeKind::Map(_))
            | ("array", NodeKind::Seq(_))
            | ("string", NodeKind::Str(_))
            | ("boolean", NodeKind::Bool(_))
            | ("integer", NodeKind::Int(_))
            | ("number", NodeKind::Int(_) | NodeKind::Float(_))
    )
}

fn type_error(doc: &Document, node: &Node, path: &Path, ty: &str) -> Diagnostic {
    let expected = match ty {
        "object" => "a mapping of fields",
        "array" => "a list",
        "string" => "a string",
        "boolean" => "true or false",
        "integer" => "a whole number",
        "number" => "a number",
        other => other,
    };
    let found = match &node.kind {
        NodeKind::Str(s) => format!("the string \"{s}\""),
        NodeKind::Int(i) => format!("the number {i}"),
        NodeKind::Float(f) => format!("the number {f}"),
        NodeKind::Bool(b) => format!("{b}"),
        _ => node.type_name().to_owned(),
    };
    let hint = match (ty, &node.kind) {
        ("string", NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_)) => {
            let raw = doc
                .source
                .line(node.pos.line)
                .and_then(|l| l.get(node.pos.col.saturating_sub(1)..))
                .map(|r| r.trim().trim_end_matches(',').trim_end_matches(['}', ']']).trim().to_owned());
            Some(format!("quote it so YAML keeps it as text: \"{}\"", raw.unwrap_or_default()))
        }
        ("integer" | "number", NodeKind::Str(s)) if s.trim().parse::<f64>().is_ok() => {
            Some(format!("remove the quotes: {}", s.trim()))
        }
        ("boolean", NodeKind::Str(s))
            if matches!(s.to_ascii_lowercase().as_str(), "yes" | "no" | "on" | "off" | "true" | "false") =>
        {
            Some("write true or false, without quotes".to_owned())
        }
        ("object", NodeKind::Str(_)) => Some("indent the fields under this key on the following lines".to_owned()),
        ("array", _) => Some("write the items as a list, each on its own line starting with `- `".to_owned()),
        _ => None,
    };
    doc.diag(path, format!("expected {expected}, found {found}")).with_hint_opt(hint)
}

fn first_sentence(s: &str) -> &str {
    let s = s.trim();
    match s.find(". ") {
        Some(i) => &s[..i],
        None => s.trim_end_matches('.'),
    }
}

fn last_key(path: &Path) -> &str {
    path.0
        .iter()
        .rev()
        .find_map(|s| match s {
            crate::input::yaml::Seg::Key(k) => Some(k.as_str()),
            crate::input::yaml::Seg::Index(_) => None,
        })
        .unwrap_or("")
}
