#!/usr/bin/env bash
# The README's walkthrough and the docs pages' examples, run as written: every command of the sh
# blocks of README.md and the docs pages is in this file, page after page in the order of
# docPages in readme_test.go (README.md, docs/CONFIGURATION.md, ..., docs/OPERATIONS.md), each
# followed by a check of what it printed. readme_test.go checks that.
#
# It starts the server with `go run .` on port 8080 over a SQLite database in a temporary folder
# and, when MariaDB answers on 127.0.0.1:3306, two replicas on ports 8081 and 8082 over a new
# database named `community`, and a server on port 8083 over its restored backup,
# `community_restored`; both databases are dropped at the end. Needs Go, curl and openssl; the
# Node.js example needs npm, the SQLite backup sqlite3, and the replicas and the MySQL backup the
# mariadb client: outside CI a part whose tools are missing is skipped with a message, under
# CI=true it fails. .ci/run runs it after the tests.
# shellcheck disable=SC2016 # GraphQL variables ($id, $t) are meant literally in single quotes
set -euo pipefail
set -m # every server gets its own process group: stopping it stops `go run` and the server it ran

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
OUT="$WORK/out"
PIDS=()
CREATED_DBS=()
OK=""
CURRENT="" # the step running now
PASSED=0
SKIPPED=0

