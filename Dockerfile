# syntax=docker/dockerfile:1
#
# The FireLens log router image: the stock aws-for-fluent-bit 3.x image plus
# the classification filter compiled ahead of time for this image's CPU, the
# Fluent Bit includes, the rules file, and sink-proxy.
#
#   docker build -t firelens-router .                       # this machine's CPU
#   docker buildx build --platform linux/arm64 -t ... .     # Graviton
#
# One image, two containers in the task (examples/): the log router runs the
# image as it is (Fluent Bit); the proxy container runs /usr/local/bin/sink-proxy.
# CI runs the Rust stage below and checks every stage's COPY without a Docker
# engine: scripts/image_check.py.

# aws-for-fluent-bit 3.4.9 bundles Fluent Bit v5.0.9; 3.2.x bundles 4.2.2
# (README: "Fluent Bit versions"). Another base needs FLUENT_BIT_VERSION to
# match: the build checks it and fails otherwise, so the label never lies.
# All tested versions (4.2.2, 5.0.9, 5.1.1) embed WAMR 2.4.1, so the AOT
# file must come from wamrc 2.4.1 exactly, built from the commit of WAMR's
# WAMR-2.4.1 tag (verified against the tag at build time).
ARG BASE_IMAGE=public.ecr.aws/aws-observability/aws-for-fluent-bit:3.4.9
ARG FLUENT_BIT_VERSION=5.0.9
ARG WAMR_VERSION=2.4.1
ARG WAMR_COMMIT=b124f70345d712bead5c0c2393acb2dc583511de
ARG RUST_VERSION=1.95

# --- Rust: the filter module (.wasm) and sink-proxy --------------------------
# Built on the target platform itself (natively on a Graviton builder, under
# emulation with buildx elsewhere): no cross C toolchain for aws-lc. The
# whole workspace is copied (.dockerignore leaves out what is built
# locally): cargo needs every member's manifest.
FROM rust:${RUST_VERSION}-bookworm AS rust
WORKDIR /src
COPY . .
# The module: scripts/build-wasm.sh adds the wasm32-wasip1 target.
RUN ./scripts/build-wasm.sh
# sink-proxy for glibc: measured against static musl builds (musl's malloc,
# mimalloc, jemalloc), it took the least CPU and memory (README: "The
# shipped binary"). It needs glibc 2.34 at most and only libraries Fluent
# Bit itself needs, so it runs on the base image's Amazon Linux 2023
# (scripts/image_check.py checks both; the last stage runs it).
RUN cargo build --release --locked -p sink-proxy \
    && mkdir -p dist \
    && cp target/release/sink-proxy dist/sink-proxy \
    && cp target/wasm32-wasip1/wasm/firelens_filter.wasm dist/firelens_filter.wasm

# --- wamrc 2.4.1 from WAMR's release source, with the distro's LLVM ----------
FROM --platform=$BUILDPLATFORM debian:bookworm-slim AS wamrc
ARG WAMR_VERSION
ARG WAMR_COMMIT
RUN apt-get update && apt-get install -y --no-install-recommends \
      ca-certificates git cmake make g++ llvm-15-dev libzstd-dev zlib1g-dev libxml2-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /wamr
# The source at the pinned commit, and the tag checked to still name it: a
# moved tag stops the build instead of changing the compiler.
RUN git init -q . \
    && git remote add origin https://github.com/bytecodealliance/wasm-micro-runtime.git \
    && tagged="$(git ls-remote origin "refs/tags/WAMR-${WAMR_VERSION}" "refs/tags/WAMR-${WAMR_VERSION}^{}" | sort -k2 | tail -n1 | cut -f1)" \
    && [ "$tagged" = "${WAMR_COMMIT}" ] || { echo "WAMR-${WAMR_VERSION} is ${tagged}, expected ${WAMR_COMMIT}" >&2; exit 1; } \
    && git fetch -q --depth 1 origin "${WAMR_COMMIT}" \
    && git checkout -q FETCH_HEAD \
    && [ "$(git rev-parse HEAD)" = "${WAMR_COMMIT}" ] \
    && cmake -S wamr-compiler -B build -DCMAKE_BUILD_TYPE=Release \
         -DWAMR_BUILD_WITH_CUSTOM_LLVM=1 -DLLVM_DIR=/usr/lib/llvm-15/lib/cmake/llvm \
    && cmake --build build -j"$(nproc)" \
    && install build/wamrc /usr/local/bin/wamrc \
    && wamrc --version | grep -q "${WAMR_VERSION}"

