//! `agora algorithm new`: the Go and Rust projects it writes, built with the real toolchains
//! (a missing Go or `wasm32-wasip1` target fails the test, never skips it) into modules that
//! agora-sandbox accepts and runs over a CSV; the names and folders it refuses. And
//! `agora asset publish --kind algorithm`: what the sandbox cannot run is refused before the
//! chain or Kubo hear anything, and a module that passes is published with its digest.
// The helpers below run inside tests: a panic is how they fail one.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use agora_sandbox::{Limits, Mounts, Sandbox, SandboxError};
use serde_json::Value;

/// The dataset the templates are run over: 5 rows, a gap in `height` and in `weight`.
const PEOPLE: &str = "\
id,height,weight,city
1,1.70,65,Paris
2,1.80,80,Berlin
3,1.65,,Paris
4,1.90,95,Rome
5,,70,Paris
";

/// `agora` in `dir`, with no inherited AGORA_* settings.
fn agora(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agora"));
    command.current_dir(dir);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AGORA_") {
            command.env_remove(name);
        }
    }
    command.env("AGORA_KEYSTORE_DIR", dir.join("keystores"));
    command
}

/// Runs `agora --json algorithm new --lang <lang> <name>` in `dir`; what it printed.
fn scaffold(dir: &Path, lang: &str, name: &str) -> Value {
    let created = json_of(&run(agora(dir).args(["--json", "algorithm", "new", "--lang", lang, name])));
    assert_eq!(created["name"], name);
    assert_eq!(created["lang"], lang);
    for file in created["files"].as_array().unwrap() {
        assert!(dir.join(file.as_str().unwrap()).is_file(), "{file} was not written");
    }
    created
}

/// Runs a build step; a failure fails the test with its output.
fn build(command: &mut Command, what: &str) {
    let out = command.output().unwrap_or_else(|err| panic!("{what}: {err}"));
    assert!(out.status.success(), "{what} failed:\n{}{}", stdout(&out), stderr(&out));
}

