#!/bin/sh
# The example project's integration tests, run by `nexus-dev ci` (docs/ci.md):
#   cd examples/apps && nexus-dev ci --junit report.xml -- tests/integration.sh
# They call the backend over HTTP and read and write its DynamoDB table and S3 bucket through
# the emulator, with only what `nexus-dev ci` puts in the environment. Each check is a JUnit
# test case in $NEXUS_DEV_JUNIT, which `nexus-dev ci` merges into its own report.
set -u
: "${NEXUS_MYAPP_URL_BACKEND:?run me through nexus-dev ci}"
: "${AWS_ENDPOINT_URL:?run me through nexus-dev ci (a local profile)}"

failures=0
cases=""
marker="ci-$$-$(date +%s)"
# The emulator checks no signature; the credential scope selects the region.
auth="AWS4-HMAC-SHA256 Credential=$AWS_ACCESS_KEY_ID/20260101/$AWS_REGION/SERVICE/aws4_request, SignedHeaders=host, Signature=0"

check() { # NAME COMMAND...: runs the command, records a case
  name=$1
  shift
  out=$("$@" 2>&1)
  if [ $? -eq 0 ]; then
    echo "ok   $name"
    cases="$cases<testcase classname=\"examples/apps\" name=\"$name\"/>"
  else
    echo "FAIL $name: $out"
    failures=$((failures + 1))
    msg=$(printf '%s' "$out" | head -c 500 | sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g; s/"/\&quot;/g')
    cases="$cases<testcase classname=\"examples/apps\" name=\"$name\"><failure message=\"$msg\"/></testcase>"
  fi
}

hello() {
  curl -fsS "${NEXUS_MYAPP_URL_BACKEND}api/hello" | grep -q "hello from the example api"
}

dynamodb() { # TARGET BODY
  curl -fsS -X POST "$AWS_ENDPOINT_URL/" \
    -H "Content-Type: application/x-amz-json-1.0" \
    -H "X-Amz-Target: DynamoDB_20120810.$1" \
    -H "Authorization: $(echo "$auth" | sed s/SERVICE/dynamodb/)" \
    -d "$2"
}

# The backend's read, retried: on a cluster a minute old the pod's first lookup of the emulator's
# name (CoreDNS, then the node's Docker DNS) can still miss, as any client of it would retry.
# Each different answer is printed (the backend's log says the same, with the reason).
backend_table() {
  last=""
  for try in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
    answer=$(curl -sS -w ' (HTTP %{http_code})' "${NEXUS_MYAPP_URL_BACKEND}api/table" 2>&1)
    case "$answer" in *"$marker"*) return 0 ;; esac
    [ "$answer" = "$last" ] || echo "try $try: $answer"
    last=$answer
    sleep 2
  done
  return 1
}

table_round_trip() {
  dynamodb PutItem "{\"TableName\": \"$NEXUS_MYAPP_DYNAMODB_LICENSE_TABLE\", \"Item\": {\"pk\": {\"S\": \"$marker\"}, \"sk\": {\"S\": \"ci\"}}}" >/dev/null &&
    backend_table &&
    dynamodb DeleteItem "{\"TableName\": \"$NEXUS_MYAPP_DYNAMODB_LICENSE_TABLE\", \"Key\": {\"pk\": {\"S\": \"$marker\"}, \"sk\": {\"S\": \"ci\"}}}" >/dev/null
}

bucket_round_trip() {
  url="$AWS_ENDPOINT_URL/$NEXUS_MYAPP_S3_CALL_DATA_BUCKET/ci/$marker.txt"
  s3auth=$(echo "$auth" | sed s/SERVICE/s3/)
  curl -fsS -X PUT "$url" -H "Authorization: $s3auth" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --data-binary "$marker" >/dev/null &&
    [ "$(curl -fsS "$url" -H "Authorization: $s3auth" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")" = "$marker" ] &&
    curl -fsS -X DELETE "$url" -H "Authorization: $s3auth" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" >/dev/null
}

check "the backend answers over HTTP" hello
check "an item written to the license table is read by the backend" table_round_trip
check "an object round-trips through the call-data bucket" bucket_round_trip

if [ -n "${NEXUS_DEV_JUNIT:-}" ]; then
  printf '<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="examples/apps integration" tests="3" failures="%s">%s</testsuite>\n' \
    "$failures" "$cases" >"$NEXUS_DEV_JUNIT"
fi
[ "$failures" -eq 0 ]
