//! The engine every module is compiled with, and the checks that make a module an
//! algorithm: a WASI preview 1 command that imports nothing else.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmtime::{Config, Engine, ExternType, Module};

use crate::SandboxError;
use crate::host::{Linkers, WASI};

/// What [`validate_module`] learned about a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// SHA-256 of the module's bytes, lowercase hex: the id a job names it by.
    pub digest: String,
    /// The module's size in bytes.
    pub size: u64,
    /// The `wasi_snapshot_preview1` functions it imports, sorted.
    pub wasi_imports: Vec<String>,
    /// The linear memory it starts with, in bytes.
    pub initial_memory_bytes: u64,
}

/// The engine configuration: deterministic floating point and SIMD, no threads, fuel and
/// epoch interruption on. Every run and every validation uses exactly this.
pub(crate) fn engine() -> Result<Engine, SandboxError> {
    let mut config = Config::new();
    config
        .consume_fuel(true)
        .epoch_interruption(true)
        // NaN bit patterns are otherwise left to the host CPU.
        .cranelift_nan_canonicalization(true)
        .relaxed_simd_deterministic(true)
        // One 32-bit memory: the memory limit is then the whole story.
        .wasm_memory64(false)
        .wasm_multi_memory(false);
    // Threads are off because wasmtime is built without its `threads` feature.
    Engine::new(&config).map_err(|e| SandboxError::internal("creating the wasmtime engine", e))
}

/// The lowercase-hex SHA-256 of `bytes`.
pub(crate) fn digest(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(bytes).iter().fold(String::with_capacity(64), |mut s, b| {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Checks that `bytes` is an algorithm the sandbox can run, compiling it as a run would: a
/// WebAssembly module (not a component) that passes validation with the sandbox's features,
/// exports `_start` and `memory` (a WASI preview 1 command), and imports only
/// `wasi_snapshot_preview1` functions that wasmtime provides. The CLI runs this before
/// publishing an algorithm. Size limits are the caller's ([`crate::Limits::max_module_bytes`]
/// is checked by [`crate::Sandbox::run`]).
pub fn validate_module(bytes: &[u8]) -> Result<ModuleInfo, SandboxError> {
    let engine = engine()?;
    let linkers = Linkers::new(&engine).map_err(|e| SandboxError::internal("setting up WASI", e))?;
    let module = compile(&engine, bytes)?;
    check(&module, &linkers, bytes)
}

/// Compiles `bytes`, telling "not WebAssembly" apart from "WebAssembly, but invalid".
pub(crate) fn compile(engine: &Engine, bytes: &[u8]) -> Result<Module, SandboxError> {
    const MAGIC: &[u8] = b"\0asm";
    if !bytes.starts_with(MAGIC) {
        return Err(SandboxError::NotWasm);
    }
    // Bytes 4..8 are the version and layer: 1 for modules, 0x0001_000d for components.
    if bytes.get(4..8) == Some(&[0x0d, 0x00, 0x01, 0x00]) {
        return Err(SandboxError::invalid(
            "this is a WebAssembly component; algorithms are WASI preview 1 modules \
             (for example `GOOS=wasip1 GOARCH=wasm go build` or Rust's `wasm32-wasip1` target)",
        ));
    }
    Module::from_binary(engine, bytes).map_err(|e| SandboxError::invalid(format!("{e:#}")))
}

/// The checks beyond WebAssembly validity; see [`validate_module`].
pub(crate) fn check(module: &Module, linkers: &Linkers, bytes: &[u8]) -> Result<ModuleInfo, SandboxError> {
    let mut wasi_imports = Vec::new();
    for import in module.imports() {
        let unknown = || SandboxError::UnknownImport {
            module: import.module().to_owned(),
            name: import.name().to_owned(),
        };
        if import.module() != WASI || !linkers.names().contains(import.name()) {
            return Err(unknown());
        }
        if !matches!(import.ty(), ExternType::Func(_)) {
            return Err(unknown());
        }
        wasi_imports.push(import.name().to_owned());
    }
    // Signatures: wasmtime checks each import against the function it would link.
    linkers.linker().instantiate_pre(module).map_err(|e| SandboxError::invalid(format!("{e:#}")))?;

    let mut start = false;
    let mut initial_memory_bytes = None;
    for export in module.exports() {
        match (export.name(), export.ty()) {
            ("_start", ExternType::Func(f)) => {
                if f.params().len() != 0 || f.results().len() != 0 {
                    return Err(SandboxError::invalid("`_start` must take and return nothing"));
                }
                start = true;
            }
            ("memory", ExternType::Memory(m)) => {
                initial_memory_bytes = Some(m.minimum().saturating_mul(m.page_size()));
            }
            _ => {}
        }
    }
    if !start {
        return Err(SandboxError::invalid(
            "the module exports no `_start`: it is not a WASI preview 1 command \
             (a library or reactor module cannot run as an algorithm)",
        ));
    }
    let Some(initial_memory_bytes) = initial_memory_bytes else {
        return Err(SandboxError::invalid("the module exports no `memory`, which WASI needs"));
    };
    wasi_imports.sort();
    wasi_imports.dedup();
    Ok(ModuleInfo { digest: digest(bytes), size: bytes.len() as u64, wasi_imports, initial_memory_bytes })
}
