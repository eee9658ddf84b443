//! Process layout (SPEC §1; reference/pingora-0.9-notes.md §5): a "core" tokio runtime owns
//! the database, the admin sidecar and background jobs; Pingora runs the front door on its
//! own runtime and returns after a graceful shutdown, when the core runtime finishes up.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::{RunArgs, Server};
use relay_admin::AppState;
use relay_shared::config::{Config, DatabaseConfig};
use relay_shared::db::Db;
use tokio::runtime::Runtime;

use crate::front::FrontDoor;
use crate::health::HealthBook;
use crate::lifecycle::{DrainingShutdown, Lifecycle};
use crate::listener::slots::{self, Slots};
use crate::listener::FrontListener;
use crate::oauth::OAuthRefresher;
use crate::queue::SlotQueues;
use crate::readiness::{monitor_db, Readiness};
use crate::relay::Relay;
use crate::snapshot::SnapshotStore;
use crate::startup::{prepare, Prepared};
use crate::upstream::Upstream;
use pingora::connectors::ConnectorOptions;
use relay_shared::usage_pipeline::UsagePipeline;

/// How often the database is probed for `/ready`.
const DB_PROBE_EVERY: Duration = Duration::from_secs(2);
/// How often the change version is checked (an admin change reaches the relay within this).
const SNAPSHOT_POLL_EVERY: Duration = Duration::from_millis(250);
/// Longest wait for the usage pipeline to flush at shutdown.
const USAGE_FLUSH_TIMEOUT: Duration = Duration::from_secs(15);

fn core_runtime() -> anyhow::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("relay-core")
        .enable_all()
        .build()
        .context("cannot start the core runtime")
}

async fn start_admin(config: &Arc<Config>, prepared: &Prepared) -> anyhow::Result<()> {
    let addr = config.admin_addr();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on admin.listen {addr}"))?;
    let state = AppState::new(
        prepared.db.clone(),
        config.clone(),
        prepared.secrets.clone(),
    );
    tracing::info!(%addr, "admin API listening");
    tokio::spawn(async move {
        if let Err(e) = relay_admin::serve(listener, state, std::future::pending()).await {
            tracing::error!(error = %e, "admin API stopped");
        }
    });
    Ok(())
}

