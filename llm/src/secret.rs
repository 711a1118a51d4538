//! The API key of a backbone, kept out of every log, `Debug` output and error message.
//!
//! The key is read once from the environment variable the config names; only its
//! variable name is ever shown.

use std::fmt;

use crate::LlmError;

/// An API key. `Debug` and `Display` print only the name of the variable it came from.
#[derive(Clone)]
pub struct ApiKey {
    env: String,
    value: String,
}

impl ApiKey {
    /// Reads the key from the environment variable `env`.
    pub fn from_env(env: &str) -> Result<Self, LlmError> {
        match std::env::var(env) {
            Ok(v) if !v.trim().is_empty() => Ok(ApiKey {
                env: env.to_string(),
                value: v.trim().to_string(),
            }),
            Ok(_) => Err(LlmError::Config(format!(
                "environment variable `{env}` (api_key_env) is empty; export the API key in it"
            ))),
            Err(_) => Err(LlmError::Config(format!(
                "environment variable `{env}` (api_key_env) is not set; export the API key in it"
            ))),
        }
    }

    /// The variable the key came from (safe to show).
    pub fn env_name(&self) -> &str {
        &self.env
    }

    /// The secret itself; only for building the request header.
    pub(crate) fn expose(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey(${} = <redacted>)", self.env)
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.env)
    }
}

/// Replaces every occurrence of `secret` in `text` (for server messages that echo the key).
pub(crate) fn scrub(text: &str, secret: Option<&ApiKey>) -> String {
    match secret {
        Some(k) if k.value.len() >= 4 && text.contains(&k.value) => {
            text.replace(&k.value, "<redacted>")
        }
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let k = ApiKey {
            env: "X_KEY".into(),
            value: "sk-very-secret".into(),
        };
        assert!(!format!("{k:?}").contains("sk-very-secret"));
        assert!(!format!("{k}").contains("sk-very-secret"));
        assert!(format!("{k:?}").contains("X_KEY"));
        assert_eq!(
            scrub("bad key sk-very-secret!", Some(&k)),
            "bad key <redacted>!"
        );
    }
}
