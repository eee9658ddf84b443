//! Model pricing (SPEC §5), pure: the `pricing` table of `config.yaml` converted once to
//! integer micro-USD per million tokens, looked up by exact model id, then by the most
//! specific glob, then `default`; and the cost of one request in integer micro-USD.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{ModelPrice, PricingConfig};
use crate::glob::glob_match;

/// Prices of one model in micro-USD per million tokens (that is, USD per token × 10¹²).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MicroPrice {
    /// Uncached input tokens.
    pub input: u64,
    /// Output tokens.
    pub output: u64,
    /// Input tokens written to the 5-minute prompt cache.
    pub cache_write_5m: u64,
    /// Input tokens written to the 1-hour prompt cache.
    pub cache_write_1h: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read: u64,
}

impl MicroPrice {
    /// Converts USD per million tokens to micro-USD per million tokens, rounding each price
    /// to the nearest micro-dollar (config validation rejects negative prices; were one to
    /// slip through it would count as 0).
    pub fn from_usd(p: &ModelPrice) -> Self {
        let micro = |usd: f64| (usd * 1e6).round() as u64;
        Self {
            input: micro(p.input),
            output: micro(p.output),
            cache_write_5m: micro(p.cache_write_5m),
            cache_write_1h: micro(p.cache_write_1h),
            cache_read: micro(p.cache_read),
        }
    }
}

/// How [`PriceTable::lookup`] found a model's price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceMatch {
    /// The model id is a key of the table.
    Exact,
    /// The model matched this glob pattern (the most specific one that matched).
    Glob(Arc<str>),
    /// Nothing matched: the `default` price was used (operators should add the model).
    Default,
}

/// The pricing table ready for lookups; build it once per configuration (re)load.
#[derive(Debug, Clone)]
pub struct PriceTable {
    exact: HashMap<String, MicroPrice>,
    /// Glob patterns, most specific first (then by pattern text), so the first match wins.
    globs: Vec<(Arc<str>, MicroPrice)>,
    default: MicroPrice,
}

/// How specific a glob is: its number of non-`*` characters.
fn specificity(pattern: &str) -> usize {
    pattern.chars().filter(|&c| c != '*').count()
}

impl PriceTable {
    /// Converts the configured table: keys without `*` are exact ids, the others globs.
    pub fn from_config(cfg: &PricingConfig) -> Self {
        let mut exact = HashMap::new();
        let mut globs = Vec::new();
        for (pattern, price) in &cfg.models {
            let micro = MicroPrice::from_usd(price);
            if pattern.contains('*') {
                globs.push((Arc::<str>::from(pattern.as_str()), micro));
            } else {
                exact.insert(pattern.clone(), micro);
            }
        }
        globs.sort_by(|(a, _), (b, _)| specificity(b).cmp(&specificity(a)).then_with(|| a.cmp(b)));
        Self {
            exact,
            globs,
            default: MicroPrice::from_usd(&cfg.default),
        }
    }

    /// The price of `model` and how it was found: exact id first, then the most specific
    /// matching glob (most non-`*` characters; ties go to the smaller pattern text), then
    /// `default`. An exact hit allocates nothing.
    pub fn lookup(&self, model: &str) -> (MicroPrice, PriceMatch) {
        if let Some(price) = self.exact.get(model) {
            return (*price, PriceMatch::Exact);
        }
        self.globs
            .iter()
            .find(|(pattern, _)| glob_match(pattern, model))
            .map(|(pattern, price)| (*price, PriceMatch::Glob(Arc::clone(pattern))))
            .unwrap_or((self.default, PriceMatch::Default))
    }

    /// The cost of `tokens` billed as `model`, and how the price was found.
    pub fn cost(&self, model: &str, tokens: &TokenCounts) -> (i64, PriceMatch) {
        let (price, matched) = self.lookup(model);
        (cost_micro_usd(&price, tokens), matched)
    }
}

