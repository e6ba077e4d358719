//! `train` then `predict`, on a small synthetic dataset.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use agora_runtime::{Inputs, JobSpec, PredictSpec, Summary, TrainSpec};
use common::{classification_csv, write};

fn train(spec: TrainSpec, dataset: &std::path::Path, out: &std::path::Path) -> agora_runtime::Outcome {
    agora_runtime::run(
        &JobSpec::Train(spec),
        &Inputs { dataset: dataset.to_owned(), model: None },
        out,
        |_| {},
    )
    .unwrap()
}

#[test]
fn logistic_regression_learns_and_predicts() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "train.csv", classification_csv(400));
    let model_dir = tmp.path().join("model");
    let outcome = train(TrainSpec { epochs: 30, ..TrainSpec::default() }, &dataset, &model_dir);
    let Summary::Train { train_rows, test_rows, final_loss, test_accuracy } = outcome.summary else {
        panic!("not a train summary: {:?}", outcome.summary);
    };
    assert_eq!((train_rows, test_rows), (320, 80));
    assert!(final_loss < 0.4, "loss {final_loss}");
    assert!(test_accuracy.unwrap() > 0.85, "accuracy {test_accuracy:?}");

    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model_dir.join("metrics.json")).unwrap()).unwrap();
    let losses: Vec<f64> =
        metrics["epochs"].as_array().unwrap().iter().map(|e| e["loss"].as_f64().unwrap()).collect();
    assert_eq!(losses.len(), 30);
    assert!(losses[29] < losses[0], "loss did not fall: {losses:?}");
    assert_eq!(metrics["classes"], serde_json::json!(["high", "low", "right"]));
    assert_eq!(metrics["features"], serde_json::json!(["x", "y"]));

    // Predict over rows with an id column and the features in another order.
    let mut csv = String::from("id,y,x\n");
    for (id, (x, y)) in [(1.8, 1.5), (-1.5, -1.5), (1.5, -1.5)].iter().enumerate() {
        csv.push_str(&format!("r{id},{y},{x}\n"));
    }
    let to_predict = write(tmp.path(), "predict.csv", csv);
    let out = tmp.path().join("predictions");
    let outcome = agora_runtime::run(
        &JobSpec::Predict(PredictSpec { id_column: Some("id".into()) }),
        &Inputs { dataset: to_predict, model: Some(model_dir) },
        &out,
        |_| {},
    )
    .unwrap();
    assert_eq!(outcome.summary, Summary::Predict { rows: 3 });
    let predictions = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    let lines: Vec<&str> = predictions.lines().collect();
    assert_eq!(lines[0], "id,prediction,p_high,p_low,p_right");
    let labels: Vec<&str> = lines[1..].iter().map(|l| l.split(',').nth(1).unwrap()).collect();
    assert_eq!(labels, ["high", "low", "right"]);
}

#[test]
fn mlp_learns() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "train.csv", classification_csv(300));
    let outcome = train(
        TrainSpec { hidden: 16, epochs: 40, learning_rate: 0.01, weight_decay: 0.01, ..TrainSpec::default() },
        &dataset,
        &tmp.path().join("model"),
    );
    let Summary::Train { test_accuracy, .. } = outcome.summary else {
        panic!("not a train summary");
    };
    assert!(test_accuracy.unwrap() > 0.85, "accuracy {test_accuracy:?}");

    let to_predict = write(tmp.path(), "p.csv", classification_csv(10));
    let outcome = agora_runtime::run(
        &JobSpec::Predict(PredictSpec::default()),
        &Inputs { dataset: to_predict, model: Some(tmp.path().join("model/model.safetensors")) },
        &tmp.path().join("out"),
        |_| {},
    )
    .unwrap();
    assert_eq!(outcome.summary, Summary::Predict { rows: 10 });
}

#[test]
fn predict_needs_the_model_feature_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "train.csv", classification_csv(50));
    train(TrainSpec::default(), &dataset, &tmp.path().join("model"));
    let to_predict = write(tmp.path(), "p.csv", "x,z\n1,2\n");
    let err = agora_runtime::run(
        &JobSpec::Predict(PredictSpec::default()),
        &Inputs { dataset: to_predict, model: Some(tmp.path().join("model")) },
        &tmp.path().join("out"),
        |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("no column `y`"), "{err}");
}
