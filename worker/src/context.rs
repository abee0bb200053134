//! A generation job with everything resolved (`stages::resolve` builds
//! it): what every stage of the pipeline works from.

use pagesmith::{
    bundle::BundleFile,
    db::{app::AppRequestRecord, jobs::Job, projects::Project},
};

use crate::generator::SiteRequest;

/// A generation job with everything resolved.
pub struct Context {
    pub job: Job,
    pub project: Project,
    /// The evaluator's round, or the revision count in a chat.
    pub round: i32,
    pub request: SiteRequest,
    /// The previous version's files: a revision starts from them.
    pub carried: Vec<BundleFile>,
    /// The /app request behind the job.
    pub app: Option<AppRequestRecord>,
    /// Where progress is shown (the requester's chat), if anywhere.
    pub chat_id: Option<i64>,
}
