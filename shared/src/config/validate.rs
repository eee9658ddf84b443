//! Checks that go beyond types: addresses, URLs, the time zone, the log filter, ranges.

use std::net::SocketAddr;

use url::Url;

use super::Config;

/// One problem in the configuration, naming its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted key, e.g. `server.listen`.
    pub key: String,
    /// What is wrong and what is allowed, with the offending value.
    pub problem: String,
}

struct Issues(Vec<ConfigIssue>);

impl Issues {
    fn push(&mut self, key: &str, problem: String) {
        self.0.push(ConfigIssue {
            key: key.to_string(),
            problem,
        });
    }

    fn addr(&mut self, key: &str, value: &str) {
        if value.parse::<SocketAddr>().is_err() {
            self.push(
                key,
                format!("`{value}` is not a listen address; expected IP:PORT such as 127.0.0.1:8080 or [::]:8080"),
            );
        }
    }

    fn at_least(&mut self, key: &str, value: u64, min: u64) {
        if value < min {
            self.push(key, format!("`{value}` is too small; the minimum is {min}"));
        }
    }
}

/// Returns every problem of `c`; empty when the configuration is usable.
pub fn validate(c: &Config) -> Vec<ConfigIssue> {
    let mut v = Issues(Vec::new());
    v.addr("server.listen", &c.server.listen);
    v.addr("admin.listen", &c.admin.listen);
    v.addr("metrics.listen", &c.metrics.listen);
    v.at_least("server.threads", c.server.threads as u64, 1);
    v.at_least(
        "server.max_connections",
        c.server.max_connections as u64,
        16,
    );
    v.at_least(
        "server.header_timeout",
        c.server.header_timeout.as_millis() as u64,
        100,
    );
    v.at_least(
        "server.body_read_timeout",
        c.server.body_read_timeout.as_millis() as u64,
        100,
    );
    v.at_least(
        "auth.max_concurrent_hashes",
        c.auth.max_concurrent_hashes as u64,
        1,
    );
    v.at_least("auth.max_failed_logins", c.auth.max_failed_logins.into(), 1);
    v.at_least(
        "auth.max_failed_logins_per_ip",
        c.auth.max_failed_logins_per_ip.into(),
        1,
    );
    for entry in &c.auth.trusted_proxies {
        if !is_ip_or_cidr(entry) {
            v.push(
                "auth.trusted_proxies",
                format!("`{entry}` is not an IP address or a CIDR range; expected e.g. 10.0.0.1, 10.0.0.0/8 or fd00::/8"),
            );
        }
    }
    if c.server.data_dir.as_os_str().is_empty() {
        v.push("server.data_dir", "must not be empty".into());
    }
    database_url(&mut v, &c.database.url);
    v.at_least(
        "database.max_connections",
        c.database.max_connections.into(),
        1,
    );
    if c.database.min_connections > c.database.max_connections {
        v.push(
            "database.min_connections",
            format!(
                "`{}` is larger than database.max_connections ({})",
                c.database.min_connections, c.database.max_connections
            ),
        );
    }
    if !c.redis.url.is_empty() {
        url_with_scheme(&mut v, "redis.url", &c.redis.url, &["redis", "rediss"]);
    }
    if c.redis.lease_ttl < std::time::Duration::from_secs(1) {
        v.push(
            "redis.lease_ttl",
            format!("`{:?}` is too short; the minimum is 1s", c.redis.lease_ttl),
        );
    }
    url_with_scheme(
        &mut v,
        "relay.anthropic_base_url",
        &c.relay.anthropic_base_url,
        &["http", "https"],
    );
    v.at_least("relay.max_body_bytes", c.relay.max_body_bytes, 1024);
    v.at_least("scheduler.max_attempts", c.scheduler.max_attempts.into(), 1);
    v.at_least("health.error_threshold", c.health.error_threshold.into(), 1);
    v.at_least("usage.batch_size", c.usage.batch_size as u64, 1);
    v.at_least("usage.buffer_rows", c.usage.buffer_rows as u64, 1);
    v.at_least("usage.retention_days", c.usage.retention_days.into(), 1);
    for (key, url) in [
        ("auth.oauth.authorize_url", &c.auth.oauth.authorize_url),
        ("auth.oauth.token_url", &c.auth.oauth.token_url),
        ("auth.oauth.redirect_uri", &c.auth.oauth.redirect_uri),
    ] {
        url_with_scheme(&mut v, key, url, &["http", "https"]);
    }
    for origin in &c.admin.cors_allow_origins {
        url_with_scheme(
            &mut v,
            "admin.cors_allow_origins",
            origin,
            &["http", "https"],
        );
    }
    if c.timezone.parse::<chrono_tz::Tz>().is_err() {
        v.push(
            "timezone",
            format!(
                "`{}` is not an IANA time zone; use a name such as Asia/Shanghai or UTC",
                c.timezone
            ),
        );
    }
    if tracing_level_ok(&c.log.level).is_err() {
        v.push(
            "log.level",
            format!(
                "`{}` is not a log filter; use trace, debug, info, warn, error or a filter such as info,relay_proxy=debug",
                c.log.level
            ),
        );
    }
    pricing(&mut v, c);
    v.0
}

