//! `agora algorithm`: start a user algorithm, a WASI preview 1 module that compute providers
//! run in `agora-sandbox`.
//!
//! `new` writes a project that builds as it is, from templates compiled into the binary
//! (`cli/templates/algorithm/`): a Go module or a Cargo package without dependencies, whose
//! program summarizes the dataset into `/out/summary.json`, and a README on building,
//! what the sandbox gives the module, publishing and running it. [`render`] is the pure part:
//! which files, with the name filled in.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use eyre::{Result, WrapErr, bail};
use serde::Serialize;
use serde_json::json;

use crate::{GlobalArgs, output};

/// Algorithm commands.
#[derive(Debug, Subcommand)]
pub enum AlgorithmCommand {
    /// Create an algorithm project in NAME (or PARENT/NAME), ready to build into a WASI module.
    ///
    /// Its program summarizes the dataset into /out/summary.json; its README says how to build
    /// it, what the sandbox gives it, and how to publish it and run it in a job.
    ///
    /// Example: agora algorithm new --lang go wordcount
    ///
    /// Example: agora algorithm new --lang rust kmeans --dir ./algorithms
    New(NewArgs),
}

/// The languages `algorithm new` has a template for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Go ≥ 1.21 (`GOOS=wasip1 GOARCH=wasm`), standard library only.
    Go,
    /// Rust (`wasm32-wasip1`), std only.
    Rust,
}

/// Arguments of `algorithm new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The project's name, which the module and folder take: ASCII letters, digits, '-' and
    /// '_', at most 64, starting with a letter.
    pub name: String,
    /// The language.
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// The folder the project's folder is created in.
    #[arg(long, value_name = "PARENT", default_value = ".")]
    pub dir: PathBuf,
}

/// Longest project name.
const MAX_NAME: usize = 64;

/// Folder names Cargo keeps for itself: a binary cannot be called this.
const CARGO_RESERVED: [&str; 4] = ["build", "deps", "examples", "incremental"];

/// The README, shared by the languages (their differences are its placeholders).
const README: &str = include_str!("../../templates/algorithm/README.md");

/// Each language's files: (path in the project, template).
const GO: [(&str, &str); 3] = [
    ("go.mod", include_str!("../../templates/algorithm/go/go.mod")),
    ("main.go", include_str!("../../templates/algorithm/go/main.go")),
    (".gitignore", include_str!("../../templates/algorithm/go/gitignore")),
];
const RUST: [(&str, &str); 3] = [
    ("Cargo.toml", include_str!("../../templates/algorithm/rust/Cargo.toml")),
    ("src/main.rs", include_str!("../../templates/algorithm/rust/src/main.rs")),
    (".gitignore", include_str!("../../templates/algorithm/rust/gitignore")),
];

impl Lang {
    fn label(self) -> &'static str {
        match self {
            Self::Go => "Go",
            Self::Rust => "Rust",
        }
    }

    /// The command that builds the module, run in the project's folder.
    fn build_command(self, name: &str) -> String {
        match self {
            Self::Go => format!("GOOS=wasip1 GOARCH=wasm go build -o {name}.wasm ."),
            Self::Rust => "cargo build --release --target wasm32-wasip1".to_owned(),
        }
    }

    /// Where the build puts the module, relative to the project's folder.
    fn module_path(self, name: &str) -> String {
        match self {
            Self::Go => format!("{name}.wasm"),
            Self::Rust => format!("target/wasm32-wasip1/release/{name}.wasm"),
        }
    }

    /// The README's placeholders other than the name.
    fn readme_fields(self, name: &str) -> [(&'static str, String); 6] {
        let (source, toolchain, local_run) = match self {
            Self::Go => (
                "main.go",
                "Go 1.21 or newer (the first with `GOOS=wasip1`); the standard library only.",
                "go run .",
            ),
            Self::Rust => (
                "src/main.rs",
                "Rust 1.78 or newer with the `wasm32-wasip1` standard library \
                 (`rustup target add wasm32-wasip1`); no dependencies, so it builds offline.",
                "cargo run --",
            ),
        };
        [
            ("language", self.label().to_owned()),
            ("source", source.to_owned()),
            ("toolchain", toolchain.to_owned()),
            ("build", self.build_command(name)),
            ("module", self.module_path(name)),
            ("local_run", local_run.to_owned()),
        ]
    }
}

/// Refuses a name that is not a plain identifier, or that `lang`'s toolchain would refuse.
pub fn check_name(name: &str, lang: Lang) -> Result<()> {
    let plain = name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !plain {
        bail!(
            "{name:?} is not a valid algorithm name: use ASCII letters, digits, '-' and '_', at most \
             {MAX_NAME}, starting with a letter (e.g. word-count)"
        );
    }
    if lang == Lang::Rust && CARGO_RESERVED.contains(&name) {
        bail!(
            "{name:?} is not a valid name for a Rust algorithm: Cargo keeps {} for its own folders",
            CARGO_RESERVED.join(", ")
        );
    }
    Ok(())
}

