# Shared by the scripts in this folder: defaults and making sure the
# services pagesmith needs are up. Source it; don't run it.

: "${CARGO_TARGET_DIR:=$HOME/.cache/pagesmith/target}"
export CARGO_TARGET_DIR

: "${PG_HOST:=127.0.0.1}"
: "${PG_PORT:=5432}"
: "${AMQP_HOST:=127.0.0.1}"
: "${AMQP_PORT:=5672}"
# The server-level URL tests use to create a fresh database each.
: "${TEST_DATABASE_URL:=postgres://postgres@${PG_HOST}:${PG_PORT}/postgres}"
: "${TEST_AMQP_URL:=amqp://guest:guest@${AMQP_HOST}:${AMQP_PORT}/%2f}"
export TEST_DATABASE_URL TEST_AMQP_URL

log() { printf '\033[1m[pagesmith]\033[0m %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for_port() {
    local host=$1 port=$2 seconds=$3
    for _ in $(seq "$((seconds * 4))"); do
        port_open "$host" "$port" && return 0
        sleep 0.25
    done
    return 1
}

ensure_postgres() {
    if port_open "$PG_HOST" "$PG_PORT"; then return 0; fi
    if [[ "$PG_HOST" != 127.0.0.1 && "$PG_HOST" != localhost ]]; then
        log "PostgreSQL at $PG_HOST:$PG_PORT is not reachable, and it is not local, so I can't start it."
        return 1
    fi
    if command -v pg_ctlcluster >/dev/null 2>&1 && [[ -d /etc/postgresql ]] && [[ -n "$(ls /etc/postgresql)" ]]; then
        local version
        version=$(ls /etc/postgresql | sort -V | tail -n1)
        log "starting PostgreSQL $version"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        if wait_for_port "$PG_HOST" "$PG_PORT" 30; then return 0; fi
        log "PostgreSQL did not come up on $PG_HOST:$PG_PORT within 30 s"
        return 1
    fi
    log "PostgreSQL is not running on $PG_HOST:$PG_PORT and is not installed here."
    log "Install it (Debian/Ubuntu: sudo apt-get install postgresql) or run it in a container:"
    log "  docker compose up -d postgres"
    return 1
}

ensure_rabbitmq() {
    if port_open "$AMQP_HOST" "$AMQP_PORT"; then return 0; fi
    if [[ "$AMQP_HOST" != 127.0.0.1 && "$AMQP_HOST" != localhost ]]; then
        log "RabbitMQ at $AMQP_HOST:$AMQP_PORT is not reachable, and it is not local, so I can't start it."
        return 1
    fi
    if command -v rabbitmq-server >/dev/null 2>&1; then
        log "starting RabbitMQ"
        rabbitmq-server -detached || true
        if wait_for_port "$AMQP_HOST" "$AMQP_PORT" 90; then return 0; fi
        log "RabbitMQ did not come up on $AMQP_HOST:$AMQP_PORT within 90 s"
        return 1
    fi
    log "RabbitMQ is not running on $AMQP_HOST:$AMQP_PORT and is not installed here."
    log "Install it (Debian/Ubuntu: sudo apt-get install rabbitmq-server) or run it in a container:"
    log "  docker compose up -d rabbitmq"
    return 1
}

ensure_services() {
    ensure_postgres
    ensure_rabbitmq
}

# Headless Chromium and its WebDriver, for the preview's browser tests.
# Debian's packages only; skipped when both are already installed.
ensure_chromium() {
    if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
        return 0
    fi
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        log "chromium and chromedriver are missing and I can't apt-get them here;"
        log "the preview's browser tests will be skipped (install: apt-get install chromium chromium-driver)"
        return 0
    fi
    log "installing chromium and chromium-driver (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium chromium-driver >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; } ||
        log "could not install chromium; the preview's browser tests will be skipped"
}

