//! Loading: built-in defaults, then the YAML file, then `RELAY__SECTION__KEY` environment
//! variables; then validation. Every failure names the key, the value and what is allowed.

use std::fmt;
use std::path::Path;

use figment::providers::{Env, Format, Serialized, Yaml};
use figment::Figment;

use super::validate::{validate, ConfigIssue};
use super::Config;

/// Prefix of environment overrides: `RELAY__SERVER__LISTEN=0.0.0.0:9000`.
pub const ENV_PREFIX: &str = "RELAY__";

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named on the command line does not exist.
    #[error("configuration file {0} does not exist")]
    Missing(String),
    /// The file or an environment variable could not be read into the typed structs.
    #[error("{}", join(.0))]
    Parse(Vec<ConfigIssue>),
    /// Values parsed but are not allowed.
    #[error("{}", join(.0))]
    Invalid(Vec<ConfigIssue>),
}

impl ConfigError {
    /// Every problem found, each naming its key.
    pub fn issues(&self) -> &[ConfigIssue] {
        match self {
            Self::Missing(_) => &[],
            Self::Parse(v) | Self::Invalid(v) => v,
        }
    }
}

fn join(issues: &[ConfigIssue]) -> String {
    let lines: Vec<String> = issues.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// Loads the configuration from `path`, applying environment overrides from `env`
/// (normally `std::env::vars()`), and validates it.
///
/// `required` is false only for the implicit default path: a missing `config.yaml` then means
/// "all defaults".
pub fn load(path: &Path, required: bool) -> Result<Config, ConfigError> {
    if !path.exists() && required {
        return Err(ConfigError::Missing(path.display().to_string()));
    }
    let figment = Figment::from(Serialized::defaults(Config::default()))
        .merge(Yaml::file(path))
        .merge(Env::prefixed(ENV_PREFIX).split("__"));
    let config: Config = figment
        .extract()
        .map_err(|e| ConfigError::Parse(e.into_iter().map(issue_from_figment).collect()))?;
    let issues = validate(&config);
    if issues.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Invalid(issues))
    }
}

fn issue_from_figment(e: figment::Error) -> ConfigIssue {
    use figment::error::Kind;
    let mut path = e.path.clone();
    let source = e
        .metadata
        .as_ref()
        .map(|m| match &m.source {
            Some(src) => src.to_string(),
            None => m.name.to_string(),
        })
        .unwrap_or_default();
    let problem = match &e.kind {
        Kind::UnknownField(field, expected) => {
            if path.last() != Some(field) {
                path.push(field.clone());
            }
            format!("unknown key; allowed here: {}", expected.join(", "))
        }
        Kind::UnknownVariant(v, expected) => {
            format!("`{v}` is not allowed; use one of: {}", expected.join(", "))
        }
        Kind::InvalidType(actual, expected) => format!("found {actual}, expected {expected}"),
        Kind::InvalidValue(actual, expected) => {
            format!("invalid value {actual}, expected {expected}")
        }
        other => other.to_string(),
    };
    let key = if path.is_empty() {
        "(file)".to_string()
    } else {
        path.join(".")
    };
    ConfigIssue {
        key,
        problem: if source.is_empty() {
            problem
        } else {
            format!("{problem} (in {source})")
        },
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config key `{}`: {}", self.key, self.problem)
    }
}
