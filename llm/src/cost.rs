//! Token usage of one call and its price from the backbone's price table.
//!
//! Prices are dollars per million tokens; prompt tokens the server reports as cached use
//! the cached price when one is given.

use herd_core::config::PriceConfig;
use serde::{Deserialize, Serialize};

/// Token usage as the server (or the local model) counted it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Prompt tokens served from the provider's prompt cache (a part of `prompt_tokens`).
    pub cached_prompt_tokens: u64,
}

/// The price of `usage` in US dollars.
pub fn price_usage(usage: &Usage, price: &PriceConfig) -> f64 {
    let cached = usage.cached_prompt_tokens.min(usage.prompt_tokens);
    let uncached = usage.prompt_tokens - cached;
    let cached_price = price
        .cached_prompt_per_mtok
        .unwrap_or(price.prompt_per_mtok);
    (uncached as f64 * price.prompt_per_mtok
        + cached as f64 * cached_price
        + usage.completion_tokens as f64 * price.completion_per_mtok)
        / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_cached_prompt_tokens_apart() {
        let price = PriceConfig {
            prompt_per_mtok: 2.0,
            completion_per_mtok: 8.0,
            cached_prompt_per_mtok: Some(0.5),
        };
        let u = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 500_000,
            cached_prompt_tokens: 400_000,
        };
        let got = price_usage(&u, &price);
        assert!(
            (got - (0.6 * 2.0 + 0.4 * 0.5 + 0.5 * 8.0)).abs() < 1e-12,
            "{got}"
        );
    }

    #[test]
    fn cached_price_defaults_to_prompt_price() {
        let price = PriceConfig {
            prompt_per_mtok: 3.0,
            completion_per_mtok: 0.0,
            cached_prompt_per_mtok: None,
        };
        let u = Usage {
            prompt_tokens: 2_000,
            completion_tokens: 0,
            cached_prompt_tokens: 1_000,
        };
        assert!((price_usage(&u, &price) - 0.006).abs() < 1e-12);
    }
}
