//! Connecting a command to the protocol: the network's RPC (its chain id checked), the
//! deployment manifest of that chain, and the contracts as a reader or as the command's signer.

use agora_contracts::{Agora, Deployment, signing_provider};
use agora_deploy::protocol::manifest_path;
use alloy::providers::{Provider, ProviderBuilder};
use eyre::{Result, eyre};
use url::Url;

use crate::{
    GlobalArgs,
    wallet::{Signer, SignerArgs},
};

/// The protocol's contracts on the selected network, for reading.
pub async fn reader(global: &GlobalArgs) -> Result<Agora> {
    Ok(connect(global).await?.0)
}

/// The protocol's contracts on the selected network, sending as the command's signer.
pub async fn writer(global: &GlobalArgs, signer: &SignerArgs) -> Result<(Agora, Signer)> {
    let (agora, url) = connect(global).await?;
    let signer = signer.signer().await?;
    let provider = signing_provider(url, signer.wallet.clone());
    Ok((agora.with_provider(provider), signer))
}

async fn connect(global: &GlobalArgs) -> Result<(Agora, Url)> {
    let (network, url) = global.network()?;
    let provider = ProviderBuilder::new().connect_http(url.clone()).erased();
    network.check_chain(&global.network, &url, &provider).await?;
    let deployment = deployment(global, network.chain_id)?;
    Ok((Agora::new(deployment, provider), url))
}

fn deployment(global: &GlobalArgs, chain_id: u64) -> Result<Deployment> {
    let path = manifest_path(&global.deployments_dir, chain_id);
    if !path.is_file() {
        return Err(eyre!(
            "no deployment of Agora on chain {chain_id}: {} does not exist (run `agora deploy`, or pass --deployments-dir)",
            path.display()
        ));
    }
    Ok(Deployment::read(&path)?)
}
