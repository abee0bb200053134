//! The shared fake GitHub (`testkit::github`), and the real publisher
//! pointed at it with fast timings.

use std::time::Duration;

use secrecy::SecretString;
pub use testkit::github::*;
use worker::publish::github::{GithubOptions, GithubPublisher, GithubSettings};

/// Fast timings: polls and waits in milliseconds.
pub fn options() -> GithubOptions {
    GithubOptions {
        poll_interval: Duration::from_millis(20),
        init_retry_delay: Duration::from_millis(10),
        init_attempts: 3,
        commit_attempts: 3,
        request_timeout: Duration::from_secs(2),
    }
}

/// The publisher, for the token's user or for `owner`.
pub trait Publishers {
    fn publisher(&self) -> GithubPublisher {
        self.publisher_for(OWNER)
    }
    fn publisher_for(&self, owner: &str) -> GithubPublisher;
}

impl Publishers for FakeGithub {
    fn publisher_for(&self, owner: &str) -> GithubPublisher {
        let settings = GithubSettings {
            token: SecretString::from(TOKEN),
            owner: owner.to_owned(),
            api_url: self.api.uri().parse().unwrap(),
        };
        GithubPublisher::with_options(settings, options()).unwrap()
    }
}
