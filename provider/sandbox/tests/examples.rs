//! The example algorithms in examples/algorithms/, built by scripts/build-algorithms.sh and
//! run in the sandbox: their numbers are right, and the same job gives the same hash.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use agora_sandbox::validate_module;
use common::{Job, algorithm, examples_sandbox};
use serde_json::Value;

fn stats_of(run_out: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(run_out.join("stats.json")).unwrap()).unwrap()
}

fn column<'a>(stats: &'a Value, name: &str) -> &'a Value {
    stats["columns"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()
}

fn assert_close(value: &Value, expected: f64) {
    let got = value.as_f64().unwrap_or_else(|| panic!("{value} is not a number"));
    assert!((got - expected).abs() < 1e-12, "{got} != {expected}");
}

#[test]
fn stats_go_computes_the_fixture_statistics() {
    let module = algorithm("stats-go");
    let info = validate_module(&module).unwrap();
    let job = Job::csv();
    let sandbox = examples_sandbox();
    let out = job.fresh_out();
    let run = job.run_into(sandbox, &module, &[], 1, &out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.module_digest, info.digest);
    assert_eq!(run.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["stats.json"]);

    let stats = stats_of(&out);
    assert_eq!(stats["dataset"], "people.csv");
    assert_eq!(stats["format"], "csv");
    assert_eq!(stats["rows"], 6);
    let names: Vec<&str> =
        stats["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["id", "height", "weight", "city"]);

    let id = column(&stats, "id");
    assert_eq!((id["count"].as_u64(), id["missing"].as_u64()), (Some(6), Some(0)));
    assert_eq!(id["numeric"]["count"], 6);
    assert_close(&id["numeric"]["min"], 1.0);
    assert_close(&id["numeric"]["max"], 6.0);
    assert_close(&id["numeric"]["mean"], 3.5);
    assert_close(&id["numeric"]["stddev"], 3.5f64.sqrt());
    assert!(id.get("top").is_none(), "numeric columns list no frequent values");

    let height = column(&stats, "height");
    assert_eq!(height["missing"], 1);
    assert_eq!(height["numeric"]["count"], 5);
    assert_close(&height["numeric"]["min"], 1.65);
    assert_close(&height["numeric"]["max"], 1.90);
    assert_close(&height["numeric"]["mean"], 1.76);
    assert_close(&height["numeric"]["stddev"], (0.037f64 / 4.0).sqrt());

    let weight = column(&stats, "weight");
    assert_eq!(weight["missing"], 1);
    assert_close(&weight["numeric"]["mean"], 76.5);
    assert_close(&weight["numeric"]["stddev"], (545.0f64 / 4.0).sqrt());

    let city = column(&stats, "city");
    assert_eq!(city["non_numeric"], 6);
    assert!(city.get("numeric").is_none());
    assert_eq!(city["distinct"], 3);
    assert_eq!(city["distinct_capped"], false);
    assert_eq!(
        city["top"],
        serde_json::json!([
            {"value": "Paris", "count": 3},
            {"value": "Berlin", "count": 2},
            {"value": "Rome", "count": 1},
        ])
    );

    // Same job again: same bytes, same fuel.
    let again = job.run(sandbox, &module, &[], 1).unwrap();
    assert_eq!(again.output_hash, run.output_hash);
    assert_eq!(again.fuel_used, run.fuel_used);
    assert!(job.leftovers().is_empty());
}

#[test]
fn stats_go_takes_columns_and_reads_jsonl() {
    let module = algorithm("stats-go");
    let sandbox = examples_sandbox();
    let job = Job::csv();
    let out = job.fresh_out();
    job.run_into(sandbox, &module, &["-columns", "city,weight"], 0, &out).unwrap();
    let names: Vec<String> = stats_of(&out)["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["city", "weight"]);

    let err = job.run(sandbox, &module, &["-columns", "nope"], 0).unwrap_err();
    assert!(
        matches!(&err, agora_sandbox::SandboxError::Exit { code: 1, log_tail } if log_tail.contains("no column \"nope\"")),
        "{err}"
    );

    let jsonl =
        Job::new("rows.jsonl", b"{\"a\": 1, \"b\": \"x\"}\n{\"b\": null, \"c\": true}\n{\"a\": 2.5}\n");
    let out = jsonl.fresh_out();
    jsonl.run_into(sandbox, &module, &[], 0, &out).unwrap();
    let stats = stats_of(&out);
    assert_eq!(stats["format"], "jsonl");
    assert_eq!(stats["rows"], 3);
    let a = column(&stats, "a");
    assert_eq!(a["missing"], 1);
    assert_close(&a["numeric"]["mean"], 1.75);
    assert_eq!(column(&stats, "b")["missing"], 2);
    assert_eq!(column(&stats, "c")["top"][0]["value"], "true");
}

#[test]
fn stats_go_reads_quoted_csv() {
    let csv = "name,note,n\r\n\"Smith, J\",\"said \"\"hi\"\"\",1\r\n\"multi\nline\",plain,2\r\n\n,n/a,3\n";
    let job = Job::new("quoted.csv", csv.as_bytes());
    let out = job.fresh_out();
    job.run_into(examples_sandbox(), &algorithm("stats-go"), &[], 0, &out).unwrap();
    let stats = stats_of(&out);
    assert_eq!(stats["rows"], 3);
    let values = |name: &str| -> Vec<String> {
        column(&stats, name)["top"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["value"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(values("name"), ["Smith, J", "multi\nline"]);
    assert_eq!(column(&stats, "name")["missing"], 1);
    assert_eq!(values("note"), ["n/a", "plain", "said \"hi\""]);
    // A numeric column's frequent values are its non-numeric ones.
    let n = column(&stats, "n");
    assert_close(&n["numeric"]["mean"], 2.0);
    assert!(n.get("top").is_none());
}

#[test]
fn stats_go_gives_the_same_hash_in_another_process() {
    let job = Job::csv();
    let run = job.run(examples_sandbox(), &algorithm("stats-go"), &[], 3).unwrap();
    if common::is_child() {
        println!("CHILD_RESULT {} {}", run.output_hash, run.fuel_used);
        return;
    }
    let child = common::in_child_process("stats_go_gives_the_same_hash_in_another_process");
    assert_eq!(child, format!("{} {}", run.output_hash, run.fuel_used));
}

/// Three tight blobs of 40 points around (0, 0), (10, 0) and (0, 10), plus a text column and
/// a row with a missing value.
fn blobs() -> String {
    let mut csv = String::from("x,y,label\n");
    for (cx, cy) in [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)] {
        for i in 0..40 {
            let (dx, dy) = (f64::from(i % 7) * 0.1 - 0.3, f64::from(i % 5) * 0.1 - 0.2);
            csv.push_str(&format!("{},{},p{i}\n", cx + dx, cy + dy));
        }
    }
    csv.push_str("5,,missing\n");
    csv
}

#[test]
fn kmeans_rust_finds_the_blobs_deterministically() {
    let module = algorithm("kmeans-rust");
    validate_module(&module).unwrap();
    let job = Job::new("blobs.csv", blobs().as_bytes());
    let sandbox = examples_sandbox();
    let out = job.fresh_out();
    let run = job.run_into(sandbox, &module, &["--k", "3"], 11, &out).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = run.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["assignments.csv", "kmeans.json"]);

    let report: Value = serde_json::from_slice(&std::fs::read(out.join("kmeans.json")).unwrap()).unwrap();
    assert_eq!(report["columns"], serde_json::json!(["x", "y"]));
    assert_eq!((report["rows"].as_u64(), report["rows_used"].as_u64()), (Some(121), Some(120)));
    assert_eq!(report["converged"], true);
    let mut centroids: Vec<(u64, f64, f64)> = report["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["size"].as_u64().unwrap(),
                c["centroid"][0].as_f64().unwrap(),
                c["centroid"][1].as_f64().unwrap(),
            )
        })
        .collect();
    centroids.sort_by(|a, b| (a.1 + 2.0 * a.2).total_cmp(&(b.1 + 2.0 * b.2)));
    for ((size, x, y), (cx, cy)) in centroids.iter().zip([(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)]) {
        assert_eq!(*size, 40);
        assert!((x - cx).abs() < 0.2 && (y - cy).abs() < 0.2, "centroid ({x}, {y}) is not near ({cx}, {cy})");
    }
    let assignments = std::fs::read_to_string(out.join("assignments.csv")).unwrap();
    assert_eq!(assignments.lines().count(), 121);

    // The seed reaches the module through random_get: the same seed gives the same bytes.
    let again = job.run(sandbox, &module, &["--k", "3"], 11).unwrap();
    assert_eq!(again.output_hash, run.output_hash);
    assert_eq!(report["seed"], again_seed(&job, sandbox, &module, 11));
    assert_ne!(again_seed(&job, sandbox, &module, 11), again_seed(&job, sandbox, &module, 12));
}

/// The k-means++ seed the module drew from `random_get` in a run with this job seed.
fn again_seed(job: &Job, sandbox: &agora_sandbox::Sandbox, module: &[u8], seed: u64) -> Value {
    let out = job.fresh_out();
    job.run_into(sandbox, module, &["--no-assignments"], seed, &out).unwrap();
    let report: Value = serde_json::from_slice(&std::fs::read(out.join("kmeans.json")).unwrap()).unwrap();
    report["seed"].clone()
}
