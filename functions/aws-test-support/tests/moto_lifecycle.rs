//! moto's lifecycle: reset, stop on drop, and death with the test process.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead as _, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use trailwatch_aws_test_support::{Moto, sdk_config, unique_name};

const HELPER_ENV: &str = "TRAILWATCH_MOTO_LIFECYCLE_HELPER";

fn accepts_connections(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_secs(1),
    )
    .is_ok()
}

/// Polls `done` until it holds, for at most `limit`.
fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    let mut backoff = Duration::from_millis(10);
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_millis(200));
    }
}

#[tokio::test]
async fn reset_wipes_resources_and_drop_stops_the_server() {
    let moto = Moto::start();
    let port = moto.port();
    let log = moto.log_path();
    assert!(accepts_connections(port));
    assert!(log.is_file(), "{}", log.display());

    let sns = aws_sdk_sns::Client::new(&sdk_config(moto.endpoint()).await);
    let topic = unique_name("trailwatch-reset");
    sns.create_topic().name(&topic).send().await.expect("CreateTopic");
    let count = |listed: aws_sdk_sns::operation::list_topics::ListTopicsOutput| listed.topics().len();
    assert_eq!(count(sns.list_topics().send().await.expect("ListTopics")), 1);

    moto.reset();
    assert_eq!(count(sns.list_topics().send().await.expect("ListTopics")), 0);

    drop(moto);
    // Drop reaps the wrapper, which waits for moto: the port is closed by now, no polling.
    assert!(
        !accepts_connections(port),
        "moto still listens on {port} after drop"
    );
    assert!(!log.exists(), "{} survived the drop", log.display());
}

#[test]
fn shared_server_dies_with_the_test_process_even_on_sigkill() {
    let mut helper = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([
            "--ignored",
            "--exact",
            "helper_starts_the_shared_server_then_waits",
            "--nocapture",
        ])
        .env(HELPER_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the helper test process");
    let stdout = helper.stdout.take().expect("piped stdout");
    let mut port = None;
    let mut log = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("helper stdout");
        if let Some(p) = line.strip_prefix("MOTO_PORT=") {
            port = Some(p.parse::<u16>().expect("a port"));
        } else if let Some(l) = line.strip_prefix("MOTO_LOG=") {
            log = Some(PathBuf::from(l));
        }
        if port.is_some() && log.is_some() {
            break;
        }
    }
    let (Some(port), Some(log)) = (port, log) else {
        let status = helper.wait();
        panic!("the helper exited ({status:?}) without telling moto's port and log");
    };
    assert!(accepts_connections(port), "the helper's moto is not up");

    // SIGKILL: no destructor, no atexit, nothing of the helper runs.
    helper.kill().expect("kill the helper");
    helper.wait().expect("reap the helper");

    assert!(
        eventually(Duration::from_secs(15), || !accepts_connections(port)),
        "moto on port {port} outlived its test process"
    );
    assert!(
        eventually(Duration::from_secs(5), || !log.exists()),
        "{} outlived its server",
        log.display()
    );
}

/// Run only by `shared_server_dies_with_the_test_process_even_on_sigkill`, in a process of its
/// own: starts the shared server, says where it is, and waits to be killed.
#[test]
#[ignore = "helper process of shared_server_dies_with_the_test_process_even_on_sigkill"]
fn helper_starts_the_shared_server_then_waits() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    let moto = Moto::shared();
    println!("MOTO_PORT={}", moto.port());
    println!("MOTO_LOG={}", moto.log_path().display());
    // Until the parent kills this process (or goes away and closes our stdin).
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

/// Runs `helper_starts_a_private_server` in a process of its own with `moto_server` set to
/// `binary`, and returns its combined output; the helper must have failed.
fn start_failure_output(binary: &std::path::Path) -> String {
    let output = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([
            "--ignored",
            "--exact",
            "helper_starts_a_private_server",
            "--nocapture",
        ])
        .env(HELPER_ENV, "1")
        .env(trailwatch_aws_test_support::MOTO_SERVER_ENV, binary)
        .stdin(Stdio::null())
        .output()
        .expect("run the helper test process");
    assert!(
        !output.status.success(),
        "the helper started moto from {}",
        binary.display()
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn missing_binary_says_to_run_make_venv() {
    let dir = tempfile::tempdir().unwrap();
    let output = start_failure_output(&dir.path().join("no-moto-here"));
    assert!(output.contains("moto server not found at"), "{output}");
    assert!(output.contains("make venv"), "{output}");
}

#[test]
fn failed_start_shows_the_log_tail() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("moto_server");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"fake moto got: $*\"\necho 'ImportError: no moto' >&2\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = start_failure_output(&script);
    assert!(
        output.contains("failed to start: it exited (exit status: 3)"),
        "{output}"
    );
    assert!(output.contains("fake moto got: -H 127.0.0.1 -p "), "{output}");
    assert!(output.contains("ImportError: no moto"), "{output}");
}

/// Run only by the start-failure tests, in a process of their own.
#[test]
#[ignore = "helper process of the start-failure tests"]
fn helper_starts_a_private_server() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    let _moto = Moto::start();
}
