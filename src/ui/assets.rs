//! The page, embedded in the binary (`include_str!`: building it needs no Node). Plain ES
//! modules; every URL the page loads carries the token, the modules' imports through an import
//! map written into the page (a module's relative import would drop the query).

/// The files under `src/ui/assets/` the page loads, with their media types.
const FILES: &[(&str, &str, &str)] = &[
    ("style.css", "text/css; charset=utf-8", include_str!("assets/style.css")),
    ("main.js", "text/javascript; charset=utf-8", include_str!("assets/main.js")),
    ("api.js", "text/javascript; charset=utf-8", include_str!("assets/api.js")),
    ("overview.js", "text/javascript; charset=utf-8", include_str!("assets/overview.js")),
    ("capability.js", "text/javascript; charset=utf-8", include_str!("assets/capability.js")),
    ("graph.js", "text/javascript; charset=utf-8", include_str!("assets/graph.js")),
    ("logs.js", "text/javascript; charset=utf-8", include_str!("assets/logs.js")),
    ("builds.js", "text/javascript; charset=utf-8", include_str!("assets/builds.js")),
    ("environments.js", "text/javascript; charset=utf-8", include_str!("assets/environments.js")),
];

const PAGE: &str = include_str!("assets/index.html");

/// An asset's media type and text.
pub fn get(file: &str) -> Option<(&'static str, &'static str)> {
    FILES.iter().find(|(name, _, _)| *name == file).map(|(_, mime, body)| (*mime, *body))
}

/// The page for a session with `token` (64 hex digits: nothing to escape).
pub fn page(token: &str) -> String {
    let imports: serde_json::Map<String, serde_json::Value> = FILES
        .iter()
        .filter(|(name, _, _)| name.ends_with(".js"))
        .map(|(name, _, _)| (format!("/assets/{name}"), format!("/assets/{name}?token={token}").into()))
        .collect();
    let map = serde_json::json!({ "imports": imports });
    PAGE.replace("{{importmap}}", &map.to_string()).replace("{{token}}", token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_every_module_and_the_stylesheet_with_the_token() {
        let page = page("abc123");
        assert!(!page.contains("{{"), "every placeholder filled");
        assert!(page.contains(r#""/assets/graph.js":"/assets/graph.js?token=abc123""#), "{page}");
        assert!(page.contains("/assets/style.css?token=abc123"));
        for (name, _, body) in FILES {
            for import in body.lines().filter_map(|l| l.split(" from \"").nth(1)) {
                let target = import.trim_end_matches(['"', ';']);
                let file =
                    target.strip_prefix("/assets/").unwrap_or_else(|| panic!("{name}: import {target} not absolute"));
                assert!(get(file).is_some(), "{name} imports {file}, which is not embedded");
            }
        }
    }
}
