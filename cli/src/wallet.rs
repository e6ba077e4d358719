//! Where a command's signing key comes from, and the keystore folder.
//!
//! In order: `--keystore <name>` (an encrypted JSON keystore; its password from
//! `--password-file` or a terminal prompt, never a flag), a hardware wallet (`--ledger`, with the
//! `ledger` feature), or the `AGORA_PRIVATE_KEY` environment variable. Nothing here prints or
//! logs a key or a password.

use std::{
    fs,
    io::IsTerminal,
    path::{Path, PathBuf},
};

use alloy::{network::EthereumWallet, primitives::Address, signers::local::PrivateKeySigner};
use clap::Args;
use eyre::{Result, WrapErr, bail, eyre};

/// Environment variable holding a hex private key (CI and local development).
pub const PRIVATE_KEY_ENV: &str = "AGORA_PRIVATE_KEY";

/// How a command that sends transactions gets its signer.
#[derive(Debug, Clone, Args)]
pub struct SignerArgs {
    /// Sign with this keystore (a name in --keystore-dir, or a path to a keystore file).
    #[arg(long, env = "AGORA_KEYSTORE")]
    pub keystore: Option<String>,
    /// File whose first line is the keystore's password (otherwise you are prompted).
    #[arg(long, env = "AGORA_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// Folder of keystores.
    #[command(flatten)]
    pub dir: KeystoreDir,
    /// Sign with a Ledger (first Ethereum account, Ledger Live derivation).
    #[cfg(feature = "ledger")]
    #[arg(long)]
    pub ledger: bool,
}

/// The folder keystores live in.
#[derive(Debug, Clone, Args)]
pub struct KeystoreDir {
    /// Folder of encrypted keystores [default: ~/.agora/keystores].
    #[arg(long = "keystore-dir", env = "AGORA_KEYSTORE_DIR")]
    pub path: Option<PathBuf>,
}

impl KeystoreDir {
    /// The folder, defaulting to `~/.agora/keystores`.
    pub fn path(&self) -> Result<PathBuf> {
        if let Some(path) = &self.path {
            return Ok(path.clone());
        }
        let home = std::env::var_os("HOME").ok_or_else(|| eyre!("HOME is not set: pass --keystore-dir"))?;
        Ok(PathBuf::from(home).join(".agora/keystores"))
    }

    /// The keystore file called `name` (or `name` itself when it is a path to a file).
    pub fn file(&self, name: &str) -> Result<PathBuf> {
        let as_path = Path::new(name);
        if as_path.is_file() {
            return Ok(as_path.to_path_buf());
        }
        let path = self.path()?.join(name);
        if !path.is_file() {
            bail!("no keystore named {name:?} in {} (see `agora wallet list`)", self.path()?.display());
        }
        Ok(path)
    }
}

/// A signer ready for a provider, and the address it signs for.
pub struct Signer {
    /// The wallet to give the provider.
    pub wallet: EthereumWallet,
    /// Its address.
    pub address: Address,
    /// The local key, when it is one (EIP-2612 permits are signed with it); `None` for a
    /// hardware wallet.
    pub key: Option<PrivateKeySigner>,
}

impl SignerArgs {
    /// Resolves the signer.
    pub async fn signer(&self) -> Result<Signer> {
        if let Some(name) = &self.keystore {
            let file = self.dir.file(name)?;
            let password = password(self.password_file.as_deref(), &format!("password for keystore {name}"))?;
            let key = PrivateKeySigner::decrypt_keystore(&file, password)
                .map_err(|_| eyre!("cannot open keystore {name:?}: wrong password or not a keystore file"))?;
            return Ok(Signer { address: key.address(), wallet: key.clone().into(), key: Some(key) });
        }
        #[cfg(feature = "ledger")]
        if self.ledger {
            use alloy::signers::{
                Signer as _,
                ledger::{HDPath, LedgerSigner},
            };
            let ledger = LedgerSigner::new(HDPath::LedgerLive(0), None)
                .await
                .wrap_err("cannot reach the Ledger: is it unlocked with the Ethereum app open?")?;
            return Ok(Signer { address: ledger.address(), wallet: ledger.into(), key: None });
        }
        match std::env::var(PRIVATE_KEY_ENV) {
            Ok(hex) if !hex.trim().is_empty() => {
                let key: PrivateKeySigner =
                    hex.trim().parse().map_err(|_| eyre!("{PRIVATE_KEY_ENV} is not a valid private key"))?;
                Ok(Signer { address: key.address(), wallet: key.clone().into(), key: Some(key) })
            }
            _ => bail!("no signer: pass --keystore <name> or set {PRIVATE_KEY_ENV}"),
        }
    }
}

impl SignerArgs {
    /// The local key, when one is given (`--keystore` or `AGORA_PRIVATE_KEY`); `None` when no
    /// signer is given at all. For commands that sign only if they can, such as decrypting with
    /// an owner's key copy.
    pub async fn local_key_if_given(&self) -> Result<Option<PrivateKeySigner>> {
        let from_env = std::env::var(PRIVATE_KEY_ENV).is_ok_and(|hex| !hex.trim().is_empty());
        if self.keystore.is_none() && !from_env {
            return Ok(None);
        }
        Ok(self.signer().await?.key)
    }
}

/// Reads a password from the first line of `file`, or prompts for it on the terminal.
pub fn password(file: Option<&Path>, prompt: &str) -> Result<String> {
    if let Some(file) = file {
        let text =
            fs::read_to_string(file).wrap_err_with(|| format!("reading password file {}", file.display()))?;
        let line = text.lines().next().unwrap_or_default().to_owned();
        if line.is_empty() {
            bail!("password file {} is empty", file.display());
        }
        return Ok(line);
    }
    if !std::io::stdin().is_terminal() {
        bail!("{prompt} needed: pass --password-file (no terminal to prompt on)");
    }
    let password = rpassword::prompt_password(format!("{prompt}: ")).wrap_err("reading the password")?;
    if password.is_empty() {
        bail!("empty password");
    }
    Ok(password)
}
