//! Hostile and broken modules against the real sandbox: each must fail with the error that
//! names what it did, leave nothing behind, and leave the sandbox usable.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use agora_sandbox::{Limits, SandboxError, validate_module};
use common::{Job, printed_i32s, sandbox, start, wat};

const MIB: u64 = 1 << 20;

/// A module that writes `hello` to /out/hello.txt: the well-behaved baseline.
fn hello() -> Vec<u8> {
    wat(r#"
      (data (i32.const 1024) "hello.txt")
      (data (i32.const 1040) "hello\n")
      (func (export "_start")
        (if (call $write (call $create_out (i32.const 1024) (i32.const 9)) (i32.const 1040) (i32.const 6))
          (then unreachable)))
    "#)
}

fn infinite_loop() -> Vec<u8> {
    start("(loop (br 0))")
}

fn small_limits() -> Limits {
    Limits { fuel: 50_000_000, memory_bytes: 64 * MIB, max_output_bytes: 16 * MIB, ..Limits::default() }
}

#[test]
fn a_well_behaved_module_runs_and_its_output_is_hashed() {
    let job = Job::csv();
    let sandbox = sandbox(Limits::default());
    let out = job.fresh_out();
    let run = job.run_into(&sandbox, &hello(), &[], 1, &out).unwrap();
    assert_eq!(std::fs::read(out.join("hello.txt")).unwrap(), b"hello\n");
    assert_eq!(run.files.len(), 1);
    assert_eq!(run.files[0].name, "hello.txt");
    assert_eq!(run.files[0].bytes, 6);
    let (files, hash) = agora_runtime::hash_dir(&out).unwrap();
    assert_eq!((run.files.clone(), run.output_hash.clone()), (files, hash));
    assert_eq!(run.module_digest, validate_module(&hello()).unwrap().digest);
    assert_eq!(run.exit_code, 0);
    assert!(run.fuel_used > 0 && run.fuel_used < 10_000, "fuel used: {}", run.fuel_used);
    assert!(job.leftovers().is_empty(), "the /data staging folder was left: {:?}", job.leftovers());
}

#[test]
fn bytes_that_are_not_wasm_are_refused() {
    let job = Job::csv();
    for bytes in [&b""[..], b"hello world", b"\x7fELF\x02\x01\x01\0", b"(module)"] {
        assert!(matches!(validate_module(bytes), Err(SandboxError::NotWasm)), "{bytes:?}");
        assert!(matches!(job.run(&sandbox(Limits::default()), bytes, &[], 0), Err(SandboxError::NotWasm)));
    }
    let truncated = &hello()[..40];
    assert!(matches!(validate_module(truncated), Err(SandboxError::InvalidModule { .. })));
}

#[test]
fn a_component_is_refused_with_a_hint() {
    let err = validate_module(b"\0asm\x0d\0\x01\0").unwrap_err();
    assert!(matches!(&err, SandboxError::InvalidModule { reason } if reason.contains("component")), "{err}");
}

#[test]
fn imports_outside_wasi_are_refused() {
    let steal = wat::parse_str(
        r#"(module
          (import "env" "steal_keys" (func $steal (result i32)))
          (memory (export "memory") 1)
          (func (export "_start") (drop (call $steal))))"#,
    )
    .unwrap();
    let err = validate_module(&steal).unwrap_err();
    assert!(
        matches!(&err, SandboxError::UnknownImport { module, name } if module == "env" && name == "steal_keys"),
        "{err}"
    );
    assert!(err.to_string().contains("env::steal_keys"), "{err}");
    let job = Job::csv();
    let out = job.fresh_out();
    assert!(matches!(
        job.run_into(&sandbox(Limits::default()), &steal, &[], 0, &out),
        Err(SandboxError::UnknownImport { .. })
    ));
    assert!(!out.exists(), "a refused module must not create the output folder");

    let fake_wasi = wat::parse_str(
        r#"(module
          (import "wasi_snapshot_preview1" "sock_open" (func (param i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "_start")))"#,
    )
    .unwrap();
    assert!(
        matches!(validate_module(&fake_wasi), Err(SandboxError::UnknownImport { name, .. }) if name == "sock_open")
    );

    let wasi_memory = wat::parse_str(
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (memory 1)) (func (export "_start")))"#,
    )
    .unwrap();
    assert!(matches!(validate_module(&wasi_memory), Err(SandboxError::UnknownImport { .. })));
}

