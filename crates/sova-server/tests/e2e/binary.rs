//! The `sova` binary from outside: subcommands, production refusals, JSON logs with
//! request ids, and a graceful SIGTERM that exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SOVA: &str = env!("CARGO_BIN_EXE_sova");

fn sova(dir: &std::path::Path) -> Command {
    let mut c = Command::new(SOVA);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SOVA_DATA_DIR", dir.join("data"))
        .env("BIND_ADDR", "127.0.0.1")
        .env("HTTP_PORT", "0")
        .env("TCP_PORT", "0")
        .env("GRPC_PORT", "0");
    c
}

/// `Command::output` with a deadline, so a server that wrongly starts cannot hang the suite.
fn output_within(cmd: &mut Command, secs: u64) -> std::process::Output {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            panic!("command still running after {secs}s");
        }
    }
}

struct Killer(Child);
impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn print_config_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = sova(dir.path());
    let out = cmd
        .env("JWT_SECRET", "a-very-secret-value-that-must-not-print")
        .env("DATABASE_URL", "postgres://u:dbpassword@127.0.0.1/x")
        .arg("print-config");
    let out = output_within(out, 30);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("a-very-secret-value"), "{text}");
    assert!(!text.contains("dbpassword"), "{text}");
    assert!(text.contains("jwt_secret = \"<redacted>\""), "{text}");
    assert!(text.contains("tcp_port = 0"), "{text}");
    assert!(text.contains("max_message_chars = 4096"), "{text}");
}

#[test]
fn production_refuses_missing_or_default_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let good = "k".repeat(48);
    let cases: [(&[(&str, &str)], &str); 3] = [
        (&[], "JWT_SECRET"),
        (
            &[
                ("JWT_SECRET", "your-super-secret-jwt-key-change-it"),
                ("MESSAGE_ENCRYPTION_KEY", &good),
            ],
            "JWT_SECRET",
        ),
        (
            &[
                ("JWT_SECRET", &good),
                ("MESSAGE_ENCRYPTION_KEY", "your-message-encryption-key"),
            ],
            "MESSAGE_ENCRYPTION_KEY",
        ),
    ];
    for (env, needle) in cases {
        let mut cmd = sova(dir.path());
        cmd.env("SOVA_ENV", "production");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = output_within(&mut cmd, 30);
        assert!(!out.status.success(), "must refuse with {env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle) && err.contains("production"), "{err}");
    }
    assert!(
        !dir.path().join("data/secrets.toml").exists(),
        "production never generates secrets"
    );
}

#[test]
fn migrate_subcommand_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = output_within(sova(dir.path()).arg("migrate"), 30);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("data/sova.db").exists());
    // Idempotent.
    assert!(output_within(sova(dir.path()).arg("migrate"), 30).status.success());
}

/// Reads JSON log lines until `pred` matches one.
fn wait_for_line(lines: &mut impl Iterator<Item = std::io::Result<String>>, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if pred(&v) {
            return v;
        }
    }
    panic!("log line not found");
}

#[test]
fn json_logs_request_ids_and_graceful_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let child = sova(dir.path())
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Killer(child);
    let stderr = child.0.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let serving = wait_for_line(&mut lines, |v| v["message"] == "sova is serving");
    let http = serving["http_addr"].as_str().unwrap().to_owned();
    assert_eq!(serving["level"], "INFO");
    assert!(serving["timestamp"].is_string());

    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        let rest = sova_client::RestClient::new(format!("http://{http}")).unwrap();
        let r = rest.raw("GET", "/health", None, None).await.unwrap();
        assert_eq!(r.status, 200);
        r.request_id.unwrap()
    });
    let access = wait_for_line(&mut lines, |v| v["span"]["path"] == "/health");
    assert_eq!(
        access["span"]["request_id"],
        status.as_str(),
        "log carries the response's request id"
    );

    let pid = child.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("\"stopped\"")), "{rest:?}");
}

#[test]
fn sigterm_right_after_start_is_graceful_and_logs_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let child = sova(dir.path())
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Killer(child);
    // Well before the server is listening (it still opens and migrates its database).
    std::thread::sleep(Duration::from_millis(30));
    let pid = child.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut log).unwrap();
    assert!(exit.success(), "exit status {exit:?}; log: {log}");
    assert!(log.contains("stopped"), "{log}");
    assert!(!log.contains('\u{1b}'), "ANSI codes in a non-terminal log: {log:?}");
}
