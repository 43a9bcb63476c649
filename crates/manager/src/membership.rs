//! Changing an active-active database that exists, while its clients write: add an
//! instance, remove one (gracefully, or by force when it is gone), flush every instance,
//! change its settings. Each is a task driven by the cluster that received the request,
//! over the other clusters' APIs; every cluster applies a step to its own instance
//! through the instance's protocol (`_instance`), and stores the new configuration
//! version at the end (`_commit`). docs/ARCHITECTURE.md walks through each.

use crate::api::AppState;
use crate::coordinate::{call, commit_on, finish, save};
use crate::model::{Crdb, InstanceInfo, RemovedInstance, Resume, Stage, Task, TaskStatus};
use crate::resume::record;
use crate::tasks::Claim;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long writes are held at most for a flush (the instance lets go by itself after).
pub const HOLD_MS: u64 = 30_000;
/// How long a step waits for ops to reach other instances.
const CATCH_UP: Duration = Duration::from_secs(60);

/// A version vector as `INFO crdt` writes it, by (id, incarnation).
pub type Vv = BTreeMap<(u16, u32), u64>;

/// Reads a vector's text (`1.7=12,2.1=5`); pairs that do not parse are an error.
pub fn parse_vv(s: &str) -> Result<Vv, String> {
    let mut v = Vv::new();
    for pair in s.split(',').filter(|p| !p.is_empty()) {
        let bad = || format!("{s:?} is not a version vector");
        let (o, n) = pair.split_once('=').ok_or_else(bad)?;
        let (id, inc) = o.split_once('.').ok_or_else(bad)?;
        let key = (
            id.parse().map_err(|_| bad())?,
            inc.parse().map_err(|_| bad())?,
        );
        let n: u64 = n.parse().map_err(|_| bad())?;
        let e = v.entry(key).or_insert(0);
        *e = (*e).max(n);
    }
    Ok(v)
}

/// A vector's text.
pub fn show_vv(v: &Vv) -> String {
    let parts: Vec<String> = v
        .iter()
        .map(|((id, inc), n)| format!("{id}.{inc}={n}"))
        .collect();
    parts.join(",")
}

/// Raises `into` to cover `other`.
fn join(into: &mut Vv, other: &Vv) {
    for (k, n) in other {
        let e = into.entry(*k).or_insert(0);
        *e = (*e).max(*n);
    }
}

/// Whether `big` covers every entry of `small`.
fn covers(big: &Vv, small: &Vv) -> bool {
    small
        .iter()
        .all(|(k, n)| big.get(k).copied().unwrap_or(0) >= *n)
}

/// Runs one step on the instance that the cluster hosting `inst` runs for `guid`.
async fn on(
    s: &Arc<AppState>,
    inst: &InstanceInfo,
    guid: &str,
    op: Value,
) -> Result<String, String> {
    let v = call(s, inst, guid, "_instance", op).await?;
    Ok(v["reply"].as_str().unwrap_or_default().to_string())
}

/// The vector the instance hosted with `inst` has applied.
async fn vv_of(s: &Arc<AppState>, inst: &InstanceInfo, guid: &str) -> Result<Vv, String> {
    let list = on(s, inst, guid, json!({"op": "list"})).await?;
    let line = list
        .lines()
        .find_map(|l| l.strip_prefix("vv:"))
        .ok_or("the instance did not report its vector")?;
    parse_vv(line)
}

