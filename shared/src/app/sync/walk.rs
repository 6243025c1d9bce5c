//! Reading every project a token reaches, within GitLab's limits. Keyset pages ordered by id
//! have no offset ceiling (offset pages of projects stop at 50,000 records), so the id range is
//! cut into slices walked side by side; a 429 pauses every walker together. Where GitLab offers
//! no keyset pagination, offset pages are read instead (side by side while GitLab gives totals).

use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};
use secrecy::SecretString;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::domain::gitlab::GitLabProject;
use crate::domain::host::HostUrl;
use crate::domain::sync::IdSlice;
use crate::ports::{GitLabApi, GitLabError, KeysetRange};

/// GitLab's largest page.
pub const PER_PAGE: u32 = 100;

/// How many page requests may be in flight at once. GitLab.com allows 2,000 project listings
/// per 10 minutes per user, so a handful in parallel stays far below it.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Slices per walker: ids are not spread evenly, so more slices than walkers keep them all busy.
const SLICES_PER_WALKER: u64 = 4;

/// How often one page may meet a 429 the client did not wait out before the walk gives up.
const RATE_LIMITED_TRIES: u32 = 8;
/// How often one page may fail through all the client's tries (GitLab down or overloaded)
/// before the walk gives up: the page is taken up again after a pause rather than failing the
/// pass at once.
const FAILED_PAGE_TRIES: u32 = 3;

/// The most offset pages a walk reads: GitLab stops offset pages of projects at 50,000 records
/// (500 pages); a host claiming far more is not followed into millions of requests.
pub const MOST_OFFSET_PAGES: u32 = 10_000;

/// A pause every walker honours: when GitLab rate limits one of them, all wait.
#[derive(Default)]
pub struct RateGate {
    resume_at: Mutex<Option<Instant>>,
}

impl RateGate {
    async fn wait(&self) {
        let until = *self.resume_at.lock().await;
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }

    async fn pause(&self, secs: Option<u64>) {
        let until = Instant::now() + Duration::from_secs(secs.unwrap_or(1).clamp(1, 60));
        let mut resume_at = self.resume_at.lock().await;
        if resume_at.is_none_or(|current| current < until) {
            *resume_at = Some(until);
        }
    }

    /// Runs `request`, waiting out the shared pause first and after every 429, and taking it
    /// up again after a passing failure.
    pub async fn call<T, F, Fut>(&self, request: F) -> Result<T, GitLabError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, GitLabError>>,
    {
        let (mut limited, mut failed) = (0, 0);
        loop {
            self.wait().await;
            match request().await {
                Err(GitLabError::RateLimited { retry_after_secs }) if limited + 1 < RATE_LIMITED_TRIES => {
                    limited += 1;
                    self.pause(retry_after_secs).await;
                }
                Err(err) if err.is_passing() && failed + 1 < FAILED_PAGE_TRIES => {
                    failed += 1;
                    tracing::warn!(error = %err, failed, "a page GitLab failed is taken up again");
                    tokio::time::sleep(Duration::from_secs(u64::from(failed))).await;
                }
                other => return other,
            }
        }
    }
}

/// Every project the token reaches.
pub async fn fetch_all_projects(
    gitlab: &dyn GitLabApi,
    host: &HostUrl,
    token: &SecretString,
    concurrency: usize,
) -> Result<Vec<GitLabProject>, GitLabError> {
    let gate = RateGate::default();
    let Some(slices) = plan_slices(gitlab, host, token, &gate, concurrency).await? else {
        return fetch_by_offset(gitlab, host, token, concurrency, &gate).await;
    };
    let parts: Vec<Vec<GitLabProject>> = stream::iter(slices)
        .map(|slice| walk_slice(gitlab, host, token, &gate, slice.after, slice.last))
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    Ok(parts.into_iter().flatten().collect())
}

