# kubeai-scaler's image: built and run on Debian 12 (bookworm), the release the
# project is developed and tested on; every dependency comes from Debian's
# archive.
#   docker build -t kubeai-scaler:0.1.0 .
# The runtime stage holds the binary, the example plugins and only the shared
# libraries the binary needs; test/deploy/dockerfile_test.py checks that every
# library `ldd` finds for the binary and the plugins comes from a package
# installed there.

FROM debian:12 AS build
WORKDIR /src
# The dependency layer first, so that a source change does not reinstall them.
COPY scripts/install-deps scripts/install-deps
RUN scripts/install-deps && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
      -DKUBEAI_BUILD_TESTS=OFF -DKUBEAI_BUILD_BENCHMARKS=OFF \
 && cmake --build /build -j"$(nproc)" \
 && cmake --install /build --prefix /install \
 && mkdir -p /install/plugins \
 && cp /build/plugins/*.so /install/plugins/ \
 && strip --strip-unneeded /install/bin/kubeai-scaler /install/plugins/*.so

FROM debian:12-slim AS runtime
# Runtime libraries only (the packages of the DT_NEEDED libraries of the binary,
# in Release and in the Debug build, which also links gRPC's own c-ares, re2, zlib;
# their own dependencies come with them). libc6, libgcc-s1 and libstdc++6 are
# in the base image already.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libabsl20220623 \
      libc-ares2 \
      libcurl4 \
      libfmt9 \
      libgrpc++1.51 \
      libgrpc29 \
      libmicrohttpd12 \
      libprometheus-cpp-core1.0 \
      libprotobuf32 \
      libre2-9 \
      libspdlog1.10 \
      libssl3 \
      libyaml-cpp0.7 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 kubeai \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin kubeai
COPY --from=build /install/bin/kubeai-scaler /usr/local/bin/kubeai-scaler
# The example plugins; deploy/deployment.yaml copies them into its plugin
# volume, to which more can be added (docs/install.md, "Plugins").
COPY --from=build /install/plugins/ /etc/kubeai-scaler/plugins/
COPY examples/policies /usr/local/share/kubeai-scaler/examples/policies
COPY examples/metrics.yaml /usr/local/share/kubeai-scaler/examples/metrics.yaml
USER 65532:65532
# Plugins are loaded from scratch copies in TMPDIR (an emptyDir in Kubernetes,
# where the root filesystem is read-only).
ENV TMPDIR=/tmp
EXPOSE 6000 8080
ENTRYPOINT ["/usr/local/bin/kubeai-scaler"]
# Without arguments: check the example policies against the example plugins.
# Kubernetes passes `serve --kubernetes ...` (deploy/deployment.yaml).
CMD ["validate", "--plugin-dir", "/etc/kubeai-scaler/plugins", "/usr/local/share/kubeai-scaler/examples/policies"]
