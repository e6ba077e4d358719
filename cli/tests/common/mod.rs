//! Shared by the CLI's tests: running the built binary and reading what it printed.
#![allow(dead_code, unreachable_pub)]

use std::process::{Command, Output};

/// anvil's first dev account, a well-known test key.
pub const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Its address.
pub const DEV_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

/// The pinned anvil; a missing binary fails the test, never skips it.
pub fn anvil_path() -> std::path::PathBuf {
    agora_deploy::services::anvil::binary_path().unwrap_or_else(|err| panic!("{err}"))
}

/// Runs `command` to completion.
pub fn run(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|err| panic!("running agora: {err}"))
}

/// What the command printed on stdout.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What the command printed on stderr.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fails unless the command exited with code 1 and exactly one line, `error: …`, that contains `needle`.
pub fn assert_one_line_error(output: &Output, needle: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "stdout: {} stderr: {err}", stdout(output));
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("error: ") && err.contains(needle), "expected {needle:?} in {err}");
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|err| panic!("binding: {err}"));
    listener.local_addr().unwrap_or_else(|err| panic!("local address: {err}")).port()
}

/// The JSON a successful `agora --json …` printed; fails the test with its stderr otherwise.
pub fn json_of(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "agora failed: {}", stderr(output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| panic!("{err}: {}", stdout(output)))
}

/// A long-running `agora` child (e.g. `agora provider run`), killed when dropped.
pub struct Background(pub std::process::Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
