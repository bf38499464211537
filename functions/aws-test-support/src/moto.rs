//! One moto server per test process, bound to 127.0.0.1, that dies with the process.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// Environment variable naming the `moto_server` binary to run instead of the venv's.
pub const MOTO_SERVER_ENV: &str = "TRAILWATCH_MOTO_SERVER";

/// How long moto may take from spawn to answering `GET /moto-api/` with 200.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a start is retried when the port picked was taken in the meantime.
const PORT_ATTEMPTS: usize = 5;
/// How long [`Moto`]'s drop waits for the server to exit after telling it to stop.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The wrapper that ties moto's life to the test process.
///
/// Why a wrapper and not `prctl(PR_SET_PDEATHSIG)`: the death signal fires when the *thread*
/// that spawned the child exits, and the test harness runs each test on its own thread, so the
/// first test to touch [`Moto::shared`] would take the server down with it when it finishes;
/// it would also need `unsafe` (`pre_exec`), which the workspace denies. A pipe has neither
/// problem: the test process holds the write end of the wrapper's stdin and nothing else does
/// (Rust creates it close-on-exec), so the read end sees EOF exactly when the test process has
/// exited or closed it, however it went: normal exit, panic, `abort`, or SIGKILL.
///
/// `$1` is the log directory, the rest is moto's command line. A watcher reads fd 3 (the pipe)
/// and kills moto at EOF; the wrapper waits for moto, stops the watcher, removes the log
/// directory when the stop was asked for (a log of a server that died by itself is kept for
/// post-mortems), and exits with moto's status, so `try_wait` on the wrapper tells whether moto
/// is still up. moto itself gets stdin from /dev/null and no fd 3.
const WRAPPER: &str = r#"
logdir=$1
shift
exec 3<&0 </dev/null
"$@" 3<&- &
pid=$!
{ read -r _ <&3; : >"$logdir/stopping"; kill "$pid" 2>/dev/null; } &
watcher=$!
exec 3<&-
wait "$pid"
status=$?
kill "$watcher" 2>/dev/null
if [ -e "$logdir/stopping" ]; then rm -rf "$logdir"; fi
exit "$status"
"#;

/// A running moto server on `127.0.0.1:PORT`.
///
/// [`Moto::shared`] gives the one server of this test process (started on first use); all tests
/// of a test binary use it and isolate themselves by unique resource names
/// ([`crate::unique_name`]). [`Moto::start`] starts a private one, stopped on drop.
///
/// Either way the server is killed when the test process exits, even by a signal: see the
/// wrapper's comment in the source.
#[derive(Debug)]
pub struct Moto {
    endpoint: String,
    port: u16,
    log_dir: PathBuf,
    /// The `sh` wrapper; its stdin pipe keeps moto alive.
    wrapper: Child,
}

