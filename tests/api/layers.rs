//! The layering rules of docs/ARCHITECTURE.md, checked by reading every `crate::` path in
//! `src/`: which module may use which, and that only `db` knows diesel and only the doors and the
//! server wiring know actix-web. `ALLOWED_FOR_NOW` lists the imports not yet moved behind
//! `service/`; it only shrinks (a pair that is no longer used must be removed from it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Our modules and the modules each may use.
const RULES: &[(&str, &[&str])] = &[
    ("domain", &[]),
    // Digests, MACs, sealing and key files: pure computation over RustCrypto crates.
    ("crypto", &[]),
    ("telemetry", &["config"]),
    ("config", &["crypto"]),
    ("metrics", &[]),
    ("audit", &["domain", "telemetry", "crypto"]),
    ("webhooks", &["domain", "telemetry", "crypto"]),
    ("db", &["domain", "audit", "webhooks", "telemetry", "crypto"]),
    ("auth", &["domain", "db", "config", "crypto"]),
    ("state", &["config", "db", "auth", "metrics", "domain", "crypto"]),
    (
        "service",
        &[
            "state",
            "auth",
            "db",
            "domain",
            "audit",
            "webhooks",
            "telemetry",
            "config",
        ],
    ),
    (
        "api",
        &[
            "service",
            "auth",
            "domain",
            "state",
            "telemetry",
            "config",
            "metrics",
            "webhooks",
        ],
    ),
    ("web", &["service", "auth", "domain", "state", "telemetry", "config"]),
    (
        "jobs",
        &[
            "service",
            "db",
            "state",
            "config",
            "domain",
            "telemetry",
            "webhooks",
            "auth",
            "crypto",
        ],
    ),
    (
        "cli",
        &[
            "service",
            "db",
            "state",
            "config",
            "domain",
            "telemetry",
            "auth",
            "jobs",
            "app",
            "audit",
        ],
    ),
    ("app", &["*"]),
    ("main", &["*"]),
    ("lib", &["*"]),
];

/// Imports that break the rules today and are on their way behind `service/` (see the core issue).
/// Empty since every door's use case went behind `service/`; it stays so that a move in progress
/// can be listed here, and the test fails once it is done.
const ALLOWED_FOR_NOW: &[(&str, &str)] = &[];

/// External crates only some modules may use.
const CRATE_RULES: &[(&str, &[&str])] = &[
    ("diesel", &["db"]),
    ("actix_web", &["api", "web", "app", "main", "cli", "jobs"]),
    ("actix_multipart", &["api", "web"]),
    ("askama", &["web"]),
];

fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy()
        .to_string();
    first.trim_end_matches(".rs").to_string()
}

/// The first path segment after each `crate::` (also inside `crate::{a, b::c}` groups), and the
/// external crates named at the start of a path.
fn references(code: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut ours = BTreeSet::new();
    let mut theirs = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                let body = group.split('}').next().unwrap_or("");
                for item in body.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != "self" {
                        ours.insert(name);
                    }
                }
            } else {
                let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    ours.insert(name);
                }
            }
            rest = after;
        }
        for (krate, _) in CRATE_RULES {
            let t = line.trim_start();
            let uses = t.starts_with(&format!("use {krate}::"))
                || t.starts_with(&format!("pub use {krate}::"))
                || line.contains(&format!(" {krate}::"))
                || line.contains(&format!("({krate}::"))
                || line.contains(&format!("<{krate}::"))
                || line.contains(&format!("#[{krate}::"));
            if uses {
                theirs.insert(krate.to_string());
            }
        }
    }
    (ours, theirs)
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let rules: BTreeMap<&str, &[&str]> = RULES.iter().copied().collect();
    let mut broken = Vec::new();
    let mut used_allowances = BTreeSet::new();
    for file in &files {
        let module = module_of(&src, file);
        let allowed = rules
            .get(module.as_str())
            .unwrap_or_else(|| panic!("{} is in no layer: add its module to RULES", file.display()));
        let (ours, theirs) = references(&std::fs::read_to_string(file).unwrap());
        for used in ours {
            if used == module || allowed.contains(&"*") || allowed.contains(&used.as_str()) {
                continue;
            }
            if ALLOWED_FOR_NOW.contains(&(module.as_str(), used.as_str())) {
                used_allowances.insert((module.clone(), used));
                continue;
            }
            broken.push(format!("{}: {module} may not use {used}", file.display()));
        }
        for krate in theirs {
            let (_, who) = CRATE_RULES.iter().find(|(k, _)| *k == krate).unwrap();
            if !who.contains(&module.as_str()) {
                broken.push(format!("{}: {module} may not use the {krate} crate", file.display()));
            }
        }
    }
    assert!(broken.is_empty(), "layering rules broken:\n{}", broken.join("\n"));
    let stale: Vec<_> = ALLOWED_FOR_NOW
        .iter()
        .filter(|(m, u)| !used_allowances.contains(&(m.to_string(), u.to_string())))
        .collect();
    assert!(
        stale.is_empty(),
        "no longer needed in ALLOWED_FOR_NOW, remove: {stale:?}"
    );
}

#[test]
fn the_reader_finds_grouped_and_plain_paths() {
    let (ours, theirs) = references(
        "use crate::{db::x, state::AppState};\nlet a = crate::service::Ctx::new(w); // crate::api\nuse diesel::prelude::*;",
    );
    assert_eq!(ours.into_iter().collect::<Vec<_>>(), ["db", "service", "state"]);
    assert_eq!(theirs.into_iter().collect::<Vec<_>>(), ["diesel"]);
}
