# fetchmail_delivery = lmtp against the sandbox: fetched mail goes through
# the local LMTP service (base_dir/lmtp), exactly once, with the null sender
# and into INBOX; a missing socket or an LMTP refusal (quota) leaves the
# messages on the server with keep = no; a Sieve script run by LMTP files
# fetched mail (when Pigeonhole, dovecot-sieve, is installed).
source "$(dirname "$0")/lib.sh"
sandbox_up

U=user1@example.org
FM=(doveadm -c "$LOCAL_CONF" fetchmail)

# add_account ARGS...: adds an account for $U, sets ID.
add_account() {
	assert_ok "${FM[@]}" add -u "$U" --host 127.0.0.1 "$@"
	ID=$OUT
}
# field ID NAME: one field of `show`.
field() { fm_field "$U" "$@"; }
# run_account ID: fm_run for $U (sets ROW, RC, ERR).
run_account() { fm_run "$U" "$1"; }
# lmtp_saved_lines: the local log's "saved mail to" lines of LMTP for $U
# (lmtp's default deliver_log_format: "msgid=<...>: saved mail to INBOX").
lmtp_saved_lines() {
	grep -F "lmtp($U)" "$LOCAL_LOG" | grep -F "saved mail to" || true
}
lmtp_count_saved() { lmtp_saved_lines | wc -l; }

# The local config is the sandbox's plus fetchmail_delivery = lmtp plus the
# block of the check at hand. doveadm re-reads it on every call; the LMTP
# service gets it with a reload.
printf 'plugin {\n  fetchmail_delivery = lmtp\n}\n' >>"$LOCAL_CONF"
cp "$LOCAL_CONF" "$SANDBOX_DIR/local.conf.lmtp"
# with_conf TEXT: the lmtp config plus TEXT, reloaded.
with_conf() {
	cp "$SANDBOX_DIR/local.conf.lmtp" "$LOCAL_CONF"
	printf '%s\n' "$1" >>"$LOCAL_CONF"
	local_doveadm reload
	sleep 1
}
# The sandbox loads mail plugins from the build tree: a directory with ours
# and the Dovecot (and Pigeonhole) plugins the checks below load into lmtp.
MODULES=$SANDBOX_DIR/modules
SIEVE_SO=/usr/lib/dovecot/modules/lib90_sieve_plugin.so
mkdir -p "$MODULES"
ln -sf "$FETCHMAIL_BUILD_DIR/plugin/lib90_fetchmail_plugin.so" "$MODULES/"
ln -sf /usr/lib/dovecot/modules/lib10_quota_plugin.so "$MODULES/"
if [[ -f $SIEVE_SO ]]; then ln -sf "$SIEVE_SO" "$MODULES/"; fi
with_conf ""

# ------------------------------------------------------------ delivery
check "pop3, keep = no: every message through LMTP into INBOX, then deleted"
sandbox_fill alice 2 300k   # larger than the in-memory part of the temp stream
want=$(msgids_ext alice)
want_bodies=$(body_hashes_ext alice)
n=$(count_ext alice)
before=$(lmtp_count_saved)
add_account --port "$EXT_POP3S_PORT" --protocol pop3 --remote-user alice \
	--password "$ALICE_PASSWORD" --keep no --mailbox NotUsedByLmtp
