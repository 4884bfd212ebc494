//! The rendered pages: HTML bodies (to be wrapped per request by `layout`) and JSON documents.
//! Nothing here expires by time: the writer replaces an entry when an event touches it.
//!
//! Package pages are rendered when first asked for, by the request that asked, so a miss
//! races with the writer: the request may read the database just before a change and
//! insert its page just after the writer refreshed the others. So the writer marks what an
//! event touches (with a generation number) before it re-renders, and a request inserts its
//! page only if nothing marked the package after the request began; it still answers with
//! the page it rendered, which is as fresh as the request. The JSON forms of the fixed pages
//! (the whole queue can be long) are rendered the same way, when asked for after a change
//! dropped them, so that a change nobody reads costs nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use pkgimport_core::PackageName;

/// A page of the site, in either form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Page {
    Index,
    Failures,
    Queue,
    Runs,
    Actions,
    Package(PackageName),
}

/// HTML or JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Form {
    Html,
    Json,
}

/// What is cached of one page in one form.
#[derive(Clone, Debug)]
pub(crate) enum Rendered {
    Html {
        title: String,
        body: String,
    },
    Json(String),
    /// The database knows nothing of this package.
    Missing,
}

/// Package pages kept at most; beyond that an arbitrary one is dropped (and rendered again
/// when next asked for).
const PACKAGES_KEPT: usize = 5000;

/// Touch marks kept; beyond that they are forgotten together, and anything rendered before
/// that moment is not inserted.
const MARKS_KEPT: usize = 20_000;

#[derive(Default)]
pub(crate) struct Cache {
    pages: RwLock<HashMap<(Page, Form), Arc<Rendered>>>,
    marks: Mutex<Marks>,
}

#[derive(Default)]
struct Marks {
    generation: u64,
    /// The generation at which each page was last touched.
    touched: HashMap<Page, u64>,
    /// Marks older than this were forgotten.
    forgotten_at: u64,
}

impl Cache {
    pub(crate) fn new() -> Cache {
        Cache::default()
    }

    pub(crate) fn get(&self, page: &Page, form: Form) -> Option<Arc<Rendered>> {
        self.read().get(&(page.clone(), form)).cloned()
    }

    /// Puts a page in, as the writer does: unconditionally.
    pub(crate) fn put(&self, page: Page, form: Form, rendered: Rendered) {
        let mut pages = self.write();
        if matches!(page, Page::Package(_)) && !pages.contains_key(&(page.clone(), form)) {
            let packages = pages
                .keys()
                .filter(|(p, _)| matches!(p, Page::Package(_)))
                .count();
            if packages >= PACKAGES_KEPT
                && let Some(victim) = pages
                    .keys()
                    .find(|(p, _)| matches!(p, Page::Package(_)))
                    .cloned()
            {
                pages.remove(&victim);
            }
        }
        pages.insert((page, form), Arc::new(rendered));
    }

    /// The generation to give [`Cache::put_if_fresh`], taken before reading the database.
    pub(crate) fn generation(&self) -> u64 {
        self.marks().generation
    }

    /// Puts a page rendered by a request in, unless an event touched it since `generation`.
    pub(crate) fn put_if_fresh(&self, page: Page, form: Form, rendered: Rendered, generation: u64) {
        let fresh = {
            let marks = self.marks();
            let touched = marks.touched.get(&page).copied();
            marks.forgotten_at <= generation && touched.is_none_or(|t| t <= generation)
        };
        if fresh {
            self.put(page, form, rendered);
        }
    }

    /// Marks pages as touched by an event, before the writer re-renders or drops them.
    pub(crate) fn mark(&self, pages: impl IntoIterator<Item = Page>) {
        let mut marks = self.marks();
        marks.generation += 1;
        let generation = marks.generation;
        if marks.touched.len() >= MARKS_KEPT {
            marks.touched.clear();
            marks.forgotten_at = generation;
        }
        for p in pages {
            marks.touched.insert(p, generation);
        }
    }

    /// Drops a page, to be rendered again by the next request for it.
    pub(crate) fn remove(&self, page: &Page, form: Form) {
        self.write().remove(&(page.clone(), form));
    }

    /// The package pages in the cache, in either form.
    pub(crate) fn cached_packages(&self) -> Vec<(PackageName, Form)> {
        self.read()
            .keys()
            .filter_map(|(p, f)| match p {
                Page::Package(name) => Some((name.clone(), *f)),
                _ => None,
            })
            .collect()
    }

    /// Whether the cache holds this page in this form.
    #[cfg(test)]
    pub(crate) fn has(&self, page: &Page, form: Form) -> bool {
        self.read().contains_key(&(page.clone(), form))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<(Page, Form), Arc<Rendered>>> {
        self.pages.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<(Page, Form), Arc<Rendered>>> {
        self.pages.write().unwrap_or_else(|e| e.into_inner())
    }

    fn marks(&self) -> std::sync::MutexGuard<'_, Marks> {
        self.marks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> PackageName {
        PackageName::parse(n).unwrap()
    }

    #[test]
    fn a_render_older_than_a_touch_is_not_cached() {
        let cache = Cache::new();
        let page = Page::Package(name("hello"));
        let before = cache.generation();
        cache.mark([Page::Package(name("hello"))]);
        cache.put_if_fresh(page.clone(), Form::Html, Rendered::Missing, before);
        assert!(!cache.has(&page, Form::Html), "stale");
        let after = cache.generation();
        cache.put_if_fresh(page.clone(), Form::Html, Rendered::Missing, after);
        assert!(cache.has(&page, Form::Html));
        // Another package's touch does not matter.
        let now = cache.generation();
        cache.mark([Page::Package(name("world"))]);
        cache.put_if_fresh(page.clone(), Form::Json, Rendered::Missing, now);
        assert!(cache.has(&page, Form::Json));
    }
}
