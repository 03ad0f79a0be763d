//! Generates the ACME Lamp object (`ddf/acme-lamp.xml`) into `$OUT_DIR/acme.rs`, the way a
//! user's crate turns its vendor object definitions into typed Rust.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("acme.rs");
    lwm2m_ddf::Generator::new()
        .registry_file("ddf/acme-lamp.xml")
        .typed_module(32800, "acme_lamp")
        .emit_rerun_if_changed(true)
        .generate_to_file(&out)
        .unwrap_or_else(|e| panic!("vendor object generation failed: {e}"));
}
