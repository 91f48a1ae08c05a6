#!/bin/bash
# Faults a real server will not produce, played by scripted fake servers
# (tests/integration/fakeserver.py) against the real local Dovecot with the
# plugin: connections cut in the middle of a message, garbage and over-long
# replies, absurd literal sizes, servers that stop answering, pipelined
# replies in one write, a message that vanished, STARTTLS injection.
#
# Every account has keep = no, so that a premature delete would show in the
# fake server's log (which records every line the client sent). Every fault
# must end the run cleanly: exit 75 (never a signal), last-status error, a
# clear last-error, nothing half-delivered, nothing deleted, no password in
# the run log; and a later run against a well-behaved server delivers every
# message exactly once.
export SANDBOX_EXTRAS=""     # only the local Dovecot: the remote side is fake
source "$(dirname "$0")/lib.sh"
sandbox_up

U=user1@example.org
FM=(doveadm -c "$LOCAL_CONF" fetchmail)
PW='fake-Secret-9q7'          # the remote password: must never be logged
NMSG=3                        # messages on every fake server
ALL_IDS=$(for i in $(seq 1 $NMSG); do echo "<fake-$i@example.net>"; done | sort)
# ------------------------------------------------------------ accounts, runs

# add_account PROTO BOX [ARGS...]: a keep = no account on the last fake
# server for $U; sets ID.
add_account() {
	local proto=$1 box=$2
	shift 2
	assert_ok "${FM[@]}" add -u "$U" --host 127.0.0.1 --port "$FAKE_PORT" \
		--protocol "$proto" --tls none --remote-user bob --password "$PW" \
		--keep no --mailbox "$box" "$@"
	ID=$OUT
}

# field ID NAME: one field of `show`.
field() { fm_field "$U" "$@"; }

# run_account ID: fm_run for $U (sets RC, OUT, ROW, ERR, ELAPSED).
run_account() { fm_run "$U" "$1"; }

# no_password ID WHAT: neither the run log nor the Dovecot log holds $PW.
no_password() {
	local log
	log=$("${FM[@]}" log -u "$U" "$1" 2>&1) || true
	assert_not_contains "$log" "$PW" "$2: no password in the run log"
	assert_not_contains "$(cat "$LOCAL_LOG")" "$PW" "$2: no password in the Dovecot log"
}

# no_delete WHAT: the client never asked the fake server to delete.
no_delete() {
	local sent
	sent=$(fake_sent)
	assert_not_contains "$sent" "DELE" "$1: no DELE sent"
	assert_not_contains "$sent" "STORE" "$1: no UID STORE sent"
	assert_not_contains "$sent" "EXPUNGE" "$1: no EXPUNGE sent"
	assert_eq "$(fake_deleted)" "" "$1: nothing deleted on the server"
}

# expect_failure ID BOX WHAT ERE [KEPT]: one run that must fail cleanly:
# exit 75 (not a signal, not the guard's 124), status error, last-error
# matching ERE, nothing deleted, no password logged, and nothing delivered
# to BOX but, with KEPT, message 1 (complete before the fault; a run keeps
# what it saved completely).
expect_failure() {
	local id=$1 box=$2 what=$3 ere=$4 kept=${5:-} err
	run_account "$id"
	assert_eq "$RC" 75 "$what: the run fails with EX_TEMPFAIL (not a crash or a hang)"
	assert_not_contains "$ERR" "Panic" "$what: doveadm did not panic"
	assert_match "$ROW" '^error [0-9]+ 0 0$' "$what: reported as error, nothing deleted"
	assert_eq "$(field "$id" last-status)" error "$what: last-status error"
	err=$(field "$id" last-error)
	say "last-error: $err"
	assert_match "$err" "$ere" "$what: last-error says why"
	if [[ -n $kept ]]; then
		assert_match "$(msgids_local "$U" "$box" | tr '\n' ' ')" '^(<fake-1@example.net> )?$' \
			"$what: no partial message (at most message 1, complete before)"
	else
		assert_eq "$(count_local "$U" "$box")" 0 "$what: nothing delivered"
	fi
	no_delete "$what"
	no_password "$id" "$what"
}

