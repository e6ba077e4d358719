//! `agora wallet`: encrypted JSON keystores (the Web3 Secret Storage format geth and foundry use).

use std::{fs, io::IsTerminal};

use alloy::signers::local::PrivateKeySigner;
use clap::{Args, Subcommand};
use eyre::{Result, WrapErr, bail, eyre};
use serde::Serialize;

use crate::{
    GlobalArgs, output,
    wallet::{KeystoreDir, password},
};

/// Keystore commands.
#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// Create a new random key in an encrypted keystore.
    ///
    /// Example: agora wallet new --name alice --password-file ./alice.pass
    New(NewArgs),
    /// Encrypt an existing private key (read from stdin or a prompt, never a flag) into a keystore.
    ///
    /// Example: printf '%s' "$KEY" | agora wallet import --name ci --password-file ./ci.pass
    Import(NewArgs),
    /// List keystores and their addresses (read from the files, no password needed).
    ///
    /// Example: agora wallet list --json
    List(ListArgs),
    /// Print a keystore's address.
    ///
    /// Example: agora wallet address alice
    Address(AddressArgs),
}

/// Arguments of `wallet new` and `wallet import`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// Keystore name (its file name in the keystore folder).
    #[arg(long)]
    pub name: String,
    /// File whose first line is the password (otherwise you are prompted twice).
    #[arg(long, env = "AGORA_PASSWORD_FILE")]
    pub password_file: Option<std::path::PathBuf>,
    /// Keystore folder.
    #[command(flatten)]
    pub dir: KeystoreDir,
}

/// Arguments of `wallet list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Keystore folder.
    #[command(flatten)]
    pub dir: KeystoreDir,
}

/// Arguments of `wallet address`.
#[derive(Debug, Args)]
pub struct AddressArgs {
    /// Keystore name.
    pub name: String,
    /// Keystore folder.
    #[command(flatten)]
    pub dir: KeystoreDir,
}

#[derive(Serialize)]
struct Entry {
    name: String,
    address: String,
}

/// Runs a wallet command.
pub fn run(global: &GlobalArgs, command: WalletCommand) -> Result<()> {
    match command {
        WalletCommand::New(args) => create(global, args, None),
        WalletCommand::Import(args) => {
            let key = read_private_key()?;
            create(global, args, Some(key))
        }
        WalletCommand::List(args) => {
            let dir = args.dir.path()?;
            let mut entries = Vec::new();
            if dir.is_dir() {
                for entry in fs::read_dir(&dir).wrap_err_with(|| format!("reading {}", dir.display()))? {
                    let path = entry?.path();
                    if let Some(address) = path.is_file().then(|| keystore_address(&path)).flatten() {
                        let name =
                            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                        entries.push(Entry { name, address });
                    }
                }
            }
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            if global.json {
                return output::json(&entries);
            }
            if entries.is_empty() {
                println!(
                    "no keystores in {} (create one with `agora wallet new --name <name>`)",
                    dir.display()
                );
            }
            output::table(&entries.into_iter().map(|e| (e.name, e.address)).collect::<Vec<_>>());
            Ok(())
        }
        WalletCommand::Address(args) => {
            let path = args.dir.file(&args.name)?;
            let address = keystore_address(&path)
                .ok_or_else(|| eyre!("{} is not a keystore with an address", path.display()))?;
            if global.json {
                return output::json(&Entry { name: args.name, address });
            }
            println!("{address}");
            Ok(())
        }
    }
}

fn create(global: &GlobalArgs, args: NewArgs, key: Option<PrivateKeySigner>) -> Result<()> {
    validate_name(&args.name)?;
    let dir = args.dir.path()?;
    if dir.join(&args.name).exists() {
        bail!("keystore {:?} already exists in {}", args.name, dir.display());
    }
    let password = match &args.password_file {
        Some(file) => password(Some(file), "password")?,
        None => {
            let first = password(None, "new keystore password")?;
            if password(None, "repeat the password")? != first {
                bail!("the passwords differ");
            }
            first
        }
    };
    fs::create_dir_all(&dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    let mut rng = rand::thread_rng();
    let signer = match key {
        Some(key) => {
            PrivateKeySigner::encrypt_keystore(&dir, &mut rng, key.to_bytes(), &password, Some(&args.name))?.0
        }
        None => PrivateKeySigner::new_keystore(&dir, &mut rng, &password, Some(&args.name))?.0,
    };
    let entry = Entry { name: args.name, address: signer.address().to_string() };
    if global.json {
        return output::json(&entry);
    }
    println!("created keystore {} for {}", entry.name, entry.address);
    Ok(())
}

/// Reads a hex private key from stdin (piped) or a hidden prompt.
fn read_private_key() -> Result<PrivateKeySigner> {
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("private key (hex): ").wrap_err("reading the private key")?
    } else {
        std::io::read_to_string(std::io::stdin()).wrap_err("reading the private key from stdin")?
    };
    text.trim().parse().map_err(|_| eyre!("that is not a valid private key (64 hex digits)"))
}

fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !ok {
        bail!("keystore name {name:?} must be 1-64 letters, digits, '-', '_' or '.', not starting with '.'");
    }
    Ok(())
}

/// The address a keystore file records (geth-compatible keystores carry it), if it is one.
fn keystore_address(path: &std::path::Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("crypto")?;
    let hex = json.get("address")?.as_str()?;
    let address: alloy::primitives::Address = hex.parse().ok()?;
    Some(address.to_string())
}
