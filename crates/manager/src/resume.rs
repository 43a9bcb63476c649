//! Tasks interrupted by a restart of the manager: one that had every cluster's
//! agreement (its commit stage) is finished; one that was still preparing is undone on
//! the clusters it reserved on; one that recorded nothing is failed. Nothing is left half
//! created.

use crate::api::AppState;
use crate::coordinate::{call, commit_on, finish, save};
use crate::model::{Resume, Stage, Task, TaskStatus};
use crate::tasks::TaskBook;
use serde_json::json;
use std::sync::Arc;

/// Records where `task` is, so a restart can finish or undo it.
pub(crate) fn record(s: &AppState, task: &Task, r: &Resume) {
    if let Err(e) = s.store.put_resume(&task.id, r) {
        tracing::warn!(task = %task.id, "recording the task's stage: {e}");
    }
}

/// Finishes or undoes every task a restart interrupted.
pub async fn interrupted(s: Arc<AppState>) -> Result<(), crate::StoreError> {
    for mut t in s.store.tasks()? {
        if t.ended() {
            continue;
        }
        let Some(claim) = TaskBook::claim(&s.tasks, &t.crdb_guid) else {
            // Another interrupted task of the same database resumes first.
            t.errors
                .push("interrupted by a restart of the manager while another change of the database was under way".into());
            t.status = TaskStatus::Failed;
            s.store.put_task(&t)?;
            continue;
        };
        let r = s.store.resume(&t.id)?;
        t.progress.push("the manager restarted: resuming".into());
        match r {
            Some(Resume {
                stage: Stage::Commit,
                crdb,
                ..
            }) => {
                let s = Arc::clone(&s);
                tokio::spawn(async move {
                    let _claim = claim;
                    for inst in &crdb.instances {
                        commit_on(&s, inst, &crdb, &mut t, "committed").await;
                    }
                    finish(&s, &mut t);
                });
            }
            Some(Resume {
                stage: Stage::Remove,
                crdb,
                abort,
            }) => match abort.first() {
                Some(&id) => {
                    let s = Arc::clone(&s);
                    tokio::spawn(crate::membership::remove_instance(
                        s, claim, crdb, id, true, t,
                    ));
                }
                None => {
                    t.errors
                        .push("interrupted by a restart of the manager".into());
                    t.status = TaskStatus::Failed;
                    s.store.put_task(&t)?;
                }
            },
            Some(Resume {
                stage: Stage::Prepare,
                crdb,
                abort,
            }) => {
                let s = Arc::clone(&s);
                tokio::spawn(async move {
                    let _claim = claim;
                    for inst in crdb.instances.iter().filter(|i| abort.contains(&i.id)) {
                        if let Err(e) = call(&s, inst, &crdb.guid, "_abort", json!({})).await {
                            t.errors.push(format!("{}: abort: {e}", inst.cluster.name));
                        }
                    }
                    t.errors
                        .push("interrupted by a restart of the manager before every cluster agreed: undone".into());
                    t.status = TaskStatus::Failed;
                    save(&s, &t);
                });
            }
            None => {
                // A create that recorded nothing reserved at most here.
                if s.store.crdb(&t.crdb_guid)?.is_none() {
                    s.store.drop_crdb(&t.crdb_guid)?;
                }
                t.errors
                    .push("interrupted by a restart of the manager".into());
                t.status = TaskStatus::Failed;
                s.store.put_task(&t)?;
            }
        }
    }
    Ok(())
}
