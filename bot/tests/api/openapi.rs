//! `GET /openapi.json` kept in step with the handlers: the routes it lists
//! are the ones served, every status it documents is produced by the running
//! handlers, and every body they answer validates against its schema, made
//! strict so that an undocumented field fails too.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    APP_SECRET, Options, TestBot, app_request, make_ready, spawn_bot, spawn_bot_with,
};

/// (path, method, status) as the document spells them.
type Answer = (String, String, String);

struct Doc(Value);

impl Doc {
    async fn fetch(bot: &TestBot) -> Self {
        let response = bot.get("/openapi.json").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        Self(response.json().await.unwrap())
    }

    /// Every (path, method) the document lists.
    fn operations(&self) -> BTreeSet<(String, String)> {
        let paths = self.0["paths"].as_object().expect("paths");
        paths
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| k.as_str() != "parameters")
                    .map(move |m| (path.clone(), m.clone()))
            })
            .collect()
    }

    /// Every (path, method, status) the document lists.
    fn answers(&self) -> BTreeSet<Answer> {
        self.operations()
            .into_iter()
            .flat_map(|(path, method)| {
                let responses = self.0["paths"][&path][&method]["responses"]
                    .as_object()
                    .unwrap();
                responses
                    .keys()
                    .map(|status| (path.clone(), method.clone(), status.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn component(&self, name: &str) -> &Value {
        let schema = &self.0["components"]["schemas"][name];
        assert!(schema.is_object(), "components.schemas.{name} exists");
        schema
    }

    /// `schema` as a standalone JSON Schema: the document's components
    /// beside it (for its `$ref`s), every object closed to fields it does
    /// not list.
    fn strict(&self, schema: &Value) -> jsonschema::Validator {
        let mut root = schema.clone();
        let mut components = self.0["components"].clone();
        close_objects(&mut components);
        close_objects(&mut root);
        root["components"] = components;
        jsonschema::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("a valid schema: {e}\n{root:#}"))
    }

    /// Asserts `body` is what the document promises for this answer.
    fn assert_documented(&self, (path, method, status): &Answer, body: &Value) {
        let schema = &self.0["paths"][path][method]["responses"][status]["content"]["application/json"]
            ["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} documents a JSON body for {status}"
        );
        let validator = self.strict(schema);
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status} answered {body:#}\nwhich breaks its schema: {errors:#?}"
        );
    }
}

/// Sets `additionalProperties: false` on every object schema that lists its
/// properties and says nothing about others.
fn close_objects(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

fn answer(path: &str, method: &str, status: StatusCode) -> Answer {
    (path.into(), method.into(), status.as_u16().to_string())
}

/// Sends a request, checks the answer against the document, and records
/// which documented answer it was.
struct Probe<'a> {
    bot: &'a TestBot,
    doc: &'a Doc,
    seen: BTreeSet<Answer>,
}

impl Probe<'_> {
    async fn app(&mut self, body: reqwest::Body, want: StatusCode) -> Value {
        let response = self
            .bot
            .client
            .post(self.bot.url("/app"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        self.check("/app", "post", response, want).await
    }

    async fn job(&mut self, id: &str, want: StatusCode) -> Value {
        let response = self.bot.get(&format!("/jobs/{id}")).await;
        self.check("/jobs/{id}", "get", response, want).await
    }

    async fn check(
        &mut self,
        path: &str,
        method: &str,
        response: reqwest::Response,
        want: StatusCode,
    ) -> Value {
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, want, "{method} {path}: {body}");
        let answer = answer(path, method, status);
        self.doc.assert_documented(&answer, &body);
        self.seen.insert(answer);
        body
    }
}

fn json_body(value: &Value) -> reqwest::Body {
    serde_json::to_vec(value).unwrap().into()
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_served_with_it() {
    let bot = spawn_bot().await;
    let doc = Doc::fetch(&bot).await;
    assert!(
        doc.0["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc.0["openapi"]
    );
    let expected: BTreeSet<(String, String)> = [("/app", "post"), ("/jobs/{id}", "get")]
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect();
    assert_eq!(doc.operations(), expected);

    // Each is served at exactly that template, and answers a documented status.
    for (path, method) in doc.operations() {
        let url = bot.url(&path.replace("{id}", &Uuid::new_v4().to_string()));
        let response = bot
            .client
            .request(method.to_uppercase().parse::<Method>().unwrap(), url)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16().to_string();
        assert!(
            doc.0["paths"][&path][&method]["responses"][&status].is_object(),
            "{method} {path} answered {status}, which is not documented"
        );
    }
    let metrics = bot.get("/metrics").await.text().await.unwrap();
    for (path, method) in doc.operations() {
        let labels = format!("route=\"{path}\",method=\"{}\"", method.to_uppercase());
        assert!(
            metrics.contains(&labels),
            "axum matched {labels}:\n{metrics}"
        );
    }
}

#[tokio::test]
async fn every_documented_answer_is_produced_by_the_handlers_and_matches_its_schema() {
    let bot = spawn_bot_with(Options {
        proxy_database: true,
        env: vec![("APP_MAX_BODY_BYTES", "4000".into())],
        ..Options::default()
    })
    .await;
    let doc = Doc::fetch(&bot).await;
    let mut probe = Probe {
        bot: &bot,
        doc: &doc,
        seen: BTreeSet::new(),
    };

    let accepted = probe
        .app(json_body(&app_request("task-o", 1, "n1")), StatusCode::OK)
        .await;
    let job_id = accepted["job_id"].as_str().unwrap().to_owned();
    probe.app("{not json".into(), StatusCode::BAD_REQUEST).await;
    probe
        .app(
            json_body(&app_request("task-o2", 2, "n1")),
            StatusCode::BAD_REQUEST,
        )
        .await;
    let mut wrong_secret = app_request("task-o", 1, "n2");
    wrong_secret["secret"] = json!("nope");
    probe
        .app(json_body(&wrong_secret), StatusCode::FORBIDDEN)
        .await;
    let mut too_large = app_request("task-o", 1, "n3");
    too_large["brief"] = json!("x".repeat(5000));
    probe
        .app(json_body(&too_large), StatusCode::PAYLOAD_TOO_LARGE)
        .await;
    let mut invalid = app_request("task-o", 1, "n4");
    invalid["email"] = json!("not-an-address");
    invalid["attachments"] = json!([{"name": "../x.png", "url": "http://example.com/x.png"}]);
    probe
        .app(json_body(&invalid), StatusCode::UNPROCESSABLE_ENTITY)
        .await;

    let pending = probe.job(&job_id, StatusCode::OK).await;
    assert!(pending["preview"].is_null());
    make_ready(&bot, job_id.parse().unwrap(), "task-o").await;
    let ready = probe.job(&job_id, StatusCode::OK).await;
    assert_eq!(ready["status"], "pending");
    assert!(ready["preview"].is_object(), "{ready}");
    probe.job("42", StatusCode::BAD_REQUEST).await;
    probe
        .job(&Uuid::new_v4().to_string(), StatusCode::NOT_FOUND)
        .await;

    bot.db_proxy.as_ref().unwrap().cut();
    probe
        .app(
            json_body(&app_request("task-o", 1, "n5")),
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .await;
    probe.job(&job_id, StatusCode::SERVICE_UNAVAILABLE).await;

    assert_eq!(
        probe.seen,
        doc.answers(),
        "every documented answer, and only those, was produced"
    );
}

#[tokio::test]
async fn the_request_schema_names_every_field_the_handler_checks() {
    let bot = spawn_bot().await;
    let doc = Doc::fetch(&bot).await;
    let request =
        &doc.0["paths"]["/app"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    let schema = doc.component("AppRequestBody");
    let names =
        |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let properties = names(&schema["properties"]);
    let required: BTreeSet<String> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();

    // Only the secret: the handler names exactly the other required fields.
    let response = bot.post_app(&json!({"secret": APP_SECRET})).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    let mut missing = names(&body["fields"]);
    missing.insert("secret".into());
    assert_eq!(missing, required, "{body}");

    // Every field of the wrong type: the handler checks every documented
    // property, and no other.
    let mut wrong = json!({"secret": APP_SECRET});
    for property in properties.iter().filter(|p| p.as_str() != "secret") {
        wrong[property] = json!(true);
    }
    let body: Value = bot.post_app(&wrong).await.json().await.unwrap();
    let mut checked: BTreeSet<String> = names(&body["fields"])
        .into_iter()
        .map(|f| f.split(['[', '.']).next().unwrap().to_owned())
        .collect();
    checked.insert("secret".into());
    assert_eq!(checked, properties, "{body}");

    // The documented example is valid by the schema and accepted.
    let mut example = schema["example"].clone();
    assert!(example.is_object(), "the request schema has an example");
    example["secret"] = json!(APP_SECRET);
    let validator = doc.strict(request);
    assert!(validator.is_valid(&example), "{example:#}");
    assert!(!validator.is_valid(&json!({"secret": APP_SECRET})));
    let response = bot.post_app(&example).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );
}
