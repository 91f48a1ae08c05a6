#!/bin/bash
# Fetching with OAuth2 (issue 11, phase 2: the token refresh wired into the
# retrieval run). A real Dovecot decides every login: the sandbox's oauth2
# instance checks each token with the test provider's introspection
# endpoint.
#   POP3 and IMAP x XOAUTH2 and OAUTHBEARER; scheduled polling across
#   several access token expiries with the rotated refresh token stored
#   each time; a token the mail server rejects is refreshed once and the
#   login retried, then the server's message is the error; a revoked
#   consent -> consent needed, no further polling, renewed consent ->
#   fetching resumes; the provider down -> temporary error and backoff,
#   then recovery; 100 OAuth2 accounts in one run; no token in any run log.

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/oauth2-lib.sh
source "$(dirname "$0")/oauth2-lib.sh"
export SANDBOX_EXTRAS=oauth2 SANDBOX_OAUTH2_TTL=4
sandbox_up

U=user1@example.org
U2=user2@example.org
U3=user3@other.org
FM=(doveadm -c "$LOCAL_CONF" fetchmail)
field() { tab_column "$(doveadm -c "$LOCAL_CONF" -f tab fetchmail show -u "$1" "$2")" "$3"; }

# connect USER ID: a consent for alice, imported as a refresh token.
connect() {
	"${FM[@]}" oauth2 token -u "$1" "$2" --refresh-token-file - <<<"$(provider_issue alice)" >/dev/null
}

# add_connected USER PROVIDER PROTOCOL MAILBOX: a new, connected account.
add_connected() {
	local id
	id=$("${FM[@]}" add -u "$1" --auth oauth2 --oauth2-provider "$2" \
		--protocol "$3" --remote-user alice --mailbox "$4") || return 1
	connect "$1" "$id" || return 1
	echo "$id"
}

check "a first OAuth2 run"
PROBE_ID=$(add_connected "$U3" sandbox imap Probe)
fm_run "$U3" "$PROBE_ID"
assert_eq "$RC" 0 "the first OAuth2 run works"
"${FM[@]}" remove -u "$U3" "$PROBE_ID"

check "POP3 and IMAP, XOAUTH2 and OAUTHBEARER, judged by the oauth2 Dovecot"
want=$(msgids_ext alice)
for proto in pop3 imap; do
	for provider in sandbox sandbox-bearer; do
		mech=XOAUTH2
		[[ $provider == sandbox ]] || mech=OAUTHBEARER
		box=OA-$proto-$mech
		id=$(add_connected "$U" "$provider" "$proto" "$box")
		fm_run "$U" "$id"
		assert_eq "$RC" 0 "$proto $mech: run ok"
		assert_eq "$(msgids_local "$U" "$box")" "$want" "$proto $mech: alice's INBOX fetched"
		log=$("${FM[@]}" log -u "$U" "$id")
		assert_contains "$log" "$mech" "$proto $mech: the run log shows the mechanism"
		assert_contains "$log" "***" "$proto $mech: the response is redacted"
		assert_match "$(cat "$OAUTH2_LOG")" "Login: user=<alice>, method=$mech" "$proto $mech: the oauth2 Dovecot accepted the token"
	done
done

check "scheduled polling across several token expiries, rotation stored each time"
id=$(add_connected "$U2" sandbox imap Polled)
refreshes=$(provider_stat counts.token:refresh_token)
used=$(provider_stat refresh_used)
for i in 1 2 3 4; do
	sandbox_fill alice 1 1k
	sleep $((SANDBOX_OAUTH2_TTL + 1))    # the access token has expired
	make_due "$U2" "$id"
	run_cmd "${FM[@]}" run -u "$U2" --due
	assert_eq "$RC" 0 "poll $i after the token expired"
	assert_eq "$(count_local "$U2" Polled)" "$(count_ext alice)" "poll $i fetched the new message"
done
[[ $(($(provider_stat counts.token:refresh_token) - refreshes)) -ge 4 ]] && pass "a refresh per expiry" ||
	fail "expected a refresh per expiry"
[[ $(($(provider_stat refresh_used) - used)) -ge 4 ]] && pass "each used the refresh token stored by the previous one" ||
	fail "rotated refresh tokens were not used"
assert_eq "$(field "$U2" "$id" oauth2)" connected "still connected"

check "a fresh access token is used without a refresh"
refreshes=$(provider_stat counts.token:refresh_token)
fm_run "$U2" "$id"
fm_run "$U2" "$id"
assert_eq "$(( $(provider_stat counts.token:refresh_token) <= refreshes + 1 ))" 1 \
	"two runs within the token's life: one refresh at most"

