//! The deployment files agree with the workspace and with each other:
//! docker-compose.yml runs binaries the workspace builds and the Dockerfile
//! ships, in a safe order, with every variable documented in .env.example.
//!
//! Each check returns the problems it finds. The tests run it on the real
//! files (expecting none) and on a deliberately broken copy (expecting the
//! breakage to be named), so a check that cannot fail is caught too.

use std::{collections::BTreeSet, path::Path, process::Command};

use serde_norway::Value;

/// The services built from this repository (the rest are stock images).
const APP_SERVICES: [&str; 4] = ["migrate", "bot", "worker", "preview"];
const DATA_DIR: &str = "/var/lib/pagesmith/data";

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// docker-compose.yml as compose sees it: YAML merge keys (`<<: *app`) applied.
fn compose() -> Value {
    let mut value: Value = serde_norway::from_str(&read("docker-compose.yml")).unwrap();
    value.apply_merge().unwrap();
    value
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    &compose["services"][name]
}

/// A string, or a list of strings, as one list (compose accepts both).
fn words(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        Value::Sequence(items) => items.iter().filter_map(scalar).collect(),
        _ => Vec::new(),
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A service's environment as (name, value), from the map or `KEY=VALUE` list form.
fn environment(service: &Value) -> Vec<(String, String)> {
    match &service["environment"] {
        Value::Mapping(map) => map
            .iter()
            .filter_map(|(k, v)| Some((scalar(k)?, scalar(v).unwrap_or_default())))
            .collect(),
        Value::Sequence(items) => items
            .iter()
            .filter_map(scalar)
            .map(|item| match item.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (item, String::new()),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn env_value(service: &Value, name: &str) -> Option<String> {
    environment(service)
        .into_iter()
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// A service's volume mounts as (source, target, read-only), from either syntax.
fn mounts(service: &Value) -> Vec<(String, String, bool)> {
    let Some(items) = service["volumes"].as_sequence() else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::String(short) => {
                let parts: Vec<&str> = short.split(':').collect();
                let read_only = parts
                    .get(2)
                    .is_some_and(|o| o.split(',').any(|o| o == "ro"));
                Some((parts[0].to_owned(), parts.get(1)?.to_string(), read_only))
            }
            Value::Mapping(_) => Some((
                scalar(&item["source"])?,
                scalar(&item["target"])?,
                item["read_only"].as_bool() == Some(true),
            )),
            _ => None,
        })
        .collect()
}

/// Every `${VAR}`, `${VAR:-default}`, `${VAR:?error}` or `$VAR` in a string
/// (`$$` is a literal dollar).
fn interpolated(text: &str, into: &mut BTreeSet<String>) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            continue;
        }
        match chars.peek() {
            Some('$') => {
                chars.next();
            }
            Some('{') => {
                chars.next();
                let name: String = std::iter::from_fn(|| {
                    chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_')
                })
                .collect();
                into.insert(name);
            }
            Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
                let name: String = std::iter::from_fn(|| {
                    chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_')
                })
                .collect();
                into.insert(name);
            }
            _ => {}
        }
    }
}

/// Interpolations anywhere in the parsed file: keys and values, not comments.
fn interpolations(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::String(s) => interpolated(s, into),
        Value::Sequence(items) => items.iter().for_each(|v| interpolations(v, into)),
        Value::Mapping(map) => map.iter().for_each(|(k, v)| {
            interpolations(k, into);
            interpolations(v, into);
        }),
        Value::Tagged(tagged) => interpolations(&tagged.value, into),
        _ => {}
    }
}

/// The variables .env.example sets (`NAME=value` lines).
fn documented_variables() -> BTreeSet<String> {
    read(".env.example")
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .collect()
}

/// The binaries the workspace builds, from `cargo metadata`.
fn workspace_binaries() -> BTreeSet<String> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata failed");
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap())
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The Dockerfile's instructions, continuation lines joined, comments dropped,
/// as (keyword in upper case, arguments).
fn dockerfile(text: &str) -> Vec<(String, String)> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(trimmed);
                let (keyword, args) = current
                    .split_once(char::is_whitespace)
                    .unwrap_or((&current, ""));
                instructions.push((keyword.to_ascii_uppercase(), args.trim().to_owned()));
                current.clear();
            }
        }
    }
    instructions
}

