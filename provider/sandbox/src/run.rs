//! Running a module: compile (or reuse), stage the mounts, run `_start` under the limits with
//! a ticker beside it, then check and hash what it wrote.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::{Engine, Module, Store, Trap, UpdateDeadline};
use wasmtime_wasi::I32Exit;

use crate::host::{Linkers, LogPipe, State, Stop, StopFlag, WasiSetup};
use crate::mounts::{DataDir, OutDir};
use crate::{Limits, Mounts, OutputFile, SandboxError, module};

/// What a successful run gives back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    /// The files in the output folder, sorted by name.
    pub files: Vec<OutputFile>,
    /// Their output hash, as [`agora_runtime::hash_dir`] computes it.
    pub output_hash: String,
    /// SHA-256 of the module's bytes, lowercase hex.
    pub module_digest: String,
    /// stdout and stderr, interleaved, up to [`Limits::max_log_bytes`].
    pub log: Vec<u8>,
    /// Whether the log was cut at the limit.
    pub log_truncated: bool,
    /// Fuel consumed: the same for the same module and inputs on every machine.
    pub fuel_used: u64,
    /// The exit status: 0, whether `_start` returned or the module called `proc_exit(0)`
    /// (any other status is [`SandboxError::Exit`]).
    pub exit_code: i32,
}

/// How often the ticker wakes: the granularity of the time limit and of cancellation.
const TICK: Duration = Duration::from_millis(10);
/// The ticker measures `/out` every this many ticks.
const MEASURE_EVERY: u32 = 5;
/// Compiled modules kept, by digest.
const CACHED_MODULES: usize = 4;
/// How much of the log an [`SandboxError::Exit`] or [`SandboxError::Trap`] carries.
const LOG_TAIL: usize = 2048;
/// Longest trap message kept (wasmtime's include a backtrace).
const TRAP_MESSAGE: usize = 4096;

/// Runs algorithms under one set of [`Limits`]. Cheap to share: `run` takes `&self`, and runs
/// on different threads do not interfere. Keeps the last few compiled modules, so running the
/// same algorithm again skips compilation.
pub struct Sandbox {
    limits: Limits,
    engine: Engine,
    linkers: Linkers,
    cache: Mutex<Vec<(String, Module)>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl Sandbox {
    /// A sandbox with these limits.
    pub fn new(limits: Limits) -> Result<Self, SandboxError> {
        let engine = module::engine()?;
        let linkers = Linkers::new(&engine).map_err(|e| SandboxError::internal("setting up WASI", e))?;
        Ok(Self { limits, engine, linkers, cache: Mutex::new(Vec::new()) })
    }

    /// The limits runs are held to.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Runs `module` over `mounts` with `args` and the job's `seed`, writing into `out_dir`
    /// (which must be empty or not exist yet). Stops early with
    /// [`SandboxError::Cancelled`] once `cancel` is set. See the crate docs for what the
    /// module sees and how each limit is enforced.
    pub fn run(
        &self,
        module: &[u8],
        mounts: &Mounts<'_>,
        args: &[String],
        seed: u64,
        out_dir: &Path,
        cancel: Option<&AtomicBool>,
    ) -> Result<Run, SandboxError> {
        // A panic in wasmtime or here must fail this run, not the provider serving others.
        catch_unwind(AssertUnwindSafe(|| self.run_inner(module, mounts, args, seed, out_dir, cancel)))
            .unwrap_or_else(|panic| {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_owned());
                Err(SandboxError::Internal(format!("the sandbox panicked: {msg}")))
            })
    }

    fn run_inner(
        &self,
        bytes: &[u8],
        mounts: &Mounts<'_>,
        args: &[String],
        seed: u64,
        out_dir: &Path,
        cancel: Option<&AtomicBool>,
    ) -> Result<Run, SandboxError> {
        let started = Instant::now();
        let cancelled = || cancel.is_some_and(|c| c.load(Ordering::Relaxed));
        if cancelled() {
            return Err(SandboxError::Cancelled);
        }
        let size = bytes.len() as u64;
        if size > self.limits.max_module_bytes {
            return Err(SandboxError::ModuleTooLarge { size, limit: self.limits.max_module_bytes });
        }
        let digest = module::digest(bytes);
        let module = self.compile(bytes, &digest)?;
        if let Some(model) = mounts.model {
            crate::mounts::check_model(model)?;
        }
        let out = OutDir::prepare(out_dir)?;
        let data = match DataDir::stage(mounts.data) {
            Ok(data) => data,
            Err(e) => return Err(discard_then(&out, e)),
        };
        let log = LogPipe::new(self.limits.max_log_bytes);
        let result = self.execute(&module, mounts, &data, &out, args, seed, &log, started, cancel);
        let removed = data.remove();
        let result = result.and_then(|fuel_used| {
            removed?;
            if cancelled() {
                return Err(SandboxError::Cancelled);
            }
            out.verify(self.limits.max_output_bytes)?;
            Ok(fuel_used)
        });
        match result {
            Ok(fuel_used) => {
                let (files, output_hash) =
                    agora_runtime::hash_dir(out.path()).map_err(SandboxError::Output)?;
                let (log, log_truncated) = log.take();
                Ok(Run {
                    files,
                    output_hash,
                    module_digest: digest,
                    log,
                    log_truncated,
                    fuel_used,
                    exit_code: 0,
                })
            }
            Err(e) => Err(discard_then(&out, e)),
        }
    }

