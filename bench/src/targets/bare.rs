//! The bare Pingora 0.9 passthrough proxy: the standard proxy pipeline whose only callback is
//! `upstream_peer`, always the mock. No authentication, no accounting, `threads` workers. It
//! is the framework's limit for the relay.

use std::net::SocketAddr;
use std::path::Path;

use async_trait::async_trait;
use pingora::prelude::HttpPeer;
use pingora::proxy::{ProxyHttp, Session};
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;

/// The passthrough service.
pub struct Bare {
    upstream: SocketAddr,
}

#[async_trait]
impl ProxyHttp for Bare {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut Self::CTX,
    ) -> pingora::Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }
}

/// `relay-bench bare`: serves on `listen`, forwarding to `upstream`, until killed. `dir`
/// holds Pingora's pid file and upgrade socket.
pub fn run(listen: SocketAddr, upstream: SocketAddr, threads: usize, dir: &Path) -> ! {
    let conf = ServerConf {
        threads: threads.max(1),
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        pid_file: dir.join("bare.pid").display().to_string(),
        upgrade_sock: dir.join("bare-upgrade.sock").display().to_string(),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(Opt::default(), conf);
    server.bootstrap();
    let mut svc = pingora::proxy::http_proxy_service(&server.configuration, Bare { upstream });
    svc.add_tcp(&listen.to_string());
    server.add_service(svc);
    println!("bare pingora listening on {listen}, upstream {upstream}");
    server.run_forever()
}