# ------------------------------------------------------------ 1. cut mid-message
for proto in pop3 imap; do
	if [[ $proto == pop3 ]]; then cut=pop3-retr-cut; else cut=imap-fetch-cut; fi
	check "$proto: the connection is cut in the middle of message 2"
	fake_start "$cut"
	box=cut-$proto
	add_account "$proto" "$box"
	expect_failure "$ID" "$box" "$proto cut" 'closed|connection' kept
	fake_stop

	check "$proto: after the cut, a well-behaved server: every message exactly once"
	fake_start "$proto-good"
	assert_ok "${FM[@]}" edit -u "$U" "$ID" --port "$FAKE_PORT"
	run_account "$ID"
	assert_eq "$RC" 0 "$proto cut, then good: the run succeeds"
	assert_match "$ROW" "^ok [0-9]+ 0 $NMSG\$" "$proto cut, then good: all $NMSG deleted after saving"
	assert_eq "$(msgids_local "$U" "$box")" "$ALL_IDS" "$proto cut, then good: every message exactly once"
	assert_eq "$(body_hashes_local "$U" "$box")" "$(fake_body_hashes)" "$proto cut, then good: the bodies are intact"
	assert_eq "$(fake_deleted | wc -l)" "$NMSG" "$proto cut, then good: all $NMSG deleted on the server"
	no_password "$ID" "$proto cut, then good"
	fake_stop
done

# ------------------------------------------------------------ 2. garbage
# garbage PROTO SCENARIO ERE WHAT
garbage() {
	local proto=$1 scenario=$2 ere=$3 what="$1: $4"
	check "$what"
	fake_start "$scenario"
	add_account "$proto" "g-$scenario"
	expect_failure "$ID" "g-$scenario" "$what" "$ere"
	assert_match "$(field "$ID" last-error)" '^.{1,600}$' "$what: last-error is one bounded line"
	fake_stop
}
garbage pop3 pop3-garbage-greeting 'unexpected reply|refused|greeting' "a non-POP3 greeting (SMTP)"
garbage pop3 pop3-garbage-listing 'malformed UIDL' "a garbage line in the UIDL listing"
garbage pop3 pop3-long-line 'line too long' "a 1 MiB reply line without CRLF"
garbage imap imap-garbage-greeting 'unexpected greeting' "a non-IMAP greeting (SMTP)"
garbage imap imap-garbage-listing 'malformed|unexpected|invalid' "a garbage line in the UID FETCH listing"
garbage imap imap-bogus-tag 'unexpected tag' "a tagged reply with a tag never sent"
garbage imap imap-long-line 'line too long|too long' "a 1 MiB response line without CRLF"
garbage imap imap-huge-literal 'too big|too long' "a body literal of {99999999999}"
garbage imap imap-huge-literal-listing 'too big|too long' "a listing literal of {99999999999}"

for proto in pop3 imap; do
	check "$proto: a server that repeats the password in its refusal"
	fake_start "$proto-echo-password"
	add_account "$proto" "e-$proto"
	expect_failure "$ID" "e-$proto" "$proto echo" 'login failed.*\*\*\*'
	assert_not_contains "$(field "$ID" last-error)" "$PW" "$proto echo: no password in last-error"
	assert_not_contains "$("${FM[@]}" show -u "$U" "$ID" 2>&1)" "$PW" "$proto echo: no password in show"
	assert_not_contains "$OUT$ERR" "$PW" "$proto echo: no password in the output of run"
	fake_stop
done

