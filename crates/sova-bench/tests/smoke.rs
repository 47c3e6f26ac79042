//! CI smoke of every scenario in every mode: seconds long and small, asserting only
//! what must hold at any speed (each scenario produced its rows, nothing acknowledged
//! was lost, the reconnect storm lost and duplicated nothing). No timing assertions:
//! figures live in `docs/benchmarks.md`, measured with `--release`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::PathBuf;

/// The `sova` server binary cargo built beside this package's binary (the workspace
/// test run builds every binary).
fn sova_binary() -> PathBuf {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_sova-bench"));
    let sova = bench.with_file_name("sova");
    assert!(
        sova.is_file(),
        "{} is missing: build the server first (cargo build -p sova-server)",
        sova.display()
    );
    sova
}

#[test]
fn every_scenario_runs_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sova-bench"))
        .args([
            "--smoke", "--mode", "embedded", "--mode", "postgres", "--mode", "cluster", "--json",
        ])
        .arg(&json)
        .arg("--sova")
        .arg(sova_binary())
        .arg("all")
        .env(
            "BENCH_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/sova_bench_smoke",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sova-bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let rows = report["rows"].as_array().unwrap();
    let find = |scenario: &str, target: &str, mode: &str| {
        rows.iter()
            .filter(|r| r["scenario"] == scenario && r["target"] == target && r["mode"] == mode)
            .collect::<Vec<_>>()
    };
    for scenario in ["throughput", "latency", "fanout", "history"] {
        assert_eq!(
            find(scenario, "baseline (SQLite)", "-").len(),
            2,
            "{scenario}: ws and tcp"
        );
    }
    for mode in ["embedded", "postgres", "cluster"] {
        for scenario in ["throughput", "latency", "fanout", "connections", "history", "resume"] {
            let got = find(scenario, "sova", mode);
            assert_eq!(got.len(), 2, "{scenario} in {mode}: one row per transport\n{stdout}");
        }
        assert_eq!(find("login", "sova", mode).len(), 1, "login in {mode}");
        for r in find("search", "sova", mode) {
            assert_eq!(r["figures"]["messages"], 200, "{r}");
            assert!(r["figures"]["queries_per_sec"].as_f64().unwrap() > 0.0, "{r}");
        }
        assert_eq!(
            find("search", "sova", mode).len(),
            1,
            "search in {mode}: the first transport"
        );
        for r in find("throughput", "sova", mode) {
            let f = &r["figures"];
            assert!(f["acked"].as_u64().unwrap() > 0, "{r}");
            // Every acknowledged message reached every member that stayed connected; a
            // member the server cut off as a slow consumer (by design; it would resume
            // with `since`) is the only accepted reason for a missing delivery.
            assert!(
                f["lost"] == 0 || f["cut_off"].as_u64().unwrap() > 0,
                "every acknowledged message reached every member: {r}"
            );
            assert_eq!(f["errors"], 0, "{r}");
        }
        for r in find("resume", "sova", mode) {
            assert_eq!(r["figures"]["lost"], 0, "{r}");
            assert_eq!(r["figures"]["duplicated"], 0, "{r}");
        }
        for r in find("connections", "sova", mode) {
            assert_eq!(r["figures"]["connections"], 200, "{r}");
        }
    }
    assert!(
        report["ratios"].as_array().unwrap().len() >= 3 * 2 * 4,
        "a ratio per mode, transport and compared scenario"
    );
    assert!(report["cores"].as_u64().unwrap() >= 1);
}
