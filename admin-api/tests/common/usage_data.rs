//! Usage rows for the tests, written through `relay_shared::db::usage::insert_batch` like the
//! relay's pipeline writes them, and sums computed from them independently of the API.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use relay_shared::db::usage::UsageRecord;
use serde_json::Value;

/// Models the generated rows use.
pub const MODELS: [&str; 3] = ["claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5"];

/// Who made a generated request.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    /// Owner of the key.
    pub user_id: i64,
    /// The key.
    pub api_key_id: i64,
    /// Its group.
    pub group_id: i64,
}

/// Row number `i` of a test data set: `owner`'s request at `created_at` on `account`, with
/// numbers that vary with `i` (model, outcome, tokens, cost).
pub fn record(i: i64, owner: Owner, account: Option<i64>, created_at: i64) -> UsageRecord {
    let (outcome, status, error) = match i % 9 {
        4 => ("upstream_error", 529, Some("overloaded_error".to_string())),
        7 => ("client_closed", 499, None),
        8 => ("relay_error", 429, Some("rate_limit_error".to_string())),
        _ => ("ok", 200, None),
    };
    let model = MODELS[(i as usize / 2) % 3];
    UsageRecord {
        request_id: format!("req-{}-{i:06}", owner.api_key_id),
        row_key: relay_shared::db::usage::new_row_key(),
        created_at,
        user_id: owner.user_id,
        api_key_id: owner.api_key_id,
        group_id: owner.group_id,
        account_id: account,
        attempts: 1 + i % 2,
        route_reason: "priority".into(),
        sticky: i % 3 == 0,
        model: model.into(),
        upstream_model: format!("{model}-20250929"),
        stream: i % 2 == 0,
        status_code: status,
        outcome: outcome.into(),
        error_type: error,
        input_tokens: 100 + i * 7,
        output_tokens: 20 + (i % 50) * 3,
        cache_read_input_tokens: (i % 11) * 1000,
        cache_creation_5m_input_tokens: (i % 3) * 130,
        cache_creation_1h_input_tokens: (i % 4) * 170,
        cost_micro_usd: 1_000 + (i % 97) * 137,
        duration_ms: 500 + i,
        ttfb_ms: (i % 2 == 0).then_some(100 + i % 100),
        client_ip: "10.9.8.7".into(),
        user_agent: "claude-cli/2.0.0 (external, cli)".into(),
        journal_seq: 0,
    }
}

/// The sums of `rows` in the API's field names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    /// Requests.
    pub requests: i64,
    /// Outcome not `ok`.
    pub errors: i64,
    /// Input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Cache reads.
    pub cache_read_input_tokens: i64,
    /// 5-minute cache writes.
    pub cache_creation_5m_input_tokens: i64,
    /// 1-hour cache writes.
    pub cache_creation_1h_input_tokens: i64,
    /// Cost.
    pub cost_micro_usd: i64,
}

impl Sums {
    /// Sums `rows`.
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a UsageRecord>) -> Self {
        let mut s = Self::default();
        for r in rows {
            s.requests += 1;
            s.errors += i64::from(r.outcome != "ok");
            s.input_tokens += r.input_tokens;
            s.output_tokens += r.output_tokens;
            s.cache_read_input_tokens += r.cache_read_input_tokens;
            s.cache_creation_5m_input_tokens += r.cache_creation_5m_input_tokens;
            s.cache_creation_1h_input_tokens += r.cache_creation_1h_input_tokens;
            s.cost_micro_usd += r.cost_micro_usd;
        }
        s
    }

    /// Asserts that the JSON object `v` carries these sums (and the derived fields).
    #[track_caller]
    pub fn assert_in(&self, v: &Value, what: &str) {
        let n = |k: &str| {
            v[k].as_i64()
                .unwrap_or_else(|| panic!("{what}: no {k} in {v}"))
        };
        let got = Sums {
            requests: n("requests"),
            errors: n("errors"),
            input_tokens: n("input_tokens"),
            output_tokens: n("output_tokens"),
            cache_read_input_tokens: n("cache_read_input_tokens"),
            cache_creation_5m_input_tokens: n("cache_creation_5m_input_tokens"),
            cache_creation_1h_input_tokens: n("cache_creation_1h_input_tokens"),
            cost_micro_usd: n("cost_micro_usd"),
        };
        assert_eq!(got, *self, "{what}");
        let cache = self.cache_creation_5m_input_tokens + self.cache_creation_1h_input_tokens;
        assert_eq!(n("cache_creation_input_tokens"), cache, "{what}");
        assert_eq!(
            n("total_tokens"),
            self.input_tokens + self.output_tokens + self.cache_read_input_tokens + cache,
            "{what}"
        );
        let usd = v["cost_usd"].as_f64().unwrap();
        assert!(
            (usd - self.cost_micro_usd as f64 / 1e6).abs() < 1e-9,
            "{what}: cost_usd {usd}"
        );
    }
}