# ------------------------------------------------------------ 3. timeouts
printf 'plugin {\n  fetchmail_timeout = 2s\n}\n' >>"$LOCAL_CONF"
# timeout_case PROTO SCENARIO WHAT [REFETCH]: a server that stops
# answering; with REFETCH (what the client sends to fetch message 2), a
# well-behaved server afterwards must get every message delivered once.
timeout_case() {
	local proto=$1 scenario=$2 what="$1: $3" refetch=${4:-}
	check "$what (fetchmail_timeout = 2s)"
	fake_start "$scenario"
	add_account "$proto" "t-$scenario"
	expect_failure "$ID" "t-$scenario" "$what" 'timed out|timeout' "$refetch"
	assert_eq "$((ELAPSED < 20))" 1 "$what: gave up in ${ELAPSED}s (< 20 s)"
	fake_stop
	[[ -n $refetch ]] || return 0

	check "$what, then a well-behaved server: every message exactly once"
	fake_start "$proto-good"
	assert_ok "${FM[@]}" edit -u "$U" "$ID" --port "$FAKE_PORT"
	run_account "$ID"
	assert_eq "$RC" 0 "$what, then good: the run succeeds"
	assert_contains "$(fake_sent)" "$refetch" "$what, then good: message 2 is fetched again"
	assert_eq "$(msgids_local "$U" "t-$scenario")" "$ALL_IDS" "$what, then good: every message exactly once"
	fake_stop
}
check "while a run waits for a silent server, the account shows as running"
fake_start pop3-silent
add_account pop3 t-running
doveadm -c "$LOCAL_CONF" fetchmail run -u "$U" "$ID" >/dev/null 2>&1 &
runner=$!
is_running() { [[ $(field "$ID" last-status) == running ]]; }
assert_ok wait_until 10 is_running
assert_exit 75 "${FM[@]}" run -u "$U" "$ID"
assert_contains "$OUT" "another run of this account is in progress" "a second run does not overlap"
wait "$runner" || true
assert_eq "$(field "$ID" last-status)" error "after the run: error, not running"
assert_ok "${FM[@]}" remove -u "$U" "$ID"
fake_stop

timeout_case pop3 pop3-silent "a server that sends the greeting, then nothing"
timeout_case imap imap-silent "a server that sends the greeting, then nothing"
timeout_case pop3 pop3-retr-stall "a server that stops in the middle of message 2" "RETR 2"
timeout_case imap imap-fetch-stall "a server that stops in the middle of message 2" "UID FETCH 2 "
head -n -3 "$LOCAL_CONF" >"$LOCAL_CONF.new" && mv "$LOCAL_CONF.new" "$LOCAL_CONF"

# ------------------------------------------------------------ 4. pipelining, a vanished message
for proto in pop3 imap; do
	check "$proto: a server that answers each pipelined batch in one write"
	fake_start "$proto-pipelining"
	box=p-$proto
	add_account "$proto" "$box"
	run_account "$ID"
	assert_eq "$RC" 0 "$proto pipelined: the run succeeds"
	assert_eq "$ROW" "ok $NMSG 0 $NMSG" "$proto pipelined: all fetched, then deleted"
	assert_eq "$(msgids_local "$U" "$box")" "$ALL_IDS" "$proto pipelined: every message exactly once"
	assert_eq "$(body_hashes_local "$U" "$box")" "$(fake_body_hashes)" "$proto pipelined: the bodies are intact (dot-stuffing undone)"
	# every body request came before the first body was sent
	order=$(grep -aE '] (C: .*(RETR|BODY\.PEEK\[\])|S: .*(octets|BODY\[\]))' "$FAKE_LOG" |
		sed -E 's/.*] C: .*/C/; s/.*] S: .*/S/' | tr -d '\n')
	assert_eq "$order" "$(printf 'C%.0s' $(seq 1 $NMSG))S" "$proto pipelined: all $NMSG requests answered in one write"
	no_password "$ID" "$proto pipelined"
	fake_stop
done

