//! `on_backends!`: one test written once, run on the in-memory adapters, the local runner's
//! durable store and DynamoDB on moto, each as a test of its own (`<test>::memory`,
//! `<test>::embedded`, `<test>::moto`; the quick loop skips the ones named `moto`).

/// Runs `$test` once per named backend.
///
/// - `on_backends!(app flow: memory, embedded, moto)` calls `flow(Backend::Memory)` and so on.
/// - `on_backends!(store contract: memory, embedded, moto)` calls `contract(&store)` with a
///   fresh store of each kind.
/// - `on_backends!(shared_store contract: …)` passes the store in an `Arc`.
///
/// A backend written `embedded(multi_thread)` runs on tokio's two-worker runtime.
#[macro_export]
macro_rules! on_backends {
    (app $test:ident: $($backend:ident $(($flavor:ident))?),+ $(,)?) => {
        mod $test {
            $(
                $crate::on_backends!(@runtime $($flavor)?
                    async fn $backend() {
                        super::$test($crate::Backend::named(stringify!($backend))).await;
                    }
                );
            )+
        }
    };
    (store $test:ident: $($backend:ident $(($flavor:ident))?),+ $(,)?) => {
        mod $test {
            $(
                $crate::on_backends!(@runtime $($flavor)?
                    async fn $backend() {
                        $crate::on_backends!(@store $backend store);
                        super::$test(&store).await;
                    }
                );
            )+
        }
    };
    (shared_store $test:ident: $($backend:ident $(($flavor:ident))?),+ $(,)?) => {
        mod $test {
            $(
                $crate::on_backends!(@runtime $($flavor)?
                    async fn $backend() {
                        $crate::on_backends!(@store $backend store);
                        super::$test(std::sync::Arc::new(store)).await;
                    }
                );
            )+
        }
    };
    (@store memory $store:ident) => {
        let $store = shared::adapters::memory::MemoryStore::default();
    };
    (@store embedded $store:ident) => {
        let (_dir, data) = $crate::local_data();
        let $store = data.store;
    };
    (@store moto $store:ident) => {
        let sdk = $crate::moto_sdk().await;
        let table = $crate::moto_table(&sdk).await;
        let $store = shared::adapters::dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    };
    (@runtime multi_thread $($body:tt)*) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $($body)*
    };
    (@runtime $($body:tt)*) => {
        #[tokio::test]
        $($body)*
    };
}
