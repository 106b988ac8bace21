# The kbench image the compose `distributed` profile and deploy/k8s/ run: a release build
# (librdkafka and OpenSSL from vendored source, so no system Kafka or TLS library).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p kbench

FROM debian:bookworm-slim
COPY --from=build /src/target/release/kbench /usr/local/bin/kbench
ENTRYPOINT ["kbench"]
