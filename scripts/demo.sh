#!/bin/sh
# The demo: the main job on the embedded defaults. No Telegram account, no database to
# install, no network: an embedded PostgreSQL of its own under .demo/ in the checkout
# (DEMO_HOME), the bundled sample exports (and the shared real export when present), the
# rules extractor, and the digest printed with --dry-run instead of sent.
#
# It never touches an installation: not DATABASE_URL, not ./.env (it reads an empty env
# file of its own), not the user's CIVICQUANT_HOME, not a routes file.
set -eu
PY=${DEMO_PYTHON:-.venv/bin/python}
CQ="$(dirname "$PY")/civicquant"
SAMPLES=$("$PY" -c 'import civicquant.samples, os; print(os.path.dirname(civicquant.samples.__file__))')
SHARED_EXPORT=../shared/data/trantor_library_result.json
DEMO_HOME=${DEMO_HOME:-$(pwd)/.demo}
mkdir -p "$DEMO_HOME"
DEMO_ENV="$DEMO_HOME/demo.env"
[ -f "$DEMO_ENV" ] || echo "# make demo's settings: none (the embedded defaults)" > "$DEMO_ENV"

# Only the demo's own settings: never a DATABASE_URL, an env file, a home, routes or a bot
# token from the environment.
run() {
  env -u DATABASE_URL -u TG_BOT_TOKEN -u CIVICQUANT_ROUTES -u TG_VIP_CHAT_ID \
    CIVICQUANT_HOME="$DEMO_HOME" CIVICQUANT_ENV_FILE="$DEMO_ENV" \
    LLM_PROVIDER=rules LOG_LEVEL=WARNING LOG_FORMAT=console "$CQ" "$@"
}

echo "== civicquant db migrate"
run db migrate
echo
echo "== civicquant backfill --from-export (the bundled sample channels)"
run backfill --from-export "$SAMPLES/demo_wirewatch.json" --channels @wirewatch_demo
run backfill --from-export "$SAMPLES/demo_marketpulse.json" --channels @marketpulse_demo
if [ -f "$SHARED_EXPORT" ]; then
  echo
  echo "== civicquant backfill --from-export $SHARED_EXPORT (a real Telegram Desktop export)"
  run backfill --from-export "$SHARED_EXPORT"
fi
echo
echo "== civicquant extract --oneshot --no-side-effects (rules extractor)"
run extract --oneshot --no-side-effects
echo
echo "== civicquant digest --dry-run --at 2026-11-20T10:00:00Z"
run digest --dry-run --at 2026-11-20T10:00:00Z
