//! The WASI preview 1 world a module runs in: wasmtime-wasi's implementation, with a few
//! functions replaced for determinism and limits.
//!
//! - `poll_oneoff` never sleeps: a clock subscription fires at once and moves the virtual
//!   clock to its deadline; fd subscriptions are reported ready.
//! - `fd_write`/`fd_pwrite` count the bytes that went to files (all writable files are under
//!   `/out`) and stop the run once they pass the output limit; `fd_pwrite` past the limit
//!   and `fd_filestat_set_size` past it stop it before anything is written.
//! - `fd_filestat_get`/`path_filestat_get` report fixed times, device 0, one link and inode
//!   numbers in the order the module first sees each file, never the host's.
//! - `path_symlink` is refused (`EPERM`), so `/out` cannot point the host at other files.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use wasmtime::{Caller, Engine, Extern, Instance, Linker, Memory, Module, ResourceLimiter, Store, TypedFunc};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtxBuilder};

/// The only import module a sandboxed module may use.
pub(crate) const WASI: &str = "wasi_snapshot_preview1";
/// 2000-01-01T00:00:00Z in nanoseconds since the Unix epoch: where the guest's wall clock
/// starts, and the time every file reports.
pub(crate) const WALL_CLOCK_START_NS: u64 = 946_684_800_000_000_000;
/// How far the virtual clock moves on each read, in nanoseconds.
pub(crate) const CLOCK_STEP_NS: u64 = 1_000;

const ERRNO_SUCCESS: i32 = 0;
const ERRNO_FAULT: i32 = 21;
const ERRNO_INVAL: i32 = 28;
const ERRNO_PERM: i32 = 63;

/// Why the host stopped a run; travels out of wasmtime as the call's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Timeout = 1,
    Cancelled = 2,
    Output = 3,
    Memory = 4,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout => "time limit reached",
            Self::Cancelled => "cancelled",
            Self::Output => "output limit reached",
            Self::Memory => "memory limit reached",
        })
    }
}

impl std::error::Error for Stop {}

/// A stop requested from outside the store (the ticker thread); the first one wins.
#[derive(Debug, Default)]
pub(crate) struct StopFlag(AtomicU8);

impl StopFlag {
    pub(crate) fn set(&self, stop: Stop) {
        let _ = self.0.compare_exchange(0, stop as u8, Ordering::Relaxed, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> Option<Stop> {
        match self.0.load(Ordering::Relaxed) {
            1 => Some(Stop::Timeout),
            2 => Some(Stop::Cancelled),
            3 => Some(Stop::Output),
            4 => Some(Stop::Memory),
            _ => None,
        }
    }
}

/// The guest's only notion of time: nanoseconds since the run started, moved by reads and by
/// `poll_oneoff`, never by the host's clock.
#[derive(Debug, Clone, Default)]
pub(crate) struct VirtualClock(Arc<AtomicU64>);

impl VirtualClock {
    fn read(&self) -> u64 {
        self.0.fetch_add(CLOCK_STEP_NS, Ordering::Relaxed).saturating_add(CLOCK_STEP_NS)
    }

    fn peek(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn advance_to(&self, ns: u64) {
        self.0.fetch_max(ns, Ordering::Relaxed);
    }
}

impl HostMonotonicClock for VirtualClock {
    fn resolution(&self) -> u64 {
        CLOCK_STEP_NS
    }

    fn now(&self) -> u64 {
        self.read()
    }
}

/// The wall clock: the virtual clock counted from 2000-01-01.
struct WallClock(VirtualClock);

impl HostWallClock for WallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(CLOCK_STEP_NS)
    }

    fn now(&self) -> Duration {
        Duration::from_nanos(WALL_CLOCK_START_NS.saturating_add(self.0.read()))
    }
}

/// stdout and stderr, interleaved into one buffer that keeps the first `cap` bytes and
/// counts the rest. Writes never fail or block, so a chatty module is not slowed or broken.
#[derive(Debug, Clone)]
pub(crate) struct LogPipe(Arc<Mutex<LogBuf>>);

#[derive(Debug)]
struct LogBuf {
    kept: Vec<u8>,
    cap: usize,
    received: u64,
}

/// What `check_write` grants per write; wasmtime-wasi splits larger writes.
const LOG_PERMIT: usize = 64 << 10;

impl LogPipe {
    pub(crate) fn new(cap: usize) -> Self {
        Self(Arc::new(Mutex::new(LogBuf { kept: Vec::new(), cap, received: 0 })))
    }