# --- AOT: the module compiled for the image's CPU ----------------------------
FROM wamrc AS aot
ARG TARGETARCH
COPY --from=rust /src/dist/firelens_filter.wasm /aot/firelens_filter.wasm
RUN case "$TARGETARCH" in amd64) t=x86_64 ;; arm64) t=aarch64 ;; *) exit 1 ;; esac \
    && wamrc --target="$t" -o /aot/firelens_filter.aot /aot/firelens_filter.wasm

# --- The image: stock aws-for-fluent-bit plus what this project adds ---------
FROM ${BASE_IMAGE}
ARG FLUENT_BIT_VERSION
ARG WAMR_VERSION
ARG WAMR_COMMIT
# The base image's Fluent Bit must be the one the labels name.
RUN v="$(/fluent-bit/bin/fluent-bit --version | head -n 1)" \
    && case "$v" in *"v${FLUENT_BIT_VERSION}"*) ;; \
       *) echo "the base image has '$v', not v${FLUENT_BIT_VERSION}: pass --build-arg FLUENT_BIT_VERSION=..." >&2; exit 1 ;; esac
# Paths the includes (fluent-bit/*.conf) and the README name.
COPY --from=aot /aot/firelens_filter.aot /fluent-bit/firelens/firelens_filter.aot
COPY --from=aot /aot/firelens_filter.wasm /fluent-bit/firelens/firelens_filter.wasm
COPY fluent-bit/firelens.conf /fluent-bit/firelens/firelens.conf
COPY fluent-bit/firelens.yaml /fluent-bit/firelens/firelens.yaml
COPY fluent-bit/firelens-stacktraces.conf /fluent-bit/firelens/firelens-stacktraces.conf
COPY fluent-bit/firelens-lean.conf /fluent-bit/firelens/firelens-lean.conf
COPY fluent-bit/firelens-parsers.conf /fluent-bit/firelens/firelens-parsers.conf
COPY fluent-bit/rules.toml /fluent-bit/firelens-rules/rules.toml
COPY fluent-bit/router-start.sh /fluent-bit/firelens/router-start.sh
COPY --from=rust /src/dist/sink-proxy /usr/local/bin/sink-proxy
# It loads on this base (its glibc and libraries), or the build stops here.
RUN /usr/local/bin/sink-proxy --version
COPY sink-proxy/sink-proxy.example.toml /etc/sink-proxy/sink-proxy.example.toml
# The module the includes' wasm filter loads (Wasm_Path ${FIRELENS_MODULE}):
# router-start.sh points it at the portable .wasm when the AOT file does not
# load, without writing to the image (readonlyRootFilesystem).
ENV FIRELENS_MODULE=/fluent-bit/firelens/firelens_filter.aot
# sink-proxy's spool (its default --spool-dir), owned by the proxy's user. A
# volume: with readonlyRootFilesystem the task mounts its
# "sink-proxy-spool" volume here, and ECS gives the volume this directory's
# owner (the task definitions in examples/).
RUN mkdir -p /var/lib/sink-proxy/spool && chown -R 10001 /var/lib/sink-proxy
VOLUME ["/var/lib/sink-proxy/spool"]
# The log router keeps the base image's user. Its command wraps the base
# image's /entrypoint.sh (fluent-bit/router-start.sh): it checks that the AOT
# module loads in this Fluent Bit when the include has a wasm filter,
# falling back to the portable .wasm loudly, warns when the Fluent Bit is
# outside the tested versions, and delays SIGTERM by 2 s so that pending
# line parts are flushed. The proxy container runs as this unprivileged user
# (task definition: "user": "10001") with its own command.
CMD ["/fluent-bit/firelens/router-start.sh"]
LABEL org.opencontainers.image.title="FireLens router: Wasm classification filter and sink-proxy" \
      com.firelens-router.fluent-bit.version="${FLUENT_BIT_VERSION}" \
      com.firelens-router.wamr.version="${WAMR_VERSION}" \
      com.firelens-router.wamr.commit="${WAMR_COMMIT}"
