#!/bin/bash
# Regression tests for the defects an adversarial run found (issue #10):
# runs that never ended, state written into an account that changed under
# a run, users a failing user kept from running, bad names that crashed or
# failed at run time, hostile listings, secrets in status fields, commands
# reachable where they must not be, passwords in the process list, exit
# codes. (Exactly once across crashes: test-crash.sh.)
source "$(dirname "$0")/lib.sh"
sandbox_up

U=user1@example.org
U2=user2@example.org
FM=(doveadm -c "$LOCAL_CONF" fetchmail)
PW='hard-Secret-4x9q'
NMSG=3
ALL_IDS=$(for i in $(seq 1 $NMSG); do echo "<fake-$i@example.net>"; done | sort)

# add_fake PROTO [ARGS...]: an account of $U on the last fake server; ID.
add_fake() {
	local proto=$1
	shift
	assert_ok "${FM[@]}" add -u "$U" --host 127.0.0.1 --port "$FAKE_PORT" \
		--protocol "$proto" --tls none --remote-user bob --password "$PW" "$@"
	ID=$OUT
}

# keys_of ID: the attribute keys of $U that belong to account ID.
keys_of() { grep -ao "fetchmail/[a-z]*/$1" "$(attr_file "$U")" | sort -u || true; }

# ------------------------------------------------------------ every run ends

check "a commit that fails (the destination cannot take new mail) ends the run and frees the account"
fake_start pop3-good
add_fake pop3 --mailbox Locked
local_doveadm mailbox create -u "$U" Locked
locked=$SANDBOX_DIR/local/mail/$U/Maildir/.Locked
chmod 555 "$locked/new" "$locked/cur"
fm_run "$U" "$ID"
assert_eq "$RC" 75 "the run fails (EX_TEMPFAIL)"
assert_eq "$(( ELAPSED < 30 ))" 1 "and ends (${ELAPSED}s)"
assert_contains "$(fm_field "$U" "$ID" last-error)" "mailbox_transaction_commit(Locked) failed" "last-error says the commit failed"
assert_eq "$(fake_deleted)" "" "nothing deleted on the server"
chmod 755 "$locked/new" "$locked/cur"
fm_run "$U" "$ID"
assert_eq "$RC" 0 "the next run is not refused as 'in progress'"
assert_eq "$(msgids_local "$U" Locked)" "$ALL_IDS" "and delivers every message once"
fake_stop

check "a server that drips one byte at a time is ended by fetchmail_run_timeout"
fake_start pop3-drip
add_fake pop3
t0=$(date +%s)
run_cmd timeout 60 doveadm -c "$LOCAL_CONF" -o plugin/fetchmail_run_timeout=3s \
	-o plugin/fetchmail_timeout=2s fetchmail run -u "$U" "$ID"
assert_eq "$RC" 75 "the run fails (EX_TEMPFAIL), not killed by timeout(1)"
assert_eq "$(( $(date +%s) - t0 < 15 ))" 1 "within a few seconds of the deadline"
assert_contains "$(fm_field "$U" "$ID" last-error)" "fetchmail_run_timeout" "last-error names the deadline"
assert_ne "$(fm_field "$U" "$ID" last-status)" running "the account is not left running"
assert_ok "${FM[@]}" remove -u "$U" "$ID"
fake_stop

# ------------------------------------------- an account that changes under a run

check "edit during a run: the run writes nothing back; the next keep=no run deletes nothing unseen"
hold=$SANDBOX_DIR/hold-edit
fake_start pop3-hold --hold "$hold"
add_fake pop3 --keep no
doveadm -c "$LOCAL_CONF" fetchmail run -u "$U" "$ID" >/dev/null 2>&1 &
runner=$!
assert_ok wait_until 10 grep -q "holding before RETR" "$FAKE_LOG"
# another mailbox on the same server (the fake server serves the same
# messages to everyone: exactly what makes a stale ledger dangerous)
assert_ok "${FM[@]}" edit -u "$U" "$ID" --remote-user carol
touch "$hold"
wait "$runner" || true
assert_eq "$(keys_of "$ID" | grep -c ledger || true)" 0 "the edited account has no ledger (the old run wrote none back)"
assert_eq "$(fake_deleted)" "" "the interrupted run deleted nothing"
fm_run "$U" "$ID"
assert_eq "$(fake_deleted | wc -l)" "$NMSG" "the next keep=no run deletes only what it fetched"
assert_eq "$(( $(count_local "$U") >= NMSG ))" 1 "every deleted message was delivered first"
assert_ok "${FM[@]}" remove -u "$U" "$ID"
fake_stop

check "remove during a run: no status, ledger, pending or log record is left behind"
hold=$SANDBOX_DIR/hold-remove
fake_start pop3-hold --hold "$hold"
add_fake pop3
doveadm -c "$LOCAL_CONF" fetchmail run -u "$U" "$ID" >/dev/null 2>&1 &
runner=$!
assert_ok wait_until 10 grep -q "holding before RETR" "$FAKE_LOG"
assert_ok "${FM[@]}" remove -u "$U" "$ID"
touch "$hold"
wait "$runner" || true
assert_eq "$(keys_of "$ID")" "" "no record of the removed account"
fake_stop