    /// The compiled module for `bytes`, from the cache or freshly compiled and checked.
    fn compile(&self, bytes: &[u8], digest: &str) -> Result<Module, SandboxError> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = cache.iter().position(|(d, _)| d == digest) {
            let entry = cache.remove(i);
            let module = entry.1.clone();
            cache.push(entry);
            return Ok(module);
        }
        // Compile without holding the lock: other runs may use cached modules meanwhile.
        drop(cache);
        let module = module::compile(&self.engine, bytes)?;
        module::check(&module, &self.linkers, bytes)?;
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHED_MODULES {
            cache.remove(0);
        }
        cache.push((digest.to_owned(), module.clone()));
        Ok(module)
    }

    /// Instantiates and runs `_start`; returns the fuel used.
    #[allow(clippy::too_many_arguments)]
    fn execute(
        &self,
        module: &Module,
        mounts: &Mounts<'_>,
        data: &DataDir,
        out: &OutDir,
        args: &[String],
        seed: u64,
        log: &LogPipe,
        started: Instant,
        cancel: Option<&AtomicBool>,
    ) -> Result<u64, SandboxError> {
        let limits = &self.limits;
        let mut preopens = vec![(data.path(), "/data", false), (out.path(), "/out", true)];
        if let Some(model) = mounts.model {
            preopens.push((model, "/model", false));
        }
        let state = State::new(WasiSetup {
            args,
            preopens,
            seed,
            log: log.clone(),
            memory_bytes: limits.memory_bytes,
            max_output: limits.max_output_bytes,
        })
        .map_err(|e| SandboxError::internal("setting up the WASI context", e))?;

        let stop = Arc::new(StopFlag::default());
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| s.limiter());
        store.set_fuel(limits.fuel).map_err(|e| SandboxError::internal("setting fuel", e))?;
        store.set_epoch_deadline(1);
        let flag = Arc::clone(&stop);
        store.epoch_deadline_callback(move |_| match flag.get() {
            Some(stop) => Err(wasmtime::Error::new(stop)),
            None => Ok(UpdateDeadline::Continue(1)),
        });

        let deadline = started.checked_add(limits.max_duration);
        let outcome = std::thread::scope(|scope| {
            let (done, ticks) = mpsc::channel::<()>();
            let ticker = Ticker {
                engine: &self.engine,
                stop: &stop,
                cancel,
                deadline,
                out_dir: out.path(),
                max_output: limits.max_output_bytes,
            };
            scope.spawn(move || ticker.run(&ticks));
            let outcome = self.linkers.linker().instantiate(&mut store, module).and_then(|instance| {
                let memory = instance
                    .get_memory(&mut store, "memory")
                    .ok_or_else(|| wasmtime::format_err!("the module exports no memory"))?;
                self.linkers.bind_originals(&mut store, memory)?;
                instance.get_typed_func::<(), ()>(&mut store, "_start")?.call(&mut store, ())
            });
            drop(done);
            outcome
        });
        let fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        match outcome {
            Ok(()) => Ok(fuel_used),
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(I32Exit(0)) => Ok(fuel_used),
                _ => Err(self.classify(&e, log)),
            },
        }
    }

    /// The error for a run that ended with `e`.
    fn classify(&self, e: &wasmtime::Error, log: &LogPipe) -> SandboxError {
        let limits = &self.limits;
        if let Some(I32Exit(code)) = e.downcast_ref::<I32Exit>() {
            return SandboxError::Exit { code: *code, log_tail: log.tail(LOG_TAIL) };
        }
        if let Some(stop) = e.downcast_ref::<Stop>() {
            return match stop {
                Stop::Timeout => SandboxError::Timeout { seconds: limits.max_duration.as_secs_f64() },
                Stop::Cancelled => SandboxError::Cancelled,
                Stop::Output => SandboxError::OutputTooLarge { limit: limits.max_output_bytes },
                Stop::Memory => SandboxError::MemoryLimit { limit: limits.memory_bytes },
            };
        }
        if let Some(Trap::OutOfFuel) = e.downcast_ref::<Trap>() {
            return SandboxError::FuelExhausted { limit: limits.fuel };
        }
        let mut message = format!("{e:#}");
        if message.len() > TRAP_MESSAGE {
            let mut cut = TRAP_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str(" …");
        }
        SandboxError::Trap { message, log_tail: log.tail(LOG_TAIL) }
    }
}

/// Empties the output folder after a failure; the failure is what the caller hears about.
fn discard_then(out: &OutDir, e: SandboxError) -> SandboxError {
    match out.discard() {
        Ok(()) => e,
        // The run failed and its partial output could not be removed: say both.
        Err(cleanup) => SandboxError::Internal(format!("{e}; removing the partial output failed: {cleanup}")),
    }
}

/// The thread beside a run: advances the engine's epoch every [`TICK`] and raises a stop
/// when the run is cancelled, out of time, or has put too much in `/out`.
struct Ticker<'a> {
    engine: &'a Engine,
    stop: &'a StopFlag,
    cancel: Option<&'a AtomicBool>,
    deadline: Option<Instant>,
    out_dir: &'a Path,
    max_output: u64,
}

impl Ticker<'_> {
    fn run(self, done: &mpsc::Receiver<()>) {
        let mut tick = 0u32;
        loop {
            match done.recv_timeout(TICK) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
            tick = tick.wrapping_add(1);
            if self.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                self.stop.set(Stop::Cancelled);
            } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
                self.stop.set(Stop::Timeout);
            } else if tick.is_multiple_of(MEASURE_EVERY)
                && crate::mounts::usage(self.out_dir, self.max_output) > self.max_output
            {
                self.stop.set(Stop::Output);
            }
            self.engine.increment_epoch();
        }
    }
}
