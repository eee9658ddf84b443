//! `pricing`: model prices in USD per million tokens, as written in `config.yaml`.
//! The shipped defaults are Anthropic's list prices (reference/anthropic-api.md §7).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Prices of one model in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
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

impl ModelPrice {
    /// A price with Anthropic's cache multipliers: 5-minute write 1.25×, 1-hour write 2×,
    /// read 0.1× the input price.
    pub const fn standard(input: f64, output: f64) -> Self {
        Self {
            input,
            output,
            cache_write_5m: input * 1.25,
            cache_write_1h: input * 2.0,
            cache_read: input * 0.1,
        }
    }

    /// Every price with its key name, for validation messages.
    pub fn fields(&self) -> [(&'static str, f64); 5] {
        [
            ("input", self.input),
            ("output", self.output),
            ("cache_write_5m", self.cache_write_5m),
            ("cache_write_1h", self.cache_write_1h),
            ("cache_read", self.cache_read),
        ]
    }
}

/// `pricing`: a table matched by exact model id, then by the most specific glob, then `default`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PricingConfig {
    /// Price of a model that matches no entry (such requests are counted in a metric).
    pub default: ModelPrice,
    /// Model id or glob (`claude-opus-4-5*`) → price.
    pub models: BTreeMap<String, ModelPrice>,
}

impl Default for PricingConfig {
    fn default() -> Self {
        let opus_45 = ModelPrice::standard(5.0, 25.0);
        let opus_4 = ModelPrice::standard(15.0, 75.0);
        let sonnet_4 = ModelPrice::standard(3.0, 15.0);
        let haiku_45 = ModelPrice::standard(1.0, 5.0);
        let sonnet_5 = ModelPrice::standard(2.0, 10.0);
        let table: [(&str, ModelPrice); 28] = [
            ("claude-opus-5-5*", ModelPrice::standard(4.0, 20.0)),
            ("claude-opus-5*", opus_45),
            (
                "claude-sonnet-5-5*",
                ModelPrice {
                    cache_read: 0.1,
                    ..sonnet_5
                },
            ),
            ("claude-sonnet-5*", sonnet_5),
            ("claude-haiku-5-5*", ModelPrice::standard(0.1, 0.5)),
            (
                "claude-fable-5*",
                ModelPrice {
                    cache_read: 0.25,
                    ..ModelPrice::standard(10.0, 50.0)
                },
            ),
            ("claude-opus-4-8", opus_45),
            ("claude-opus-4-8*", opus_45),
            ("claude-opus-4-7", opus_45),
            ("claude-opus-4-7*", opus_45),
            ("claude-opus-4-6", opus_45),
            ("claude-opus-4-6*", opus_45),
            ("claude-opus-4-5-20251101", opus_45),
            ("claude-opus-4-5*", opus_45),
            ("claude-opus-4-1-20250805", opus_4),
            ("claude-opus-4-1*", opus_4),
            ("claude-opus-4-20250514", opus_4),
            ("claude-sonnet-4-6", sonnet_4),
            ("claude-sonnet-4-6*", sonnet_4),
            ("claude-sonnet-4-5-20250929", sonnet_4),
            ("claude-sonnet-4-5*", sonnet_4),
            ("claude-sonnet-4-20250514", sonnet_4),
            ("claude-3-7-sonnet-20250219", sonnet_4),
            ("claude-haiku-4-5-20251001", haiku_45),
            ("claude-haiku-4-5*", haiku_45),
            ("claude-3-5-haiku-20241022", ModelPrice::standard(0.8, 4.0)),
            ("claude-3-opus-20240229", opus_4),
            (
                "claude-3-haiku-20240307",
                ModelPrice {
                    cache_write_5m: 0.3,
                    cache_write_1h: 0.5,
                    cache_read: 0.03,
                    ..ModelPrice::standard(0.25, 1.25)
                },
            ),
        ];
        Self {
            default: sonnet_4,
            models: table.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        }
    }
}
