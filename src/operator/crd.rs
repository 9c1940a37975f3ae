//! Whether a new CRD is backward compatible with the one in the cluster (`operator upgrade`
//! applies it only then): every version served stays served, and every field of its schema
//! stays with the same type, and no field becomes required that was not. Anything else would
//! make existing capabilities invalid or unreadable.

use serde_json::Value;

/// Why `new` is not backward compatible with `live` (both a CRD's `spec`); empty when it is.
pub fn incompatible(live: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let versions = |spec: &Value| -> Vec<Value> { spec["versions"].as_array().cloned().unwrap_or_default() };
    for old in versions(live).iter().filter(|v| v["served"] == true) {
        let name = old["name"].as_str().unwrap_or_default();
        let Some(now) = versions(new).into_iter().find(|v| v["name"] == name && v["served"] == true) else {
            out.push(format!("version {name} would no longer be served"));
            continue;
        };
        schema(&old["schema"]["openAPIV3Schema"], &now["schema"]["openAPIV3Schema"], &format!("{name}:"), &mut out);
    }
    out
}

fn schema(old: &Value, new: &Value, path: &str, out: &mut Vec<String>) {
    if old["type"] != new["type"] && !old["type"].is_null() {
        out.push(format!("{path} changes type from {} to {}", old["type"], new["type"]));
        return;
    }
    let required = |v: &Value| -> Vec<String> {
        v["required"].as_array().into_iter().flatten().filter_map(|r| r.as_str().map(str::to_owned)).collect()
    };
    let was = required(old);
    for r in required(new).into_iter().filter(|r| !was.contains(r)) {
        out.push(format!("{path}{} becomes required", sep(path, &r)));
    }
    if let Some(props) = old["properties"].as_object() {
        for (key, sub) in props {
            let at = format!("{path}{}", sep(path, key));
            match new["properties"].get(key) {
                Some(now) => schema(sub, now, &at, out),
                None if new["x-kubernetes-preserve-unknown-fields"] == true => {}
                None => out.push(format!("{at} would be removed")),
            }
        }
    }
    if old["items"].is_object() {
        schema(&old["items"], &new["items"], &format!("{path}[]"), out);
    }
}

fn sep(path: &str, key: &str) -> String {
    if path.ends_with(':') { key.to_owned() } else { format!(".{key}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(props: Value, required: Value, versions: &[(&str, bool)]) -> Value {
        let versions: Vec<Value> = versions
            .iter()
            .map(|(name, served)| json!({"name": name, "served": served, "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": props, "required": required}}}}}))
            .collect();
        json!({"versions": versions})
    }

    #[test]
    fn the_same_crd_and_an_added_optional_field_are_compatible() {
        let live = crd(json!({"a": {"type": "string"}}), json!(["a"]), &[("v1", true)]);
        assert!(incompatible(&live, &live).is_empty());
        let more = crd(json!({"a": {"type": "string"}, "b": {"type": "integer"}}), json!(["a"]), &[("v1", true)]);
        assert!(incompatible(&live, &more).is_empty());
        // The real CRD against itself.
        use kube::CustomResourceExt;
        let ours = serde_json::to_value(crate::model::spec::NexusAICapability::crd().spec).unwrap();
        assert!(incompatible(&ours, &ours).is_empty());
    }

    #[test]
    fn removed_retyped_newly_required_fields_and_dropped_versions_are_refused() {
        let live = crd(json!({"a": {"type": "string"}, "b": {"type": "integer"}}), json!(["a"]), &[("v1", true)]);
        let new = crd(json!({"a": {"type": "integer"}, "c": {"type": "string"}}), json!(["a", "c"]), &[("v1", true)]);
        assert_eq!(
            incompatible(&live, &new),
            [
                "v1:spec.c becomes required",
                "v1:spec.a changes type from \"string\" to \"integer\"",
                "v1:spec.b would be removed"
            ]
        );
        let v2 = crd(json!({"a": {"type": "string"}}), json!(["a"]), &[("v2", true)]);
        assert_eq!(incompatible(&live, &v2), ["version v1 would no longer be served"]);
    }
}