impl Moto {
    /// The moto server shared by every test of this process, started on first use.
    ///
    /// It is never dropped: it stops when the test process exits.
    ///
    /// # Panics
    ///
    /// If moto cannot be found or started (see [`Moto::start`]).
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(Moto::start)
    }

    /// Starts a moto server of its own on a free port of 127.0.0.1 and waits until it answers.
    ///
    /// The binary is [`MOTO_SERVER_ENV`] if set, else `.venv/bin/moto_server` in the workspace
    /// root (made by `make venv`).
    ///
    /// # Panics
    ///
    /// If the binary is missing, or the server does not come up within 60 s (the panic message
    /// carries the tail of its log).
    pub fn start() -> Moto {
        let binary = moto_server_binary();
        let mut failures = Vec::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port().expect("cannot bind 127.0.0.1:0 to pick a port for moto");
            match Self::try_start(&binary, port) {
                Ok(moto) => return moto,
                Err(StartError::PortTaken(log)) => failures.push(format!("port {port} was taken:\n{log}")),
                Err(StartError::Failed(why)) => {
                    panic!("moto server ({}) failed to start: {why}", binary.display())
                }
            }
        }
        panic!(
            "moto server ({}) failed to start {PORT_ATTEMPTS} times on a port that was free a moment \
             before:\n{}",
            binary.display(),
            failures.join("\n")
        )
    }

    /// The `moto_server` binary that [`Moto::start`] runs: [`MOTO_SERVER_ENV`] if set, else
    /// `.venv/bin/moto_server` in the workspace root.
    ///
    /// # Panics
    ///
    /// If it does not exist, with a message that says how to make it (`make venv`).
    pub fn server_binary() -> PathBuf {
        moto_server_binary()
    }

    /// `http://127.0.0.1:PORT`, for `endpoint_url` / [`crate::sdk_config`].
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// moto's log (stdout and stderr). It is removed when the server stops on request; the log
    /// of a server that died by itself is kept.
    pub fn log_path(&self) -> PathBuf {
        self.log_dir.join("moto.log")
    }

    /// Wipes every resource of every service (`POST /moto-api/reset`).
    ///
    /// This resets the whole server: on [`Moto::shared`] it would pull resources from under
    /// tests running at the same time, so use it on a private [`Moto::start`] server (or in a
    /// test binary whose tests run one at a time).
    ///
    /// # Panics
    ///
    /// If moto does not answer 200.
    pub fn reset(&self) {
        match http_status(self.port, "POST", "/moto-api/reset", "") {
            Ok(200) => {}
            Ok(status) => panic!("POST /moto-api/reset answered {status}"),
            Err(e) => panic!("POST /moto-api/reset on {} failed: {e}", self.endpoint),
        }
    }

    /// Makes moto check every request from now on as AWS does: SigV4 signatures against the
    /// access keys of IAM users created in this server, and actions against those users'
    /// policies (`POST /moto-api/reset-auth` with `0`: no more unauthenticated requests).
    ///
    /// Set up users, policies and resources first, with any credentials; afterwards the
    /// dummy credentials of [`crate::sdk_config`] get `InvalidClientTokenId` /
    /// `InvalidAccessKeyId`. Like [`Moto::reset`], it changes the whole server: use it on a
    /// private [`Moto::start`] server. moto evaluates identity policies (Allow, Deny,
    /// `Resource` patterns), not bucket policies or conditions.
    ///
    /// # Panics
    ///
    /// If moto does not answer 200.
    pub fn enforce_iam(&self) {
        match http_status(self.port, "POST", "/moto-api/reset-auth", "0") {
            Ok(200) => {}
            Ok(status) => panic!("POST /moto-api/reset-auth answered {status}"),
            Err(e) => panic!("POST /moto-api/reset-auth on {} failed: {e}", self.endpoint),
        }
    }

    fn try_start(binary: &Path, port: u16) -> Result<Moto, StartError> {
        let log_dir = tempfile::Builder::new()
            .prefix("trailwatch-moto-")
            .tempdir()
            .map_err(|e| StartError::Failed(format!("cannot create a temp dir for its log: {e}")))?
            .keep();
        let log_path = log_dir.join("moto.log");
        let log = File::create(&log_path)
            .and_then(|f| Ok((f.try_clone()?, f)))
            .map_err(|e| StartError::Failed(format!("cannot create {}: {e}", log_path.display())))?;
        let spawned = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg("trailwatch-moto")
            .arg(&log_dir)
            .args(server_command(binary))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(log.0)
            .stderr(log.1)
            .spawn();
        let wrapper = match spawned {
            Ok(child) => child,
            Err(e) => {
                let _ = fs::remove_dir_all(&log_dir);
                return Err(StartError::Failed(format!("cannot spawn sh: {e}")));
            }
        };
        let mut moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            log_dir,
            wrapper,
        };
        match moto.wait_ready() {
            Ok(()) => Ok(moto),
            Err(why) => {
                // Read the log first: stopping on request removes it.
                let tail = log_tail(&log_path);
                drop(moto);
                if tail.contains("Address already in use") || tail.contains("is in use by another program") {
                    Err(StartError::PortTaken(tail))
                } else {
                    Err(StartError::Failed(format!("{why}; log tail:\n{tail}")))
                }
            }
        }
    }

    /// Polls until the server answers `GET /moto-api/` with 200, bounded by
    /// [`STARTUP_TIMEOUT`], with a short exponential backoff between polls.
    ///
    /// Ready also requires moto's own "Running on http://127.0.0.1:PORT" line in its log and the
    /// wrapper still running: a 200 from another program that grabbed the port in the meantime
    /// must not pass for ours.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let running_line = format!("Running on http://127.0.0.1:{}", self.port);
        let mut backoff = Duration::from_millis(20);
        loop {
            if let Some(status) = self
                .wrapper
                .try_wait()
                .map_err(|e| format!("waiting on sh: {e}"))?
            {
                return Err(format!("it exited ({status})"));
            }
            let bound = fs::read_to_string(self.log_path()).is_ok_and(|log| log.contains(&running_line));
            if bound && matches!(http_status(self.port, "GET", "/moto-api/", ""), Ok(200)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no 200 from GET {}/moto-api/ with {running_line:?} in its log within {STARTUP_TIMEOUT:?}",
                    self.endpoint
                ));
            }
            thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_millis(250));
        }
    }

    /// Closes the pipe (the wrapper then kills moto) and reaps the wrapper, bounded.
    fn stop(&mut self) {
        drop(self.wrapper.stdin.take());
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match self.wrapper.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                Ok(None) => {
                    eprintln!(
                        "moto server on port {} did not stop within {STOP_TIMEOUT:?}; killing its wrapper",
                        self.port
                    );
                    let _ = self.wrapper.kill();
                    let _ = self.wrapper.wait();
                    return;
                }
            }
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.log_dir);
    }
}

