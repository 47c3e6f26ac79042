//! Provides the GraphiQL page's vendor files: `npm ci` in `graphiql/` (once, when its
//! `node_modules` lacks them) brings the prebuilt GraphiQL and React bundles from
//! npm, and `graphiql_assets.rs` in `OUT_DIR` embeds them with `include_bytes!`.
//! Without npm (or with `SOVA_WEB_SKIP_BUILD=1` and nothing installed) nothing is
//! embedded: `/graphiql` then says how to build it, and the API is unaffected.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (URL name, path under `graphiql/node_modules`).
const VENDOR: &[(&str, &str)] = &[
    ("graphiql.min.js", "graphiql/graphiql.min.js"),
    ("graphiql.min.css", "graphiql/graphiql.min.css"),
    ("react.production.min.js", "react/umd/react.production.min.js"),
    (
        "react-dom.production.min.js",
        "react-dom/umd/react-dom.production.min.js",
    ),
];

fn installed(modules: &Path) -> bool {
    VENDOR.iter().all(|(_, p)| modules.join(p).is_file())
}

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("graphiql");
    println!("cargo:rerun-if-changed={}", dir.join("package-lock.json").display());
    println!("cargo:rerun-if-env-changed=SOVA_WEB_SKIP_BUILD");
    let modules = dir.join("node_modules");
    if !installed(&modules) && std::env::var_os("SOVA_WEB_SKIP_BUILD").is_none() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&dir)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => println!(
                "cargo:warning=GraphiQL not embedded: npm ci in {} failed ({s})",
                dir.display()
            ),
            Err(e) => println!("cargo:warning=GraphiQL not embedded: npm unavailable ({e})"),
        }
    }
    let mut out =
        String::from("/// The GraphiQL vendor files (URL name, bytes); empty when npm could not provide them.\n");
    if installed(&modules) {
        out.push_str("pub const VENDOR: &[(&str, &[u8])] = &[\n");
        for (name, path) in VENDOR {
            let file = modules.join(path);
            println!("cargo:rerun-if-changed={}", file.display());
            out.push_str(&format!(
                "    ({name:?}, include_bytes!({:?})),\n",
                file.display().to_string()
            ));
        }
        out.push_str("];\n");
    } else {
        out.push_str("pub const VENDOR: &[(&str, &[u8])] = &[];\n");
    }
    let target = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("graphiql_assets.rs");
    if let Err(e) = std::fs::write(&target, out) {
        println!("cargo:warning=cannot write {}: {e}", target.display());
    }
}
