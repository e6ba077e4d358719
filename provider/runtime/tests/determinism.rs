//! The same job over the same inputs gives bit-identical outputs: twice in one process,
//! and in child processes with one and with two compute threads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use agora_runtime::{EmbedSpec, Inputs, JobSpec, PredictSpec, TrainSpec};
use common::{classification_csv, fixture, model_dir, write, write_jsonl};

/// Set in a child process: the folder to run [`jobs`] in.
const CHILD_ENV: &str = "AGORA_RUNTIME_DETERMINISM_CHILD";

/// Runs embed, train (MLP) and predict in `dir`; returns each job's output hash.
fn jobs(dir: &Path) -> Vec<String> {
    let sentences = fixture().sentences;
    let texts = write_jsonl(dir, "sentences.jsonl", &sentences);
    let table = write(dir, "train.csv", classification_csv(200));
    let run = |job: JobSpec, dataset: PathBuf, model: Option<PathBuf>, out: &str| {
        agora_runtime::run(&job, &Inputs { dataset, model }, &dir.join(out), |_| {}).unwrap().run.output_hash
    };
    vec![
        run(
            JobSpec::Embed(EmbedSpec { batch_size: 3, ..EmbedSpec::default() }),
            texts,
            Some(model_dir()),
            "embed",
        ),
        run(
            JobSpec::Train(TrainSpec { hidden: 8, epochs: 5, weight_decay: 0.01, ..TrainSpec::default() }),
            table.clone(),
            None,
            "train",
        ),
        run(JobSpec::Predict(PredictSpec::default()), table, Some(dir.join("train")), "predict"),
    ]
}

/// Not a test of its own: the body a child process runs (see `across_processes`).
#[test]
fn child_process_entry() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        let dir = Path::new(&dir);
        std::fs::write(dir.join("hashes"), jobs(dir).join(" ")).unwrap();
    }
}

#[test]
fn twice_in_one_process() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = jobs(a.path());
    assert_eq!(first, jobs(b.path()));
    for name in ["embed/embeddings.safetensors", "train/model.safetensors", "predict/predictions.csv"] {
        assert_eq!(
            std::fs::read(a.path().join(name)).unwrap(),
            std::fs::read(b.path().join(name)).unwrap(),
            "{name} differs"
        );
    }
}

#[test]
fn across_processes_and_thread_counts() {
    let here = tempfile::tempdir().unwrap();
    let expected = jobs(here.path());
    for threads in ["1", "2"] {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_process_entry", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "child failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let hashes: Vec<String> = std::fs::read_to_string(dir.path().join("hashes"))
            .expect("the child wrote its hashes")
            .split(' ')
            .map(str::to_owned)
            .collect();
        assert_eq!(hashes, expected, "with RAYON_NUM_THREADS={threads}");
    }
}

#[test]
fn output_hash_is_the_hash_of_the_sha256sum_listing() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "train.csv", classification_csv(30));
    let out = tmp.path().join("out");
    let outcome = agora_runtime::run(
        &JobSpec::Train(TrainSpec::default()),
        &Inputs { dataset, model: None },
        &out,
        |_| {},
    )
    .unwrap();
    let by_hand = Command::new("sh")
        .args(["-c", "cd \"$0\" && LC_ALL=C sha256sum $(LC_ALL=C ls) | sha256sum"])
        .arg(&out)
        .output()
        .unwrap();
    let by_hand = String::from_utf8(by_hand.stdout).unwrap();
    assert_eq!(by_hand.split_whitespace().next(), Some(outcome.run.output_hash.as_str()));
    assert_eq!(agora_runtime::hash_dir(&out).unwrap().1, outcome.run.output_hash);
}