enum StartError {
    /// moto could not bind its port (someone took it after we picked it): try another.
    PortTaken(String),
    Failed(String),
}

/// How to run the server: the venv's moto through `moto_serialized.py` (beside this
/// crate's manifest), which handles one request at a time. moto's DynamoDB does not lock
/// items, so under `moto_server`'s many threads two conditional writes can both win and
/// concurrent ADDs can lose updates; real DynamoDB serialises writes to an item, and the
/// state-store contract tests exactly that. A binary named by [`MOTO_SERVER_ENV`] runs as is.
fn server_command(binary: &Path) -> Vec<std::ffi::OsString> {
    let python = binary.with_file_name("python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("moto_serialized.py");
    if std::env::var_os(MOTO_SERVER_ENV).is_none() && python.is_file() && script.is_file() {
        vec![python.into_os_string(), script.into_os_string()]
    } else {
        vec![binary.as_os_str().to_owned()]
    }
}

fn moto_server_binary() -> PathBuf {
    let (path, origin) = match std::env::var_os(MOTO_SERVER_ENV) {
        Some(p) => (PathBuf::from(p), format!("from {MOTO_SERVER_ENV}")),
        None => (
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server"),
            "the workspace's venv".to_owned(),
        ),
    };
    if !path.is_file() {
        panic!(
            "moto server not found at {} ({origin}). Run `make venv` in the workspace root (it creates \
             .venv with moto[server]: python3 -m venv .venv && .venv/bin/pip install 'moto[server]==5.2.5'), \
             or set {MOTO_SERVER_ENV} to a moto_server binary.",
            path.display()
        );
    }
    path.canonicalize().unwrap_or(path)
}

/// A port that was free a moment ago: bind 127.0.0.1:0, read the port, let it go.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// The status code of an HTTP/1.1 request with a short text `body` to 127.0.0.1:`port`.
fn http_status(port: u16, method: &str, path: &str, body: &str) -> io::Result<u16> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    // Only the status line is needed: "HTTP/1.1 200 OK\r\n".
    let mut head = Vec::new();
    let mut chunk = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not an HTTP status line: {line:?}"),
            )
        })
}

fn log_tail(path: &Path) -> String {
    const LINES: usize = 40;
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(LINES)..].join("\n")
        }
        Err(e) => format!("(no log at {}: {e})", path.display()),
    }
}
