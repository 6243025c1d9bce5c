//! The local runner's timers, which keep the promises a schedule keeps on AWS: the daily token
//! check, the claim expiry, and the sweep of expired items that DynamoDB's TTL does there.

use std::sync::Arc;
use std::time::Duration;

use shared::adapters::embedded::EmbeddedStore;
use shared::app::Services;
use shared::ports::Clock;

/// How often expired deliveries, dedupe markers, OAuth states, finished triggers and sync
/// records are removed.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(300);

/// How often claims that ran out are queued again (every minute on AWS).
pub const CLAIM_EXPIRY_INTERVAL: Duration = Duration::from_secs(30);

/// How often every token is checked.
pub const TOKEN_CHECK_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// The daily token check: at start, then once a day (no bus: what expires is logged and shown
/// in the integration's detail).
pub async fn check_tokens_daily(services: Services) {
    let mut daily = tokio::time::interval(TOKEN_CHECK_INTERVAL);
    loop {
        daily.tick().await;
        if let Err(err) = shared::app::token_expiry::check_all_tokens(&services, None).await {
            tracing::warn!(error = %err, "the daily token check could not list the integrations");
        }
    }
}

/// Queues again, every [`CLAIM_EXPIRY_INTERVAL`], the triggers whose claim ran out, and revokes
/// their clone credentials.
pub async fn expire_claims_periodically(services: Services) {
    let mut every = tokio::time::interval(CLAIM_EXPIRY_INTERVAL);
    loop {
        every.tick().await;
        match shared::inbound::schedule::expire_claims(&services).await {
            Ok(expired) if expired.requeued > 0 => {
                tracing::info!(requeued = expired.requeued, "claims that ran out were queued again")
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "the claim expiry failed; it runs again shortly"),
        }
    }
}

/// Sweeps expired items now and every [`SWEEP_INTERVAL`], logging what went.
pub async fn sweep_periodically(store: EmbeddedStore, clock: Arc<dyn Clock>) {
    let mut every = tokio::time::interval(SWEEP_INTERVAL);
    loop {
        every.tick().await;
        match store.sweep_expired(clock.now()).await {
            Ok(swept) if swept.total() > 0 => tracing::info!(
                deliveries = swept.deliveries,
                dedupe_markers = swept.dedupe_markers,
                oauth_states = swept.oauth_states,
                triggers = swept.triggers,
                syncs = swept.syncs,
                webhook_keys = swept.webhook_keys,
                merge_request_notes = swept.merge_request_notes,
                "expired items removed"
            ),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "the expiry sweep failed; it runs again later"),
        }
    }
}
