//! The Go stats example over a ~100 MB CSV, natively (`go build` for the host) and as WASM
//! in the sandbox, 3 runs each, in the same process run; the same for the Rust k-means
//! example on a tenth of that CSV (Rust's wasm code is close to its native code, so that line
//! shows what the sandbox itself costs, where Go's shows mostly Go's WebAssembly backend);
//! the same for `benches/go-scan`, the simplest per-byte Go loop over the same CSV, which
//! bounds what any Go program reaches as WASM under the sandbox's safeguards; then the
//! sandbox's fixed overhead: the p50 of 20 runs of a trivial WAT module. Prints
//! medians, MB/s and wasm/native.
//!
//! `cargo bench -p agora-sandbox --bench stats`. Env: `AGORA_BENCH_MB` (default 100).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use agora_sandbox::{Limits, Mounts, Sandbox};

const WORDS: &[&str] = &[
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett", "kilo",
    "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor",
    "whiskey", "xray", "yankee", "zulu",
];

/// A deterministic CSV of about `mb` MB: an id, four numeric columns (one with gaps) and a
/// text column of a few hundred distinct values.
fn write_csv(path: &Path, mb: usize) -> u64 {
    let mut state = 2026u64;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        state >> 33
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    out.write_all(b"id,price,quantity,score,ratio,category\n").unwrap();
    let mut written = 0u64;
    let mut row = String::new();
    let mut id = 0u64;
    while written < (mb as u64) << 20 {
        row.clear();
        let price = (next() % 1_000_000) as f64 / 100.0;
        let quantity = next() % 500;
        let score = (next() % 2_000_001) as f64 / 1000.0 - 1000.0;
        let ratio = if next() % 20 == 0 {
            String::new()
        } else {
            format!("{:.6}", (next() % 1_000_000) as f64 / 1e6)
        };
        let category = format!("{}-{}", WORDS[(next() % 26) as usize], next() % 12);
        let _ = writeln!(row, "{id},{price},{quantity},{score},{ratio},{category}");
        out.write_all(row.as_bytes()).unwrap();
        written += row.len() as u64;
        id += 1;
    }
    out.flush().unwrap();
    written
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The example modules, and the two examples built for the host.
struct Builds {
    stats_native: PathBuf,
    stats_wasm: Vec<u8>,
    kmeans_native: PathBuf,
    kmeans_wasm: Vec<u8>,
    scan_native: PathBuf,
    scan_wasm: Vec<u8>,
}

/// Builds the Go program in `dir` into `out`: for the host, or as a WASI module with `wasip1`.
fn go_build(dir: &Path, out: &Path, wasip1: bool) {
    let mut go = Command::new("go");
    go.args(["build", "-trimpath", "-o"]).arg(out).arg(".").current_dir(dir);
    if wasip1 {
        go.envs([("GOOS", "wasip1"), ("GOARCH", "wasm"), ("CGO_ENABLED", "0")]);
    }
    let status = go.status().expect("go (needed for the native baseline)");
    assert!(status.success(), "go build in {} failed", dir.display());
}

fn build(root: &Path, work: &Path) -> Builds {
    let status =
        Command::new(root.join("scripts/build-algorithms.sh")).arg(work.join("wasm")).status().unwrap();
    assert!(status.success(), "scripts/build-algorithms.sh failed");
    // The example's module is the one the build script made; only its native twin is built here.
    let stats_native = work.join("stats-native");
    go_build(&root.join("examples/algorithms/stats-go"), &stats_native, false);
    let scan = root.join("provider/sandbox/benches/go-scan");
    let scan_native = work.join("go-scan");
    go_build(&scan, &scan_native, false);
    go_build(&scan, &work.join("go-scan.wasm"), true);
    let target = work.join("kmeans-target");
    let status = Command::new("cargo")
        .args(["build", "--quiet", "--release", "--locked", "--manifest-path"])
        .arg(root.join("examples/algorithms/kmeans-rust/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .unwrap();
    assert!(status.success(), "cargo build of kmeans-rust failed");
    Builds {
        stats_native,
        stats_wasm: std::fs::read(work.join("wasm/stats-go.wasm")).unwrap(),
        kmeans_native: target.join("release/kmeans"),
        kmeans_wasm: std::fs::read(work.join("wasm/kmeans-rust.wasm")).unwrap(),
        scan_native,
        scan_wasm: std::fs::read(work.join("go-scan.wasm")).unwrap(),
    }
}

/// One algorithm, natively and in the sandbox.
struct Case<'a> {
    name: &'a str,
    data: &'a Path,
    native: &'a Path,
    /// The native program's arguments for a dataset and an output folder.
    native_args: &'a dyn Fn(&Path, &Path) -> Vec<String>,
    module: &'a [u8],
    args: &'a [String],
    /// The file compared between the native and the sandboxed run.
    output: &'a str,
}

/// Times the case 3 times each way and prints medians, MB/s and the ratio.
fn compare(case: &Case<'_>, sandbox: &Sandbox, work: &Path) {
    let mb = std::fs::metadata(case.data).unwrap().len() as f64 / 1e6;
    let mut native_times = Vec::new();
    for i in 0..3 {
        let out = work.join(format!("{}-native-{i}", case.name));
        std::fs::create_dir(&out).unwrap();
        let start = Instant::now();
        let status = Command::new(case.native).args((case.native_args)(case.data, &out)).status().unwrap();
        native_times.push(start.elapsed());
        assert!(status.success(), "{} native failed", case.name);
    }
    let mut wasm_times = Vec::new();
    let mut fuel = 0;
    let mut hash = String::new();
    for i in 0..3 {
        let out = work.join(format!("{}-wasm-{i}", case.name));
        let start = Instant::now();
        let run = sandbox
            .run(case.module, &Mounts { data: case.data, model: None }, case.args, 0, &out, None)
            .unwrap();
        wasm_times.push(start.elapsed());
        assert!(hash.is_empty() || hash == run.output_hash, "runs disagree");
        hash = run.output_hash;
        fuel = run.fuel_used;
    }
    let read =
        |side: &str| std::fs::read(work.join(format!("{}-{side}-0/{}", case.name, case.output))).unwrap();
    let same = read("native") == read("wasm");
    let (n, w) = (median(native_times.clone()), median(wasm_times.clone()));
    println!("{} over {mb:.1} MB:", case.name);
    println!(
        "  native: median {:.2}s ({:.1} MB/s)  runs {native_times:?}",
        n.as_secs_f64(),
        mb / n.as_secs_f64()
    );
    println!(
        "  wasm:   median {:.2}s ({:.1} MB/s)  runs {wasm_times:?} (the first compiles; later ones reuse it)",
        w.as_secs_f64(),
        mb / w.as_secs_f64()
    );
    println!(
        "  speed wasm/native: {:.2}x  fuel used: {fuel} ({:.0} per byte)  {} identical: {same}",
        n.as_secs_f64() / w.as_secs_f64(),
        fuel as f64 / (mb * 1e6),
        case.output
    );
}

fn main() {
    let mb: usize = std::env::var("AGORA_BENCH_MB").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let work = tempfile::tempdir().unwrap();
    let builds = build(&root, work.path());
    let data = work.path().join("rows.csv");
    let bytes = write_csv(&data, mb);
    println!("dataset: {:.1} MB, {}", bytes as f64 / 1e6, data.display());

    // Fuel is not the limit being measured here.
    let sandbox = Sandbox::new(Limits { fuel: u64::MAX / 2, ..Limits::default() }).unwrap();
    let stats_flags = |data: &Path, out: &Path| {
        vec!["-data".into(), data.display().to_string(), "-out".into(), out.display().to_string()]
    };
    compare(
        &Case {
            name: "stats-go",
            data: &data,
            native: &builds.stats_native,
            native_args: &stats_flags,
            module: &builds.stats_wasm,
            args: &[],
            output: "stats.json",
        },
        &sandbox,
        work.path(),
    );

    let scan_flags = ["-data".to_owned(), "/data/rows.csv".to_owned()];
    compare(
        &Case {
            name: "go-scan",
            data: &data,
            native: &builds.scan_native,
            native_args: &stats_flags,
            module: &builds.scan_wasm,
            args: &scan_flags,
            output: "scan.txt",
        },
        &sandbox,
        work.path(),
    );

    // k-means holds its points in memory: a tenth of the rows.
    let slice = work.path().join("slice.csv");
    let text = std::fs::read_to_string(&data).unwrap();
    let rows = text.lines().count() / 10;
    let kept: String = text.lines().take(rows).flat_map(|l| [l, "\n"]).collect();
    std::fs::write(&slice, kept).unwrap();
    let kmeans_args: Vec<String> =
        ["--k", "4", "--iterations", "20", "--seed", "1", "--no-assignments"].map(String::from).to_vec();
    let kmeans_flags = |data: &Path, out: &Path| {
        let mut args =
            vec!["--data".into(), data.display().to_string(), "--out".into(), out.display().to_string()];
        args.extend(kmeans_args.iter().cloned());
        args
    };
    compare(
        &Case {
            name: "kmeans-rust",
            data: &slice,
            native: &builds.kmeans_native,
            native_args: &kmeans_flags,
            module: &builds.kmeans_wasm,
            args: &kmeans_args,
            output: "kmeans.json",
        },
        &sandbox,
        work.path(),
    );

    // Fixed overhead: a module that writes one small file.
    let tiny = wat::parse_str(
        r#"(module
          (import "wasi_snapshot_preview1" "path_open"
            (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 100) "ok.txt")
          (data (i32.const 200) "ok\n")
          (func (export "_start")
            (drop (call $open (i32.const 4) (i32.const 0) (i32.const 100) (i32.const 6) (i32.const 9)
              (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) (i32.const 0)))
            (i32.store (i32.const 8) (i32.const 200))
            (i32.store (i32.const 12) (i32.const 3))
            (drop (call $write (i32.load (i32.const 0)) (i32.const 8) (i32.const 1) (i32.const 16)))))"#,
    )
    .unwrap();
    let small = work.path().join("small.csv");
    std::fs::write(&small, "a\n1\n").unwrap();
    let mut times = Vec::new();
    for i in 0..21 {
        let out = work.path().join(format!("tiny-{i}"));
        let start = Instant::now();
        sandbox.run(&tiny, &Mounts { data: &small, model: None }, &[], 0, &out, None).unwrap();
        times.push(start.elapsed());
    }
    let first = times.remove(0);
    let fresh = Sandbox::new(Limits::default()).unwrap();
    let start = Instant::now();
    fresh
        .run(&tiny, &Mounts { data: &small, model: None }, &[], 0, &work.path().join("tiny-fresh"), None)
        .unwrap();
    let cold = start.elapsed();
    println!(
        "overhead (trivial module): p50 {:.1} ms over 20 runs, first run {:.1} ms, new Sandbox + first run {:.1} ms",
        median(times).as_secs_f64() * 1e3,
        first.as_secs_f64() * 1e3,
        cold.as_secs_f64() * 1e3
    );
}
