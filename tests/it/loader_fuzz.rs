//! No input may make the program panic (issue #2): thousands of random and mutated YAML
//! documents go through the spec loader, the profile parser and, when accepted, the planner.

use nexus_dev::input::diag::Source;
use nexus_dev::input::{profile, spec};
use nexus_dev::model::plan;
use proptest::prelude::*;

const SEEDS: &[&str] = &[
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/minimal.yaml")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/nexus-ai-complete.yaml")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/with-cognito.yaml")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/local.yaml")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/eks-prod.yaml")),
];

const TOKENS: &[&str] = &[
    ":",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "!!str ",
    "!!int ",
    "\"",
    "'",
    "\t",
    "  ",
    "\n",
    "#",
    "---\n",
    "...\n",
    "? ",
    "|\n",
    ">-\n",
    "null",
    "~",
    "true",
    "-1",
    "1e309",
    "0x1F",
    ".nan",
    "9223372036854775808",
    "é",
    "\u{0}",
    "replicas: ",
    "image: ",
    "spec:\n  ",
    "enabled: ",
    "region: ",
    "deletionPolicy: ",
    "<<: *a\n",
];

#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    Insert(usize, usize),
    Truncate(usize),
    Indent(usize, usize),
    ReplaceValue(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(p, t)| Mutation::Insert(p, t)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0usize..5).prop_map(|(l, n)| Mutation::Indent(l, n)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(l, t)| Mutation::ReplaceValue(l, t)),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let n = lines.len();
    match *m {
        Mutation::DeleteLine(i) => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::Insert(pos, t) => {
            let mut s = lines.join("\n");
            let mut p = pos % (s.len() + 1);
            while !s.is_char_boundary(p) {
                p -= 1;
            }
            s.insert_str(p, TOKENS[t]);
            return s;
        }
        Mutation::Truncate(pos) => {
            let s = lines.join("\n");
            let mut p = pos % (s.len() + 1);
            while !s.is_char_boundary(p) {
                p -= 1;
            }
            return s[..p].to_owned();
        }
        Mutation::Indent(i, k) => {
            let l = &mut lines[i % n];
            *l = format!("{}{l}", " ".repeat(k));
        }
        Mutation::ReplaceValue(i, t) => {
            let l = &mut lines[i % n];
            if let Some(c) = l.find(": ") {
                l.truncate(c + 2);
                l.push_str(TOKENS[t]);
            }
        }
    }
    lines.join("\n")
}

fn exercise(text: String) {
    let source = Source::new("fuzz.yaml", text);
    if let Ok(specs) = spec::load_specs(std::slice::from_ref(&source)) {
        for s in &specs {
            for (name, p) in profile::BUILT_IN {
                let p = profile::parse(&Source::new(*name, *p)).expect("built-in profile");
                let plan = plan::build(&s.cr, &p);
                serde_json::to_string(&plan).expect("plans serialize");
            }
        }
    }
    let _ = profile::parse(&source);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_documents_never_panic(seed in 0..SEEDS.len(), muts in prop::collection::vec(mutation(), 1..6)) {
        let mut text = SEEDS[seed].to_owned();
        for m in &muts {
            text = apply(&text, m);
        }
        exercise(text);
    }

    #[test]
    fn random_text_never_panics(text in "(?s).{0,400}") {
        exercise(text);
    }

    #[test]
    fn random_token_soup_never_panics(parts in prop::collection::vec(0..TOKENS.len(), 0..80)) {
        exercise(parts.into_iter().map(|i| TOKENS[i]).collect());
    }
}
