//! A scrape: the recorder's counters with names put on the ids (accounts from the snapshot,
//! groups from the database), plus the gauges read from their owners at this moment, in the
//! Prometheus text format (`prometheus::TextEncoder`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus::proto::{MetricFamily, MetricType};
use relay_shared::db::{groups, settings, Db, Page};
use relay_shared::usage_pipeline::PipelineStats;

use super::encode::{class_label, counter, family, gauge, histograms, load, metric, values};
use super::{recorder, Recorder};
use crate::lifecycle::Lifecycle;
use crate::listener::slots::{self, Slots};
use crate::snapshot::SnapshotStore;

/// Whether the shared store (Redis) answers: `None` when none is configured.
pub type SharedUp = Box<dyn Fn() -> Option<bool> + Send + Sync>;

/// Where the scrape-time numbers come from.
pub struct Sources {
    /// Accounts and their live health.
    pub store: Arc<SnapshotStore>,
    /// Requests in flight.
    pub life: Arc<Lifecycle>,
    /// The usage pipeline's numbers.
    pub pipeline: Arc<PipelineStats>,
    /// The front door's connection slots.
    pub slots: Arc<Slots>,
    /// The database: group names and the change version.
    pub db: Db,
    /// Redis health, supplied by the shared limiter when Redis is configured.
    pub shared_up: Option<SharedUp>,
}

/// Sources plus what a scrape remembers between scrapes.
pub struct Scraper {
    sources: Sources,
    /// Group names of the last successful read.
    groups: Mutex<HashMap<i64, String>>,
    /// When the snapshot was last seen at the database's change version.
    confirmed: Mutex<Instant>,
}

impl Scraper {
    /// A scraper over `sources`.
    pub fn new(sources: Sources) -> Self {
        Self {
            sources,
            groups: Mutex::new(HashMap::new()),
            confirmed: Mutex::new(Instant::now()),
        }
    }

    async fn refresh(&self) {
        let page = Page {
            page: 1,
            page_size: 10_000,
        };
        if let Ok((rows, _)) = groups::list(&self.sources.db, page).await {
            let names = rows.into_iter().map(|g| (g.id, g.name)).collect();
            *self.groups.lock().unwrap_or_else(|e| e.into_inner()) = names;
        }
        let snap = self.sources.store.load();
        if let Ok(v) = settings::change_version(&self.sources.db).await {
            if v == snap.version {
                *self.confirmed.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
            }
        }
    }

    /// The text of one scrape.
    pub async fn scrape(&self) -> String {
        self.refresh().await;
        let mut families = self.families(recorder());
        // A family with no label set yet has nothing to say (and the encoder refuses it).
        families.retain(|f| !f.get_metric().is_empty());
        prometheus::TextEncoder::new()
            .encode_to_string(&families)
            .unwrap_or_else(|e| format!("# encoding failed: {e}\n"))
    }

