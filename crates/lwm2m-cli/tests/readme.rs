//! Keeps the README's quickstart honest: exactly two commands, the second is the test
//! command `.ci/run` runs, and the first starts a server that answers CoAP.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The command lines of the first ```sh block under "## Quickstart".
fn quickstart_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let section = readme.split("## Quickstart").nth(1).expect("README has a Quickstart section");
    let block = section.split("```sh").nth(1).expect("Quickstart has a ```sh block");
    let block = block.split("```").next().unwrap();
    block.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
}

#[test]
fn quickstart_has_exactly_two_commands_and_ci_runs_the_second() {
    let cmds = quickstart_commands();
    assert_eq!(cmds.len(), 2, "README quickstart must show exactly two commands: {cmds:?}");
    let ci = std::fs::read_to_string(repo_root().join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == cmds[1]),
        ".ci/run must run the README's test command {:?} exactly",
        cmds[1]
    );
}

#[test]
fn quickstart_server_command_serves() {
    let cmds = quickstart_commands();
    let prefix = "cargo run --release -p lwm2m-cli -- ";
    let args = cmds[0].strip_prefix(prefix).unwrap_or_else(|| panic!("first command must start with {prefix:?}"));
    let args: Vec<&str> = args.split_whitespace().collect();
    let bin = env!("CARGO_BIN_EXE_lwm2m");
    let mut server = Command::new(bin)
        .args(&args)
        .current_dir(repo_root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let bind = args.iter().position(|a| *a == "--bind").map(|i| args[i + 1]).expect("--bind in the command");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last;
    let ok = loop {
        let out = Command::new(bin)
            .args(["coap", "get", &format!("coap://{bind}/.well-known/core"), "--timeout", "2"])
            .output()
            .unwrap();
        last = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if out.status.success() && last.contains("2.05") && last.contains("</performance.md>") {
            break true;
        }
        if Instant::now() > deadline || server.try_wait().unwrap().is_some() {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = server.kill();
    let status = server.wait_with_output().unwrap();
    assert!(ok, "quickstart server did not answer: {last}\nserver stderr: {}", String::from_utf8_lossy(&status.stderr));
}
