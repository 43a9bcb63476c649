//! Starting servers and talking RESP to them with a minimal, exact client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process that is killed when dropped.
pub struct Proc {
    child: Child,
    pub port: u16,
    _dir: Option<TempDir>,
}

impl Proc {
    /// The temporary directory the process was started in, if it has one.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self._dir.as_ref().map(|d| d.0.as_path())
    }

    /// Sends `signal` (`STOP`, `CONT`, ...) to the process.
    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status();
    }

    /// Kills the process at once (SIGKILL), as a crash would, and starts `command` in its
    /// place on the same port, keeping its directory.
    pub fn crash_and_replace(&mut self, mut command: Command) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the replacement");
        assert!(
            wait_listening(self.port, &mut self.child),
            "the replacement exited before listening on {}",
            self.port
        );
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Stops the process cleanly (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("process {} did not stop within 20 s", self.child.id());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "concord-test-{tag}-{}-{}",
            std::process::id(),
            rand_u64()
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free port")
}

/// Waits until the child accepts connections on `port`; false if it exited first (its
/// port was taken in between, so the caller tries another).
fn wait_listening(port: u16, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("server on port {port} did not start within 20 s");
}

/// The concord binary under test.
pub fn concord_bin() -> String {
    std::env::var("CONCORD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_concord").to_string())
}

/// Starts a server made by `command(port, dir)` on a free port, retrying when the port
/// is taken between choosing it and binding it.
pub fn start(tag: &str, command: impl Fn(u16, &std::path::Path) -> Command) -> Proc {
    let dir = TempDir::new(tag);
    for _ in 0..5 {
        let port = free_port();
        let mut child = command(port, &dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {tag}: {e}"));
        if wait_listening(port, &mut child) {
            return Proc {
                child,
                port,
                _dir: Some(dir),
            };
        }
    }
    panic!("could not start {tag}");
}

/// Spawns `command`, which listens on `port`, and waits until it does.
pub fn spawn_listening(tag: &str, mut command: Command, port: u16) -> Proc {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {tag}: {e}"));
    assert!(
        wait_listening(port, &mut child),
        "{tag} exited before listening on {port}"
    );
    Proc {
        child,
        port,
        _dir: None,
    }
}

/// Starts a Concord instance with extra flags.
pub fn concord(extra: &[&str]) -> Proc {
    start("concord", |port, dir| {
        let mut c = Command::new(concord_bin());
        c.args(["server", "--port", &port.to_string(), "--dir"])
            .arg(dir)
            .args(extra);
        c
    })
}

/// Starts a Concord instance on a port chosen by the caller (peers must know it in
/// advance); `None` if the port was taken meanwhile.
pub fn concord_on(port: u16, dir: &std::path::Path, args: &[String]) -> Option<Proc> {
    let mut child = Command::new(concord_bin())
        .args(["server", "--port", &port.to_string(), "--dir"])
        .arg(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(
            // The log stays next to the instance's files, for a failing test to show.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("server.log"))
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        )
        .spawn()
        .expect("spawn concord");
    // The server prints one line once it is bound: proof that *this* process listens on
    // the port (a connect alone could reach another test's server that took it).
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // The log shares standard output: the notice is the line that says "listening".
        let mut r = BufReader::new(out);
        let mut line = String::new();
        while r.read_line(&mut line).is_ok_and(|n| n > 0) && !line.contains("listening on") {
            line.clear();
        }
        let _ = tx.send(line);
        // Keep draining, so a later print never meets a closed pipe.
        let _ = std::io::copy(&mut r, &mut std::io::sink());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) if line.contains(&format!(":{port}")) => Some(Proc {
            child,
            port,
            _dir: None,
        }),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    }
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after `secs` seconds.
pub fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts Debian's redis-server, without persistence.
pub fn redis() -> Proc {
    start("redis-server", |port, dir| {
        let mut c = Command::new("redis-server");
        c.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir);
        c
    })
}

/// A reply, as the wire says it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Reply>),
    /// RESP3 types, kept by their prefix.
    Other(u8, Vec<Reply>, String),
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Status(s) => write!(f, "+{s}"),
            Reply::Error(s) => write!(f, "-{s}"),
            Reply::Int(i) => write!(f, ":{i}"),
            Reply::Bulk(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            Reply::Nil => write!(f, "(nil)"),
            Reply::Array(v) => {
                write!(f, "[")?;
                for (i, r) in v.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{r}")?;
                }
                write!(f, "]")
            }
            Reply::Other(p, v, s) => write!(f, "{}{s}{v:?}", *p as char),
        }
    }
}

/// A byte stream a [`Conn`] speaks RESP over: plain TCP or TLS.
pub trait Stream: Read + Write + Send {}

impl<T: Read + Write + Send> Stream for T {}

/// A blocking RESP connection.
pub struct Conn {
    rd: BufReader<Box<dyn Stream>>,
    /// The TCP socket underneath, for timeouts.
    sock: TcpStream,
    timed_out: bool,
}

impl Conn {
    pub fn open(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_nodelay(true).ok();
        let sock = s.try_clone().expect("clone");
        Conn::over(Box::new(s), sock)
    }

