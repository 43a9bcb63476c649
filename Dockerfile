# syntax=docker/dockerfile:1
# Concord in a small Debian image, running the manager of a participating cluster
# (`concord cluster start`) as the unprivileged user `concord`, its state in the volume
# /var/lib/concord. On first start packaging/docker-entrypoint.sh creates the cluster
# from CONCORD_NAME, CONCORD_ADMIN_USER and CONCORD_ADMIN_PASSWORD:
#
#   docker build -t concord .
#   docker run -d --name concord --stop-timeout 90 -p 9443:9443 \
#       -v concord-data:/var/lib/concord -e CONCORD_NAME=east.example.com \
#       -e CONCORD_ADMIN_USER=admin@example.com -e CONCORD_ADMIN_PASSWORD='a long password' \
#       concord
#
# Any other arguments run that `concord` command instead, e.g.
#   docker run --rm concord crdb list --cluster-url https://east.example.com:9443 ...

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The caches keep the registry and the build between builds of the image; the binary is
# copied out of the cached target directory since a cache mount is not in the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p concord \
    && install -m 0755 target/release/concord /usr/local/bin/concord

FROM debian:bookworm-slim
# ca-certificates: other clusters' API certificates may be signed by a public CA. It is
# not pinned: the image should get the suite's current roots.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 concord \
    && useradd --system --uid 10001 --gid concord --home-dir /var/lib/concord \
        --shell /usr/sbin/nologin concord \
    && install -d -o concord -g concord -m 0700 /var/lib/concord
COPY --from=build /usr/local/bin/concord /usr/local/bin/concord
COPY --chmod=0755 packaging/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
# By number, so a runtime that refuses root (runAsNonRoot) can tell without /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/concord
VOLUME /var/lib/concord
# 9443: the REST API (HTTPS). 8443: the web console (HTTPS). 10000-19999: the ports `concord cluster init` gives databases by default
# (--ports); their instances listen on 127.0.0.1 for now, so from outside the container
# only the REST API and the console are reachable.
EXPOSE 9443 8443 10000-19999
# The manager stops its instances on SIGTERM, each with up to 20 s to finish writing its
# files: give `docker stop` more than its default 10 s (--stop-timeout 90 above).
STOPSIGNAL SIGTERM
# The entry point is `concord` with the arguments given, after creating the cluster on
# the first `cluster start`.
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["cluster", "start", "--dir", "/var/lib/concord"]
