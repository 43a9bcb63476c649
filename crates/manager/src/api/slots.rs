//! Blocking work (argon2, calls to another cluster) run off the event loop in a bounded
//! number of slots: a flood of such requests costs bounded threads, memory and CPU.

use super::error::ApiError;
use axum::http::StatusCode;
use std::time::Duration;
use tokio::sync::Semaphore;

/// A fixed number of slots for one kind of blocking work.
pub struct Slots {
    free: Semaphore,
    wait: Duration,
    what: &'static str,
}

impl Slots {
    /// `n` slots for `what` (as the busy error names it); a request waits up to `wait`.
    pub const fn new(n: usize, wait: Duration, what: &'static str) -> Slots {
        Slots {
            free: Semaphore::const_new(n),
            wait,
            what,
        }
    }

    /// Runs `f` on a blocking thread in one of the slots, held until `f` ends (a caller
    /// that stops waiting does not free it early); a 503 when none frees up in time.
    pub async fn run<T: Send + 'static>(
        &'static self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let busy = || {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!("too many {} at once; try again", self.what),
            )
        };
        let permit = tokio::time::timeout(self.wait, self.free.acquire())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|e| ApiError::internal(format!("{}: {e}", self.what)))
    }
}