    fn families(&self, r: &Recorder) -> Vec<MetricFamily> {
        let groups = self
            .groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let group = |id: i64| match groups.get(&id) {
            Some(n) => n.clone(),
            None if id == 0 => String::new(),
            None => format!("group-{id}"),
        };
        let snap = self.sources.store.load();
        let names: HashMap<i64, String> = snap.accounts().map(|a| (a.id, a.name.clone())).collect();
        let account = |id: i64| match names.get(&id) {
            Some(n) => n.clone(),
            None if id == 0 => "other".to_string(),
            None => format!("account-{id}"),
        };
        let mut out = Vec::new();
        let requests = r.requests.entries().into_iter().map(|((c, m, g, o), v)| {
            let labels = vec![
                ("status_class", class_label(c)),
                ("model", m),
                ("group", group(g)),
                ("outcome", o.to_string()),
            ];
            (labels, load(&v))
        });
        out.push(counter(
            "relay_requests_total",
            "Relay requests by status class, model, group and outcome.",
            requests.collect(),
        ));
        let by_model = r.by_model.entries();
        let mut tokens = Vec::new();
        let mut cost = Vec::new();
        for ((m, g), c) in &by_model {
            for (t, v) in [
                ("input", &c.input),
                ("output", &c.output),
                ("cache_read", &c.cache_read),
                ("cache_write_5m", &c.cache_write_5m),
                ("cache_write_1h", &c.cache_write_1h),
            ] {
                tokens.push(((t, m.clone()), load(v)));
            }
            cost.push((
                vec![("model", m.clone()), ("group", group(*g))],
                load(&c.cost_micro_usd),
            ));
        }
        // Tokens are by type and model only: sum the groups.
        let mut summed: HashMap<(&str, String), f64> = HashMap::new();
        for (k, v) in tokens {
            *summed.entry(k).or_default() += v;
        }
        let tokens = summed
            .into_iter()
            .map(|((t, m), v)| (vec![("type", t.to_string()), ("model", m)], v))
            .collect();
        out.push(counter(
            "relay_tokens_total",
            "Tokens billed by type and model.",
            tokens,
        ));
        let by_account = r.by_account.entries();
        let acct_rows = |pick: fn(&super::AccountCounters) -> f64| {
            by_account
                .iter()
                .map(|((a, g), c)| {
                    (
                        vec![("account", account(*a)), ("group", group(*g))],
                        pick(c),
                    )
                })
                .collect::<Vec<_>>()
        };
        out.push(counter(
            "relay_cache_read_tokens_total",
            "Prompt-cache read tokens by account and group.",
            acct_rows(|c| load(&c.cache_read)),
        ));
        out.push(counter(
            "relay_cache_write_tokens_total",
            "Prompt-cache write tokens (5 m and 1 h) by account and group.",
            acct_rows(|c| load(&c.cache_write)),
        ));
        out.push(counter(
            "relay_input_tokens_total",
            "Uncached input tokens by account and group.",
            acct_rows(|c| load(&c.input)),
        ));
        out.push(counter(
            "relay_cost_micro_usd_total",
            "Cost billed, in micro-USD, by model and group.",
            cost,
        ));
        let unpriced = load(&crate::relay::row::UNPRICED_REQUESTS);
        out.push(counter(
            "relay_unpriced_requests_total",
            "Requests billed by pricing.default because their model has no price entry.",
            vec![(vec![], unpriced)],
        ));
        let attempts = r.attempts.entries().into_iter().map(|((a, res), v)| {
            (
                vec![("account", account(a)), ("result", res.to_string())],
                load(&v),
            )
        });
        out.push(counter(
            "relay_upstream_attempts_total",
            "Upstream attempts by account and result.",
            attempts.collect(),
        ));
        let failovers = r
            .failovers
            .entries()
            .into_iter()
            .map(|(g, v)| (vec![("group", group(g))], load(&v)));
        out.push(counter(
            "relay_failovers_total",
            "Attempts on a further account after a failed one, by group.",
            failovers.collect(),
        ));
        out.push(counter(
            "relay_sticky_total",
            "Requests naming a session: served by its pinned account (hit) or not (miss).",
            vec![
                (vec![("result", "hit".to_string())], load(&r.sticky_hit)),
                (vec![("result", "miss".to_string())], load(&r.sticky_miss)),
            ],
        ));
        self.account_gauges(&snap, &mut out);
        out.push(gauge(
            "relay_inflight_requests",
            "Relay requests in flight.",
            vec![(vec![], self.sources.life.inflight() as f64)],
        ));
        out.push(histograms(
            "relay_request_duration_seconds",
            "Request duration, by whether the answer streams.",
            &r.duration,
        ));
        out.push(histograms(
            "relay_ttfb_seconds",
            "Time to the first answer byte, by whether the answer streams.",
            &r.ttfb,
        ));
        let mut m = metric(vec![]);
        m.set_histogram(r.overhead.to_proto());
        out.push(family(
            "relay_overhead_seconds",
            "Time spent in the relay before the answer, excluding upstream wait.",
            MetricType::HISTOGRAM,
            vec![m],
        ));
        self.process_gauges(&mut out);
        out
    }

