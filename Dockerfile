# syntax=docker/dockerfile:1
#
# The FireLens log router image: the stock aws-for-fluent-bit 3.x image
# (Fluent Bit 4.2.2) plus the classification filter compiled ahead of time for
# this image's CPU, the Fluent Bit include, the rules file, and sink-proxy.
#
#   docker build -t firelens-router .                       # this machine's CPU
#   docker buildx build --platform linux/arm64 -t ... .     # Graviton
#
# One image, two containers in the task (examples/): the log router runs the
# image as it is (Fluent Bit); the proxy container runs /usr/local/bin/sink-proxy.

# aws-for-fluent-bit 3.2.1 bundles Fluent Bit v4.2.2, whose wasm filter embeds
# WAMR 2.4.1: the AOT file must come from wamrc 2.4.1 exactly.
ARG BASE_IMAGE=public.ecr.aws/aws-observability/aws-for-fluent-bit:3.2.1
ARG WAMR_VERSION=2.4.1
ARG RUST_VERSION=1.95

# --- Rust: the filter module (.wasm) and a static sink-proxy -----------------
# Built on the target platform itself (natively on a Graviton builder, under
# emulation with buildx elsewhere): no cross C toolchain for aws-lc.
FROM rust:${RUST_VERSION}-bookworm AS rust
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY filter-wasm filter-wasm
COPY wasm-host wasm-host
COPY sink-proxy sink-proxy
COPY local-aws local-aws
COPY tests tests
COPY scripts scripts
COPY fluent-bit fluent-bit
# The module: scripts/build-wasm.sh adds the wasm32-wasip1 target.
RUN ./scripts/build-wasm.sh
# sink-proxy, statically linked (musl): it runs on the base image's Amazon
# Linux 2023 whatever its glibc.
RUN triple="$(uname -m)-unknown-linux-musl" \
    && rustup target add "$triple" \
    && cargo build --release --locked -p sink-proxy --target "$triple" \
    && cp "target/$triple/release/sink-proxy" /sink-proxy

# --- wamrc 2.4.1 from WAMR's release source, with the distro's LLVM ----------
FROM --platform=$BUILDPLATFORM debian:bookworm-slim AS wamrc
ARG WAMR_VERSION
RUN apt-get update && apt-get install -y --no-install-recommends \
      ca-certificates curl cmake make g++ llvm-15-dev libzstd-dev zlib1g-dev libxml2-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /wamr
RUN curl -fsSL "https://github.com/bytecodealliance/wasm-micro-runtime/archive/refs/tags/WAMR-${WAMR_VERSION}.tar.gz" \
      | tar -xz --strip-components=1 \
    && cmake -S wamr-compiler -B build -DCMAKE_BUILD_TYPE=Release \
         -DWAMR_BUILD_WITH_CUSTOM_LLVM=1 -DLLVM_DIR=/usr/lib/llvm-15/lib/cmake/llvm \
    && cmake --build build -j"$(nproc)" \
    && install build/wamrc /usr/local/bin/wamrc \
    && wamrc --version | grep -q "${WAMR_VERSION}"

# --- AOT: the module compiled for the image's CPU ----------------------------
FROM wamrc AS aot
ARG TARGETARCH
COPY --from=rust /src/target/wasm32-wasip1/wasm/firelens_filter.wasm /aot/firelens_filter.wasm
RUN case "$TARGETARCH" in amd64) t=x86_64 ;; arm64) t=aarch64 ;; *) exit 1 ;; esac \
    && wamrc --target="$t" -o /aot/firelens_filter.aot /aot/firelens_filter.wasm

# --- The image: stock aws-for-fluent-bit plus what this project adds ---------
FROM ${BASE_IMAGE}
# Paths the include (fluent-bit/firelens.conf) and the README name.
COPY --from=aot /aot/firelens_filter.aot /fluent-bit/firelens/firelens_filter.aot
COPY --from=aot /aot/firelens_filter.wasm /fluent-bit/firelens/firelens_filter.wasm
COPY fluent-bit/firelens.conf /fluent-bit/firelens/firelens.conf
COPY fluent-bit/firelens.yaml /fluent-bit/firelens/firelens.yaml
COPY fluent-bit/firelens-stacktraces.conf /fluent-bit/firelens/firelens-stacktraces.conf
COPY fluent-bit/firelens-lean.conf /fluent-bit/firelens/firelens-lean.conf
COPY fluent-bit/firelens-parsers.conf /fluent-bit/firelens/firelens-parsers.conf
COPY fluent-bit/rules.toml /fluent-bit/firelens-rules/rules.toml
COPY fluent-bit/router-start.sh /fluent-bit/firelens/router-start.sh
COPY --from=rust /sink-proxy /usr/local/bin/sink-proxy
COPY sink-proxy/sink-proxy.example.toml /etc/sink-proxy/sink-proxy.example.toml
# sink-proxy's spool (its default --spool-dir), writable by the proxy's user.
RUN mkdir -p /var/lib/sink-proxy/spool && chown -R 10001 /var/lib/sink-proxy
# The log router keeps the base image's user. Its command wraps the base
# image's /entrypoint.sh (fluent-bit/router-start.sh): it checks that the AOT
# module loads in this Fluent Bit, falling back to the portable .wasm loudly,
# and delays SIGTERM by 2 s so that pending line parts are flushed. The proxy
# container runs as this unprivileged user (task definition: "user": "10001")
# with its own command.
CMD ["/fluent-bit/firelens/router-start.sh"]
LABEL org.opencontainers.image.title="FireLens router: Wasm classification filter and sink-proxy" \
      com.firelens-router.fluent-bit.version="4.2.2" \
      com.firelens-router.wamr.version="2.4.1"
