# One image with the three binaries: bot, worker, preview.
# Dependencies are compiled in their own layer (cargo-chef), so a change to
# pagesmith's code rebuilds only pagesmith.

FROM rust:1.95-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.73
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
# Queries are checked against the committed .sqlx/ metadata; no database needed.
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked -p bot -p worker -p preview

FROM debian:bookworm-slim AS runtime
# git: the local publisher; chromium: screenshots of previews (optional).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git curl chromium fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/pagesmith --create-home pagesmith
COPY --from=builder /src/target/release/bot /src/target/release/worker /src/target/release/preview /usr/local/bin/
USER pagesmith
WORKDIR /var/lib/pagesmith
ENV DATA_DIR=/var/lib/pagesmith/data LOG_FORMAT=json
CMD ["bot"]