/// Checks `module` as `asset publish` does, then runs it in the sandbox over [`PEOPLE`]: all
/// columns, then the ones the job's args name, then a column that does not exist.
fn check_and_run(module: &[u8]) {
    let info = agora_sandbox::validate_module(module).unwrap_or_else(|err| panic!("refused: {err}"));
    assert!(info.wasi_imports.iter().any(|name| name == "path_open"), "{:?}", info.wasi_imports);

    let job = tempfile::tempdir().unwrap();
    let data = job.path().join("people.csv");
    std::fs::write(&data, PEOPLE).unwrap();
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    let mounts = Mounts { data: &data, model: None };
    let summary = |args: &[&str], out: &str| {
        let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
        let out = job.path().join(out);
        sandbox.run(module, &mounts, &args, 7, &out, None).map(|ran| {
            assert_eq!(ran.module_digest, info.digest);
            let names: Vec<_> = ran.files.iter().map(|file| file.name.as_str()).collect();
            assert_eq!(names, ["summary.json"]);
            serde_json::from_slice::<Value>(&std::fs::read(out.join("summary.json")).unwrap()).unwrap()
        })
    };

    let all = summary(&[], "all").unwrap_or_else(|err| panic!("run: {err}"));
    assert_eq!(all["file"], "people.csv");
    assert_eq!(all["bytes"], PEOPLE.len());
    assert_eq!(all["rows"], 5);
    let columns: Vec<(&str, u64, Option<f64>)> = all["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["numeric"].as_u64().unwrap(), c["mean"].as_f64()))
        .collect();
    let expected =
        [("id", 5, Some(3.0)), ("height", 4, Some(1.7625)), ("weight", 4, Some(77.5)), ("city", 0, None)];
    assert_eq!(columns.len(), expected.len(), "{all}");
    for ((name, numeric, mean), (want_name, want_numeric, want_mean)) in columns.iter().zip(expected) {
        assert_eq!((*name, *numeric), (want_name, want_numeric), "{all}");
        match (mean, want_mean) {
            (Some(mean), Some(want)) => assert!((mean - want).abs() < 1e-9, "{name}: {mean}"),
            (None, None) => {}
            _ => panic!("{name}: mean {mean:?}, expected {want_mean:?}"),
        }
    }

    let chosen = summary(&["weight"], "chosen").unwrap_or_else(|err| panic!("run: {err}"));
    assert_eq!(chosen["columns"].as_array().map(Vec::len), Some(1), "{chosen}");
    assert_eq!(chosen["columns"][0]["name"], "weight");
    assert_eq!(chosen["columns"][0]["mean"], 77.5);

    match summary(&["shoe-size"], "unknown") {
        Err(SandboxError::Exit { code: 1, log_tail }) => {
            assert!(log_tail.contains("no column named \"shoe-size\""), "{log_tail}");
        }
        other => panic!("a column that does not exist: {other:?}"),
    }
}

#[test]
fn the_go_template_builds_into_a_module_the_sandbox_runs() {
    let version = Command::new("go").arg("version").output();
    assert!(
        version.as_ref().is_ok_and(|out| out.status.success()),
        "the Go template needs Go >= 1.21 (GOOS=wasip1) on PATH: {version:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let created = scaffold(dir.path(), "go", "people-stats");
    assert_eq!(created["build"], "GOOS=wasip1 GOARCH=wasm go build -o people-stats.wasm .");
    let project = dir.path().join("people-stats");
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    for needle in [
        "GOOS=wasip1 GOARCH=wasm go build -o people-stats.wasm .",
        "agora asset publish people-stats.wasm --kind algorithm",
        "agora job submit --dataset",
        r#"{"kind":"algorithm","args":[]}"#,
    ] {
        assert!(readme.contains(needle), "README.md lacks {needle:?}");
    }

    // The README's build command, as a user runs it.
    build(
        Command::new("go")
            .args(["build", "-o", "people-stats.wasm", "."])
            .env("GOOS", "wasip1")
            .env("GOARCH", "wasm")
            .current_dir(&project),
        "go build",
    );
    let module = dir.path().join(created["module"].as_str().unwrap());
    check_and_run(&std::fs::read(module).unwrap());
}

#[test]
fn the_rust_template_builds_into_a_module_the_sandbox_runs() {
    let libdir =
        Command::new("rustc").args(["--print", "target-libdir", "--target", "wasm32-wasip1"]).output();
    let libdir = libdir.map(|out| PathBuf::from(stdout(&out).trim())).unwrap_or_default();
    assert!(
        libdir.is_dir(),
        "the Rust template needs Rust's wasm32-wasip1 standard library: rustup target add wasm32-wasip1 \
         (./scripts/setup.sh does it)"
    );
    let dir = tempfile::tempdir().unwrap();
    let algorithms = dir.path().join("algorithms");
    let created = json_of(&run(agora(dir.path()).args([
        "--json",
        "algorithm",
        "new",
        "--lang",
        "rust",
        "people-stats",
        "--dir",
        "algorithms",
    ])));
    assert_eq!(created["dir"], "algorithms/people-stats");
    assert_eq!(created["build"], "cargo build --release --target wasm32-wasip1");
    let project = algorithms.join("people-stats");
    assert!(project.join("Cargo.toml").is_file() && project.join("src/main.rs").is_file());

    // The README's build command, into a build folder kept between runs (as
    // scripts/build-algorithms.sh keeps its own), since the release build links with LTO.
    let cache = std::env::var_os("AGORA_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/agora")))
        .unwrap_or_else(|| dir.path().to_owned());
    let target_dir = cache.join("algorithms-target-scaffold");
    build(
        Command::new("cargo")
            .args(["build", "--release", "--target", "wasm32-wasip1"])
            .env("CARGO_TARGET_DIR", &target_dir)
            .current_dir(&project),
        "cargo build",
    );
    assert_eq!(created["module"], "algorithms/people-stats/target/wasm32-wasip1/release/people-stats.wasm");
    check_and_run(&std::fs::read(target_dir.join("wasm32-wasip1/release/people-stats.wasm")).unwrap());
}

#[test]
fn new_refuses_bad_names_occupied_folders_and_unknown_languages() {
    let dir = tempfile::tempdir().unwrap();
    let new = |args: &[&str]| run(agora(dir.path()).args(["algorithm", "new"]).args(args));
    let nothing_written = || {
        let entries: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(entries.is_empty(), "{entries:?}");
    };

    for bad in ["9lives", "my algo", "../escape", "a.b", "_x", "é", &"a".repeat(65)] {
        assert_one_line_error(&new(&["--lang", "go", bad]), "is not a valid algorithm name");
        nothing_written();
    }
    assert_one_line_error(&new(&["--lang", "rust", "build"]), "Cargo keeps build, deps");
    nothing_written();

    let out = new(&["--lang", "python", "stats"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("invalid value 'python' for '--lang <LANG>'"), "{}", stderr(&out));
    assert!(stderr(&out).contains("[possible values: go, rust]"), "{}", stderr(&out));
    nothing_written();

    // A folder that holds anything is left as it is; an empty one is used.
    let occupied = dir.path().join("stats");
    std::fs::create_dir(&occupied).unwrap();
    std::fs::write(occupied.join("notes.txt"), "mine").unwrap();
    assert_one_line_error(&new(&["--lang", "go", "stats"]), "stats already exists and is not empty");
    let entries: Vec<_> = std::fs::read_dir(&occupied).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries, ["notes.txt"]);
    std::fs::write(dir.path().join("file"), "").unwrap();
    assert_one_line_error(&new(&["--lang", "go", "file"]), "file already exists and is not a folder");
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let out = new(&["--lang", "rust", "empty"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("cargo build --release --target wasm32-wasip1"), "{}", stdout(&out));
    assert!(dir.path().join("empty/src/main.rs").is_file());
}

/// A loopback server that counts the connections made to it and drops each at once: pointed
/// at by --rpc-url and --ipfs-api, it shows whether a command contacted the chain or Kubo.
struct Witness {
    url: String,
    connections: Arc<AtomicUsize>,
}

impl Witness {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Self { url, connections }
    }

    fn contacted(&self) -> bool {
        self.connections.load(Ordering::SeqCst) > 0
    }
}

