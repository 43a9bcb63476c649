//! Which databases a task is changing now (one change at a time per database) and
//! which tasks were asked to cancel.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The running tasks' claims and cancel requests of this manager.
#[derive(Default)]
pub struct TaskBook {
    busy: Mutex<HashSet<String>>,
    cancels: Mutex<HashSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A database claimed by a task; dropping it frees the database.
pub struct Claim {
    book: Arc<TaskBook>,
    guid: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        lock(&self.book.busy).remove(&self.guid);
    }
}

impl TaskBook {
    /// Claims database `guid` for one task, or `None` when another task is changing it.
    pub fn claim(book: &Arc<TaskBook>, guid: &str) -> Option<Claim> {
        lock(&book.busy).insert(guid.to_string()).then(|| Claim {
            book: Arc::clone(book),
            guid: guid.to_string(),
        })
    }

    /// Asks task `id` to cancel at its next chance.
    pub fn cancel(&self, id: &str) {
        lock(&self.cancels).insert(id.to_string());
    }

    /// Whether task `id` was asked to cancel (the request is consumed).
    pub fn take_cancel(&self, id: &str) -> bool {
        lock(&self.cancels).remove(id)
    }
}
