//! `concord demo`: N local participating clusters, each with its manager, and one
//! active-active database created across them through the REST API, exactly as a user
//! would; the instances listen on the base port and every second port after it.

use anyhow::{Context, Result, bail};
use clap::Args;
use concord_manager::model::{ClusterRef, Credentials};
use concord_manager::remote::{Remote, certificate_of, fingerprint};
use concord_manager::{InitOptions, PortRange};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The demo's service account.
const ADMIN: &str = "admin@demo.local";

/// `concord demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// How many instances (one participating cluster each).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    instances: u16,
    /// Port of the first instance; the others follow two apart (12000, 12002, ...). The
    /// clusters' REST APIs listen 100 above (12100, 12101, ...), their web consoles 200
    /// above (12200, 12201, ...).
    #[arg(long, default_value_t = 12000)]
    base_port: u16,
}

/// One demo cluster: where it lives and how to reach its API.
struct DemoCluster {
    dir: PathBuf,
    name: String,
    rest: u16,
    console: u16,
    db_port: u16,
}

/// Runs the demo until Ctrl-C.
pub fn run(args: DemoArgs) -> Result<()> {
    let n = args.instances;
    let root = std::env::temp_dir().join(format!("concord-demo-{}", std::process::id()));
    let password: String = (0..16).map(|_| format!("{:02x}", rand_byte())).collect();
    let mut clusters = Vec::new();
    for i in 0..n {
        let port = |step: u16| {
            args.base_port
                .checked_add(step)
                .context("base port too high for that many instances")
        };
        let c = DemoCluster {
            dir: root.join(format!("cluster{}", i + 1)),
            name: format!("cluster{}.demo.local", i + 1),
            rest: port(100 + i)?,
            console: port(200 + i)?,
            db_port: port(2 * i)?,
        };
        concord_manager::init(&InitOptions {
            dir: c.dir.clone(),
            name: c.name.clone(),
            admin_user: ADMIN.into(),
            admin_password: password.clone(),
            rest_port: c.rest,
            console_port: c.console,
            ports: PortRange {
                first: c.db_port,
                last: c.db_port,
            },
            cert: None,
            ca: None,
            bind: "127.0.0.1".into(),
        })
        .with_context(|| format!("creating {}", c.name))?;
        clusters.push(c);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(async {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut managers = Vec::new();
        for c in &clusters {
            let dir = c.dir.clone();
            let mut rx = stop_rx.clone();
            let (up_tx, up_rx) = tokio::sync::oneshot::channel();
            managers.push(tokio::spawn(async move {
                let stop = async move {
                    let _ = rx.changed().await;
                };
                concord_manager::start(&dir, stop, move |_| {
                    let _ = up_tx.send(());
                })
                .await
            }));
            if up_rx.await.is_err() {
                // The manager ended before it was up: its error says why.
                let done = managers.pop().context("a manager")?;
                done.await??;
                bail!("the manager of {} stopped", c.name);
            }
        }
        let created = {
            let refs: Vec<(ClusterRef, u16)> = clusters
                .iter()
                .map(|c| (reference(c, &password), c.db_port))
                .collect();
            tokio::task::spawn_blocking(move || create(&refs)).await?
        };
        match created {
            Ok(guid) => {
                println!("Concord demo: an active-active database of {n} instances ({guid}).");
                for (i, c) in clusters.iter().enumerate() {
                    println!("  instance {}: redis-cli -p {}", i + 1, c.db_port);
                }
                if n >= 2 {
                    println!(
                        "Try: redis-cli -p {} set key1 123 && redis-cli -p {} get key1",
                        clusters[0].db_port, clusters[1].db_port
                    );
                }
                println!(
                    "Each instance runs under its own cluster manager: REST API on https://127.0.0.1:{} (and up), user {ADMIN}, password {password}.",
                    clusters[0].rest
                );
                println!(
                    "Web console: https://127.0.0.1:{} (and up), same user and password.",
                    clusters[0].console
                );
                println!("Press Ctrl-C to stop.");
                let _ = tokio::signal::ctrl_c().await;
            }
            Err(e) => eprintln!("creating the database: {e:#}"),
        }
        let _ = stop_tx.send(true);
        for m in managers {
            let _ = m.await;
        }
        Ok::<(), anyhow::Error>(())
    });
    let _ = std::fs::remove_dir_all(&root);
    result?;
    println!("Concord demo stopped.");
    Ok(())
}

fn rand_byte() -> u8 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now()) as u8
}

/// How the demo's clusters reach `c`: its API on loopback, the demo's service account;
/// its certificate is pinned when the database is created.
fn reference(c: &DemoCluster, password: &str) -> ClusterRef {
    ClusterRef {
        name: c.name.clone(),
        url: format!("https://127.0.0.1:{}", c.rest),
        credentials: Credentials {
            username: ADMIN.into(),
            password: password.into(),
        },
        fingerprint: None,
    }
}

/// Creates the database on the first cluster, naming every cluster with its port, and
/// waits for the task; the database's guid.
fn create(clusters: &[(ClusterRef, u16)]) -> Result<String> {
    let mut instances = Vec::new();
    let mut pinned = Vec::new();
    for (c, port) in clusters {
        // The demo made these certificates a moment ago, on this machine.
        let der = certificate_of(&c.url).map_err(anyhow::Error::msg)?;
        let c = ClusterRef {
            fingerprint: Some(fingerprint(&der)),
            ..c.clone()
        };
        instances.push(json!({"cluster": c, "db_config": {"port": port}}));
        pinned.push(c);
    }
    let api = Remote::new(&pinned[0], None).map_err(anyhow::Error::msg)?;
    let body = json!({"name": "demo", "encryption": false, "instances": instances});
    let task = api.post("/v1/crdbs", &body).map_err(anyhow::Error::msg)?;
    let id = task["id"].as_str().context("the answer names no task")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t: Value = api
            .get(&format!("/v1/crdb_tasks/{id}"))
            .map_err(anyhow::Error::msg)?;
        match t["status"].as_str() {
            Some("finished") => {
                return Ok(t["crdb_guid"].as_str().unwrap_or_default().to_string());
            }
            Some("failed" | "canceled") => bail!("{}", t["errors"]),
            _ if Instant::now() > deadline => bail!("the create task did not end in 60 s"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
