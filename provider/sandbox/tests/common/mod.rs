//! Helpers shared by the sandbox's test suites: WAT modules with a small WASI prelude, a
//! dataset fixture, the example algorithms built by `scripts/build-algorithms.sh`, and
//! re-running a test in a fresh process.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use agora_sandbox::{Limits, Mounts, Run, Sandbox, SandboxError};
use tempfile::TempDir;

/// Every WASI import the test modules use; a module that leaves some unused is still valid.
const IMPORTS: &str = r#"
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite" (func $fd_pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_size" (func $fd_filestat_set_size (param i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_get" (func $fd_filestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink" (func $path_symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory" (func $path_create_directory (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept" (func $sock_accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send" (func $sock_send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv" (func $sock_recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek" (func $fd_seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
"#;

/// Memory layout of the helpers: 0..64 scratch (iovecs, result slots), 64..1024 free for
/// tests' own scratch, 1024.. strings from `(data …)`, 65536.. a 1 MiB buffer (17 pages).
/// The preopens are fd 3 = /data, fd 4 = /out, fd 5 = /model.
const HELPERS: &str = r#"
  (memory (export "memory") 17)
  ;; All rights, for creating files; wasmtime-wasi checks them against the mount.
  (global $rights i64 (i64.const 0x1fffffff))
  ;; Reading: fd_read, fd_seek, fd_tell, fd_readdir, fd_filestat_get.
  (global $read_rights i64 (i64.const 0x204026))

  ;; Writes [ptr, ptr+len) to fd; returns the errno.
  (func $write (param $fd i32) (param $ptr i32) (param $len i32) (result i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))

  ;; Writes an i32 to stdout as 4 little-endian bytes.
  (func $print_i32 (param $v i32)
    (i32.store (i32.const 16) (local.get $v))
    (drop (call $write (i32.const 1) (i32.const 16) (i32.const 4))))

  ;; Opens (with flags oflags) path [ptr, ptr+len) under dir fd, for reading if oflags is
  ;; 0 and for writing otherwise; returns the errno and leaves the new fd at address 20.
  (func $open (param $dir i32) (param $ptr i32) (param $len i32) (param $oflags i32) (result i32)
    (local $rights i64)
    (local.set $rights (select (global.get $read_rights) (global.get $rights) (i32.eqz (local.get $oflags))))
    (call $path_open (local.get $dir) (i32.const 0) (local.get $ptr) (local.get $len) (local.get $oflags)
      (local.get $rights) (local.get $rights) (i32.const 0) (i32.const 20)))

  ;; Creates (truncating) /out/<name> and returns its fd; traps if it cannot.
  (func $create_out (param $ptr i32) (param $len i32) (result i32)
    (if (call $open (i32.const 4) (local.get $ptr) (local.get $len) (i32.const 9))
      (then unreachable))
    (i32.load (i32.const 20)))
"#;

/// Compiles a test module: the WASI imports, the helpers, then `body` (functions, data and
/// an exported `_start`).
pub fn wat(body: &str) -> Vec<u8> {
    wat::parse_str(format!("(module {IMPORTS} {HELPERS} {body})")).expect("test WAT must parse")
}

/// A module whose `_start` runs `code` (WAT instructions).
pub fn start(code: &str) -> Vec<u8> {
    wat(&format!(r#"(func (export "_start") {code})"#))
}

/// A small CSV dataset with known statistics (see `tests/examples.rs`).
pub const FIXTURE_CSV: &str = "\
id,height,weight,city
1,1.70,65,Paris
2,1.80,80,Berlin
3,1.65,,Paris
4,1.90,95,Rome
5,,70,Paris
6,1.75,72.5,Berlin
";

/// A scratch folder with the dataset written as `name`, where runs get output folders.
pub struct Job {
    pub dir: TempDir,
    pub data: PathBuf,
    outs: AtomicUsize,
}

impl Job {
    pub fn new(name: &str, contents: &[u8]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join(name);
        std::fs::write(&data, contents).unwrap();
        Self { dir, data, outs: AtomicUsize::new(0) }
    }

    pub fn csv() -> Self {
        Self::new("people.csv", FIXTURE_CSV.as_bytes())
    }

    pub fn mounts(&self) -> Mounts<'_> {
        Mounts { data: &self.data, model: None }
    }

    /// Runs `module` into a fresh output folder `out-<n>`.
    pub fn run(
        &self,
        sandbox: &Sandbox,
        module: &[u8],
        args: &[&str],
        seed: u64,
    ) -> Result<Run, SandboxError> {
        self.run_into(sandbox, module, args, seed, &self.fresh_out())
    }

    pub fn run_into(
        &self,
        sandbox: &Sandbox,
        module: &[u8],
        args: &[&str],
        seed: u64,
        out: &Path,
    ) -> Result<Run, SandboxError> {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        sandbox.run(module, &self.mounts(), &args, seed, out, None)
    }

    /// An output folder path that does not exist yet (also when runs share the job).
    pub fn fresh_out(&self) -> PathBuf {
        self.dir.path().join(format!("out-{}", self.outs.fetch_add(1, Ordering::Relaxed)))
    }

    /// Entries in the job folder other than the dataset and output folders: what a run left
    /// behind (its `/data` staging folder must be gone).
    pub fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".agora-sandbox"))
            .collect()
    }
}

pub fn sandbox(limits: Limits) -> Sandbox {
    Sandbox::new(limits).unwrap()
}

/// The stdout of a run that printed i32s with `$print_i32`.
pub fn printed_i32s(log: &[u8]) -> Vec<i32> {
    log.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect()
}

/// The example algorithms, built once per test binary by `scripts/build-algorithms.sh`
/// (which fails, and so fails the test, when Go or Rust's wasm32-wasip1 target is missing).
pub fn algorithms() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("algorithms");
        let status = Command::new(root.join("scripts/build-algorithms.sh"))
            .arg(&out)
            .status()
            .expect("running scripts/build-algorithms.sh");
        assert!(
            status.success(),
            "scripts/build-algorithms.sh failed (see its message above): the examples need Go >= 1.21 \
             and Rust's wasm32-wasip1 target"
        );
        out
    })
}

pub fn algorithm(name: &str) -> Vec<u8> {
    std::fs::read(algorithms().join(format!("{name}.wasm"))).unwrap()
}

/// One sandbox with the default limits for a test binary, with the example algorithms
/// already compiled into its cache: compiling the Go module takes seconds, so the tests
/// share it instead of each compiling it again.
pub fn examples_sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let sandbox = sandbox(Limits::default());
        let job = Job::csv();
        for name in ["stats-go", "kmeans-rust"] {
            // Either outcome is fine (k-means wants more rows): the module is compiled now.
            let _ = job.run(&sandbox, &algorithm(name), &[], 0);
        }
        sandbox
    })
}

/// Runs the test `name` of this test binary again in a fresh process with `AGORA_SANDBOX_CHILD`
/// set, and returns the line it printed after `CHILD_RESULT `.
pub fn in_child_process(name: &str) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("AGORA_SANDBOX_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child process failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The test harness prints its own text on the same line.
    stdout
        .split_once("CHILD_RESULT ")
        .and_then(|(_, rest)| rest.lines().next())
        .unwrap_or_else(|| panic!("the child printed no result:\n{stdout}"))
        .to_owned()
}

pub fn is_child() -> bool {
    std::env::var_os("AGORA_SANDBOX_CHILD").is_some()
}
