//! Creating an active-active database across participating clusters, in two phases:
//! every cluster validates the database and reserves its name and port (prepare); only
//! when all have, every cluster stores it and starts its instance (commit). A failure or
//! a wrong password anywhere during prepare aborts everywhere, so no cluster is left
//! with half a database.

use crate::api::AppState;
use crate::model::{Bdb, Crdb, InstanceInfo, Resume, Stage, Task, TaskStatus};
use crate::remote::{Remote, url_host};
use serde_json::{Value, json};
use std::sync::Arc;

/// The longest database name.
const MAX_NAME: usize = 63;
/// The most instances a database has.
pub const MAX_INSTANCES: usize = 16;

/// Checks a database description as every cluster does before it reserves anything.
pub fn validate(crdb: &Crdb) -> Result<(), String> {
    let n = &crdb.name;
    if n.is_empty()
        || n.len() > MAX_NAME
        || !n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "name {n:?}: 1 to {MAX_NAME} letters, digits, '-' or '_'"
        ));
    }
    if crdb.instances.is_empty() || crdb.instances.len() > MAX_INSTANCES {
        return Err(format!("1 to {MAX_INSTANCES} instances"));
    }
    if crdb.encryption != crdb.tls_ca.is_some() {
        return Err(
            "encryption: the database's certificate authority is made by the cluster".into(),
        );
    }
    if !crdb.causal_consistency {
        return Err("causal_consistency is always on in Concord: set it to true".into());
    }
    crdb.default_db_config.check()?;
    for (i, inst) in crdb.instances.iter().enumerate() {
        if inst.compression > 6 {
            return Err(format!("instance {}: compression is 0 to 6", i + 1));
        }
        url_host(&inst.cluster.url)?;
        for other in &crdb.instances[..i] {
            if other.cluster.name == inst.cluster.name || other.cluster.url == inst.cluster.url {
                return Err(format!(
                    "cluster {} is given twice: one instance per cluster",
                    inst.cluster.name
                ));
            }
        }
    }
    Ok(())
}

/// The instance of `crdb` that cluster `me` hosts.
pub fn local_instance<'a>(crdb: &'a Crdb, me: &str) -> Result<&'a InstanceInfo, String> {
    crdb.instances
        .iter()
        .find(|i| i.cluster.name == me)
        .ok_or_else(|| format!("no instance of the database is on this cluster ({me})"))
}

/// The local database that `me`'s instance of a committed `crdb` runs as. With
/// `encryption` its peers are reached on their TLS ports, and it gets a certificate from
/// the database's authority naming the host the others reach it by.
pub fn local_bdb(crdb: &Crdb, me: &str) -> Result<Bdb, String> {
    let mine = local_instance(crdb, me)?;
    let port_of = |i: &InstanceInfo| {
        i.db_config
            .port
            .ok_or_else(|| format!("instance {} has no port", i.id))
    };
    let link_port = |i: &InstanceInfo| match (&crdb.tls_ca, i.db_config.tls_port) {
        (None, _) => port_of(i),
        (Some(_), Some(p)) => Ok(p),
        (Some(_), None) => Err(format!("instance {} has no TLS port", i.id)),
    };
    let mut peers = Vec::new();
    for i in crdb.instances.iter().filter(|i| i.id != mine.id) {
        peers.push((i.id, url_host(&i.cluster.url)?, link_port(i)?));
    }
    let tls = match &crdb.tls_ca {
        Some(ca) => {
            let names = vec![url_host(&mine.cluster.url)?, mine.cluster.name.clone()];
            let (cert, key) = crate::dbtls::issue(ca, &crdb.guid, &names)?;
            Some(crate::model::InstanceTls {
                ca: ca.cert.clone(),
                cert,
                key,
            })
        }
        None => None,
    };
    Ok(Bdb {
        uid: 0,
        name: crdb.name.clone(),
        crdb_guid: crdb.guid.clone(),
        replica_id: mine.id,
        port: port_of(mine)?,
        tls_port: if tls.is_some() {
            Some(link_port(mine)?)
        } else {
            None
        },
        tls,
        peers,
        removed: crdb.removed.iter().map(|r| (r.id, r.cut.clone())).collect(),
        config: crdb.default_db_config.clone(),
        encryption: crdb.encryption,
        compression: mine.compression,
        config_version: crdb.config_version,
    })
}