    fn push(&self, bytes: &[u8]) {
        let mut buf = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        buf.received = buf.received.saturating_add(bytes.len() as u64);
        let room = buf.cap.saturating_sub(buf.kept.len());
        let take = room.min(bytes.len());
        buf.kept.extend_from_slice(&bytes[..take]);
    }

    /// Bytes written so far, kept or not.
    pub(crate) fn received(&self) -> u64 {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).received
    }

    /// The kept bytes, and whether some were dropped.
    pub(crate) fn take(&self) -> (Vec<u8>, bool) {
        let mut buf = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let truncated = buf.received > buf.kept.len() as u64;
        (std::mem::take(&mut buf.kept), truncated)
    }

    /// The last `max` kept bytes as text, for error messages.
    pub(crate) fn tail(&self, max: usize) -> String {
        let buf = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let start = buf.kept.len().saturating_sub(max);
        String::from_utf8_lossy(&buf.kept[start..]).trim_end().to_owned()
    }
}

impl IsTerminal for LogPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for LogPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(LOG_PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogPipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogPipe {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Memory and table limits. Growing memory past the limit stops the run (rather than
/// failing the `memory.grow`), so the error names the limit instead of whatever the
/// module's allocator does when it runs out.
pub(crate) struct Limiter {
    memory_bytes: usize,
}

/// Most table elements (function pointers) a module may have.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            return Err(wasmtime::Error::new(Stop::Memory));
        }
        Ok(maximum.is_none_or(|max| desired <= max))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS && maximum.is_none_or(|max| desired <= max))
    }

    /// The module and the shim.
    fn instances(&self) -> usize {
        2
    }

    fn tables(&self) -> usize {
        4
    }

    fn memories(&self) -> usize {
        1
    }
}

/// wasmtime-wasi's own versions of the functions this module wraps, reached through the
/// run's shim instance (see [`SHIM`]).
#[derive(Clone)]
pub(crate) struct Originals {
    fd_write: TypedFunc<(i32, i32, i32, i32), i32>,
    fd_pwrite: TypedFunc<(i32, i32, i32, i64, i32), i32>,
    fd_filestat_get: TypedFunc<(i32, i32), i32>,
    path_filestat_get: TypedFunc<(i32, i32, i32, i32, i32), i32>,
    fd_filestat_set_size: TypedFunc<(i32, i64), i32>,
}

