//! `agora dev` brings the whole system up (anvil, PostgreSQL, Kubo, contracts, indexer, provider,
//! demo catalogue) and Ctrl-C brings it down. Needs the workspace's binaries built next to
//! `agora` (as `cargo test --workspace` and ./scripts/dev.sh do).

mod common;

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use common::*;

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|err| panic!("bind: {err}"));
    listener.local_addr().map(|a| a.port()).unwrap_or_else(|err| panic!("{err}"))
}

fn get(url: &str) -> String {
    let out = run(Command::new("curl").args(["-sf", "--max-time", "5", url]));
    assert!(out.status.success(), "GET {url} failed: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn dev_brings_up_every_service_with_a_demo_catalogue_and_ctrl_c_stops_it() {
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_agora")).parent().map(|d| d.to_path_buf());
    for name in ["agora-indexer", "agora-provider"] {
        let path = bin_dir.clone().unwrap_or_default().join(name);
        assert!(path.is_file(), "{} missing: run `cargo build --workspace` first", path.display());
    }
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let (rpc, indexer, provider) = (free_port(), free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_agora"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .args(["dev", "--rpc-port", &rpc.to_string()])
        .args(["--indexer-listen", &format!("127.0.0.1:{indexer}")])
        .args(["--provider-listen", &format!("127.0.0.1:{provider}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("spawning agora dev: {err}"));

    let (lines_tx, lines_rx) = mpsc::channel();
    let stdout_pipe = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    std::thread::spawn(move || {
        for line in BufReader::new(stdout_pipe).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    loop {
        match lines_rx.recv_timeout(Duration::from_secs(180)) {
            Ok(line) if line.starts_with("ready") => break,
            Ok(line) => printed.push(line),
            Err(err) => {
                child.kill().ok();
                let errors = child.stderr.take().map(std::io::read_to_string).and_then(Result::ok);
                panic!("agora dev never became ready ({err}); it printed: {printed:#?}\n{errors:?}");
            }
        }
    }
    assert!(printed.iter().any(|l| l.contains("indexer API")), "{printed:#?}");

    // The provider answers; the indexer has indexed the demo catalogue with its metadata.
    assert!(get(&format!("http://127.0.0.1:{provider}/v1/info")).contains("\"chainId\":31337"));
    let mut assets = String::new();
    for _ in 0..100 {
        assets = get(&format!("http://127.0.0.1:{indexer}/assets"));
        if assets.contains("Finch field notes") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(assets.contains("Finch field notes (demo)"), "{assets}");

    let pid = child.id().to_string();
    assert!(run(Command::new("kill").args(["-INT", &pid])).status.success());
    let mut status = None;
    for _ in 0..100 {
        status = child.try_wait().unwrap_or_else(|err| panic!("{err}"));
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = status.unwrap_or_else(|| {
        child.kill().ok();
        panic!("agora dev did not stop within 20 s of Ctrl-C")
    });
    assert!(status.success(), "agora dev exited with {status}");
    // Its services went with it.
    let health = Command::new("curl")
        .args(["-sf", "--max-time", "2"])
        .arg(format!("http://127.0.0.1:{indexer}/health"))
        .output();
    assert!(health.map(|o| !o.status.success()).unwrap_or(true), "the indexer outlived agora dev");
}
