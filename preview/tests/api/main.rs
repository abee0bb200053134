//! Integration tests of the preview server against a real PostgreSQL and
//! real bundles on disk, one binary so they share one build and link.

mod browser;
mod chrome;
mod headers;
mod helpers;
mod lifecycle;
mod published;
mod repository;
mod serving;
mod store;
mod traversal;
