#!/bin/bash
# OAuth2 accounts (issue 11, phase 1) against the sandbox's OAuth2 test
# provider (HTTPS on 127.0.0.1, rotating refresh tokens, consent and device
# pages) and the oauth2 Dovecot whose passdb checks its tokens:
#   providers; add/edit validation and auth switching; the authorization
#   code flow with PKCE through the consent page (state reused, of another
#   user, expired, wrong code: refused, nothing stored); the device flow
#   (waiting at the terminal with a slow_down, denied, --no-wait and over
#   HTTP with finish polling); refresh token import from stdin and over
#   HTTP (never from argv); refresh with rotation persisted; a revoked
#   token -> consent needed and not scheduled; the provider down ->
#   temporary error, then recovery; 100 accounts refreshing at once; roles;
#   and no token or client secret anywhere: outputs, logs, attributes, ps.
# Fetching with the tokens is tests/integration/test-oauth2-fetch.sh.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/oauth2-lib.sh
source "$(dirname "$0")/oauth2-lib.sh"
export SANDBOX_EXTRAS=oauth2
sandbox_up

U=user1@example.org
U2=user2@example.org
U3=user3@other.org
TRANSCRIPT=$SANDBOX_DIR/transcript.txt
PS_LOG=$SANDBOX_DIR/ps.txt
REDIRECT=https://panel.example/oauth2/callback
: >"$TRANSCRIPT"

