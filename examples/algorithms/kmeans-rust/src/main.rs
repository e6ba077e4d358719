//! k-means over the numeric columns of a CSV: an Agora algorithm, built for `wasm32-wasip1`
//! and run in the provider's sandbox, which mounts the dataset as the only file in `/data`.
//!
//! Reads `/data/<file>.csv` (or `.tsv`), keeps the columns whose every non-empty value is a
//! finite number (or those named by `--columns`), skips rows with a missing value in them,
//! standardizes each column (z-score; `--raw` to cluster raw values), picks `k` initial
//! centroids with k-means++ and runs Lloyd's iterations until no row changes cluster. Writes
//! `/out/kmeans.json` (centroids in the columns' own units, sizes, inertia) and
//! `/out/assignments.csv` (`row,cluster` for each used row; `--no-assignments` to skip it).
//!
//! The initial centroids come from a xoshiro256** generator seeded with `--seed`, or else from
//! WASI's `random_get`, which the sandbox derives from the job's seed: the same job gives the
//! same clusters. Everything else is a fixed sequence of floating-point operations.
//!
//! ```text
//! kmeans [--k 3] [--iterations 100] [--columns a,b] [--seed N] [--raw] [--no-assignments]
//!        [--data PATH] [--out DIR]
//! ```

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_args(&args).and_then(|o| run(&o)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kmeans: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Options {
    k: usize,
    max_iterations: usize,
    columns: Option<Vec<String>>,
    seed: Option<u64>,
    standardize: bool,
    assignments: bool,
    data: Option<PathBuf>,
    out: PathBuf,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        k: 3,
        max_iterations: 100,
        columns: None,
        seed: None,
        standardize: true,
        assignments: true,
        data: None,
        out: PathBuf::from("/out"),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--k" => o.k = parse_number(flag, value()?)?,
            "--iterations" => o.max_iterations = parse_number(flag, value()?)?,
            "--seed" => o.seed = Some(parse_number(flag, value()?)?),
            "--columns" => o.columns = Some(value()?.split(',').map(|c| c.trim().to_owned()).collect()),
            "--data" => o.data = Some(PathBuf::from(value()?)),
            "--out" => o.out = PathBuf::from(value()?),
            "--raw" => o.standardize = false,
            "--no-assignments" => o.assignments = false,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if o.k == 0 || o.max_iterations == 0 {
        return Err("--k and --iterations must be at least 1".into());
    }
    Ok(o)
}

fn parse_number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{flag}: {value:?} is not a valid number"))
}

fn run(o: &Options) -> Result<(), String> {
    let data = match &o.data {
        Some(path) => path.clone(),
        None => only_file(Path::new("/data"))?,
    };
    let name = data.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let delimiter = match data.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => b',',
        Some("tsv") => b'\t',
        _ => return Err(format!("{name}: expected a .csv or .tsv file")),
    };
    let file = File::open(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let table = Table::read(BufReader::with_capacity(1 << 20, file), delimiter)
        .map_err(|e| format!("{name}: {e}"))?;
    let selected = table.select(o.columns.as_deref())?;
    let points = Points::gather(&table, &selected, o.standardize);
    if points.rows.len() < o.k {
        return Err(format!("{} usable rows, fewer than k = {}", points.rows.len(), o.k));
    }
    let seed = match o.seed {
        Some(seed) => seed,
        None => wasi_seed().ok_or("no --seed given and no WASI random_get to draw one from")?,
    };
    let result = kmeans(&points, o.k, o.max_iterations, &mut Rng::new(seed));

    fs::write(o.out.join("kmeans.json"), report(&table, &selected, &points, &result, seed, o.standardize))
        .map_err(|e| format!("writing kmeans.json: {e}"))?;
    if o.assignments {
        write_assignments(&o.out.join("assignments.csv"), &points, &result.assignment)
            .map_err(|e| format!("writing assignments.csv: {e}"))?;
    }
    Ok(())
}

/// The path of the single regular file in `dir`.
fn only_file(dir: &Path) -> Result<PathBuf, String> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            files.push(entry.path());
        }
    }
    match <[PathBuf; 1]>::try_from(files) {
        Ok([file]) => Ok(file),
        Err(files) => Err(format!(
            "{} holds {} files; want exactly one dataset (or pass --data)",
            dir.display(),
            files.len()
        )),
    }
}

