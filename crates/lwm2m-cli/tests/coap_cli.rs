//! `lwm2m coap` against `lwm2m coap serve`: exit codes, output formats, path traversal,
//! IPv6, NON, observe with --duration.

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

const LWM2M: &str = env!("CARGO_BIN_EXE_lwm2m");

struct Serve {
    child: Child,
    authority: String,
}

impl Serve {
    fn start(bind: &str, root: &std::path::Path) -> Serve {
        let mut child = Command::new(LWM2M)
            .args(["coap", "serve", "--bind", bind, "--poll-ms", "50", "--root"])
            .arg(root)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let authority =
            line.trim().strip_prefix("listening on coap://").unwrap_or_else(|| panic!("{line:?}")).to_string();
        Serve { child, authority }
    }

    fn uri(&self, path: &str) -> String {
        format!("coap://{}{path}", self.authority)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lwm2m-coap-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn coap(args: &[&str]) -> Output {
    Command::new(LWM2M).arg("coap").args(args).args(["--timeout", "20"]).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn client_and_server_round_trip_with_exit_codes() {
    let root = temp_dir("round-trip");
    let serve = Serve::start("127.0.0.1:0", &root);

    let o = coap(&["put", &serve.uri("/a/b.txt"), "--payload", "hi there", "--content-format", "text"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with("2.01 Created"), "{}", stdout(&o));
    let o = coap(&["get", &serve.uri("/a/b.txt")]);
    assert_eq!(stdout(&o), "2.05 Content\nContent-Format: text/plain;charset=utf-8 (0)\n\nhi there\n");

    // Binary payloads print as hex; --json carries both forms.
    let o = coap(&["post", &serve.uri("/bin"), "--hex", "00ff10", "--non"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let o = coap(&["get", &serve.uri("/bin"), "--json"]);
    assert_eq!(
        stdout(&o),
        "{\"code\":\"2.05\",\"options\":{\"Content-Format\":42},\"payload_hex\":\"00ff10\",\"payload_text\":null}\n"
    );

    // Large bodies both ways with small blocks.
    let big: String = (0..5000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let file = root.join("../big-src.txt");
    std::fs::write(&file, &big).unwrap();
    let o = coap(&["put", &serve.uri("/big.txt"), "--file", file.to_str().unwrap(), "--block-size", "32"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(root.join("big.txt")).unwrap(), big);
    let o = coap(&["get", &serve.uri("/big.txt"), "--block-size", "16"]);
    assert!(stdout(&o).ends_with(&format!("\n{big}\n")));

    // 4.xx exits 1: missing file, method not allowed, path traversal.
    let o = coap(&["get", &serve.uri("/nope")]);
    assert_eq!((o.status.code(), stdout(&o).starts_with("4.04")), (Some(1), true));
    let o = coap(&["ipatch", &serve.uri("/big.txt"), "--payload", "x"]);
    assert_eq!((o.status.code(), stdout(&o).starts_with("4.05")), (Some(1), true));
    let o = coap(&["get", &serve.uri("/%2e%2e/etc/passwd")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).starts_with("4.03") && stdout(&o).contains("path traversal refused"), "{}", stdout(&o));

    let o = coap(&["delete", &serve.uri("/big.txt")]);
    assert!(stdout(&o).starts_with("2.02 Deleted"));
    assert!(!root.join("big.txt").exists());

    // Observe with --duration: the registration response plus the change.
    std::fs::write(root.join("o.txt"), "one").unwrap();
    let r = root.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(600));
        std::fs::write(r.join("o.tmp"), "two").unwrap();
        std::fs::rename(r.join("o.tmp"), r.join("o.txt")).unwrap();
    });
    let o = coap(&["get", &serve.uri("/o.txt"), "--observe", "--duration", "2", "--json"]);
    writer.join().unwrap();
    let lines: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("\"payload_text\":\"one\"") && lines[1].contains("\"payload_text\":\"two\""));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn ipv6_loopback() {
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: no IPv6 loopback");
        return;
    }
    let root = temp_dir("v6");
    std::fs::write(root.join("x"), "v6 works").unwrap();
    let serve = Serve::start("[::1]:0", &root);
    let o = coap(&["get", &serve.uri("/x")]);
    assert!(stdout(&o).ends_with("\nv6 works\n"), "{o:?}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn no_response_exits_2_with_reason() {
    // A bound socket that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let o = Command::new(LWM2M)
        .args(["coap", "get", &format!("coap://127.0.0.1:{port}/x"), "--timeout", "0.5"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no response within the --timeout of 0.5 s"), "{o:?}");
    let o = Command::new(LWM2M).args(["coap", "get", "coaps://127.0.0.1/x"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(LWM2M).args(["coap", "get", "coap://127.0.0.1/x", "--block-size", "100"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}
