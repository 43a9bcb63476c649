//! `concord cluster init|start`: create and run the manager of a participating cluster.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use concord_manager::{InitOptions, PortRange};
use sd_notify::NotifyState;
use std::path::PathBuf;

/// What `concord cluster` does.
#[derive(Subcommand)]
pub enum ClusterCmd {
    /// Create a cluster: its state, its REST API certificate and its first Admin user.
    Init(InitArgs),
    /// Run the cluster's manager (the REST API) until stopped.
    Start(StartArgs),
}

/// `concord cluster init`.
#[derive(Args)]
pub struct InitArgs {
    /// The cluster's data directory.
    #[arg(long)]
    dir: PathBuf,
    /// The cluster's name: the host name other clusters reach it by.
    #[arg(long)]
    name: String,
    /// The first Admin user (the service account other clusters use).
    #[arg(long)]
    admin_user: String,
    /// Its password (8 to 256 bytes).
    #[arg(long)]
    admin_password: String,
    /// Port of the REST API (HTTPS).
    #[arg(long, default_value_t = 9443)]
    rest_port: u16,
    /// Port of the web console (HTTPS).
    #[arg(long, default_value_t = 8443)]
    console_port: u16,
    /// Ports given to databases.
    #[arg(long, default_value = "10000-19999")]
    ports: PortRange,
    /// Certificate of the REST API (PEM); a self-signed one is made when absent.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Private key of that certificate (PEM).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// The CA that signs other clusters' certificates.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// The address the databases' instances listen on: this host's address (or 0.0.0.0)
    /// for instances and clients on other hosts; give the databases a password then.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
}

/// `concord cluster start`.
#[derive(Args)]
pub struct StartArgs {
    /// The cluster's data directory.
    #[arg(long)]
    dir: PathBuf,
}

/// Runs `concord cluster …`.
pub fn run(cmd: ClusterCmd) -> Result<()> {
    match cmd {
        ClusterCmd::Init(a) => {
            let opts = InitOptions {
                dir: a.dir,
                name: a.name,
                admin_user: a.admin_user,
                admin_password: a.admin_password,
                rest_port: a.rest_port,
                console_port: a.console_port,
                ports: a.ports,
                cert: a.cert.zip(a.key),
                ca: a.ca,
                bind: a.bind,
            };
            let info = concord_manager::init(&opts)
                .with_context(|| format!("creating a cluster in {}", opts.dir.display()))?;
            println!(
                "Cluster {} created in {}; start it with: concord cluster start --dir {}",
                info.name,
                opts.dir.display(),
                opts.dir.display()
            );
            Ok(())
        }
        ClusterCmd::Start(a) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let signalled = crate::stop_signal()?;
                let stop = async {
                    signalled.await;
                    // systemd then shows the unit stopping while the instances finish.
                    notify(&[NotifyState::Stopping]);
                };
                let ready = |info: &concord_manager::ClusterInfo| {
                    let status =
                        format!("cluster {}: REST API on port {}", info.name, info.rest_port);
                    notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
                };
                concord_manager::start(&a.dir, stop, ready)
                    .await
                    .with_context(|| format!("running the cluster in {}", a.dir.display()))
            })
        }
    }
}

/// Tells systemd how the manager is doing when it was started as a `Type=notify` unit
/// (`NOTIFY_SOCKET` set; otherwise nothing is sent). A failure is only logged: the
/// cluster runs the same without it, and systemd's start timeout reports a missed READY.
fn notify(state: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::warn!("notifying systemd of {state:?}: {e}");
    }
}
