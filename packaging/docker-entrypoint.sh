#!/bin/sh
# Entry point of the Concord image: runs `concord` with the container's arguments. For
# `cluster start` (the default command) it first creates the cluster, from CONCORD_NAME,
# CONCORD_ADMIN_USER and CONCORD_ADMIN_PASSWORD (or CONCORD_ADMIN_PASSWORD_FILE, for a
# secret mounted as a file), when the data directory holds none yet; later starts find
# the cluster in the volume and leave it as it is.
set -eu

if [ "$#" -eq 0 ]; then
    set -- cluster start --dir /var/lib/concord
fi

if [ "$#" -ge 2 ] && [ "$1" = cluster ] && [ "$2" = start ]; then
    # The directory `cluster start` was given, so init writes where start reads.
    dir=/var/lib/concord
    prev=
    for arg in "$@"; do
        case "$prev:$arg" in
            --dir:*) dir=$arg ;;
            *:--dir=*) dir=${arg#--dir=} ;;
        esac
        prev=$arg
    done
    if [ ! -e "$dir/cluster.redb" ]; then
        if [ -n "${CONCORD_ADMIN_PASSWORD_FILE:-}" ]; then
            CONCORD_ADMIN_PASSWORD=$(cat "$CONCORD_ADMIN_PASSWORD_FILE")
        fi
        : "${CONCORD_NAME:?must name the cluster (its host name) on first start}"
        : "${CONCORD_ADMIN_USER:?must name the first Admin user on first start}"
        : "${CONCORD_ADMIN_PASSWORD:?must give the Admin password on first start}"
        concord cluster init --dir "$dir" --name "$CONCORD_NAME" \
            --admin-user "$CONCORD_ADMIN_USER" --admin-password "$CONCORD_ADMIN_PASSWORD"
    fi
fi

# exec: concord becomes PID 1 and gets `docker stop`'s SIGTERM itself, so it stops its
# instances cleanly.
exec concord "$@"