run_account "$ID"
assert_eq "$RC" 0 "the run succeeds"
assert_not_contains "$ERR" "leak" "no ioloop leak warnings"
assert_not_contains "$ERR" "Error:" "no errors"
assert_eq "$ROW" "ok $n 0 $n" "fetched and deleted $n"
assert_eq "$(msgids_local "$U")" "$want" "the same Message-IDs arrived in INBOX"
assert_eq "$(body_hashes_local "$U")" "$want_bodies" "the same bodies"
assert_eq "$(count_local "$U" NotUsedByLmtp)" 0 "the account's mailbox is not used with LMTP"
assert_eq "$(count_ext alice)" 0 "the remote is empty"
assert_eq "$(( $(lmtp_count_saved) - before ))" "$n" "the local log has one LMTP 'saved mail' line per message"
assert_contains "$(lmtp_saved_lines)" "msgid=<sample-alice-INBOX-1@example.net>: saved mail to INBOX" "LMTP saved them to INBOX"
conns=$(grep -c 'lmtp([0-9]*): Info: Connect from local' "$LOCAL_LOG" || true)
assert_eq "$conns" 1 "one LMTP connection for the whole run"
hdr=$(local_doveadm -f flow fetch -u "$U" hdr mailbox INBOX header message-id '<sample-alice-INBOX-1@example.net>')
assert_match "$hdr" "^hdr=Return-Path: <>" "MAIL FROM was the null sender"
assert_contains "$hdr" "with LMTP" "LMTP's Received header"
assert_contains "$hdr" "Delivered-To: $U" "RCPT TO was the user"

check "a second run fetches nothing"
run_account "$ID"
assert_eq "$ROW" "ok 0 0 0" "nothing new"
assert_eq "$(count_local "$U")" "$n" "still $n"

check "imap, keep = yes: through LMTP, exactly once"
nb=$(count_ext bob)
add_account --port "$EXT_IMAPS_PORT" --protocol imap --remote-user bob \
	--password "$BOB_PASSWORD"
run_account "$ID"
assert_eq "$ROW" "ok $nb 0 0" "fetched $nb, deleted nothing"
run_account "$ID"
assert_eq "$ROW" "ok 0 0 0" "the second run fetches nothing"
assert_eq "$(count_local "$U")" "$((n + nb))" "$nb more in INBOX"
assert_eq "$(count_ext bob)" "$nb" "the remote is untouched"

# ------------------------------------------------------------ failures
check "no LMTP socket: the run fails before fetching, nothing deleted"
sandbox_fill carol 3 4k
want=$(msgids_ext carol)
add_account --port "$EXT_POP3S_PORT" --protocol pop3 --remote-user carol \
	--password "$CAROL_PASSWORD" --keep no
mv "$LOCAL_LMTP_SOCKET" "$LOCAL_LMTP_SOCKET.away"
run_account "$ID"
mv "$LOCAL_LMTP_SOCKET.away" "$LOCAL_LMTP_SOCKET"
assert_eq "$RC" 75 "the run fails (EX_TEMPFAIL)"
assert_eq "$ROW" "error 0 0 0" "nothing fetched, nothing deleted"
err=$(field "$ID" last-error)
assert_eq "$err" "lmtp($LOCAL_LMTP_SOCKET): connect($LOCAL_LMTP_SOCKET) failed: No such file or directory" "last-error names the socket and why the connect failed"
assert_eq "$(msgids_ext carol)" "$want" "every message is still on the server"

# (lib-smtp 2.3.19 panics on unix socket connect failures unless worked
# around: these must fail the run, not crash doveadm)
check "a stale socket (nobody listening): connection refused, no crash"
mv "$LOCAL_LMTP_SOCKET" "$LOCAL_LMTP_SOCKET.away"
$PYTHON -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$LOCAL_LMTP_SOCKET"
chmod 666 "$LOCAL_LMTP_SOCKET"
run_account "$ID"
assert_eq "$RC" 75 "the run fails (EX_TEMPFAIL)"
assert_eq "$(field "$ID" last-error)" "lmtp($LOCAL_LMTP_SOCKET): connect($LOCAL_LMTP_SOCKET) failed: Connection refused" "last-error says refused"

