//! Counts the operations each AWS client sends, the bytes DynamoDB answers and the capacity
//! units it bills, so tests and benchmarks can hold a request path to its budget (a warm webhook
//! delivery: five DynamoDB calls, no Secrets Manager; a repository page: well under a megabyte
//! read).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;

use crate::adapters::capacity::CapacityMeter;

/// Operations sent so far, per service. Cloning shares the counts.
#[derive(Debug, Clone, Default)]
pub struct AwsCallCounter {
    dynamodb: Arc<AtomicU64>,
    secrets_manager: Arc<AtomicU64>,
    dynamodb_bytes: Arc<AtomicU64>,
    capacity: CapacityMeter,
}

/// How many operations each service has seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AwsCalls {
    pub dynamodb: u64,
    pub secrets_manager: u64,
    /// Bytes of DynamoDB's answers.
    pub dynamodb_bytes: u64,
}

impl AwsCallCounter {
    pub fn snapshot(&self) -> AwsCalls {
        AwsCalls {
            dynamodb: self.dynamodb.load(Ordering::SeqCst),
            secrets_manager: self.secrets_manager.load(Ordering::SeqCst),
            dynamodb_bytes: self.dynamodb_bytes.load(Ordering::SeqCst),
        }
    }

    /// The capacity units the DynamoDB client spent (its interceptor is the meter itself).
    pub fn capacity(&self) -> CapacityMeter {
        self.capacity.clone()
    }

    pub fn dynamodb_bytes_interceptor(&self) -> ResponseBytes {
        ResponseBytes(self.dynamodb_bytes.clone())
    }

    pub fn dynamodb_interceptor(&self) -> OperationCounter {
        OperationCounter(self.dynamodb.clone())
    }

    pub fn secrets_manager_interceptor(&self) -> OperationCounter {
        OperationCounter(self.secrets_manager.clone())
    }
}

impl std::ops::Sub for AwsCalls {
    type Output = AwsCalls;
    fn sub(self, earlier: AwsCalls) -> AwsCalls {
        AwsCalls {
            dynamodb: self.dynamodb - earlier.dynamodb,
            secrets_manager: self.secrets_manager - earlier.secrets_manager,
            dynamodb_bytes: self.dynamodb_bytes - earlier.dynamodb_bytes,
        }
    }
}

/// An SDK interceptor adding one per operation (retries of one operation count once).
#[derive(Debug, Clone)]
pub struct OperationCounter(Arc<AtomicU64>);

impl Intercept for OperationCounter {
    fn name(&self) -> &'static str {
        "OperationCounter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// An SDK interceptor adding up the bytes of every answer.
#[derive(Debug, Clone)]
pub struct ResponseBytes(Arc<AtomicU64>);

impl Intercept for ResponseBytes {
    fn name(&self) -> &'static str {
        "ResponseBytes"
    }

    fn read_after_deserialization(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::AfterDeserializationInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        let bytes = response
            .body()
            .bytes()
            .map(|b| b.len() as u64)
            .or_else(|| response.headers().get("content-length").and_then(|v| v.parse().ok()));
        self.0.fetch_add(bytes.unwrap_or(0), Ordering::Relaxed);
        Ok(())
    }
}
