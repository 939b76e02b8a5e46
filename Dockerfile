# The lrmem server image: lrmem-server and lrmemctl on Debian 12, nothing
# else. Build it from the repository root:
#
#   docker build -t lrmem-server .
#   docker run -d -p 50051:50051 -p 9464:9464 -v lrmem-data:/var/lib/lrmem \
#     lrmem-server
#
# Arguments after the image name are appended to the server's flags (later
# flags win), e.g. `lrmem-server --sync_writes`. deploy/README.md explains
# every way to run it; tests/deploy_manifests_test.cc checks that the ports,
# paths and flags named here are the ones the binaries really have.

# --- build: the same install script as a developer machine and CI ----------
FROM debian:12 AS build

# The script alone first, so that the dependency layer survives source edits.
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN /src/scripts/install-deps.sh --server

COPY . /src
WORKDIR /src
# A throwaway layer gains nothing from a compiler cache.
ENV CCACHE_DISABLE=1
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DLRMEM_WITH_TORCH=OFF -DLRMEM_BUILD_TESTS=OFF \
      -DLRMEM_BUILD_BENCHMARKS=OFF \
 && cmake --build build --target lrmem-server lrmemctl

# --- runtime: the two binaries and the shared libraries they load -----------
FROM debian:12-slim

# Every package that ships a shared library `ldd` shows for the two binaries
# (RocksDB is linked statically, so only its compression libraries appear),
# plus prometheus-cpp for the metrics endpoint. The test maps ldd's output to
# packages with dpkg on every run, so a new dependency fails CI rather than
# the container's start.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libabsl20220623 \
      libbz2-1.0 \
      libc-ares2 \
      libc6 \
      libgcc-s1 \
      libgflags2.2 \
      libgoogle-glog0v6 \
      libgrpc++1.51 \
      libgrpc29 \
      liblz4-1 \
      liblzma5 \
      libprometheus-cpp-core1.0 \
      libprometheus-cpp-pull1.0 \
      libprotobuf32 \
      libre2-9 \
      libsnappy1v5 \
      libssl3 \
      libstdc++6 \
      libunwind8 \
      libzstd1 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/*

# A fixed numeric id, so that Kubernetes can check runAsNonRoot and a host
# directory can be prepared for it (chown 10001:10001).
RUN groupadd --system --gid 10001 lrmem \
 && useradd --system --uid 10001 --gid lrmem --no-create-home \
      --home-dir /var/lib/lrmem --shell /usr/sbin/nologin lrmem \
 && install -d -m 0750 -o lrmem -g lrmem /var/lib/lrmem

COPY --from=build /src/build/server/lrmem-server /src/build/server/lrmemctl \
     /usr/local/bin/
# Fail the image build, not the container start, if a library is missing.
RUN for binary in /usr/local/bin/lrmem-server /usr/local/bin/lrmemctl; do \
      if ldd "$binary" | grep 'not found'; then exit 1; fi; \
    done

USER 10001:10001
# Created with the right owner above; a fresh named volume copies it.
VOLUME /var/lib/lrmem
# gRPC (training streams, admin, health) and Prometheus metrics over HTTP.
EXPOSE 50051 9464

# The server drains on SIGTERM: health turns NOT_SERVING, open streams end
# within --shutdown_grace_period_ms, RocksDB is flushed, exit code 0. Give
# `docker stop` a --time longer than that grace period.
STOPSIGNAL SIGTERM
# lrmemctl gives up before Docker's timeout, so a hung server shows up as
# a failed check with a message rather than a killed one.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["lrmemctl", "health", "--server=127.0.0.1:50051", "--timeout_ms=2000"]
ENTRYPOINT ["lrmem-server", "--listen=0.0.0.0:50051", \
            "--data_dir=/var/lib/lrmem", "--metrics_listen=0.0.0.0:9464"]