/// `relay serve` (front door + embedded admin when `admin.embedded`) and `relay proxy`
/// (front door only); `source` is re-read on SIGHUP or when it changes.
pub fn run_front_door(
    config: Config,
    with_admin: bool,
    source: crate::reload::Source,
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let core = core_runtime()?;
    let ready = Arc::new(Readiness::default());
    let prepared = core.block_on(prepare(&config))?;
    if with_admin {
        core.block_on(start_admin(&config, &prepared))?;
    }
    ready.set_db(Ok(()));
    core.spawn(monitor_db(
        prepared.db.clone(),
        ready.clone(),
        DB_PROBE_EVERY,
    ));

    let store = Arc::new(SnapshotStore::new(
        prepared.secrets.secret_box.clone(),
        config.relay.anthropic_base_url.clone(),
    ));
    let version = core.block_on(relay_shared::db::settings::change_version(&prepared.db))?;
    core.block_on(store.reload(&prepared.db, version))
        .context("cannot load keys and accounts")?;
    ready.set_snapshot_loaded();
    let limits = core
        .block_on(crate::limits::setup::start(&config, &prepared.db))
        .context("cannot start the key limits")?;
    if let Some(redis) = &limits.redis {
        let redis = redis.clone();
        ready.set_shared(Box::new(move || redis.is_up()));
    }
    core.spawn(store.clone().watch(
        prepared.db.clone(),
        ready.clone(),
        SNAPSHOT_POLL_EVERY,
        limits.wake.clone(),
    ));
    core.spawn(crate::housekeeping::run(
        prepared.db.clone(),
        config.usage.retention_days,
    ));
    // The usage writer gets a connection of its own: its batches go one at a time, and a
    // pool would rotate them over every connection, each preparing (and caching) the same
    // multi-row statements and holding its own page cache.
    let usage_db = core
        .block_on(Db::connect(&DatabaseConfig {
            max_connections: 1,
            min_connections: 1,
            ..config.database.clone()
        }))
        .context("cannot open the usage writer's database connection")?;
    let (sink, pipeline) = {
        let _guard = core.enter();
        UsagePipeline::start(
            usage_db,
            config.usage.clone(),
            config.server.data_dir.clone(),
            config.tz(),
        )
    };

    let data_dir = std::path::absolute(&config.server.data_dir)
        .unwrap_or_else(|_| config.server.data_dir.clone());
    let conf = ServerConf {
        threads: config.server.threads,
        // Draining happens in `DrainingShutdown` before Pingora is told to stop.
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(5),
        upstream_keepalive_pool_size: config.relay.upstream_pool_size,
        pid_file: data_dir.join("relay.pid").display().to_string(),
        upgrade_sock: data_dir.join("relay-upgrade.sock").display().to_string(),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(Opt::default(), conf);
    server.bootstrap();
    let life = Lifecycle::new(ready.clone());
    let connector = ConnectorOptions::from_server_conf(&server.configuration);
    let (health_tx, health_rx) = tokio::sync::mpsc::unbounded_channel();
    core.spawn(crate::health::writer::run(prepared.db.clone(), health_rx));
    let tunables = crate::tunables::shared(&config);
    let health = Arc::new(HealthBook::new(tunables.clone(), health_tx));
    core.spawn(crate::reload::Reloader::new(source, &config, tunables.clone()).run());
    let store_for_probe = store.clone();
    let metrics_store = store.clone();
    let oauth = Arc::new(OAuthRefresher::new(
        prepared.db.clone(),
        prepared.secrets.secret_box.clone(),
        config.auth.oauth.clone(),
        config.health.refresh_before,
        health.clone(),
    ));
    core.spawn(oauth.clone().run(store.clone()));
    let relay = Arc::new(Relay {
        store,
        upstream: Upstream::new(connector, &config.relay),
        tunables: tunables.clone(),
        sink,
        max_body: config.relay.max_body_bytes,
        health: health.clone(),
        limiter: limits.limiter.clone(),
        queues: SlotQueues::default(),
        oauth,
    });
    core.spawn(crate::health::probe::run(
        AppState::new(
            prepared.db.clone(),
            config.clone(),
            prepared.secrets.clone(),
        ),
        store_for_probe,
        health,
        config.health.probe_interval,
        limits.redis.clone(),
    ));
    let front = pingora::proxy::http_proxy(
        &server.configuration,
        FrontDoor::new(
            config.admin_addr(),
            ready,
            relay,
            life.clone(),
            config.server.body_read_timeout,
        ),
    );
    let listen = config.server_addr();
    let listener = crate::listener::bind(listen)
        .with_context(|| format!("cannot listen on server.listen {listen}"))?;
    let (cap, lowered) = slots::fit_to_descriptor_limit(config.server.max_connections);
    if let Some(limit) = lowered {
        tracing::warn!(
            configured = config.server.max_connections,
            used = cap,
            descriptor_limit = limit,
            "server.max_connections lowered to stay below the descriptor limit (raise `ulimit -n`)"
        );
    }
    let slots = Slots::new(cap, config.server.max_connections_per_ip);
    if config.metrics.enabled {
        let shared = limits.limiter.clone();
        let sources = crate::metrics::render::Sources {
            store: metrics_store,
            life: life.clone(),
            pipeline: pipeline.stats(),
            slots: slots.clone(),
            db: prepared.db.clone(),
            // `None` without Redis (the gauge then says 1: nothing to be down).
            shared_up: Some(Box::new(move || shared.shared_up())),
        };
        let scraper = Arc::new(crate::metrics::render::Scraper::new(sources));
        let addr = config.metrics_addr();
        core.block_on(crate::metrics::serve::bind(addr, scraper))
            .with_context(|| format!("cannot listen on metrics.listen {addr}"))?;
    }
    server.add_service(FrontListener::new(
        "front door",
        listener,
        front,
        slots,
        config.server.header_timeout,
        config.server.threads,
    ));
    tracing::info!(%listen, max_connections = cap, "front door listening");
    server.run(RunArgs {
        shutdown_signal: Box::new(DrainingShutdown {
            life,
            grace: config.server.grace_period,
            accept_for: Duration::from_secs(config.server.drain_accept_s),
        }),
    });

    tracing::info!("front door stopped; flushing usage rows");
    let report = core.block_on(pipeline.shutdown(USAGE_FLUSH_TIMEOUT));
    tracing::info!(
        written = report.written,
        spilled = report.spilled,
        "usage rows flushed; closing the database"
    );
    core.block_on(prepared.db.close());
    core.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}

/// `relay admin`: only the admin API, until SIGINT or SIGTERM.
pub fn run_admin_only(config: Config) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let core = core_runtime()?;
    core.block_on(async {
        let prepared = prepare(&config).await?;
        start_admin(&config, &prepared).await?;
        wait_for_signal().await;
        tracing::info!("admin API stopping");
        prepared.db.close().await;
        anyhow::Ok(())
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// `relay migrate`.
pub fn run_migrate(config: &Config) -> anyhow::Result<()> {
    core_runtime()?.block_on(async {
        let db = crate::startup::open_db(config).await?;
        db.close().await;
        println!("migrations applied");
        anyhow::Ok(())
    })
}

/// `relay reset-admin-password`.
pub fn run_reset_admin_password(config: &Config) -> anyhow::Result<()> {
    core_runtime()?.block_on(crate::startup::reset_admin_password(config))
}
