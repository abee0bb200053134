# One image with the three programs: bot, worker, preview.
#
#   docker build -t pagesmith .
#   docker run --rm --env-file .env pagesmith bot            # or worker, preview
#   docker run --rm --env-file .env pagesmith bot migrate    # see docker-compose.yml
#
# Dependencies are compiled in a layer of their own (cargo-chef), keyed only
# by Cargo.toml/Cargo.lock, so a change to pagesmith's code rebuilds only
# pagesmith's crates.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

# The recipe: every manifest and the lockfile, with the sources stubbed out.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
# Queries are checked against the committed .sqlx/ metadata: no database
# at build time (.cargo/config.toml says the same; this makes it explicit).
ENV SQLX_OFFLINE=true
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --profile dist --locked --recipe-path recipe.json -p bot -p worker -p preview
COPY . .
RUN cargo build --profile dist --locked -p bot -p worker -p preview --bins

# Same Debian release as the builder, so the binaries find the glibc they
# were linked against. No git: the local publisher uses libgit2, vendored
# and linked statically (worker/Cargo.toml: vendored-libgit2), and writes
# the files git's dumb HTTP protocol reads itself. curl is for the
# healthchecks in docker-compose.yml (GET /health). Chromium (and a font
# family for the screenshots' text) is the worker's browser: it runs each
# version's checks and takes its screenshots (BROWSER below).
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl chromium fonts-liberation \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 pagesmith \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/pagesmith \
        --no-create-home --shell /usr/sbin/nologin pagesmith \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/pagesmith /var/lib/pagesmith/data /var/lib/pagesmith/pages
COPY --from=builder /src/target/dist/bot /src/target/dist/worker /src/target/dist/preview /usr/local/bin/
COPY scripts/docker-entrypoint /usr/local/bin/docker-entrypoint

# A new named volume mounted at DATA_DIR starts as a copy of this directory,
# so it belongs to uid 10001 as well. (No VOLUME: bot and migrate need none,
# and it would leave an anonymous volume behind for each of them.)
WORKDIR /var/lib/pagesmith
# Listen on every interface inside the container (the programs' own defaults
# are loopback). docker-compose.yml sets these again, over .env.
ENV DATA_DIR=/var/lib/pagesmith/data \
    BROWSER=/usr/bin/chromium \
    LOG_FORMAT=json \
    BOT_ADDR=0.0.0.0:8080 \
    PREVIEW_ADDR=0.0.0.0:8081 \
    PAGES_ADDR=0.0.0.0:8082
EXPOSE 8080 8081 8082
USER 10001:10001
# All three stop gracefully on SIGINT (the worker lets runs in flight finish);
# as PID 1 without a handler, SIGTERM would be ignored until SIGKILL.
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint"]
CMD ["bot"]
