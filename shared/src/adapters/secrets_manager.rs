//! The Secrets Manager vault, and a per-container read cache in front of any vault.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use secrecy::{ExposeSecret, SecretString};

use crate::domain::secrets::copy_secret;
use crate::ports::{SecretVault, VaultError};

/// Secrets Manager, one secret per name.
#[derive(Clone)]
pub struct SecretsManagerVault {
    client: Client,
}

impl SecretsManagerVault {
    pub fn new(client: Client) -> Self {
        SecretsManagerVault { client }
    }
}

fn unavailable(err: impl std::error::Error + 'static) -> VaultError {
    VaultError::Unavailable(DisplayErrorContext(&err).to_string())
}

#[async_trait]
impl SecretVault for SecretsManagerVault {
    async fn create_secret(&self, name: &str, value: &SecretString) -> Result<(), VaultError> {
        match self
            .client
            .create_secret()
            .name(name)
            .secret_string(value.expose_secret())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_exists_exception()) => {
                Err(VaultError::Exists)
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn get_secret(&self, name: &str) -> Result<Option<SecretString>, VaultError> {
        match self.client.get_secret_value().secret_id(name).send().await {
            Ok(out) => Ok(out.secret_string.map(SecretString::from)),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn put_secret(&self, name: &str, value: &SecretString) -> Result<(), VaultError> {
        match self
            .client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value.expose_secret())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Err(VaultError::NotFound)
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn delete_secret(&self, name: &str) -> Result<(), VaultError> {
        // Without the recovery window the name is free again at once, and nothing lingers.
        match self
            .client
            .delete_secret()
            .secret_id(name)
            .force_delete_without_recovery(true)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(unavailable(err)),
        }
    }
}

/// Caches reads for `ttl` so a warm Lambda does not call Secrets Manager on every request.
/// Writes and deletes through this wrapper update the cache at once; another container's write
/// is seen when the entry expires.
pub struct CachedVault<V> {
    inner: V,
    cache: moka::future::Cache<String, SecretString>,
}

impl<V: SecretVault> CachedVault<V> {
    pub fn new(inner: V, ttl: Duration) -> Self {
        CachedVault {
            inner,
            cache: moka::future::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(ttl)
                .build(),
        }
    }
}

#[async_trait]
impl<V: SecretVault> SecretVault for CachedVault<V> {
    async fn create_secret(&self, name: &str, value: &SecretString) -> Result<(), VaultError> {
        self.inner.create_secret(name, value).await?;
        self.cache.insert(name.to_string(), copy_secret(value)).await;
        Ok(())
    }

    async fn get_secret(&self, name: &str) -> Result<Option<SecretString>, VaultError> {
        if let Some(hit) = self.cache.get(name).await {
            return Ok(Some(hit));
        }
        let value = self.inner.get_secret(name).await?;
        if let Some(v) = &value {
            self.cache.insert(name.to_string(), copy_secret(v)).await;
        }
        Ok(value)
    }

    async fn get_secret_fresh(&self, name: &str) -> Result<Option<SecretString>, VaultError> {
        let value = self.inner.get_secret(name).await?;
        match &value {
            Some(v) => self.cache.insert(name.to_string(), copy_secret(v)).await,
            None => self.cache.invalidate(name).await,
        }
        Ok(value)
    }

    async fn put_secret(&self, name: &str, value: &SecretString) -> Result<(), VaultError> {
        self.cache.invalidate(name).await;
        self.inner.put_secret(name, value).await?;
        self.cache.insert(name.to_string(), copy_secret(value)).await;
        Ok(())
    }

    async fn delete_secret(&self, name: &str) -> Result<(), VaultError> {
        self.cache.invalidate(name).await;
        self.inner.delete_secret(name).await
    }
}
