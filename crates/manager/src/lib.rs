//! The manager of one participating cluster (`concord cluster`): it keeps the cluster's
//! state durably in its data directory, holds the users who may manage it, serves the
//! REST API over HTTPS, and (in later steps) starts and supervises the `concord server`
//! instances of the databases it hosts and coordinates with other clusters' managers.
//!
//! It never links the engine: instances are driven through their client protocol and
//! process control, so the data path can change without touching the manager.

#![warn(missing_docs)]

pub mod api;
mod certs;
mod command;
pub mod console;
pub mod coordinate;
pub mod dbtls;
mod instance;
pub mod membership;
pub mod migrate;
pub mod model;
pub mod remote;
pub mod resume;
pub mod state;
pub mod supervisor;
pub mod tasks;
pub mod users;

pub use state::{ClusterInfo, PortRange, Store, StoreError};
pub use users::{Role, User};

use std::path::{Path, PathBuf};

/// The file holding the cluster's state inside its directory.
pub const STATE_FILE: &str = "cluster.redb";

/// What `concord cluster init` was given.
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// The cluster's data directory (created if missing; must not hold a cluster yet).
    pub dir: PathBuf,
    /// The cluster's name, a fully qualified domain name other clusters reach it by.
    pub name: String,
    /// The first Admin user (the service account other clusters use).
    pub admin_user: String,
    /// Its password.
    pub admin_password: String,
    /// The port of the REST API (HTTPS).
    pub rest_port: u16,
    /// The port of the web console (HTTPS).
    pub console_port: u16,
    /// The ports databases are given.
    pub ports: PortRange,
    /// A certificate and key (PEM) for the API; a self-signed pair is made when absent.
    pub cert: Option<(PathBuf, PathBuf)>,
    /// The CA that signs other clusters' certificates, if they are not pinned.
    pub ca: Option<PathBuf>,
    /// The address the databases' instances listen on (`127.0.0.1`: this host only).
    pub bind: String,
}

/// Why a cluster could not be created or started.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A certificate or key is not usable.
    #[error("certificate: {0}")]
    Certificate(String),
    /// An option is not acceptable.
    #[error("{0}")]
    Invalid(String),
}

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> ManagerError + '_ {
    move |source| ManagerError::File {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates a cluster in `opts.dir`: its state, its API certificate and its first Admin.
/// Refuses a directory that already holds a cluster.
pub fn init(opts: &InitOptions) -> Result<ClusterInfo, ManagerError> {
    users::check_name(&opts.admin_user).map_err(ManagerError::Invalid)?;
    users::check_password(&opts.admin_password).map_err(ManagerError::Invalid)?;
    if opts.name.is_empty() || opts.name.len() > 253 || opts.name.contains(char::is_whitespace) {
        return Err(ManagerError::Invalid(format!(
            "cluster name {:?} is not a host name",
            opts.name
        )));
    }
    if opts.ports.first > opts.ports.last {
        return Err(ManagerError::Invalid(format!(
            "port range {} is empty",
            opts.ports
        )));
    }
    if opts.console_port == opts.rest_port {
        return Err(ManagerError::Invalid(format!(
            "the console and the REST API need ports of their own (both {})",
            opts.rest_port
        )));
    }
    for (what, port) in [("REST", opts.rest_port), ("console", opts.console_port)] {
        if (opts.ports.first..=opts.ports.last).contains(&port) {
            return Err(ManagerError::Invalid(format!(
                "the {what} port {port} is inside the databases' port range {}",
                opts.ports
            )));
        }
    }
    // Everything given is checked before anything is written.
    if let Some(ca) = &opts.ca {
        certs::load_roots(ca)?;
    }
    if let Some((c, k)) = &opts.cert {
        certs::load_server_config(c, k)?;
    }
    if !opts.dir.exists() {
        // A directory made here is its owner's only (one given is left as it is).
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&opts.dir)
            .map_err(file_error(&opts.dir))?;
    }
    // Paths are kept absolute: `start` may run from another directory.
    let absolute = |p: &Path| std::fs::canonicalize(p).map_err(file_error(p));
    let dir = absolute(&opts.dir)?;
    let state = dir.join(STATE_FILE);
    if state.exists() {
        return Err(ManagerError::Invalid(format!(
            "{} already holds a cluster",
            opts.dir.display()
        )));
    }
    let (cert, key) = match &opts.cert {
        Some((c, k)) => (absolute(c)?, absolute(k)?),
        None => certs::self_signed(&dir, &opts.name, &opts.bind)?,
    };
    let ca = opts.ca.as_deref().map(absolute).transpose()?;
    let info = ClusterInfo {
        name: opts.name.clone(),
        rest_port: opts.rest_port,
        console_port: opts.console_port,
        ports: opts.ports,
        cert,
        key,
        ca,
        bind: opts.bind.clone(),
    };
    let admin = User::new(1, &opts.admin_user, Role::Admin, &opts.admin_password)
        .map_err(ManagerError::Invalid)?;
    Store::create(&state, &info, &admin)?;
    Ok(info)
}

