//! Cross-check against independent implementations: Python's `cbor2` and `json`.
//!
//! Payloads we encode are decoded by Python, which resolves SenML base names itself, and
//! compared value by value; payloads Python produces are decoded by us and compared with
//! what Python meant. Interop policy: if `python3` with `cbor2` is missing, the test fails
//! when `CI` is set (to anything but "" or "false") and is skipped with a message otherwise.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{model, path};
use lwm2m_codec::{Limits, decode, decode_composite, encode, senml};
use lwm2m_core::{
    ContentFormat, Instance, InstanceId, Node, Objlnk, Path, Resource, ResourceId, ResourceInstanceId, Value,
};
use serde_json::{Value as J, json};

fn python_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import cbor2, json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    let ci = std::env::var("CI").unwrap_or_default();
    if !ci.is_empty() && ci != "false" {
        panic!("interop peer python3+cbor2 missing: .ci/run installs it");
    }
    eprintln!("SKIPPED: peer python3+cbor2 not installed");
    false
}

/// Runs `script` with `input` (JSON) on stdin; returns its stdout parsed as JSON.
fn python(script: &str, input: &J) -> J {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("python output is JSON")
}

/// Python side: decode each payload with cbor2/json and resolve it into
/// `[path, kind, value]` triples with its own reading of SenML / LwM2M CBOR / LwM2M JSON.
const DECODE_SCRIPT: &str = r#"
import sys, json, cbor2, base64
def norm(v):
    if isinstance(v, bool): return ["bool", v]
    if isinstance(v, int): return ["int", str(v)]
    if isinstance(v, float): return ["float", repr(v)]
    if isinstance(v, str): return ["text", v]
    if isinstance(v, (bytes, bytearray)): return ["bytes", bytes(v).hex()]
    raise Exception("unexpected %r" % (v,))
def senml(recs, cbor):
    out, bn, bt = [], "", None
    L = {"bn": -2, "bt": -3, "n": 0, "v": 2, "vs": 3, "vb": 4, "t": 6, "vd": 8} if cbor else {k: k for k in ["bn","bt","n","v","vs","vb","t","vd"]}
    for r in recs:
        if L["bn"] in r: bn = r[L["bn"]]
        name = bn + r.get(L["n"], "")
        for k in ["v", "vs", "vb", "vd"]:
            if L[k] in r:
                v = r[L[k]]
                if k == "vd" and not cbor:
                    v = base64.urlsafe_b64decode(v + "=" * (-len(v) % 4))
                out.append([name] + norm(v))
        if "vlo" in r: out.append([name, "objlnk", r["vlo"]])
    return out
def lwm2m_cbor(m, prefix):
    out = []
    for k, v in m.items():
        p = prefix + (list(k) if isinstance(k, tuple) else [k])
        if isinstance(v, dict): out += lwm2m_cbor(v, p)
        else: out.append(["/" + "/".join(map(str, p))] + norm(v))
    return out
def lwm2m_json(doc):
    out = []
    for e in doc["e"]:
        name = doc["bn"] + e["n"]
        if "v" in e: out.append([name] + norm(e["v"]))
        if "sv" in e: out.append([name, "text", e["sv"]])
        if "bv" in e: out.append([name, "bool", e["bv"]])
        if "ov" in e: out.append([name, "objlnk", e["ov"]])
    return out
res = []
for fmt, hx in json.load(sys.stdin):
    b = bytes.fromhex(hx)
    if fmt == "senml-cbor": res.append(senml(cbor2.loads(b), True))
    elif fmt == "senml-json": res.append(senml(json.loads(b), False))
    elif fmt == "lwm2m-cbor": res.append(lwm2m_cbor(cbor2.loads(b), []))
    elif fmt == "lwm2m-json": res.append(lwm2m_json(json.loads(b)))
    elif fmt == "cbor": res.append([["", *norm(cbor2.loads(b))]])
print(json.dumps(res))
"#;

fn rid(v: u16) -> ResourceId {
    ResourceId::new(v).unwrap()
}

