//! Bad and hostile inputs: each is a clear error, never a panic, never an allocation the
//! file's size does not justify.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use agora_runtime::{EmbedSpec, Inputs, JobSpec, Limits, PredictSpec, Runtime, RuntimeError, TrainSpec};
use common::{classification_csv, model_copy, write, write_jsonl};

fn embed(model: &Path, dataset: PathBuf, out: &Path) -> Result<(), RuntimeError> {
    agora_runtime::run(
        &JobSpec::Embed(EmbedSpec::default()),
        &Inputs { dataset, model: Some(model.to_owned()) },
        out,
        |_| {},
    )
    .map(drop)
}

/// A safetensors file with this JSON header and `data_len` bytes of data.
fn safetensors_with_header(header: &str, data_len: usize) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, data_len));
    bytes
}

/// Runs `embed` with `weights` as the model's safetensors; returns the error's text.
fn embed_with_weights(weights: &[u8]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_copy(tmp.path());
    std::fs::remove_file(model.join("model.safetensors")).unwrap();
    write(&model, "model.safetensors", weights);
    let dataset = write_jsonl(tmp.path(), "d.jsonl", &["hello".to_owned()]);
    let err = embed(&model, dataset, &tmp.path().join("out")).unwrap_err();
    assert!(
        matches!(err, RuntimeError::InvalidSafetensors { .. }),
        "expected InvalidSafetensors, got {err:?}"
    );
    err.to_string()
}

#[test]
fn safetensors_header_length_past_the_file() {
    let mut bytes = u64::MAX.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    let msg = embed_with_weights(&bytes);
    assert!(msg.contains("runs past the end"), "{msg}");
}

#[test]
fn safetensors_too_short_for_a_header() {
    let msg = embed_with_weights(&[1, 2, 3]);
    assert!(msg.contains("too short"), "{msg}");
}

#[test]
fn safetensors_header_not_json() {
    let msg = embed_with_weights(&safetensors_with_header("not json at all!", 0));
    assert!(msg.contains("not a JSON object"), "{msg}");
}

#[test]
fn safetensors_offsets_past_the_file() {
    let header = r#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#;
    let msg = embed_with_weights(&safetensors_with_header(header, 8));
    assert!(msg.contains("outside the 8-byte data section"), "{msg}");
}

#[test]
fn safetensors_shape_disagrees_with_offsets() {
    let header = r#"{"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,16]}}"#;
    let msg = embed_with_weights(&safetensors_with_header(header, 16));
    assert!(msg.contains("needs 4000000000000 bytes"), "{msg}");
}

#[test]
fn safetensors_absurd_shape_overflows() {
    let header = r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}}"#;
    let msg = embed_with_weights(&safetensors_with_header(header, 16));
    assert!(msg.contains("overflows"), "{msg}");
}

#[test]
fn safetensors_unknown_dtype() {
    let header = r#"{"w":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}"#;
    let msg = embed_with_weights(&safetensors_with_header(header, 16));
    assert!(msg.contains("malformed entry"), "{msg}");
}

#[test]
fn safetensors_overlapping_tensors() {
    let header = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    embed_with_weights(&safetensors_with_header(header, 8));
}

#[test]
fn valid_safetensors_without_bert_weights_is_a_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_copy(tmp.path());
    std::fs::remove_file(model.join("model.safetensors")).unwrap();
    let header = r#"{"unrelated":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    write(&model, "model.safetensors", safetensors_with_header(header, 8));
    let dataset = write_jsonl(tmp.path(), "d.jsonl", &["hello".to_owned()]);
    let err = embed(&model, dataset, &tmp.path().join("out")).unwrap_err();
    assert!(matches!(err, RuntimeError::ModelMismatch(_)), "{err:?}");
}

#[test]
fn weights_over_the_size_limit_are_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write_jsonl(tmp.path(), "d.jsonl", &["hello".to_owned()]);
    let runtime = Runtime::new(Limits { max_model_bytes: 10 << 20, ..Limits::default() });
    let err = runtime
        .run(
            &JobSpec::Embed(EmbedSpec::default()),
            &Inputs { dataset, model: Some(common::model_dir()) },
            &tmp.path().join("out"),
            |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, RuntimeError::FileTooLarge { limit, .. } if limit == 10 << 20), "{err:?}");
}

#[test]
fn missing_tokenizer() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_copy(tmp.path());
    std::fs::remove_file(model.join("tokenizer.json")).unwrap();
    let dataset = write_jsonl(tmp.path(), "d.jsonl", &["hello".to_owned()]);
    let err = embed(&model, dataset, &tmp.path().join("out")).unwrap_err();
    assert!(
        matches!(&err, RuntimeError::MissingInput { path, .. } if path.ends_with("tokenizer.json")),
        "{err:?}"
    );
    assert!(err.to_string().contains("tokenizer"), "{err}");
}

