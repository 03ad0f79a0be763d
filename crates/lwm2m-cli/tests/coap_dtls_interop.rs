//! CoAP over DTLS (`coaps://`) interop of `lwm2m coap` / `lwm2m coap serve --dtls` with libcoap
//! 4.3's OpenSSL build (`coap-client-openssl`, `coap-server-openssl`) and `coap-client-gnutls`
//! in PSK mode, the wrong-key
//! negative test (exit 2 with a one-line reason), certificate mode (`-c/-j/-C`) both ways
//! with libcoap and between our own client and server (trusted and untrusted CA), and raw public
//! keys (`--rpk`/`--rpk-peer`) between our own client and server and with libcoap's GnuTLS build
//! (`-M`) both ways.
//!
//! Policy: a missing peer fails the test when `CI` is set (not "" / "false"), else the test
//! prints "SKIPPED" and passes. libcoap's client exits 0 even on failure, so every check is on
//! its output. Loopback only, free ports, bounded timeouts. Certificates are made by rcgen in a
//! temporary directory.
mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::*;

/// The one line `lwm2m coap` printed on stderr, checked to be exactly one non-empty line.
fn one_line_reason(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).trim_end().to_string();
    assert!(!err.is_empty() && !err.contains('\n'), "expected one line on stderr, got {err:?}");
    err
}

#[test]
fn coap_client_openssl_against_our_dtls_server() {
    let Some(client) = peer("coap-client-openssl") else { return };
    let root = temp_dir("psk-serve");
    std::fs::write(root.join("hello.txt"), "hello over dtls").unwrap();
    let (_server, port) = serve(&root, &["--dtls", "--psk-identity", "lwm2m-cli", "--psk-key-text", "cli-secret"]);
    let uri = format!("coaps://127.0.0.1:{port}/hello.txt");
    let out = run(Command::new(&client).args(["-u", "lwm2m-cli", "-k", "cli-secret", "-B", "5", &uri]), 15);
    assert!(String::from_utf8_lossy(&out.stdout).contains("hello over dtls"), "{}", text(&out));
    // A wrong key gets no content.
    let out = run(Command::new(&client).args(["-u", "lwm2m-cli", "-k", "not-the-key", "-B", "3", &uri]), 15);
    assert!(!text(&out).contains("hello over dtls"), "{}", text(&out));
    // And our own client with the hex form of the same key.
    let hex: String = b"cli-secret".iter().map(|b| format!("{b:02x}")).collect();
    let out = run(
        Command::new(LWM2M).args(["coap", "get", &uri, "--psk-identity", "lwm2m-cli", "--psk-key", &hex, "--json"]),
        15,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"code\":\"2.05\"") && stdout.contains("hello over dtls"), "{}", text(&out));
}

/// The issue names `coap-client-gnutls -u ID -k KEY` against `lwm2m coap serve` too.
#[test]
fn coap_client_gnutls_against_our_dtls_server() {
    let Some(client) = peer("coap-client-gnutls") else { return };
    let root = temp_dir("psk-serve-gnutls");
    std::fs::write(root.join("hello.txt"), "hello over dtls").unwrap();
    let (_server, port) = serve(&root, &["--dtls", "--psk-identity", "lwm2m-cli", "--psk-key-text", "cli-secret"]);
    let uri = format!("coaps://127.0.0.1:{port}/hello.txt");
    let out = run(Command::new(&client).args(["-u", "lwm2m-cli", "-k", "cli-secret", "-B", "5", &uri]), 15);
    assert!(String::from_utf8_lossy(&out.stdout).contains("hello over dtls"), "{}", text(&out));
    let out = run(Command::new(&client).args(["-u", "lwm2m-cli", "-k", "not-the-key", "-B", "3", &uri]), 15);
    assert!(!text(&out).contains("hello over dtls"), "{}", text(&out));
}