/// The project's files for `name` in `lang`: (path in the project, contents).
pub fn render(name: &str, lang: Lang) -> Vec<(&'static str, String)> {
    let sources: &[(&str, &str)] = match lang {
        Lang::Go => &GO,
        Lang::Rust => &RUST,
    };
    let mut readme = README.to_owned();
    for (field, value) in lang.readme_fields(name) {
        readme = readme.replace(&format!("{{{{{field}}}}}"), &value);
    }
    sources
        .iter()
        .map(|(path, text)| (*path, text.replace("{{name}}", name)))
        .chain([("README.md", readme.replace("{{name}}", name))])
        .collect()
}

/// Runs an algorithm command.
pub fn run(global: &GlobalArgs, command: AlgorithmCommand) -> Result<()> {
    match command {
        AlgorithmCommand::New(args) => new(global, args),
    }
}

fn new(global: &GlobalArgs, args: NewArgs) -> Result<()> {
    check_name(&args.name, args.lang)?;
    let project = args.dir.join(&args.name);
    refuse_occupied(&project)?;
    let files = render(&args.name, args.lang);
    for (path, contents) in &files {
        let path = project.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .wrap_err_with(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, contents).wrap_err_with(|| format!("cannot write {}", path.display()))?;
    }

    let build = args.lang.build_command(&args.name);
    let module = project.join(args.lang.module_path(&args.name)).display().to_string();
    let publish = format!("agora asset publish {module} --kind algorithm --price 0");
    let paths: Vec<String> = files.iter().map(|(path, _)| project.join(path).display().to_string()).collect();
    if global.json {
        return output::json(&json!({
            "name": args.name,
            "lang": args.lang,
            "dir": project.display().to_string(),
            "files": paths,
            "build": build,
            "module": module,
            "publish": publish,
        }));
    }
    println!("created the {} algorithm {} in {}", args.lang.label(), args.name, project.display());
    let mut rows: Vec<(String, String)> = paths.into_iter().map(|path| ("  file".to_owned(), path)).collect();
    rows.extend([
        ("build".to_owned(), format!("cd {} && {build}", project.display())),
        ("module".to_owned(), module),
        ("publish".to_owned(), publish),
    ]);
    output::table(&rows);
    Ok(())
}

/// Refuses a project folder that already holds something (an empty one is used).
fn refuse_occupied(project: &Path) -> Result<()> {
    match std::fs::read_dir(project) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!("{} already exists and is not empty: nothing was written", project.display());
            }
            Ok(())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) if project.exists() && !project.is_dir() => {
            bail!("{} already exists and is not a folder ({err}): nothing was written", project.display())
        }
        Err(err) => bail!("cannot read {}: {err}", project.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_identifiers_and_never_cargo_folders() {
        for good in ["wordcount", "k-means_2", "A", &"a".repeat(MAX_NAME)] {
            check_name(good, Lang::Go).unwrap();
            check_name(good, Lang::Rust).unwrap();
        }
        for bad in ["", "2fast", "-x", "_x", "a b", "a/b", "../a", "a.b", "é", &"a".repeat(MAX_NAME + 1)] {
            let err = check_name(bad, Lang::Go).unwrap_err().to_string();
            assert!(err.contains("is not a valid algorithm name"), "{bad}: {err}");
        }
        check_name("build", Lang::Go).unwrap();
        assert!(check_name("build", Lang::Rust).unwrap_err().to_string().contains("Cargo keeps"));
    }

    #[test]
    fn every_placeholder_is_filled() {
        for lang in [Lang::Go, Lang::Rust] {
            let files = render("word-count", lang);
            assert_eq!(files.len(), 4);
            for (path, text) in &files {
                for field in ["name", "language", "source", "toolchain", "build", "module", "local_run"] {
                    assert!(!text.contains(&format!("{{{{{field}}}}}")), "{lang:?} {path} keeps {field}");
                }
            }
            let readme = &files.iter().find(|(path, _)| *path == "README.md").unwrap().1;
            assert!(readme.contains(&lang.build_command("word-count")), "{readme}");
            assert!(readme.contains(&format!("agora asset publish {}", lang.module_path("word-count"))));
        }
        let go = render("word-count", Lang::Go);
        assert!(go[0].1.contains("\nmodule agora.example/algorithms/word-count\n"));
        let rust = render("word-count", Lang::Rust);
        assert!(rust[0].1.contains("name = \"word-count\""));
    }
}
