#!/bin/sh
# `docker compose` for the hotline deployment, from any folder: the versions come from
# scripts/versions.env (the one source the set-up scripts read too), the secrets from
# docker/.env (later files win; the shell's environment wins over both). Arguments go to
# docker compose, e.g. `docker/compose.sh up -d --build`, `docker/compose.sh ps`.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -f "$here/.env" ]; then
  echo "compose.sh: no $here/.env: copy $here/env.example there and fill it in" >&2
  exit 1
fi
exec docker compose --project-directory "$here" -f "$here/compose.yaml" \
  --env-file "$here/../scripts/versions.env" --env-file "$here/.env" "$@"