    fn account_gauges(&self, snap: &crate::snapshot::Snapshot, out: &mut Vec<MetricFamily>) {
        let now = relay_shared::db::now_ms();
        let mut states = Vec::new();
        let mut cooldowns = Vec::new();
        for a in snap.accounts() {
            let h = &a.rt.health;
            let until = h.cooling_until(now);
            let current = if h.errored() {
                "error"
            } else if until.is_some() {
                "cooling"
            } else {
                "active"
            };
            for s in ["active", "cooling", "error"] {
                let v = if s == current { 1.0 } else { 0.0 };
                states.push((
                    vec![("account", a.name.clone()), ("state", s.to_string())],
                    v,
                ));
            }
            let left = until.map_or(0.0, |t| (t - now) as f64 / 1000.0);
            cooldowns.push((vec![("account", a.name.clone())], left));
        }
        out.push(gauge(
            "relay_account_state",
            "1 for the account's current state (active, cooling, error).",
            states,
        ));
        out.push(gauge(
            "relay_account_cooldown_seconds",
            "Seconds left of the account's cooldown (0 when none).",
            cooldowns,
        ));
    }

    fn process_gauges(&self, out: &mut Vec<MetricFamily>) {
        let p = &self.sources.pipeline;
        let one = |v: f64| vec![(Vec::new(), v)];
        let (g, c) = (MetricType::GAUGE, MetricType::COUNTER);
        let single: [(&str, &str, MetricType, u64); 7] = [
            (
                "relay_usage_queue_depth",
                "Usage rows recorded and not yet taken by the writer.",
                g,
                p.queue_depth(),
            ),
            (
                "relay_usage_buffered_rows",
                "Usage rows the writer holds in memory.",
                g,
                p.buffered(),
            ),
            (
                "relay_usage_spilled_rows_total",
                "Usage rows spilled to the file while the database was away.",
                c,
                p.spilled_rows(),
            ),
            (
                "relay_usage_dropped_rows_total",
                "Usage rows lost (must stay 0).",
                c,
                p.dropped_rows(),
            ),
            (
                "relay_usage_dead_letter_rows_total",
                "Usage rows the database refused, set aside in the dead-letter file.",
                c,
                p.dead_letter_rows(),
            ),
            (
                "relay_usage_journal_errors_total",
                "Usage journal I/O failures.",
                c,
                p.journal_errors(),
            ),
            (
                "relay_connections_open",
                "Client connections open on the front door.",
                g,
                self.sources.slots.open() as u64,
            ),
        ];
        for (name, help, kind, v) in single {
            out.push(values(name, help, kind, one(v as f64)));
        }
        out.push(counter(
            "relay_connections_refused_total",
            "Client connections refused: the front door was full, or the IP held its share.",
            vec![
                (
                    vec![("reason", "full".to_string())],
                    load(&slots::REFUSED_FULL),
                ),
                (
                    vec![("reason", "per_ip".to_string())],
                    load(&slots::REFUSED_PER_IP),
                ),
            ],
        ));
        let age = self
            .confirmed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed();
        out.push(gauge(
            "relay_snapshot_age_seconds",
            "Seconds since the in-memory snapshot was last seen current.",
            one(age.as_secs_f64()),
        ));
        let redis = match self.sources.shared_up.as_ref().and_then(|f| f()) {
            Some(up) => vec![(Vec::new(), if up { 1.0 } else { 0.0 })],
            None => one(1.0),
        };
        out.push(gauge(
            "relay_redis_up",
            "1 while the configured Redis answers (always 1 without redis.url).",
            redis,
        ));
        let version = vec![(
            vec![("version", env!("CARGO_PKG_VERSION").to_string())],
            1.0,
        )];
        out.push(gauge(
            "relay_build_info",
            "The relay's version (always 1).",
            version,
        ));
    }
}
