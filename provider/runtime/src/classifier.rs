//! The `train` and `predict` jobs: a classifier over the numeric columns of a CSV, either a
//! multinomial logistic regression or a one-hidden-layer MLP, trained with AdamW.
//!
//! `train` writes `model.safetensors` (the layers, the feature standardisation, and the
//! feature and class names under the `agora` metadata key) and `metrics.json`; `predict`
//! reads that file back and writes `predictions.csv`.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

use crate::dataset::{Table, read_table};
use crate::job::{Inputs, Phase, PredictSpec, Summary, TrainSpec};
use crate::output::OutputWriter;
use crate::rng::SplitMix64;
use crate::tensorfile::read_checked;
use crate::{Ctx, Produced, RuntimeError};

/// Identifies the model files this module writes and reads.
const MODEL_FORMAT: &str = "agora-classifier/1";
/// The safetensors metadata key holding [`ModelMeta`] as JSON.
const META_KEY: &str = "agora";
/// Rows per forward pass in `predict`.
const PREDICT_BATCH: usize = 1024;

/// What a trained model needs besides its tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelMeta {
    format: String,
    features: Vec<String>,
    classes: Vec<String>,
    hidden: usize,
    label_column: String,
}

/// The layers: `[(weight, bias)]`, one pair for logistic regression, two for the MLP.
struct Layers(Vec<(Tensor, Tensor)>);

impl Layers {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        for (i, (w, b)) in self.0.iter().enumerate() {
            if i > 0 {
                h = h.relu()?;
            }
            h = h.matmul(&w.t()?)?.broadcast_add(b)?;
        }
        Ok(h)
    }
}

#[derive(Serialize)]
struct EpochMetrics {
    epoch: usize,
    loss: f32,
}

#[derive(Serialize)]
struct Metrics<'a> {
    job: &'static str,
    model: &'static str,
    features: &'a [String],
    classes: &'a [String],
    label_column: &'a str,
    hidden: usize,
    epochs: Vec<EpochMetrics>,
    train_rows: usize,
    test_rows: usize,
    train_accuracy: f32,
    test_accuracy: Option<f32>,
    seed: u64,
    dataset_sha256: &'a str,
}

