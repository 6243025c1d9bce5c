//! What the local runner's durable store promises beyond the port contracts: its data outlives
//! the process, secrets are sealed at rest under a private key file, one process holds a data
//! folder at a time, and expired items are swept at their time, not before.

use std::os::unix::fs::PermissionsExt;

use oore_gitlab_tests::records::{delivery, record, repo, trigger};
use secrecy::{ExposeSecret, SecretString};
use shared::adapters::embedded::{LocalData, OpenError, STORE_FILE, VAULT_KEY_FILE};
use shared::domain::delivery::DeliveryOutcome;
use shared::domain::ids::IntegrationId;
use shared::domain::oauth::PendingAuthorization;
use shared::domain::sync::{FINISHED_SYNC_RETENTION_SECS, SyncRecord, SyncRunState};
use shared::domain::trigger::{FINAL_TRIGGER_RETENTION_SECS, ReportedState};
use shared::domain::webhook_keys::WebhookKey;
use shared::ports::{
    IntegrationStore, OAuthStateStore, Recorded, RepositoryStore, SecretVault, SyncStore, TriggerStore, VaultError,
    WebhookStore,
};

const TOKEN: &str = "glpat-sealed-at-rest-0123456789";

fn folder() -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    (root, dir)
}

#[tokio::test]
async fn data_outlives_the_process_that_wrote_it() {
    let (_root, dir) = folder();
    let a = IntegrationId::from("int-kept");
    let key = WebhookKey::issue(&a, None, 100).key;
    {
        let data = LocalData::open(&dir).unwrap();
        data.store
            .create_integration(&record(&a), None, Some(&key))
            .await
            .unwrap();
        data.store
            .write_repositories(&a, &[repo(&a, 1), repo(&a, 2)], &[])
            .await
            .unwrap();
        data.vault
            .create_secret("oore/a", &SecretString::from(TOKEN.to_string()))
            .await
            .unwrap();
    }
    let data = LocalData::open(&dir).unwrap();
    assert_eq!(data.store.get_integration(&a).await.unwrap(), Some(record(&a)));
    assert_eq!(data.store.list_repositories(&a).await.unwrap().len(), 2);
    assert_eq!(data.store.find_webhook_key(&key.digest).await.unwrap(), Some(key));
    assert_eq!(
        data.vault.get_secret("oore/a").await.unwrap().unwrap().expose_secret(),
        TOKEN
    );
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_under_a_private_key_file() {
    let (_root, dir) = folder();
    {
        let data = LocalData::open(&dir).unwrap();
        data.vault
            .create_secret("oore/a", &SecretString::from(TOKEN.to_string()))
            .await
            .unwrap();
    }
    let file = std::fs::read(dir.join(STORE_FILE)).unwrap();
    assert!(
        !file.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
        "the token is not in the store's file"
    );
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.join(VAULT_KEY_FILE)), 0o600);
    assert_eq!(mode(&dir.join(STORE_FILE)), 0o600, "the store is not left to the umask");
    assert_eq!(mode(&dir), 0o700, "a folder made by the store is private too");

    // A key file someone opened up is narrowed again.
    std::fs::set_permissions(dir.join(VAULT_KEY_FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(LocalData::open(&dir).unwrap());
    assert_eq!(mode(&dir.join(VAULT_KEY_FILE)), 0o600);
}

#[tokio::test]
async fn a_data_folder_others_may_write_in_is_refused_and_loose_modes_narrowed() {
    let (_root, dir) = folder();
    drop(LocalData::open(&dir).unwrap());
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;

    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o775)).unwrap();
    let refused = LocalData::open(&dir)
        .err()
        .expect("a folder others can write in is refused");
    assert!(matches!(refused, OpenError::Io { .. }), "{refused}");
    assert!(refused.to_string().contains("chmod 700"), "{refused}");
    assert_eq!(mode(&dir), 0o775, "a refused folder is left as it was");

    // One others may only read (mkdir's usual 0755) is narrowed.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    drop(LocalData::open(&dir).unwrap());
    assert_eq!(mode(&dir), 0o700);

    std::fs::set_permissions(dir.join(STORE_FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(LocalData::open(&dir).unwrap());
    assert_eq!(
        mode(&dir.join(STORE_FILE)),
        0o600,
        "a store others could read is narrowed"
    );
}

#[tokio::test]
async fn a_lost_or_wrong_vault_key_is_refused_not_replaced() {
    let (_root, dir) = folder();
    {
        let data = LocalData::open(&dir).unwrap();
        data.vault
            .create_secret("oore/a", &SecretString::from(TOKEN.to_string()))
            .await
            .unwrap();
    }
    let key_file = dir.join(VAULT_KEY_FILE);
    let original = std::fs::read(&key_file).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    let refused = LocalData::open(&dir).err().expect("no new key over sealed secrets");
    assert!(matches!(refused, OpenError::Vault(_)), "{refused}");
    assert!(refused.to_string().contains("missing"), "{refused}");
    assert!(!key_file.exists(), "no key was made in its place");

    // Another key opens the folder but not the secrets sealed under the first.
    std::fs::write(&key_file, format!("{}\n", "ab".repeat(32))).unwrap();
    let data = LocalData::open(&dir).unwrap();
    let err = data.vault.get_secret("oore/a").await.unwrap_err();
    assert!(matches!(err, VaultError::Unavailable(_)), "{err}");
    assert!(!err.to_string().contains(TOKEN));
    drop(data);

    std::fs::write(&key_file, original).unwrap();
    let data = LocalData::open(&dir).unwrap();
    assert_eq!(
        data.vault.get_secret("oore/a").await.unwrap().unwrap().expose_secret(),
        TOKEN
    );
}

#[tokio::test]
async fn one_process_holds_a_data_folder_at_a_time() {
    let (_root, dir) = folder();
    let held = LocalData::open(&dir).unwrap();
    let refused = LocalData::open(&dir).err().expect("the folder is in use");
    assert!(matches!(refused, OpenError::InUse(_)), "{refused}");
    assert!(refused.to_string().contains("OORE_LOCAL_DIR"), "{refused}");
    drop(held);
    LocalData::open(&dir).expect("free again once the holder closed it");
}

#[tokio::test]
async fn expired_items_are_swept_at_their_time_and_not_before() {
    let (_root, dir) = folder();
    let data = LocalData::open(&dir).unwrap();
    let store = &data.store;
    let a = IntegrationId::from("int-expiring");
    let first = WebhookKey::issue(&a, None, 1000).key;
    store.create_integration(&record(&a), None, Some(&first)).await.unwrap();
    store.write_repositories(&a, &[repo(&a, 1)], &[]).await.unwrap();

    // A delivery with its marker and trigger (kept a day), which is then built to the end.
    let built = trigger(&a, "built", 1000);
    let logged = delivery(&a, "built", 1000, DeliveryOutcome::Triggered);
    assert_eq!(
        store.record_delivery(&logged, Some(&built)).await.unwrap(),
        Recorded::New
    );
    let claimed = built.claimed("runner", 5000, 1100);
    store.update_trigger(&claimed).await.unwrap();
    let done = claimed.reported(ReportedState::Success, None, None, 0, 1200).unwrap();
    store.update_trigger(&done).await.unwrap();
    // A trigger still queued, and a log entry of its own.
    let waiting = trigger(&a, "waiting", 1300);
    store
        .record_delivery(
            &delivery(&a, "waiting", 1300, DeliveryOutcome::Triggered),
            Some(&waiting),
        )
        .await
        .unwrap();
    // An OAuth state (ten minutes), a finished sync pass, a key rotated with an hour's grace.
    store
        .put_oauth_state(&PendingAuthorization {
            state_digest: "state".into(),
            integration_id: a.clone(),
            requested_by: "user-1".into(),
            redirect_url: "https://ui.example.com".into(),
            created_at: 1000,
            expires_at: 1600,
        })
        .await
        .unwrap();
    let pass = SyncRecord::next_pass(&a, None, 1000);
    store.put_sync(&pass).await.unwrap();
    store
        .put_sync(&SyncRecord {
            state: SyncRunState::Succeeded,
            finished_at: Some(1100),
            ..pass.bumped()
        })
        .await
        .unwrap();
    store
        .rotate_webhook_key(&WebhookKey::issue(&a, None, 1000).key, 4600, 1000)
        .await
        .unwrap();

    let nothing_due = store.sweep_expired(1500).await.unwrap();
    assert_eq!(nothing_due.total(), 0, "{nothing_due:?}");

    let swept = store.sweep_expired(1000 + 86_400).await.unwrap();
    assert_eq!(
        (
            swept.deliveries,
            swept.dedupe_markers,
            swept.oauth_states,
            swept.webhook_keys
        ),
        (1, 1, 1, 1),
        "{swept:?}"
    );
    assert_eq!(store.take_oauth_state("state").await.unwrap(), None);
    assert_eq!(store.find_webhook_key(&first.digest).await.unwrap(), None);
    assert_eq!(
        store.webhook_keys(&a, None).await.unwrap().len(),
        1,
        "the current key stays"
    );
    let (log, _) = store.list_deliveries(&a, 10, None).await.unwrap();
    assert_eq!(
        log.len(),
        1,
        "the later delivery's entry stays until its own day is over"
    );
    // The marker went with the day: GitLab sending the first delivery again is a new delivery.
    assert_eq!(store.record_delivery(&logged, None).await.unwrap(), Recorded::New);

    let later = 1200 + FINAL_TRIGGER_RETENTION_SECS.max(FINISHED_SYNC_RETENTION_SECS) + 1;
    let swept = store.sweep_expired(later).await.unwrap();
    assert_eq!((swept.triggers, swept.syncs), (1, 1), "{swept:?}");
    assert_eq!(store.get_trigger(&done.id).await.unwrap(), None);
    assert_eq!(
        store.get_trigger(&waiting.id).await.unwrap(),
        Some(waiting),
        "a queued trigger never expires"
    );
    assert_eq!(store.get_sync(&a).await.unwrap(), None);
}

/// A merge request's summary note id goes when its retention ends, unless a later build kept
/// it again.
#[tokio::test]
async fn summary_notes_are_swept_when_their_retention_ends() {
    use shared::domain::ids::ProjectId;
    use shared::domain::merge_request_note::{MergeRequestNote, NOTE_RETENTION_SECS};
    let (_dir, LocalData { store, .. }) = oore_gitlab_tests::local_data();
    let a = IntegrationId::from("int-notes".to_string());
    store.create_integration(&record(&a), None, None).await.unwrap();
    let built = trigger(&a, "note", 1000);
    store
        .keep_merge_request_note(&MergeRequestNote::of(&built, 1, 11, 1000))
        .await
        .unwrap();
    store
        .keep_merge_request_note(&MergeRequestNote::of(&built, 2, 12, 1000))
        .await
        .unwrap();
    let renewed = MergeRequestNote::of(&built, 2, 12, 5000);
    store.keep_merge_request_note(&renewed).await.unwrap();

    let swept = store.sweep_expired(1000 + NOTE_RETENTION_SECS).await.unwrap();
    assert_eq!(swept.merge_request_notes, 1, "{swept:?}");
    assert_eq!(store.merge_request_note(&a, ProjectId(1), 1).await.unwrap(), None);
    assert_eq!(
        store.merge_request_note(&a, ProjectId(1), 2).await.unwrap(),
        Some(renewed),
        "kept again by a later build"
    );
}
