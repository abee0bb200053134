//! `GET /openapi.json`: the OpenAPI document of the evaluator-facing API.
//!
//! The document is generated from the handlers' own `#[utoipa::path]`
//! annotations and the `ToSchema` derives on the types they return, and the
//! routes it lists are registered through the same [`OpenApiRouter`], so a
//! route cannot be served without being documented or documented without
//! being served.

use axum::{Json, Router};
use pagesmith::domain::{JobKind, JobState, Source};
use serde_json::Value;
use utoipa::{
    Modify, OpenApi,
    openapi::{RefOr, Schema},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{app, jobs};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pagesmith",
        description = "Task briefs from evaluators, and where their jobs stand. Every error is \
                       JSON `{\"error\": ..., \"fields\": {...}}`; every response carries an \
                       `x-request-id`."
    ),
    tags(
        (name = "evaluation", description = "Task briefs"),
        (name = "jobs", description = "Job status"),
    )
)]
struct ApiDoc;

/// The documented routes, and the document that describes them.
pub fn api() -> (Router<AppState>, Value) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(app::submit))
        .routes(routes!(jobs::show))
        .split_for_parts();
    // After the routes added their schemas (a `modifiers` entry would run
    // before).
    StateNames.modify(&mut doc);
    let doc = serde_json::to_value(&doc).expect("the OpenAPI document serializes");
    (router, doc)
}

/// Serves the document built by [`api`].
pub fn document(doc: Value) -> Router<AppState> {
    Router::new().route(
        "/openapi.json",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { Json(doc) }
        }),
    )
}

/// Lists the values of the fields that hold the shared library's enums as
/// text, from the enums themselves, so the document follows them.
struct StateNames;

impl Modify for StateNames {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let Some(RefOr::T(Schema::Object(job))) = components.schemas.get_mut("JobView") else {
            return;
        };
        let fields: [(&str, Vec<&str>); 3] = [
            ("stage", JobState::ALL.iter().map(|s| s.as_str()).collect()),
            ("kind", JobKind::ALL.iter().map(|k| k.as_str()).collect()),
            ("source", Source::ALL.iter().map(|s| s.as_str()).collect()),
        ];
        for (field, values) in fields {
            if let Some(RefOr::T(Schema::Object(schema))) = job.properties.get_mut(field) {
                schema.enum_values = Some(values.into_iter().map(Value::from).collect());
            }
        }
    }
}