/// A seed from WASI's `random_get` (the sandbox derives it from the job's seed).
#[cfg(target_os = "wasi")]
fn wasi_seed() -> Option<u64> {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        fn random_get(buf: *mut u8, len: usize) -> i32;
    }
    let mut bytes = [0u8; 8];
    // SAFETY: `bytes` is valid for writes of its length, which is all random_get writes.
    let errno = unsafe { random_get(bytes.as_mut_ptr(), bytes.len()) };
    (errno == 0).then(|| u64::from_le_bytes(bytes))
}

#[cfg(not(target_os = "wasi"))]
fn wasi_seed() -> Option<u64> {
    None
}

/// Every column of the file, parsed as numbers: `NaN` where a cell is empty or not a finite
/// number, with a count of the latter per column.
struct Table {
    header: Vec<String>,
    /// Row-major, `header.len()` values per row.
    values: Vec<f64>,
    non_numeric: Vec<u64>,
    present: Vec<u64>,
    rows: usize,
}

impl Table {
    fn read(mut input: impl BufRead, delimiter: u8) -> Result<Self, String> {
        let mut fields = Vec::new();
        let mut line = 1usize;
        if !read_record(&mut input, delimiter, &mut fields, &mut line)? {
            return Err("empty file: no header row".into());
        }
        let header = fields.clone();
        let width = header.len();
        let mut table = Table {
            header,
            values: Vec::new(),
            non_numeric: vec![0; width],
            present: vec![0; width],
            rows: 0,
        };
        loop {
            let start = line;
            if !read_record(&mut input, delimiter, &mut fields, &mut line)? {
                return Ok(table);
            }
            if fields.len() == 1 && fields[0].is_empty() {
                continue; // a blank line
            }
            if fields.len() != width {
                return Err(format!("line {start} has {} fields, the header has {width}", fields.len()));
            }
            for (i, field) in fields.iter().enumerate() {
                let cell = field.trim();
                let value = if cell.is_empty() {
                    f64::NAN
                } else {
                    table.present[i] += 1;
                    match cell.parse::<f64>() {
                        Ok(v) if v.is_finite() => v,
                        _ => {
                            table.non_numeric[i] += 1;
                            f64::NAN
                        }
                    }
                };
                table.values.push(value);
            }
            table.rows += 1;
        }
    }

    /// The columns to cluster on: those named, or every column that has values and only
    /// numeric ones.
    fn select(&self, names: Option<&[String]>) -> Result<Vec<usize>, String> {
        let selected: Vec<usize> = match names {
            Some(names) => names
                .iter()
                .map(|name| {
                    let i =
                        self.header.iter().position(|h| h == name).ok_or(format!("no column {name:?}"))?;
                    if self.non_numeric[i] > 0 {
                        return Err(format!(
                            "column {name:?} has {} non-numeric values",
                            self.non_numeric[i]
                        ));
                    }
                    Ok(i)
                })
                .collect::<Result<_, _>>()?,
            None => {
                (0..self.header.len()).filter(|&i| self.present[i] > 0 && self.non_numeric[i] == 0).collect()
            }
        };
        if selected.is_empty() {
            return Err("no numeric columns to cluster on".into());
        }
        Ok(selected)
    }
}

/// Reads one CSV record (RFC 4180 quoting; a quoted field may span lines) into `fields`.
/// Returns `false` at the end of the input.
fn read_record(
    input: &mut impl BufRead,
    delimiter: u8,
    fields: &mut Vec<String>,
    line: &mut usize,
) -> Result<bool, String> {
    let mut buf = Vec::new();
    fields.clear();
    let mut field = Vec::new();
    let mut quoted = false;
    let mut started = false;
    loop {
        buf.clear();
        let n = input.read_until(b'\n', &mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            if quoted {
                return Err(format!("line {line}: unterminated quoted field"));
            }
            if !started {
                return Ok(false);
            }
            break;
        }
        started = true;
        *line += 1;
        let mut bytes = buf.as_slice();
        if !quoted {
            bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
            bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        }
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if quoted {
                if b == b'"' {
                    if bytes.get(i + 1) == Some(&b'"') {
                        field.push(b'"');
                        i += 1;
                    } else {
                        quoted = false;
                    }
                } else {
                    field.push(b);
                }
            } else if b == b'"' && field.is_empty() {
                quoted = true;
            } else if b == delimiter {
                fields.push(String::from_utf8_lossy(&field).into_owned());
                field.clear();
            } else if b != b'\n' && b != b'\r' {
                field.push(b);
            }
            i += 1;
        }
        if !quoted {
            break;
        }
    }
    fields.push(String::from_utf8_lossy(&field).into_owned());
    Ok(true)
}

