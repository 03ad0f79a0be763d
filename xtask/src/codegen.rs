//! `cargo xtask codegen`: regenerates `crates/lwm2m-objects/src/generated/` from the OMA
//! registry's object definitions, and the test that fails when the committed code is stale.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use lwm2m_ddf::{Descriptions, Generated, Generator, Rustfmt};

/// Environment variable that overrides the registry directory.
pub(crate) const REGISTRY_ENV: &str = "LWM2M_REGISTRY_DIR";

/// Objects that get a typed module in `lwm2m-objects`: (object id, module name).
pub(crate) const TYPED_MODULES: &[(u16, &str)] = &[
    (0, "security"),
    (1, "server"),
    (2, "access_control"),
    (3, "device"),
    (4, "connectivity_monitoring"),
    (5, "firmware_update"),
    (6, "location"),
    (7, "connectivity_statistics"),
    (9, "software_management"),
    (10, "cellular_connectivity"),
    (19, "binary_app_data_container"),
    (3303, "temperature"),
    (3311, "light_control"),
];

/// The workspace root (the parent of `xtask/`).
pub(crate) fn project_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = manifest.canonicalize().unwrap_or_else(|_| manifest.to_path_buf());
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// `--registry DIR`, else `$LWM2M_REGISTRY_DIR`, else `../shared/oma-registry` next to the repository.
pub(crate) fn registry_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.or_else(|| std::env::var_os(REGISTRY_ENV).filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| project_root().join("../shared/oma-registry"))
}

/// Where the generated code lives.
pub(crate) fn output_dir() -> PathBuf {
    project_root().join("crates/lwm2m-objects/src/generated")
}

/// The generator configuration of `lwm2m-objects`.
pub(crate) fn generator(registry: &Path) -> Generator {
    let mut generator = Generator::new()
        .registry_dir(registry)
        .descriptions(Descriptions::Feature("descriptions".into()))
        .runtime_crate("crate")
        .generated_by("cargo xtask codegen")
        .rustfmt(Rustfmt::Required)
        .rustfmt_config(project_root().join("rustfmt.toml"));
    for (id, module) in TYPED_MODULES {
        generator = generator.typed_module(*id, *module);
    }
    generator
}

/// Files in `dir` that differ from `generated` (or are missing, or are stray `.rs` files).
pub(crate) fn stale_files(dir: &Path, generated: &Generated) -> Vec<String> {
    let mut stale = Vec::new();
    for file in &generated.files {
        let current = std::fs::read_to_string(dir.join(&file.path)).unwrap_or_default();
        if current.replace("\r\n", "\n") != file.contents {
            stale.push(file.path.clone());
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut extra: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".rs") && !generated.files.iter().any(|f| &f.path == name))
            .collect();
        extra.sort();
        stale.extend(extra.into_iter().map(|name| format!("{name} (not generated any more)")));
    }
    stale
}

/// `cargo xtask codegen [--registry DIR] [--check]`.
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let mut registry = None;
    let mut check = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--registry" => {
                let dir = args.next().context("--registry needs a directory")?;
                registry = Some(PathBuf::from(dir));
            }
            "--check" => check = true,
            other => {
                bail!("codegen: unknown argument {other:?} (usage: cargo xtask codegen [--registry DIR] [--check])")
            }
        }
    }
    let registry = registry_dir(registry);
    if !registry.is_dir() {
        bail!("registry directory {} not found; pass --registry DIR or set {REGISTRY_ENV}", registry.display());
    }
    let started = std::time::Instant::now();
    let generator = generator(&registry);
    let dir = output_dir();
    let generated = generator.generate_files().map_err(|e| anyhow::anyhow!("{e}"))?;
    let stale = stale_files(&dir, &generated);
    if check {
        if !stale.is_empty() {
            bail!("generated code is stale: {}; run `cargo xtask codegen`", stale.join(", "));
        }
        println!("generated code is up to date ({} objects, {} resources)", generated.objects, generated.resources);
        return Ok(());
    }
    generator.generate_to_dir(&dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".rs") && !generated.files.iter().any(|f| f.path == name) {
                std::fs::remove_file(entry.path()).with_context(|| format!("removing stale {name}"))?;
            }
        }
    }
    println!(
        "generated {} objects, {} resources, {} typed modules into {} in {:.1?} ({} file(s) changed)",
        generated.objects,
        generated.resources,
        TYPED_MODULES.len(),
        dir.display(),
        started.elapsed(),
        stale.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rust-analyzer's pattern: regenerate into memory and compare with the committed code.
    #[test]
    fn generated_code_is_fresh() {
        let registry = registry_dir(None);
        if !registry.is_dir() {
            eprintln!(
                "SKIPPED: OMA registry not found at {} (set {REGISTRY_ENV}); cannot check the generated code",
                registry.display()
            );
            return;
        }
        let generated = generator(&registry).generate_files().unwrap_or_else(|e| panic!("codegen failed: {e}"));
        assert!(generated.formatted);
        let stale = stale_files(&output_dir(), &generated);
        assert!(
            stale.is_empty(),
            "crates/lwm2m-objects/src/generated is stale ({}): run `cargo xtask codegen` and commit the result",
            stale.join(", ")
        );
    }
}
