//! The name index's contract on every store: a change creates the index or leaves it missing as
//! asked, lands in listing order across chunks, and changes made at once all land (a sync
//! checkpoint beside webhooks adopting repositories).

use std::sync::Arc;

use oore_gitlab_tests::on_backends;
use shared::domain::ids::{IntegrationId, ProjectId};
use shared::domain::index_merge::apply_change;
use shared::domain::name_index::{IndexChange, IndexEntry, WhenMissing};
use shared::ports::RepositoryStore;

fn entry(n: u64) -> IndexEntry {
    IndexEntry(
        format!("group-{}/project-{n:06}", n % 7),
        ProjectId(n),
        Some("main".into()),
        n.is_multiple_of(2),
    )
}

fn adding(entries: impl IntoIterator<Item = IndexEntry>) -> IndexChange {
    IndexChange {
        added: entries.into_iter().collect(),
        gone: Vec::new(),
    }
}

async fn whole_index<S: RepositoryStore + ?Sized>(store: &S, id: &IntegrationId) -> Vec<IndexEntry> {
    let slice = store.read_name_index(id, 0, None).await.unwrap().expect("an index");
    assert_eq!(slice.total, slice.entries.len());
    slice.entries
}

async fn name_index_contract<S: RepositoryStore + 'static>(store: Arc<S>) {
    let id = IntegrationId::from(format!("int-{}", uuid::Uuid::new_v4()));

    // One adopted repository does not start an index: listings read the repositories until a
    // pass writes one.
    let left = store
        .change_name_index(&id, adding([entry(1)]), WhenMissing::Leave)
        .await
        .unwrap();
    assert_eq!(left, None);
    assert!(store.read_name_index(&id, 0, None).await.unwrap().is_none());

    // A pass's first checkpoint creates it: 4,500 entries, more than two chunks on DynamoDB.
    let first: Vec<IndexEntry> = (1..=4_500).map(entry).collect();
    let size = store
        .change_name_index(&id, adding(first.clone()), WhenMissing::Create)
        .await
        .unwrap();
    assert_eq!(size, Some(4_500));
    let expected = apply_change(&id, Vec::new(), adding(first));
    assert_eq!(whole_index(store.as_ref(), &id).await, expected);

    // Renamed, new and gone projects at once, across chunk boundaries.
    let change = IndexChange {
        added: vec![
            IndexEntry("a-renamed/first".into(), ProjectId(4_000), None, true),
            entry(9_001),
            entry(9_002),
        ],
        gone: vec![ProjectId(2), ProjectId(2_001), ProjectId(4_499)],
    };
    let expected = apply_change(&id, expected, change.clone());
    let size = store.change_name_index(&id, change, WhenMissing::Leave).await.unwrap();
    assert_eq!(size, Some(expected.len()));
    assert_eq!(whole_index(store.as_ref(), &id).await, expected);
    let page = store.read_name_index(&id, 1_990, Some(20)).await.unwrap().unwrap();
    assert_eq!(page.entries, expected[1_990..2_010], "a page across a chunk boundary");

    // Twelve changes at once (a checkpoint of 300 beside eleven adoptions): none is lost.
    let mut writers = Vec::new();
    for n in 0..12u64 {
        let (store, id) = (store.clone(), id.clone());
        let added: Vec<IndexEntry> = match n {
            0 => (20_000..20_300).map(entry).collect(),
            n => vec![entry(10_000 + n)],
        };
        writers.push(tokio::spawn(async move {
            store.change_name_index(&id, adding(added), WhenMissing::Leave).await
        }));
    }
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    let after = whole_index(store.as_ref(), &id).await;
    let expected = apply_change(&id, expected, adding((20_000..20_300).chain(10_001..10_012).map(entry)));
    assert_eq!(after.len(), expected.len(), "every change made at once landed");
    assert_eq!(after, expected);
}

on_backends!(shared_store name_index_contract: memory, embedded(multi_thread), moto(multi_thread));

/// On DynamoDB a writer that lost the race removes the chunks it wrote: after changes made at
/// once, the partition holds the directory and the chunks it names, nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_lost_the_race_leaves_no_chunks_behind_on_moto() {
    let sdk = oore_gitlab_tests::moto_sdk().await;
    let table = oore_gitlab_tests::moto_table(&sdk).await;
    let store = Arc::new(shared::adapters::dynamodb::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        table.clone(),
    ));
    let id = IntegrationId::from(format!("int-{}", uuid::Uuid::new_v4()));
    store
        .change_name_index(&id, adding((1..=4_100).map(entry)), WhenMissing::Create)
        .await
        .unwrap();
    let writers: Vec<_> = (0..8u64)
        .map(|n| {
            let (store, id) = (store.clone(), id.clone());
            tokio::spawn(async move {
                store
                    .change_name_index(&id, adding([entry(50_000 + n)]), WhenMissing::Leave)
                    .await
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    assert_eq!(whole_index(store.as_ref(), &id).await.len(), 4_108);
    // 4,108 entries: three chunks of 2,000 or fewer, and the directory.
    assert_eq!(oore_gitlab_tests::integration_items(&table, &id).await, 4);
}