#[test]
fn corrupt_tokenizer() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_copy(tmp.path());
    write(&model, "tokenizer.json", "{\"version\": \"1.0\", \"model\": 42}");
    let dataset = write_jsonl(tmp.path(), "d.jsonl", &["hello".to_owned()]);
    let err = embed(&model, dataset, &tmp.path().join("out")).unwrap_err();
    assert!(matches!(err, RuntimeError::Tokenizer { .. }), "{err:?}");
}

#[test]
fn wrong_architecture() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_copy(tmp.path());
    write(
        &model,
        "config.json",
        r#"{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":4096}"#,
    );
    let dataset = write_jsonl(tmp.path(), "d.jsonl", &["hello".to_owned()]);
    let err = embed(&model, dataset, &tmp.path().join("out")).unwrap_err();
    assert!(matches!(err, RuntimeError::UnsupportedModel { .. }), "{err:?}");
    assert!(err.to_string().contains("only BERT"), "{err}");
}

#[test]
fn bert_config_that_cannot_split_heads() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_copy(tmp.path());
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("config.json")).unwrap()).unwrap();
    config["num_attention_heads"] = 7.into();
    write(&model, "config.json", config.to_string());
    let dataset = write_jsonl(tmp.path(), "d.jsonl", &["hello".to_owned()]);
    let err = embed(&model, dataset, &tmp.path().join("out")).unwrap_err();
    assert!(err.to_string().contains("not a multiple"), "{err}");
}

#[test]
fn bert_config_that_lies_about_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model_copy(tmp.path());
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("config.json")).unwrap()).unwrap();
    config["hidden_size"] = 768.into();
    write(&model, "config.json", config.to_string());
    let dataset = write_jsonl(tmp.path(), "d.jsonl", &["hello".to_owned()]);
    let err = embed(&model, dataset, &tmp.path().join("out")).unwrap_err();
    assert!(matches!(err, RuntimeError::ModelMismatch(_)), "{err:?}");
}

#[test]
fn jsonl_row_without_the_text_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "d.jsonl", "{\"text\":\"ok\"}\n{\"body\":\"no\"}\n");
    let err = embed(&common::model_dir(), dataset, &tmp.path().join("out")).unwrap_err();
    assert!(err.to_string().contains("line 2: no `text` key"), "{err}");
}

#[test]
fn empty_text_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "d.jsonl", "\n\n");
    let err = embed(&common::model_dir(), dataset, &tmp.path().join("out")).unwrap_err();
    assert!(matches!(err, RuntimeError::EmptyDataset { .. }), "{err:?}");
}

fn train(dataset: PathBuf, spec: TrainSpec, out: &Path) -> Result<(), RuntimeError> {
    agora_runtime::run(&JobSpec::Train(spec), &Inputs { dataset, model: None }, out, |_| {}).map(drop)
}

#[test]
fn csv_without_the_label_column() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "d.csv", "a,b\n1,2\n3,4\n");
    let err = train(dataset, TrainSpec::default(), &tmp.path().join("out")).unwrap_err();
    assert!(matches!(err, RuntimeError::Dataset { .. }), "{err:?}");
    assert!(err.to_string().contains("no column `label` (columns: a, b)"), "{err}");
}

#[test]
fn empty_csv_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, body) in [("header-only.csv", "x,label\n"), ("nothing.csv", "")] {
        let dataset = write(tmp.path(), name, body);
        let err = train(dataset, TrainSpec::default(), &tmp.path().join("out")).unwrap_err();
        assert!(matches!(err, RuntimeError::EmptyDataset { .. }), "{name}: {err:?}");
    }
}

#[test]
fn non_numeric_feature() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "d.csv", "x,label\n1,a\nNaN,b\n");
    let err = train(dataset, TrainSpec::default(), &tmp.path().join("out")).unwrap_err();
    assert!(err.to_string().contains("row 2: column `x`"), "{err}");
}

#[test]
fn ragged_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "d.csv", "x,label\n1,a\n2,b,extra\n");
    let err = train(dataset, TrainSpec::default(), &tmp.path().join("out")).unwrap_err();
    assert!(matches!(err, RuntimeError::Dataset { .. }), "{err:?}");
}

#[test]
fn single_class() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "d.csv", "x,label\n1,a\n2,a\n");
    let err = train(dataset, TrainSpec::default(), &tmp.path().join("out")).unwrap_err();
    assert!(err.to_string().contains("at least two distinct labels"), "{err}");
}