/// wasmtime-wasi's functions find the guest's memory through the instance that calls them,
/// so a wrapper (a host function) cannot call them directly. It calls them through this
/// shim instead: instantiated per run on the guest's memory, it re-exports that memory and
/// forwards each call to the original.
const SHIM: &str = r#"(module
  (import "guest" "memory" (memory 0))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite" (func $fd_pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_get" (func $fd_filestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get"
    (func $path_filestat_get (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_size" (func $fd_filestat_set_size (param i32 i64) (result i32)))
  (export "memory" (memory 0))
  (func (export "fd_write") (param i32 i32 i32 i32) (result i32)
    (call $fd_write (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "fd_pwrite") (param i32 i32 i32 i64 i32) (result i32)
    (call $fd_pwrite (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
  (func (export "fd_filestat_get") (param i32 i32) (result i32)
    (call $fd_filestat_get (local.get 0) (local.get 1)))
  (func (export "path_filestat_get") (param i32 i32 i32 i32 i32) (result i32)
    (call $path_filestat_get (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
  (func (export "fd_filestat_set_size") (param i32 i64) (result i32)
    (call $fd_filestat_set_size (local.get 0) (local.get 1))))"#;

/// The functions the shim forwards, in the order it imports them.
const WRAPPED: [&str; 5] =
    ["fd_write", "fd_pwrite", "fd_filestat_get", "path_filestat_get", "fd_filestat_set_size"];

/// Everything a run's store holds.
pub(crate) struct State {
    wasi: WasiP1Ctx,
    limiter: Limiter,
    log: LogPipe,
    clock: VirtualClock,
    originals: Option<Originals>,
    /// Bytes written to files so far.
    written: u64,
    max_output: u64,
    /// Host (device, inode) → the inode number the guest sees.
    inodes: HashMap<(u64, u64), u64>,
}

/// What a run's WASI context is built from.
pub(crate) struct WasiSetup<'a> {
    pub(crate) args: &'a [String],
    /// (host path, guest path, writable)
    pub(crate) preopens: Vec<(&'a std::path::Path, &'static str, bool)>,
    pub(crate) seed: u64,
    pub(crate) log: LogPipe,
    pub(crate) memory_bytes: u64,
    pub(crate) max_output: u64,
}

impl State {
    pub(crate) fn new(setup: WasiSetup<'_>) -> wasmtime::Result<Self> {
        let clock = VirtualClock::default();
        let mut builder = WasiCtxBuilder::new();
        builder
            .arg("algorithm")
            .args(setup.args)
            .stdout(setup.log.clone())
            .stderr(setup.log.clone())
            .allow_blocking_current_thread(true)
            .wall_clock(WallClock(clock.clone()))
            .monotonic_clock(clock.clone())
            .secure_random(seeded_rng(setup.seed, b"secure"))
            .insecure_random(seeded_rng(setup.seed, b"insecure"))
            .insecure_random_seed(insecure_seed(setup.seed))
            // Sockets: WASI p1 cannot create them and none is inherited; deny the p2 paths too.
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        for (host, guest, writable) in setup.preopens {
            let perms =
                if writable { wasmtime_wasi::FsPerms::ReadWrite } else { wasmtime_wasi::FsPerms::ReadOnly };
            builder.preopened_dir(host, guest, perms)?;
        }
        Ok(Self {
            wasi: builder.build_p1(),
            limiter: Limiter { memory_bytes: usize::try_from(setup.memory_bytes).unwrap_or(usize::MAX) },
            log: setup.log,
            clock,
            originals: None,
            written: 0,
            max_output: setup.max_output,
            inodes: HashMap::new(),
        })
    }

    pub(crate) fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limiter
    }

    /// Records `n` bytes that an `fd_write` reported, of which those that did not reach the
    /// log went to a file.
    fn count_written(&mut self, n: u32, log_before: u64) -> wasmtime::Result<()> {
        let to_log = self.log.received().saturating_sub(log_before);
        self.written = self.written.saturating_add(u64::from(n).saturating_sub(to_log));
        if self.written > self.max_output { Err(wasmtime::Error::new(Stop::Output)) } else { Ok(()) }
    }

    fn guest_inode(&mut self, dev: u64, ino: u64) -> u64 {
        let next = self.inodes.len() as u64 + 1;
        *self.inodes.entry((dev, ino)).or_insert(next)
    }
}

/// A ChaCha20 stream keyed by SHA-256 of the run's seed and the stream's purpose.
fn seeded_rng(seed: u64, purpose: &[u8]) -> chacha20::ChaCha20Rng {
    use chacha20::rand_core::SeedableRng;
    chacha20::ChaCha20Rng::from_seed(derive_seed(seed, purpose))
}

fn insecure_seed(seed: u64) -> u128 {
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&derive_seed(seed, b"insecure-seed")[..16]);
    u128::from_le_bytes(bytes)
}

fn derive_seed(seed: u64, purpose: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"agora-sandbox/random/v1/");
    h.update(purpose);
    h.update(seed.to_le_bytes());
    h.finalize().into()
}

/// The linkers every run uses: `base` is wasmtime-wasi alone, `full` adds this module's
/// replacements on top; and the compiled shim.
#[derive(Clone)]
pub(crate) struct Linkers {
    base: Linker<State>,
    full: Linker<State>,
    shim: Module,
    /// The `wasi_snapshot_preview1` function names a module may import.
    names: Arc<BTreeSet<String>>,
}

impl Linkers {
    pub(crate) fn new(engine: &Engine) -> wasmtime::Result<Self> {
        let mut base = Linker::new(engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut base, |s: &mut State| &mut s.wasi)?;
        let mut full = base.clone();
        full.allow_shadowing(true);
        full.func_wrap(WASI, "fd_write", fd_write)?;
        full.func_wrap(WASI, "fd_pwrite", fd_pwrite)?;
        full.func_wrap(WASI, "fd_filestat_get", fd_filestat_get)?;
        full.func_wrap(WASI, "path_filestat_get", path_filestat_get)?;
        full.func_wrap(WASI, "fd_filestat_set_size", fd_filestat_set_size)?;
        full.func_wrap(WASI, "path_symlink", path_symlink)?;
        full.func_wrap(WASI, "poll_oneoff", poll_oneoff)?;
        full.allow_shadowing(false);
        let shim = Module::new(engine, wat::parse_str(SHIM)?)?;

        let scratch = State::new(WasiSetup {
            args: &[],
            preopens: Vec::new(),
            seed: 0,
            log: LogPipe::new(0),
            memory_bytes: 0,
            max_output: 0,
        })?;
        let mut store = Store::new(engine, scratch);
        let names =
            full.iter(&mut store).filter(|(m, _, _)| *m == WASI).map(|(_, n, _)| n.to_owned()).collect();
        Ok(Self { base, full, shim, names: Arc::new(names) })
    }

    pub(crate) fn names(&self) -> &BTreeSet<String> {
        &self.names
    }

    pub(crate) fn linker(&self) -> &Linker<State> {
        &self.full
    }

    /// Instantiates the shim on the guest's `memory`, so the wrappers can reach
    /// wasmtime-wasi's originals. Until then (in a module's start function) they trap.
    pub(crate) fn bind_originals(&self, store: &mut Store<State>, memory: Memory) -> wasmtime::Result<()> {
        let mut imports = vec![Extern::Memory(memory)];
        for name in WRAPPED {
            imports.push(self.base.get(&mut *store, WASI, name)?);
        }
        let shim = Instance::new(&mut *store, &self.shim, &imports)?;
        let originals = Originals {
            fd_write: shim.get_typed_func(&mut *store, "fd_write")?,
            fd_pwrite: shim.get_typed_func(&mut *store, "fd_pwrite")?,
            fd_filestat_get: shim.get_typed_func(&mut *store, "fd_filestat_get")?,
            path_filestat_get: shim.get_typed_func(&mut *store, "path_filestat_get")?,
            fd_filestat_set_size: shim.get_typed_func(&mut *store, "fd_filestat_set_size")?,
        };
        store.data_mut().originals = Some(originals);
        Ok(())
    }
}

fn originals(caller: &Caller<'_, State>) -> wasmtime::Result<Originals> {
    caller.data().originals.clone().ok_or_else(|| {
        wasmtime::format_err!(
            "this WASI function cannot be called from a module's start function, only from `_start`"
        )
    })
}

fn memory(caller: &mut Caller<'_, State>) -> wasmtime::Result<Memory> {
    caller
        .get_export("memory")
        .and_then(Extern::into_memory)
        .ok_or_else(|| wasmtime::format_err!("the module exports no memory"))
}

/// The guest-memory range `[ptr, ptr + len)`, or `None` when it is out of bounds.
fn range(data: &[u8], ptr: i32, len: usize) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(ptr as u32).ok()?;
    let end = start.checked_add(len)?;
    (end <= data.len()).then_some(start..end)
}

fn read_u32(caller: &mut Caller<'_, State>, ptr: i32) -> wasmtime::Result<u32> {
    let mem = memory(caller)?;
    let data = mem.data(&*caller);
    let r = range(data, ptr, 4).ok_or_else(|| wasmtime::format_err!("pointer out of bounds"))?;
    let mut b = [0; 4];
    b.copy_from_slice(&data[r]);
    Ok(u32::from_le_bytes(b))
}

fn fd_write(
    mut caller: Caller<'_, State>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    nwritten: i32,
) -> wasmtime::Result<i32> {
    let orig = originals(&caller)?.fd_write;
    let log_before = caller.data().log.received();
    let errno = orig.call(&mut caller, (fd, iovs, iovs_len, nwritten))?;
    if errno == ERRNO_SUCCESS {
        let n = read_u32(&mut caller, nwritten)?;
        caller.data_mut().count_written(n, log_before)?;
    }
    Ok(errno)
}

fn fd_pwrite(
    mut caller: Caller<'_, State>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    offset: i64,
    nwritten: i32,
) -> wasmtime::Result<i32> {
    // A write far past the end would make a sparse file the size of the offset.
    if offset as u64 > caller.data().max_output {
        return Err(wasmtime::Error::new(Stop::Output));
    }
    let orig = originals(&caller)?.fd_pwrite;
    let log_before = caller.data().log.received();
    let errno = orig.call(&mut caller, (fd, iovs, iovs_len, offset, nwritten))?;
    if errno == ERRNO_SUCCESS {
        let n = read_u32(&mut caller, nwritten)?;
        caller.data_mut().count_written(n, log_before)?;
    }
    Ok(errno)
}

fn fd_filestat_set_size(mut caller: Caller<'_, State>, fd: i32, size: i64) -> wasmtime::Result<i32> {
    if size as u64 > caller.data().max_output {
        return Err(wasmtime::Error::new(Stop::Output));
    }
    let orig = originals(&caller)?.fd_filestat_set_size;
    orig.call(&mut caller, (fd, size))
}

fn fd_filestat_get(mut caller: Caller<'_, State>, fd: i32, buf: i32) -> wasmtime::Result<i32> {
    let orig = originals(&caller)?.fd_filestat_get;
    let errno = orig.call(&mut caller, (fd, buf))?;
    if errno == ERRNO_SUCCESS {
        scrub_filestat(&mut caller, buf)?;
    }
    Ok(errno)
}

fn path_filestat_get(
    mut caller: Caller<'_, State>,
    fd: i32,
    flags: i32,
    path: i32,
    path_len: i32,
    buf: i32,
) -> wasmtime::Result<i32> {
    let orig = originals(&caller)?.path_filestat_get;
    let errno = orig.call(&mut caller, (fd, flags, path, path_len, buf))?;
    if errno == ERRNO_SUCCESS {
        scrub_filestat(&mut caller, buf)?;
    }
    Ok(errno)
}

/// Rewrites a `filestat` (dev u64, ino u64, filetype u8, nlink u64, size u64, atim, mtim,
/// ctim u64) so that nothing in it depends on the host.
fn scrub_filestat(caller: &mut Caller<'_, State>, buf: i32) -> wasmtime::Result<()> {
    let mem = memory(caller)?;
    let r =
        range(mem.data(&*caller), buf, 64).ok_or_else(|| wasmtime::format_err!("filestat out of bounds"))?;
    let field = |data: &[u8], at: usize| {
        let mut b = [0; 8];
        b.copy_from_slice(&data[r.start + at..r.start + at + 8]);
        u64::from_le_bytes(b)
    };
    let (dev, ino) = {
        let data = mem.data(&*caller);
        (field(data, 0), field(data, 8))
    };
    let guest_ino = caller.data_mut().guest_inode(dev, ino);
    let data = mem.data_mut(&mut *caller);
    let mut put = |at: usize, v: u64| data[r.start + at..r.start + at + 8].copy_from_slice(&v.to_le_bytes());
    put(0, 0);
    put(8, guest_ino);
    put(24, 1);
    put(40, WALL_CLOCK_START_NS);
    put(48, WALL_CLOCK_START_NS);
    put(56, WALL_CLOCK_START_NS);
    Ok(())
}

fn path_symlink(_: Caller<'_, State>, _: i32, _: i32, _: i32, _: i32, _: i32) -> i32 {
    ERRNO_PERM
}

/// `poll_oneoff` on virtual time: never blocks. If any fd subscription is present, all fd
/// subscriptions are reported ready (files, the log pipes and the closed stdin always are);
/// otherwise the earliest clock subscription fires and the clock jumps to its deadline.
fn poll_oneoff(
    mut caller: Caller<'_, State>,
    subs: i32,
    events: i32,
    nsubs: i32,
    nevents: i32,
) -> wasmtime::Result<i32> {
    const SUB: usize = 48;
    const EVENT: usize = 32;
    const CLOCK: u8 = 0;
    const FD_READ: u8 = 1;
    const FD_WRITE: u8 = 2;
    const ABSTIME: u16 = 1;
    const REALTIME: u32 = 0;

    let n = nsubs as u32 as usize;
    if n == 0 {
        return Ok(ERRNO_INVAL);
    }
    let mem = memory(&mut caller)?;
    let now = caller.data().clock.peek();
    let data = mem.data(&caller);
    let Some(in_range) = n.checked_mul(SUB).and_then(|len| range(data, subs, len)) else {
        return Ok(ERRNO_FAULT);
    };
    let input = &data[in_range];
    let u64_at = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or_default());

    // (userdata, type) of each event to report, and the clock deadline to move to.
    let mut ready: Vec<(u64, u8)> = Vec::new();
    let mut earliest: Option<(u64, u64)> = None;
    for sub in input.chunks_exact(SUB) {
        let userdata = u64_at(sub, 0);
        match sub[8] {
            CLOCK => {
                let id = u32::from_le_bytes(sub[16..20].try_into().unwrap_or_default());
                let timeout = u64_at(sub, 24);
                let flags = u16::from_le_bytes(sub[40..42].try_into().unwrap_or_default());
                let deadline = match (flags & ABSTIME != 0, id) {
                    (true, REALTIME) => timeout.saturating_sub(WALL_CLOCK_START_NS),
                    (true, _) => timeout,
                    (false, _) => now.saturating_add(timeout),
                };
                if earliest.is_none_or(|(_, d)| deadline < d) {
                    earliest = Some((userdata, deadline));
                }
            }
            tag @ (FD_READ | FD_WRITE) => ready.push((userdata, tag)),
            _ => return Ok(ERRNO_INVAL),
        }
    }
    if ready.is_empty()
        && let Some((userdata, deadline)) = earliest
    {
        caller.data().clock.advance_to(deadline);
        ready.push((userdata, CLOCK));
    }

    let data = mem.data_mut(&mut caller);
    let Some(out_range) = range(data, events, ready.len() * EVENT) else {
        return Ok(ERRNO_FAULT);
    };
    for (event, (userdata, tag)) in data[out_range].chunks_exact_mut(EVENT).zip(&ready) {
        event.fill(0);
        event[0..8].copy_from_slice(&userdata.to_le_bytes());
        event[10] = *tag;
    }
    let Some(count) = range(data, nevents, 4) else {
        return Ok(ERRNO_FAULT);
    };
    data[count].copy_from_slice(&(ready.len() as u32).to_le_bytes());
    Ok(ERRNO_SUCCESS)
}
