//! Per-account upstream proxies (SPEC §3.8), through the real relay, a real HTTPS upstream
//! signed by a test CA, and real HTTP CONNECT / SOCKS5 proxies on loopback: an account's
//! traffic goes through its proxy only (the upstream sees the proxy's connection), an
//! account without one goes direct, one account's consecutive requests reuse one tunnel and
//! accounts never share one, TLS to the upstream is verified through the tunnel, and a
//! proxy that refuses the credentials fails the attempt with a clear error and no secret.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use common::fixture::wait_rows;
use common::proxies::{Kind, TestProxy};
use common::tls::{TestCa, TlsUpstream};
use common::world::{acct, World};

/// The upstream connections that came from none of `proxies`.
fn direct_peers(upstream: &TlsUpstream, proxies: &[&TestProxy]) -> Vec<SocketAddr> {
    let via: Vec<SocketAddr> = proxies.iter().flat_map(|p| p.outbound()).collect();
    upstream
        .peers()
        .into_iter()
        .filter(|p| !via.contains(p))
        .collect()
}

#[test]
fn an_http_connect_proxy_carries_its_accounts_traffic_over_one_reused_tunnel() {
    let ca = TestCa::new("Relay Test CA");
    let upstream = TlsUpstream::start(&ca);
    let proxy = TestProxy::start(Kind::Http, Some(("relay", "pa:ss@w0rd-7f3k")), None);
    let w = World::start(
        &[&ca],
        vec![
            acct("proxied", "claude-proxied", &upstream)
                .via(proxy.url("http", Some("relay:pa%3Ass%40w0rd-7f3k"))),
            acct("direct", "claude-direct", &upstream),
            acct("unusable", "claude-unusable", &upstream)
                .via("ftp://u:topsecret-9q2z@127.0.0.1:1".into()),
        ],
    );

    for _ in 0..4 {
        let (status, body) = w.post("claude-proxied");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("through the tunnel"), "{body}");
        assert_eq!(w.post("claude-direct").0, 200);
    }

    assert_eq!(proxy.tunnels(), 1, "four requests, one tunnel");
    assert_eq!(proxy.refused(), 0, "the credentials were accepted");
    assert_eq!(proxy.targets(), [format!("localhost:{}", upstream.port)]);
    assert_eq!(upstream.served.load(Ordering::SeqCst), 8);
    let peers = upstream.peers();
    assert_eq!(
        peers.len(),
        2,
        "one tunnel and one direct connection: {peers:?}"
    );
    assert!(
        peers.contains(&proxy.outbound()[0]),
        "the upstream saw the proxy's connection"
    );
    assert_eq!(
        direct_peers(&upstream, &[&proxy]).len(),
        1,
        "the other account went direct"
    );
    let (up, down) = proxy.bytes();
    assert!(
        up > 4 * 40 && down > 4 * 300,
        "bytes relayed: {up} up, {down} down"
    );

    // The account whose proxy URL is unusable is left out of the pool, named by id only.
    let (status, body) = w.post("claude-unusable");
    assert_eq!(status, 403, "{body}");
    let log = w.relay.stderr();
    let id = w.id("unusable");
    assert!(
        log.lines()
            .any(|l| l.contains("left out of the pool") && l.contains(&format!("account_id={id}"))),
        "{log}"
    );
    w.assert_log_free_of(&["topsecret-9q2z", "pa:ss@w0rd-7f3k", "w0rd-7f3k"]);
}