#[test]
fn a_wasi_import_with_the_wrong_signature_is_refused() {
    let module = wat::parse_str(
        r#"(module
          (import "wasi_snapshot_preview1" "fd_write" (func (param i64) (result i32)))
          (memory (export "memory") 1)
          (func (export "_start")))"#,
    )
    .unwrap();
    assert!(matches!(validate_module(&module), Err(SandboxError::InvalidModule { .. })));
}

#[test]
fn a_module_must_be_a_wasi_command() {
    let no_start = wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "run")))"#).unwrap();
    let err = validate_module(&no_start).unwrap_err();
    assert!(matches!(&err, SandboxError::InvalidModule { reason } if reason.contains("_start")), "{err}");
    let no_memory = wat::parse_str(r#"(module (func (export "_start")))"#).unwrap();
    let err = validate_module(&no_memory).unwrap_err();
    assert!(matches!(&err, SandboxError::InvalidModule { reason } if reason.contains("memory")), "{err}");
    let shared = wat::parse_str(r#"(module (memory (export "memory") 1 1 shared) (func (export "_start")))"#);
    if let Ok(shared) = shared {
        assert!(
            matches!(validate_module(&shared), Err(SandboxError::InvalidModule { .. })),
            "threads are off"
        );
    }
}

#[test]
fn validate_reports_the_digest_and_imports() {
    let info = validate_module(&hello()).unwrap();
    assert_eq!(info.size, hello().len() as u64);
    assert_eq!(info.digest.len(), 64);
    assert_eq!(info.initial_memory_bytes, 17 * 65536);
    assert!(info.wasi_imports.contains(&"fd_write".to_owned()));
    assert!(info.wasi_imports.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
}

#[test]
fn a_module_over_the_size_limit_is_refused_before_compiling() {
    let limits = Limits { max_module_bytes: 100, ..Limits::default() };
    let module = hello();
    let err = Job::csv().run(&sandbox(limits), &module, &[], 0).unwrap_err();
    assert!(
        matches!(err, SandboxError::ModuleTooLarge { size, limit: 100 } if size == module.len() as u64),
        "{err}"
    );
}

#[test]
fn an_infinite_loop_runs_out_of_fuel() {
    let started = Instant::now();
    let err = Job::csv().run(&sandbox(small_limits()), &infinite_loop(), &[], 0).unwrap_err();
    assert!(matches!(err, SandboxError::FuelExhausted { limit: 50_000_000 }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn an_infinite_loop_with_ample_fuel_times_out() {
    let limits = Limits { fuel: u64::MAX / 2, max_duration: Duration::from_millis(300), ..Limits::default() };
    let started = Instant::now();
    let err = Job::csv().run(&sandbox(limits), &infinite_loop(), &[], 0).unwrap_err();
    assert!(matches!(err, SandboxError::Timeout { seconds } if seconds == 0.3), "{err}");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let bomb = start("(loop (drop (memory.grow (i32.const 16))) (br 0))");
    let err = Job::csv().run(&sandbox(small_limits()), &bomb, &[], 0).unwrap_err();
    assert!(matches!(err, SandboxError::MemoryLimit { limit } if limit == 64 * MIB), "{err}");

    // Asking for too much up front fails the same way.
    let big = wat::parse_str(r#"(module (memory (export "memory") 2000) (func (export "_start")))"#).unwrap();
    let err = Job::csv().run(&sandbox(small_limits()), &big, &[], 0).unwrap_err();
    assert!(matches!(err, SandboxError::MemoryLimit { .. }), "{err}");
}

/// Opens /out/big and writes the 1 MiB buffer at 65536 into it `count` times.
fn output_bomb(count: u64) -> Vec<u8> {
    wat(&format!(
        r#"
      (data (i32.const 1024) "big")
      (func (export "_start") (local $fd i32) (local $i i64)
        (local.set $fd (call $create_out (i32.const 1024) (i32.const 3)))
        (loop
          (if (call $write (local.get $fd) (i32.const 65536) (i32.const 1048576)) (then unreachable))
          (local.set $i (i64.add (local.get $i) (i64.const 1)))
          (br_if 0 (i64.lt_u (local.get $i) (i64.const {count})))))
    "#
    ))
}

#[test]
fn writing_10_gb_fails_fast_and_leaves_nothing() {
    let job = Job::csv();
    let sandbox = sandbox(small_limits());
    let out = job.fresh_out();
    let started = Instant::now();
    let err = job.run_into(&sandbox, &output_bomb(10 * 1024), &[], 0, &out).unwrap_err();
    assert!(matches!(err, SandboxError::OutputTooLarge { limit } if limit == 16 * MIB), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert!(!out.exists(), "the output folder the run created must be removed");

    // An output folder that existed before is emptied, not removed.
    let out = job.fresh_out();
    std::fs::create_dir(&out).unwrap();
    assert!(matches!(
        job.run_into(&sandbox, &output_bomb(10 * 1024), &[], 0, &out),
        Err(SandboxError::OutputTooLarge { .. })
    ));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
    assert!(job.leftovers().is_empty());

    // Just under the limit is fine.
    let run = job.run(&sandbox, &output_bomb(15), &[], 0).unwrap();
    assert_eq!(run.files[0].bytes, 15 * MIB);
}

#[test]
fn sparse_files_count_towards_the_output_limit() {
    let job = Job::csv();
    let sandbox = sandbox(small_limits());
    // pwrite one byte at 10 GB.
    let pwrite = wat(r#"
      (data (i32.const 1024) "sparse")
      (func (export "_start") (local $fd i32)
        (local.set $fd (call $create_out (i32.const 1024) (i32.const 6)))
        (i32.store (i32.const 0) (i32.const 65536))
        (i32.store (i32.const 4) (i32.const 1))
        (drop (call $fd_pwrite (local.get $fd) (i32.const 0) (i32.const 1) (i64.const 10737418240) (i32.const 8))))
    "#);
    // ftruncate to 10 GB.
    let truncate = wat(r#"
      (data (i32.const 1024) "sparse")
      (func (export "_start")
        (drop (call $fd_filestat_set_size (call $create_out (i32.const 1024) (i32.const 6)) (i64.const 10737418240))))
    "#);
    // seek to 1 GB, then write one byte.
    let seek = wat(r#"
      (data (i32.const 1024) "sparse")
      (func (export "_start") (local $fd i32)
        (local.set $fd (call $create_out (i32.const 1024) (i32.const 6)))
        (if (call $fd_seek (local.get $fd) (i64.const 1073741824) (i32.const 0) (i32.const 32)) (then unreachable))
        (if (call $write (local.get $fd) (i32.const 65536) (i32.const 1)) (then unreachable)))
    "#);
    for (what, module) in [("pwrite", pwrite), ("ftruncate", truncate), ("seek", seek)] {
        let out = job.fresh_out();
        let err = job.run_into(&sandbox, &module, &[], 0, &out).unwrap_err();
        assert!(matches!(err, SandboxError::OutputTooLarge { .. }), "{what}: {err}");
        assert!(!out.exists(), "{what}");
    }
}

#[test]
fn paths_cannot_leave_the_mounts() {
    let job = Job::csv();
    // Each attempt prints the errno of a path_open, then (if it succeeded) of reading it.
    let module = wat(r#"
      (data (i32.const 1024) "/etc/passwd")
      (data (i32.const 1040) "../../etc/passwd")
      (data (i32.const 1060) "../people.csv")
      (data (i32.const 1080) "link")
      (func $try (param $dir i32) (param $ptr i32) (param $len i32)
        (local $errno i32)
        (local.set $errno (call $open (local.get $dir) (local.get $ptr) (local.get $len) (i32.const 0)))
        (call $print_i32 (local.get $errno))
        (if (i32.eqz (local.get $errno))
          (then
            (i32.store (i32.const 0) (i32.const 65536))
            (i32.store (i32.const 4) (i32.const 4096))
            (call $print_i32 (call $fd_read (i32.load (i32.const 20)) (i32.const 0) (i32.const 1) (i32.const 8)))
            (call $print_i32 (i32.load (i32.const 8))))))
      (func (export "_start")
        (call $try (i32.const 3) (i32.const 1024) (i32.const 11))   ;; /etc/passwd from /data
        (call $try (i32.const 3) (i32.const 1040) (i32.const 16))   ;; ../../etc/passwd from /data
        (call $try (i32.const 4) (i32.const 1040) (i32.const 16))   ;; ../../etc/passwd from /out
        (call $try (i32.const 4) (i32.const 1060) (i32.const 13))   ;; ../people.csv from /out
        (call $try (i32.const 1) (i32.const 1024) (i32.const 11))   ;; from stdout
        (call $try (i32.const 9) (i32.const 1024) (i32.const 11))   ;; from an fd that is not open
        ;; a symlink from /out to /etc/passwd is refused, and so nothing opens through it
        (call $print_i32 (call $path_symlink (i32.const 1024) (i32.const 11) (i32.const 4) (i32.const 1080) (i32.const 4)))
        (call $try (i32.const 4) (i32.const 1080) (i32.const 4)))
    "#);
    let run = job.run(&sandbox(Limits::default()), &module, &[], 0).unwrap();
    let errnos = printed_i32s(&run.log);
    // One errno per attempt, no read results: nothing was opened.
    assert_eq!(errnos.len(), 8, "{errnos:?}");
    assert!(errnos.iter().all(|&e| e != 0), "every attempt must fail: {errnos:?}");
    assert_eq!(errnos[6], 63, "path_symlink must be EPERM: {errnos:?}");
    assert!(run.files.is_empty());
}

#[test]
fn the_dataset_is_readable_but_not_writable() {
    let job = Job::csv();
    let module = wat(r#"
      (data (i32.const 1024) "people.csv")
      (func (export "_start")
        ;; open for writing with O_TRUNC: refused
        (call $print_i32 (call $open (i32.const 3) (i32.const 1024) (i32.const 10) (i32.const 8)))
        ;; open for reading: fine, and the first bytes are the header
        (call $print_i32 (call $open (i32.const 3) (i32.const 1024) (i32.const 10) (i32.const 0)))
        (i32.store (i32.const 0) (i32.const 65536))
        (i32.store (i32.const 4) (i32.const 2))
        (drop (call $fd_read (i32.load (i32.const 20)) (i32.const 0) (i32.const 1) (i32.const 8)))
        (call $print_i32 (i32.load (i32.const 65536))))
    "#);
    let run = job.run(&sandbox(Limits::default()), &module, &[], 0).unwrap();
    let printed = printed_i32s(&run.log);
    assert_ne!(printed[0], 0, "writing the dataset must fail");
    assert_eq!(printed[1], 0, "reading the dataset must work");
    assert_eq!(&printed[2].to_le_bytes()[..2], b"id");
    assert_eq!(std::fs::read_to_string(&job.data).unwrap(), common::FIXTURE_CSV);
}

#[test]
fn sockets_are_unavailable() {
    let module = start(
        r#"
        (call $print_i32 (call $sock_accept (i32.const 3) (i32.const 0) (i32.const 32)))
        (call $print_i32 (call $sock_accept (i32.const 42) (i32.const 0) (i32.const 32)))
        (call $print_i32 (call $sock_send (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 32)))
        (call $print_i32 (call $sock_send (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 32)))
        (call $print_i32 (call $sock_recv (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 32) (i32.const 36)))
    "#,
    );
    let run = Job::csv().run(&sandbox(Limits::default()), &module, &[], 0).unwrap();
    let errnos = printed_i32s(&run.log);
    assert_eq!(errnos.len(), 5);
    assert!(errnos.iter().all(|&e| e == 57 || e == 8), "want ENOTSOCK (57) or EBADF (8): {errnos:?}");
}

#[test]
fn a_non_zero_exit_is_an_error_and_zero_is_success() {
    let job = Job::csv();
    let sandbox = sandbox(Limits::default());
    let err = job
        .run(&sandbox, &start(r#"(drop (call $write (i32.const 2) (i32.const 1024) (i32.const 4))) (call $proc_exit (i32.const 3))"#), &[], 0)
        .unwrap_err();
    assert!(matches!(err, SandboxError::Exit { code: 3, .. }), "{err}");
    let run = job.run(&sandbox, &start("(call $proc_exit (i32.const 0)) unreachable"), &[], 0).unwrap();
    assert_eq!(run.exit_code, 0);
}

#[test]
fn a_trap_is_reported_with_the_log_tail() {
    let module = wat(r#"
      (data (i32.const 1024) "about to fail")
      (func (export "_start")
        (drop (call $write (i32.const 2) (i32.const 1024) (i32.const 13)))
        unreachable)
    "#);
    let err = Job::csv().run(&sandbox(Limits::default()), &module, &[], 0).unwrap_err();
    let SandboxError::Trap { message, log_tail } = &err else { panic!("{err}") };
    assert!(message.contains("unreachable"), "{message}");
    assert_eq!(log_tail, "about to fail");
    assert!(err.to_string().contains("about to fail"));
}

/// Prints the wall clock, the monotonic clock (twice), 16 random bytes (twice), and the
/// monotonic clock after a one-hour `poll_oneoff` sleep.
fn clocks_and_random() -> Vec<u8> {
    wat(r#"
      (func $clock (param $id i32)
        (if (call $clock_time_get (local.get $id) (i64.const 1) (i32.const 64)) (then unreachable))
        (drop (call $write (i32.const 1) (i32.const 64) (i32.const 8))))
      (func $random
        (if (call $random_get (i32.const 64) (i32.const 16)) (then unreachable))
        (drop (call $write (i32.const 1) (i32.const 64) (i32.const 16))))
      (func (export "_start")
        (call $clock (i32.const 0))
        (call $clock (i32.const 1))
        (call $clock (i32.const 1))
        (call $random)
        (call $random)
        ;; one subscription: relative monotonic clock, one hour
        (i64.store (i32.const 128) (i64.const 7))
        (i32.store8 (i32.const 136) (i32.const 0))
        (i32.store (i32.const 144) (i32.const 1))
        (i64.store (i32.const 152) (i64.const 3600000000000))
        (i64.store (i32.const 160) (i64.const 0))
        (i32.store16 (i32.const 168) (i32.const 0))
        (if (call $poll_oneoff (i32.const 128) (i32.const 256) (i32.const 1) (i32.const 300)) (then unreachable))
        (call $clock (i32.const 1)))
    "#)
}

struct Times {
    wall: u64,
    mono: [u64; 3],
    random: [Vec<u8>; 2],
}

fn parse_times(log: &[u8]) -> Times {
    let u = |i: usize| u64::from_le_bytes(log[i..i + 8].try_into().unwrap());
    assert_eq!(log.len(), 8 * 3 + 32 + 8);
    Times { wall: u(0), mono: [u(8), u(16), u(56)], random: [log[24..40].to_vec(), log[40..56].to_vec()] }
}

#[test]
fn clocks_and_random_are_virtual_and_seeded() {
    let job = Job::csv();
    let sandbox = sandbox(Limits::default());
    let started = Instant::now();
    let a = job.run(&sandbox, &clocks_and_random(), &[], 42).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "poll_oneoff must not sleep");
    let b = job.run(&sandbox, &clocks_and_random(), &[], 42).unwrap();
    assert_eq!(a.log, b.log, "same seed, same run");
    assert_eq!(a.fuel_used, b.fuel_used);

    let t = parse_times(&a.log);
    // 2000-01-01T00:00:00Z, plus the virtual clock's first step.
    assert_eq!(t.wall, 946_684_800_000_000_000 + 1_000);
    assert!(t.mono[0] < t.mono[1] && t.mono[1] < 1_000_000, "{:?}", t.mono);
    assert!(t.mono[2] >= t.mono[1] + 3_600_000_000_000, "the sleep moved the clock: {:?}", t.mono);
    assert_ne!(t.random[0], t.random[1]);
    assert_ne!(t.random[0], vec![0; 16]);

    let c = job.run(&sandbox, &clocks_and_random(), &[], 43).unwrap();
    let other = parse_times(&c.log);
    assert_ne!(other.random, t.random, "another seed, other random bytes");
    assert_eq!((other.wall, other.mono), (t.wall, t.mono), "the clocks do not depend on the seed");
}

/// Writes what the clock-and-random module printed to /out, for the cross-process check.
fn clocks_to_out() -> Vec<u8> {
    wat(r#"
      (data (i32.const 1024) "times.bin")
      (func (export "_start") (local $fd i32)
        (local.set $fd (call $create_out (i32.const 1024) (i32.const 9)))
        (if (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 64)) (then unreachable))
        (if (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 72)) (then unreachable))
        (if (call $random_get (i32.const 80) (i32.const 48)) (then unreachable))
        (if (call $write (local.get $fd) (i32.const 64) (i32.const 64)) (then unreachable)))
    "#)
}

#[test]
fn the_same_run_gives_the_same_hash_in_another_process() {
    let job = Job::csv();
    let run = job.run(&sandbox(Limits::default()), &clocks_to_out(), &["x"], 7).unwrap();
    if common::is_child() {
        println!("CHILD_RESULT {} {}", run.output_hash, run.fuel_used);
        return;
    }
    let child = common::in_child_process("the_same_run_gives_the_same_hash_in_another_process");
    assert_eq!(child, format!("{} {}", run.output_hash, run.fuel_used));
}

#[test]
fn args_and_environment_are_exactly_what_the_job_gives() {
    let module = start(
        r#"
        (drop (call $args_sizes_get (i32.const 64) (i32.const 68)))
        (call $print_i32 (i32.load (i32.const 64)))
        (call $print_i32 (i32.load (i32.const 68)))
        (drop (call $environ_sizes_get (i32.const 64) (i32.const 68)))
        (call $print_i32 (i32.load (i32.const 64)))
    "#,
    );
    let run = Job::csv().run(&sandbox(Limits::default()), &module, &["--k", "3"], 0).unwrap();
    // "algorithm\0--k\03\0" is 10 + 4 + 2 bytes.
    assert_eq!(printed_i32s(&run.log), vec![3, 16, 0]);
}

#[test]
fn file_metadata_does_not_leak_the_host() {
    let module = wat(r#"
      (data (i32.const 1024) "people.csv")
      (func (export "_start")
        (if (call $open (i32.const 3) (i32.const 1024) (i32.const 10) (i32.const 0)) (then unreachable))
        (if (call $fd_filestat_get (i32.load (i32.const 20)) (i32.const 128)) (then unreachable))
        (drop (call $write (i32.const 1) (i32.const 128) (i32.const 64))))
    "#);
    let run = Job::csv().run(&sandbox(Limits::default()), &module, &[], 0).unwrap();
    let u = |i: usize| u64::from_le_bytes(run.log[i..i + 8].try_into().unwrap());
    assert_eq!(run.log.len(), 64);
    assert_eq!((u(0), u(8), u(24)), (0, 1, 1), "device 0, first inode, one link");
    assert_eq!(u(32), common::FIXTURE_CSV.len() as u64);
    assert_eq!([u(40), u(48), u(56)], [946_684_800_000_000_000; 3]);
}

#[test]
fn the_log_is_capped() {
    let limits = Limits { max_log_bytes: 1000, ..Limits::default() };
    let module = start(
        r#"(local $i i32)
        (loop
          (drop (call $write (i32.const 1) (i32.const 65536) (i32.const 1024)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if 0 (i32.lt_u (local.get $i) (i32.const 100))))"#,
    );
    let run = Job::csv().run(&sandbox(limits), &module, &[], 0).unwrap();
    assert_eq!(run.log.len(), 1000);
    assert!(run.log_truncated);
    let run = Job::csv().run(&sandbox(Limits::default()), &hello(), &[], 0).unwrap();
    assert!(!run.log_truncated);
}

#[test]
fn outputs_must_be_plain_files_and_the_folder_empty() {
    let job = Job::csv();
    let sandbox = sandbox(Limits::default());
    let mkdir = wat(r#"
      (data (i32.const 1024) "sub")
      (func (export "_start") (drop (call $path_create_directory (i32.const 4) (i32.const 1024) (i32.const 3))))
    "#);
    let out = job.fresh_out();
    let err = job.run_into(&sandbox, &mkdir, &[], 0, &out).unwrap_err();
    assert!(matches!(&err, SandboxError::InvalidOutput { name, .. } if name == "sub"), "{err}");
    assert!(!out.exists());

    let out = job.fresh_out();
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("old.txt"), "keep me").unwrap();
    let err = job.run_into(&sandbox, &hello(), &[], 0, &out).unwrap_err();
    assert!(matches!(err, SandboxError::OutputNotEmpty(_)), "{err}");
    assert_eq!(std::fs::read_to_string(out.join("old.txt")).unwrap(), "keep me");
}

#[test]
fn bad_mounts_are_refused() {
    let job = Job::csv();
    let sandbox = sandbox(Limits::default());
    let missing = job.dir.path().join("nope.csv");
    let mounts = agora_sandbox::Mounts { data: &missing, model: None };
    let out = job.fresh_out();
    assert!(matches!(sandbox.run(&hello(), &mounts, &[], 0, &out, None), Err(SandboxError::Io { .. })));
    let mounts = agora_sandbox::Mounts { data: job.dir.path(), model: None };
    assert!(matches!(sandbox.run(&hello(), &mounts, &[], 0, &out, None), Err(SandboxError::Mount { .. })));
    let mounts = agora_sandbox::Mounts { data: &job.data, model: Some(&job.data) };
    assert!(matches!(sandbox.run(&hello(), &mounts, &[], 0, &out, None), Err(SandboxError::Mount { .. })));
    assert!(!out.exists());
}

#[test]
fn a_model_folder_is_mounted_read_only() {
    let job = Job::csv();
    let model = tempfile::tempdir().unwrap();
    std::fs::write(model.path().join("weights.bin"), "WEIGHTS").unwrap();
    let module = wat(r#"
      (data (i32.const 1024) "weights.bin")
      (func (export "_start")
        (call $print_i32 (call $open (i32.const 5) (i32.const 1024) (i32.const 11) (i32.const 8)))
        (call $print_i32 (call $open (i32.const 5) (i32.const 1024) (i32.const 11) (i32.const 0)))
        (i32.store (i32.const 0) (i32.const 65536))
        (i32.store (i32.const 4) (i32.const 4))
        (drop (call $fd_read (i32.load (i32.const 20)) (i32.const 0) (i32.const 1) (i32.const 8)))
        (call $print_i32 (i32.load (i32.const 65536))))
    "#);
    let mounts = agora_sandbox::Mounts { data: &job.data, model: Some(model.path()) };
    let run = sandbox(Limits::default()).run(&module, &mounts, &[], 0, &job.fresh_out(), None).unwrap();
    let printed = printed_i32s(&run.log);
    assert_ne!(printed[0], 0, "writing the model must fail");
    assert_eq!(printed[1], 0);
    assert_eq!(&printed[2].to_le_bytes(), b"WEIG");
    assert_eq!(std::fs::read_to_string(model.path().join("weights.bin")).unwrap(), "WEIGHTS");
}

#[test]
fn cancellation_stops_a_run() {
    let job = Job::csv();
    let limits = Limits { fuel: u64::MAX / 2, ..Limits::default() };
    let sandbox = sandbox(limits);
    let args: Vec<String> = Vec::new();

    let cancel = AtomicBool::new(true);
    let out = job.fresh_out();
    let err = sandbox.run(&hello(), &job.mounts(), &args, 0, &out, Some(&cancel)).unwrap_err();
    assert!(matches!(err, SandboxError::Cancelled), "{err}");

    let cancel = AtomicBool::new(false);
    let started = Instant::now();
    let err = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            cancel.store(true, Ordering::Relaxed);
        });
        sandbox.run(&infinite_loop(), &job.mounts(), &args, 0, &job.fresh_out(), Some(&cancel)).unwrap_err()
    });
    assert!(matches!(err, SandboxError::Cancelled), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn the_sandbox_stays_usable_after_every_failure() {
    let job = Job::csv();
    let limits = Limits { max_duration: Duration::from_secs(5), ..small_limits() };
    let sandbox = sandbox(limits);
    let good = job.run(&sandbox, &hello(), &[], 0).unwrap();
    let failures: Vec<(&str, Vec<u8>)> = vec![
        ("fuel", infinite_loop()),
        ("memory", start("(loop (drop (memory.grow (i32.const 16))) (br 0))")),
        ("output", output_bomb(100)),
        ("exit", start("(call $proc_exit (i32.const 3))")),
        ("trap", start("unreachable")),
        ("stack", wat(r#"(func $f (call $f)) (func (export "_start") (call $f))"#)),
        ("not wasm", b"nope".to_vec()),
    ];
    for (what, module) in failures {
        assert!(job.run(&sandbox, &module, &[], 0).is_err(), "{what} must fail");
        let again = job.run(&sandbox, &hello(), &[], 0).unwrap();
        assert_eq!(again.output_hash, good.output_hash, "after {what}");
    }
    assert!(job.leftovers().is_empty());
}

#[test]
fn limits_have_defaults_and_read_seconds() {
    let limits: Limits = serde_json::from_str(r#"{"fuel": 5, "max_duration": 1.5}"#).unwrap();
    assert_eq!(limits.fuel, 5);
    assert_eq!(limits.max_duration, Duration::from_millis(1500));
    assert_eq!(limits.memory_bytes, Limits::default().memory_bytes);
    let back: Limits = serde_json::from_value(serde_json::to_value(&limits).unwrap()).unwrap();
    assert_eq!(back, limits);
    assert!(serde_json::from_str::<Limits>(r#"{"fuell": 5}"#).is_err());
}

#[test]
fn the_version_names_wasmtime() {
    let version = agora_sandbox::version();
    assert!(version.starts_with("agora-sandbox 0.1.0 (wasmtime "), "{version}");
    // The pin in the workspace is the release the version string names.
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml")).unwrap();
    let pinned = manifest
        .lines()
        .find_map(|l| l.strip_prefix("wasmtime = { version = \"=").and_then(|r| r.split('"').next()))
        .unwrap();
    assert!(version.ends_with(&format!("(wasmtime {pinned})")), "{version} vs {pinned}");
}

#[test]
fn runs_on_one_sandbox_can_share_it_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<agora_sandbox::Sandbox>();
    let job = Job::csv();
    let sandbox = sandbox(Limits::default());
    let hashes: Vec<String> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| job.run(&sandbox, &clocks_to_out(), &[], 5).unwrap().output_hash))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");
}