# Playwright (npm `playwright-core`, pinned in e2e/evaluator/package-lock.json)
# for the e2e test that compares the worker's check verdicts with an
# independent evaluator's browser. It drives Debian's Chromium and never
# downloads one. Installed again only when the lock file changed.
ensure_evaluator() {
    local dir=e2e/evaluator
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        log "node and npm are missing; the evaluator comparison test will be skipped"
        log "  (install: apt-get install nodejs npm)"
        return 0
    fi
    if [[ -d $dir/node_modules/playwright-core && ! $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
        return 0
    fi
    local output
    if ! output=$(PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$dir" --no-audit --no-fund 2>&1); then
        printf '%s\n' "$output" >&2
        log "npm ci in $dir failed; the evaluator comparison test will be skipped"
    fi
    return 0
}

# The Telegram Bot API emulator (npm `telegram-test-api`, pinned in
# e2e/bot-api/package-lock.json) for the e2e conversation test, which runs
# the bot (polling) and the worker against it instead of our own fake.
# Installed again only when the lock file changed. Once installed, the test
# must run, not skip: PAGESMITH_REQUIRE_BOT_API is exported.
ensure_bot_api() {
    local dir=e2e/bot-api
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        log "node and npm are missing; the Telegram conversation test will be skipped"
        log "  (install: apt-get install nodejs npm)"
        return 0
    fi
    if ! [[ -d $dir/node_modules/telegram-test-api && ! $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
        local output
        if ! output=$(npm ci --prefix "$dir" --no-audit --no-fund 2>&1); then
            printf '%s\n' "$output" >&2
            log "npm ci in $dir failed; the Telegram conversation test will be skipped"
            return 0
        fi
    fi
    export PAGESMITH_REQUIRE_BOT_API=1
    return 0
}

# An S3-compatible server for the storage tests: PyPI's `moto[server]`
# (pinned below) in a venv under ~/.cache/pagesmith/moto, installed again
# only when the pin changed. Its server is started in the background on
# 127.0.0.1:$S3_TEST_PORT (5999 unless set), unless that port is already
# open, and outlives the script; TEST_S3_ENDPOINT names it. Once installed,
# the S3 tests must run, not skip: PAGESMITH_REQUIRE_S3 is exported.
ensure_s3() {
    local version=5.2.5
    local dir=$HOME/.cache/pagesmith/moto port=${S3_TEST_PORT:-5999}
    local marker=$dir/.pagesmith-moto-version
    if ! command -v python3 >/dev/null 2>&1; then
        log "python3 is missing; the S3 tests will be skipped"
        log "  (install: apt-get install python3 python3-venv)"
        return 0
    fi
    if [[ $(cat "$marker" 2>/dev/null) != "$version" ]]; then
        # A server we started from an older install goes, so the new one starts.
        local old
        old=$(cat "$dir/server.pid" 2>/dev/null) || old=
        if [[ $old =~ ^[0-9]+$ ]] && grep -q moto_server "/proc/$old/cmdline" 2>/dev/null; then
            kill "$old" 2>/dev/null || true
            for _ in $(seq 20); do port_open 127.0.0.1 "$port" || break; sleep 0.25; done
        fi
        log "installing moto[server]==$version into $dir"
        local output
        if ! output=$({ [[ -x $dir/bin/python ]] || python3 -m venv "$dir"; } 2>&1 &&
            "$dir/bin/python" -m pip install -q --disable-pip-version-check "moto[server]==$version" 2>&1); then
            printf '%s\n' "$output" >&2
            log "could not install moto; the S3 tests will be skipped"
            log "  (needs python3 with venv and pip: apt-get install python3-venv python3-pip)"
            return 0
        fi
        echo "$version" >"$marker"
    fi
    if ! port_open 127.0.0.1 "$port"; then
        log "starting moto's S3 server on 127.0.0.1:$port (log: $dir/server.log)"
        local detach=()
        command -v setsid >/dev/null 2>&1 && detach=(setsid)
        "${detach[@]}" nohup "$dir/bin/moto_server" -H 127.0.0.1 -p "$port" \
            >>"$dir/server.log" 2>&1 </dev/null &
        echo "$!" >"$dir/server.pid"
        if ! wait_for_port 127.0.0.1 "$port" 60; then
            log "moto did not come up on 127.0.0.1:$port within 60 s (see $dir/server.log);"
            log "the S3 tests will be skipped"
            return 0
        fi
    fi
    export TEST_S3_ENDPOINT=http://127.0.0.1:$port
    export PAGESMITH_REQUIRE_S3=1
    return 0
}

# A local three-node RabbitMQ cluster (scripts/rabbitmq-cluster, separate
# from the machine's RabbitMQ) for the tests that need one;
# TEST_AMQP_CLUSTER_URLS lists its nodes' AMQP URLs, comma-separated. Left
# unset, and those tests skip, when it can't be started; once it is up they
# must run, not skip: PAGESMITH_REQUIRE_CLUSTER is exported.
ensure_rabbitmq_cluster() {
    local urls
    urls=$("$(dirname "${BASH_SOURCE[0]}")/rabbitmq-cluster" up | tail -n 1) || urls=
    if [[ $urls == amqp://* ]]; then
        export TEST_AMQP_CLUSTER_URLS=$urls
        export PAGESMITH_REQUIRE_CLUSTER=1
    else
        log "could not start the local RabbitMQ cluster; the cluster tests will be skipped"
    fi
    return 0
}

# nginx (and openssl, for throwaway certificates), for `scripts/nginx-check`.
# Debian's packages. Unlike the browser, not optional: the check fails
# without them.
ensure_nginx() {
    local missing=()
    command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    ((${#missing[@]})) || return 0
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        log "${missing[*]} missing and I can't apt-get them here (install: apt-get install ${missing[*]})"
        return 1
    fi
    log "installing ${missing[*]} (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${missing[@]}" >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
}

# Benchmarks compare the code side by side with an earlier commit in one
# run. The commit is checked out in a git worktree outside the clone and
# built in a target directory of its own, under this folder (or in
# BASELINE_TARGET_DIR: the clone's own shares the dependencies' builds
# when the profiles match).
BASELINE_ROOT=$HOME/.cache/pagesmith/baseline
: "${BASELINE_TARGET_DIR:=$BASELINE_ROOT/target}"

# Checks out `ref` in the baseline worktree; prints its short commit id.
checkout_baseline() { # ref
    local commit
    commit=$(git rev-parse --short "$1^{commit}") || { log "no commit $1"; return 1; }
    if [[ ! -d $BASELINE_ROOT/src ]]; then
        git worktree add --detach "$BASELINE_ROOT/src" "$commit" >/dev/null
    else
        git -C "$BASELINE_ROOT/src" checkout --quiet --detach "$commit"
    fi
    printf '%s\n' "$commit"
}

# Builds the binaries of `packages` at `ref` and copies them to a folder
# named after the commit, whose path it prints. `profile`: the profile to
# build, or the commit's `release` if it has no such profile (fat LTO lived
# in `release` before `dist`).
# The folder of the target directory cargo puts `profile`'s output in.
profile_dir() { # profile
    # cargo puts the dev profile's output in debug/.
    if [[ $1 == dev ]]; then echo debug; else echo "$1"; fi
}

build_baseline() { # ref profile package...
    local ref=$1 profile=$2 commit package flags=()
    shift 2
    commit=$(checkout_baseline "$ref") || return 1
    [[ $profile == dev || $profile == release ]] ||
        grep -q "^\[profile\.$profile\]" "$BASELINE_ROOT/src/Cargo.toml" || profile=release
    for package in "$@"; do flags+=(-p "$package"); done
    log "building $* at $commit ($profile)"
    (cd "$BASELINE_ROOT/src" && CARGO_TARGET_DIR=$BASELINE_TARGET_DIR \
        cargo build -q --locked --profile "$profile" "${flags[@]}" --bins) >&2
    local out=$BASELINE_ROOT/bin-$commit-$profile built
    built=$(profile_dir "$profile")
    mkdir -p "$out"
    for package in "$@"; do
        cp "$BASELINE_TARGET_DIR/$built/$package" "$out/"
    done
    printf '%s\n' "$out"
}

# Builds bench target `bench` of `package` at `ref`; prints the path of its
# executable. Run it from the package's folder in the baseline worktree, as
# cargo bench would.
build_baseline_bench() { # ref package bench
    local ref=$1 package=$2 bench=$3 commit
    commit=$(checkout_baseline "$ref") || return 1
    log "building bench $bench of $package at $commit"
    (cd "$BASELINE_ROOT/src" && CARGO_TARGET_DIR=$BASELINE_TARGET_DIR \
        cargo bench -q --locked -p "$package" --bench "$bench" --no-run --message-format=json) |
        bench_executable "$bench"
}

# The executable of bench target $1 in cargo's JSON messages on stdin.
bench_executable() {
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$1"
}

# The order of `items` in round `round` (from 1), one line each: each
# round starts one further on, so over as many rounds as items each goes
# first once. In a series of runs the later ones came out slower whatever
# the code (README, Benchmarks).
turn_order() { # round item...
    local start=$((($1 - 1) % ($# - 1)))
    shift
    printf '%s\n' "${@:start+1}" "${@:1:start}"
}

# Runs the commands `baseline` and `current` ROUNDS times each (default 1),
# in turns (turn_order: the side going first alternates, so use an even
# ROUNDS).
take_turns() { # baseline current
    local round command
    for round in $(seq "${ROUNDS:-1}"); do
        log "round $round"
        for command in $(turn_order "$round" "$1" "$2"); do "$command"; done
    done
}

# `cargo bench` of `bench` in `package` (the bench profile). With
# BASELINE_REF, that commit's build of the same bench too, taking turns
# (take_turns), each run from its own package folder as cargo bench would.
run_bench() { # package bench
    local package=$1 bench=$2 current baseline commit
    if [[ -z "${BASELINE_REF:-}" ]]; then
        cargo bench --locked -p "$package" --bench "$bench"
        return
    fi
    current=$(cargo bench -q --locked -p "$package" --bench "$bench" --no-run --message-format=json |
        bench_executable "$bench")
    baseline=$(build_baseline_bench "$BASELINE_REF" "$package" "$bench")
    commit=$(git rev-parse --short "$BASELINE_REF")
    bench_baseline() {
        log "baseline ($commit)"
        (cd "$BASELINE_ROOT/src/$package" && "$baseline") 2>&1 | sed -u 's/^/[baseline] /'
    }
    bench_current() {
        log "this checkout"
        (cd "$package" && "$current") 2>&1 | sed -u 's/^/[current] /'
    }
    take_turns bench_baseline bench_current
}