/// The final stage: the instructions after the last FROM.
fn final_stage(instructions: &[(String, String)]) -> &[(String, String)] {
    let last_from = instructions
        .iter()
        .rposition(|(k, _)| k == "FROM")
        .expect("a FROM");
    &instructions[last_from + 1..]
}

// --- the checks ---------------------------------------------------------------

fn stateful_service_problems(compose: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let named_volumes = compose["volumes"].as_mapping().cloned().unwrap_or_default();
    for name in ["postgres", "rabbitmq"] {
        let s = service(compose, name);
        let test = words(&s["healthcheck"]["test"]);
        if test.is_empty()
            || test[0] == "NONE"
            || s["healthcheck"]["disable"].as_bool() == Some(true)
        {
            problems.push(format!("{name} has no healthcheck"));
        }
        let named = mounts(s)
            .iter()
            .any(|(source, _, _)| named_volumes.contains_key(source.as_str()));
        if !named {
            problems.push(format!("{name} keeps its data in no named volume"));
        }
    }
    problems
}

fn ordering_problems(compose: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let migrate = service(compose, "migrate");
    if migrate.is_null() {
        return vec!["there is no migrate service".into()];
    }
    // restart: always/unless-stopped would run the migrations in a loop.
    if !matches!(scalar(&migrate["restart"]).as_deref(), None | Some("no")) {
        problems.push("migrate restarts after it exits".into());
    }
    let needs: [(&str, &[(&str, &str)]); 3] = [
        (
            "bot",
            &[
                ("migrate", "service_completed_successfully"),
                ("postgres", "service_healthy"),
                ("rabbitmq", "service_healthy"),
            ],
        ),
        (
            "worker",
            &[
                ("migrate", "service_completed_successfully"),
                ("postgres", "service_healthy"),
                ("rabbitmq", "service_healthy"),
            ],
        ),
        (
            "preview",
            &[
                ("migrate", "service_completed_successfully"),
                ("postgres", "service_healthy"),
            ],
        ),
    ];
    for (name, dependencies) in needs {
        for (dependency, condition) in dependencies {
            // The list form of depends_on means only "started".
            let actual = scalar(&service(compose, name)["depends_on"][*dependency]["condition"]);
            if actual.as_deref() != Some(*condition) {
                problems.push(format!(
                    "{name} does not wait for {dependency} ({condition})"
                ));
            }
        }
    }
    problems
}

fn binary_problems(
    compose: &Value,
    binaries: &BTreeSet<String>,
    image: &str,
    entrypoint: &str,
) -> Vec<String> {
    let copied: String = final_stage(&dockerfile(image))
        .iter()
        .filter(|(k, _)| k == "COPY")
        .map(|(_, args)| format!("{args} "))
        .collect();
    let mut problems = Vec::new();
    for name in APP_SERVICES {
        let command = words(&service(compose, name)["command"]);
        let Some(program) = command.first() else {
            problems.push(format!("{name} has no command"));
            continue;
        };
        if !binaries.contains(program) {
            problems.push(format!(
                "{name} runs `{program}`, which the workspace does not build"
            ));
        }
        if !copied.contains(&format!("/{program} ")) {
            problems.push(format!(
                "{name} runs `{program}`, which the image does not ship"
            ));
        }
        if !entrypoint.lines().any(|l| {
            l.trim_end().ends_with(')') && l.split(['|', ')']).any(|p| p.trim() == program)
        }) {
            problems.push(format!(
                "{name} runs `{program}`, which the entrypoint does not accept"
            ));
        }
    }
    problems
}

fn undocumented_variables(compose: &Value, documented: &BTreeSet<String>) -> Vec<String> {
    let mut used = BTreeSet::new();
    interpolations(compose, &mut used);
    for name in APP_SERVICES {
        used.extend(
            environment(service(compose, name))
                .into_iter()
                .map(|(k, _)| k),
        );
    }
    used.difference(documented)
        .map(|v| format!("{v} is not in .env.example"))
        .collect()
}

