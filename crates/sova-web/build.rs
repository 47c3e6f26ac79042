//! Builds the web client (`npm ci && npm run build` in `web/`) when `web/dist` is
//! missing or older than its sources, then generates `web_assets.rs` in `OUT_DIR`,
//! which embeds every file of `web/dist` with `include_bytes!`. Without Node/npm,
//! or when the npm build fails and no earlier build exists, nothing is embedded, a
//! `cargo:warning` says why, and the server answers `/` with a page explaining how
//! to build the client. `SOVA_WEB_SKIP_BUILD=1` never runs npm (it embeds whatever
//! `web/dist` holds).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// Inputs of the npm build: a change in any of them rebuilds the client.
const SOURCES: &[&str] = &[
    "src",
    "public",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
    "scripts/postbuild.mjs",
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let web = manifest.join("../../web");
    let dist = web.join("dist");
    for s in SOURCES {
        println!("cargo:rerun-if-changed={}", web.join(s).display());
    }
    println!("cargo:rerun-if-changed={}", dist.join(".build-stamp").display());
    println!("cargo:rerun-if-env-changed=SOVA_WEB_SKIP_BUILD");

    let skip = std::env::var_os("SOVA_WEB_SKIP_BUILD").is_some_and(|v| !v.is_empty() && v != "0");
    let result = if !skip && web.join("package.json").exists() && stale(&web, &dist) {
        npm_build(&web)
    } else {
        Ok(())
    };
    if let Err(why) = result {
        println!("cargo:warning=web client not built: {why}");
        if dist.join("index.html").exists() {
            println!("cargo:warning=serving the previous build in web/dist");
        } else {
            println!(
                "cargo:warning=`/` will show a page explaining how to build it (install Node.js >= 20.19 and npm, then rebuild)"
            );
        }
    }

    let mut files = Vec::new();
    if dist.join("index.html").exists() {
        collect(&dist, &dist, &mut files);
    }
    files.sort();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("web_assets.rs");
    if let Err(e) = std::fs::write(&out, generate(&dist, &files)) {
        println!("cargo:warning=cannot write {}: {e}", out.display());
    }
}

/// Newest modification time under `path` (recursively), if any.
fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        return meta.modified().ok();
    }
    let mut best = None;
    for entry in std::fs::read_dir(path).ok()?.flatten() {
        if let Some(t) = newest(&entry.path()) {
            best = Some(best.map_or(t, |b: SystemTime| b.max(t)));
        }
    }
    best
}

/// True when `dist` has no finished build, or a source is newer than its stamp.
fn stale(web: &Path, dist: &Path) -> bool {
    let Some(stamp) = std::fs::metadata(dist.join(".build-stamp"))
        .and_then(|m| m.modified())
        .ok()
    else {
        return true;
    };
    SOURCES.iter().filter_map(|s| newest(&web.join(s))).any(|t| t > stamp)
}

/// Runs `npm ci` (when `node_modules` is missing or older than the lock file) and `npm run build`.
fn npm_build(web: &Path) -> Result<(), String> {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => return Err("Node.js is not installed (need node >= 20.19 and npm on PATH)".into()),
    }
    let lock = newest(&web.join("package-lock.json"));
    let installed = newest(&web.join("node_modules/.package-lock.json"));
    if installed.is_none() || lock > installed {
        run(Command::new(npm)
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(web))?;
    }
    run(Command::new(npm).args(["run", "build"]).current_dir(web))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    match cmd.output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let out = String::from_utf8_lossy(&o.stdout);
            let tail: Vec<&str> = err.lines().chain(out.lines()).rev().take(8).collect();
            for line in tail.iter().rev() {
                println!("cargo:warning=  {line}");
            }
            Err(format!("{shown} failed ({})", o.status))
        }
        Err(e) => Err(format!("cannot run {shown}: {e} (is npm installed?)")),
    }
}

/// Every file under `dir`, as a path relative to `root` with `/` separators.
fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel = rel.to_string_lossy().replace('\\', "/");
            let skip = rel.ends_with(".gz") || rel.ends_with(".br") || rel.starts_with('.');
            if !skip {
                out.push(rel);
            }
        }
    }
}

fn mime(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("");
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// FNV-1a of the file, as a strong ETag.
fn etag(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}-{}\"", bytes.len())
}

fn generate(dist: &Path, files: &[String]) -> String {
    let mut s =
        String::from("/// Every file of the web client's build, sorted by path.\npub static ASSETS: &[Asset] = &[\n");
    for rel in files {
        let abs = dist.join(rel);
        let bytes = std::fs::read(&abs).unwrap_or_default();
        let variant = |ext: &str| {
            let p = dist.join(format!("{rel}.{ext}"));
            if p.exists() {
                format!("Some(include_bytes!({:?}))", p.display().to_string())
            } else {
                "None".to_string()
            }
        };
        let _ = writeln!(
            s,
            "    Asset {{ path: {:?}, body: include_bytes!({:?}), gzip: {}, brotli: {}, mime: {:?}, etag: {:?}, immutable: {} }},",
            format!("/{rel}"),
            abs.display().to_string(),
            variant("gz"),
            variant("br"),
            mime(rel),
            etag(&bytes),
            rel.starts_with("assets/"),
        );
    }
    s.push_str("];\n");
    s
}