pub(crate) fn train(
    ctx: &Ctx<'_>,
    spec: &TrainSpec,
    inputs: &Inputs,
    out_dir: &Path,
) -> Result<Produced, RuntimeError> {
    spec.check(ctx.limits)?;
    ctx.report(Phase::Loading, 0, 1, None);
    let path = &inputs.dataset;
    let table = read_table(path, ctx.limits)?;
    let label_col = table.column(path, &spec.label_column)?;
    let feature_names: Vec<String> = match &spec.features {
        Some(f) => f.clone(),
        None => table
            .headers
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != label_col)
            .map(|(_, h)| h.clone())
            .collect(),
    };
    if feature_names.is_empty() {
        return Err(RuntimeError::dataset(path, "no feature columns besides the label"));
    }
    if feature_names.len() > ctx.limits.max_features {
        return Err(RuntimeError::LimitExceeded {
            what: "feature columns",
            actual: feature_names.len() as u64,
            limit: ctx.limits.max_features as u64,
        });
    }
    if feature_names.contains(&spec.label_column) {
        return Err(RuntimeError::InvalidSpec(format!(
            "the label column `{}` cannot also be a feature",
            spec.label_column
        )));
    }
    let x = features(path, &table, &feature_names)?;
    let classes: Vec<String> =
        table.rows.iter().map(|r| r[label_col].clone()).collect::<BTreeSet<_>>().into_iter().collect();
    if classes.len() < 2 {
        return Err(RuntimeError::dataset(
            path,
            format!("column `{}` needs at least two distinct labels", spec.label_column),
        ));
    }
    if classes.len() > ctx.limits.max_classes {
        return Err(RuntimeError::LimitExceeded {
            what: "classes",
            actual: classes.len() as u64,
            limit: ctx.limits.max_classes as u64,
        });
    }
    let y: Vec<u32> = table
        .rows
        .iter()
        .map(|r| classes.binary_search(&r[label_col]).map(|i| i as u32))
        .collect::<Result<_, _>>()
        .map_err(|_| RuntimeError::Internal("label missing from its own class list".into()))?;

    let n = table.rows.len();
    let f = feature_names.len();
    let mut rng = SplitMix64::new(spec.seed);
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    let n_test = ((n as f64) * spec.test_fraction).round() as usize;
    let (test_idx, train_idx) = order.split_at(n_test.min(n));
    if train_idx.is_empty() {
        return Err(RuntimeError::dataset(
            path,
            format!("{n} row(s) leave nothing to train on after holding out {n_test}"),
        ));
    }

    let (mean, std) = standardization(&x, f, train_idx);
    let xs = standardize(&x, f, &mean, &std);
    let device = &ctx.device;
    let vars = init_layers(&mut rng, f, spec.hidden, classes.len(), device)?;
    let layers =
        Layers(vars.chunks(2).map(|p| (p[0].as_tensor().clone(), p[1].as_tensor().clone())).collect());
    let mut opt = AdamW::new(
        vars.clone(),
        ParamsAdamW { lr: spec.learning_rate, weight_decay: spec.weight_decay, ..ParamsAdamW::default() },
    )?;

    ctx.report(Phase::Training, 0, spec.epochs as u64, None);
    let mut epochs = Vec::with_capacity(spec.epochs);
    let mut shuffled = train_idx.to_vec();
    for epoch in 0..spec.epochs {
        rng.shuffle(&mut shuffled);
        let mut total = 0f64;
        for batch in shuffled.chunks(spec.batch_size) {
            let (xb, yb) = gather(&xs, &y, f, batch, device)?;
            let loss = candle_nn::loss::cross_entropy(&layers.forward(&xb)?, &yb)?;
            opt.backward_step(&loss)?;
            total += f64::from(loss.to_scalar::<f32>()?) * batch.len() as f64;
        }
        let loss = (total / shuffled.len() as f64) as f32;
        if !loss.is_finite() {
            return Err(RuntimeError::InvalidSpec(format!(
                "training diverged at epoch {} (loss {loss}); lower the learning rate",
                epoch + 1
            )));
        }
        epochs.push(EpochMetrics { epoch: epoch + 1, loss });
        ctx.report(Phase::Training, epoch as u64 + 1, spec.epochs as u64, Some(loss));
        ctx.check()?;
    }

    let train_accuracy = accuracy(&layers, &xs, &y, f, train_idx, device)?;
    let test_accuracy =
        if test_idx.is_empty() { None } else { Some(accuracy(&layers, &xs, &y, f, test_idx, device)?) };

    ctx.report(Phase::Writing, 0, 1, None);
    let meta = ModelMeta {
        format: MODEL_FORMAT.to_owned(),
        features: feature_names.clone(),
        classes: classes.clone(),
        hidden: spec.hidden,
        label_column: spec.label_column.clone(),
    };
    let meta_json = serde_json::to_string(&meta)
        .map_err(|e| RuntimeError::Internal(format!("serializing model metadata: {e}")))?;
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> =
        vec![("normalize.mean".into(), vec![f], mean), ("normalize.std".into(), vec![f], std)];
    for (i, (w, b)) in layers.0.iter().enumerate() {
        tensors.push((format!("layers.{i}.weight"), w.dims().to_vec(), flat(w)?));
        tensors.push((format!("layers.{i}.bias"), b.dims().to_vec(), flat(b)?));
    }
    let views: Vec<(&str, &[usize], &[f32])> =
        tensors.iter().map(|(n, s, d)| (n.as_str(), s.as_slice(), d.as_slice())).collect();
    let mut writer = OutputWriter::new(out_dir)?;
    writer.write("model.safetensors", &crate::safetensors_f32(&views, Some((META_KEY, meta_json)))?)?;
    let final_loss = epochs.last().map_or(f32::NAN, |e| e.loss);
    writer.write_json(
        "metrics.json",
        &Metrics {
            job: "train",
            model: if spec.hidden == 0 { "logistic_regression" } else { "mlp" },
            features: &feature_names,
            classes: &classes,
            label_column: &spec.label_column,
            hidden: spec.hidden,
            epochs,
            train_rows: train_idx.len(),
            test_rows: test_idx.len(),
            train_accuracy,
            test_accuracy,
            seed: spec.seed,
            dataset_sha256: &table.sha256,
        },
    )?;
    Ok(Produced {
        writer,
        summary: Summary::Train {
            train_rows: train_idx.len() as u64,
            test_rows: test_idx.len() as u64,
            final_loss,
            test_accuracy,
        },
        warnings: Vec::new(),
    })
}