fn data_volume_problems(compose: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let data = |name: &str| {
        mounts(service(compose, name))
            .into_iter()
            .find(|(_, target, _)| target == DATA_DIR)
    };
    match (data("worker"), data("preview")) {
        (Some((w, _, w_ro)), Some((p, _, p_ro))) => {
            if w != p {
                problems.push(format!("worker writes {w} but preview reads {p}"));
            }
            if w_ro {
                problems.push("the worker cannot write the data volume".into());
            }
            if !p_ro {
                problems.push("the preview mounts the data volume read-write".into());
            }
        }
        (w, p) => problems.push(format!(
            "data volume at {DATA_DIR}: worker {w:?}, preview {p:?}"
        )),
    }
    for name in ["worker", "preview"] {
        if env_value(service(compose, name), "DATA_DIR").as_deref() != Some(DATA_DIR) {
            problems.push(format!("{name}'s DATA_DIR is not {DATA_DIR}"));
        }
    }
    problems
}

fn scaling_problems(compose: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for name in APP_SERVICES {
        let s = service(compose, name);
        for key in ["container_name", "ports"] {
            if !s[key].is_null() {
                problems.push(format!("{name} has {key}, so it cannot be scaled"));
            }
        }
    }
    problems
}

/// Each listener binds all interfaces (not .env's loopback default) and is
/// what its healthcheck asks.
fn listener_problems(compose: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, variable) in [("bot", "BOT_ADDR"), ("preview", "PREVIEW_ADDR")] {
        let s = service(compose, name);
        let addr = env_value(s, variable).unwrap_or_default();
        if !(addr.starts_with("0.0.0.0:") || addr.starts_with("[::]:")) {
            problems.push(format!(
                "{name}'s {variable} is `{addr}`, unreachable from other containers"
            ));
        }
        let port = addr.rsplit(':').next().unwrap_or_default();
        let test = words(&s["healthcheck"]["test"]).join(" ");
        if !test.contains(&format!(":{port}/health")) {
            problems.push(format!("{name}'s healthcheck does not ask :{port}/health"));
        }
    }
    for (name, s) in compose["services"].as_mapping().into_iter().flatten() {
        if !s["ports"].is_null() && words(&s["healthcheck"]["test"]).is_empty() {
            problems.push(format!("{name:?} publishes ports but has no healthcheck"));
        }
    }
    problems
}

fn user_problems(image: &str) -> Vec<String> {
    let user = final_stage(&dockerfile(image))
        .iter()
        .rev()
        .find(|(k, _)| k == "USER")
        .map(|(_, user)| user.split(':').next().unwrap_or_default().to_owned());
    match user.as_deref() {
        None => vec!["the final stage has no USER, so it runs as root".into()],
        Some("root" | "0") => vec!["the final stage runs as root".into()],
        Some(_) => Vec::new(),
    }
}

// --- the real files -----------------------------------------------------------

#[test]
fn postgres_and_rabbitmq_have_healthchecks_and_named_volumes() {
    assert_eq!(stateful_service_problems(&compose()), Vec::<String>::new());
}

#[test]
fn migrations_run_once_before_bot_worker_and_preview_start() {
    assert_eq!(ordering_problems(&compose()), Vec::<String>::new());
}

#[test]
fn every_app_service_runs_a_binary_the_workspace_builds_and_the_image_ships() {
    let problems = binary_problems(
        &compose(),
        &workspace_binaries(),
        &read("Dockerfile"),
        &read("scripts/docker-entrypoint"),
    );
    assert_eq!(problems, Vec::<String>::new());
}

#[test]
fn every_variable_the_compose_file_uses_is_in_env_example() {
    assert_eq!(
        undocumented_variables(&compose(), &documented_variables()),
        Vec::<String>::new()
    );
}

#[test]
fn the_worker_writes_the_data_volume_and_the_preview_only_reads_it() {
    assert_eq!(data_volume_problems(&compose()), Vec::<String>::new());
}

#[test]
fn app_services_have_no_container_name_or_ports_so_they_scale() {
    assert_eq!(scaling_problems(&compose()), Vec::<String>::new());
}

#[test]
fn http_services_listen_beyond_loopback_and_are_health_checked() {
    assert_eq!(listener_problems(&compose()), Vec::<String>::new());
}

