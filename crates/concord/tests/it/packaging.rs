//! What running the manager as a service relies on: `concord cluster start` tells systemd
//! (through `NOTIFY_SOCKET`, as a `Type=notify` unit gets it) when its REST API is up and
//! when it begins a clean stop.

use crate::manager::init;
use crate::support::{TempDir, concord_bin, free_port};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when dropped, so a failed assertion leaves nothing running.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first datagram holding the line `want`, waiting until `deadline`; None if the
/// child exited without sending it (or the deadline passed).
fn wait_for(
    sock: &UnixDatagram,
    want: &str,
    child: &mut Child,
    deadline: Instant,
) -> Option<String> {
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match sock.recv(&mut buf) {
            Ok(n) => {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                if msg.lines().any(|l| l == want) {
                    return Some(msg);
                }
            }
            // Nothing queued: if the child is gone, nothing more will come.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if let Ok(Some(_)) = child.try_wait() {
                    return None;
                }
            }
            Err(e) => panic!("receiving on the notify socket: {e}"),
        }
    }
    None
}

#[test]
fn cluster_start_notifies_systemd_when_ready_and_when_stopping() {
    let tmp = TempDir::new("notify");
    let path = tmp.0.join("notify.sock");
    let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("set a receive timeout");

    // A port free a moment ago may be taken before the manager binds it: then it exits
    // without READY, and another port is tried.
    let mut last = tmp.0.clone();
    for _ in 0..5 {
        let port = free_port();
        let dir = tmp.0.join(port.to_string());
        // The manager creates no database here, so its port range is never bound.
        let out = init(&dir, "notify.example.com", port, 20000);
        assert!(
            out.status.success(),
            "init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = std::fs::File::create(dir.join("stderr.log")).expect("create a log file");
        last.clone_from(&dir);
        let mut child = Killed(
            Command::new(concord_bin())
                .args(["cluster", "start", "--dir"])
                .arg(&dir)
                .env("NOTIFY_SOCKET", &path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("spawn concord cluster start"),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        let Some(ready) = wait_for(&sock, "READY=1", &mut child.0, deadline) else {
            assert!(
                child.0.try_wait().expect("wait").is_some(),
                "no READY=1 within 20 s: {}",
                log(&dir)
            );
            continue;
        };
        // READY means the API takes connections from that moment on.
        let connected = TcpStream::connect(("127.0.0.1", port));
        connected.expect("the REST API listens once READY=1 is sent");
        assert!(
            ready.contains("STATUS=cluster notify.example.com: REST API on port"),
            "{ready:?}"
        );

        // SIGTERM is how systemd stops the unit: STOPPING=1, then a clean exit.
        let pid = child.0.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(killed.expect("run kill").success());
        let deadline = Instant::now() + Duration::from_secs(20);
        assert!(
            wait_for(&sock, "STOPPING=1", &mut child.0, deadline).is_some(),
            "no STOPPING=1 within 20 s of SIGTERM"
        );
        while Instant::now() < deadline {
            if let Some(status) = child.0.try_wait().expect("wait") {
                assert!(status.success(), "stopped with {status}: {}", log(&dir));
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("concord cluster start did not exit within 20 s of SIGTERM");
    }
    panic!("concord cluster start never sent READY=1: {}", log(&last));
}

/// What the manager in `dir` logged, for a failure's message.
fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
}
