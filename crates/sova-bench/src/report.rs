//! Results: one row per (scenario, target, transport, mode), printed as a table and
//! written as JSON with the commit, the machine and the configuration, and each
//! Sova row's ratio to the baseline measured in the same run.

use serde::Serialize;
use serde_json::{Map, Value};

/// One measured row.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Scenario name.
    pub scenario: String,
    /// `sova`, `baseline (SQLite)`, `baseline (memory)`.
    pub target: String,
    /// `ws`, `tcp` or `rest`.
    pub transport: String,
    /// Deployment mode (`embedded`, `postgres`, `cluster`; baselines: `-`).
    pub mode: String,
    /// Measured figures, by name.
    pub figures: Map<String, Value>,
}

/// Everything one invocation measured.
#[derive(Debug, Serialize)]
pub struct Report {
    /// `git rev-parse --short HEAD`, when known.
    pub commit: String,
    /// Cores the machine has.
    pub cores: usize,
    /// When the run started (RFC 3339).
    pub started: String,
    /// The command line.
    pub command: Vec<String>,
    /// Each scenario's parameters.
    pub config: Map<String, Value>,
    /// All rows, in the order measured.
    pub rows: Vec<Row>,
    /// Sova's figures divided by the baseline's, per scenario and transport.
    pub ratios: Vec<Map<String, Value>>,
}

impl Report {
    /// An empty report for this machine and commit.
    pub fn new() -> Report {
        let commit = std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        Report {
            commit,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            started: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            command: std::env::args().collect(),
            config: Map::new(),
            rows: Vec::new(),
            ratios: Vec::new(),
        }
    }

    /// Records a scenario's parameters.
    pub fn config(&mut self, scenario: &str, params: impl Serialize) {
        let v = serde_json::to_value(params).unwrap_or(Value::Null);
        println!("{scenario}: {v}");
        self.config.insert(scenario.into(), v);
    }

    /// Adds a row and prints it at once (long runs show progress).
    pub fn add(&mut self, scenario: &str, target: &str, transport: &str, mode: &str, figures: impl Serialize) {
        let figures = match serde_json::to_value(figures) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let row = Row {
            scenario: scenario.into(),
            target: target.into(),
            transport: transport.into(),
            mode: mode.into(),
            figures,
        };
        println!("{}", line(&row));
        self.rows.push(row);
    }

    /// Records `sova / baseline` for the named figures of the latest rows of a scenario.
    pub fn ratio(&mut self, scenario: &str, transport: &str, mode: &str, baseline: &str, figures: &[&str]) {
        let find = |target: &str, m: &str| {
            self.rows
                .iter()
                .rev()
                .find(|r| r.scenario == scenario && r.transport == transport && r.target == target && r.mode == m)
        };
        let (Some(sova), Some(base)) = (find("sova", mode), find(baseline, "-")) else {
            return;
        };
        let mut out = Map::new();
        out.insert("scenario".into(), scenario.into());
        out.insert("transport".into(), transport.into());
        out.insert("mode".into(), mode.into());
        out.insert("baseline".into(), baseline.into());
        for f in figures {
            let (Some(a), Some(b)) = (
                sova.figures.get(*f).and_then(Value::as_f64),
                base.figures.get(*f).and_then(Value::as_f64),
            ) else {
                continue;
            };
            if b > 0.0 {
                out.insert((*f).into(), Value::from((a / b * 1000.0).round() / 1000.0));
            }
        }
        println!(
            "  ratio sova/{baseline} {scenario} {transport} {mode}: {}",
            Value::Object(out.clone())
        );
        self.ratios.push(out);
    }

    /// The whole report as a table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "commit {} · {} cores · {}\n\n| scenario | target | transport | mode | figures |\n|---|---|---|---|---|\n",
            self.commit, self.cores, self.started
        );
        for r in &self.rows {
            s.push_str(&line(r));
            s.push('\n');
        }
        s
    }
}

impl Default for Report {
    fn default() -> Self {
        Report::new()
    }
}

fn line(r: &Row) -> String {
    let figures: Vec<String> = r
        .figures
        .iter()
        .map(|(k, v)| match v.as_f64() {
            Some(f) if f.fract() != 0.0 => format!("{k}={}", human(f)),
            _ => format!("{k}={v}"),
        })
        .collect();
    format!(
        "| {} | {} | {} | {} | {} |",
        r.scenario,
        r.target,
        r.transport,
        r.mode,
        figures.join(" ")
    )
}

fn human(f: f64) -> String {
    if f.abs() >= 100.0 {
        format!("{f:.0}")
    } else if f.abs() >= 1.0 {
        format!("{f:.2}")
    } else {
        format!("{f:.3}")
    }
}
