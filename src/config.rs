//! Reading typed settings from the environment.
//!
//! Each binary has its own settings struct and reads it through [`Env`], which
//! collects every missing or malformed variable, so start-up fails once with a
//! message naming all of them instead of one per restart.

use std::{collections::HashMap, fmt, path::PathBuf, str::FromStr};

use secrecy::{ExposeSecret, SecretString};

use crate::queue::{Brokers, QueueType, Topology};

/// One variable that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarError {
    pub name: String,
    pub problem: String,
}

/// Every variable that could not be read, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError(pub Vec<VarError>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration:")?;
        for e in &self.0 {
            write!(f, "\n  {}: {}", e.name, e.problem)?;
        }
        Ok(())
    }
}

/// A source of variables that records what went wrong while reading them.
pub struct Env {
    vars: HashMap<String, String>,
    errors: Vec<VarError>,
}

impl Env {
    /// Reads from the process environment.
    pub fn from_process() -> Self {
        Self::from_vars(std::env::vars())
    }

    /// Reads from the given pairs (tests use this).
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            errors: Vec::new(),
        }
    }

    fn error(&mut self, name: &str, problem: impl Into<String>) {
        self.errors.push(VarError {
            name: name.to_owned(),
            problem: problem.into(),
        });
    }

    /// The value, or `None` when unset. An empty value counts as unset.
    pub fn optional(&mut self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Every set variable whose name starts with `prefix` (such as the
    /// `AWS_*` variables an S3 client reads), sorted by name.
    pub fn prefixed(&self, prefix: &str) -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = self
            .vars
            .iter()
            .filter(|(name, value)| name.starts_with(prefix) && !value.trim().is_empty())
            .map(|(name, value)| (name.clone(), value.trim().to_owned()))
            .collect();
        found.sort();
        found
    }

    /// A value that must be set; records an error (and returns "") when not.
    pub fn required(&mut self, name: &str) -> String {
        match self.optional(name) {
            Some(v) => v,
            None => {
                self.error(name, "is required but not set");
                String::new()
            }
        }
    }

    /// A secret that must be set. Secrets are never printed, even on error.
    pub fn required_secret(&mut self, name: &str) -> SecretString {
        SecretString::from(self.required(name))
    }

    /// An optional secret.
    pub fn optional_secret(&mut self, name: &str) -> Option<SecretString> {
        self.optional(name).map(SecretString::from)
    }

    /// A parsed optional value; a malformed one is recorded as an error.
    pub fn parse_optional<T>(&mut self, name: &str) -> Option<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let raw = self.optional(name)?;
        match raw.parse() {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(name, format!("could not parse `{raw}`: {e}"));
                None
            }
        }
    }

    /// A parsed value with a default for when it is unset.
    pub fn parse_or<T>(&mut self, name: &str, default: T) -> T
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.parse_optional(name).unwrap_or(default)
    }

    /// A boolean: `true/false`, `1/0`, `yes/no`, `on/off`.
    pub fn flag(&mut self, name: &str, default: bool) -> bool {
        let Some(raw) = self.optional(name) else {
            return default;
        };
        match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => {
                self.error(name, format!("expected true or false, got `{raw}`"));
                default
            }
        }
    }

    /// Records a problem found by a check across variables.
    pub fn reject(&mut self, name: &str, problem: impl Into<String>) {
        self.error(name, problem);
    }

    /// Fails if anything read so far was missing or malformed.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(self.errors))
        }
    }
}

/// How log lines are written, from `LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One JSON object per event, for log shippers.
    Json,
    /// Human-readable lines, for a terminal.
    #[default]
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_word(
            s,
            &[
                ("json", Self::Json),
                ("pretty", Self::Pretty),
                ("text", Self::Pretty),
            ],
        )
    }
}

/// One of a fixed set of words (trimmed, any case), for settings such as
/// `LOG_FORMAT=json`; the error lists the words.
pub fn parse_word<T: Copy>(raw: &str, words: &[(&str, T)]) -> Result<T, String> {
    let wanted = raw.trim().to_ascii_lowercase();
    if let Some((_, value)) = words.iter().find(|(word, _)| *word == wanted) {
        return Ok(*value);
    }
    let listed: Vec<String> = words.iter().map(|(word, _)| format!("`{word}`")).collect();
    Err(format!(
        "expected one of {}, got `{wanted}`",
        listed.join(", ")
    ))
}

/// Settings every binary shares.
#[derive(Debug, Clone)]
pub struct CommonSettings {
    /// `DATABASE_URL`: PostgreSQL connection string.
    pub database_url: SecretString,
    /// `DATABASE_MAX_CONNECTIONS` (default 16).
    pub database_max_connections: u32,
    /// `AMQP_URL`: RabbitMQ connection string, or several (a cluster's
    /// nodes) separated by commas.
    pub brokers: Brokers,
    /// `AMQP_QUEUE_PREFIX` (default `pagesmith`): prefix of every queue name.
    pub queue_prefix: String,
    /// `AMQP_QUEUE_TYPE` (default `classic`): `quorum` on a cluster.
    pub queue_type: QueueType,
    /// `DATA_DIR` (default `./data`): bundles, local repositories.
    pub data_dir: PathBuf,
    /// `LOG_FORMAT` (default `pretty`).
    pub log_format: LogFormat,
}

