//! The README's quick start shows the code of `examples/quickstart.rs`, not a copy that
//! drifted from it; every example is named in the README and run by CI.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The lines of the ```rust blocks of the README's section `heading`.
fn rust_lines(readme: &str, heading: &str) -> Vec<String> {
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("no section {heading}"));
    let section = &readme[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut lines = Vec::new();
    let mut inside = false;
    for line in section.lines() {
        match line.trim() {
            "```rust" => inside = true,
            "```" => inside = false,
            text if inside => lines.push(text.to_string()),
            _ => {}
        }
    }
    lines
}

#[test]
fn the_quick_start_code_in_the_readme_is_the_examples() {
    let readme = read("README.md");
    let example = read("examples/quickstart.rs");
    let example_lines: Vec<&str> = example.lines().map(str::trim).collect();
    let shown = rust_lines(&readme, "## Quick start");
    assert!(shown.len() > 30, "the quick start shows its code");
    for line in shown {
        if line.is_empty() || line.starts_with("// ...") {
            continue;
        }
        assert!(
            example_lines.contains(&line.as_str()),
            "the README shows `{line}`, which examples/quickstart.rs does not have"
        );
    }
}

#[test]
fn every_example_is_in_the_readme_and_run_by_ci() {
    let readme = read("README.md");
    let ci = read(".ci/run");
    let mut examples = 0;
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        examples += 1;
        assert!(
            readme.contains(&format!("examples/{name}.rs")),
            "the README does not name examples/{name}.rs"
        );
        // The MPI example runs through its script (scripts/heat2d-mpi.sh).
        let script = format!("scripts/{}.sh", name.replace('_', "-"));
        assert!(
            ci.contains(&format!("examples/{name}")) || ci.contains(&script),
            ".ci/run does not run example {name}"
        );
    }
    assert!(examples >= 4);
}