/// A WASI command that does nothing.
const NOOP_MODULE: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")))"#;

/// A command that imports a host function outside WASI.
const CLOCK_MODULE: &str = r#"(module
  (import "env" "now" (func (result i64)))
  (memory (export "memory") 1)
  (func (export "_start")))"#;

#[test]
fn publish_refuses_what_the_sandbox_cannot_run_before_contacting_anyone() {
    let dir = tempfile::tempdir().unwrap();
    let (rpc, ipfs) = (Witness::start(), Witness::start());
    let publish = |path: &str| {
        run(agora(dir.path())
            .args(["asset", "publish", path, "--kind", "algorithm", "--price", "0"])
            .args(["--rpc-url", &rpc.url, "--ipfs-api", &ipfs.url])
            .env("AGORA_PRIVATE_KEY", DEV_KEY))
    };
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).unwrap();
    let wat = |text: &str| wat::parse_str(text).unwrap();

    write("notes.txt", b"id,height\n1,1.70\n");
    write("clock.wasm", &wat(CLOCK_MODULE));
    write("library.wasm", &wat(r#"(module (memory (export "memory") 1) (func (export "sum")))"#));
    // A folder is refused as an algorithm, not checked as a model folder (its hidden file).
    std::fs::create_dir(dir.path().join("folder")).unwrap();
    write("folder/noop.wasm", &wat(NOOP_MODULE));
    write("folder/.gitignore", b"/target/\n");
    for (path, reason) in [
        ("notes.txt", "not a WebAssembly module"),
        ("clock.wasm", "the module imports `env::now`, which the sandbox does not provide"),
        ("library.wasm", "invalid algorithm module: the module exports no `_start`"),
        ("folder", "it is a folder, and an algorithm is one WebAssembly module file"),
    ] {
        assert_one_line_error(
            &publish(path),
            &format!("{path} is not an algorithm the sandbox can run: {reason}"),
        );
    }
    assert!(!rpc.contacted() && !ipfs.contacted(), "a refused algorithm reached the chain or Kubo");

    // A module the sandbox runs goes on to the chain (which the witness then turns away).
    write("noop.wasm", &wat(NOOP_MODULE));
    let out = publish("noop.wasm");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stderr(&out).contains("is not an algorithm"), "{}", stderr(&out));
    assert!(rpc.contacted(), "a valid module never reached the chain: {}", stderr(&out));
}

#[test]
fn publish_records_a_checked_module_with_its_digest() {
    let stack = Stack::with_kubo();
    let bytes = wat::parse_str(NOOP_MODULE).unwrap();
    let path = stack.write("noop.wasm", &bytes);
    let published =
        stack.json(1, &["asset", "publish", &path, "--kind", "algorithm", "--price", "0.01", "--public"]);
    let digest = sha256_hex(&bytes);
    assert_eq!(published["contentDigest"], digest);
    assert_eq!(published["module"]["digest"].as_str().map(|d| format!("0x{d}")), Some(digest));
    assert_eq!(published["module"]["wasiImports"], serde_json::json!(["proc_exit"]));
    assert_eq!(published["module"]["size"], bytes.len());

    let out = stack.agora(1, &["asset", "publish", &path, "--kind", "algorithm", "--price", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let module_row = stdout(&out).lines().find(|line| line.starts_with("module")).map(str::to_owned);
    assert!(
        module_row
            .as_deref()
            .is_some_and(|row| row.contains(&format!("sha-256 {}", &sha256_hex(&bytes)[2..]))),
        "{}",
        stdout(&out)
    );
}
