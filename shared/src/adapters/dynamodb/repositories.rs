//! The repository store on DynamoDB: an integration's repositories, and one found by its id.

use async_trait::async_trait;

use crate::adapters::dynamodb::keys::{
    REPOSITORY_GSI1SK, REPOSITORY_PREFIX, hook_sk, integration_pk, repository_gsi1pk, repository_sk,
};
use crate::adapters::dynamodb::{
    DynamoStore, Item, delete_request, from_item, number, put_request, s, to_item, unavailable,
};
use crate::domain::ids::{IntegrationId, ProjectId, RepositoryId};
use crate::domain::integration::Repository;
use crate::domain::name_index::{IndexBounds, IndexChange, IndexSlice, WhenMissing};
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

    async fn get_repositories(
        &self,
        integration_id: &IntegrationId,
        projects: &[ProjectId],
    ) -> Result<Vec<Repository>, StoreError> {
        let pk = integration_pk(integration_id);
        let keys = projects.iter().map(|p| (pk.clone(), repository_sk(*p))).collect();
        self.batch_get(keys).await?.into_iter().map(from_item).collect()
    }

    async fn stale_repositories(
        &self,
        integration_id: &IntegrationId,
        generation: u64,
    ) -> Result<Vec<Repository>, StoreError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .filter_expression("attribute_not_exists(sync_generation) OR sync_generation < :generation")
            .expression_attribute_values(":pk", s(integration_pk(integration_id)))
            .expression_attribute_values(":prefix", s(REPOSITORY_PREFIX))
            .expression_attribute_values(":generation", number(generation as i64))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(unavailable)?;
        items.into_iter().map(from_item).collect()
    }

    async fn read_name_index(
        &self,
        integration_id: &IntegrationId,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Option<IndexSlice>, StoreError> {
        self.read_index(integration_id, offset, limit).await
    }

    async fn read_index_bounds(&self, integration_id: &IntegrationId) -> Result<Option<IndexBounds>, StoreError> {
        self.index_bounds(integration_id).await
    }

    async fn change_name_index(
        &self,
        integration_id: &IntegrationId,
        change: IndexChange,
        when_missing: WhenMissing,
    ) -> Result<Option<usize>, StoreError> {
        self.change_index(integration_id, change, when_missing).await
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
            // A removed repository's hook record goes with it (deleting what is absent is fine).
            requests.push(delete_request(pk.clone(), hook_sk(repo.external_id))?);
        }
        self.batch_write(requests).await
    }
}
