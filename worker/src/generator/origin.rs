//! Who wrote a version's files, as stored with its generation and version
//! (`generator`): one type that writes and reads the name, so no caller
//! matches on strings or prefixes.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in template (`builtin`).
    Builtin,
    /// An LLM, by model (`llm:<model>`).
    Llm(String),
    /// `/rollback` to version n: its files exactly (`rollback:v<n>`).
    Rollback(i32),
    /// A name this version does not know (a test's scripted generator).
    Other(String),
}

impl Origin {
    pub fn parse(name: &str) -> Self {
        if name == "builtin" {
            Self::Builtin
        } else if let Some(model) = name.strip_prefix("llm:") {
            Self::Llm(model.to_owned())
        } else if let Some(n) = name.strip_prefix("rollback:v").and_then(|n| n.parse().ok()) {
            Self::Rollback(n)
        } else {
            Self::Other(name.to_owned())
        }
    }

    pub fn is_builtin(name: &str) -> bool {
        Self::parse(name) == Self::Builtin
    }

    pub fn is_rollback(name: &str) -> bool {
        matches!(Self::parse(name), Self::Rollback(_))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Builtin => f.write_str("builtin"),
            Self::Llm(model) => write!(f, "llm:{model}"),
            Self::Rollback(n) => write!(f, "rollback:v{n}"),
            Self::Other(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for origin in [
            Origin::Builtin,
            Origin::Llm("gpt-4o-mini".into()),
            Origin::Rollback(3),
            Origin::Other("scripted".into()),
        ] {
            assert_eq!(Origin::parse(&origin.to_string()), origin);
        }
        assert_eq!(
            Origin::parse("rollback:vX"),
            Origin::Other("rollback:vX".into())
        );
    }
}
