//! Domain types. Validated inputs are newtypes built by a `parse` function.

pub mod app_request;
pub mod data_uri;
pub mod file_type;
pub mod job;
pub mod net;
pub mod site_path;

pub use app_request::{AppRequest, AppRequestLimits, Attachment, FieldErrors};
pub use data_uri::{DataUri, DataUriError};
pub use job::{JobKind, JobMessage, JobPayload, JobState, Source, WorkQueue};
pub use site_path::{SitePath, SitePathError};