/// The named columns of every row as finite numbers, row-major.
fn features(path: &Path, table: &Table, names: &[String]) -> Result<Vec<f32>, RuntimeError> {
    let cols = names.iter().map(|name| table.column(path, name)).collect::<Result<Vec<_>, _>>()?;
    let mut x = Vec::with_capacity(table.rows.len() * cols.len());
    for (r, row) in table.rows.iter().enumerate() {
        for (&c, name) in cols.iter().zip(names) {
            let cell = row[c].trim();
            match cell.parse::<f32>() {
                Ok(v) if v.is_finite() => x.push(v),
                _ => {
                    return Err(RuntimeError::dataset(
                        path,
                        format!("row {}: column `{name}` is {cell:?}, not a finite number", r + 1),
                    ));
                }
            }
        }
    }
    Ok(x)
}

/// Per-feature mean and standard deviation over `rows`, summed in row order in f64.
fn standardization(x: &[f32], f: usize, rows: &[usize]) -> (Vec<f32>, Vec<f32>) {
    let n = rows.len() as f64;
    let mut mean = vec![0f64; f];
    for &r in rows {
        for (m, v) in mean.iter_mut().zip(&x[r * f..(r + 1) * f]) {
            *m += f64::from(*v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0f64; f];
    for &r in rows {
        for ((s, v), m) in var.iter_mut().zip(&x[r * f..(r + 1) * f]).zip(&mean) {
            *s += (f64::from(*v) - m).powi(2);
        }
    }
    let std = var
        .iter()
        .map(|s| {
            let sd = (s / n).sqrt() as f32;
            // A constant column carries no information; dividing by 1 keeps it finite.
            if sd > 1e-12 { sd } else { 1.0 }
        })
        .collect();
    (mean.iter().map(|&m| m as f32).collect(), std)
}

fn standardize(x: &[f32], f: usize, mean: &[f32], std: &[f32]) -> Vec<f32> {
    x.iter().enumerate().map(|(i, v)| (v - mean[i % f]) / std[i % f]).collect()
}

/// PyTorch's `nn.Linear` initialisation, `U(-1/√fan_in, 1/√fan_in)`, from the job's seed.
fn init_layers(
    rng: &mut SplitMix64,
    features: usize,
    hidden: usize,
    classes: usize,
    device: &Device,
) -> Result<Vec<Var>, RuntimeError> {
    let shapes =
        if hidden == 0 { vec![(classes, features)] } else { vec![(hidden, features), (classes, hidden)] };
    let mut vars = Vec::new();
    for (out, inp) in shapes {
        let bound = 1.0 / (inp as f32).sqrt();
        let mut uniform =
            |n: usize| -> Vec<f32> { (0..n).map(|_| (rng.next_f32() * 2.0 - 1.0) * bound).collect() };
        let w = uniform(out * inp);
        let b = uniform(out);
        vars.push(Var::from_tensor(&Tensor::from_vec(w, (out, inp), device)?)?);
        vars.push(Var::from_tensor(&Tensor::from_vec(b, out, device)?)?);
    }
    Ok(vars)
}

fn gather(
    xs: &[f32],
    y: &[u32],
    f: usize,
    rows: &[usize],
    device: &Device,
) -> Result<(Tensor, Tensor), RuntimeError> {
    let mut xb = Vec::with_capacity(rows.len() * f);
    let mut yb = Vec::with_capacity(rows.len());
    for &r in rows {
        xb.extend_from_slice(&xs[r * f..(r + 1) * f]);
        yb.push(y[r]);
    }
    Ok((Tensor::from_vec(xb, (rows.len(), f), device)?, Tensor::from_vec(yb, rows.len(), device)?))
}

fn accuracy(
    layers: &Layers,
    xs: &[f32],
    y: &[u32],
    f: usize,
    rows: &[usize],
    device: &Device,
) -> Result<f32, RuntimeError> {
    let mut correct = 0usize;
    for batch in rows.chunks(PREDICT_BATCH) {
        let (xb, yb) = gather(xs, y, f, batch, device)?;
        let predicted = layers.forward(&xb)?.argmax(D::Minus1)?;
        correct += predicted.eq(&yb)?.to_dtype(DType::U32)?.sum_all()?.to_scalar::<u32>()? as usize;
    }
    Ok(correct as f32 / rows.len() as f32)
}

fn flat(t: &Tensor) -> Result<Vec<f32>, RuntimeError> {
    Ok(t.flatten_all()?.to_vec1::<f32>()?)
}

#[derive(Serialize)]
struct PredictManifest<'a> {
    job: &'static str,
    file: &'static str,
    rows: usize,
    classes: &'a [String],
    features: &'a [String],
    model_sha256: &'a str,
    dataset_sha256: &'a str,
}

pub(crate) fn predict(
    ctx: &Ctx<'_>,
    spec: &PredictSpec,
    inputs: &Inputs,
    out_dir: &Path,
) -> Result<Produced, RuntimeError> {
    ctx.report(Phase::Loading, 0, 1, None);
    let model_path = inputs
        .model
        .as_deref()
        .ok_or(RuntimeError::InvalidSpec("predict needs a model from train".into()))?;
    let model_path =
        if model_path.is_dir() { model_path.join("model.safetensors") } else { model_path.to_owned() };
    let (meta, mean, std, layers, model_sha256) = load_model(ctx, &model_path)?;
    let f = meta.features.len();

    let path = &inputs.dataset;
    let table = read_table(path, ctx.limits)?;
    let id_col = spec.id_column.as_deref().map(|c| table.column(path, c)).transpose()?;
    let x = standardize(&features(path, &table, &meta.features)?, f, &mean, &std);
    let n = table.rows.len();
    ctx.report(Phase::Predicting, 0, n as u64, None);

    let mut csv = csv::WriterBuilder::new().from_writer(Vec::new());
    let mut header = vec![spec.id_column.clone().unwrap_or_else(|| "row".to_owned())];
    header.push("prediction".to_owned());
    header.extend(meta.classes.iter().map(|c| format!("p_{c}")));
    let csv_err = |e: csv::Error| RuntimeError::Internal(format!("writing predictions: {e}"));
    csv.write_record(&header).map_err(csv_err)?;
    let rows: Vec<usize> = (0..n).collect();
    for batch in rows.chunks(PREDICT_BATCH) {
        let mut xb = Vec::with_capacity(batch.len() * f);
        for &r in batch {
            xb.extend_from_slice(&x[r * f..(r + 1) * f]);
        }
        let xb = Tensor::from_vec(xb, (batch.len(), f), &ctx.device)?;
        let probs = candle_nn::ops::softmax_last_dim(&layers.forward(&xb)?)?.to_vec2::<f32>()?;
        for (&r, p) in batch.iter().zip(probs) {
            // First maximum wins, the same tie rule as argmax.
            let best = p.iter().enumerate().fold(0, |best, (i, v)| if *v > p[best] { i } else { best });
            let mut record = vec![match id_col {
                Some(c) => table.rows[r][c].clone(),
                None => r.to_string(),
            }];
            record.push(meta.classes[best].clone());
            record.extend(p.iter().map(f32::to_string));
            csv.write_record(&record).map_err(csv_err)?;
        }
        ctx.report(Phase::Predicting, (batch[batch.len() - 1] + 1) as u64, n as u64, None);
        ctx.check()?;
    }
    let bytes = csv.into_inner().map_err(|e| RuntimeError::Internal(format!("writing predictions: {e}")))?;

    ctx.report(Phase::Writing, 0, 1, None);
    let mut writer = OutputWriter::new(out_dir)?;
    writer.write("predictions.csv", &bytes)?;
    writer.write_json(
        "manifest.json",
        &PredictManifest {
            job: "predict",
            file: "predictions.csv",
            rows: n,
            classes: &meta.classes,
            features: &meta.features,
            model_sha256: &model_sha256,
            dataset_sha256: &table.sha256,
        },
    )?;
    Ok(Produced { writer, summary: Summary::Predict { rows: n as u64 }, warnings: Vec::new() })
}

type LoadedModel = (ModelMeta, Vec<f32>, Vec<f32>, Layers, String);

/// Reads a model written by `train`, checking every tensor against its metadata.
fn load_model(ctx: &Ctx<'_>, path: &Path) -> Result<LoadedModel, RuntimeError> {
    let file = read_checked(path, ctx.limits.max_model_bytes)?;
    let invalid = |reason: String| RuntimeError::ModelMismatch(format!("{}: {reason}", path.display()));
    let st =
        SafeTensors::deserialize(&file.bytes).map_err(|e| RuntimeError::safetensors(path, e.to_string()))?;
    let (_, header) = SafeTensors::read_metadata(&file.bytes)
        .map_err(|e| RuntimeError::safetensors(path, e.to_string()))?;
    let meta_json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| invalid(format!("no `{META_KEY}` metadata: not a model written by train")))?;
    let meta: ModelMeta =
        serde_json::from_str(meta_json).map_err(|e| invalid(format!("`{META_KEY}` metadata: {e}")))?;
    if meta.format != MODEL_FORMAT {
        return Err(invalid(format!("format {:?}, expected {MODEL_FORMAT:?}", meta.format)));
    }
    let (f, c, h) = (meta.features.len(), meta.classes.len(), meta.hidden);
    if f == 0 || c == 0 {
        return Err(invalid("no features or no classes".into()));
    }
    let limits = ctx.limits;
    for (what, actual, limit) in [
        ("model features", f, limits.max_features),
        ("model classes", c, limits.max_classes),
        ("model hidden layer width", h, limits.max_hidden),
    ] {
        if actual > limit {
            return Err(RuntimeError::LimitExceeded { what, actual: actual as u64, limit: limit as u64 });
        }
    }
    let mut expected: Vec<(String, Vec<usize>)> =
        vec![("normalize.mean".into(), vec![f]), ("normalize.std".into(), vec![f])];
    let dims = if h == 0 { vec![(c, f)] } else { vec![(h, f), (c, h)] };
    for (i, (out, inp)) in dims.iter().enumerate() {
        expected.push((format!("layers.{i}.weight"), vec![*out, *inp]));
        expected.push((format!("layers.{i}.bias"), vec![*out]));
    }
    if st.len() != expected.len() {
        return Err(invalid(format!("{} tensors, expected {}", st.len(), expected.len())));
    }
    let mut tensors: HashMap<String, Vec<f32>> = HashMap::new();
    for (name, shape) in &expected {
        let view = st.tensor(name).map_err(|_| invalid(format!("missing tensor `{name}`")))?;
        if view.dtype() != safetensors::Dtype::F32 || view.shape() != shape.as_slice() {
            return Err(invalid(format!(
                "tensor `{name}` is {:?} {:?}, expected F32 {shape:?}",
                view.dtype(),
                view.shape()
            )));
        }
        let values: Vec<f32> =
            view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(invalid(format!("tensor `{name}` holds non-finite values")));
        }
        tensors.insert(name.clone(), values);
    }
    let mut take = |name: &str| tensors.remove(name).unwrap_or_default();
    let mean = take("normalize.mean");
    let std = take("normalize.std");
    if std.contains(&0.0) {
        return Err(invalid("normalize.std holds a zero".into()));
    }
    let mut layers = Vec::new();
    for (i, (out, inp)) in dims.iter().enumerate() {
        let w = Tensor::from_vec(take(&format!("layers.{i}.weight")), (*out, *inp), &ctx.device)?;
        let b = Tensor::from_vec(take(&format!("layers.{i}.bias")), *out, &ctx.device)?;
        layers.push((w, b));
    }
    Ok((meta, mean, std, Layers(layers), file.sha256))
}
