//! The shape of the code base, checked: crates depend only on the layers below them,
//! no crate's modules import each other in a cycle, actors are called through typed
//! handles and addresses (never by a method name in a string), and no crate holds more
//! than its share of the code. A change that breaks one of these fails here, with the
//! offending edge, cycle or call named.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first: a crate may depend only on crates of lower layers.
const LAYERS: &[(&str, u32)] = &[
    ("doreisa-objstore", 0),
    ("doreisa-proto", 0),
    ("doreisa-core", 1),
    ("doreisa-net", 2),
    ("doreisa-sched", 3),
    ("doreisa-array", 4),
    ("doreisa-insitu", 5),
    ("doreisa", 6),
    ("doreisa-cli", 7),
];

/// The largest share of the crates' source lines (tests excluded) one crate may hold.
const MAX_SHARE: f64 = 0.35;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn crate_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .expect("crates/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    dirs.sort();
    dirs
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The package name and the doreisa crates it depends on (normal dependencies).
fn manifest(dir: &Path) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
    let mut name = String::new();
    let mut deps = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        let key = line.split(['=', '.']).next().unwrap_or("").trim();
        if section == "[package]" && key == "name" {
            name = line.split('"').nth(1).unwrap_or("").to_string();
        }
        if section == "[dependencies]" && key.starts_with("doreisa") {
            deps.push(key.to_string());
        }
    }
    (name, deps)
}

fn layer(name: &str) -> u32 {
    LAYERS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("{name} has no layer in tests/architecture.rs"))
        .1
}

#[test]
fn crates_depend_only_on_lower_layers() {
    let mut wrong = Vec::new();
    let mut dirs = crate_dirs();
    dirs.push(root());
    for dir in dirs {
        let (name, deps) = manifest(&dir);
        for dep in deps {
            if layer(&dep) >= layer(&name) {
                wrong.push(format!("{name} -> {dep}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies pointing up or sideways: {wrong:?}"
    );
}

/// The module a source file is (its path under src/, `mod.rs` and `lib.rs` naming
/// their folder), cut to its first two levels.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts.truncate(2);
    parts
}

/// The longest prefix of `path` that is a module of the crate at `src`.
fn resolve(src: &Path, path: &[&str]) -> Vec<String> {
    let mut module: Vec<String> = Vec::new();
    for part in path {
        let mut candidate = src.to_path_buf();
        for m in &module {
            candidate.push(m);
        }
        candidate.push(part);
        if candidate.with_extension("rs").exists() || candidate.join("mod.rs").exists() {
            module.push(part.to_string());
        } else {
            break;
        }
    }
    module.truncate(2);
    module
}

/// Every `crate::a::b` path in `text`, as its segments.
fn crate_paths(text: &str) -> Vec<Vec<&str>> {
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let segments = rest[..end]
            .split("::")
            .filter(|s| !s.is_empty() && s.starts_with(|c: char| c.is_ascii_lowercase()))
            .collect();
        paths.push(segments);
    }
    paths
}

/// Module-to-module edges of one crate, between modules of up to two levels; a module
/// and its own descendants may use each other (a type split over child files).
fn module_edges(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src) {
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let from = module_of(src, &file);
        let text = std::fs::read_to_string(&file).expect("a source file");
        for path in crate_paths(&text) {
            let to = resolve(src, &path);
            let related = to.is_empty() || from.starts_with(&to) || to.starts_with(&from);
            if !related {
                edges
                    .entry(from.join("::"))
                    .or_default()
                    .insert(to.join("::"));
            }
        }
    }
    edges
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for w in self.edges.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

#[test]
fn no_crate_has_module_cycles() {
    let mut found = Vec::new();
    for dir in crate_dirs() {
        for cycle in cycles(&module_edges(&dir.join("src"))) {
            found.push(format!("{}: {cycle:?}", dir.display()));
        }
    }
    assert!(
        found.is_empty(),
        "modules importing each other in a cycle: {found:#?}"
    );
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.entry("a".into()).or_default().insert("b".into());
    edges.entry("b".into()).or_default().insert("c".into());
    edges.entry("c".into()).or_default().insert("a".into());
    edges.entry("c".into()).or_default().insert("d".into());
    assert_eq!(cycles(&edges), vec![vec!["a", "b", "c"]]);
    assert_eq!(
        crate_paths("use crate::runtime::worker::{A, B}; $crate::X; x_crate::y"),
        vec![vec!["runtime", "worker"]]
    );
}

#[test]
fn actors_are_called_through_typed_handles() {
    // The macro-generated handles and addresses call these; nothing else may.
    let allowed = [
        root().join("crates/core/src/registry.rs"),
        root().join("crates/core/src/runtime/worker.rs"),
    ];
    let mut dirs: Vec<PathBuf> = crate_dirs().iter().map(|d| d.to_path_buf()).collect();
    dirs.extend(["src", "tests", "examples"].map(|d| root().join(d)));
    let this_file = root().join("tests/architecture.rs");
    let mut found = Vec::new();
    for dir in dirs {
        for file in rust_files(&dir) {
            if allowed.contains(&file) || file == this_file {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("a source file");
            for (n, line) in text.lines().enumerate() {
                if line.contains(".call_method(") || line.contains(".call_method_at(") {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "actor methods named by a string: {found:#?}"
    );
}

#[test]
fn no_crate_holds_more_than_its_share_of_the_code() {
    let mut lines: BTreeMap<String, usize> = BTreeMap::new();
    for dir in crate_dirs() {
        let src = dir.join("src");
        let count = rust_files(&src)
            .iter()
            .filter(|f| {
                f.file_name().is_none_or(|n| n != "tests.rs")
                    && !f.components().any(|c| c.as_os_str() == "tests")
            })
            .map(|f| {
                std::fs::read_to_string(f)
                    .expect("a source file")
                    .lines()
                    .count()
            })
            .sum();
        lines.insert(manifest(&dir).0, count);
    }
    let total: usize = lines.values().sum();
    let too_big: Vec<String> = lines
        .iter()
        .filter(|&(_, &n)| n as f64 > MAX_SHARE * total as f64)
        .map(|(name, n)| format!("{name}: {n} of {total} lines"))
        .collect();
    assert!(too_big.is_empty(), "crates past {MAX_SHARE}: {too_big:?}");
}
