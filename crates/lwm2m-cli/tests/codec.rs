//! `lwm2m codec` end to end: runs the built binary.

use std::process::Command;

fn lwm2m(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lwm2m")).args(args).output().expect("run lwm2m");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const DEVICE_TLV: &str = "C800144F70656E204D6F62696C6520416C6C69616E6365 8606 410001 410105 C10964 C40D5182428F";

#[test]
fn decode_tlv_human_and_json() {
    let (ok, out, err) = lwm2m(&["codec", "decode", "--format", "tlv", "--path", "/3/0", "--hex", DEVICE_TLV]);
    assert!(ok, "{err}");
    assert!(out.contains("/3/0/0 = \"Open Mobile Alliance\" [string]"), "{out}");
    assert!(out.contains("/3/0/6/1 = 5 [integer]"), "{out}");
    assert!(out.contains("/3/0/13 = 1367491215 [time]"), "{out}");

    let (ok, out, err) =
        lwm2m(&["codec", "decode", "--format", "tlv", "--path", "/3/0", "--hex", DEVICE_TLV, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0], serde_json::json!({"path": "/3/0/0", "type": "string", "value": "Open Mobile Alliance"}));
    assert_eq!(v[2], serde_json::json!({"path": "/3/0/6/1", "type": "integer", "value": 5}));
    assert_eq!(v.as_array().unwrap().len(), 5);
}

#[test]
fn encode_then_decode_every_value_format() {
    let entries = r#"[{"path":"/3/0/0","type":"string","value":"ACME"},
        {"path":"/3/0/7/0","type":"integer","value":3800},
        {"path":"/3/0/13","type":"time","value":1700000000},
        {"path":"/3/0/22/1","type":"objlnk","value":"3:0"}]"#;
    for format in ["tlv", "senml-json", "senml-cbor", "lwm2m-cbor", "lwm2m-json", "11542", "1542"] {
        let (ok, hex, err) = lwm2m(&["codec", "encode", "--format", format, "--path", "/3/0", "--json", entries]);
        assert!(ok, "{format}: {err}");
        let (ok, out, err) =
            lwm2m(&["codec", "decode", "--format", format, "--path", "/3/0", "--hex", hex.trim(), "--json"]);
        assert!(ok, "{format}: {err}");
        let got: serde_json::Value = serde_json::from_str(&out).unwrap();
        let want: serde_json::Value = serde_json::from_str(entries).unwrap();
        assert_eq!(got, want, "{format}");
    }
    // Single-value formats.
    let (ok, hex, _) = lwm2m(&[
        "codec",
        "encode",
        "--format",
        "text",
        "--path",
        "/3/0/9",
        "--json",
        r#"[{"path":"/3/0/9","type":"integer","value":95}]"#,
    ]);
    assert!(ok);
    assert_eq!(hex.trim(), "3935");
    let (ok, hex, _) = lwm2m(&[
        "codec",
        "encode",
        "--format",
        "opaque",
        "--path",
        "/5/0/0",
        "--json",
        r#"[{"path":"/5/0/0","type":"opaque","value":"00ff"}]"#,
    ]);
    assert!(ok);
    assert_eq!(hex.trim(), "00ff");
    let (ok, out, _) = lwm2m(&["codec", "decode", "--format", "cbor", "--path", "/3/0/9", "--hex", "185f", "--json"]);
    assert!(ok);
    assert!(out.contains("\"value\": 95"), "{out}");
}

#[test]
fn composite_and_link() {
    let entries = r#"[{"path":"/3/0/9","type":"integer","value":95},{"path":"/1/0/1","type":"integer","value":300}]"#;
    let (ok, hex, err) = lwm2m(&["codec", "encode", "--format", "senml-json", "--path", "/", "--json", entries]);
    assert!(ok, "{err}");
    let text: Vec<u8> =
        (0..hex.trim().len()).step_by(2).map(|i| u8::from_str_radix(&hex.trim()[i..i + 2], 16).unwrap()).collect();
    assert_eq!(String::from_utf8(text).unwrap(), r#"[{"n":"/3/0/9","v":95},{"n":"/1/0/1","v":300}]"#);

    let link = r#"</>;rt="oma.lwm2m";ct=110,</1/0>,</3/0>;ver=1.1"#;
    let hex: String = link.bytes().map(|b| format!("{b:02x}")).collect();
    let (ok, out, err) = lwm2m(&["codec", "decode", "--format", "link", "--hex", &hex]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), [r#"</>;rt="oma.lwm2m";ct=110"#, "</1/0>", "</3/0>;ver=1.1"]);
}

#[test]
fn errors_exit_non_zero_with_a_message() {
    let (ok, _, err) = lwm2m(&["codec", "decode", "--format", "tlv", "--path", "/3/0", "--hex", "C8 00 14 4F"]);
    assert!(!ok);
    assert!(err.contains("length 20 at byte 2"), "{err}");
    let (ok, _, err) = lwm2m(&["codec", "decode", "--format", "xml", "--path", "/3/0", "--hex", "00"]);
    assert!(!ok);
    assert!(err.contains("unknown content format"), "{err}");
    let (ok, _, err) = lwm2m(&[
        "codec",
        "encode",
        "--format",
        "tlv",
        "--path",
        "/3/0",
        "--json",
        r#"[{"path":"/3/0/0","type":"bogus","value":1}]"#,
    ]);
    assert!(!ok);
    assert!(err.contains("unknown type"), "{err}");
}
