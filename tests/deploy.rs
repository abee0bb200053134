//! The deployment files agree with the workspace and with each other:
//! docker-compose.yml runs binaries the workspace builds and the Dockerfile
//! ships, in a safe order, with every variable documented in .env.example;
//! workers and previews share no disk but the local publisher's pages; and
//! deploy/rabbitmq-cluster.yml makes RabbitMQ three nodes the programs know.
//!
//! Each check returns the problems it finds. The tests run it on the real
//! files (expecting none) and on a deliberately broken copy (expecting the
//! breakage to be named), so a check that cannot fail is caught too.

use std::{collections::BTreeSet, path::Path, process::Command};

use serde_norway::Value;

/// The services built from this repository (the rest are stock images).
const APP_SERVICES: [&str; 4] = ["migrate", "bot", "worker", "preview"];
const DATA_DIR: &str = "/var/lib/pagesmith/data";
/// The nodes of deploy/rabbitmq-cluster.yml; the first is docker-compose.yml's.
const RABBITMQ_NODES: [&str; 3] = ["rabbitmq", "rabbitmq2", "rabbitmq3"];
/// The programs that connect to RabbitMQ, so must know every node.
const AMQP_CLIENTS: [&str; 3] = ["migrate", "bot", "worker"];

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// A compose file as compose sees it: YAML merge keys (`<<: *app`) applied.
fn parse_compose(path: &str) -> Value {
    let mut value: Value = serde_norway::from_str(&read(path)).unwrap();
    value.apply_merge().unwrap();
    value
}

fn compose() -> Value {
    parse_compose("docker-compose.yml")
}

/// The three-node override on its own: what it adds or replaces.
fn cluster() -> Value {
    parse_compose("deploy/rabbitmq-cluster.yml")
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

/// A service's volume mounts as (source, target, read-only), from either
/// syntax. An anonymous volume (`- /path`) has an empty source.
fn mounts(service: &Value) -> Vec<(String, String, bool)> {
    let Some(items) = service["volumes"].as_sequence() else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::String(short) => {
                let parts: Vec<&str> = short.split(':').collect();
                let Some(target) = parts.get(1) else {
                    return Some((String::new(), parts[0].to_owned(), false));
                };
                let read_only = parts
                    .get(2)
                    .is_some_and(|o| o.split(',').any(|o| o == "ro"));
                Some((parts[0].to_owned(), target.to_string(), read_only))
            }
            Value::Mapping(_) => Some((
                scalar(&item["source"]).unwrap_or_default(),
                scalar(&item["target"])?,
                item["read_only"].as_bool() == Some(true),
            )),
            _ => None,
        })
        .collect()
}

/// The source mounted at `target`, if any.
fn mount_at(service: &Value, target: &str) -> Option<(String, bool)> {
    mounts(service)
        .into_iter()
        .find_map(|(source, t, read_only)| (t == target).then_some((source, read_only)))
}

/// A healthcheck that runs something (not absent, `NONE` or disabled).
fn has_healthcheck(service: &Value) -> bool {
    let test = words(&service["healthcheck"]["test"]);
    !(test.is_empty()
        || test[0] == "NONE"
        || service["healthcheck"]["disable"].as_bool() == Some(true))
}

/// The host of each URL in a comma-separated list (`scheme://user:pass@host:port/...`).
fn url_hosts(list: &str) -> Vec<String> {
    list.split(',')
        .filter_map(|url| {
            let rest = url.trim().split_once("://")?.1;
            let authority = rest.split('/').next()?;
            let host_port = authority.rsplit('@').next()?;
            Some(host_port.split(':').next()?.to_owned())
        })
        .collect()
}

/// The value after `-setcookie` in Erlang arguments.
fn cookie(erl_args: &str) -> Option<String> {
    let mut words = erl_args.split_whitespace();
    words.find(|w| *w == "-setcookie")?;
    words.next().map(str::to_owned)
}

