//! The fake GitLab's project listing, with GitLab's limits: offset pages carry totals only up to
//! 10,000 records and stop at an offset of 50,000 (405, "use keyset pagination"); keyset pages
//! (`pagination=keyset&order_by=id`) follow `id_after`/`id_before` and a `Link: rel="next"`;
//! `order_by=id&sort=desc` lists newest first. Projects are kept as ids and rendered from the
//! real listing fixture when served, so 100,000 of them fit in a few megabytes.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// GitLab stops sending totals above this many records.
pub const TOTALS_LIMIT: usize = 10_000;

/// GitLab refuses offset pages of projects past this offset.
pub const MAX_OFFSET: usize = 50_000;

/// The first generated project's id.
pub const FIRST_ID: u64 = 1000;

enum Entry {
    /// The n-th generated project (rendered from the fixture on demand).
    Generated(u32),
    /// A project given whole (a webhook fixture's project over the fixture).
    Given(Box<Value>),
}

pub struct FakeProjects {
    entries: Mutex<BTreeMap<u64, Entry>>,
    template: Value,
    base_url: Mutex<String>,
    /// Whether keyset pagination is offered (GitLab before 12.7 ignores it: offset pages).
    keyset: AtomicBool,
    /// The largest offset served ([`MAX_OFFSET`]; tests lower it to reach it cheaply).
    max_offset: AtomicUsize,
}

impl FakeProjects {
    pub fn new(template: Value) -> Self {
        FakeProjects {
            entries: Mutex::default(),
            template,
            base_url: Mutex::default(),
            keyset: AtomicBool::new(true),
            max_offset: AtomicUsize::new(MAX_OFFSET),
        }
    }

    /// Replaces the listing with `count` generated projects (ids from [`FIRST_ID`]).
    pub fn set_generated(&self, count: usize, base_url: &str) {
        *self.base_url.lock().unwrap() = base_url.to_string();
        *self.entries.lock().unwrap() = (0..count as u32)
            .map(|i| (FIRST_ID + i as u64, Entry::Generated(i)))
            .collect();
    }

    pub fn add(&self, project: Value) {
        let id = project["id"].as_u64().expect("a project has an id");
        self.entries.lock().unwrap().insert(id, Entry::Given(Box::new(project)));
    }

    /// Changes a project as GitLab would after an edit (archiving it, a rename, a transfer):
    /// `change` gets the project as served and what it leaves is served from then on.
    pub fn modify(&self, id: u64, change: impl FnOnce(&mut Value)) {
        let mut entries = self.entries.lock().unwrap();
        let Some(entry) = entries.get(&id) else {
            return;
        };
        let mut project = self.render(id, entry);
        change(&mut project);
        entries.insert(id, Entry::Given(Box::new(project)));
    }

    pub fn remove(&self, ids: &[u64]) {
        let mut entries = self.entries.lock().unwrap();
        for id in ids {
            entries.remove(id);
        }
    }

    pub fn count(&self) -> usize {
        self.entries.lock().unwrap().len()
    }

    /// Lowers the offset ceiling, so a test meets it without 50,000 projects.
    pub fn set_max_offset(&self, offset: usize) {
        self.max_offset.store(offset, Ordering::SeqCst);
    }

    pub fn set_keyset(&self, offered: bool) {
        self.keyset.store(offered, Ordering::SeqCst);
    }

    pub fn get(&self, id: u64) -> Option<Value> {
        let entries = self.entries.lock().unwrap();
        entries.get(&id).map(|entry| self.render(id, entry))
    }

    /// The first project (by id) whose path lies under `group_path`, subgroups included.
    pub fn first_under(&self, group_path: &str) -> Option<u64> {
        let prefix = format!("{group_path}/");
        let entries = self.entries.lock().unwrap();
        entries
            .iter()
            .map(|(id, entry)| (*id, self.render(*id, entry)))
            .find_map(|(id, project)| {
                project["path_with_namespace"]
                    .as_str()
                    .is_some_and(|path| path.starts_with(&prefix))
                    .then_some(id)
            })
    }

    pub fn contains(&self, id: u64) -> bool {
        self.entries.lock().unwrap().contains_key(&id)
    }

    /// Visibility cycles public, internal, private so syncs see all three; every other
    /// project has an avatar.
    fn render(&self, id: u64, entry: &Entry) -> Value {
        match entry {
            Entry::Given(project) => (**project).clone(),
            Entry::Generated(i) => {
                let base = self.base_url.lock().unwrap().clone();
                let i = *i as usize;
                let path = format!("project-{i:05}");
                let mut p = self.template.clone();
                p["id"] = json!(id);
                p["name"] = json!(format!("Project {i:05}"));
                p["path"] = json!(path);
                p["path_with_namespace"] = json!(format!("diaspora/{path}"));
                p["name_with_namespace"] = json!(format!("diaspora / Project {i:05}"));
                p["web_url"] = json!(format!("{base}/diaspora/{path}"));
                p["http_url_to_repo"] = json!(format!("{base}/diaspora/{path}.git"));
                p["visibility"] = json!(["public", "internal", "private"][i % 3]);
                p["avatar_url"] = if i.is_multiple_of(2) {
                    json!(format!("{base}/uploads/-/system/project/avatar/{id}/avatar.png"))
                } else {
                    Value::Null
                };
                p
            }
        }
    }