/// A crdb as the API shows it: passwords and the authority's key are never shown.
pub fn redacted(crdb: &Crdb) -> Value {
    let mut v = serde_json::to_value(crdb).expect("crdbs serialize");
    if crdb.tls_ca.is_some() {
        v["tls_ca"]["key"] = json!("********");
    }
    if !crdb.default_db_config.password.is_empty() {
        v["default_db_config"]["password"] = json!("********");
    }
    if let Some(list) = v["instances"].as_array_mut() {
        for i in list {
            i["cluster"]["credentials"]["password"] = json!("********");
        }
    }
    v
}

/// A new id: 128 random bits in the UUID text form.
pub fn new_id() -> String {
    let b: [u8; 16] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// One phase (`_prepare`, `_commit`, `_abort`) of database `guid` on the cluster hosting
/// `inst`: the local cluster directly, others over their REST API.
pub(crate) async fn call(
    s: &Arc<AppState>,
    inst: &InstanceInfo,
    guid: &str,
    step: &str,
    body: Value,
) -> Result<Value, String> {
    if inst.cluster.name == s.name {
        return crate::api::crdbs::local_phase(s, guid, step, &body)
            .await
            .map_err(|e| e.description);
    }
    let path = format!("/v1/crdbs/{guid}/{step}");
    remote(s, &inst.cluster, move |r| r.post(&path, &body)).await
}

/// Runs `f` against another cluster's API, off the event loop and bounded by
/// [`CALL_TIMEOUT`] (connection and certificate check included).
pub(crate) async fn remote<T: Send + 'static>(
    s: &AppState,
    cluster: &crate::model::ClusterRef,
    f: impl FnOnce(&Remote) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let cluster = cluster.clone();
    let ca = s.ca.clone();
    let work = tokio::task::spawn_blocking(move || f(&Remote::new(&cluster, ca.as_deref())?));
    match tokio::time::timeout(CALL_TIMEOUT, work).await {
        Ok(done) => done.map_err(|e| e.to_string())?,
        Err(_) => Err(format!("no answer in {} s", CALL_TIMEOUT.as_secs())),
    }
}

/// The longest a call to another cluster may take, connection and certificate check
/// included.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Ends a task: finished, or failed when it recorded errors.
pub(crate) fn finish(s: &AppState, task: &mut Task) {
    task.status = if task.errors.is_empty() {
        TaskStatus::Finished
    } else {
        TaskStatus::Failed
    };
    save(s, task);
}

/// Records a task's progress.
pub(crate) fn save(s: &AppState, task: &Task) {
    if let Err(e) = s.store.put_task(task) {
        tracing::warn!(task = %task.id, "saving the task: {e}");
    }
}