# step NAME: the previous step passed, NAME starts.
step() {
  if [ -n "$CURRENT" ]; then PASSED=$((PASSED + 1)); fi
  CURRENT=$1
  printf '==> %s\n' "$1"
}
fail() {
  echo "walkthrough: FAIL: $*" >&2
  exit 1
}
# skip_or_fail REASON: outside CI a part without its tools is skipped; under CI it fails.
skip_or_fail() {
  if [ "${CI:-}" = true ]; then fail "$1 (required under CI=true)"; fi
  echo "walkthrough: skipped: $1"
  SKIPPED=$((SKIPPED + 1))
  CURRENT=""
}
# expect TEXT: the last command's output holds TEXT.
expect() { grep -qF -- "$1" "$OUT" || fail "expected $1 in: $(cat "$OUT")"; }
# expect_lines: every line of stdin is a whole line of the last command's output.
expect_lines() {
  local line
  while IFS= read -r line; do
    grep -qxF -- "$line" "$OUT" || fail "expected the line $line in: $(cat "$OUT")"
  done
}
# wait_ready URL PID LOG: wait until the server started as PID answers URL/readyz.
wait_ready() {
  for _ in $(seq 1 360); do
    if curl -fs -o /dev/null "$1/readyz"; then return 0; fi
    kill -0 "$2" 2>/dev/null || fail "the server stopped: $(tail -n 20 "$3")"
    sleep 0.5
  done
  fail "the server did not get ready: $(tail -n 20 "$3")"
}
# stop_server PID: stop the server started as PID (its process group: `go run` and the server it
# ran) with SIGTERM, and wait until every process of the group is gone.
stop_server() {
  local kept=() p
  disown "$1" # no job notice: the end is expected
  kill -TERM -- "-$1" 2>/dev/null || true
  for _ in $(seq 1 120); do
    kill -0 -- "-$1" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 -- "-$1" 2>/dev/null; then fail "the server $1 did not stop"; fi
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
  PIDS=("${kept[@]}")
}
cleanup() {
  local status=$?
  set +m
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for db in "${CREATED_DBS[@]}"; do
    mariadb -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $db" || true
  done
  if [ -z "$OK" ]; then
    for f in "$WORK"/*.log; do
      [ -f "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
    done
    echo "walkthrough: FAILED in step: $CURRENT (status $status)" >&2
    echo "walkthrough: $PASSED passed, 1 failed, $SKIPPED skipped"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

for tool in curl openssl go; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
if curl -s -o /dev/null --max-time 2 http://localhost:8080/; then
  fail "port 8080 is in use: stop what listens there first"
fi

step "1. start the server with a first admin"
cd "$ROOT"
export DATABASE_URL="sqlite://$WORK/data/community.db"
export ADMIN_EMAIL=owner@example.com
export ADMIN_PASSWORD='choose-a-long-password'
go run . >"$WORK/server.log" 2>&1 &
PIDS+=("$!")
wait_ready http://localhost:8080 "$!" "$WORK/server.log"
grep -qF 'serving on http://localhost:8080 (listening on [::]:8080)' "$WORK/server.log" || fail "start-up message: $(cat "$WORK/server.log")"
grep -qF "data: SQLite database $WORK/data/community.db, secret key $WORK/data/secret.key" "$WORK/server.log" || fail "data message: $(cat "$WORK/server.log")"
cd "$WORK"
curl -s localhost:8080/graphql -H 'Content-Type: application/json' -d '{"query":"{ __typename }"}' >"$OUT"
expect '{"data":{"__typename":"Query"}}'

step "2. sign in as the admin, and get an API token"
curl -s -c admin.txt -o /dev/null -w '%{http_code}\n' -d email=owner@example.com -d password=choose-a-long-password http://localhost:8080/auth/login/direct >"$OUT"
expect_lines <<<'303'
grep -q 'community_session' admin.txt || fail "no session cookie: $(cat admin.txt)"
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
TOKEN=$(curl -s -b admin.txt http://localhost:8080/graphql -H 'Content-Type: application/json' \
  -d '{"query":"mutation { createApiToken(name: \"setup script\") { token } }"}' | field token)
case "$TOKEN" in cst_?*) ;; *) fail "no API token: '$TOKEN'" ;; esac
gql() {  # gql 'GRAPHQL' ['{"variable":"value"}']: one GraphQL operation with the API token
  curl -s http://localhost:8080/graphql -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
    -d "{\"query\":\"$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g' | tr '\n' ' ')\",\"variables\":${2:-null}}"
  echo
}
gql '{ me { email role } }' >"$OUT"
expect_lines <<'JSON'
{"data":{"me":{"email":"owner@example.com","role":"ADMIN"}}}
JSON

step "3. turn on JWT SSO"
JWT_SECRET=$(gql 'mutation { regenerateJwtSsoSecret }' | field regenerateJwtSsoSecret)
[ "${#JWT_SECRET}" = 64 ] || fail "the JWT SSO secret is not 64 characters: '$JWT_SECRET'"
gql 'mutation { updateJwtSsoSettings(input: {enabled: true, loginButtonText: "Sign in with Example", authorizationUrl: "https://www.example.com/community-login"}) { jwtSso { enabled hasSecret endpointUrl } } }' >"$OUT"
expect_lines <<'JSON'
{"data":{"updateJwtSsoSettings":{"jwtSso":{"enabled":true,"hasSecret":true,"endpointUrl":"http://localhost:8080/api/auth/sso"}}}}
JSON

step "4. sign a token the way the customer's server does (Node.js)"
KIM=""
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  skip_or_fail "the Node.js example needs node and npm"
else
  cp "$ROOT/docs/examples/sign.js" .
  set +e
  npm install jsonwebtoken@9 >"$WORK/npm.log" 2>&1
  npm_status=$?
  set -e
  if [ "$npm_status" = 0 ]; then
    LINK=$(JWT_SECRET=$JWT_SECRET COMMUNITY_URL=http://localhost:8080 node sign.js)
    case "$LINK" in http://localhost:8080/api/auth/sso?jwt=ey*'&redirect_uri=%2F') ;; *) fail "sign.js printed '$LINK'" ;; esac
    curl -s -o /dev/null -w '%{http_code} %{redirect_url}\n' "$LINK" >"$OUT"
    expect_lines <<'TEXT'
303 http://localhost:8080/
TEXT
    KIM=signed-in
  else
    skip_or_fail "npm install jsonwebtoken@9 failed: $(tail -n 3 "$WORK/npm.log")"
  fi
fi

step "4. sign a token the way the customer's server does (openssl)"
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
sign_jwt() {  # sign_jwt SUB EMAIL NAME: a single-use token, valid for 5 minutes
  local now head body
  now=$(date +%s)
  head=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
  body=$(printf '{"sub":"%s","email":"%s","name":"%s","iat":%d,"exp":%d,"jti":"%s"}' "$1" "$2" "$3" "$now" "$((now + 300))" "$(openssl rand -hex 16)" | b64url)
  printf '%s.%s.%s\n' "$head" "$body" "$(printf '%s.%s' "$head" "$body" | openssl dgst -sha256 -hmac "$JWT_SECRET" -binary | b64url)"
}
if [ -z "$KIM" ]; then
  # Without the Node.js example, Kim signs in here, so the ids further down stay the same.
  curl -s -o /dev/null "http://localhost:8080/api/auth/sso?jwt=$(sign_jwt 1003 kim@example.com 'Kim Park')"
fi
JWT=$(sign_jwt cust-1001 pat@example.com 'Pat Doe')
case "$JWT" in ey*.ey*.?*) ;; *) fail "sign_jwt printed '$JWT'" ;; esac

step "5. open the link"
curl -s -i -c pat.txt "http://localhost:8080/api/auth/sso?jwt=$JWT&redirect_uri=/" >"$OUT"
expect 'HTTP/1.1 303 See Other'
expect $'Location: /\r'
expect 'Set-Cookie: community_session='
expect 'HttpOnly; SameSite=Lax'
curl -s -b pat.txt http://localhost:8080/graphql -H 'Content-Type: application/json' -d '{"query":"{ me { externalId email name role } }"}' >"$OUT"
expect_lines <<'JSON'
{"data":{"me":{"externalId":"cust-1001","email":"pat@example.com","name":"Pat Doe","role":"MEMBER"}}}
JSON
curl -s -H 'Accept: application/json' "http://localhost:8080/api/auth/sso?jwt=$JWT" >"$OUT"
expect_lines <<'JSON'
{"error":{"code":"TOKEN_REPLAYED","message":"This sign-in link was already used."}}
JSON

step "6. fix an account conflict with updateUser"
SAM=$(gql 'mutation { createUser(input: {email: "sam@example.com", name: "Sam Lee", externalId: "crm-7"}) { id } }' | field id)
[ "$SAM" = 38654705668 ] || fail "Sam's id is '$SAM', the README says 38654705668"
curl -s -H 'Accept: application/json' "http://localhost:8080/api/auth/sso?jwt=$(sign_jwt cust-1002 sam@example.com 'Sam Lee')" >"$OUT"
expect_lines <<'JSON'
{"error":{"code":"SSO_CONFLICT","message":"Your email address already belongs to another community account."}}
JSON
gql '{ securityEvents(first: 1, where: {type: "SSO_CONFLICT"}) { edges { node { method detail } } } }' >"$OUT"
gql 'query($t: String!) { inspectJwtSsoToken(token: $t) { decision reason user { id externalId } } }' "{\"t\":\"$(sign_jwt cust-1002 sam@example.com 'Sam Lee')\"}" >>"$OUT"
expect_lines <<'JSON'
{"data":{"securityEvents":{"edges":[{"node":{"method":"JWT","detail":{"email":"sam@example.com","existingExternalId":"crm-7","existingUserId":"38654705668","fix":"updateUser: clear or change the existing user's externalId, or change one of the emails","incomingExternalId":"cust-1002"}}}]}}}
{"data":{"inspectJwtSsoToken":{"decision":"CONFLICT","reason":"SSO_CONFLICT","user":{"id":"38654705668","externalId":"crm-7"}}}}
JSON
gql 'mutation($id: ID!) { updateUser(id: $id, input: {externalId: "cust-1002"}) { email externalId } }' "{\"id\":\"$SAM\"}" >"$OUT"
expect_lines <<'JSON'
{"data":{"updateUser":{"email":"sam@example.com","externalId":"cust-1002"}}}
JSON
curl -s -o /dev/null -w '%{http_code} %{redirect_url}\n' "http://localhost:8080/api/auth/sso?jwt=$(sign_jwt cust-1002 sam@example.com 'Sam Lee')&redirect_uri=/" >"$OUT"
expect_lines <<'TEXT'
303 http://localhost:8080/
TEXT

step "the server log carries no token, secret or password"
for secret in "$TOKEN" "$JWT_SECRET" "$JWT" "$ADMIN_PASSWORD"; do
  if grep -qF -- "$secret" "$WORK/server.log"; then fail "the server log shows a secret"; fi
done
grep -qF '"query":"jwt=REDACTED&redirect_uri=/"' "$WORK/server.log" || fail "the server log does not show the sign-in link, redacted"

step "docs/CONFIGURATION.md: --help and version"
cd "$ROOT"
go run . --help >"$OUT"
expect 'migrate status'
expect 'DATABASE_URL               sqlite://data/community.db'
expect 'NAME_FILE'
go run . version >"$OUT"
expect_lines <<<'sso (devel)'
grep -qx 'go1\.[0-9.]*' "$OUT" || fail "version prints no Go version: $(cat "$OUT")"

step "docs/JWT_KEYS.md: tokens signed with key pairs (openssl, Node.js)"
cd "$WORK"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rs256.key.pem 2>/dev/null
openssl pkey -in rs256.key.pem -pubout -out rs256.pub.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out es256.key.pem 2>/dev/null
openssl pkey -in es256.key.pem -pubout -out es256.pub.pem
openssl genpkey -algorithm ED25519 -out eddsa.key.pem
openssl pkey -in eddsa.key.pem -pubout -out eddsa.pub.pem
pem_json() { sed -z 's/\n/\\n/g' "$1"; } # a PEM file as a JSON string's contents
gql 'mutation($k: [String!]) { updateJwtSsoSettings(input: {publicKeys: $k}) { jwtSso { enabled hasSecret } } }' \
  "{\"k\":[\"$(pem_json rs256.pub.pem)\",\"$(pem_json es256.pub.pem)\",\"$(pem_json eddsa.pub.pem)\"]}" >"$OUT"
expect_lines <<'JSON'
{"data":{"updateJwtSsoSettings":{"jwtSso":{"enabled":true,"hasSecret":true}}}}
JSON
if [ -z "$KIM" ]; then
  skip_or_fail "the Node.js key example needs node and jsonwebtoken (step 4)"
else
  cp "$ROOT/docs/examples/sign-keys.js" .
  JWT_SECRET=$JWT_SECRET COMMUNITY_URL=http://localhost:8080 node sign-keys.js >links.txt
  [ "$(wc -l <links.txt)" = 3 ] || fail "sign-keys.js printed: $(cat links.txt)"
  : >"$OUT"
  while read -r link; do
    curl -s -o /dev/null -w '%{http_code} %{redirect_url}\n' "$link" >>"$OUT"
  done <links.txt
  [ "$(grep -cx '303 http://localhost:8080/' "$OUT")" = 3 ] || fail "the key-signed links: $(cat "$OUT")"
fi

step "docs/API.md: session tokens for apps"
cd "$WORK"
JWT=$(sign_jwt cust-1001 pat@example.com 'Pat Doe')
curl -s http://localhost:8080/api/auth/sso/token -H 'Content-Type: application/json' -d "{\"jwt\":\"$JWT\"}" -o login.json
SESSION=$(field token <login.json)
case "$SESSION" in css_?*) ;; *) fail "no session token: $(cat login.json)" ;; esac
grep -qE '^\{"token":"css_[A-Za-z0-9_-]{43}","expiresAt":"20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z","user":\{"id":"38654705667"\}\}$' login.json ||
  fail "the token answer: $(cat login.json)"
curl -s http://localhost:8080/graphql -H 'Content-Type: application/json' -H "Authorization: Bearer $SESSION" -d '{"query":"{ me { externalId email } }"}' >"$OUT"
expect_lines <<'JSON'
{"data":{"me":{"externalId":"cust-1001","email":"pat@example.com"}}}
JSON
curl -s -o /dev/null -w '%{http_code}\n' -X POST http://localhost:8080/auth/logout -H "Authorization: Bearer $SESSION" >"$OUT"
expect_lines <<<'204'
curl -s http://localhost:8080/graphql -H 'Content-Type: application/json' -H "Authorization: Bearer $SESSION" -d '{"query":"{ me { email } }"}' >"$OUT"
expect_lines <<'JSON'
{"errors":[{"extensions":{"code":"UNAUTHENTICATED"},"message":"the bearer token is invalid, expired or revoked"}]}
JSON
for secret in "$SESSION" "$JWT"; do
  if grep -qF -- "$secret" "$WORK/server.log"; then fail "the server log shows an app's token"; fi
done

step "docs/API.md: syncing members without a login"
curl -s -X POST http://localhost:8080/api/auth/sso/sync -H "Authorization: Bearer $(sign_jwt cust-1001 pat@example.com 'Pat Doe')" >"$OUT"
expect_lines <<'JSON'
{"user":{"id":"38654705667","externalId":"cust-1001","email":"pat@example.com"},"decision":"UNCHANGED","changes":[]}
JSON

step "docs/OPERATIONS.md: replicas on MySQL/MariaDB"
MARIADB="" # set when the MySQL/MariaDB parts run
if ! command -v mariadb >/dev/null || ! command -v mariadb-dump >/dev/null; then
  skip_or_fail "the replica and backup examples need the mariadb client (mariadb, mariadb-dump)"
elif ! mariadb -h 127.0.0.1 -u root -e 'SELECT 1' >/dev/null 2>&1; then
  skip_or_fail "the replica example needs MariaDB on 127.0.0.1:3306 (root, no password)"
elif [ -n "$(mariadb -h 127.0.0.1 -u root -N -e "SHOW DATABASES LIKE 'community'")" ]; then
  skip_or_fail "a database named community already exists on 127.0.0.1:3306; the replica example creates it"
elif [ -n "$(mariadb -h 127.0.0.1 -u root -N -e "SHOW DATABASES LIKE 'community\_restored'")" ]; then
  skip_or_fail "a database named community_restored already exists on 127.0.0.1:3306; the backup example creates it"
elif curl -s -o /dev/null --max-time 2 http://localhost:8081/ || curl -s -o /dev/null --max-time 2 http://localhost:8082/ ||
  curl -s -o /dev/null --max-time 2 http://localhost:8083/; then
  skip_or_fail "port 8081, 8082 or 8083 is in use"
else
  MARIADB=yes
  cd "$ROOT"
  mariadb -h 127.0.0.1 -u root -e 'CREATE DATABASE community CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci'
  CREATED_DBS+=(community)
  export DATABASE_URL='mysql://root@tcp(127.0.0.1:3306)/community?parseTime=true'
  # shellcheck disable=SC2155 # the README's line, as written
  export SECRET_KEY="$(openssl rand -base64 32)"
  ADDR=:8081 go run . >"$WORK/replica1.log" 2>&1 &
  PIDS+=("$!")
  curl -s --retry 60 --retry-connrefused --retry-delay 1 localhost:8081/readyz >"$OUT"
  expect_lines <<<'ready'
  ADDR=:8082 MIGRATE=check go run . >"$WORK/replica2.log" 2>&1 &
  PIDS+=("$!")
  curl -s --retry 60 --retry-connrefused --retry-delay 1 localhost:8082/readyz >"$OUT"
  expect_lines <<<'ready'
  cd "$WORK"
  curl -s -c replica.txt -o /dev/null -d email=owner@example.com -d password=choose-a-long-password localhost:8081/auth/login/direct
  curl -s -b replica.txt localhost:8082/graphql -H 'Content-Type: application/json' -d '{"query":"{ me { email } }"}' >"$OUT"
  expect_lines <<'JSON'
{"data":{"me":{"email":"owner@example.com"}}}
JSON

  step "docs/OPERATIONS.md: migrations"
  cd "$ROOT"
  go run . migrate status >"$OUT"
  expect 'current version: '
  expect_lines <<<'pending: none'
  go run . migrate up >"$OUT"
  expect_lines <<<'nothing to apply'
fi

step "docs/OPERATIONS.md: backups on SQLite"
if ! command -v sqlite3 >/dev/null; then
  skip_or_fail "the SQLite backup example needs the sqlite3 command (Debian: apt-get install sqlite3)"
else
  cd "$WORK" # the folder the server of step 1 keeps its data in: data/community.db
  mkdir -p -m 700 backup
  sqlite3 data/community.db ".backup backup/community.db"
  cp -p data/secret.key backup/secret.key
  [ "$(stat -c %a backup backup/secret.key)" = $'700\n600' ] || fail "backup/ and its key are not private: $(ls -la backup)"
  sqlite3 data/community.db "VACUUM INTO 'backup/community-compact.db'"
  sqlite3 backup/community.db "PRAGMA integrity_check" >"$OUT"
  expect_lines <<<'ok'
  sqlite3 backup/community-compact.db "PRAGMA integrity_check" >"$OUT"
  expect_lines <<<'ok'
  # A change after the backup, which restoring it takes back.
  gql 'mutation { createSpace(input: {name: "After the backup", slug: "after-backup"}) { slug } }' >"$OUT"
  expect '"slug":"after-backup"'
  stop_server "${PIDS[0]}"
  rm -f data/community.db-wal data/community.db-shm
  cp backup/community.db data/community.db
  cp -p backup/secret.key data/secret.key
  # The same server again, on the restored folder (the replicas' part exported another database and key).
  cd "$ROOT"
  env -u SECRET_KEY DATABASE_URL="sqlite://$WORK/data/community.db" go run . >"$WORK/restored.log" 2>&1 &
  PIDS+=("$!")
  wait_ready http://localhost:8080 "$!" "$WORK/restored.log"
  cd "$WORK"
  gql '{ me { email } spaces(first: 10) { edges { node { slug } } } }' >"$OUT"
  expect_lines <<<'{"data":{"me":{"email":"owner@example.com"},"spaces":{"edges":[]}}}'
  # The JWT SSO secret, sealed in the database, opens with the restored key: Pat signs in again.
  curl -s -o /dev/null -w '%{http_code}\n' "http://localhost:8080/api/auth/sso?jwt=$(sign_jwt cust-1001 pat@example.com 'Pat Doe')" >"$OUT"
  expect_lines <<<'303'
fi

if [ -n "$MARIADB" ]; then
  step "docs/OPERATIONS.md: backups on MySQL/MariaDB"
  cd "$WORK"
  mariadb-dump -h 127.0.0.1 -u root --single-transaction --hex-blob community > community.sql
  grep -q 'CREATE TABLE `atlas_schema_revisions`' community.sql || fail "the dump has no atlas_schema_revisions table"
  mariadb -h 127.0.0.1 -u root -e 'CREATE DATABASE community_restored CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci'
  CREATED_DBS+=(community_restored)
  mariadb -h 127.0.0.1 -u root community_restored < community.sql
  cd "$ROOT"
  DATABASE_URL='mysql://root@tcp(127.0.0.1:3306)/community_restored?parseTime=true' go run . migrate status >"$OUT"
  expect 'current version: '
  expect_lines <<<'pending: none'
  ADDR=:8083 DATABASE_URL='mysql://root@tcp(127.0.0.1:3306)/community_restored?parseTime=true' go run . >"$WORK/restored-mysql.log" 2>&1 &
  PIDS+=("$!")
  curl -s --retry 60 --retry-connrefused --retry-delay 1 localhost:8083/readyz >"$OUT"
  expect_lines <<<'ready'
  cd "$WORK"
  curl -s -b replica.txt localhost:8083/graphql -H 'Content-Type: application/json' -d '{"query":"{ me { email } }"}' >"$OUT"
  expect_lines <<'JSON'
{"data":{"me":{"email":"owner@example.com"}}}
JSON
fi

step "docs/EMBEDDING.md: an app signs in with a session token (Node.js)"
if ! command -v node >/dev/null; then
  skip_or_fail "the app example needs node"
else
  cd "$WORK"
  cp "$ROOT/docs/examples/app.js" .
  JWT=$(sign_jwt cust-1001 pat@example.com 'Pat Doe') COMMUNITY_URL=http://localhost:8080 node app.js >"$OUT"
  expect_lines <<'TEXT'
{"me":{"externalId":"cust-1001","email":"pat@example.com"}}
the session ended: sign in again
TEXT
fi

if [ -n "$CURRENT" ]; then PASSED=$((PASSED + 1)); fi
OK=yes
echo "walkthrough: every command of the README and the docs pages ran as documented"
echo "walkthrough: $PASSED passed, 0 failed, $SKIPPED skipped"