/// Tokens of one request, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenCounts {
    /// Uncached input tokens.
    pub input: u64,
    /// Output tokens.
    pub output: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read: u64,
    /// Input tokens written to the 5-minute prompt cache.
    pub cache_write_5m: u64,
    /// Input tokens written to the 1-hour prompt cache.
    pub cache_write_1h: u64,
}

/// The cost of `tokens` at `price` in micro-USD: Σ tokens × price (micro-USD per million
/// tokens) divided by one million, rounded half up, all in integer arithmetic. Saturates at
/// `i64::MAX` (unreachable with real token counts).
pub fn cost_micro_usd(price: &MicroPrice, tokens: &TokenCounts) -> i64 {
    let terms = [
        (tokens.input, price.input),
        (tokens.output, price.output),
        (tokens.cache_read, price.cache_read),
        (tokens.cache_write_5m, price.cache_write_5m),
        (tokens.cache_write_1h, price.cache_write_1h),
    ];
    let total = terms.iter().fold(0u128, |sum, &(n, p)| {
        sum.saturating_add(u128::from(n) * u128::from(p))
    });
    i64::try_from(total.saturating_add(500_000) / 1_000_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use super::*;

    fn table(entries: &[(&str, f64)]) -> PriceTable {
        PriceTable::from_config(&PricingConfig {
            default: ModelPrice::standard(100.0, 100.0),
            models: entries
                .iter()
                .map(|&(k, input)| (k.to_string(), ModelPrice::standard(input, input)))
                .collect::<BTreeMap<_, _>>(),
        })
    }

    fn input_price(t: &PriceTable, model: &str) -> (u64, PriceMatch) {
        let (p, m) = t.lookup(model);
        (p.input, m)
    }

    fn glob(p: &str) -> PriceMatch {
        PriceMatch::Glob(Arc::from(p))
    }

    #[test]
    fn an_exact_id_beats_any_glob() {
        let t = table(&[
            ("claude-opus-4-8", 1.0),
            ("claude-opus-4-8*", 2.0),
            ("*", 3.0),
        ]);
        assert_eq!(
            input_price(&t, "claude-opus-4-8"),
            (1_000_000, PriceMatch::Exact)
        );
        assert_eq!(
            input_price(&t, "claude-opus-4-8-20260101"),
            (2_000_000, glob("claude-opus-4-8*"))
        );
    }

    #[test]
    fn the_most_specific_glob_beats_a_general_one() {
        let t = table(&[
            ("claude-*", 1.0),
            ("claude-opus-*", 2.0),
            ("claude-opus-4-5*", 3.0),
            ("*opus*", 4.0),
            ("claude-*-4-5*", 5.0),
        ]);
        assert_eq!(
            input_price(&t, "claude-opus-4-5-20251101"),
            (3_000_000, glob("claude-opus-4-5*"))
        );
        assert_eq!(
            input_price(&t, "claude-opus-4-1"),
            (2_000_000, glob("claude-opus-*"))
        );
        assert_eq!(
            input_price(&t, "claude-haiku-4-5"),
            (5_000_000, glob("claude-*-4-5*"))
        );
        assert_eq!(
            input_price(&t, "claude-haiku-3"),
            (1_000_000, glob("claude-*"))
        );
        assert_eq!(input_price(&t, "my-opus"), (4_000_000, glob("*opus*")));
    }

    #[test]
    fn equally_specific_globs_are_decided_by_pattern_text() {
        // Nine literal characters each; both match, and "claude-o*s" < "claude-op*".
        let forward = table(&[("claude-op*", 1.0), ("claude-o*s", 2.0)]);
        let backward = table(&[("claude-o*s", 2.0), ("claude-op*", 1.0)]);
        for t in [forward, backward] {
            assert_eq!(
                input_price(&t, "claude-opus"),
                (2_000_000, glob("claude-o*s"))
            );
            assert_eq!(
                input_price(&t, "claude-opux"),
                (1_000_000, glob("claude-op*"))
            );
        }
    }

    #[test]
    fn an_unknown_model_falls_back_to_default_and_says_so() {
        let t = table(&[("claude-opus-4-8", 1.0), ("claude-sonnet-*", 2.0)]);
        assert_eq!(input_price(&t, "gpt-9"), (100_000_000, PriceMatch::Default));
        assert_eq!(input_price(&t, ""), (100_000_000, PriceMatch::Default));
    }

    #[test]
    fn usd_prices_convert_to_rounded_micro_usd() {
        let p = MicroPrice::from_usd(&ModelPrice {
            input: 0.8,
            output: 4.0,
            cache_write_5m: 0.1 + 0.2, // 0.30000000000000004
            cache_write_1h: 1.6,
            cache_read: 0.08,
        });
        assert_eq!(
            p,
            MicroPrice {
                input: 800_000,
                output: 4_000_000,
                cache_write_5m: 300_000,
                cache_write_1h: 1_600_000,
                cache_read: 80_000,
            }
        );
    }

    #[test]
    fn the_reference_sonnet_4_5_call_costs_exactly_108_174_micro_usd() {
        let t = PriceTable::from_config(&PricingConfig::default());
        let tokens = TokenCounts {
            input: 8,
            output: 23,
            cache_write_5m: 28_748,
            ..Default::default()
        };
        let (cost, how) = t.cost("claude-sonnet-4-5-20250929", &tokens);
        assert_eq!((cost, how), (108_174, PriceMatch::Exact));
        let (cost, how) = t.cost("claude-sonnet-4-5", &tokens);
        assert_eq!((cost, how), (108_174, glob("claude-sonnet-4-5*")));
    }

    #[test]
    fn one_hour_cache_writes_cost_twice_the_input_price() {
        let t = PriceTable::from_config(&PricingConfig::default());
        let (price, _) = t.lookup("claude-sonnet-4-5-20250929");
        let million = |f: fn(&mut TokenCounts)| {
            let mut c = TokenCounts::default();
            f(&mut c);
            cost_micro_usd(&price, &c)
        };
        assert_eq!(million(|c| c.input = 1_000_000), 3_000_000);
        assert_eq!(million(|c| c.cache_write_1h = 1_000_000), 6_000_000);
        assert_eq!(million(|c| c.cache_write_5m = 1_000_000), 3_750_000);
        assert_eq!(million(|c| c.cache_read = 1_000_000), 300_000);
    }

    #[test]
    fn a_million_output_tokens_of_opus_4_8_cost_25_dollars() {
        let t = PriceTable::from_config(&PricingConfig::default());
        let tokens = TokenCounts {
            output: 1_000_000,
            ..Default::default()
        };
        assert_eq!(
            t.cost("claude-opus-4-8", &tokens),
            (25_000_000, PriceMatch::Exact)
        );
    }

    #[test]
    fn costs_round_half_up_to_the_micro_dollar() {
        let price = MicroPrice {
            input: 3_000_000,
            cache_read: 300_000,
            ..Default::default()
        };
        let cost = |input, cache_read| {
            cost_micro_usd(
                &price,
                &TokenCounts {
                    input,
                    cache_read,
                    ..Default::default()
                },
            )
        };
        assert_eq!(cost(0, 1), 0); // 0.3 µ$
        assert_eq!(cost(0, 2), 1); // 0.6 µ$
        assert_eq!(cost(0, 5), 2); // 1.5 µ$ rounds up
        assert_eq!(cost(1, 0), 3);
        assert_eq!(cost(0, 0), 0);
        let huge = TokenCounts {
            input: u64::MAX,
            output: u64::MAX,
            ..Default::default()
        };
        let max = MicroPrice {
            input: u64::MAX,
            output: u64::MAX,
            ..Default::default()
        };
        assert_eq!(cost_micro_usd(&max, &huge), i64::MAX);
    }
}
