FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bin quiver

FROM debian:bookworm-slim
COPY --from=build /src/target/release/quiver /usr/local/bin/quiver
EXPOSE 19530
ENTRYPOINT ["quiver"]