/// The rows used for clustering, as points in (possibly standardized) space.
struct Points {
    /// Row numbers (0-based, after the header) of the used rows.
    rows: Vec<usize>,
    /// Row-major coordinates, `dims` per point.
    coords: Vec<f64>,
    dims: usize,
    /// Per dimension: (mean, scale) undone when reporting centroids.
    scale: Vec<(f64, f64)>,
}

impl Points {
    fn gather(table: &Table, selected: &[usize], standardize: bool) -> Self {
        let width = table.header.len();
        let dims = selected.len();
        let mut rows = Vec::new();
        let mut coords = Vec::new();
        for row in 0..table.rows {
            let values = &table.values[row * width..(row + 1) * width];
            if selected.iter().any(|&c| values[c].is_nan()) {
                continue;
            }
            rows.push(row);
            coords.extend(selected.iter().map(|&c| values[c]));
        }
        let mut scale = vec![(0.0, 1.0); dims];
        if standardize && !rows.is_empty() {
            for (d, s) in scale.iter_mut().enumerate() {
                // Welford's mean and variance, in row order.
                let (mut mean, mut m2) = (0.0f64, 0.0f64);
                for (n, p) in coords.chunks_exact(dims).enumerate() {
                    let x = p[d];
                    let delta = x - mean;
                    mean += delta / (n + 1) as f64;
                    m2 += delta * (x - mean);
                }
                let std = (m2 / rows.len() as f64).sqrt();
                *s = (mean, if std > 0.0 { std } else { 1.0 });
            }
            for p in coords.chunks_exact_mut(dims) {
                for (x, (mean, std)) in p.iter_mut().zip(&scale) {
                    *x = (*x - mean) / std;
                }
            }
        }
        Points { rows, coords, dims, scale }
    }

    fn point(&self, i: usize) -> &[f64] {
        &self.coords[i * self.dims..(i + 1) * self.dims]
    }

    fn len(&self) -> usize {
        self.rows.len()
    }
}

fn distance2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

struct Clustering {
    centroids: Vec<f64>,
    assignment: Vec<usize>,
    sizes: Vec<usize>,
    inertia: f64,
    iterations: usize,
    converged: bool,
}

fn kmeans(points: &Points, k: usize, max_iterations: usize, rng: &mut Rng) -> Clustering {
    let (n, dims) = (points.len(), points.dims);
    let mut centroids = init_plus_plus(points, k, rng);
    let mut assignment = vec![usize::MAX; n];
    let mut sizes = vec![0; k];
    let mut iterations = 0;
    let mut converged = false;
    while iterations < max_iterations {
        iterations += 1;
        let mut changed = false;
        for (i, slot) in assignment.iter_mut().enumerate() {
            let nearest = nearest(&centroids, dims, points.point(i)).0;
            if *slot != nearest {
                *slot = nearest;
                changed = true;
            }
        }
        if !changed {
            converged = true;
            break;
        }
        let mut sums = vec![0.0; k * dims];
        sizes = vec![0; k];
        for (i, &c) in assignment.iter().enumerate() {
            sizes[c] += 1;
            for (s, x) in sums[c * dims..(c + 1) * dims].iter_mut().zip(points.point(i)) {
                *s += x;
            }
        }
        let mut next = centroids.clone();
        for c in 0..k {
            let centroid = &mut next[c * dims..(c + 1) * dims];
            if sizes[c] == 0 {
                // An empty cluster takes the point farthest from its current centroid.
                let far = (0..n)
                    .map(|i| {
                        let own = assignment[i];
                        (i, distance2(points.point(i), &centroids[own * dims..(own + 1) * dims]))
                    })
                    .fold((0, f64::MIN), |best, cur| if cur.1 > best.1 { cur } else { best })
                    .0;
                centroid.copy_from_slice(points.point(far));
            } else {
                for (x, s) in centroid.iter_mut().zip(&sums[c * dims..(c + 1) * dims]) {
                    *x = s / sizes[c] as f64;
                }
            }
        }
        centroids = next;
    }
    sizes = vec![0; k];
    let mut inertia = 0.0;
    for (i, slot) in assignment.iter_mut().enumerate() {
        let (c, d2) = nearest(&centroids, dims, points.point(i));
        *slot = c;
        sizes[c] += 1;
        inertia += d2;
    }
    Clustering { centroids, assignment, sizes, inertia, iterations, converged }
}