fn sample_instance() -> Node {
    Node::Instance(
        Instance::new(InstanceId::new(0).unwrap())
            .with(Resource::single(rid(0), "Open Mobile Alliance \"quoted\" ✓"))
            .with(Resource::single(rid(1), Value::Integer(-750)))
            .with(Resource::single(rid(2), Value::UnsignedInteger(u64::MAX)))
            .with(Resource::single(rid(3), Value::Float(21.5)))
            .with(Resource::single(rid(4), Value::Boolean(true)))
            .with(Resource::single(rid(5), Value::Opaque(vec![0, 0xfb, 0xff, 0x10])))
            .with(Resource::single(rid(6), Value::Time(1_700_000_000)))
            .with(Resource::single(rid(7), Value::Objlnk(Objlnk::new(3, 0))))
            .with(Resource::single(rid(12), Value::Float(0.1)))
            .with(Resource::multiple(
                rid(10),
                [
                    (ResourceInstanceId::new(0).unwrap(), Value::Integer(1)),
                    (ResourceInstanceId::new(300).unwrap(), Value::Integer(-1)),
                ],
            )),
    )
}

/// What Python should see for `value` in `format`.
fn expected(format: &str, p: &Path, value: &Value) -> J {
    let name = if format == "cbor" { String::new() } else { p.to_string() };
    match value {
        Value::String(s) | Value::Corelnk(s) => json!([name, "text", s.as_str()]),
        Value::Integer(v) | Value::Time(v) => json!([name, "int", v.to_string()]),
        Value::UnsignedInteger(v) => json!([name, "int", v.to_string()]),
        Value::Float(f) => json!([name, "float", format!("{f:?}")]),
        Value::Boolean(b) => json!([name, "bool", b]),
        Value::Opaque(b) if format == "lwm2m-json" => {
            use base64::Engine;
            json!([name, "text", base64::engine::general_purpose::STANDARD.encode(b)])
        }
        Value::Opaque(b) => json!([name, "bytes", b.iter().map(|x| format!("{x:02x}")).collect::<String>()]),
        Value::Objlnk(l) if format.starts_with("senml") || format == "lwm2m-json" => {
            json!([name, "objlnk", l.to_string()])
        }
        Value::Objlnk(l) => json!([name, "text", l.to_string()]),
    }
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn python_decodes_what_we_encode() {
    if !python_available() {
        return;
    }
    let p = path("/9999/0");
    let node = sample_instance();
    let formats = [
        ("senml-cbor", ContentFormat::SENML_CBOR),
        ("senml-json", ContentFormat::SENML_JSON),
        ("lwm2m-cbor", ContentFormat::LWM2M_CBOR),
        ("lwm2m-json", ContentFormat::LWM2M_JSON),
    ];
    let mut input = Vec::new();
    let mut want = Vec::new();
    for (name, f) in formats {
        input.push(json!([name, hexs(&encode(f, &p, &node).unwrap())]));
        let entries = node.to_entries(&p).unwrap();
        want.push(J::Array(entries.iter().map(|(ep, v)| expected(name, ep, v)).collect()));
    }
    // Single CBOR values of every type.
    let Node::Instance(inst) = &node else { unreachable!() };
    for r in inst.resources.values() {
        if let Some(v) = r.as_single() {
            let rp = p.child(r.id.get()).unwrap();
            input.push(json!(["cbor", hexs(&encode(ContentFormat::CBOR, &rp, &Node::Resource(r.clone())).unwrap())]));
            want.push(json!([expected("cbor", &rp, v)]));
        }
    }
    let got = python(DECODE_SCRIPT, &J::Array(input));
    assert_eq!(got, J::Array(want));
}

/// Python side: produce payloads with cbor2 / json from a description.
const ENCODE_SCRIPT: &str = r#"
import sys, json, cbor2, base64
recs = [
  {-2: "/9999/0/", 0: "0", 3: "h\u00e9llo"},
  {0: "1", 2: -123456789012},
  {0: "2", 2: 18446744073709551615},
  {0: "3", 2: 3.25},
  {0: "4", 4: False},
  {0: "5", 8: b"\x00\x01\xfe"},
  {0: "6", 2: 1700000000, 6: 1.5, -3: 10},
  {0: "7", "vlo": "65535:65535"},
  {0: "10/3", 2: 42},
]
jrecs = []
for r in recs:
    j = {}
    for k, v in r.items():
        name = {-2: "bn", -3: "bt", 0: "n", 2: "v", 3: "vs", 4: "vb", 6: "t", 8: "vd"}.get(k, k)
        if name == "vd": v = base64.urlsafe_b64encode(v).decode().rstrip("=")
        j[name] = v
    jrecs.append(j)
lwm2m = {9999: {0: {0: "h\u00e9llo", 1: -123456789012, 3: 3.25, 4: False, 5: b"\x00\x01\xfe", 6: cbor2.CBORTag(1, 1700000000), 10: {3: 42}}}}
rfc = [{-2: "urn:dev:ow:10e2073a01080063:", 0: "voltage", 1: "V", 2: 120.1}, {0: "current", 1: "A", 2: 1.2}]
print(json.dumps({
  "senml-cbor": cbor2.dumps(recs).hex(),
  "senml-cbor-indef": cbor2.dumps(cbor2.CBORTag(55799, recs)).hex(),
  "senml-json": json.dumps(jrecs),
  "lwm2m-cbor": cbor2.dumps(lwm2m).hex(),
  "rfc8428": cbor2.dumps(rfc).hex(),
}))
"#;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn we_decode_what_python_encodes() {
    if !python_available() {
        return;
    }
    let out = python(ENCODE_SCRIPT, &J::Null);
    let m = model();
    let l = Limits::default();
    let p = |s: &str| path(s);
    let want = vec![
        (p("/9999/0/0"), Value::String("héllo".into())),
        (p("/9999/0/1"), Value::Integer(-123_456_789_012)),
        (p("/9999/0/2"), Value::UnsignedInteger(u64::MAX)),
        (p("/9999/0/3"), Value::Float(3.25)),
        (p("/9999/0/4"), Value::Boolean(false)),
        (p("/9999/0/5"), Value::Opaque(vec![0, 1, 0xfe])),
        (p("/9999/0/6"), Value::Time(1_700_000_000)),
        (p("/9999/0/7"), Value::Objlnk(Objlnk::NULL)),
        (p("/9999/0/10/3"), Value::Integer(42)),
    ];
    let cbor = unhex(out["senml-cbor"].as_str().unwrap());
    assert_eq!(decode_composite(ContentFormat::SENML_CBOR, &cbor, &m, &l).unwrap(), want);
    let json = out["senml-json"].as_str().unwrap().as_bytes().to_vec();
    assert_eq!(decode_composite(ContentFormat::SENML_JSON, &json, &m, &l).unwrap(), want);
    // Time series: record 6 carries bt 10 + t 1.5.
    let ts = lwm2m_codec::decode_timestamped_entries(ContentFormat::SENML_CBOR, &cbor, &m, &l).unwrap();
    assert_eq!(ts[6].timestamp.map(lwm2m_core::Timestamp::as_secs_f64), Some(11.5));
    // The self-described CBOR tag 55799 is not SenML: refused cleanly.
    assert!(
        decode_composite(ContentFormat::SENML_CBOR, &unhex(out["senml-cbor-indef"].as_str().unwrap()), &m, &l).is_err()
    );
    // LwM2M CBOR, with a tag-1 time.
    let lc = unhex(out["lwm2m-cbor"].as_str().unwrap());
    let node = decode(ContentFormat::LWM2M_CBOR, &p("/9999/0"), &lc, &m, &l).unwrap();
    let entries: Vec<(Path, Value)> =
        node.to_entries(&p("/9999/0")).unwrap().into_iter().map(|(a, b)| (a, b.clone())).collect();
    let want_lc: Vec<(Path, Value)> = want.iter().filter(|(q, _)| ![2u16, 7].contains(&q.ids()[2])).cloned().collect();
    assert_eq!(entries, want_lc);
    // RFC 8428 §6 pack: cbor2's bytes equal ours.
    let rfc = unhex(out["rfc8428"].as_str().unwrap());
    let recs = senml::decode_cbor(&rfc, &l).unwrap();
    assert_eq!(senml::encode_cbor(&recs), rfc);
}
