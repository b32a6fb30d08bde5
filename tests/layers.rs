//! The module layering of `src/lib.rs`, held by a test: every `crate::<module>` path in a
//! module points down the layers (or inside its own module), never up.
//!
//! Not a style check beyond that: what a module may use inside its own layer is its own
//! business.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// Lowest first; a module may use the modules of lower layers and its own.
const LAYERS: &[&[&str]] = &[
    &["bt", "net"],
    &["config"],
    &["publish"],
    &["catalog"],
    &["tracker"],
    &["seeder"],
    // `podseed check` announces with the seeder's tracker client; nothing below uses it.
    &["check"],
    &["serve"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules named by `crate::<name>` paths in `text`, with their line numbers.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() {
                // `crate::{a, b}` would hide which modules it names: the layering needs
                // one path per module.
                panic!("line {}: write one `use crate::module` per module", n + 1);
            }
            found.push((n + 1, name));
        }
    }
    found
}

#[test]
fn every_module_imports_only_from_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("inside src");
        let module = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|m| m.trim_end_matches(".rs").to_string())
            .expect("a module");
        if module == "lib" || module == "main" {
            continue;
        }
        let own = layer_of(&module)
            .unwrap_or_else(|| panic!("src/{module}: add it to LAYERS and to src/lib.rs"));
        let text = std::fs::read_to_string(file).expect("read");
        for (line, used) in crate_paths(&text) {
            match layer_of(&used) {
                Some(l) if l < own || used == module => {}
                Some(l) if l == own => wrong.push(format!(
                    "{}:{line}: {module} uses {used}, which is in its own layer",
                    rel.display()
                )),
                Some(_) => wrong.push(format!(
                    "{}:{line}: {module} reaches up into {used}",
                    rel.display()
                )),
                None => wrong.push(format!(
                    "{}:{line}: crate::{used} is not a layered module",
                    rel.display()
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "upward imports:\n{}", wrong.join("\n"));
}

#[test]
fn the_crate_doc_lists_every_layer() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("read lib.rs");
    for module in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(
            lib.contains(&format!("[`{module}`]")),
            "src/lib.rs's crate doc does not describe {module}"
        );
        assert!(
            lib.contains(&format!("pub mod {module};")),
            "src/lib.rs does not declare {module}"
        );
    }
}

#[test]
fn the_scanner_sees_upward_paths() {
    let found =
        crate_paths("use crate::serve::catalog; // crate::cli in a comment\nx(crate::bt::hex(b))");
    assert_eq!(found, vec![(1, "serve".to_string()), (2, "bt".to_string())]);
}