/// The id slices a keyset walk reads: `(0, highest id]` cut into several slices per walker.
/// `None` where GitLab offers no keyset pagination (offset pages must be read instead).
pub async fn plan_slices(
    gitlab: &dyn GitLabApi,
    host: &HostUrl,
    token: &SecretString,
    gate: &RateGate,
    concurrency: usize,
) -> Result<Option<Vec<IdSlice>>, GitLabError> {
    let newest = KeysetRange {
        id_after: None,
        id_before: None,
        descending: true,
        per_page: 1,
    };
    let probe = match gate.call(|| gitlab.projects_keyset(host, token, &newest)).await {
        Ok(probe) if probe.keyset => probe,
        Ok(_) | Err(GitLabError::Status(400 | 405)) => return Ok(None),
        Err(err) => return Err(err),
    };
    let Some(highest) = probe.projects.first().map(|p| p.id.get()) else {
        return Ok(Some(Vec::new()));
    };
    let slices = (concurrency.max(1) as u64 * SLICES_PER_WALKER).min(highest.max(1));
    // GitLab's number: in u128, `highest * k` cannot wrap, and each bound is at most `highest`.
    let bound = |k: u64| (u128::from(highest) * u128::from(k) / u128::from(slices)) as u64;
    Ok(Some(
        (0..slices)
            .map(|k| IdSlice {
                after: bound(k),
                last: bound(k + 1),
            })
            .filter(|slice| slice.last > slice.after)
            .collect(),
    ))
}

/// One keyset page of a slice: projects with `after < id <= last`, and whether more follow.
pub async fn slice_page(
    gitlab: &dyn GitLabApi,
    host: &HostUrl,
    token: &SecretString,
    gate: &RateGate,
    slice: IdSlice,
) -> Result<(Vec<GitLabProject>, bool), GitLabError> {
    let range = KeysetRange {
        id_after: Some(slice.after),
        id_before: Some(slice.last.saturating_add(1)),
        descending: false,
        per_page: PER_PAGE,
    };
    let page = gate.call(|| gitlab.projects_keyset(host, token, &range)).await?;
    Ok((page.projects, page.has_next))
}

/// The projects with `after < id <= last`, one keyset page after another.
async fn walk_slice(
    gitlab: &dyn GitLabApi,
    host: &HostUrl,
    token: &SecretString,
    gate: &RateGate,
    after: u64,
    last: u64,
) -> Result<Vec<GitLabProject>, GitLabError> {
    let mut projects = Vec::new();
    let mut cursor = after;
    loop {
        let range = KeysetRange {
            id_after: Some(cursor),
            id_before: Some(last.saturating_add(1)),
            descending: false,
            per_page: PER_PAGE,
        };
        let page = gate.call(|| gitlab.projects_keyset(host, token, &range)).await?;
        let Some(newest) = page.projects.last().map(|p| p.id.get()) else {
            break;
        };
        projects.extend(page.projects);
        if !page.has_next || newest <= cursor {
            break;
        }
        cursor = newest;
    }
    Ok(projects)
}

/// Offset pages: with `x-total-pages` the remaining pages are fetched `concurrency` at a time;
/// without it (over 10,000 projects) `x-next-page` is followed.
pub async fn fetch_by_offset(
    gitlab: &dyn GitLabApi,
    host: &HostUrl,
    token: &SecretString,
    concurrency: usize,
    gate: &RateGate,
) -> Result<Vec<GitLabProject>, GitLabError> {
    let first = gate.call(|| gitlab.projects_page(host, token, 1, PER_PAGE)).await?;
    let mut projects = first.projects;
    let mut next = first.next_page.filter(|n| *n <= MOST_OFFSET_PAGES);
    let total = first.total_pages.map(|t| t.min(MOST_OFFSET_PAGES));
    if let (Some(total), Some(_)) = (total, next) {
        let pages: Vec<_> = stream::iter(2..=total)
            .map(|page| gate.call(move || gitlab.projects_page(host, token, page, PER_PAGE)))
            .buffered(concurrency.max(1))
            .try_collect()
            .await?;
        // Projects added while we read may have grown the listing past the total we were told.
        next = pages
            .last()
            .and_then(|p| p.next_page)
            .filter(|n| *n > total && *n <= MOST_OFFSET_PAGES);
        for page in pages {
            projects.extend(page.projects);
        }
    }
    while let Some(page_number) = next {
        let page = gate
            .call(|| gitlab.projects_page(host, token, page_number, PER_PAGE))
            .await?;
        projects.extend(page.projects);
        next = page.next_page.filter(|n| *n > page_number && *n <= MOST_OFFSET_PAGES);
    }
    Ok(projects)
}
