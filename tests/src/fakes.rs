//! Test doubles beside the fake GitLab: a clock moved by hand and a vault that records its calls.

use secrecy::SecretString;
use shared::ports::Clock;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A clock tests move by hand.
pub struct TestClock(pub AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A vault that remembers the names created through it.
pub struct RecordingVault {
    inner: Arc<dyn shared::ports::SecretVault>,
    created: std::sync::Mutex<Vec<String>>,
}

impl RecordingVault {
    pub fn new(inner: Arc<dyn shared::ports::SecretVault>) -> Self {
        RecordingVault {
            inner,
            created: Default::default(),
        }
    }

    pub fn created(&self) -> Vec<String> {
        self.created.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl shared::ports::SecretVault for RecordingVault {
    async fn create_secret(&self, name: &str, value: &SecretString) -> Result<(), shared::ports::VaultError> {
        self.created.lock().unwrap().push(name.to_string());
        self.inner.create_secret(name, value).await
    }
    async fn get_secret(&self, name: &str) -> Result<Option<SecretString>, shared::ports::VaultError> {
        self.inner.get_secret(name).await
    }
    async fn put_secret(&self, name: &str, value: &SecretString) -> Result<(), shared::ports::VaultError> {
        self.inner.put_secret(name, value).await
    }
    async fn delete_secret(&self, name: &str) -> Result<(), shared::ports::VaultError> {
        self.inner.delete_secret(name).await
    }
}