/// Waits until every instance in `insts` has applied `want`.
async fn wait_covered(
    s: &Arc<AppState>,
    insts: &[InstanceInfo],
    guid: &str,
    want: &Vv,
) -> Result<(), String> {
    let deadline = Instant::now() + CATCH_UP;
    for inst in insts {
        loop {
            if covers(&vv_of(s, inst, guid).await?, want) {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not receive every write within {} s",
                    inst.cluster.name,
                    CATCH_UP.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// Makes the instance of `gone` refuse writes and waits until every instance of `rest`
/// holds all it holds; asks again after that (a restart in between lets it take writes),
/// until its answer no longer grows. Its vector.
async fn drain(
    s: &Arc<AppState>,
    gone: &InstanceInfo,
    rest: &[InstanceInfo],
    guid: &str,
) -> Result<Vv, String> {
    let leave = || async {
        on(s, gone, guid, json!({"op": "leave"}))
            .await
            .and_then(|t| parse_vv(&t))
    };
    // Its own ops, which only it can have made: other origins' keep arriving from the
    // others while it drains, and are theirs to keep.
    let own = |v: &Vv| -> Vv {
        v.iter()
            .filter(|((o, _), _)| *o == gone.id)
            .map(|(k, n)| (*k, *n))
            .collect()
    };
    let mut last = leave().await?;
    for _ in 0..3 {
        wait_covered(s, rest, guid, &last).await?;
        let again = leave().await?;
        if covers(&own(&last), &own(&again)) {
            return Ok(last);
        }
        last = again;
    }
    Err("it kept taking writes after it was told to stop".into())
}

/// Fails the task with `why` (after whatever undo the caller did).
fn fail(s: &AppState, task: &mut Task, why: String) {
    task.errors.push(why);
    task.status = TaskStatus::Failed;
    save(s, task);
}

/// Whether the task was asked to cancel; if so it is marked canceled.
fn canceled(s: &AppState, task: &mut Task) -> bool {
    if !s.tasks.take_cancel(&task.id) {
        return false;
    }
    task.status = TaskStatus::Canceled;
    task.progress.push("canceled".into());
    save(s, task);
    true
}

pub(crate) fn start(s: &AppState, task: &mut Task) {
    task.status = TaskStatus::Started;
    save(s, task);
}

/// Adds `new` (its id, port and cluster decided) to `crdb`: the new cluster reserves,
/// then every cluster commits the new version (the existing instances add the member
/// while they run), the new one last, which starts the instance: it takes a full sync
/// from a peer, serves reads at once and writes once caught up.
pub async fn add_instance(
    s: Arc<AppState>,
    _claim: Claim,
    crdb: Crdb,
    new: InstanceInfo,
    mut task: Task,
) {
    start(&s, &mut task);
    let mut next = crdb.clone();
    next.instances.push(new.clone());
    next.config_version += 1;
    let stage = |stage, crdb: &Crdb| Resume {
        stage,
        crdb: crdb.clone(),
        abort: vec![new.id],
    };
    record(&s, &task, &stage(Stage::Prepare, &next));
    let body = json!({"crdb": next, "instance_id": new.id});
    let answer = match call(&s, &new, &crdb.guid, "_prepare", body).await {
        Ok(v) => v,
        Err(e) => return fail(&s, &mut task, format!("{}: {e}", new.cluster.name)),
    };
    let port_in = |k: &str| answer[k].as_u64().and_then(|p| u16::try_from(p).ok());
    let Some(port) = port_in("port") else {
        let why = format!("{}: prepare answered no port", new.cluster.name);
        return fail(&s, &mut task, why);
    };
    if let Some(i) = next.instances.iter_mut().find(|i| i.id == new.id) {
        i.db_config.port = Some(port);
        i.db_config.tls_port = port_in("tls_port");
    }
    task.progress
        .push(format!("{}: prepared (port {port})", new.cluster.name));
    save(&s, &task);
    if canceled(&s, &mut task) {
        let _ = call(&s, &new, &crdb.guid, "_abort", json!({})).await;
        return;
    }
    record(&s, &task, &stage(Stage::Commit, &next));
    let mut all = true;
    for inst in &crdb.instances {
        all &= commit_on(&s, inst, &next, &mut task, "member added").await;
    }
    if all {
        commit_on(&s, &new, &next, &mut task, "instance created").await;
    } else {
        // An instance that does not know the new member would refuse every op that
        // depends on it: the new one does not start until every cluster has it.
        task.errors.push(format!(
            "instance {} not started: remove it with force_remove, then add the cluster again",
            new.id
        ));
    }
    finish(&s, &mut task);
}

/// Removes instance `id` from `crdb`. Gracefully, its instance first refuses writes and
/// everything it holds reaches every other instance; by force (it is gone) that is skipped.
/// Then every other instance fences it and all raise its cut to the largest fenced
/// position; every cluster commits the new version, and the removed one (gracefully)
/// drops its instance and data.
pub async fn remove_instance(
    s: Arc<AppState>,
    _claim: Claim,
    crdb: Crdb,
    id: u16,
    force: bool,
    mut task: Task,
) {
    start(&s, &mut task);
    let guid = crdb.guid.clone();
    let Some(gone) = crdb.instance(id).cloned() else {
        return fail(&s, &mut task, format!("no instance {id}"));
    };
    let rest: Vec<InstanceInfo> = crdb
        .instances
        .iter()
        .filter(|i| i.id != id)
        .cloned()
        .collect();
    // Every survivor must answer before anything changes.
    for inst in &rest {
        if let Err(e) = vv_of(&s, inst, &guid).await {
            return fail(&s, &mut task, format!("{}: {e}", inst.cluster.name));
        }
    }
    if canceled(&s, &mut task) {
        return;
    }
    if !force {
        match drain(&s, &gone, &rest, &guid).await {
            Ok(last) => {
                task.progress.push(format!(
                    "{}: takes no more writes; every other instance holds all it held ({})",
                    gone.cluster.name,
                    show_vv(&last)
                ));
                save(&s, &task);
            }
            Err(e) => {
                // Taking writes again is safe only if no survivor fenced it yet (an
                // earlier attempt may have).
                let mut fenced = false;
                for inst in &rest {
                    let list = on(&s, inst, &guid, json!({"op": "list"})).await;
                    fenced |= list.is_ok_and(|l| l.contains(&format!("removed:{id}:")));
                }
                if !fenced {
                    let _ = on(&s, &gone, &guid, json!({"op": "stay"})).await;
                }
                let why = format!(
                    "{}: {e} (if the cluster is gone for good, remove the instance with force)",
                    gone.cluster.name
                );
                return fail(&s, &mut task, why);
            }
        }
    }
    // The point of no return: once one survivor fenced, the removal must finish, after a
    // restart of this manager too.
    let fencing = Resume {
        stage: Stage::Remove,
        crdb: crdb.clone(),
        abort: vec![id],
    };
    record(&s, &task, &fencing);
    let mut cut = Vv::new();
    for inst in &rest {
        match on(&s, inst, &guid, json!({"op": "fence", "id": id}))
            .await
            .and_then(|t| parse_vv(&t))
        {
            Ok(v) => join(&mut cut, &v),
            Err(e) => {
                let why = format!(
                    "{}: fencing instance {id}: {e}; ask for the removal again to finish it",
                    inst.cluster.name
                );
                return fail(&s, &mut task, why);
            }
        }
    }
    // Every survivor raises to the same cut; one that answers more (it took ops of the
    // removed instance after its fence: a restart forgets a fence until the commit
    // records it) makes everyone raise again, to all it holds.
    let mut agreed = false;
    for _ in 0..3 {
        let text = show_vv(&cut);
        let mut seen = Vv::new();
        for inst in &rest {
            let step = json!({"op": "fence", "id": id, "cut": text});
            match on(&s, inst, &guid, step).await.and_then(|t| parse_vv(&t)) {
                Ok(v) => join(&mut seen, &v),
                Err(e) => {
                    let why = format!(
                        "{}: raising the cut of instance {id}: {e}; ask for the removal again to finish it",
                        inst.cluster.name
                    );
                    return fail(&s, &mut task, why);
                }
            }
        }
        if seen == cut {
            agreed = true;
            break;
        }
        cut = seen;
    }
    if !agreed {
        let why =
            format!("the survivors' cuts of instance {id} kept growing; ask for the removal again");
        return fail(&s, &mut task, why);
    }
    let cut = show_vv(&cut);
    task.progress.push(if cut.is_empty() {
        format!("instance {id} cut before any write of its own")
    } else {
        format!("instance {id} cut at {cut}")
    });
    save(&s, &task);
    let mut next = crdb.clone();
    next.instances = rest.clone();
    next.removed.push(RemovedInstance {
        id,
        cluster: gone.cluster.name.clone(),
        cut,
    });
    next.config_version += 1;
    let commit = Resume {
        stage: Stage::Commit,
        crdb: next.clone(),
        abort: Vec::new(),
    };
    record(&s, &task, &commit);
    for inst in &rest {
        commit_on(&s, inst, &next, &mut task, "member removed").await;
    }
    if !force {
        match call(&s, &gone, &guid, "_abort", json!({})).await {
            Ok(_) => task
                .progress
                .push(format!("{}: instance deleted", gone.cluster.name)),
            Err(e) => task.errors.push(format!(
                "{}: deleting the removed instance: {e}; purge it there",
                gone.cluster.name
            )),
        }
    }
    finish(&s, &mut task);
}

/// Clears every instance of `crdb` (the flush task).
pub async fn flush(s: Arc<AppState>, _claim: Claim, crdb: Crdb, mut task: Task) {
    start(&s, &mut task);
    if let Err(e) = flush_everywhere(&s, &crdb, &mut task).await {
        task.errors.push(e);
    }
    if task.status != TaskStatus::Canceled {
        finish(&s, &mut task);
    }
}

/// Clears every instance of `crdb`: client writes are held everywhere, one instance
/// issues a FLUSHALL once it holds every write made before the hold, and writes are let
/// go once every instance applied it. Any failure lets writes go; the first is returned
/// (letting go is noted in the task's errors).
async fn flush_everywhere(s: &Arc<AppState>, crdb: &Crdb, task: &mut Task) -> Result<(), String> {
    let guid = crdb.guid.clone();
    // The holds lapse by themselves (a coordinator that dies never leaves writes held):
    // while the flush runs they are renewed.
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<()>();
    let renew = {
        let (s, crdb) = (Arc::clone(s), crdb.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut done_rx => return,
                    () = tokio::time::sleep(Duration::from_millis(HOLD_MS / 3)) => {}
                }
                for inst in &crdb.instances {
                    let _ = on(&s, inst, &crdb.guid, json!({"op": "hold"})).await;
                }
            }
        })
    };
    let result = flush_held(s, crdb, task).await;
    let _ = done_tx.send(());
    let _ = renew.await;
    for inst in &crdb.instances {
        if let Err(e) = on(s, inst, &guid, json!({"op": "release"})).await {
            task.errors.push(format!(
                "{}: letting writes go: {e} (they go by themselves within {} s)",
                inst.cluster.name,
                HOLD_MS / 1000
            ));
        }
    }
    result
}

async fn flush_held(s: &Arc<AppState>, crdb: &Crdb, task: &mut Task) -> Result<(), String> {
    let guid = &crdb.guid;
    let mut before = Vv::new();
    for inst in &crdb.instances {
        let held = on(s, inst, guid, json!({"op": "hold"}))
            .await
            .and_then(|t| parse_vv(&t))
            .map_err(|e| format!("{}: {e}", inst.cluster.name))?;
        join(&mut before, &held);
    }
    task.progress.push("writes held".into());
    save(s, task);
    if canceled(s, task) {
        return Ok(());
    }
    let here = crate::coordinate::local_instance(crdb, &s.name)?.clone();
    wait_covered(s, std::slice::from_ref(&here), guid, &before).await?;
    let after = on(s, &here, guid, json!({"op": "flush"}))
        .await
        .and_then(|t| parse_vv(&t))?;
    wait_covered(s, &crdb.instances, guid, &after).await?;
    task.progress.push("every instance flushed".into());
    save(s, task);
    Ok(())
}

/// Commits `next` (new settings, one version up) on every cluster.
pub async fn update(s: Arc<AppState>, _claim: Claim, next: Crdb, mut task: Task) {
    start(&s, &mut task);
    let commit = Resume {
        stage: Stage::Commit,
        crdb: next.clone(),
        abort: Vec::new(),
    };
    record(&s, &task, &commit);
    for inst in &next.instances {
        commit_on(&s, inst, &next, &mut task, "updated").await;
    }
    finish(&s, &mut task);
}

/// One `_instance` step on this cluster's instance `db` of a database: the step's reply
/// text.
pub async fn local_step(db: &crate::model::Bdb, body: &Value) -> Result<String, String> {
    let id = body["id"].as_u64().map(|i| i.to_string());
    let cut = body["cut"].as_str();
    let hold = HOLD_MS.to_string();
    let args: Vec<&str> = match (body["op"].as_str(), id.as_deref(), cut) {
        (Some("list"), _, _) => vec!["CRDT.MEMBER", "LIST"],
        (Some("leave"), _, _) => vec!["CRDT.MEMBER", "LEAVE"],
        (Some("stay"), _, _) => vec!["CRDT.MEMBER", "STAY"],
        (Some("fence"), Some(id), None) => vec!["CRDT.MEMBER", "REMOVE", id],
        (Some("fence"), Some(id), Some(cut)) => vec!["CRDT.MEMBER", "REMOVE", id, cut],
        (Some("hold"), _, _) => vec!["CRDT.WRITES", "HOLD", &hold],
        (Some("release"), _, _) => vec!["CRDT.WRITES", "RELEASE"],
        (Some("flush"), _, _) => vec!["CRDT.FLUSH"],
        _ => return Err(format!("no instance step {body}")),
    };
    crate::command::call(db, &args).await
}

/// After a commit, brings a running instance to the committed membership and settings
/// (a step the coordinator already took changes nothing; one it could not take, with
/// the instance down, comes from the instance's flags at its next start).
pub async fn reconcile(b: &crate::model::Bdb) {
    let mut steps: Vec<Vec<String>> = Vec::new();
    for (id, host, port) in &b.peers {
        steps.push(vec![
            "CRDT.MEMBER".into(),
            "ADD".into(),
            id.to_string(),
            format!("{host}:{port}"),
        ]);
    }
    for (id, cut) in &b.removed {
        steps.push(vec![
            "CRDT.MEMBER".into(),
            "REMOVE".into(),
            id.to_string(),
            cut.clone(),
        ]);
    }
    steps.push(vec![
        "CONFIG".into(),
        "SET".into(),
        "maxmemory".into(),
        b.config.memory_size.to_string(),
    ]);
    if b.config.data_persistence == "aof" {
        steps.push(vec![
            "CONFIG".into(),
            "SET".into(),
            "appendfsync".into(),
            crate::supervisor::fsync_of(&b.config).into(),
        ]);
    }
    for step in steps {
        let args: Vec<&str> = step.iter().map(String::as_str).collect();
        if let Err(e) = crate::command::call(b, &args).await {
            tracing::info!(
                db = b.uid,
                "{}: {e} (the instance takes it at its next start)",
                step.join(" ")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_parse_join_and_cover() {
        let a = parse_vv("1.3=5,2.1=7").expect("vv");
        let b = parse_vv("1.3=6,3.1=1").expect("vv");
        let mut j = a.clone();
        join(&mut j, &b);
        assert_eq!(show_vv(&j), "1.3=6,2.1=7,3.1=1");
        assert!(covers(&j, &a) && covers(&j, &b) && !covers(&a, &b));
        assert_eq!(parse_vv("").expect("empty"), Vv::new());
        for bad in ["1", "1.3", "x.1=2", "1.3=-1", "70000.1=2"] {
            assert!(parse_vv(bad).is_err(), "{bad}");
        }
    }
}
