//! A MariaDB outage while rows flow (MySQL only: the outage is a TCP forwarder switched off).

use std::net::SocketAddr;

use super::forwarder::Forwarder;
use super::*;
use crate::config::DatabaseConfig;

/// Where the MySQL server of `url` listens.
fn server_addr(url: &str) -> SocketAddr {
    let url = url::Url::parse(url).unwrap();
    let host = url.host_str().unwrap();
    let port = url.port().unwrap_or(3306);
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .unwrap()
        .next()
        .unwrap()
}

#[tokio::test]
async fn rows_recorded_during_a_database_outage_arrive_when_it_returns_without_a_restart() {
    let Some(t) = crate::testing::mysql().await else {
        return;
    };
    let server = server_addr(&t.url);
    let proxy = Forwarder::start(server).await;
    let mut via_proxy = url::Url::parse(&t.url).unwrap();
    via_proxy.set_port(Some(proxy.addr.port())).unwrap();
    let db = Db::connect(&DatabaseConfig {
        url: via_proxy.to_string(),
        max_connections: 4,
        min_connections: 0,
        connect_timeout: Duration::from_secs(1),
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (sink, handle) =
        UsagePipeline::start(db, usage_cfg(10, 20, 25), dir.path().into(), chrono_tz::UTC);
    let stats = handle.stats();
    let rows = records(0..200);

    // Rows flow while the database is up.
    rows[..20].iter().for_each(|r| sink.record(r.clone()));
    eventually(
        Duration::from_secs(10),
        "the first rows are stored",
        || async { stored_rows(&t.db).await == 20 },
    )
    .await;

    // Outage: far more rows than the buffer holds arrive; the oldest spill to disk.
    proxy.cut();
    rows[20..180].iter().for_each(|r| sink.record(r.clone()));
    eventually(
        Duration::from_secs(15),
        "writes fail and rows spill",
        || async { stats.db_failures() > 0 && stats.spilled_rows() >= 100 },
    )
    .await;
    assert!(spill_lines(dir.path()) >= 100);
    assert!(stats.buffered() <= 25 + 10, "memory stays bounded");
    assert!(stored_rows(&t.db).await < 180);

    // The database returns: everything arrives, with no restart, and the file goes away.
    proxy.restore();
    rows[180..].iter().for_each(|r| sink.record(r.clone()));
    eventually(
        Duration::from_secs(30),
        "all 200 rows are stored",
        || async { stored_rows(&t.db).await == 200 },
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "the spill file is gone",
        || async { !spill_file(dir.path()).exists() },
    )
    .await;
    assert_eq!(stats.replayed_rows(), stats.spilled_rows());
    assert_eq!(stats.dropped_rows(), 0);
    assert_stored_exactly(&t.db, &rows).await;

    let report = handle.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report, FlushReport::default());
    assert_stored_exactly(&t.db, &rows).await;
}
