//! Counts the operations each AWS client sends, so tests and benchmarks can hold a request path
//! to its budget of AWS calls (a warm webhook delivery: two DynamoDB calls, no Secrets Manager).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;

/// Operations sent so far, per service. Cloning shares the counts.
#[derive(Debug, Clone, Default)]
pub struct AwsCallCounter {
    dynamodb: Arc<AtomicU64>,
    secrets_manager: Arc<AtomicU64>,
}

/// How many operations each service has seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AwsCalls {
    pub dynamodb: u64,
    pub secrets_manager: u64,
}

impl AwsCallCounter {
    pub fn snapshot(&self) -> AwsCalls {
        AwsCalls {
            dynamodb: self.dynamodb.load(Ordering::SeqCst),
            secrets_manager: self.secrets_manager.load(Ordering::SeqCst),
        }
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
