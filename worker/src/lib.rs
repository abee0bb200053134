//! `worker`: consumes jobs, generates, checks, bundles, talks to Telegram,
//! publishes and calls back. (Built out by the worker issue.)