/// The nearest centroid (the lowest index on ties) and the squared distance to it.
fn nearest(centroids: &[f64], dims: usize, p: &[f64]) -> (usize, f64) {
    centroids
        .chunks_exact(dims)
        .map(|c| distance2(c, p))
        .enumerate()
        .fold((0, f64::INFINITY), |best, (i, d)| if d < best.1 { (i, d) } else { best })
}

/// k-means++: the first centroid uniformly, each next one with probability proportional to
/// its squared distance from the nearest centroid so far.
fn init_plus_plus(points: &Points, k: usize, rng: &mut Rng) -> Vec<f64> {
    let n = points.len();
    let mut centroids = Vec::with_capacity(k * points.dims);
    centroids.extend_from_slice(points.point(rng.below(n as u64) as usize));
    let mut d2: Vec<f64> = (0..n).map(|i| distance2(points.point(i), &centroids)).collect();
    for _ in 1..k {
        let total: f64 = d2.iter().sum();
        let pick = if total > 0.0 {
            let target = rng.unit() * total;
            let mut acc = 0.0;
            d2.iter()
                .position(|d| {
                    acc += d;
                    acc > target
                })
                .unwrap_or(n - 1)
        } else {
            rng.below(n as u64) as usize
        };
        let start = centroids.len();
        centroids.extend_from_slice(points.point(pick));
        for (i, d) in d2.iter_mut().enumerate() {
            *d = d.min(distance2(points.point(i), &centroids[start..]));
        }
    }
    centroids
}

/// xoshiro256** seeded through SplitMix64: small, fast and fully specified.
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut s = seed;
        let mut next = || {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    fn next(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, n)`, unbiased (Lemire's multiply-and-reject).
    fn below(&mut self, n: u64) -> u64 {
        loop {
            let m = u128::from(self.next()) * u128::from(n);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as u64;
            }
        }
    }
}

fn report(
    table: &Table,
    selected: &[usize],
    points: &Points,
    result: &Clustering,
    seed: u64,
    standardized: bool,
) -> String {
    let dims = points.dims;
    let mut s = String::new();
    let columns: Vec<String> = selected.iter().map(|&c| json_string(&table.header[c])).collect();
    let _ = writeln!(s, "{{");
    let _ = writeln!(s, "  \"k\": {},", result.sizes.len());
    let _ = writeln!(s, "  \"columns\": [{}],", columns.join(", "));
    let _ = writeln!(s, "  \"standardized\": {standardized},");
    let _ = writeln!(s, "  \"seed\": {seed},");
    let _ = writeln!(s, "  \"rows\": {},", table.rows);
    let _ = writeln!(s, "  \"rows_used\": {},", points.len());
    let _ = writeln!(s, "  \"rows_skipped\": {},", table.rows - points.len());
    let _ = writeln!(s, "  \"iterations\": {},", result.iterations);
    let _ = writeln!(s, "  \"converged\": {},", result.converged);
    let _ = writeln!(s, "  \"inertia\": {},", json_number(result.inertia));
    let _ = writeln!(s, "  \"clusters\": [");
    for (c, size) in result.sizes.iter().enumerate() {
        let centroid: Vec<String> = result.centroids[c * dims..(c + 1) * dims]
            .iter()
            .zip(&points.scale)
            .map(|(x, (mean, std))| json_number(x * std + mean))
            .collect();
        let comma = if c + 1 < result.sizes.len() { "," } else { "" };
        let _ = writeln!(
            s,
            "    {{\"cluster\": {c}, \"size\": {size}, \"centroid\": [{}]}}{comma}",
            centroid.join(", ")
        );
    }
    let _ = writeln!(s, "  ]");
    let _ = writeln!(s, "}}");
    s
}

/// A finite number as JSON (Rust's shortest round-trip form); `null` otherwise.
fn json_number(x: f64) -> String {
    if x.is_finite() { format!("{x:?}") } else { "null".into() }
}

fn json_string(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for ch in v.chars() {
        match ch {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

fn write_assignments(path: &Path, points: &Points, assignment: &[usize]) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    writeln!(out, "row,cluster")?;
    for (row, cluster) in points.rows.iter().zip(assignment) {
        writeln!(out, "{row},{cluster}")?;
    }
    out.flush()
}
