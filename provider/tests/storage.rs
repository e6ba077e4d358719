//! The storage module against a real Kubo daemon: add/cat round trips with digests and
//! progress, ranges, a digest mismatch that fails loudly, pins, stat, directories.

mod common;

use agora_provider::storage::collect;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use agora_provider::storage::{Storage, StorageError, sha256};
use alloy::primitives::B256;
use common::{content, start_kubo};
use eyre::{Result, ensure, eyre};
use futures::TryStreamExt;

fn storage(kubo: &agora_deploy::services::kubo::KuboDaemon) -> Result<Storage> {
    Ok(Storage::new(&kubo.api_url(), Duration::from_secs(10))?)
}

#[tokio::test]
async fn a_file_added_from_disk_cats_back_with_its_digest_and_reports_progress() -> Result<()> {
    let kubo = start_kubo();
    let storage = storage(&kubo)?;
    ensure!(storage.version().await?.starts_with("0.43"), "unexpected Kubo version");

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("data.bin");
    let data = content(3 * 1024 * 1024 + 17, 1);
    std::fs::write(&path, &data)?;
    let seen = Arc::new(AtomicU64::new(0));
    let progress = {
        let seen = seen.clone();
        Arc::new(move |n: u64| seen.store(n, Ordering::Relaxed))
    };
    let added = storage.add_file(&path, Some(progress)).await?;
    assert_eq!(added.size, data.len() as u64);
    assert_eq!(added.sha256, sha256(&data));
    assert_eq!(seen.load(Ordering::Relaxed), data.len() as u64, "progress reached the end");

    let back = collect(storage.cat_verified(&added.cid, added.sha256)).await?;
    assert_eq!(back.len(), data.len());
    assert!(back == data, "content differs");

    let range = collect(storage.cat(&added.cid, Some((1_000_000, 4096)))).await?;
    assert_eq!(&range[..], &data[1_000_000..1_004_096]);

    let stat = storage.stat(&added.cid).await?;
    assert_eq!(stat.size, data.len() as u64);
    assert_eq!(stat.kind, "file");
    Ok(())
}

#[tokio::test]
async fn a_digest_mismatch_fails_the_stream_before_its_last_chunk() -> Result<()> {
    let kubo = start_kubo();
    let storage = storage(&kubo)?;
    let data = content(700_000, 2);
    let added = storage.add_bytes(data.clone()).await?;
    let wrong = B256::repeat_byte(0xab);

    let mut received = 0usize;
    let mut stream = storage.cat_verified(&added.cid, wrong);
    let err = loop {
        match stream.try_next().await {
            Ok(Some(chunk)) => received += chunk.len(),
            Ok(None) => return Err(eyre!("a stream with the wrong digest ended cleanly")),
            Err(err) => break err,
        }
    };
    match err {
        StorageError::DigestMismatch { expected, actual, .. } => {
            assert_eq!(expected, wrong);
            assert_eq!(actual, sha256(&data));
        }
        other => return Err(eyre!("expected a digest mismatch, got {other}")),
    }
    ensure!(received < data.len(), "the whole content was delivered despite the mismatch");
    Ok(())
}

#[tokio::test]
async fn pins_are_added_listed_and_removed() -> Result<()> {
    let kubo = start_kubo();
    let storage = storage(&kubo)?;
    let added = storage.add_bytes(b"pin me".to_vec()).await?;
    ensure!(storage.is_pinned(&added.cid).await?, "add pins");
    storage.pin_rm(&added.cid).await?;
    ensure!(!storage.is_pinned(&added.cid).await?, "pin rm unpins");
    storage.pin_add(&added.cid).await?;
    let pins = storage.pin_ls().await?;
    assert_eq!(pins.get(&added.cid).map(String::as_str), Some("recursive"));
    Ok(())
}

#[tokio::test]
async fn a_directory_is_added_and_fetched_as_a_tar_and_missing_content_is_not_found() -> Result<()> {
    let kubo = start_kubo();
    let storage = storage(&kubo)?;
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("model");
    std::fs::create_dir_all(root.join("weights"))?;
    std::fs::write(root.join("config.json"), b"{\"layers\":6}")?;
    std::fs::write(root.join("weights/part-0.bin"), content(300_000, 3))?;
    let cid = storage.add_dir(&root).await?;
    let stat = storage.stat(&cid).await?;
    assert_eq!(stat.kind, "directory");
    let config = collect(storage.cat(&format!("{cid}/config.json"), None)).await?;
    assert_eq!(&config[..], b"{\"layers\":6}");
    let tar = collect(storage.get(&cid)).await?;
    ensure!(tar.len() > 300_000, "the tar holds the files ({} bytes)", tar.len());
    ensure!(tar.windows(11).any(|w| w == b"config.json"), "the tar names config.json");

    // An empty folder (an algorithm that wrote nothing) is the empty UnixFS directory.
    let empty = dir.path().join("out");
    std::fs::create_dir(&empty)?;
    assert_eq!(storage.add_dir(&empty).await?, "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354");

    // An offline node does not have content nobody added.
    let missing = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    match storage.stat(missing).await {
        Err(StorageError::NotFound { .. } | StorageError::Timeout { .. }) => Ok(()),
        other => Err(eyre!("expected not found, got {other:?}")),
    }
}

#[tokio::test]
async fn a_stopped_kubo_is_reported_unavailable_and_a_restart_serves_again() -> Result<()> {
    let mut kubo = start_kubo();
    let storage = storage(&kubo)?;
    let added = storage.add_bytes(b"survives restarts".to_vec()).await?;
    kubo.stop()?;
    match storage.stat(&added.cid).await {
        Err(StorageError::Unavailable { .. }) => {}
        other => return Err(eyre!("expected unavailable, got {other:?}")),
    }
    kubo.restart()?;
    let back = collect(storage.cat(&added.cid, None)).await?;
    assert_eq!(&back[..], b"survives restarts");
    Ok(())
}