    /// A connection over `stream` (TLS, say), whose TCP socket is `sock`.
    pub fn over(stream: Box<dyn Stream>, sock: TcpStream) -> Conn {
        sock.set_read_timeout(Some(Duration::from_secs(30))).ok();
        Conn {
            rd: BufReader::new(stream),
            sock,
            timed_out: false,
        }
    }

    /// Encodes a command as a multibulk array.
    pub fn encode(args: &[Vec<u8>]) -> Vec<u8> {
        let mut b = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            b.extend_from_slice(a);
            b.extend_from_slice(b"\r\n");
        }
        b
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.try_send_raw(bytes).expect("write");
    }

    /// Sends `bytes`; an error when the server closed the connection before taking them
    /// all (as it does past a limit).
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let s = self.rd.get_mut();
        s.write_all(bytes)?;
        s.flush()
    }

    pub fn cmd(&mut self, args: &[&str]) -> Reply {
        let v: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        self.call(&v)
    }

    pub fn call(&mut self, args: &[Vec<u8>]) -> Reply {
        self.send_raw(&Self::encode(args));
        self.read()
    }

    fn line(&mut self) -> String {
        let mut l = Vec::new();
        self.rd.read_until(b'\n', &mut l).expect("read line");
        assert!(
            l.ends_with(b"\r\n"),
            "bad line {:?}",
            String::from_utf8_lossy(&l)
        );
        l.truncate(l.len() - 2);
        String::from_utf8_lossy(&l).into_owned()
    }

    /// Reads one reply; `None` if the connection closed.
    pub fn try_read(&mut self) -> Option<Reply> {
        let mut first = [0u8; 1];
        match self.rd.read(&mut first) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        let line = self.line();
        Some(match first[0] {
            b'+' => Reply::Status(line),
            b'-' => Reply::Error(line),
            b':' => Reply::Int(line.parse().expect("int")),
            b'$' => {
                let n: i64 = line.parse().expect("len");
                if n < 0 {
                    Reply::Nil
                } else {
                    let mut b = vec![0u8; n as usize + 2];
                    self.rd.read_exact(&mut b).expect("bulk");
                    b.truncate(n as usize);
                    Reply::Bulk(b)
                }
            }
            b'*' => {
                let n: i64 = line.parse().expect("len");
                if n < 0 {
                    Reply::Nil
                } else {
                    Reply::Array((0..n).map(|_| self.read()).collect())
                }
            }
            b'_' => Reply::Nil,
            // An attribute (`|`) is read alone, like a map; the reply it annotates follows.
            b'%' | b'~' | b'>' | b'|' => {
                let n: usize = line.parse().expect("len");
                let n = if matches!(first[0], b'%' | b'|') {
                    2 * n
                } else {
                    n
                };
                Reply::Other(
                    first[0],
                    (0..n).map(|_| self.read()).collect(),
                    String::new(),
                )
            }
            b',' | b'#' | b'(' => Reply::Other(first[0], Vec::new(), line),
            b'=' => {
                let n: usize = line.parse().expect("len");
                let mut b = vec![0u8; n + 2];
                self.rd.read_exact(&mut b).expect("verbatim");
                b.truncate(n);
                Reply::Other(b'=', Vec::new(), String::from_utf8_lossy(&b).into_owned())
            }
            other => panic!("unexpected reply type {:?}", other as char),
        })
    }

    /// Reads whatever bytes arrive, unparsed; `None` once the connection is closed or a
    /// read timed out ([`Conn::timed_out`] tells which).
    pub fn read_some(&mut self, buf: &mut [u8]) -> Option<usize> {
        self.timed_out = false;
        match self.rd.read(buf) {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(e) => {
                self.timed_out = matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
                None
            }
        }
    }

    /// Whether the last [`Conn::read_some`] stopped on the read timeout.
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// Sets how long reads wait before giving up (`None`: forever).
    pub fn set_timeout(&mut self, t: Option<Duration>) {
        self.sock.set_read_timeout(t).ok();
    }

    pub fn read(&mut self) -> Reply {
        self.try_read().expect("connection closed")
    }
}

/// Bytes of a string.
/// The value of `field` in an INFO reply.
pub fn info_field(c: &mut Conn, section: &str, field: &str) -> String {
    let Reply::Bulk(info) = c.cmd(&["INFO", section]) else {
        panic!("INFO answers a bulk string")
    };
    let info = String::from_utf8(info).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .trim()
        .to_string()
}

/// The bulk strings of an array reply (a test fails on anything else).
pub fn bulks(r: Reply) -> Vec<Vec<u8>> {
    match r {
        Reply::Array(v) => v
            .into_iter()
            .map(|x| match x {
                Reply::Bulk(b) => b,
                other => panic!("not a bulk: {other}"),
            })
            .collect(),
        other => panic!("not an array: {other}"),
    }
}

/// The text of a bulk or verbatim reply.
pub fn text(r: Reply) -> String {
    match r {
        Reply::Bulk(v) => String::from_utf8_lossy(&v).into_owned(),
        Reply::Other(b'=', _, s) => s,
        other => panic!("not text: {other}"),
    }
}

pub fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// A small deterministic random generator (xorshift64*), seeded per test.
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }

    pub fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }
}

/// The seed for randomized tests: `CONCORD_SEED` or a fresh one.
pub fn seed() -> u64 {
    std::env::var("CONCORD_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand_u64)
}