# Every command's output goes to the transcript as well (searched for
# secrets at the end).
fm() { doveadm -c "$LOCAL_CONF" "$@" 2>&1 | tee -a "$TRANSCRIPT"; return "${PIPESTATUS[0]}"; }
fmt() { fm -f tab "$@"; }
hx() { http_call "$1" | tee -a "$TRANSCRIPT"; }
j() { $PYTHON -c "import json,sys; d=json.load(sys.stdin); $1"; }
attrs() { cat "$SANDBOX_DIR"/local/mail/*/dovecot-attributes 2>/dev/null || true; }
snapshot() { attrs | sha256sum; }
field() { tab_column "$(fmt fetchmail show -u "$1" "$2")" "$3"; }

# The command lines of Dovecot's and doveadm's processes, sampled while the
# test runs (the test's own curl calls carry tokens on purpose).
(while :; do ps -eo args | grep -E '^(/usr/s?bin/)?(dovecot|doveadm)|dovecot/' >>"$PS_LOG" || true; sleep 0.2; done) &
PS_PID=$!
on_exit "kill $PS_PID 2>/dev/null || true"

# add_oauth2 USER PROVIDER [fields...]: a new OAuth2 account; prints its id.
add_oauth2() {
	local user=$1 provider=$2
	shift 2
	doveadm -c "$LOCAL_CONF" fetchmail add -u "$user" --auth oauth2 \
		--oauth2-provider "$provider" --protocol imap --remote-user alice "$@"
}

# consent USER ID REMOTE: the whole panel flow; prints "state code".
consent() {
	local out url state query
	out=$(fmt fetchmail oauth2 start -u "$1" "$2" --redirect-uri "$REDIRECT") || return 1
	url=$(tab_column "$out" url)
	state=$(tab_column "$out" state)
	query=$(consent_approve "$url" "$3") || return 1
	echo "$state $(query_param "$query" code)"
}

# ------------------------------------------------------------------ providers

check "oauth2 providers lists the configured providers for panels, never a secret"
assert_ok fmt fetchmail oauth2 providers -u "$U"
assert_eq "$(tab_column "$OUT" name 1) $(tab_column "$OUT" name 2)" "sandbox sandbox-bearer" "both providers, in order"
assert_eq "$(tab_column "$OUT" mechanism 1) $(tab_column "$OUT" mechanism 2)" "xoauth2 oauthbearer" "their mechanisms"
assert_eq "$(tab_column "$OUT" imap-port 1)" "$OAUTH2_IMAPS_PORT" "the provider's IMAP server"
assert_eq "$(tab_column "$OUT" device 1)" yes "a device flow"
assert_eq "$(tab_column "$OUT" error 1)" "" "usable"
assert_not_contains "$OUT" "$OAUTH2_CLIENT_SECRET" "no client secret"
# the presets, configured as an administrator would, without a client id
assert_ok fmt -o plugin/fetchmail_oauth2_providers="google microsoft" fetchmail oauth2 providers -u "$U"
assert_eq "$(tab_column "$OUT" imap-host 1)" imap.gmail.com "google preset: imap.gmail.com"
assert_eq "$(tab_column "$OUT" pop3-port 1)" 995 "google preset: pop3s"
assert_eq "$(tab_column "$OUT" device 1)" no "google preset: no device flow"
assert_eq "$(tab_column "$OUT" imap-host 2)" outlook.office365.com "microsoft preset"
assert_eq "$(tab_column "$OUT" device 2)" yes "microsoft preset: device flow"
assert_contains "$(tab_column "$OUT" error 1)" "fetchmail_oauth2_google_client_id: not set" "the missing client id is named"

# ------------------------------------------------------------------ accounts

check "add and edit: bad OAuth2 input is refused naming the field, nothing stored"
before=$(snapshot)
assert_exit 64 fm fetchmail add -u "$U" --host h.example --protocol imap --remote-user a --auth oauth2
assert_contains "$OUT" "oauth2-provider: missing (required with auth oauth2)" "provider missing"
assert_exit 64 fm fetchmail add -u "$U" --protocol imap --remote-user a --auth oauth2 --oauth2-provider nosuch
assert_contains "$OUT" "oauth2-provider: 'nosuch' is not configured (fetchmail_oauth2_providers: sandbox sandbox-bearer)" "unknown provider"
assert_exit 78 fm -o plugin/fetchmail_oauth2_providers="sandbox google" fetchmail add -u "$U" \
	--protocol imap --remote-user a --auth oauth2 --oauth2-provider google
assert_contains "$OUT" "oauth2-provider: google: fetchmail_oauth2_google_client_id: not set" "provider without a client id: EX_CONFIG"
assert_exit 64 fm fetchmail add -u "$U" --protocol imap --remote-user a --auth oauth2 --oauth2-provider sandbox --password pw
assert_contains "$OUT" "password: not used with auth oauth2" "no password with oauth2"
assert_exit 64 fm fetchmail add -u "$U" --host h.example --protocol imap --remote-user a --password pw --oauth2-provider sandbox
assert_contains "$OUT" "oauth2-provider: only with auth oauth2" "no provider with a password"
assert_exit 64 fm fetchmail add -u "$U" --host h.example --protocol imap --remote-user a --password pw --auth kerberos
assert_contains "$OUT" "auth: must be password or oauth2 (got 'kerberos')" "bad auth"
assert_exit 64 fm fetchmail add -u "$U" --protocol imap --remote-user a --auth oauth2 --oauth2-provider 'Bad!'
assert_contains "$OUT" "oauth2-provider: must be a provider name" "bad provider name"
assert_eq "$(snapshot)" "$before" "nothing was stored"

check "add an OAuth2 account: host and port from the provider, never connected"
assert_ok add_oauth2 "$U" sandbox
ID=$OUT
assert_match "$ID" '^fm-[a-z2-7]{8}$' "add printed an id"
assert_ok fmt fetchmail show -u "$U" "$ID"
assert_eq "$(tab_column "$OUT" host) $(tab_column "$OUT" port)" "127.0.0.1 $OAUTH2_IMAPS_PORT" "the provider's IMAP server"
assert_eq "$(tab_column "$OUT" auth)" oauth2 "auth oauth2"
assert_eq "$(tab_column "$OUT" oauth2-provider)" sandbox "provider"
assert_eq "$(tab_column "$OUT" oauth2)" "never connected" "never connected"
assert_eq "$(tab_column "$OUT" next-run)" "" "not scheduled until consent"
assert_ok fmt fetchmail list -u "$U"
assert_eq "$(tab_column "$OUT" oauth2)" "never connected" "list shows the OAuth2 state"
assert_not_contains "$(attrs)" '"password"' "an OAuth2 record has no password"

check "edit switches auth both ways"
assert_exit 64 fm fetchmail edit -u "$U" "$ID" --auth password
assert_contains "$OUT" "password: missing (required with auth password)" "to password needs a password"
assert_ok fm fetchmail edit -u "$U" "$ID" --auth password --password "switch-pw-1"
assert_eq "$(field "$U" "$ID" auth) [$(field "$U" "$ID" oauth2-provider)] [$(field "$U" "$ID" oauth2)]" \
	"password [] []" "a password account now, without provider"
assert_ok fm fetchmail edit -u "$U" "$ID" --auth oauth2 --oauth2-provider sandbox
assert_eq "$(field "$U" "$ID" oauth2)" "never connected" "back to OAuth2"
assert_not_contains "$(attrs)" '"password"' "the password blob was dropped"
assert_exit 64 fm fetchmail edit -u "$U" "$ID" --oauth2-provider nosuch
assert_exit 64 fm fetchmail edit -u "$U" "$ID" --password x
assert_contains "$OUT" "password: not used with auth oauth2" "no password for an OAuth2 account"

# ------------------------------------------------------------------ code + PKCE

check "oauth2 start: the authorization URL with PKCE S256 and an opaque state"
assert_ok fmt fetchmail oauth2 start -u "$U" "$ID" --redirect-uri "$REDIRECT"
URL=$(tab_column "$OUT" url)
STATE=$(tab_column "$OUT" state)
assert_contains "$URL" "$OAUTH2_PROVIDER_URL/authorize?response_type=code&client_id=$OAUTH2_CLIENT_ID" "the provider's authorization endpoint"
assert_contains "$URL" "code_challenge_method=S256" "PKCE S256"
assert_contains "$URL" "state=$STATE" "the state"
assert_contains "$URL" "login_hint=alice" "the remote user as login hint"
assert_not_contains "$URL" "verifier" "the verifier stays on the server"
assert_match "$STATE" '^[A-Za-z0-9_-]{43}$' "an opaque state"
assert_not_contains "$(attrs)" "$STATE" "the state itself is not stored, only its hash"

check "oauth2 start: bad input"
assert_exit 64 fm fetchmail oauth2 start -u "$U" "$ID" --redirect-uri http://panel.example/cb
assert_contains "$OUT" "redirect-uri: must be an https URL" "plain http refused"
assert_exit 64 fm fetchmail oauth2 start -u "$U" "$ID"
assert_contains "$OUT" "redirect-uri: missing" "redirect-uri required"
assert_exit 68 fm fetchmail oauth2 start -u "$U" fm-nothere2 --redirect-uri "$REDIRECT"
PW_ID=$(doveadm -c "$LOCAL_CONF" fetchmail add -u "$U" --host 127.0.0.1 --protocol imap --remote-user bob --password "$BOB_PASSWORD")
assert_exit 64 fm fetchmail oauth2 start -u "$U" "$PW_ID" --redirect-uri "$REDIRECT"
assert_contains "$OUT" "logs in with a password, not OAuth2" "a password account"
assert_exit 64 fm fetchmail oauth2 start -u '*@example.org' "$ID" --redirect-uri "$REDIRECT"
assert_contains "$OUT" "for one user" "one user only"

check "the consent page, then finish with a wrong code: refused, state used up, nothing stored"
query=$(consent_approve "$URL" alice)
CODE=$(query_param "$query" code)
assert_eq "$(query_param "$query" state)" "$STATE" "the provider hands the state back"
assert_match "$CODE" '^ac-' "and a code"
ok_before=$(provider_stat counts.token:ok)
assert_exit 64 fm fetchmail oauth2 finish -u "$U" --state "$STATE" --code ac-not-the-code
assert_contains "$OUT" "code: refused by the provider: invalid_grant: unknown authorization code" "the provider's reason"
assert_exit 64 fm fetchmail oauth2 finish -u "$U" --state "$STATE" --code "$CODE"
assert_contains "$OUT" "state: unknown, expired or already used" "the state was single use"
assert_eq "$(field "$U" "$ID" oauth2)" "never connected" "nothing stored"
assert_eq "$(provider_stat counts.token:ok)" "$ok_before" "no tokens were issued"

check "finish: the state of another user is unknown to this one"
read -r STATE CODE < <(consent "$U" "$ID" alice)
assert_exit 64 fm fetchmail oauth2 finish -u "$U2" --state "$STATE" --code "$CODE"
assert_contains "$OUT" "state: unknown, expired or already used" "another user's state"
assert_exit 64 fm fetchmail oauth2 finish -u "$U" --state "not-a-state" --code "$CODE"
assert_contains "$OUT" "state: not a state" "a malformed state"

check "finish: the consent of the right user is stored; the state is single use"
assert_ok fmt fetchmail oauth2 finish -u "$U" --state "$STATE" --code "$CODE"
assert_eq "$(tab_column "$OUT" id) $(tab_column "$OUT" oauth2)" "$ID connected" "finish prints the account, connected"
assert_eq "$(field "$U" "$ID" oauth2)" connected "show: connected"
assert_ne "$(field "$U" "$ID" next-run)" "" "the consent schedules it"
assert_exit 64 fm fetchmail oauth2 finish -u "$U" --state "$STATE" --code "$CODE"
assert_contains "$OUT" "state: unknown, expired or already used" "a reused state is refused"
assert_eq "$(field "$U" "$ID" oauth2)" connected "the refused reuse changed nothing"

check "finish: an expired state is refused and nothing is stored"
ID2=$(add_oauth2 "$U" sandbox-bearer --mailbox Bearer)
read -r STATE2 CODE2 < <(consent "$U" "$ID2" alice)
KEY2=$(printf %s "$STATE2" | sha256sum | cut -d' ' -f1)
rec=$(doveadm -c "$LOCAL_CONF" mailbox metadata get -u "$U" -s "" "/private/fetchmail/oauth2-state/$KEY2")
assert_contains "$rec" '"kind":"code"' "the consent record is stored under the state's hash"
# ten minutes later: the record's expiry moved into the past
rec=$(printf %s "$rec" | $PYTHON -c 'import json,sys,time; d=json.load(sys.stdin); d["expires"]=int(time.time())-1; d["created"]=d["expires"]-600; print(json.dumps(d))')
assert_ok doveadm -c "$LOCAL_CONF" mailbox metadata set -u "$U" -s "" "/private/fetchmail/oauth2-state/$KEY2" "$rec"
assert_exit 64 fm fetchmail oauth2 finish -u "$U" --state "$STATE2" --code "$CODE2"
assert_contains "$OUT" "state: expired (consent must be finished within 10 minutes)" "expired"
assert_eq "$(field "$U" "$ID2" oauth2)" "never connected" "nothing stored"
assert_exit 64 fm fetchmail oauth2 finish -u "$U" --state "$STATE2" --code "$CODE2"
assert_contains "$OUT" "state: unknown, expired or already used" "and the expired record is gone"

check "the person denies: the panel gets error=access_denied, nothing to finish"
out=$(fmt fetchmail oauth2 start -u "$U" "$ID2" --redirect-uri "$REDIRECT")
query=$(consent_approve "$(tab_column "$out" url)" alice deny)
assert_eq "$(query_param "$query" error)" access_denied "the provider redirects with access_denied"

check "the consent flow over the HTTP API, acting for the user"
r=$(hx '[["fetchmailOauth2Start",{"user":"'$U'","id":"'$ID2'","redirectUri":"'$REDIRECT'","actor":"'$U'"},"s"]]')
url=$(echo "$r" | j 'print(d[0][1][0]["url"])')
state=$(echo "$r" | j 'print(d[0][1][0]["state"])')
query=$(consent_approve "$url" alice)
r=$(hx '[["fetchmailOauth2Finish",{"user":"'$U'","state":"'$state'","code":"'"$(query_param "$query" code)"'","actor":"'$U'"},"f"]]')
assert_eq "$(echo "$r" | j 'print(d[0][1][0]["id"], d[0][1][0]["oauth2"])')" "$ID2 connected" "finish over HTTP"
r=$(hx '[["fetchmailOauth2Finish",{"user":"'$U'","state":"'$state'","code":"x"},"f2"]]')
assert_contains "$r" '"exitCode":64' "a reused state over HTTP: EX_USAGE"

check "roles apply to the OAuth2 commands"
assert_exit 77 fm fetchmail oauth2 start -u "$U" "$ID" --redirect-uri "$REDIRECT" --actor "$U2"
assert_exit 77 fm fetchmail oauth2 providers -u "$U3" --actor dadmin@example.org
assert_ok fm fetchmail oauth2 providers -u "$U" --actor dadmin@example.org
r=$(hx '[["fetchmailOauth2Refresh",{"user":"'$U'","actor":"'$U2'"},"x"]]')
assert_contains "$r" '"exitCode":77' "refused actor over HTTP: EX_NOPERM"

# ------------------------------------------------------------------ refresh

check "refresh rotates the refresh token and stores the new one at once"
used_before=$(provider_stat refresh_used)
for i in 1 2 3; do
	assert_ok fmt fetchmail oauth2 refresh -u "$U" "$ID"
	assert_eq "$(tab_column "$OUT" result)" ok "refresh $i"
done
assert_eq "$(provider_stat refresh_used)" $((used_before + 3)) "each refresh retired the previous refresh token"
assert_eq "$(field "$U" "$ID" oauth2)" connected "still connected: every rotated token was stored"

check "two refreshes of one account at once: one waits for the other, no token is sent twice"
provider_delay 2
(set +e; fmt fetchmail oauth2 refresh -u "$U" "$ID" >"$SANDBOX_DIR/r1.out"; echo "exit=$?" >>"$SANDBOX_DIR/r1.out") &
p1=$!
(set +e; fmt fetchmail oauth2 refresh -u "$U" "$ID" >"$SANDBOX_DIR/r2.out"; echo "exit=$?" >>"$SANDBOX_DIR/r2.out") &
p2=$!
wait "$p1" "$p2"
provider_delay 0
assert_contains "$(cat "$SANDBOX_DIR/r1.out")" "exit=0" "the first refresh"
assert_contains "$(cat "$SANDBOX_DIR/r2.out")" "exit=0" "the second refresh, after the first"
assert_eq "$(field "$U" "$ID" oauth2)" connected "the rotating provider saw no reuse"

check "the provider down: temporary error, nothing changed, then recovery"
for mode in 503 close garbage huge; do
	provider_mode "$mode"
	assert_exit 75 fmt fetchmail oauth2 refresh -u "$U" "$ID"
	assert_eq "$(tab_column "$OUT" result)" "temporary error" "provider $mode: temporary"
done
provider_mode hang
assert_exit 75 fmt -o plugin/fetchmail_timeout=2s fetchmail oauth2 refresh -u "$U" "$ID"
assert_contains "$OUT" "timed out" "a hanging provider: timeout"
provider_mode ok
assert_eq "$(field "$U" "$ID" oauth2)" connected "still connected"
assert_ok fmt fetchmail oauth2 refresh -u "$U" "$ID"
assert_eq "$(tab_column "$OUT" result)" ok "recovered"

check "a revoked consent: consent needed with the provider's reason, not scheduled"
provider_control '{"action":"revoke","user":"alice"}' >/dev/null
assert_exit 77 fmt fetchmail oauth2 refresh -u "$U" "$ID"
assert_eq "$(tab_column "$OUT" result)" "consent needed" "consent needed"
want="consent needed: invalid_grant: Token has been expired or revoked."
assert_eq "$(field "$U" "$ID" oauth2)" "$want" "show gives the provider's reason"
assert_ok fmt fetchmail list -u "$U"
assert_contains "$OUT" "$want" "list too"
# both OAuth2 accounts due now: only the connected one is run, the other
# is held
assert_contains "$(doveadm -c "$LOCAL_CONF" mailbox metadata get -u "$U" -s "" "/private/fetchmail/status/$ID")" \
	'"held":true' "the account is held"
make_due "$U" "$ID"
make_due "$U" "$ID2"
run_cmd fmt fetchmail run -u "$U" --due
assert_contains "$OUT" "$ID2" "the scheduler's run takes the connected account"
assert_not_contains "$OUT" "$ID" "and leaves the one that needs consent alone"
assert_exit 77 fmt fetchmail oauth2 refresh -u "$U" "$ID"
assert_eq "$(tab_column "$OUT" error)" "invalid_grant: Token has been expired or revoked." "no request without a token"

# ------------------------------------------------------------------ import

check "a refresh token from standard input renews the consent (verified by a refresh)"
RT=$(provider_issue alice)
assert_ok fmt fetchmail oauth2 token -u "$U" "$ID" --refresh-token-file - <<<"$RT"
assert_eq "$(tab_column "$OUT" oauth2)" connected "connected again"
assert_eq "$(field "$U" "$ID" oauth2)" connected "show: connected"
assert_ok fmt fetchmail oauth2 refresh -u "$U" "$ID"
assert_eq "$(tab_column "$OUT" result)" ok "the stored (rotated) token works"

check "import: bad tokens are refused, nothing stored, never echoed"
before=$(snapshot)
assert_exit 64 fm fetchmail oauth2 token -u "$U" "$ID" --refresh-token-file - <<<"rt-not-a-token-xyz"
assert_contains "$OUT" "refresh-token: refused by the provider: invalid_grant" "a token the provider does not know"
assert_not_contains "$OUT" "rt-not-a-token-xyz" "not echoed"
assert_exit 64 fm fetchmail oauth2 token -u "$U" "$ID" --refresh-token-file - <<<"two words"
assert_contains "$OUT" "refresh-token: not a valid token" "not a token"
assert_exit 64 fm fetchmail oauth2 token -u "$U" "$ID" --refresh-token-file - </dev/null
assert_exit 64 fm fetchmail oauth2 token -u "$U" "$ID" --refresh-token rt-argv-never-used
assert_contains "$OUT" "not accepted on the command line" "never from argv"
assert_exit 64 fm fetchmail oauth2 token -u "$U" "$ID"
assert_contains "$OUT" "refresh-token: missing" "a token is required"
assert_eq "$(snapshot)" "$before" "nothing stored by the refused imports"
assert_eq "$(field "$U" "$ID" oauth2)" connected "the consent is still good"

check "import over the HTTP API"
r=$(hx '[["fetchmailOauth2Token",{"user":"'$U'","id":"'$ID2'","refreshToken":"'"$(provider_issue alice)"'"},"t"]]')
assert_eq "$(echo "$r" | j 'print(d[0][1][0]["oauth2"])')" connected "imported over HTTP"
r=$(hx '[["fetchmailOauth2Token",{"user":"'$U'","id":"'$ID2'","refreshToken":"rt-bogus"},"t2"]]')
assert_contains "$r" '"exitCode":64' "a refused token over HTTP: EX_USAGE"

check "the token is not in ps while an import waits for the provider"
provider_delay 2
RT=$(provider_issue alice)
fm fetchmail oauth2 token -u "$U" "$ID" --refresh-token-file - <<<"$RT" >/dev/null &
import_pid=$!
sleep 1
assert_not_contains "$(ps -eo args)" "$RT" "not in any command line"
wait "$import_pid" || fail "the slow import failed"
provider_delay 0

# ------------------------------------------------------------------ device

check "device flow at the terminal: URL and code at once, slow_down, approval"
DEV=$SANDBOX_DIR/device.out
ID3=$(add_oauth2 "$U" sandbox --mailbox Device)
(set +e; fm -f tab fetchmail oauth2 device -u "$U" "$ID3" >"$DEV"; echo "exit=$?" >>"$DEV") &
dev_pid=$!
wait_until 60 grep -q "^user-code" "$DEV" || { fail "no user code printed"; kill "$dev_pid"; }
UC=$(row_value "$(cat "$DEV")" user-code)
assert_match "$UC" '^[A-Z]{4}-[A-Z]{4}$' "a user code"
assert_eq "$(row_value "$(cat "$DEV")" verification-uri)" "$OAUTH2_PROVIDER_URL/device" "the verification URL"
assert_not_contains "$(cat "$DEV")" "exit=" "still waiting"
provider_control '{"action":"slow-down","count":1}' >/dev/null
sleep 2
device_decide "$UC" alice approve
wait "$dev_pid"
assert_contains "$(cat "$DEV")" "exit=0" "device exits 0 after approval"
assert_eq "$(row_value "$(cat "$DEV")" oauth2)" connected "connected"
assert_eq "$(field "$U" "$ID3" oauth2)" connected "stored"

check "device flow denied: EX_NOPERM, nothing stored"
ID4=$(add_oauth2 "$U" sandbox --mailbox Denied)
(set +e; fm -f tab fetchmail oauth2 device -u "$U" "$ID4" >"$DEV"; echo "exit=$?" >>"$DEV") &
dev_pid=$!
wait_until 60 grep -q "^user-code" "$DEV" || { fail "no user code printed"; kill "$dev_pid"; }
device_decide "$(row_value "$(cat "$DEV")" user-code)" alice deny
wait "$dev_pid"
assert_contains "$(cat "$DEV")" "exit=77" "denied: EX_NOPERM"
assert_contains "$(cat "$DEV")" "access_denied" "the reason"
assert_eq "$(field "$U" "$ID4" oauth2)" "never connected" "nothing stored"

check "device flow without waiting: finish --state polls"
assert_ok fmt fetchmail oauth2 device -u "$U" "$ID4" --no-wait
DSTATE=$(row_value "$OUT" state)
DUC=$(row_value "$OUT" user-code)
assert_eq "$(row_value "$OUT" oauth2)" pending "pending"
assert_ok fmt fetchmail oauth2 finish -u "$U" --state "$DSTATE"
assert_eq "$(tab_column "$OUT" oauth2)" pending "finish before approval: pending"
device_decide "$DUC" alice approve
sleep 2
assert_ok fmt fetchmail oauth2 finish -u "$U" --state "$DSTATE"
assert_eq "$(tab_column "$OUT" oauth2)" connected "finish after approval: connected"
assert_exit 64 fm fetchmail oauth2 finish -u "$U" --state "$DSTATE"
assert_eq "$(field "$U" "$ID4" oauth2)" connected "stored"

check "device flow over the HTTP API"
ID5=$(add_oauth2 "$U" sandbox-bearer --mailbox DeviceHttp)
r=$(hx '[["fetchmailOauth2Device",{"user":"'$U'","id":"'$ID5'"},"d"]]')
rows() { echo "$r" | j "print(dict((x['field'], x['value']) for x in d[0][1])['$1'])"; }
hstate=$(rows state)
assert_eq "$(rows oauth2)" pending "answers at once with the state"
device_decide "$(rows user-code)" alice approve
sleep 2
r=$(hx '[["fetchmailOauth2Finish",{"user":"'$U'","state":"'$hstate'"},"f"]]')
assert_eq "$(echo "$r" | j 'print(d[0][1][0]["oauth2"])')" connected "finish over HTTP: connected"

check "a provider without a device endpoint (Google) says so"
G=(-o plugin/fetchmail_oauth2_providers="sandbox google" -o plugin/fetchmail_oauth2_google_client_id=gid)
GID=$(doveadm -c "$LOCAL_CONF" "${G[@]}" fetchmail add -u "$U" --auth oauth2 --oauth2-provider google --protocol imap --remote-user bob@gmail.com)
assert_eq "$(tab_column "$(doveadm -c "$LOCAL_CONF" "${G[@]}" -f tab fetchmail show -u "$U" "$GID")" host)" imap.gmail.com "the google preset's host"
assert_exit 78 fm "${G[@]}" fetchmail oauth2 device -u "$U" "$GID"
assert_contains "$OUT" "Google does not allow the mail scope" "the reason"

# ------------------------------------------------------------------ edits

check "another remote user forgets the tokens; remove removes them"
assert_contains "$(attrs)" "tokens/$ID4" "a token record"
assert_ok fm fetchmail edit -u "$U" "$ID4" --remote-user bob
assert_eq "$(field "$U" "$ID4" oauth2)" "never connected" "the consent was for alice"
assert_not_contains "$(attrs)" "tokens/$ID4" "its token record is gone"
assert_ok fm fetchmail edit -u "$U" "$ID3" --mailbox Elsewhere
assert_eq "$(field "$U" "$ID3" oauth2)" connected "other edits keep it"
assert_ok fm fetchmail remove -u "$U" "$ID3"
assert_not_contains "$(attrs)" "tokens/$ID3" "remove takes the tokens along"

# ------------------------------------------------------------------ 100 at once

check "100 OAuth2 accounts refresh at once without blocking each other"
batch='['
for i in $(seq 1 100); do
	batch+='["fetchmailAdd",{"user":"'$U2'","auth":"oauth2","oauth2Provider":"sandbox","protocol":"imap","remoteUser":"alice"},"a'$i'"]'
	[[ $i == 100 ]] || batch+=','
done
r=$(http_call "$batch]")
assert_eq "$(echo "$r" | j 'print(sum(1 for x in d if x[0] == "doveadmResponse"))')" 100 "100 accounts added"
batch='['
i=0
for id in $(echo "$r" | j 'print(" ".join(x[1][0]["id"] for x in d))'); do
	i=$((i + 1))
	batch+='["fetchmailOauth2Token",{"user":"'$U2'","id":"'$id'","refreshToken":"'"$(provider_issue alice)"'"},"t'$i'"]'
	[[ $i == 100 ]] || batch+=','
done
r=$(http_call "$batch]")
assert_eq "$(echo "$r" | j 'print(sum(1 for x in d if x[0] == "doveadmResponse"))')" 100 "100 consents imported"
provider_control '{"action":"reset-stats"}' >/dev/null
provider_delay 2
t0=$SECONDS
assert_ok fmt -o plugin/fetchmail_max_parallel=100 fetchmail oauth2 refresh -u "$U2"
elapsed=$((SECONDS - t0))
provider_delay 0
assert_eq "$(printf '%s\n' "$OUT" | awk -F '\t' 'NR > 1 && $2 == "ok"' | wc -l)" 100 "all 100 refreshed"
[[ $elapsed -lt 20 ]] && pass "100 refreshes of 2 s each took ${elapsed}s" ||
	fail "100 refreshes of 2 s each took ${elapsed}s: they waited for each other"
max=$(provider_stat max_inflight)
[[ $max -ge 50 ]] && pass "$max token requests were in flight at once" ||
	fail "only $max token requests were in flight at once"
assert_ok fmt fetchmail oauth2 refresh -u "$U2"
assert_eq "$(printf '%s\n' "$OUT" | awk -F '\t' 'NR > 1 && $2 == "ok"' | wc -l)" 100 "and again: all 100 rotated tokens were stored"

# ------------------------------------------------------------------ secrets

check "no token or client secret anywhere in the clear"
kill "$PS_PID" 2>/dev/null || true
fm fetchmail log -u "$U" "$ID" >/dev/null
secrets_file=$SANDBOX_DIR/secrets.txt
provider_tokens alice >"$secrets_file"
cat "$OAUTH2_CLIENT_SECRET_FILE" "$SANDBOX_DIR/oauth2/introspect-secret" >>"$secrets_file"
assert_contains "$(cat "$PS_LOG")" "fetchmail oauth2 refresh" "ps was sampled while OAuth2 commands ran"
ntok=$(wc -l <"$secrets_file")
[[ $ntok -gt 300 ]] && pass "$ntok secrets to look for" || fail "only $ntok secrets to look for"
for place in "attributes:$(attrs)" \
	"transcript:$(cat "$TRANSCRIPT")" \
	"ps:$(cat "$PS_LOG")" \
	"local log:$(cat "$LOCAL_LOG")" \
	"oauth2 log:$(cat "$OAUTH2_LOG")" \
	"ext log:$(cat "$EXT_LOG")"; do
	name=${place%%:*}
	leaked=$(printf '%s' "${place#*:}" | grep -oFf "$secrets_file" | head -n 3 || true)
	assert_eq "$leaked" "" "no secret in the $name"
done
assert_contains "$(attrs)" '"refresh":"v1:' "the tokens are stored encrypted"