# ------------------------------------------------------ every user is reached

check "run -A and -F: a failing user does not keep the others from running"
closed=$(free_port)
assert_ok "${FM[@]}" add -u "$U" --host 127.0.0.1 --port "$closed" --protocol pop3 \
	--tls none --remote-user bob --password "$PW"
BAD=$OUT
sandbox_fill bob 2 1k
assert_ok "${FM[@]}" add -u "$U2" --host 127.0.0.1 --port "$EXT_POP3S_PORT" \
	--protocol pop3 --remote-user bob --password "$BOB_PASSWORD"
GOOD=$OUT
assert_exit 75 doveadm -c "$LOCAL_CONF" fetchmail run -A
assert_eq "$(fm_field "$U2" "$GOOD" last-status)" ok "-A: the user after the failing one ran"
assert_eq "$(count_local "$U2")" "$(count_ext bob)" "-A: and fetched"
users=$SANDBOX_DIR/users-file
printf '%s\n%s\n' "$U" "$U2" >"$users"
sandbox_fill bob 1 1k
assert_exit 75 doveadm -c "$LOCAL_CONF" fetchmail run -F "$users"
assert_eq "$(count_local "$U2")" "$(count_ext bob)" "-F: the user after the failing one ran and fetched"
assert_ok "${FM[@]}" remove -u "$U" "$BAD"

# ------------------------------------------------------------------ bad names

check "names that would crash or fail a run are refused at add and edit, naming the field"
base=(--host 127.0.0.1 --protocol pop3 --remote-user bob --password "$PW")
before=$(snapshot "$U")
for box in "$(printf 'Box\xff')" "../x" "/abs" "~/x" "$(printf 'a\tb')"; do
	assert_exit 64 "${FM[@]}" add -u "$U" "${base[@]}" --mailbox "$box"
	assert_contains "$OUT" "mailbox:" "add --mailbox $(printf %q "$box"): the error names the field"
done
for user in "$(printf 'bob\x1b[31m')" "$(printf 'bob\tx')"; do
	assert_exit 64 "${FM[@]}" add -u "$U" --host 127.0.0.1 --protocol pop3 \
		--remote-user "$user" --password "$PW"
	assert_contains "$OUT" "remote-user:" "add --remote-user $(printf %q "$user") refused"
done
assert_exit 64 "${FM[@]}" add -u "$U" "${base[@]}" --protocol imap --folders "$(printf 'Sent\xff')"
assert_contains "$OUT" "folders:" "a folder that is not UTF-8 is refused"
assert_eq "$(snapshot "$U")" "$before" "nothing was stored"
assert_ok "${FM[@]}" add -u "$U" "${base[@]}"
ID=$OUT
assert_exit 64 "${FM[@]}" edit -u "$U" "$ID" --mailbox "../x"
assert_contains "$OUT" "mailbox:" "edit refuses it too"
assert_ok "${FM[@]}" show -u "$U" "$ID"
assert_contains "$OUT" "mailbox: INBOX" "the account is unchanged"
r=$(http_call "[[\"fetchmailAdd\",{\"user\":\"$U\",\"host\":\"127.0.0.1\",\"protocol\":\"pop3\",\"remoteUser\":\"bob\",\"password\":\"x\",\"mailbox\":\"Box$(printf '\xff')\"},\"u\"]]")
assert_contains "$r" '"exitCode":64' "a raw 0xFF byte over HTTP is refused"
assert_ok "${FM[@]}" remove -u "$U" "$ID"

# ---------------------------------------------------------- hostile listings

hostile_listing() { # PROTO SCENARIO LISTING
	fake_start "$2" --listing "$3"
	add_fake "$1"
	run_cmd timeout 120 /usr/bin/time -f 'maxrss=%M' doveadm -c "$LOCAL_CONF" \
		fetchmail run -u "$U" "$ID"
	rss=$(grep -o 'maxrss=[0-9]*' <<<"$OUT" | cut -d= -f2)
	assert_eq "$RC" 75 "$1: a listing of $3 messages is refused"
	assert_contains "$(fm_field "$U" "$ID" last-error)" "fetchmail_max_messages" "$1: last-error says why"
	assert_eq "$(( ${rss:-999999} < 150 * 1024 ))" 1 "$1: memory stays bounded (peak ${rss:-?} KiB)"
	assert_ok "${FM[@]}" remove -u "$U" "$ID"
	fake_stop
}
check "a hostile POP3 UIDL listing of a million entries: refused, bounded memory"
hostile_listing pop3 pop3-huge-uidl 1000000
check "a hostile IMAP UID listing of three million entries: refused, bounded memory"
hostile_listing imap imap-huge-listing 3000000

# ------------------------------------------------------------------- secrets

