//! The `agora` binary: parse the command line and run it; errors become one line and exit code 1.

use std::process::ExitCode;

use clap::Parser;

/// `job verify`, `provider run` and `dev` run jobs, which allocate a buffer per tensor op:
/// mimalloc reuses them where glibc returned them to the kernel and faulted them in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // SAFETY: first thing in main, before any other thread (`job verify` and `provider run`
    // compute with candle).
    unsafe { agora_runtime::tune_cpu_threads() };
    let cli = agora::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: starting the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(agora::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
