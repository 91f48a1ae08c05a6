#!/bin/bash
# The HTTPS client of the token endpoints (plugin/fetchmail-http.cc:
# libcurl's multi socket API in the Dovecot ioloop) through
# fetchmail-http-probe against the sandbox's OAuth2 test provider:
# certificate checks, HTTPS only, bounded bodies, timeouts, broken
# answers, cancel and destroy semantics, and many requests at once without
# blocking the ioloop.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/oauth2-lib.sh
source "$(dirname "$0")/oauth2-lib.sh"
export SANDBOX_EXTRAS=oauth2
sandbox_up

PROBE=$FETCHMAIL_BUILD_DIR/tests/tools/fetchmail-http-probe
[[ -x $PROBE ]] || fatal "$PROBE is not built"
TOKEN=$OAUTH2_PROVIDER_URL/token
probe() { "$PROBE" --url "$TOKEN" --ca-file "$CA_FILE" "$@"; }
RT=$(provider_issue alice)
GOOD="grant_type=refresh_token&refresh_token=$RT&client_id=$OAUTH2_CLIENT_ID&client_secret=$OAUTH2_CLIENT_SECRET"

check "a token request through the client, verified against the sandbox CA"
assert_ok probe --body "$GOOD" --parse token
assert_contains "$OUT" "status=200 outcome=ok expires_in=${SANDBOX_OAUTH2_TTL:-5} rotated=yes" "a rotated token"
assert_ok probe --body "$GOOD" --parse token
assert_contains "$OUT" "status=400 outcome=consent needed" "the used refresh token is refused"
assert_contains "$OUT" "invalid_grant: refresh token already used" "with the provider's reason"

check "certificates are verified"
assert_exit 1 "$PROBE" --url "$TOKEN" --ca-file "$SANDBOX_DIR/untrusted/ca.pem"
assert_contains "$OUT" "error=tls" "another CA: TLS error"
assert_contains "$OUT" "SSL certificate problem" "the reason"
assert_exit 1 "$PROBE" --url "$TOKEN"
assert_contains "$OUT" "error=tls" "the system CAs don't know the sandbox CA"

check "HTTPS only, no redirects followed"
assert_exit 1 probe --url "http://127.0.0.1:$OAUTH2_PROVIDER_PORT/token"
assert_contains "$OUT" "error=protocol" "plain http refused"
assert_contains "$OUT" 'Protocol "http" not supported' "by libcurl"
assert_ok probe --url "$OAUTH2_PROVIDER_URL/authorize" --body "txn=x"
assert_contains "$OUT" "status=400" "an error page is an answer, not followed anywhere"

check "broken answers"
provider_mode huge
assert_exit 1 probe
assert_contains "$OUT" "error=too large" "100 KiB: refused at 64 KiB"
assert_ok probe --max-response 200000 --parse token
assert_contains "$OUT" "malformed token response: response larger than 65536 bytes" "the parser bounds it too"
provider_mode garbage
assert_ok probe --parse token
assert_contains "$OUT" "outcome=temporary error" "not JSON: temporary"
provider_mode close
assert_exit 1 probe
assert_contains "$OUT" "error=protocol" "no answer at all"
provider_mode 503
assert_ok probe --parse token
assert_contains "$OUT" "status=503 outcome=temporary error" "503: temporary"
provider_mode hang
t0=$SECONDS
assert_exit 1 probe --timeout-ms 1500
assert_contains "$OUT" "error=timeout" "a hanging endpoint times out"
[[ $((SECONDS - t0)) -lt 10 ]] && pass "within the request timeout" || fail "the timeout took $((SECONDS - t0))s"
provider_mode ok
assert_exit 1 "$PROBE" --url "https://127.0.0.1:1/token" --ca-file "$CA_FILE"
assert_contains "$OUT" "error=connect" "connection refused"

check "cancel and destroy: no callback afterwards"
assert_ok probe --count 10 --cancel 4
assert_eq "$(printf '%s\n' "$OUT" | grep -c 'status=')" 6 "six answers for six requests left"
assert_not_contains "$OUT" "after cancel" "no callback of a cancelled request"
assert_ok probe --count 10 --destroy-in-callback
assert_eq "$(printf '%s\n' "$OUT" | grep -c 'status=')" 1 "one answer, then the client is gone"

check "100 requests at once, the ioloop never blocked"
provider_control '{"action":"reset-stats"}' >/dev/null
provider_delay 2
t0=$SECONDS
assert_ok probe --count 100
provider_delay 0
assert_contains "$OUT" "done 100/100" "all answered"
[[ $((SECONDS - t0)) -lt 10 ]] && pass "100 requests of 2 s in $((SECONDS - t0))s" ||
	fail "100 requests of 2 s took $((SECONDS - t0))s"
gap=$(printf '%s\n' "$OUT" | sed -n 's/.*max_gap_ms \([0-9]*\).*/\1/p')
[[ -n $gap && $gap -lt 1000 ]] && pass "the ioloop's 10 ms heartbeat never stalled for long (${gap} ms)" ||
	fail "the ioloop stalled for ${gap} ms"
max=$(provider_stat max_inflight)
[[ $max -ge 50 ]] && pass "$max requests in flight at once" || fail "only $max in flight at once"
