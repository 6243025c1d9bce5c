//! The repository store on DynamoDB: an integration's repositories, and one found by its id.

use async_trait::async_trait;

use super::keys::{REPOSITORY_GSI1SK, REPOSITORY_PREFIX, integration_pk, repository_gsi1pk, repository_sk};
use super::{DynamoStore, Item, delete_request, from_item, put_request, to_item};
use crate::domain::ids::{IntegrationId, RepositoryId};
use crate::domain::integration::Repository;
use crate::ports::{RepositoryStore, StoreError};

impl DynamoStore {
    fn repository_item(repo: &Repository) -> Result<Item, StoreError> {
        to_item(
            repo,
            &[
                ("pk", integration_pk(&repo.integration_id)),
                ("sk", repository_sk(repo.external_id)),
                ("gsi1pk", repository_gsi1pk(&repo.id)),
                ("gsi1sk", REPOSITORY_GSI1SK.into()),
            ],
        )
    }
}

#[async_trait]
impl RepositoryStore for DynamoStore {
    async fn list_repositories(&self, integration_id: &IntegrationId) -> Result<Vec<Repository>, StoreError> {
        self.query_prefix(&integration_pk(integration_id), REPOSITORY_PREFIX)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn get_repository(&self, repository_id: &RepositoryId) -> Result<Option<Repository>, StoreError> {
        let items = self.query_gsi1(&repository_gsi1pk(repository_id)).await?;
        items.into_iter().next().map(from_item).transpose()
    }

    async fn write_repositories(
        &self,
        integration_id: &IntegrationId,
        upserts: &[Repository],
        removals: &[Repository],
    ) -> Result<(), StoreError> {
        let pk = integration_pk(integration_id);
        let mut requests = Vec::with_capacity(upserts.len() + removals.len());
        for repo in upserts {
            requests.push(put_request(Self::repository_item(repo)?)?);
        }
        for repo in removals {
            requests.push(delete_request(pk.clone(), repository_sk(repo.external_id))?);
        }
        self.batch_write(requests).await
    }
}
