//! `GET /pricing`: the effective price table in USD per million tokens (SPEC §5): exact model
//! ids, then globs from the most specific, then `default` — listed in the order a model is
//! matched — and, with `?model=`, which entry prices a given model.

use axum::extract::State;
use axum::Json;
use relay_shared::config::ModelPrice;
use relay_shared::pricing::{PriceMatch, PriceTable};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;

/// Prices of one entry, USD per million tokens.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct PriceView {
    /// Uncached input tokens.
    pub input: f64,
    /// Output tokens.
    pub output: f64,
    /// Input tokens written to the 5-minute prompt cache.
    pub cache_write_5m: f64,
    /// Input tokens written to the 1-hour prompt cache.
    pub cache_write_1h: f64,
    /// Input tokens read from the prompt cache.
    pub cache_read: f64,
}

impl From<&ModelPrice> for PriceView {
    fn from(p: &ModelPrice) -> Self {
        Self {
            input: p.input,
            output: p.output,
            cache_write_5m: p.cache_write_5m,
            cache_write_1h: p.cache_write_1h,
            cache_read: p.cache_read,
        }
    }
}

/// One entry of the table.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PriceEntry {
    /// A model id (`exact`) or a glob such as `claude-opus-4-5*` (`glob`).
    pub pattern: String,
    /// `exact` or `glob`.
    #[serde(rename = "match")]
    pub kind: String,
    /// The prices.
    #[serde(flatten)]
    pub price: PriceView,
}

/// How one model is priced.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResolvedPrice {
    /// The model asked about.
    pub model: String,
    /// `exact`, `glob` or `default` (an unknown model: add it to the table).
    pub matched: String,
    /// The entry that matched (null for `default`).
    pub pattern: Option<String>,
    /// The prices.
    #[serde(flatten)]
    pub price: PriceView,
}

/// The price table.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PricingView {
    /// Always `USD`.
    pub currency: String,
    /// Always `per_million_tokens`.
    pub unit: String,
    /// Entries in the order they are tried: exact ids, then globs from the most specific.
    pub models: Vec<PriceEntry>,
    /// The price of a model no entry matches.
    pub default: PriceView,
    /// How `?model=` is priced, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<ResolvedPrice>,
}

/// `?model=`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PricingQuery {
    /// A model id to resolve against the table.
    pub model: Option<String>,
}

/// The effective price table (any signed-in user).
#[utoipa::path(get, path = "/api/v1/pricing", tag = "pricing",
    security(("bearer" = []), ("cookie" = [])),
    params(PricingQuery),
    responses((status = 200, description = "The price table", body = PricingView)))]
pub async fn pricing(
    State(state): State<AppState>,
    _user: CurrentUser,
    ApiQuery(q): ApiQuery<PricingQuery>,
) -> Result<Json<PricingView>, ApiError> {
    let cfg = &state.config.pricing;
    let specificity = |p: &str| p.chars().filter(|&c| c != '*').count();
    let mut entries: Vec<(&String, &ModelPrice)> = cfg.models.iter().collect();
    entries.sort_by(|(a, _), (b, _)| {
        let rank = |p: &str| (p.contains('*'), std::cmp::Reverse(specificity(p)));
        rank(a).cmp(&rank(b)).then_with(|| a.cmp(b))
    });
    let models = entries
        .into_iter()
        .map(|(pattern, price)| PriceEntry {
            pattern: pattern.clone(),
            kind: if pattern.contains('*') {
                "glob"
            } else {
                "exact"
            }
            .into(),
            price: PriceView::from(price),
        })
        .collect();
    let resolved = q.model.filter(|m| !m.trim().is_empty()).map(|model| {
        let (_, how) = PriceTable::from_config(cfg).lookup(&model);
        let (matched, pattern) = match how {
            PriceMatch::Exact => ("exact", Some(model.clone())),
            PriceMatch::Glob(p) => ("glob", Some(p.to_string())),
            PriceMatch::Default => ("default", None),
        };
        let price = pattern
            .as_ref()
            .and_then(|p| cfg.models.get(p))
            .unwrap_or(&cfg.default);
        ResolvedPrice {
            model,
            matched: matched.into(),
            pattern,
            price: PriceView::from(price),
        }
    });
    Ok(Json(PricingView {
        currency: "USD".into(),
        unit: "per_million_tokens".into(),
        models,
        default: PriceView::from(&cfg.default),
        resolved,
    }))
}
