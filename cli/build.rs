//! Records the git revision the binary was built from, for the deployment manifest.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/refs/heads");
    let revision = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok());
    if let Some(revision) = revision.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()) {
        println!("cargo:rustc-env=AGORA_GIT_REVISION={revision}");
    }
}
