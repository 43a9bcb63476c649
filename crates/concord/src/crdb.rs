//! `concord crdb …` and `concord task …`: the management CLI, with crdb-cli's flags. It
//! talks to a cluster's REST API like any script would, and by default waits for a task
//! to end, printing its progress.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use concord_manager::model::{ClusterRef, Credentials};
use concord_manager::remote::{Remote, certificate_of, fingerprint};
use serde_json::{Value, json};
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

/// How a command prints its result.
#[derive(Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Lines for people.
    #[default]
    Text,
    /// The API's JSON.
    Json,
}

/// The cluster a command talks to.
#[derive(Args)]
pub struct Target {
    /// The cluster's REST API (`https://host:9443`).
    #[arg(long)]
    cluster_url: String,
    /// A user of that cluster.
    #[arg(long)]
    username: String,
    /// Its password.
    #[arg(long)]
    password: String,
    /// The SHA-256 fingerprint of the cluster's certificate, trusted without asking.
    #[arg(long)]
    trust_fingerprint: Option<String>,
    /// Print the API's JSON.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// `concord crdb …`.
#[derive(Subcommand)]
pub enum CrdbCmd {
    /// Create an active-active database.
    Create(CreateArgs),
    /// List the active-active databases.
    List(Target),
    /// Show one.
    Get(GuidArgs),
    /// Delete one from every participating cluster.
    Delete(GuidArgs),
    /// Every instance of one as its cluster reports it, with its links.
    HealthReport(GuidArgs),
    /// Change settings of every instance.
    Update(UpdateArgs),
    /// Add a participating cluster's instance.
    AddInstance(AddArgs),
    /// Remove an instance (with --force when its cluster is gone for good).
    RemoveInstance(RemoveArgs),
    /// On the cluster of an instance removed by force: delete it and its data.
    PurgeInstance(RemoveArgs),
    /// Clear every instance.
    Flush(GuidArgs),
    /// Copy a running Redis database in (Replica Of): flushes every instance, then one
    /// follows the source; `--stop` ends it.
    Migrate(crate::migrate::MigrateArgs),
    /// Where the copy from a Redis database stands.
    MigrateStatus(GuidArgs),
}

/// `concord crdb update`.
#[derive(Args)]
pub struct UpdateArgs {
    /// New memory limit of each instance (`100mb`, `2gb`; 0: none).
    #[arg(long)]
    memory_size: Option<String>,
    /// `appendfsync-every-sec` or `appendfsync-always`.
    #[arg(long)]
    aof_policy: Option<String>,
    #[command(flatten)]
    db: GuidArgs,
}

/// `concord crdb add-instance`.
#[derive(Args)]
pub struct AddArgs {
    /// The new cluster, as in `crdb create --instance`.
    #[arg(long)]
    instance: String,
    /// Compression between instances, 0 to 6.
    #[arg(long, default_value_t = 3)]
    compression: u8,
    #[command(flatten)]
    db: GuidArgs,
}

/// `concord crdb remove-instance` and `purge-instance`.
#[derive(Args)]
pub struct RemoveArgs {
    /// The instance's id.
    #[arg(long)]
    instance_id: u16,
    /// Its cluster is gone for good: skip waiting for its last writes.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    db: GuidArgs,
}

/// `concord task …`.
#[derive(Subcommand)]
pub enum TaskCmd {
    /// List the tasks.
    List(Target),
    /// Show one.
    Status(TaskArgs),
    /// Ask a running task to stop (before its point of no return it undoes its work).
    Cancel(TaskArgs),
}

/// A database by guid.
#[derive(Args)]
pub struct GuidArgs {
    /// The database.
    #[arg(long)]
    pub crdb_guid: String,
    /// Return once the task is created.
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub target: Target,
}

/// A task by id.
#[derive(Args)]
pub struct TaskArgs {
    /// The task.
    #[arg(long)]
    task_id: String,
    #[command(flatten)]
    target: Target,
}

/// `concord crdb create`.
#[derive(Args)]
pub struct CreateArgs {
    /// The database's name.
    #[arg(long)]
    name: String,
    /// A participating cluster: `fqdn=NAME,url=URL,username=U,password=P` with an
    /// optional `fingerprint=SHA256`, `port=N`; repeat for each cluster. The request goes
    /// to the first.
    #[arg(long = "instance", required = true)]
    instances: Vec<String>,
    /// Memory limit of each instance (`100mb`, `2gb`).
    #[arg(long)]
    memory_size: Option<String>,
    /// Client port of every instance (default: each cluster picks one).
    #[arg(long)]
    port: Option<u16>,
    /// Compression between instances, 0 to 6.
    #[arg(long, default_value_t = 3)]
    compression: u8,
    /// Causal consistency (always on in Concord).
    #[arg(long)]
    causal_consistency: bool,
    /// TLS between the instances (with certificates the clusters issue).
    #[arg(long)]
    encryption: bool,
    /// Other settings of every instance, as the API's `default_db_config` JSON
    /// (`'{"password": "..."}'`).
    #[arg(long)]
    default_db_config: Option<String>,
    /// Return once the task is created.
    #[arg(long)]
    no_wait: bool,
    /// Print the API's JSON.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// Parses `key=value,key=value` into a cluster reference and its port override.
fn instance(spec: &str) -> Result<(ClusterRef, Option<u16>)> {
    let mut f = std::collections::BTreeMap::new();
    for part in spec.split(',') {
        let (k, v) = part
            .split_once('=')
            .with_context(|| format!("--instance {spec:?}: {part:?} is not key=value"))?;
        f.insert(k.trim().to_string(), v.trim().to_string());
    }
    let mut take = |k: &str| {
        f.remove(k)
            .with_context(|| format!("--instance {spec:?} lacks {k}="))
    };
    let cluster = ClusterRef {
        name: take("fqdn")?,
        url: take("url")?,
        credentials: Credentials {
            username: take("username")?,
            password: take("password")?,
        },
        fingerprint: f.remove("fingerprint"),
    };
    let port = f
        .remove("port")
        .map(|p| p.parse::<u16>())
        .transpose()
        .with_context(|| format!("--instance {spec:?}: bad port"))?;
    if let Some(k) = f.keys().next() {
        bail!("--instance {spec:?}: unknown key {k:?}");
    }
    Ok((cluster, port))
}

/// The fingerprint to pin for `url`: the one given, or the one seen after a person
/// confirms it (a script must give it: there is nobody to ask).
fn pin(url: &str, given: Option<String>) -> Result<String> {
    if let Some(fp) = given {
        return Ok(fp);
    }
    let der = certificate_of(url).map_err(anyhow::Error::msg)?;
    let fp = fingerprint(&der);
    if !std::io::stdin().is_terminal() {
        bail!(
            "{url}: its certificate's SHA-256 fingerprint is {fp}; check it and pass it (--trust-fingerprint, or fingerprint= in --instance)"
        );
    }
    eprint!("{url} presents a certificate with SHA-256 fingerprint\n  {fp}\nTrust it? [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("{url}: certificate not trusted");
    }
    Ok(fp)
}

pub(crate) fn connect(cluster: &ClusterRef) -> Result<Remote> {
    Remote::new(cluster, None).map_err(anyhow::Error::msg)
}

pub(crate) fn target_ref(t: &Target) -> Result<ClusterRef> {
    Ok(ClusterRef {
        name: t.cluster_url.clone(),
        url: t.cluster_url.clone(),
        credentials: Credentials {
            username: t.username.clone(),
            password: t.password.clone(),
        },
        fingerprint: Some(pin(&t.cluster_url, t.trust_fingerprint.clone())?),
    })
}

pub(crate) fn print(output: Output, v: &Value) {
    match output {
        Output::Json => println!("{v}"),
        Output::Text => println!("{}", serde_json::to_string_pretty(v).unwrap_or_default()),
    }
}

/// Follows task `id` until it ends, printing each change; fails when the task fails.
pub(crate) fn wait(api: &Remote, task: &Value, output: Output) -> Result<()> {
    let id = task["id"].as_str().context("the answer names no task")?;
    if output == Output::Text {
        println!("Task {id} created");
    }
    let mut status = task["status"].as_str().unwrap_or("queued").to_string();
    let mut shown = 0;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let t = api
            .get(&format!("/v1/crdb_tasks/{id}"))
            .map_err(anyhow::Error::msg)?;
        let now = t["status"].as_str().unwrap_or_default().to_string();
        if output == Output::Text {
            if now != status {
                println!("Status changed: {status} -> {now}");
            }
            let progress = t["progress"].as_array().cloned().unwrap_or_default();
            for p in progress.iter().skip(shown) {
                println!("  {}", p.as_str().unwrap_or_default());
            }
            shown = progress.len();
        }
        status = now;
        match status.as_str() {
            "finished" => {
                if output == Output::Json {
                    println!("{t}");
                }
                return Ok(());
            }
            "failed" | "canceled" => {
                if output == Output::Json {
                    println!("{t}");
                }
                bail!("task {id} {status}: {}", t["errors"]);
            }
            _ if Instant::now() > deadline => bail!("task {id} still {status} after 10 minutes"),
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Sends a change of database `g` with `f` and, unless `--no-wait`, follows its task.
fn change(g: &GuidArgs, f: impl FnOnce(&Remote, &str) -> Result<Value, String>) -> Result<()> {
    let api = connect(&target_ref(&g.target)?)?;
    let task = f(&api, &format!("/v1/crdbs/{}", g.crdb_guid)).map_err(anyhow::Error::msg)?;
    if g.no_wait {
        print(g.target.output, &task);
        return Ok(());
    }
    wait(&api, &task, g.target.output)
}

/// Runs `concord crdb …`.
pub fn run_crdb(cmd: CrdbCmd) -> Result<()> {
    match cmd {
        CrdbCmd::Create(a) => {
            if a.compression > 6 {
                bail!("--compression is 0 to 6");
            }
            let mut instances = Vec::new();
            let mut first = None;
            for spec in &a.instances {
                let (mut cluster, port) = instance(spec)?;
                cluster.fingerprint = Some(pin(&cluster.url, cluster.fingerprint.take())?);
                first.get_or_insert_with(|| cluster.clone());
                let mut i = json!({"cluster": cluster, "compression": a.compression});
                if let Some(p) = port {
                    i["db_config"] = json!({"port": p});
                }
                instances.push(i);
            }
            let memory = match &a.memory_size {
                Some(m) => concord_server::settings::parse_bytes(m)
                    .map_err(|e| anyhow::anyhow!("--memory-size: {e}"))?,
                None => 0,
            };
            let mut config = match &a.default_db_config {
                Some(text) => serde_json::from_str::<Value>(text)
                    .ok()
                    .filter(Value::is_object)
                    .context("--default-db-config: not a JSON object")?,
                None => json!({}),
            };
            config["memory_size"] = json!(memory);
            config["port"] = json!(a.port.unwrap_or(0));
            let body = json!({
                "name": a.name,
                "causal_consistency": true,
                "encryption": a.encryption,
                "default_db_config": config,
                "instances": instances,
            });
            let api = connect(&first.context("no --instance")?)?;
            let task = api.post("/v1/crdbs", &body).map_err(anyhow::Error::msg)?;
            if a.no_wait {
                print(a.output, &task);
                return Ok(());
            }
            wait(&api, &task, a.output)?;
            if a.output == Output::Text {
                println!(
                    "Created database {} ({})",
                    a.name,
                    task["crdb_guid"].as_str().unwrap_or_default()
                );
            }
            Ok(())
        }
        CrdbCmd::List(t) => {
            let api = connect(&target_ref(&t)?)?;
            let list = api.get("/v1/crdbs").map_err(anyhow::Error::msg)?;
            match t.output {
                Output::Json => println!("{list}"),
                Output::Text => {
                    println!("{:<38} {:<20} CLUSTERS", "CRDB-GUID", "NAME");
                    for d in list.as_array().into_iter().flatten() {
                        let clusters: Vec<&str> = d["instances"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|i| i["cluster"]["name"].as_str())
                            .collect();
                        println!(
                            "{:<38} {:<20} {}",
                            d["guid"].as_str().unwrap_or_default(),
                            d["name"].as_str().unwrap_or_default(),
                            clusters.join(", ")
                        );
                    }
                }
            }
            Ok(())
        }
        CrdbCmd::Get(g) => {
            let api = connect(&target_ref(&g.target)?)?;
            let d = api
                .get(&format!("/v1/crdbs/{}", g.crdb_guid))
                .map_err(anyhow::Error::msg)?;
            print(g.target.output, &d);
            Ok(())
        }
        CrdbCmd::HealthReport(g) => {
            let api = connect(&target_ref(&g.target)?)?;
            let r = api
                .get(&format!("/v1/crdbs/{}/health_report", g.crdb_guid))
                .map_err(anyhow::Error::msg)?;
            print(g.target.output, &r);
            Ok(())
        }
        CrdbCmd::Delete(g) => change(&g, |api, path| api.delete(path)),
        CrdbCmd::Flush(g) => change(&g, |api, path| {
            api.put(&format!("{path}/flush"), &json!({}))
        }),
        CrdbCmd::Migrate(a) => crate::migrate::run(a),
        CrdbCmd::MigrateStatus(g) => crate::migrate::status(g),
        CrdbCmd::Update(u) => {
            let mut cfg = serde_json::Map::new();
            if let Some(m) = &u.memory_size {
                let bytes = concord_server::settings::parse_bytes(m)
                    .map_err(|e| anyhow::anyhow!("--memory-size: {e}"))?;
                cfg.insert("memory_size".into(), json!(bytes));
            }
            if let Some(p) = &u.aof_policy {
                cfg.insert("aof_policy".into(), json!(p));
            }
            if cfg.is_empty() {
                bail!("nothing to change: give --memory-size or --aof-policy");
            }
            change(&u.db, |api, path| {
                api.patch(path, &json!({"default_db_config": cfg}))
            })
        }
        CrdbCmd::AddInstance(a) => {
            if a.compression > 6 {
                bail!("--compression is 0 to 6");
            }
            let (mut cluster, port) = instance(&a.instance)?;
            cluster.fingerprint = Some(pin(&cluster.url, cluster.fingerprint.take())?);
            let mut i = json!({"cluster": cluster, "compression": a.compression});
            if let Some(p) = port {
                i["db_config"] = json!({"port": p});
            }
            let body = json!({"add_instances": [i]});
            change(&a.db, |api, path| {
                api.post(&format!("{path}/updates"), &body)
            })
        }
        CrdbCmd::RemoveInstance(r) => {
            let body = json!({"remove_instances": [r.instance_id], "force_remove": r.force});
            change(&r.db, |api, path| {
                api.post(&format!("{path}/updates"), &body)
            })
        }
        CrdbCmd::PurgeInstance(r) => {
            let body = json!({"instances": [r.instance_id]});
            change(&r.db, |api, path| api.put(&format!("{path}/purge"), &body))
        }
    }
}

/// Runs `concord task …`.
pub fn run_task(cmd: TaskCmd) -> Result<()> {
    match cmd {
        TaskCmd::List(t) => {
            let api = connect(&target_ref(&t)?)?;
            let list = api.get("/v1/crdb_tasks").map_err(anyhow::Error::msg)?;
            match t.output {
                Output::Json => println!("{list}"),
                Output::Text => {
                    println!(
                        "{:<38} {:<14} {:<10} CRDB-GUID",
                        "TASK-ID", "OPERATION", "STATUS"
                    );
                    for x in list.as_array().into_iter().flatten() {
                        println!(
                            "{:<38} {:<14} {:<10} {}",
                            x["id"].as_str().unwrap_or_default(),
                            x["operation"].as_str().unwrap_or_default(),
                            x["status"].as_str().unwrap_or_default(),
                            x["crdb_guid"].as_str().unwrap_or_default()
                        );
                    }
                }
            }
            Ok(())
        }
        TaskCmd::Cancel(a) => {
            let api = connect(&target_ref(&a.target)?)?;
            let r = api
                .post(
                    &format!("/v1/crdb_tasks/{}/actions/cancel", a.task_id),
                    &json!({}),
                )
                .map_err(anyhow::Error::msg)?;
            print(a.target.output, &r);
            Ok(())
        }
        TaskCmd::Status(a) => {
            let api = connect(&target_ref(&a.target)?)?;
            let t = api
                .get(&format!("/v1/crdb_tasks/{}", a.task_id))
                .map_err(anyhow::Error::msg)?;
            print(a.target.output, &t);
            Ok(())
        }
    }
}
