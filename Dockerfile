# hwtransfer: release build on Debian bookworm, run as a non-root user on bookworm-slim.
#
#   docker build -t hwtransfer .
#   docker run --rm -p 8080:8080 -v hwtransfer-data:/app/data hwtransfer            # embedded SQLite
#   docker run --rm -p 8080:8080 -e HWT_DATABASE_URL=postgres://… hwtransfer        # PostgreSQL
#
# Not built on the machine it was written on (no Docker engine there); see README "Docker".

############################ build ############################
FROM rust:1-bookworm AS builder

# pq-sys (bundled) compiles libpq from source against the OpenSSL headers.
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /build

# 1. Dependencies only, with an empty crate: this layer is reused until Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src

# 2. The service. Migrations, the reference data in data/, the UI's templates and assets are
# embedded at compile time.
COPY build.rs ./
COPY src ./src
COPY migrations ./migrations
COPY data ./data
COPY templates ./templates
COPY assets ./assets
# COPY keeps the files' old modification times: touch them so cargo rebuilds the crate, not the stub.
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked \
 && cp target/release/hwtransfer /usr/local/bin/hwtransfer

############################ run ############################
FROM debian:bookworm-slim

# libpq and SQLite are linked into the binary; OpenSSL (libssl.so.3, libcrypto.so.3) is not.
# curl is only for the health check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 curl \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 10001 hwtransfer \
 && useradd --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin hwtransfer \
 && mkdir -p /app/data \
 && chown -R 10001:10001 /app

COPY --from=builder /usr/local/bin/hwtransfer /usr/local/bin/hwtransfer

WORKDIR /app
# The default database URL, sqlite://./data/hwtransfer.db, resolves to /app/data/hwtransfer.db: in the volume.
ENV HWT_LISTEN=0.0.0.0:8080 \
    HWT_DATA_DIR=/app/data \
    HWT_LOG_FORMAT=json

USER 10001:10001
# Signing keys (generated on first start unless HWT_JWT_*_KEY_FILE point elsewhere) and the SQLite file.
VOLUME ["/app/data"]
EXPOSE 8080

# Liveness only; docker-compose.yml checks readiness (/readyz) instead.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1

ENTRYPOINT ["hwtransfer"]
CMD ["serve"]