check "a token the server rejects is refreshed once and retried"
fm_run "$U2" "$id"
provider_control '{"action":"revoke-access","user":"alice"}' >/dev/null
refreshes=$(provider_stat counts.token:refresh_token)
fm_run "$U2" "$id"
assert_eq "$RC" 0 "the run logs in with a new token"
assert_eq "$(provider_stat counts.token:refresh_token)" "$((refreshes + 1))" "exactly one refresh"
provider_control '{"action":"introspect","mode":"deny"}' >/dev/null
refreshes=$(provider_stat counts.token:refresh_token)
fm_run "$U2" "$id"
assert_ne "$RC" 0 "a server that rejects every token: the run fails"
assert_match "$(field "$U2" "$id" last-error)" "[Aa]uthentication failed" "with the server's message"
assert_eq "$(provider_stat counts.token:refresh_token)" "$((refreshes + 1))" "after one refresh and retry"
provider_control '{"action":"introspect","mode":"ok"}' >/dev/null

check "revoked consent: consent needed, no further polling; renewed: fetching resumes"
provider_control '{"action":"revoke","user":"alice"}' >/dev/null
sleep $((SANDBOX_OAUTH2_TTL + 1))
fm_run "$U2" "$id"
assert_ne "$RC" 0 "the run fails"
assert_contains "$(field "$U2" "$id" last-error)" "invalid_grant" "with the provider's reason"
assert_contains "$(field "$U2" "$id" oauth2)" "consent needed: invalid_grant" "consent needed"
requests=$(provider_stat counts.token)
make_due "$U2" "$id"
run_cmd "${FM[@]}" run -u "$U2" --due
assert_not_contains "$OUT" "$id" "the scheduler's run leaves it alone"
assert_eq "$(provider_stat counts.token)" "$requests" "and asks the provider nothing"
connect "$U2" "$id"
sandbox_fill alice 1 1k
fm_run "$U2" "$id"
assert_eq "$RC" 0 "after renewed consent the run works"
assert_eq "$(count_local "$U2" Polled)" "$(count_ext alice)" "and fetches again"

check "the provider down: temporary error and backoff, then recovery"
sleep $((SANDBOX_OAUTH2_TTL + 1))
provider_mode 503
make_due "$U2" "$id"
run_cmd "${FM[@]}" run -u "$U2" --due
assert_ne "$RC" 0 "the run fails"
assert_contains "$(field "$U2" "$id" last-error)" "503" "a temporary error"
assert_eq "$(field "$U2" "$id" oauth2)" connected "the consent is kept"
next=$(field "$U2" "$id" next-run)
assert_ne "$next" "" "a next run is scheduled"
provider_mode ok
fm_run "$U2" "$id"
assert_eq "$RC" 0 "recovered"

check "100 OAuth2 accounts in one run"
batch='['
for i in $(seq 1 100); do
	batch+='["fetchmailAdd",{"user":"'$U3'","auth":"oauth2","oauth2Provider":"sandbox","protocol":"pop3","remoteUser":"alice","mailbox":"Many'$i'"},"a'$i'"]'
	[[ $i == 100 ]] || batch+=','
done
ids=$(http_call "$batch]" | $PYTHON -c 'import json,sys; print(" ".join(x[1][0]["id"] for x in json.load(sys.stdin)))')
for id in $ids; do connect "$U3" "$id"; done
provider_control '{"action":"reset-stats"}' >/dev/null
provider_delay 1
t0=$SECONDS
run_cmd timeout 300 doveadm -c "$LOCAL_CONF" -f tab -o plugin/fetchmail_max_parallel=100 \
	fetchmail run -u "$U3"
provider_delay 0
assert_eq "$RC" 0 "all 100 ran"
[[ $RC == 0 ]] || say "errors: $(printf '%s\n' "$OUT" | awk -F '\t' 'NR > 1 && $2 != "ok" { print $6 }' | sort | uniq -c)"
assert_eq "$(printf '%s\n' "$OUT" | awk -F '\t' 'NR > 1 && $2 == "ok"' | wc -l)" 100 "100 ok"
max=$(provider_stat max_inflight)
[[ $max -ge 50 ]] && pass "$max refreshes in flight at once ($((SECONDS - t0))s)" ||
	fail "only $max refreshes in flight at once"

check "no token in any run log or Dovecot log"
secrets_file=$SANDBOX_DIR/secrets.txt
provider_tokens alice >"$secrets_file"
logs=$(for user in "$U" "$U2" "$U3"; do
	for id in $(doveadm -c "$LOCAL_CONF" -f tab fetchmail list -u "$user" | awk 'NR > 1 { print $1 }'); do
		"${FM[@]}" log -u "$user" "$id"
	done
done)
assert_eq "$(printf '%s' "$logs" | grep -oFf "$secrets_file" | head -n 1 || true)" "" "no token in the run logs"
assert_eq "$(grep -ohFf "$secrets_file" "$LOCAL_LOG" "$OAUTH2_LOG" | head -n 1 || true)" "" "no token in the Dovecot logs"