#[test]
fn socks5_proxies_keep_one_tunnel_per_account_and_socks5h_leaves_dns_to_the_proxy() {
    let ca = TestCa::new("Relay Test CA");
    let upstream = TlsUpstream::start(&ca);
    let remote_dns = TestProxy::start(Kind::Socks5, Some(("relay", "s0cks-pass-4e1")), None);
    let local_dns = TestProxy::start(Kind::Socks5, None, None);
    let shared_url = remote_dns.url("socks5h", Some("relay:s0cks-pass-4e1"));
    let w = World::start(
        &[&ca],
        vec![
            acct("first", "claude-first", &upstream).via(shared_url.clone()),
            acct("second", "claude-second", &upstream).via(shared_url),
            acct("local", "claude-local", &upstream).via(local_dns.url("socks5", None)),
            acct("direct", "claude-direct", &upstream),
        ],
    );

    for _ in 0..3 {
        for model in [
            "claude-first",
            "claude-second",
            "claude-local",
            "claude-direct",
        ] {
            let (status, body) = w.post(model);
            assert_eq!(status, 200, "{model}: {body}");
        }
    }

    assert_eq!(
        remote_dns.tunnels(),
        2,
        "two accounts on one proxy: a tunnel each, each reused"
    );
    assert_eq!(local_dns.tunnels(), 1);
    let port = upstream.port;
    assert_eq!(
        remote_dns.targets(),
        [format!("localhost:{port}"), format!("localhost:{port}")]
    );
    assert_eq!(
        local_dns.targets(),
        [format!("127.0.0.1:{port}")],
        "socks5: resolved here"
    );
    assert_eq!(upstream.served.load(Ordering::SeqCst), 12);
    let peers = upstream.peers();
    assert_eq!(peers.len(), 4, "{peers:?}");
    for p in remote_dns.outbound().iter().chain(&local_dns.outbound()) {
        assert!(
            peers.contains(p),
            "the upstream saw the proxy's connection {p}"
        );
    }
    assert_eq!(direct_peers(&upstream, &[&remote_dns, &local_dns]).len(), 1);
    assert!(remote_dns.bytes().1 > 0 && local_dns.bytes().1 > 0);
    w.assert_log_free_of(&["s0cks-pass-4e1"]);
}

