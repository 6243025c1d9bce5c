//! Integration records the webhook path's member gate read, kept for a minute: a comment
//! command or a fork's request then costs no more DynamoDB calls than a push. A record a minute
//! old is safe there: a replaced or refreshed token is found again on GitLab's 401
//! (`with_token` rereads the record), and a deleted integration's delivery is stopped by the
//! consistent repository read that follows the gate.

use std::time::Duration;

use crate::domain::ids::IntegrationId;
use crate::domain::integration::IntegrationRecord;
use crate::ports::{IntegrationStore, StoreError};

/// How long a record is used without reading it again.
const KEPT_FOR: Duration = Duration::from_secs(60);

/// Recently read integration records, per container.
#[derive(Clone)]
pub struct RecentIntegrations(moka::future::Cache<IntegrationId, IntegrationRecord>);

impl Default for RecentIntegrations {
    fn default() -> Self {
        RecentIntegrations(
            moka::future::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(KEPT_FOR)
                .build(),
        )
    }
}

impl RecentIntegrations {
    /// The record of a live (not deleted) integration, from the last minute or the store.
    ///
    /// # Errors
    /// The store's, when it has to be asked and fails.
    pub async fn live(
        &self,
        store: &dyn IntegrationStore,
        id: &IntegrationId,
    ) -> Result<Option<IntegrationRecord>, StoreError> {
        if let Some(record) = self.0.get(id).await {
            return Ok(Some(record));
        }
        let Some(record) = store.get_integration(id).await?.filter(|i| i.deleted_at.is_none()) else {
            return Ok(None);
        };
        self.0.insert(id.clone(), record.clone()).await;
        Ok(Some(record))
    }
}