    /// `GET /projects` with GitLab's paging rules.
    pub fn list(&self, query: &HashMap<String, String>) -> Response {
        let number = |name: &str| query.get(name).and_then(|v| v.parse::<u64>().ok());
        let per_page = number("per_page").unwrap_or(20).clamp(1, 100) as usize;
        let descending = query.get("sort").map(String::as_str) == Some("desc");
        let keyset =
            query.get("pagination").map(String::as_str) == Some("keyset") && self.keyset.load(Ordering::SeqCst);
        if keyset && query.get("order_by").map(String::as_str) != Some("id") {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "order_by must be id for keyset pagination"})),
            )
                .into_response();
        }
        let (id_after, id_before) = (number("id_after"), number("id_before"));
        // GitLab lists archived projects too unless asked `archived=false` (or `true`: only them).
        let archived_wanted = query.get("archived").map(|v| v == "true");
        let entries = self.entries.lock().unwrap();
        let matching = || {
            entries
                .range(id_after.map_or(0, |a| a + 1)..id_before.unwrap_or(u64::MAX))
                .filter(move |(_, entry)| {
                    let archived = matches!(entry, Entry::Given(p) if p["archived"] == json!(true));
                    archived_wanted.is_none_or(|wanted| wanted == archived)
                })
                .map(|(id, _)| *id)
        };
        let base = self.base_url.lock().unwrap().clone();
        let others: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "page" | "id_after" | "id_before"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let url = |extra: &[(&str, String)]| {
            let mut url = url::Url::parse(&format!("{base}/api/v4/projects")).expect("the base URL parses");
            url.query_pairs_mut()
                .extend_pairs(others.iter())
                .extend_pairs(extra.iter().map(|(k, v)| (*k, v.as_str())));
            url.to_string()
        };
        if keyset {
            let page: Vec<u64> = if descending {
                matching().rev().take(per_page + 1).collect()
            } else {
                matching().take(per_page + 1).collect()
            };
            let more = page.len() > per_page;
            let ids = &page[..page.len().min(per_page)];
            let items: Vec<Value> = ids.iter().map(|id| self.render(*id, &entries[id])).collect();
            let mut response = Json(items).into_response();
            if let (true, Some(last)) = (more, ids.last()) {
                let next = if descending {
                    let mut extra = vec![("id_before", last.to_string())];
                    extra.extend(id_after.map(|a| ("id_after", a.to_string())));
                    url(&extra)
                } else {
                    let mut extra = vec![("id_after", last.to_string())];
                    extra.extend(id_before.map(|b| ("id_before", b.to_string())));
                    url(&extra)
                };
                set(response.headers_mut(), "link", format!("<{next}>; rel=\"next\""));
            }
            return response;
        }
        let page = number("page").unwrap_or(1).max(1) as usize;
        let offset = (page - 1) * per_page;
        let max_offset = self.max_offset.load(Ordering::SeqCst);
        if offset > max_offset {
            let message = format!(
                "Offset pagination has a maximum allowed offset of {max_offset} for requests that return objects of type Project. Remaining records can be retrieved using keyset pagination."
            );
            return (StatusCode::METHOD_NOT_ALLOWED, Json(json!({"message": message}))).into_response();
        }
        let total = matching().count();
        let ids: Vec<u64> = if descending {
            matching().rev().skip(offset).take(per_page).collect()
        } else {
            matching().skip(offset).take(per_page).collect()
        };
        let items: Vec<Value> = ids.iter().map(|id| self.render(*id, &entries[id])).collect();
        let total_pages = total.div_ceil(per_page).max(1);
        let keep = |extra: &[(&str, String)]| {
            let mut extra = extra.to_vec();
            extra.extend(id_after.map(|a| ("id_after", a.to_string())));
            extra.extend(id_before.map(|b| ("id_before", b.to_string())));
            url(&extra)
        };
        let link = |p: usize, rel: &str| format!("<{}>; rel=\"{rel}\"", keep(&[("page", p.to_string())]));
        let mut links = vec![link(1, "first")];
        let has_next = page < total_pages;
        if has_next {
            links.push(link(page + 1, "next"));
        }
        if page > 1 {
            links.push(link(page - 1, "prev"));
        }
        let mut response = Json(items).into_response();
        let h = response.headers_mut();
        set(h, "x-page", page.to_string());
        set(h, "x-per-page", per_page.to_string());
        set(
            h,
            "x-next-page",
            if has_next {
                (page + 1).to_string()
            } else {
                String::new()
            },
        );
        set(
            h,
            "x-prev-page",
            if page > 1 {
                (page - 1).to_string()
            } else {
                String::new()
            },
        );
        if total <= TOTALS_LIMIT {
            set(h, "x-total", total.to_string());
            set(h, "x-total-pages", total_pages.to_string());
            links.push(link(total_pages, "last"));
        }
        set(h, "link", links.join(", "));
        response
    }
}

fn set(h: &mut HeaderMap, name: &'static str, value: String) {
    h.insert(name, HeaderValue::from_str(&value).expect("header values are ASCII"));
}