fn database_url(v: &mut Issues, url: &str) {
    let key = "database.url";
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() {
            v.push(
                key,
                format!("`{url}` names no file; expected sqlite://path/to/relay.db"),
            );
        }
        return;
    }
    if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        match Url::parse(url) {
            Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) && u.path().len() > 1 => {}
            _ => v.push(
                key,
                format!("`{}` is not a usable MySQL URL; expected mysql://user:password@host:3306/database", redact_url(url)),
            ),
        }
        return;
    }
    v.push(
        key,
        format!(
            "`{}` is not supported; use sqlite://path/to/relay.db or mysql://user:password@host:3306/database",
            redact_url(url)
        ),
    );
}

fn url_with_scheme(v: &mut Issues, key: &str, value: &str, schemes: &[&str]) {
    match Url::parse(value) {
        Ok(u) if schemes.contains(&u.scheme()) && u.host_str().is_some() => {}
        _ => v.push(
            key,
            format!(
                "`{}` is not a valid URL; expected a {} URL",
                redact_url(value),
                schemes.join(" or ")
            ),
        ),
    }
}

fn pricing(v: &mut Issues, c: &Config) {
    let entries = std::iter::once(("pricing.default".to_string(), &c.pricing.default)).chain(
        c.pricing
            .models
            .iter()
            .map(|(model, price)| (format!("pricing.models.{model}"), price)),
    );
    for (key, price) in entries {
        for (field, value) in price.fields() {
            if !value.is_finite() || !(0.0..=100_000.0).contains(&value) {
                v.push(
                    &format!("{key}.{field}"),
                    format!("`{value}` is not a price; expected USD per million tokens between 0 and 100000"),
                );
            }
        }
    }
}

/// `192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`: an address, or an address and a prefix length
/// that fits it.
fn is_ip_or_cidr(entry: &str) -> bool {
    let entry = entry.trim();
    let (addr, prefix) = match entry.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (entry, None),
    };
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match prefix {
        None => true,
        Some(p) => p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u8>().is_ok_and(|n| n <= max),
    }
}

/// Checks a log filter with the same grammar `tracing-subscriber`'s `EnvFilter` accepts for
/// plain directives: `level` or `target=level`, comma-separated.
fn tracing_level_ok(filter: &str) -> Result<(), ()> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    if filter.trim().is_empty() {
        return Err(());
    }
    for directive in filter.split(',') {
        let level = match directive.rsplit_once('=') {
            Some((target, level)) if !target.trim().is_empty() => level,
            Some(_) => return Err(()),
            None => directive,
        };
        if !LEVELS.contains(&level.trim().to_ascii_lowercase().as_str()) {
            return Err(());
        }
    }
    Ok(())
}

/// Replaces the password of a URL (`scheme://user:password@host`) by `***` so it can be shown
/// in a message or a log; works on text that is not a valid URL too.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &authority[..colon],
            &rest[at..]
        ),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::{is_ip_or_cidr, redact_url, validate};
    use crate::config::Config;

    #[test]
    fn trusted_proxies_are_addresses_or_cidr_ranges() {
        for ok in [
            "10.0.0.1",
            "10.0.0.0/8",
            " 192.168.0.0/16",
            "fd00::/8",
            "::1",
            "0.0.0.0/0",
        ] {
            assert!(is_ip_or_cidr(ok), "{ok}");
        }
        for bad in [
            "proxy.local",
            "10.0.0.0/33",
            "fd00::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "",
            "1.2.3",
        ] {
            assert!(!is_ip_or_cidr(bad), "{bad}");
        }
        let mut c = Config::default();
        c.auth.trusted_proxies = vec!["10.0.0.0/8".into(), "nginx".into()];
        let issues = validate(&c);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].key, "auth.trusted_proxies");
        assert!(issues[0].problem.contains("`nginx`"), "{issues:?}");
    }

    #[test]
    fn passwords_are_redacted_even_in_broken_urls() {
        assert_eq!(
            redact_url("mysql://root:pw@db:3306/x"),
            "mysql://root:***@db:3306/x"
        );
        assert_eq!(redact_url("mysql://root:p@w@/"), "mysql://root:***@/");
        assert_eq!(redact_url("mysql://root@db/x"), "mysql://root@db/x");
        assert_eq!(
            redact_url("sqlite://data/relay.db"),
            "sqlite://data/relay.db"
        );
        assert_eq!(
            redact_url("redis://:secret@host:6379"),
            "redis://:***@host:6379"
        );
    }
}