check "a server that echoes the password base64-encoded: no form of it in any status field"
fake_start pop3-echo-base64
add_fake pop3
fm_run "$U" "$ID"
b64_plain=$(printf '\0bob\0%s' "$PW" | base64 -w0)
b64_alone=$(printf '%s' "$PW" | base64 -w0)
for out in "$OUT" "$("${FM[@]}" show -u "$U" "$ID")" "$(doveadm -c "$LOCAL_CONF" -f json fetchmail list -u "$U")" \
	"$(http_call "[[\"fetchmailShow\",{\"user\":\"$U\",\"id\":\"$ID\"},\"s\"]]")" \
	"$("${FM[@]}" log -u "$U" "$ID")" "$(cat "$(attr_file "$U")")"; do
	assert_not_contains "$out" "$PW" "no password"
	assert_not_contains "$out" "${b64_alone:2:12}" "no base64 of the password"
	assert_not_contains "$out" "${b64_plain:8:12}" "no SASL PLAIN form of it"
done
assert_contains "$(fm_field "$U" "$ID" last-error)" "bad credentials" "the error is still there, redacted"
assert_ok "${FM[@]}" remove -u "$U" "$ID"
fake_stop

# --------------------------------------------------------------------- roles

check "an empty actor is refused, over the CLI and HTTP"
before=$(snapshot)
assert_exit 77 "${FM[@]}" list -u "$U" --actor ''
assert_exit 77 "${FM[@]}" add -u "$U" "${base[@]}" --actor ' '
r=$(http_call "[[\"fetchmailList\",{\"user\":\"$U\",\"actor\":\"\"},\"e\"]]")
assert_contains "$r" '"exitCode":77' "JSON actor \"\" is refused"
r=$(http_call "[[\"fetchmailAdd\",{\"user\":\"$U\",\"actor\":\"\",\"host\":\"h\",\"protocol\":\"pop3\",\"remoteUser\":\"b\",\"password\":\"x\"},\"e\"]]")
assert_contains "$r" '"exitCode":77' "an add with an empty actor is refused"
assert_eq "$(snapshot)" "$before" "and changes nothing"

# ------------------------------------------- commands that are not for the API

check "the service and its worker are not reachable over the HTTP API"
cmds=$(http_get)
assert_not_contains "$cmds" "fetchmailService" "the service is not in the command list"
assert_not_contains "$cmds" "fetchmailWorker" "nor the worker"
r=$(http_call '[["fetchmailService",{},"s"]]')
assert_not_contains "$r" "doveadmResponse" "a call of the service is refused"
r=$(http_call '[["fetchmailWorker",{},"w"]]')
assert_not_contains "$r" "doveadmResponse" "a call of the worker is refused"
sleep 1
assert_eq "$(pgrep -f 'fetchmail (service|worker)' | wc -l)" 0 "neither was started"
run_cmd doveadm -c "$LOCAL_CONF" fetchmail
assert_match "$OUT" $'\n  service +\\[--once\\]' "the command line still has the service"

# ----------------------------------------------------- secrets off the command line

check "--password-file - reads the password from standard input"
assert_ok "${FM[@]}" add -u "$U2" --host 127.0.0.1 --port "$EXT_POP3S_PORT" \
	--protocol pop3 --remote-user carol --password-file - <<<"$CAROL_PASSWORD"
ID=$OUT
sandbox_fill carol 1 1k
fm_run "$U2" "$ID"
assert_eq "$RC" 0 "the password from standard input logs in"
pwfile=$SANDBOX_DIR/carol.pw
printf '%s\n' "$CAROL_PASSWORD" >"$pwfile"
assert_ok "${FM[@]}" edit -u "$U2" "$ID" --password-file "$pwfile"
fm_run "$U2" "$ID"
assert_eq "$RC" 0 "the password from a file logs in"
assert_exit 64 "${FM[@]}" edit -u "$U2" "$ID" --password x --password-file "$pwfile"
assert_contains "$OUT" "password, password-file" "both at once is refused"
r=$(http_call "[[\"fetchmailEdit\",{\"user\":\"$U2\",\"id\":\"$ID\",\"passwordFile\":\"/etc/shadow\"},\"p\"]]")
assert_contains "$r" '"exitCode":64' "password-file over the HTTP API is refused"
assert_ok "${FM[@]}" remove -u "$U2" "$ID"

# ---------------------------------------------------------------- exit codes

check "run: a missing key exits 78, an undecryptable password 65"
assert_ok "${FM[@]}" add -u "$U" "${base[@]}"
ID=$OUT
run_cmd doveadm -c "$LOCAL_CONF" -o plugin/fetchmail_key= fetchmail run -u "$U" "$ID"
assert_eq "$RC" 78 "no fetchmail_key: EX_CONFIG"
run_cmd doveadm -c "$LOCAL_CONF" -o "plugin/fetchmail_key=$(openssl rand -hex 32)" fetchmail run -u "$U" "$ID"
assert_eq "$RC" 65 "another key: EX_DATAERR"
assert_ok "${FM[@]}" remove -u "$U" "$ID"