/// Runs the cluster in `dir` until `stop` resolves: opens its state, starts its
/// databases' instances and serves the REST API; then stops the instances cleanly.
/// `ready` is called once the API is listening and the instances are started, so a
/// service manager can be told the cluster is up (the caller decides how).
pub async fn start(
    dir: &Path,
    stop: impl std::future::Future<Output = ()>,
    ready: impl FnOnce(&ClusterInfo),
) -> Result<(), ManagerError> {
    let store = Store::open(&dir.join(STATE_FILE))?;
    let info = store.cluster()?;
    let tls = certs::load_server_config(&info.cert, &info.key)?;
    let addr = std::net::SocketAddr::from(([0, 0, 0, 0], info.rest_port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| ManagerError::Invalid(format!("REST port {}: {e}", info.rest_port)))?;
    tracing::info!(cluster = %info.name, port = info.rest_port, "REST API listening (HTTPS)");
    let console_addr = std::net::SocketAddr::from(([0, 0, 0, 0], info.console_port));
    // A cluster made before the console existed may share its console port with another
    // on the same host: the API (what scripts and other clusters need) runs regardless.
    let console = match tokio::net::TcpListener::bind(console_addr).await {
        Ok(l) => {
            tracing::info!(port = info.console_port, "web console listening (HTTPS)");
            Some(l)
        }
        Err(e) => {
            tracing::error!(
                port = info.console_port,
                "the web console is not served: {e} (give the cluster a free console port)"
            );
            None
        }
    };
    let exe = std::env::current_exe()
        .map_err(|e| ManagerError::Invalid(format!("finding the concord binary: {e}")))?;
    let supervisor = std::sync::Arc::new(supervisor::Supervisor::new(exe, dir, &info.bind));
    supervisor.sync(&store)?;
    let watch = std::sync::Arc::clone(&supervisor);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(supervisor::CHECK_EVERY).await;
            watch.check();
        }
    });
    let state = std::sync::Arc::new(api::AppState {
        name: info.name.clone(),
        ca: info.ca.clone(),
        store,
        creds: api::CredentialCache::new(),
        supervisor: std::sync::Arc::clone(&supervisor),
        tasks: std::sync::Arc::default(),
        sessions: api::session::Sessions::default(),
    });
    resume::interrupted(std::sync::Arc::clone(&state)).await?;
    // The listener is bound: connections wait in its backlog until `serve` accepts
    // them, so the API is up already.
    ready(&info);
    let api = api::router(std::sync::Arc::clone(&state));
    let site = async {
        match console {
            Some(l) => api::serve(l, tls.clone(), console::router(state)).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = api::serve(listener, std::sync::Arc::clone(&tls), api) => {}
        () = site => {}
        () = stop => {}
    }
    tracing::info!("stopping the instances");
    supervisor
        .stop_all(std::time::Duration::from_secs(20))
        .await;
    Ok(())
}
