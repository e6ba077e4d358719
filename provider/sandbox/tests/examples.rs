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

/// Every `"key": <number>` of a report, in order, read from the JSON text with Rust's correctly
/// rounded parser (serde_json's default float parsing may be an ulp off).
fn raw_numbers(report: &str, key: &str) -> Vec<f64> {
    let pattern = format!("\"{key}\": ");
    report
        .match_indices(&pattern)
        .map(|(at, _)| {
            let text = &report[at + pattern.len()..];
            text[..text.find([',', '\n']).unwrap()].parse().unwrap()
        })
        .collect()
}

#[test]
fn stats_go_parses_every_number_as_a_correctly_rounded_parser_does() {
    // Decimals of 1 to 24 digits with the point anywhere (or nowhere), signed or not, so both
    // the program's own fast path (up to 19 digits under 2^53) and strconv's take many; then the
    // edge cases. One column per pair of values: its min and max give both back, bit for bit.
    let mut state = 20u64;
    let mut next = move |n: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let mut values: Vec<String> = (0..20_000)
        .map(|_| {
            let len = 1 + next(24) as usize;
            let mut digits: String = (0..len).map(|_| char::from(b'0' + next(10) as u8)).collect();
            if next(4) > 0 {
                digits.insert(next(len as u64 + 1) as usize, '.');
            }
            let sign = ["", "-", "+"][next(3) as usize];
            format!("{sign}{digits}")
        })
        .collect();
    values.extend(
        [
            "-0",
            "+0.0",
            "0",
            "-.0",
            "1.",
            ".5",
            "9007199254740991",
            "9007199254740992",
            "9007199254740993",
            "9007199254740992.5",
            "0.1",
            "0.30000000000000004",
            "1234.5600000000002",
            "1e5",
            "-2.5E-3",
            "0.0000000000000000000001",
            "99999999999999999999",
            "18446744073709551616",
            "7.0e-22",
            "+3",
        ]
        .map(String::from),
    );
    // Neighbours share a column: -0 and +0.0 make one.
    let first: Vec<String> = values.iter().step_by(2).cloned().collect();
    let second: Vec<String> = values.iter().skip(1).step_by(2).cloned().collect();
    let row = |cells: &[String]| cells.join(",") + "\n";
    let header: Vec<String> = (0..first.len()).map(|i| format!("x{i}")).collect();
    let csv = row(&header) + &row(&first) + &row(&second);
    let job = Job::new("numbers.csv", csv.as_bytes());
    let out = job.fresh_out();
    job.run_into(examples_sandbox(), &algorithm("stats-go"), &[], 0, &out).unwrap();
    let report = std::fs::read_to_string(out.join("stats.json")).unwrap();

    let stats = stats_of(&out);
    let columns = stats["columns"].as_array().unwrap();
    assert_eq!(columns.len(), first.len());
    assert!(columns.iter().all(|c| c["numeric"]["count"] == 2), "every value is a number");
    let (mins, maxs) = (raw_numbers(&report, "min"), raw_numbers(&report, "max"));
    for (i, (a, b)) in first.iter().zip(&second).enumerate() {
        let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
        // -0 sorts below +0, as math.Min has it.
        let (min, max) = if a < b || a == b && a.is_sign_negative() { (a, b) } else { (b, a) };
        assert_eq!(mins[i].to_bits(), min.to_bits(), "column x{i} min: {} vs {}", mins[i], min);
        assert_eq!(maxs[i].to_bits(), max.to_bits(), "column x{i} max: {} vs {}", maxs[i], max);
    }
}