/// The `key = value` lines of the RabbitMQ configs (rabbitmq.conf syntax) a
/// service mounts, from the file's top-level `configs` with inline content.
fn rabbitmq_config(compose: &Value, service: &Value) -> Vec<(String, String)> {
    let Some(items) = service["configs"].as_sequence() else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| scalar(item).or_else(|| scalar(&item["source"])))
        .filter_map(|name| scalar(&compose["configs"][name.as_str()]["content"]))
        .flat_map(|content| {
            content
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect::<Vec<_>>()
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

/// The services that keep data: a healthcheck, so what needs them waits
/// until they answer, and a named volume, so the data outlives the container.
fn stateful_service_problems(compose: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let named_volumes = compose["volumes"].as_mapping().cloned().unwrap_or_default();
    for name in ["postgres", "rabbitmq", "minio"] {
        let s = service(compose, name);
        if !has_healthcheck(s) {
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
    for one_shot in ["migrate", "minio-init"] {
        let s = service(compose, one_shot);
        if s.is_null() {
            problems.push(format!("there is no {one_shot} service"));
            continue;
        }
        // restart: always/unless-stopped would run it in a loop, and what
        // waits for it to complete would never start.
        if !matches!(scalar(&s["restart"]).as_deref(), None | Some("no")) {
            problems.push(format!("{one_shot} restarts after it exits"));
        }
    }
    let needs: [(&str, &[(&str, &str)]); 4] = [
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
                // The bucket its bundles go to.
                ("minio-init", "service_completed_successfully"),
            ],
        ),
        (
            "preview",
            &[
                ("migrate", "service_completed_successfully"),
                ("postgres", "service_healthy"),
                ("minio-init", "service_completed_successfully"),
            ],
        ),
        ("minio-init", &[("minio", "service_healthy")]),
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

/// Workers and previews scale on their own, so they share no disk but the
/// local publisher's: bundles go through the object store, and DATA_DIR
/// is each container's cache.
fn shared_storage_problems(compose: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let named_volumes = compose["volumes"].as_mapping().cloned().unwrap_or_default();
    for name in ["worker", "preview"] {
        let s = service(compose, name);
        if env_value(s, "DATA_DIR").as_deref() != Some(DATA_DIR) {
            problems.push(format!("{name}'s DATA_DIR is not {DATA_DIR}"));
        }
        // A named volume (or a host directory) would be one cache for every
        // replica, each evicting what the others still index.
        if let Some((source, _)) = mount_at(s, DATA_DIR).filter(|(source, _)| !source.is_empty()) {
            problems.push(format!(
                "{name} mounts {source} at DATA_DIR, a cache its replicas would share"
            ));
        }
        let store = env_value(s, "BUNDLE_STORE_URL").unwrap_or_default();
        if !store.starts_with("s3://") {
            problems.push(format!(
                "{name} keeps bundles at `{store}`, not in an s3:// store"
            ));
        }
    }
    let store = |name: &str| env_value(service(compose, name), "BUNDLE_STORE_URL");
    if let (Some(w), Some(p)) = (store("worker"), store("preview"))
        && w.starts_with("s3://")
        && p.starts_with("s3://")
        && w != p
    {
        problems.push(format!(
            "worker writes bundles to {w} but preview reads {p}"
        ));
    }
    // The bucket must exist before a worker writes to it, and creating it
    // must succeed on every `up`, not only the first.
    if let Some(url) = store("worker").filter(|u| u.starts_with("s3://")) {
        let bucket = url["s3://".len()..].split('/').next().unwrap_or_default();
        let command = words(&service(compose, "minio-init")["command"]).join(" ");
        if !(command.contains("mc mb") && command.contains(&format!("/{bucket}"))) {
            problems.push(format!("minio-init does not create the bucket {bucket}"));
        } else if !command.contains("--ignore-existing") {
            problems.push("minio-init fails once the bucket exists (no --ignore-existing)".into());
        }
    }
    // The local publisher's output: written by the worker, served by the
    // preview, so one named volume, writable by the worker only.
    let publish_dir = |name: &str| env_value(service(compose, name), "LOCAL_PUBLISH_DIR");
    match (publish_dir("worker"), publish_dir("preview")) {
        (Some(w), Some(p)) if w == p => {
            let pages = |name: &str| mount_at(service(compose, name), &w);
            match (pages("worker"), pages("preview")) {
                (Some((w_source, w_ro)), Some((p_source, p_ro))) => {
                    if w_source != p_source {
                        problems.push(format!(
                            "worker publishes to {w_source} but preview serves {p_source}"
                        ));
                    }
                    if !named_volumes.contains_key(w_source.as_str()) {
                        problems.push(format!("the pages at {w} are in no named volume"));
                    }
                    if w_ro {
                        problems.push("the worker cannot write the pages volume".into());
                    }
                    if !p_ro {
                        problems.push("the preview mounts the pages volume read-write".into());
                    }
                }
                (w_mount, p_mount) => problems.push(format!(
                    "pages volume at {w}: worker {w_mount:?}, preview {p_mount:?}"
                )),
            }
        }
        (w, p) => problems.push(format!("LOCAL_PUBLISH_DIR: worker {w:?}, preview {p:?}")),
    }
    problems
}

/// Quorum queues survive a node, and need no conversion when the cluster
/// override adds two. Only bot and worker declare queues.
fn queue_type_problems(compose: &Value) -> Vec<String> {
    ["bot", "worker"]
        .into_iter()
        .filter(|name| {
            env_value(service(compose, name), "AMQP_QUEUE_TYPE").as_deref() != Some("quorum")
        })
        .map(|name| format!("{name} does not declare quorum queues"))
        .collect()
}

/// deploy/rabbitmq-cluster.yml's nodes: each a RabbitMQ node with its own
/// name and data, able to find and authenticate to the other two.
fn cluster_node_problems(cluster: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let named_volumes = cluster["volumes"].as_mapping().cloned().unwrap_or_default();
    let mut volumes_seen: Vec<(String, &str)> = Vec::new();
    let first_cookie = cookie(
        &env_value(
            service(cluster, RABBITMQ_NODES[0]),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
        )
        .unwrap_or_default(),
    );
    for name in RABBITMQ_NODES {
        let s = service(cluster, name);
        if !scalar(&s["image"]).is_some_and(|i| i.starts_with("rabbitmq:")) {
            problems.push(format!("{name} is not a RabbitMQ node"));
            continue;
        }
        // The node is rabbit@<hostname>; its peers reach it by that name,
        // which Docker's DNS resolves only as the service's name.
        let hostname = scalar(&s["hostname"]).unwrap_or_default();
        if hostname != name {
            problems.push(format!(
                "{name} has hostname `{hostname}`, so its peers cannot reach rabbit@{hostname}"
            ));
        }
        match mount_at(s, "/var/lib/rabbitmq") {
            Some((source, _)) if named_volumes.contains_key(source.as_str()) => {
                if let Some((_, other)) = volumes_seen.iter().find(|(v, _)| *v == source) {
                    problems.push(format!("{name} shares volume {source} with {other}"));
                }
                volumes_seen.push((source, name));
            }
            _ => problems.push(format!("{name} keeps its data in no named volume")),
        }
        if !has_healthcheck(s) {
            problems.push(format!("{name} has no healthcheck"));
        }
        // The server and the CLI tools (the healthcheck) need the one cookie.
        for variable in [
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
            "RABBITMQ_CTL_ERL_ARGS",
        ] {
            match cookie(&env_value(s, variable).unwrap_or_default()) {
                None => problems.push(format!("{name} sets no Erlang cookie in {variable}")),
                Some(c) if Some(&c) != first_cookie.as_ref() => problems.push(format!(
                    "{name}'s cookie in {variable} is not {}'s",
                    RABBITMQ_NODES[0]
                )),
                Some(_) => {}
            }
        }
        let config = rabbitmq_config(cluster, s);
        let backend = config
            .iter()
            .find_map(|(k, v)| (k == "cluster_formation.peer_discovery_backend").then_some(v));
        if !matches!(
            backend.map(String::as_str),
            Some("classic_config" | "rabbit_peer_discovery_classic_config")
        ) {
            problems.push(format!(
                "{name} does not discover its peers from its config"
            ));
            continue;
        }
        let listed: BTreeSet<&str> = config
            .iter()
            .filter(|(k, _)| k.starts_with("cluster_formation.classic_config.nodes."))
            .map(|(_, v)| v.as_str())
            .collect();
        for peer in RABBITMQ_NODES {
            if !listed.contains(format!("rabbit@{peer}").as_str()) {
                problems.push(format!(
                    "{name}'s peer discovery does not list rabbit@{peer}"
                ));
            }
        }
    }
    problems
}

/// Every program that connects to RabbitMQ lists every node, so it can
/// move to another when its node dies.
fn cluster_url_problems(cluster: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for name in AMQP_CLIENTS {
        let Some(url) = env_value(service(cluster, name), "AMQP_URL") else {
            problems.push(format!(
                "{name}'s AMQP_URL is not overridden with the nodes"
            ));
            continue;
        };
        let hosts = url_hosts(&url);
        for node in RABBITMQ_NODES {
            if !hosts.iter().any(|h| h == node) {
                problems.push(format!("{name}'s AMQP_URL does not list {node}"));
            }
        }
    }
    problems
}

/// A new volume starts as a copy of the image's directory at its mount
/// point, owner included; where the image has none, it belongs to root, and
/// a program running as the image's user cannot write it.
fn mount_point_problems(compose: &Value, image: &str) -> Vec<String> {
    let instructions = dockerfile(image);
    let stage = final_stage(&instructions);
    let user = stage
        .iter()
        .rev()
        .find(|(k, _)| k == "USER")
        .map(|(_, user)| user.split(':').next().unwrap_or_default().to_owned())
        .unwrap_or_default();
    // Directories a RUN creates and hands to the user (install -d -o, or chown).
    let owned: BTreeSet<&str> = stage
        .iter()
        .filter(|(k, args)| {
            k == "RUN" && (args.contains(&format!("-o {user}")) || args.contains("chown"))
        })
        .flat_map(|(_, args)| args.split_whitespace())
        .filter(|word| word.starts_with('/'))
        .collect();
    let named_volumes = compose["volumes"].as_mapping().cloned().unwrap_or_default();
    let mut problems = Vec::new();
    for name in APP_SERVICES {
        for (source, target, read_only) in mounts(service(compose, name)) {
            let volume = source.is_empty() || named_volumes.contains_key(source.as_str());
            if volume && !read_only && !owned.contains(target.as_str()) {
                problems.push(format!(
                    "{name} writes {target}, which the image does not create for user {user}"
                ));
            }
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
fn postgres_rabbitmq_and_minio_have_healthchecks_and_named_volumes() {
    assert_eq!(stateful_service_problems(&compose()), Vec::<String>::new());
}

#[test]
fn migrations_and_the_bucket_are_made_once_before_bot_worker_and_preview_start() {
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
fn worker_and_preview_share_only_the_pages_volume_and_keep_bundles_in_the_object_store() {
    assert_eq!(shared_storage_problems(&compose()), Vec::<String>::new());
}

#[test]
fn bot_and_worker_declare_quorum_queues() {
    assert_eq!(queue_type_problems(&compose()), Vec::<String>::new());
}

#[test]
fn every_volume_an_app_service_writes_is_created_for_the_image_user() {
    assert_eq!(
        mount_point_problems(&compose(), &read("Dockerfile")),
        Vec::<String>::new()
    );
}

#[test]
fn the_cluster_override_runs_three_named_nodes_that_discover_each_other() {
    assert_eq!(cluster_node_problems(&cluster()), Vec::<String>::new());
}

#[test]
fn the_cluster_override_gives_every_amqp_client_all_three_nodes() {
    assert_eq!(cluster_url_problems(&cluster()), Vec::<String>::new());
}

#[test]
fn every_variable_the_cluster_override_uses_is_in_env_example() {
    assert_eq!(
        undocumented_variables(&cluster(), &documented_variables()),
        Vec::<String>::new()
    );
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
fn a_shared_data_dir_and_a_preview_that_may_write_the_pages_are_caught() {
    let mut broken = compose();
    broken["services"]["preview"]["volumes"] =
        serde_norway::from_str("[data:/var/lib/pagesmith/data, pages:/var/lib/pagesmith/pages]")
            .unwrap();
    assert_eq!(
        shared_storage_problems(&broken),
        [
            "preview mounts data at DATA_DIR, a cache its replicas would share",
            "the preview mounts the pages volume read-write"
        ]
    );
}

#[test]
fn bundles_on_a_local_disk_and_a_bucket_made_only_once_are_caught() {
    let mut broken = compose();
    broken["services"]["preview"]["environment"]["BUNDLE_STORE_URL"] =
        "file:///var/lib/pagesmith/data".into();
    broken["services"]["minio-init"]["command"] = serde_norway::from_str(
        "['mc alias set local http://minio:9000 u p && mc mb local/pagesmith-bundles']",
    )
    .unwrap();
    assert_eq!(
        shared_storage_problems(&broken),
        [
            "preview keeps bundles at `file:///var/lib/pagesmith/data`, not in an s3:// store",
            "minio-init fails once the bucket exists (no --ignore-existing)"
        ]
    );
}

#[test]
fn a_worker_declaring_classic_queues_is_caught() {
    let mut broken = compose();
    broken["services"]["worker"]["environment"]["AMQP_QUEUE_TYPE"] = "classic".into();
    assert_eq!(
        queue_type_problems(&broken),
        ["worker does not declare quorum queues"]
    );
}

#[test]
fn a_writable_volume_the_image_does_not_create_is_caught() {
    let image =
        "FROM debian\nRUN install -d -o 10001 -g 10001 /var/lib/pagesmith/data\nUSER 10001\n";
    let mut compose = compose();
    compose["services"]["worker"]["volumes"] =
        serde_norway::from_str("[/var/lib/pagesmith/data, 'pages:/var/lib/pagesmith/pages']")
            .unwrap();
    compose["services"]["preview"]["volumes"] =
        serde_norway::from_str("['pages:/var/lib/pagesmith/pages:ro']").unwrap();
    assert_eq!(
        mount_point_problems(&compose, image),
        ["worker writes /var/lib/pagesmith/pages, which the image does not create for user 10001"]
    );
}

#[test]
fn a_cluster_node_without_its_own_name_volume_cookie_or_place_in_discovery_is_caught() {
    let mut broken = cluster();
    broken["services"]["rabbitmq3"]["hostname"] = "rabbitmq2".into();
    broken["services"]["rabbitmq3"]["volumes"] =
        serde_norway::from_str("['rabbitmq2:/var/lib/rabbitmq']").unwrap();
    broken["services"]["rabbitmq2"]["environment"]["RABBITMQ_CTL_ERL_ARGS"] = "".into();
    let config = broken["configs"]["rabbitmq-cluster"]["content"]
        .as_str()
        .unwrap()
        .replace("cluster_formation.classic_config.nodes.3", "# nodes.3");
    broken["configs"]["rabbitmq-cluster"]["content"] = config.into();
    assert_eq!(
        cluster_node_problems(&broken),
        [
            "rabbitmq's peer discovery does not list rabbit@rabbitmq3",
            "rabbitmq2 sets no Erlang cookie in RABBITMQ_CTL_ERL_ARGS",
            "rabbitmq2's peer discovery does not list rabbit@rabbitmq3",
            "rabbitmq3 has hostname `rabbitmq2`, so its peers cannot reach rabbit@rabbitmq2",
            "rabbitmq3 shares volume rabbitmq2 with rabbitmq2",
            "rabbitmq3's peer discovery does not list rabbit@rabbitmq3"
        ]
    );
}

#[test]
fn a_program_not_given_every_cluster_node_is_caught() {
    let mut broken = cluster();
    broken["services"]["migrate"]["environment"] = Value::Null;
    broken["services"]["worker"]["environment"]["AMQP_URL"] =
        "amqp://pagesmith:p@rabbitmq:5672/%2f, amqp://pagesmith:p@rabbitmq2:5672/%2f".into();
    assert_eq!(
        cluster_url_problems(&broken),
        [
            "migrate's AMQP_URL is not overridden with the nodes",
            "worker's AMQP_URL does not list rabbitmq3"
        ]
    );
}

#[test]
fn a_service_that_does_not_wait_for_migrations_or_the_bucket_is_caught() {
    let mut broken = compose();
    broken["services"]["worker"]["depends_on"] =
        serde_norway::from_str("[migrate, postgres, rabbitmq, minio-init]").unwrap();
    broken["services"]["migrate"]["restart"] = "unless-stopped".into();
    broken["services"]["minio-init"]["restart"] = "always".into();
    let problems = ordering_problems(&broken);
    assert!(
        problems.contains(&"migrate restarts after it exits".to_owned()),
        "{problems:?}"
    );
    assert!(
        problems.contains(&"minio-init restarts after it exits".to_owned()),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .filter(|p| p.starts_with("worker does not wait"))
            .count()
            == 4,
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
    broken["services"]["minio"]["healthcheck"]["disable"] = true.into();
    broken["services"]["minio"]["volumes"] = serde_norway::from_str("['/data']").unwrap();
    assert_eq!(
        stateful_service_problems(&broken),
        [
            "postgres has no healthcheck",
            "rabbitmq keeps its data in no named volume",
            "minio has no healthcheck",
            "minio keeps its data in no named volume"
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