impl CommonSettings {
    pub const DEFAULT_QUEUE_PREFIX: &str = "pagesmith";

    /// The queues these settings name.
    pub fn topology(&self) -> Topology {
        Topology::new(self.queue_prefix.clone()).with_queue_type(self.queue_type)
    }

    /// Reads the shared variables, recording problems in `env`.
    pub fn read(env: &mut Env) -> Self {
        let database_url = env.required_secret("DATABASE_URL");
        let database_max_connections = env.parse_or("DATABASE_MAX_CONNECTIONS", 16);
        let brokers = env.required_secret("AMQP_URL");
        let brokers = match brokers.expose_secret().parse::<Brokers>() {
            Ok(brokers) => brokers,
            Err(problem) => {
                if !brokers.expose_secret().is_empty() {
                    env.reject("AMQP_URL", problem);
                }
                "amqp://unset".parse().expect("a valid placeholder")
            }
        };
        let queue_type = env.parse_or("AMQP_QUEUE_TYPE", QueueType::Classic);
        let queue_prefix = env
            .optional("AMQP_QUEUE_PREFIX")
            .unwrap_or_else(|| Self::DEFAULT_QUEUE_PREFIX.to_owned());
        if !queue_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            env.reject(
                "AMQP_QUEUE_PREFIX",
                "may hold only letters, digits, '-', '_' and '.'",
            );
        }
        let data_dir = env.parse_or("DATA_DIR", PathBuf::from("./data"));
        let log_format = env.parse_or("LOG_FORMAT", LogFormat::Pretty);
        Self {
            database_url,
            database_max_connections,
            brokers,
            queue_prefix,
            queue_type,
            data_dir,
            log_format,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_by_name() {
        let mut env = Env::from_vars([("LOG_FORMAT", "xml"), ("DATABASE_MAX_CONNECTIONS", "lots")]);
        let _ = CommonSettings::read(&mut env);
        let err = env.finish().unwrap_err();
        let names: Vec<_> = err.0.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "DATABASE_URL",
                "DATABASE_MAX_CONNECTIONS",
                "AMQP_URL",
                "LOG_FORMAT"
            ]
        );
        let text = err.to_string();
        assert!(
            text.contains("DATABASE_URL: is required but not set"),
            "{text}"
        );
        assert!(text.contains("could not parse `xml`"), "{text}");
    }

    #[test]
    fn defaults_apply_when_unset() {
        let mut env = Env::from_vars([
            ("DATABASE_URL", "postgres://localhost/x"),
            ("AMQP_URL", "amqp://localhost"),
        ]);
        let common = CommonSettings::read(&mut env);
        env.finish().unwrap();
        assert_eq!(common.queue_prefix, "pagesmith");
        assert_eq!(common.log_format, LogFormat::Pretty);
        assert_eq!(common.database_max_connections, 16);
    }

    #[test]
    fn several_brokers_and_a_queue_type_are_read() {
        let mut env = Env::from_vars([
            ("DATABASE_URL", "postgres://localhost/x"),
            ("AMQP_URL", "amqp://a:5701,amqp://b:5702"),
            ("AMQP_QUEUE_TYPE", "Quorum"),
        ]);
        let common = CommonSettings::read(&mut env);
        env.finish().unwrap();
        assert_eq!(common.brokers.len(), 2);
        assert_eq!(common.topology().queue_type(), QueueType::Quorum);
    }

    #[test]
    fn a_bad_broker_list_or_queue_type_is_named() {
        let mut env = Env::from_vars([
            ("DATABASE_URL", "postgres://localhost/x"),
            ("AMQP_URL", "amqp://a,redis://b"),
            ("AMQP_QUEUE_TYPE", "mirrored"),
        ]);
        let _ = CommonSettings::read(&mut env);
        let text = env.finish().unwrap_err().to_string();
        assert!(
            text.contains("AMQP_URL: URL 2 has scheme `redis`"),
            "{text}"
        );
        assert!(
            text.contains(
                "AMQP_QUEUE_TYPE: could not parse `mirrored`: expected one of `classic`, `quorum`"
            ),
            "{text}"
        );
    }

    #[test]
    fn words_are_matched_in_any_case_and_the_error_lists_them() {
        let words = [("on", true), ("off", false)];
        assert_eq!(parse_word(" ON ", &words), Ok(true));
        assert_eq!(
            parse_word("maybe", &words),
            Err("expected one of `on`, `off`, got `maybe`".to_owned())
        );
    }

    #[test]
    fn flags_accept_common_spellings_and_reject_others() {
        let mut env = Env::from_vars([("A", "yes"), ("B", "0"), ("C", "maybe")]);
        assert!(env.flag("A", false));
        assert!(!env.flag("B", true));
        assert!(env.flag("C", true));
        assert!(env.flag("UNSET", true));
        let err = env.finish().unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].name, "C");
    }
}