#[test]
fn an_https_proxy_tunnels_over_verified_tls_and_its_tunnel_is_reused() {
    let ca = TestCa::new("Relay Test CA");
    let rogue = TestCa::new("Unknown CA");
    let upstream = TlsUpstream::start(&ca);
    let proxy = TestProxy::start(
        Kind::Https,
        Some(("relay", "tls-pass-8c2")),
        Some(ca.acceptor("localhost")),
    );
    let untrusted = TestProxy::start(Kind::Https, None, Some(rogue.acceptor("localhost")));
    let w = World::start(
        &[&ca],
        vec![
            acct("tls-proxy", "claude-a", &upstream)
                .via(proxy.url("https", Some("relay:tls-pass-8c2"))),
            acct("untrusted-proxy", "claude-b", &upstream).via(untrusted.url("https", None)),
        ],
    );

    for _ in 0..4 {
        let (status, body) = w.post("claude-a");
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(proxy.tunnels(), 1, "four requests, one tunnel over TLS");
    assert_eq!(
        upstream.peers(),
        proxy.outbound(),
        "every upstream connection came from the proxy"
    );
    assert_eq!(upstream.served.load(Ordering::SeqCst), 4);

    let (status, body) = w.post("claude-b");
    assert_eq!(status, 529, "{body}");
    assert!(
        body.contains("the account's proxy could not be reached"),
        "{body}"
    );
    assert_eq!(
        untrusted.tunnels(),
        0,
        "no CONNECT over an unverified TLS session"
    );
    w.assert_log_free_of(&["tls-pass-8c2"]);
}

#[test]
fn tls_to_the_upstream_through_a_tunnel_is_verified() {
    let ca = TestCa::new("Relay Test CA");
    let rogue_ca = TestCa::new("Unknown CA");
    let good = TlsUpstream::start(&ca);
    let rogue = TlsUpstream::start(&rogue_ca);
    let http = TestProxy::start(Kind::Http, None, None);
    let socks = TestProxy::start(Kind::Socks5, None, None);
    let w = World::start(
        &[&ca],
        vec![
            acct("good-http", "claude-gh", &good).via(http.url("http", None)),
            acct("rogue-http", "claude-rh", &rogue).via(http.url("http", None)),
            acct("good-socks", "claude-gs", &good).via(socks.url("socks5h", None)),
            acct("rogue-socks", "claude-rs", &rogue).via(socks.url("socks5h", None)),
        ],
    );

    assert_eq!(w.post("claude-gh").0, 200);
    assert_eq!(w.post("claude-gs").0, 200);
    for model in ["claude-rh", "claude-rs"] {
        let (status, body) = w.post(model);
        assert_eq!(status, 529, "{model}: {body}");
        assert!(
            body.contains("the connection to the upstream failed"),
            "{body}"
        );
    }
    assert_eq!(good.served.load(Ordering::SeqCst), 2);
    assert_eq!(
        rogue.served.load(Ordering::SeqCst),
        0,
        "nothing sent over an unverified session"
    );
    assert_eq!(rogue.handshakes.load(Ordering::SeqCst), 0);
    let rogue_peers = rogue.peers();
    assert_eq!(
        rogue_peers.len(),
        2,
        "each proxy reached the rogue upstream: {rogue_peers:?}"
    );
    let via: Vec<SocketAddr> = http
        .outbound()
        .into_iter()
        .chain(socks.outbound())
        .collect();
    assert!(
        rogue_peers.iter().all(|p| via.contains(p)),
        "the certificate was refused inside the tunnels"
    );
}

#[test]
fn a_refused_proxy_login_fails_the_attempt_over_or_answers_529_with_a_clear_row() {
    let ca = TestCa::new("Relay Test CA");
    let upstream = TlsUpstream::start(&ca);
    let http = TestProxy::start(Kind::Http, Some(("relay", "right-pass")), None);
    let socks = TestProxy::start(Kind::Socks5, Some(("relay", "right-pass")), None);
    let w = World::start(
        &[&ca],
        vec![
            acct("bad-http", "claude-w", &upstream)
                .via(http.url("http", Some("relay:wr0ng-pass-5d9")))
                .priority(1),
            acct("fallback", "claude-w", &upstream).priority(2),
            acct("bad-socks", "claude-s", &upstream)
                .via(socks.url("socks5", Some("relay:wr0ng-pass-5d9"))),
        ],
    );

    // Through the HTTP proxy: 407, then the next account serves.
    let (status, body) = w.post("claude-w");
    assert_eq!(status, 200, "{body}");
    assert_eq!((http.refused(), http.tunnels()), (1, 0));
    let rows = wait_rows(&w.rt, &w.db.db, 1);
    let r = &rows[0].record;
    assert_eq!((r.attempts, r.account_id), (2, Some(w.id("fallback"))));
    let why = w.last_error("bad-http");
    assert!(
        why.contains("refused the credentials") && why.contains("407"),
        "{why}"
    );

    // Through the SOCKS5 proxy, with no other account: 529 saying why, and a row that says so.
    let (status, body) = w.post("claude-s");
    assert_eq!(status, 529, "{body}");
    assert!(
        body.contains("the account's proxy refused its credentials"),
        "{body}"
    );
    assert_eq!((socks.refused(), socks.tunnels()), (1, 0));
    let rows = wait_rows(&w.rt, &w.db.db, 2);
    let r = &rows[0].record;
    assert_eq!(
        (r.status_code, r.account_id, r.attempts, r.outcome.as_str()),
        (529, Some(w.id("bad-socks")), 1, "upstream_error")
    );
    let why = w.last_error("bad-socks");
    assert!(why.contains("refused the credentials"), "{why}");
    for e in [&why, &w.last_error("bad-http")] {
        assert!(!e.contains("wr0ng-pass-5d9"), "{e}");
    }
    w.assert_log_free_of(&["wr0ng-pass-5d9", "right-pass"]);
}
