//! `embed` with the real all-MiniLM-L6-v2 against sentence-transformers' own embeddings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use agora_runtime::{EmbedSpec, Inputs, JobSpec, Phase, Summary};
use common::{cosine, fixture, model_dir, read_embeddings, write, write_jsonl};

#[test]
fn minilm_matches_sentence_transformers() {
    let fixture = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write_jsonl(tmp.path(), "sentences.jsonl", &fixture.sentences);
    let out = tmp.path().join("out");
    let phases = std::cell::RefCell::new(Vec::new());
    let outcome = agora_runtime::run(
        &JobSpec::Embed(EmbedSpec { batch_size: 4, ..EmbedSpec::default() }),
        &Inputs { dataset, model: Some(model_dir()) },
        &out,
        |p| phases.borrow_mut().push(p.phase),
    )
    .unwrap();

    let got = read_embeddings(&out);
    assert_eq!(got.len(), fixture.sentences.len());
    let mut worst = 1f32;
    for (i, (ours, theirs)) in got.iter().zip(&fixture.embeddings).enumerate() {
        assert_eq!(ours.len(), 384);
        let c = cosine(ours, theirs);
        worst = worst.min(c);
        assert!(c >= 0.999, "sentence {i} {:?}: cosine {c}", fixture.sentences[i]);
        let norm: f32 = ours.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "sentence {i} not unit length: {norm}");
    }
    eprintln!("lowest cosine against sentence-transformers: {worst}");
    // The long sentence is cut at sentence-transformers' max_seq_length, like theirs.
    assert_eq!(
        outcome.summary,
        Summary::Embed { rows: fixture.sentences.len() as u64, dim: 384, truncated_rows: 1 }
    );
    assert!(outcome.warnings[0].contains("truncated"), "{:?}", outcome.warnings);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["max_length"], fixture.max_seq_length);
    assert_eq!(manifest["truncated_rows"][0]["row"], fixture.sentences.len() - 1);
    assert!(manifest["truncated_rows"][0]["tokens"].as_u64().unwrap() > 256);

    let names: Vec<&str> = outcome.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["embeddings.safetensors", "manifest.json"]);
    assert_eq!(outcome.run.job_kind, "embed");
    assert_eq!(outcome.run.device, "cpu");
    assert_eq!(agora_runtime::hash_dir(&out).unwrap().1, outcome.run.output_hash);
    let phases = phases.into_inner();
    assert_eq!(phases.first(), Some(&Phase::Loading));
    assert!(phases.contains(&Phase::Embedding));
    assert_eq!(phases.last(), Some(&Phase::Writing));
}

#[test]
fn csv_input_gives_the_same_embeddings_as_jsonl() {
    let sentences: Vec<String> = fixture().sentences.into_iter().take(4).collect();
    let tmp = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,body\n");
    for (i, s) in sentences.iter().enumerate() {
        csv.push_str(&format!("{i},\"{}\"\n", s.replace('"', "\"\"")));
    }
    let csv_path = write(tmp.path(), "data.csv", csv);
    let jsonl_path = write_jsonl(tmp.path(), "data.jsonl", &sentences);
    let run = |dataset, field: &str, out: &str| {
        agora_runtime::run(
            &JobSpec::Embed(EmbedSpec { text_field: field.into(), ..EmbedSpec::default() }),
            &Inputs { dataset, model: Some(model_dir()) },
            &tmp.path().join(out),
            |_| {},
        )
        .unwrap();
        read_embeddings(&tmp.path().join(out))
    };
    assert_eq!(run(csv_path, "body", "a"), run(jsonl_path, "text", "b"));
}

#[test]
fn rows_past_max_length_are_truncated_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let long = "word ".repeat(20_000);
    let rows = vec!["short one".to_owned(), long, "another short one".to_owned()];
    let dataset = write_jsonl(tmp.path(), "rows.jsonl", &rows);
    let out = tmp.path().join("out");
    let outcome = agora_runtime::run(
        &JobSpec::Embed(EmbedSpec { max_length: Some(16), ..EmbedSpec::default() }),
        &Inputs { dataset, model: Some(model_dir()) },
        &out,
        |_| {},
    )
    .unwrap();
    assert!(matches!(outcome.summary, Summary::Embed { truncated_rows: 1, .. }));
    assert!(outcome.warnings[0].contains("longer than 16 tokens"), "{:?}", outcome.warnings);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["max_length"], 16);
    assert_eq!(manifest["truncated_rows"][0]["row"], 1);
    assert_eq!(manifest["truncated_rows"][0]["tokens"], 20_002);
}

#[test]
fn a_preloaded_model_gives_the_same_outputs() {
    let sentences: Vec<String> = fixture().sentences.into_iter().take(3).collect();
    let tmp = tempfile::tempdir().unwrap();
    let dataset = write_jsonl(tmp.path(), "d.jsonl", &sentences);
    let inputs = Inputs { dataset, model: Some(model_dir()) };
    let fresh =
        agora_runtime::run(&JobSpec::Embed(EmbedSpec::default()), &inputs, &tmp.path().join("a"), |_| {})
            .unwrap();
    let runtime = agora_runtime::Runtime::default();
    let model =
        agora_runtime::EmbeddingModel::load(&model_dir(), &runtime.device().unwrap(), runtime.limits())
            .unwrap();
    assert_eq!((model.dim(), model.max_length()), (384, 256));
    let cached = runtime
        .embed_with_model(&model, &EmbedSpec::default(), &inputs, &tmp.path().join("b"), |_| {})
        .unwrap();
    assert_eq!(fresh.run.output_hash, cached.run.output_hash);
}