#[test]
fn the_image_runs_as_a_user_that_is_not_root() {
    assert_eq!(user_problems(&read("Dockerfile")), Vec::<String>::new());
}

// --- the checks catch what they are for -----------------------------------------

#[test]
fn a_preview_that_may_write_the_data_volume_is_caught() {
    let mut broken = compose();
    broken["services"]["preview"]["volumes"] =
        serde_norway::from_str("[data:/var/lib/pagesmith/data]").unwrap();
    assert_eq!(
        data_volume_problems(&broken),
        ["the preview mounts the data volume read-write"]
    );
}

#[test]
fn a_service_that_does_not_wait_for_migrations_is_caught() {
    let mut broken = compose();
    broken["services"]["worker"]["depends_on"] =
        serde_norway::from_str("[migrate, postgres, rabbitmq]").unwrap();
    broken["services"]["migrate"]["restart"] = "unless-stopped".into();
    let problems = ordering_problems(&broken);
    assert!(
        problems.contains(&"migrate restarts after it exits".to_owned()),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .filter(|p| p.starts_with("worker does not wait"))
            .count()
            == 3,
        "{problems:?}"
    );
}

#[test]
fn a_command_naming_no_workspace_binary_is_caught() {
    let mut broken = compose();
    broken["services"]["worker"]["command"] = serde_norway::from_str("[pagesmith-worker]").unwrap();
    let binaries = BTreeSet::from(["bot".to_owned(), "worker".to_owned(), "preview".to_owned()]);
    let problems = binary_problems(
        &broken,
        &binaries,
        &read("Dockerfile"),
        &read("scripts/docker-entrypoint"),
    );
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems
            .iter()
            .all(|p| p.starts_with("worker runs `pagesmith-worker`"))
    );
}

#[test]
fn an_undocumented_variable_is_caught() {
    let mut broken = compose();
    broken["services"]["bot"]["environment"]["SECRET_SAUCE"] = "${SAUCE_LEVEL:-mild}".into();
    assert_eq!(
        undocumented_variables(&broken, &documented_variables()),
        [
            "SAUCE_LEVEL is not in .env.example",
            "SECRET_SAUCE is not in .env.example"
        ]
    );
}

#[test]
fn a_pinned_or_published_worker_is_caught() {
    let mut broken = compose();
    broken["services"]["worker"]["container_name"] = "worker".into();
    broken["services"]["worker"]["ports"] = serde_norway::from_str("['9000:9000']").unwrap();
    assert_eq!(scaling_problems(&broken).len(), 2);
}

#[test]
fn a_loopback_listener_and_a_missing_healthcheck_are_caught() {
    let mut broken = compose();
    broken["services"]["bot"]["environment"]["BOT_ADDR"] = "127.0.0.1:8080".into();
    broken["services"]["nginx"]["healthcheck"] = Value::Null;
    let problems = listener_problems(&broken);
    assert_eq!(problems.len(), 2, "{problems:?}");
}

#[test]
fn stateful_services_without_healthcheck_or_named_volume_are_caught() {
    let mut broken = compose();
    broken["services"]["postgres"]["healthcheck"] =
        serde_norway::from_str("{test: [NONE]}").unwrap();
    broken["services"]["rabbitmq"]["volumes"] =
        serde_norway::from_str("['./rabbitmq:/var/lib/rabbitmq']").unwrap();
    assert_eq!(
        stateful_service_problems(&broken),
        [
            "postgres has no healthcheck",
            "rabbitmq keeps its data in no named volume"
        ]
    );
}

#[test]
fn an_image_whose_final_stage_runs_as_root_is_caught() {
    let stages = "FROM rust AS build\nUSER 1000\nFROM debian\nRUN true \\\n  && true\n";
    assert_eq!(
        user_problems(stages),
        ["the final stage has no USER, so it runs as root"]
    );
    assert_eq!(
        user_problems(&format!("{stages}USER root:root\n")),
        ["the final stage runs as root"]
    );
    assert_eq!(
        user_problems(&format!("{stages}USER 10001\nUSER 0\n")),
        ["the final stage runs as root"]
    );
}