#[test]
fn limits_are_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "d.csv", classification_csv(50));
    let runtime = Runtime::new(Limits { max_rows: 10, ..Limits::default() });
    let err = runtime
        .run(
            &JobSpec::Train(TrainSpec::default()),
            &Inputs { dataset: dataset.clone(), model: None },
            &tmp.path().join("out"),
            |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, RuntimeError::LimitExceeded { what: "dataset rows", .. }), "{err:?}");

    let runtime = Runtime::new(Limits { max_dataset_bytes: 100, ..Limits::default() });
    let err = runtime
        .run(
            &JobSpec::Train(TrainSpec::default()),
            &Inputs { dataset, model: None },
            &tmp.path().join("out"),
            |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, RuntimeError::FileTooLarge { .. }), "{err:?}");
}

#[test]
fn bad_spec_values() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "d.csv", classification_csv(20));
    for spec in [
        TrainSpec { epochs: 0, ..TrainSpec::default() },
        TrainSpec { test_fraction: 1.0, ..TrainSpec::default() },
        TrainSpec { learning_rate: f64::NAN, ..TrainSpec::default() },
    ] {
        let err = train(dataset.clone(), spec, &tmp.path().join("out")).unwrap_err();
        assert!(matches!(err, RuntimeError::InvalidSpec(_)), "{err:?}");
    }
}

#[test]
fn predict_with_a_model_that_is_not_from_train() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "d.csv", classification_csv(5));
    let header = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend([0u8; 8]);
    let model = write(tmp.path(), "model.safetensors", bytes);
    let err = agora_runtime::run(
        &JobSpec::Predict(PredictSpec::default()),
        &Inputs { dataset, model: Some(model) },
        &tmp.path().join("out"),
        |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("not a model written by train"), "{err}");
}

#[test]
fn cuda_without_the_feature_is_a_clear_error() {
    if cfg!(feature = "cuda") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "d.csv", classification_csv(20));
    let err = Runtime::default()
        .with_device(agora_runtime::DeviceChoice::Cuda(0))
        .run(
            &JobSpec::Train(TrainSpec::default()),
            &Inputs { dataset, model: None },
            &tmp.path().join("out"),
            |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, RuntimeError::Device(_)), "{err:?}");
}

#[test]
fn cancelled_job_stops() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "d.csv", classification_csv(100));
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let err = Runtime::default()
        .with_cancel_flag(flag)
        .run(
            &JobSpec::Train(TrainSpec::default()),
            &Inputs { dataset, model: None },
            &tmp.path().join("out"),
            |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, RuntimeError::Cancelled), "{err:?}");
}

#[test]
fn output_folder_must_be_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "d.csv", classification_csv(20));
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    write(&out, "stale.txt", "left over");
    let err = train(dataset, TrainSpec::default(), &out).unwrap_err();
    assert!(matches!(err, RuntimeError::OutputNotEmpty(_)), "{err:?}");
}

#[test]
fn embed_batches_whose_attention_would_not_fit() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write_jsonl(tmp.path(), "d.jsonl", &["hello".to_owned()]);
    let err = agora_runtime::run(
        &JobSpec::Embed(EmbedSpec { batch_size: 1024, ..EmbedSpec::default() }),
        &Inputs { dataset, model: Some(common::model_dir()) },
        &tmp.path().join("out"),
        |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, RuntimeError::LimitExceeded { .. }), "{err:?}");
    assert!(err.to_string().contains("attention"), "{err}");
}

#[test]
fn job_past_its_time_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write(tmp.path(), "d.csv", classification_csv(100));
    let err = Runtime::new(Limits { max_duration: Some(std::time::Duration::ZERO), ..Limits::default() })
        .run(
            &JobSpec::Train(TrainSpec::default()),
            &Inputs { dataset, model: None },
            &tmp.path().join("out"),
            |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, RuntimeError::TimedOut), "{err:?}");
}

#[test]
fn embed_with_a_zero_batch_size() {
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write_jsonl(tmp.path(), "d.jsonl", &["hello".to_owned()]);
    let runtime = Runtime::default();
    let model = agora_runtime::EmbeddingModel::load(
        &common::model_dir(),
        &runtime.device().unwrap(),
        runtime.limits(),
    )
    .unwrap();
    let err = runtime
        .embed_with_model(
            &model,
            &EmbedSpec { batch_size: 0, ..EmbedSpec::default() },
            &Inputs { dataset, model: None },
            &tmp.path().join("out"),
            |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, RuntimeError::InvalidSpec(_)), "{err:?}");
}