/// Runs a create task to its end: prepare everywhere, then commit everywhere; on a
/// failure in prepare, abort everywhere.
pub async fn create(s: Arc<AppState>, mut crdb: Crdb, mut task: Task) {
    task.status = TaskStatus::Started;
    save(&s, &task);
    let every: Vec<u16> = crdb.instances.iter().map(|i| i.id).collect();
    let stage = |stage, crdb: &Crdb| Resume {
        stage,
        crdb: crdb.clone(),
        abort: every.clone(),
    };
    crate::resume::record(&s, &task, &stage(Stage::Prepare, &crdb));
    let guid = crdb.guid.clone();
    let mut prepared = Vec::new();
    let mut failed = Vec::new();
    for inst in crdb.instances.clone() {
        let body = json!({"crdb": crdb, "instance_id": inst.id});
        match call(&s, &inst, &guid, "_prepare", body).await {
            Ok(v) => {
                let port = v["port"].as_u64().and_then(|p| u16::try_from(p).ok());
                let tls_port = v["tls_port"].as_u64().and_then(|p| u16::try_from(p).ok());
                match port {
                    Some(p) => {
                        if let Some(i) = crdb.instances.iter_mut().find(|i| i.id == inst.id) {
                            i.db_config.port = Some(p);
                            i.db_config.tls_port = tls_port;
                        }
                        prepared.push(inst.clone());
                        task.progress
                            .push(format!("{}: prepared (port {p})", inst.cluster.name));
                    }
                    None => failed.push(format!("{}: prepare answered no port", inst.cluster.name)),
                }
            }
            Err(e) => failed.push(format!("{}: {e}", inst.cluster.name)),
        }
        save(&s, &task);
        if !failed.is_empty() {
            break;
        }
    }
    if !failed.is_empty() {
        // Every cluster is told, not only those that answered: a prepare that timed out
        // here may have reserved there, and an abort of nothing changes nothing.
        for inst in &crdb.instances {
            if let Err(e) = call(&s, inst, &guid, "_abort", json!({})).await {
                failed.push(format!("{}: abort: {e}", inst.cluster.name));
            }
        }
        task.errors = failed;
        task.status = TaskStatus::Failed;
        save(&s, &task);
        return;
    }
    crdb.config_version = 1;
    crate::resume::record(&s, &task, &stage(Stage::Commit, &crdb));
    // Every cluster holds its reservation now: commit is retried (for about 5 s) until
    // each has it; one that still fails is reported, and its reservation lapses.
    for inst in crdb.instances.clone() {
        commit_on(&s, &inst, &crdb, &mut task, "created").await;
    }
    finish(&s, &mut task);
}

/// Commits `crdb` on the cluster hosting `inst`, retried (for about 5 s); a failure that
/// remains is recorded in the task. Returns whether it committed.
pub(crate) async fn commit_on(
    s: &Arc<AppState>,
    inst: &InstanceInfo,
    crdb: &Crdb,
    task: &mut Task,
    done: &str,
) -> bool {
    let body = json!({"crdb": crdb});
    let mut tries = 0;
    let ok = loop {
        match call(s, inst, &crdb.guid, "_commit", body.clone()).await {
            Ok(_) => {
                task.progress.push(format!("{}: {done}", inst.cluster.name));
                break true;
            }
            Err(e) if tries < 10 => {
                tries += 1;
                tracing::warn!(task = %task.id, "commit on {}: {e}; retrying", inst.cluster.name);
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Err(e) => {
                task.errors
                    .push(format!("{}: commit: {e}", inst.cluster.name));
                break false;
            }
        }
    };
    save(s, task);
    ok
}

/// Runs a delete task: every other cluster drops the database and stops its instance,
/// then this one. A cluster that cannot be reached fails the task and this cluster keeps
/// the database, so the delete can be asked again.
pub async fn delete(s: Arc<AppState>, _claim: crate::tasks::Claim, crdb: Crdb, mut task: Task) {
    task.status = TaskStatus::Started;
    save(&s, &task);
    let guid = crdb.guid.clone();
    let (local, others): (Vec<_>, Vec<_>) = crdb
        .instances
        .iter()
        .partition(|i| i.cluster.name == s.name);
    for inst in others.into_iter().chain(local) {
        match call(&s, inst, &guid, "_abort", json!({})).await {
            Ok(_) => task
                .progress
                .push(format!("{}: deleted", inst.cluster.name)),
            Err(e) => {
                task.errors.push(format!("{}: {e}", inst.cluster.name));
                break;
            }
        }
        save(&s, &task);
    }
    finish(&s, &mut task);
}