#[test]
fn our_cli_against_coap_server_openssl() {
    let Some(server) = peer("coap-server-openssl") else { return };
    let port = free_port_pair();
    let _server = Killed(
        Command::new(&server)
            .args(["-A", "127.0.0.1", "-p", &port.to_string(), "-k", "server-secret", "-v", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn coap-server-openssl"),
    );
    // libcoap listens on TCP P and TLS P+1 as well: once P+1 accepts, the DTLS port is up.
    wait_for_tcp(port + 1);
    let uri = format!("coaps://127.0.0.1:{}/time", port + 1);
    let out = run(
        Command::new(LWM2M).args([
            "coap",
            "get",
            &uri,
            "--psk-identity",
            "lwm2m-cli",
            "--psk-key-text",
            "server-secret",
            "--timeout",
            "10",
        ]),
        20,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("2.05 Content"), "{}", text(&out));

    // A wrong key: the handshake fails, exit 2, one line naming the cause. OpenSSL discards
    // the Finished it cannot decrypt (no alert), so the handshake runs into the --timeout.
    let out = run(
        Command::new(LWM2M).args([
            "coap",
            "get",
            &uri,
            "--psk-identity",
            "lwm2m-cli",
            "--psk-key-text",
            "wrong-secret",
            "--timeout",
            "3",
        ]),
        20,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    let reason = one_line_reason(&out);
    assert!(reason.contains("DTLS handshake") && reason.contains("wrong PSK"), "{reason}");
}

#[test]
fn our_cli_with_a_wrong_key_against_our_server_exits_2() {
    let root = temp_dir("psk-wrong");
    std::fs::write(root.join("secret.txt"), "must not be seen").unwrap();
    let (_server, port) =
        serve(&root, &["--dtls", "--psk-identity", "dev", "--psk-key", "00112233445566778899aabbccddeeff"]);
    let uri = format!("coaps://127.0.0.1:{port}/secret.txt");
    let out = run(
        Command::new(LWM2M).args([
            "coap",
            "get",
            &uri,
            "--psk-identity",
            "dev",
            "--psk-key",
            "ffeeddccbbaa99887766554433221100",
            "--timeout",
            "10",
        ]),
        20,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!text(&out).contains("must not be seen"));
    let reason = one_line_reason(&out);
    assert!(reason.starts_with("error: DTLS handshake with 127.0.0.1:"), "{reason}");
    // Bad arguments are a one-line exit 2 as well, before any packet is sent.
    let out = run(Command::new(LWM2M).args(["coap", "get", &uri, "--psk-identity", "dev", "--psk-key", "xyz"]), 10);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(one_line_reason(&out).contains("hex"), "{}", text(&out));
}

#[test]
fn certificate_mode_between_our_client_and_server() {
    let dir = temp_dir("certs");
    std::fs::write(dir.join("hello.txt"), "hello with certificates").unwrap();
    let good = pki(&dir, "good");
    let other = pki(&dir, "other");
    let (_server, port) = serve(
        &dir,
        &[
            "--dtls",
            "--cert",
            good.server_cert.to_str().unwrap(),
            "--key",
            good.server_key.to_str().unwrap(),
            "--ca",
            good.ca.to_str().unwrap(),
        ],
    );
    let get = |host: &str, p: &Pki| {
        run(
            Command::new(LWM2M).args([
                "coap",
                "get",
                &format!("coaps://{host}:{port}/hello.txt"),
                "--ca",
                good.ca.to_str().unwrap(),
                "--cert",
                p.client_cert.to_str().unwrap(),
                "--key",
                p.client_key.to_str().unwrap(),
                "--timeout",
                "10",
            ]),
            20,
        )
    };
    let out = get("127.0.0.1", &good);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("hello with certificates"), "{}", text(&out));
    // A client certificate from another CA is refused by the server: exit 2, one line.
    let out = get("127.0.0.1", &other);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!text(&out).contains("hello with certificates"));
    one_line_reason(&out);
    // The client refuses a server certificate its --ca did not issue.
    let out = run(
        Command::new(LWM2M).args([
            "coap",
            "get",
            &format!("coaps://127.0.0.1:{port}/hello.txt"),
            "--ca",
            other.ca.to_str().unwrap(),
            "--cert",
            other.client_cert.to_str().unwrap(),
            "--key",
            other.client_key.to_str().unwrap(),
            "--timeout",
            "10",
        ]),
        20,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let reason = one_line_reason(&out);
    assert!(reason.contains("trusted CA"), "{reason}");

    // LwM2M Certificate Usage 3 (domain-issued certificate, the default with --server-cert): the
    // pinned server certificate is enough, no --ca; another certificate is refused.
    let pinned = |server_cert: &std::path::Path, usage: &str| {
        run(
            Command::new(LWM2M).args([
                "coap",
                "get",
                &format!("coaps://127.0.0.1:{port}/hello.txt"),
                "--server-cert",
                server_cert.to_str().unwrap(),
                "--cert-usage",
                usage,
                "--cert",
                good.client_cert.to_str().unwrap(),
                "--key",
                good.client_key.to_str().unwrap(),
                "--timeout",
                "10",
            ]),
            20,
        )
    };
    let out = pinned(&good.server_cert, "3");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("hello with certificates"), "{}", text(&out));
    let out = pinned(&other.server_cert, "3");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let reason = one_line_reason(&out);
    assert!(reason.contains("certificate usage 3"), "{reason}");
    // Usage 2 (trust anchor assertion) with the CA certificate as the Server Public Key.
    let out = pinned(&good.ca, "2");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn certificate_mode_with_libcoap_both_directions() {
    let (Some(client), Some(server)) = (peer("coap-client-openssl"), peer("coap-server-openssl")) else { return };
    let dir = temp_dir("libcoap-certs");
    std::fs::write(dir.join("hello.txt"), "hello to libcoap").unwrap();
    let pki = pki(&dir, "lc");
    let s = |p: &PathBuf| p.to_str().unwrap().to_string();
    // coap-client-openssl -c/-j/-C against `serve --dtls --cert --key --ca`.
    let (_ours, port) =
        serve(&dir, &["--dtls", "--cert", &s(&pki.server_cert), "--key", &s(&pki.server_key), "--ca", &s(&pki.ca)]);
    let out = run(
        Command::new(&client).args([
            "-c",
            &s(&pki.client_cert),
            "-j",
            &s(&pki.client_key),
            "-C",
            &s(&pki.ca),
            "-B",
            "5",
            &format!("coaps://127.0.0.1:{port}/hello.txt"),
        ]),
        15,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("hello to libcoap"), "{}", text(&out));
    // `lwm2m coap get` with certificates against coap-server-openssl -c/-j/-C.
    let port = free_port_pair();
    let _theirs = Killed(
        Command::new(&server)
            .args(["-A", "127.0.0.1", "-p", &port.to_string(), "-v", "0"])
            .args(["-c", &s(&pki.server_cert), "-j", &s(&pki.server_key), "-C", &s(&pki.ca)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn coap-server-openssl"),
    );
    wait_for_tcp(port + 1);
    let out = run(
        Command::new(LWM2M).args([
            "coap",
            "get",
            &format!("coaps://127.0.0.1:{}/time", port + 1),
            "--ca",
            &s(&pki.ca),
            "--cert",
            &s(&pki.client_cert),
            "--key",
            &s(&pki.client_key),
            "--timeout",
            "10",
        ]),
        20,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("2.05 Content"), "{}", text(&out));
}

/// Writes `<name>.pem` (the `PUBLIC KEY` and `PRIVATE KEY` blocks, the form libcoap's `-M` takes
/// and `--rpk` accepts) and `<name>.pub.pem` (the `PUBLIC KEY` alone, for `--rpk-peer`).
fn rpk_files(dir: &std::path::Path, name: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    std::fs::write(&private, format!("{}{}", key.public_key_pem(), key.serialize_pem())).unwrap();
    std::fs::write(&public, key.public_key_pem()).unwrap();
    (private.to_str().unwrap().to_string(), public.to_str().unwrap().to_string())
}

#[test]
fn raw_public_keys_between_our_client_and_server() {
    let dir = temp_dir("rpk");
    std::fs::write(dir.join("hello.txt"), "hello with raw public keys").unwrap();
    let (server_key, server_pub) = rpk_files(&dir, "server");
    let (client_key, client_pub) = rpk_files(&dir, "client");
    let (stranger_key, _) = rpk_files(&dir, "stranger");
    let (_server, port) = serve(&dir, &["--dtls", "--rpk", &server_key, "--rpk-peer", &client_pub]);
    let uri = format!("coaps://127.0.0.1:{port}/hello.txt");
    let get = |key: &str, peer: &str| {
        run(Command::new(LWM2M).args(["coap", "get", &uri, "--rpk", key, "--rpk-peer", peer, "--timeout", "10"]), 20)
    };
    let out = get(&client_key, &server_pub);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("hello with raw public keys"), "{}", text(&out));
    // A key the server was not given is refused: exit 2, one line.
    let out = get(&stranger_key, &server_pub);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!text(&out).contains("hello with raw public keys"));
    let reason = one_line_reason(&out);
    assert!(reason.contains("DTLS handshake") && reason.contains("bad_certificate"), "{reason}");
    // The client refuses a server key other than the one it pins (here: its own).
    let out = get(&client_key, &client_pub);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let reason = one_line_reason(&out);
    assert!(reason.contains("raw public key") && reason.contains("not trusted"), "{reason}");
    // --rpk without --rpk-peer trusts nothing and is refused before any packet.
    let out = run(Command::new(LWM2M).args(["coap", "get", &uri, "--rpk", &client_key]), 10);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(one_line_reason(&out).contains("--rpk-peer"), "{}", text(&out));
}

/// libcoap's GnuTLS build does RFC 7250 (`-M`); the OpenSSL build on Debian bookworm does not.
#[test]
fn raw_public_keys_with_libcoap_gnutls_both_directions() {
    let (Some(client), Some(server)) = (peer("coap-client-gnutls"), peer("coap-server-gnutls")) else { return };
    let dir = temp_dir("libcoap-rpk");
    std::fs::write(dir.join("hello.txt"), "hello rpk to libcoap").unwrap();
    let (server_key, server_pub) = rpk_files(&dir, "server");
    let (client_key, client_pub) = rpk_files(&dir, "client");
    // coap-client-gnutls -M against `serve --dtls --rpk --rpk-peer`.
    let (_ours, port) = serve(&dir, &["--dtls", "--rpk", &server_key, "--rpk-peer", &client_pub]);
    let out = run(
        Command::new(&client).args(["-M", &client_key, "-B", "5", &format!("coaps://127.0.0.1:{port}/hello.txt")]),
        15,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("hello rpk to libcoap"), "{}", text(&out));
    // `lwm2m coap get --rpk --rpk-peer` against coap-server-gnutls -M.
    let port = free_port_pair();
    let _theirs = Killed(
        Command::new(&server)
            .args(["-A", "127.0.0.1", "-p", &port.to_string(), "-v", "0", "-M", &server_key])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn coap-server-gnutls"),
    );
    wait_for_tcp(port + 1);
    let uri = format!("coaps://127.0.0.1:{}/time", port + 1);
    let out = run(
        Command::new(LWM2M).args([
            "coap",
            "get",
            &uri,
            "--rpk",
            &client_key,
            "--rpk-peer",
            &server_pub,
            "--timeout",
            "10",
        ]),
        20,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("2.05 Content"), "{}", text(&out));
    // Pinning another key: coap-server-gnutls's key is refused, exit 2 with one line.
    let out = run(
        Command::new(LWM2M).args([
            "coap",
            "get",
            &uri,
            "--rpk",
            &client_key,
            "--rpk-peer",
            &client_pub,
            "--timeout",
            "10",
        ]),
        20,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(one_line_reason(&out).contains("not trusted"), "{}", text(&out));
}
