//! The listing across integrations reads only the index chunks around its page (DynamoDB on
//! moto): every page equals the one a whole merge of the indexes gives, at any offset, across
//! chunk edges and names two integrations share.

use oore_gitlab_tests::{Backend, Harness};
use oore_local::fake_gitlab::FakeOptions;
use shared::app::merged_index::merged_page;
use shared::domain::ids::{IntegrationId, ProjectId, RepositoryId};
use shared::domain::name_index::{IndexChange, IndexEntry, WhenMissing, sort_entries};

/// `count` entries named so the two integrations interleave (and share some names).
fn entries(integration: &IntegrationId, count: u64, step: u64) -> Vec<IndexEntry> {
    let mut entries: Vec<IndexEntry> = (0..count)
        .map(|n| {
            IndexEntry(
                format!("group/project-{:06}", n * step),
                ProjectId(n + 1),
                None,
                n % 2 == 0,
            )
        })
        .collect();
    sort_entries(integration, &mut entries);
    entries
}

#[tokio::test]
async fn pages_across_integrations_match_a_whole_merge_on_moto() {
    let h = Harness::new(Backend::Moto, FakeOptions::default()).await;
    let store = &h.app.services.repositories;
    let ids = [IntegrationId::generate(), IntegrationId::generate()];
    // 5,000 and 3,000 entries: three chunks and two; every third name of the second is also
    // a name of the first.
    let indexes = [entries(&ids[0], 5_000, 2), entries(&ids[1], 3_000, 3)];
    for (id, index) in ids.iter().zip(&indexes) {
        let change = IndexChange {
            added: index.clone(),
            gone: Vec::new(),
        };
        store.change_name_index(id, change, WhenMissing::Create).await.unwrap();
    }
    let mut whole: Vec<(String, RepositoryId, usize, IndexEntry)> = indexes
        .iter()
        .enumerate()
        .flat_map(|(n, index)| {
            let id = &ids[n];
            index
                .iter()
                .map(move |e| (e.0.clone(), RepositoryId::derive(id, e.project()), n, e.clone()))
        })
        .collect();
    whole.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));

    for offset in [
        0, 1, 49, 1_999, 2_000, 2_001, 3_333, 3_999, 4_000, 6_001, 7_950, 7_999, 8_000, 9_000,
    ] {
        for limit in [1, 50, 200] {
            let (page, total) = merged_page(&h.app.services, &ids, offset, limit)
                .await
                .unwrap()
                .expect("DynamoDB keeps chunk bounds");
            assert_eq!(total, 8_000);
            let expected: Vec<(usize, IndexEntry)> = whole
                .iter()
                .skip(offset)
                .take(limit)
                .map(|(_, _, n, e)| (*n, e.clone()))
                .collect();
            assert_eq!(page, expected, "offset {offset}, limit {limit}");
        }
    }
}
