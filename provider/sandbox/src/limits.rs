//! What bounds a run ([`Limits`]) and what it may see ([`Mounts`]).

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Hard limits on one run. Each is enforced while the module runs, not only checked after.
///
/// In configuration files `max_duration` is a number of seconds, like agora-runtime's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Fuel, about one unit per WebAssembly instruction executed. The count is exact and the
    /// same on every machine, so a run that fits on one fits on all. The default, 10¹², is
    /// about 3–4 minutes of compute on a 2-core development machine; the Go stats example
    /// uses about 400 per input byte (42·10⁹ for 100 MB of CSV).
    pub fuel: u64,
    /// Largest linear memory, in bytes; a `memory.grow` past it fails the run.
    pub memory_bytes: u64,
    /// Wall-clock limit for the whole run, compilation included.
    #[serde(with = "secs")]
    pub max_duration: Duration,
    /// Most bytes the algorithm may write under `/out` (see the crate docs for how far a
    /// write can go past it before the run is stopped).
    pub max_output_bytes: u64,
    /// Most bytes of stdout and stderr kept; the rest is counted and dropped.
    pub max_log_bytes: usize,
    /// Largest module accepted, in bytes.
    pub max_module_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: 1_000_000_000_000,
            memory_bytes: 512 << 20,
            max_duration: Duration::from_secs(600),
            max_output_bytes: 256 << 20,
            max_log_bytes: 64 << 10,
            max_module_bytes: 64 << 20,
        }
    }
}

/// The host paths a run sees: the dataset as `/data/<its file name>`, the model folder as
/// `/model`. Both are read-only to the algorithm.
#[derive(Debug, Clone, Copy)]
pub struct Mounts<'a> {
    /// The dataset: one regular file, whose name (which must be UTF-8) the algorithm sees.
    pub data: &'a Path,
    /// A model folder, if the job has one.
    pub model: Option<&'a Path>,
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Duration::try_from_secs_f64(f64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
