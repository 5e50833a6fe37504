//! The source's layers (`src/lib.rs`): each folder uses only the ones below it, so no module
//! circle can come back unnoticed. Read from the source text, as a reviewer would.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each top-level module and its layer; a module may use its own layer's bottom-most peers
/// (`store`, `error`, `secret`, `clock`, `output`, `private_files` use one another) and any
/// lower layer.
const LAYERS: &[(&str, u8)] = &[
    ("cli", 7),
    ("commands", 7),
    ("endpoint", 6),
    ("credentials", 5),
    ("code", 4),
    ("profile", 3),
    ("aws", 2),
    ("store", 1),
    ("error", 1),
    ("secret", 1),
    ("clock", 1),
    ("output", 1),
    ("private_files", 1),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file names as `crate::NAME` or inside `use crate::{…}`.
fn uses(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name = item.trim().split("::").next().unwrap_or("");
                found.insert(name.to_owned());
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    let mut checked = 0;
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "main" || top == "lib" {
            continue;
        }
        let own = layer(&top).unwrap_or_else(|| {
            panic!("src/{top} is in no layer: add it to LAYERS and to src/lib.rs's drawing")
        });
        checked += 1;
        for used in uses(&std::fs::read_to_string(file).unwrap()) {
            let Some(theirs) = layer(&used) else { continue };
            let peers_allowed = own == 1 || [top.as_str(), used.as_str()] == ["commands", "cli"];
            if used != top && (theirs > own || (theirs == own && !peers_allowed)) {
                wrong.push(format!("{}: {top} uses {used}", rel.display()));
            }
        }
    }
    assert!(checked > 30, "only {checked} source files found");
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_sees_both_forms_of_import() {
    let text = "use crate::aws::sts;\nuse crate::{clock, credentials::cache};\nfn f() { crate::code::obtain(); }";
    let found: Vec<_> = uses(text).into_iter().collect();
    assert_eq!(found, ["aws", "clock", "code", "credentials"]);
}
