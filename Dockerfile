# Build and runtime from the same Debian release the project is developed and
# tested on; dependencies come from Debian's archive only.
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps scripts/install-deps
RUN scripts/install-deps
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DKUBEAI_BUILD_TESTS=OFF -DKUBEAI_BUILD_BENCHMARKS=OFF \
 && cmake --build /build -j"$(nproc)" \
 && cmake --install /build --prefix /install \
 && mkdir -p /install/lib/kubeai-scaler/plugins \
 && cp /build/plugins/*.so /install/lib/kubeai-scaler/plugins/

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libyaml-cpp0.7 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /install/bin/kubeai-scaler /usr/local/bin/kubeai-scaler
COPY --from=build /install/lib/kubeai-scaler/plugins /usr/local/lib/kubeai-scaler/plugins
COPY examples /usr/local/share/kubeai-scaler/examples
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kubeai-scaler"]
CMD ["validate", "--plugin-dir", "/usr/local/lib/kubeai-scaler/plugins", "/usr/local/share/kubeai-scaler/examples/policies"]