check "a socket that never greets: fetchmail_timeout, no crash"
rm -f "$LOCAL_LMTP_SOCKET"
$PYTHON -c '
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.listen(5)
c, _ = s.accept()
time.sleep(10)
' "$LOCAL_LMTP_SOCKET" &
mute_pid=$!
on_exit "kill $mute_pid 2>/dev/null || true"
wait_until 5 test -S "$LOCAL_LMTP_SOCKET" || fail "the mute socket did not appear"
# a doveadm setting: no reload needed (the next with_conf drops it)
printf 'plugin {\n  fetchmail_timeout = 2 secs\n}\n' >>"$LOCAL_CONF"
run_account "$ID"
kill "$mute_pid" 2>/dev/null || true
rm -f "$LOCAL_LMTP_SOCKET"
mv "$LOCAL_LMTP_SOCKET.away" "$LOCAL_LMTP_SOCKET"
assert_eq "$RC" 75 "the run fails (EX_TEMPFAIL)"
assert_eq "$(field "$ID" last-error)" "lmtp($LOCAL_LMTP_SOCKET): Connection timed out after 2 seconds" "last-error says timed out"
assert_eq "$(msgids_ext carol)" "$want" "every message is still on the server"

check "LMTP refuses (quota, in lmtp only): keep = no leaves everything on the server"
with_conf "mail_plugin_dir = $MODULES
protocol lmtp {
  mail_plugins = \$mail_plugins quota
}
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=10k
}"
local_before=$(count_local "$U")
run_account "$ID"
assert_eq "$RC" 75 "the run fails (EX_TEMPFAIL)"
assert_eq "$ROW" "error 0 0 0" "nothing fetched, nothing deleted"
err=$(field "$ID" last-error)
say "last-error: $err"
assert_contains "$err" "lmtp($LOCAL_LMTP_SOCKET): DATA failed: 552 5.2.2" "last-error has LMTP's reply"
assert_contains "$err" "uota" "last-error names the quota"
assert_eq "$(msgids_ext carol)" "$want" "every message is still on the server"
assert_eq "$(count_local "$U")" "$local_before" "nothing arrived"
assert_contains "$("${FM[@]}" log -u "$U" "$ID")" "552 5.2.2" "the run log has LMTP's reply"

check "after the quota is lifted: all of them, once, then deleted"
with_conf ""
run_account "$ID"
assert_eq "$ROW" "ok 3 0 3" "fetched and deleted 3"
assert_eq "$(count_ext carol)" 0 "the remote is empty"
assert_eq "$(msgids_local "$U" | grep -c sandbox-carol)" 3 "the 3 messages arrived once"

# ------------------------------------------------------------ Sieve
if [[ ! -f $SIEVE_SO ]]; then
	say "Pigeonhole (dovecot-sieve) is not installed: Sieve check skipped"
else
	check "Sieve, run by LMTP, files fetched mail"
	home=$SANDBOX_DIR/local/mail/$U
	printf '%s\n' 'require ["fileinto", "mailbox"];' \
		'if header :contains "subject" "[sieve-me]" {' \
		'  fileinto :create "Sieved";' '}' >"$home/.dovecot.sieve"
	chown mail:mail "$home/.dovecot.sieve"
	with_conf "mail_plugin_dir = $MODULES
protocol lmtp {
  mail_plugins = \$mail_plugins sieve
}
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
}"
	printf 'Subject: [sieve-me] please\r\nMessage-ID: <sieve-me@x>\r\n\r\nbody\r\n' |
		ext_doveadm save -u carol -m INBOX
	printf 'Subject: plain\r\nMessage-ID: <not-sieved@x>\r\n\r\nbody\r\n' |
		ext_doveadm save -u carol -m INBOX
	run_account "$ID"
	assert_eq "$ROW" "ok 2 0 2" "fetched and deleted 2"
	assert_eq "$(msgids_local "$U" Sieved)" "<sieve-me@x>" "Sieve filed the tagged message into Sieved"
	assert_contains "$(msgids_local "$U")" "<not-sieved@x>" "the other one went to INBOX"
	assert_contains "$(cat "$LOCAL_LOG")" "sieve: msgid=<sieve-me@x>: fileinto action: stored mail into mailbox 'Sieved'" "Sieve's log line in LMTP says so"
fi
