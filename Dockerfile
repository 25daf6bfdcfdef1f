# The actd container image. Two stages: the first builds actd and actctl in Release on Debian 12
# with the dependencies that scripts/install-deps.sh lists; the second is Debian 12 slim with only
# the shared libraries the binaries load (the same script's runtime profile), no compiler and no
# headers, running as the unprivileged user 65532.
#
# Every flag of actd can be given as an ACTD_* environment variable (--compute_threads as
# ACTD_COMPUTE_THREADS, ...); arguments after the image name are passed to actd and win over the
# environment. deploy/smoke-container.sh builds this file and runs the image for real.

FROM debian:bookworm AS build
WORKDIR /src
# The dependency layer depends on the package list alone, so it is reused while only sources change.
# ccache, with its cache in a build cache mount, makes a rebuild after a source change compile only
# the files that changed (the layer cache cannot: any change invalidates the whole COPY below).
# RUN --mount needs BuildKit (Docker 23+ by default, DOCKER_BUILDKIT=1 before) or buildah/Podman;
# the classic Docker builder refuses it (deploy/README.md).
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh build \
 && apt-get install -y -qq --no-install-recommends ccache \
 && rm -rf /var/lib/apt/lists/*
COPY . .
ENV CCACHE_DIR=/var/cache/ccache CCACHE_BASEDIR=/src CCACHE_MAXSIZE=2G
RUN --mount=type=cache,id=actd-ccache,target=/var/cache/ccache \
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DACTD_BUILD_TESTS=OFF -DACTD_BUILD_BENCH=OFF -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
 && cmake --build build --target actd actctl \
 && ccache --show-stats \
 && strip --strip-unneeded build/bin/actd build/bin/actctl

FROM debian:bookworm-slim AS runtime
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh runtime \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/install-deps.sh \
 && groupadd --system --gid 65532 actd \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin actd
COPY --from=build /src/build/bin/actd /src/build/bin/actctl /usr/local/bin/

# Container defaults: listen on every interface of the pod, metrics on 8002, one JSON object per
# log line. Each may be overridden by the environment or by arguments.
ENV ACTD_HOST=0.0.0.0 \
    ACTD_PORT=50051 \
    ACTD_METRICS_PORT=8002 \
    ACTD_LOG_FORMAT=json
USER 65532:65532
WORKDIR /
EXPOSE 50051 8002
ENTRYPOINT ["actd"]

# VERSION is the project version in CMakeLists.txt (the smoke test checks they agree); SOURCE and
# REVISION name where and from which commit the image was built.
ARG VERSION=0.1.0
ARG SOURCE=
ARG REVISION=
LABEL org.opencontainers.image.title="actd" \
      org.opencontainers.image.description="gRPC service evaluating neural-network activation functions" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="debian:bookworm-slim"