check "pop3: RETR -ERR for message 2 (vanished): the others arrive, 2 stays"
fake_start pop3-retr-err
add_account pop3 vanished-pop3
run_account "$ID"
assert_eq "$RC" 75 "pop3 vanished: the run reports the error"
assert_eq "$ROW" "error 2 0 2" "pop3 vanished: 2 fetched and deleted"
assert_contains "$(field "$ID" last-error)" "vanished" "pop3 vanished: last-error has the server's text"
assert_eq "$(msgids_local "$U" vanished-pop3 | tr '\n' ' ')" "<fake-1@example.net> <fake-3@example.net> " \
	"pop3 vanished: messages 1 and 3 delivered"
sent=$(fake_sent)
assert_contains "$sent" "DELE 1" "pop3 vanished: 1 deleted"
assert_contains "$sent" "DELE 3" "pop3 vanished: 3 deleted"
assert_not_contains "$sent" "DELE 2" "pop3 vanished: 2 not deleted"
assert_eq "$(fake_deleted | tr '\n' ' ')" "fake-uidl-1 fake-uidl-3 " "pop3 vanished: the server deleted 1 and 3 only"
no_password "$ID" "pop3 vanished"
fake_stop

check "imap: UID FETCH returns nothing for UID 2 (expunged meanwhile): the others arrive, 2 stays"
fake_start imap-fetch-vanished
add_account imap vanished-imap
run_account "$ID"
assert_eq "$RC" 75 "imap vanished: the run reports the error"
assert_eq "$ROW" "error 2 0 2" "imap vanished: 2 fetched and deleted"
say "last-error: $(field "$ID" last-error)"
assert_contains "$(field "$ID" last-error)" "message 2" "imap vanished: last-error names the message"
assert_eq "$(msgids_local "$U" vanished-imap | tr '\n' ' ')" "<fake-1@example.net> <fake-3@example.net> " \
	"imap vanished: messages 1 and 3 delivered"
sets=$(fake_sent | sed -nE 's/^[^ ]+ UID (STORE|EXPUNGE) ([^ ]+).*/\1 \2/p' | tr '\n' ' ')
assert_eq "$sets" "STORE 1,3 EXPUNGE 1,3 " "imap vanished: only UIDs 1 and 3 flagged \\Deleted and expunged"
assert_eq "$(fake_deleted | tr '\n' ' ')" "uid 1 uid 3 " "imap vanished: the server deleted 1 and 3 only"
no_password "$ID" "imap vanished"
fake_stop

# ------------------------------------------------------------ 5. STARTTLS injection
# stls_inject PROTO SCENARIO WHAT
stls_inject() {
	local proto=$1 scenario=$2 what="$1: $3" sent
	check "$what"
	fake_start "$scenario"
	add_account "$proto" "s-$scenario" --tls starttls
	run_account "$ID"
	assert_eq "$RC" 75 "$what: the run fails"
	say "last-error: $(field "$ID" last-error)"
	assert_match "$(field "$ID" last-error)" 'TLS' "$what: last-error names TLS"
	assert_eq "$(count_local "$U" "s-$scenario")" 0 "$what: nothing delivered"
	sent=$(fake_sent)
	assert_not_contains "$sent" "PASS" "$what: no PASS in the clear"
	assert_not_contains "$sent" "USER" "$what: no USER in the clear"
	assert_not_contains "$sent" "LOGIN" "$what: no LOGIN in the clear"
	assert_not_contains "$sent" "AUTH" "$what: no AUTH in the clear"
	assert_not_contains "$sent" "$PW" "$what: the password never sent"
	no_password "$ID" "$what"
	fake_stop
}
stls_inject pop3 pop3-stls-inject "STLS answered with +OK and injected plaintext in the same write"
stls_inject pop3 pop3-stls-inject-late "STLS answered with +OK, plaintext instead of a TLS handshake"
stls_inject imap imap-starttls-inject "STARTTLS answered OK and injected plaintext in the same write"
