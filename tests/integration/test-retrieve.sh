# Retrieval against the sandbox's real "external" Dovecot: POP3 and IMAP in
# each of none/starttls/implicit TLS, exactly once, keep yes/no, folders,
# max-size, TLS failures, wrong passwords and the run log.
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
# expect_run ID ROW MSG: runs the account and checks its row.
expect_run() {
	run_account "$1"
	assert_eq "$ROW" "$2" "$3"
}

# same_mail EXTUSER EXTFOLDER LOCALMAILBOX: identical Message-IDs and bodies.
same_mail() {
	assert_eq "$(msgids_local "$U" "$3")" "$(msgids_ext "$1" "$2")" "same Message-IDs in $3 as $1/$2"
	assert_eq "$(body_hashes_local "$U" "$3")" "$(body_hashes_ext "$1" "$2")" "same bodies in $3 as $1/$2"
	assert_eq "$(msgids_local "$U" "$3" | uniq -d)" "" "no duplicates in $3"
}

# ------------------------------------------------------------ the matrix
sandbox_fill bob 5 4k
sandbox_fill bob 1 300k    # larger than the in-memory part of the temp stream
for proto in pop3 imap; do
	for tls in none starttls implicit; do
		case $proto/$tls in
		pop3/implicit) port=$EXT_POP3S_PORT ;;
		pop3/*) port=$EXT_POP3_PORT ;;
		imap/implicit) port=$EXT_IMAPS_PORT ;;
		imap/*) port=$EXT_IMAP_PORT ;;
		esac
		box="m-$proto-$tls"
		check "$proto, tls $tls: every message once, same bodies"
		add_account --port "$port" --protocol "$proto" --tls "$tls" \
			--remote-user bob --password "$BOB_PASSWORD" --mailbox "$box"
		n=$(count_ext bob)
		expect_run "$ID" "ok $n 0 0" "first run fetched all $n"
		same_mail bob INBOX "$box"
		assert_eq "$(field "$ID" last-status)" ok "last-status ok"
		assert_eq "$(field "$ID" last-fetched)" "$n" "last-fetched"
		check "$proto, tls $tls: keep = yes, a second run fetches nothing"
		expect_run "$ID" "ok 0 0 0" "second run fetched nothing"
		assert_eq "$(count_local "$U" "$box")" "$n" "still $n locally"
		assert_eq "$(count_ext bob)" "$n" "remote untouched with keep = yes"
		assert_ok "${FM[@]}" edit -u "$U" "$ID" --active no
	done
	check "$proto: only new mail after new mail arrives"
	assert_ok "${FM[@]}" edit -u "$U" "$ID" --active yes
	sandbox_fill bob 2 2k
	expect_run "$ID" "ok 2 0 0" "only the 2 new messages"
	same_mail bob INBOX "$box"
	assert_ok "${FM[@]}" edit -u "$U" "$ID" --active no
done

check "the run log: timestamps, commands, status lines, no bodies, no password"
assert_ok "${FM[@]}" log -u "$U" "$ID"
LOG=$OUT
assert_match "$LOG" '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z C: ' "timestamped command lines"
assert_contains "$LOG" 'LOGIN "bob" ***' "the password is replaced by ***"
assert_not_contains "$LOG" "$BOB_PASSWORD" "no password in the log"
assert_not_contains "$LOG" "Message-ID:" "no message headers in the log"

# ------------------------------------------------------------ keep = no
for proto in pop3 imap; do
	check "$proto, keep = no: fetched, then deleted on the server"
	sandbox_fill carol 4 3k
	n=$(count_ext carol)
	want=$(msgids_ext carol)
	port=$EXT_POP3S_PORT
	[[ $proto == imap ]] && port=$EXT_IMAPS_PORT
	add_account --port "$port" --protocol "$proto" --remote-user carol \
		--password "$CAROL_PASSWORD" --keep no --mailbox "k-$proto"
	expect_run "$ID" "ok $n 0 $n" "fetched and deleted $n"
	assert_eq "$(count_ext carol)" 0 "the remote is empty"
	assert_eq "$(msgids_local "$U" "k-$proto")" "$want" "all arrived"
	assert_ok "${FM[@]}" remove -u "$U" "$ID"
done

check "keep = no: a save failure (quota) leaves the remote untouched"
sandbox_fill carol 3 8k
want=$(msgids_ext carol)
# the sandbox loads mail plugins from the build tree: add Dovecot's quota
mkdir -p "$SANDBOX_DIR/modules"
ln -sf /usr/lib/dovecot/modules/lib10_quota_plugin.so "$FETCHMAIL_BUILD_DIR"/plugin/lib90_fetchmail_plugin.so "$SANDBOX_DIR/modules/"
cat >>"$LOCAL_CONF" <<EOF
mail_plugin_dir = $SANDBOX_DIR/modules
mail_plugins = \$mail_plugins quota
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=10k
}
EOF
add_account --port "$EXT_POP3S_PORT" --protocol pop3 --remote-user carol \
	--password "$CAROL_PASSWORD" --keep no --mailbox quota-test
run_account "$ID"
assert_eq "$RC" 75 "the run fails (EX_TEMPFAIL)"
assert_match "$ROW" '^error [0-9]+ 0 0$' "nothing deleted"
assert_eq "$(msgids_ext carol)" "$want" "every message is still on the server"
assert_contains "$(field "$ID" last-error)" "uota" "last-error names the quota"
head -n -6 "$LOCAL_CONF" >"$LOCAL_CONF.new" && mv "$LOCAL_CONF.new" "$LOCAL_CONF"
got=$(count_local "$U" quota-test)
expect_run "$ID" "ok $((3 - got)) 0 3" "after the quota is lifted: the rest, then all deleted"
assert_eq "$(msgids_local "$U" quota-test)" "$want" "every message arrived exactly once"
assert_eq "$(count_ext carol)" 0 "and the remote is empty"

# ------------------------------------------------------------ IMAP specifics
check "imap: several folders, max-size"
sandbox_fill alice 2 2k Archive
sandbox_fill alice 1 200k Archive
add_account --port "$EXT_IMAPS_PORT" --protocol imap --remote-user alice \
	--password "$ALICE_PASSWORD" --folders INBOX --folders Archive \
	--mailbox folders --max-size 100k
n=$(( $(count_ext alice INBOX) + $(count_ext alice Archive) - 1 ))
expect_run "$ID" "ok $n 1 0" "both folders fetched, the big one skipped"
assert_eq "$(count_local "$U" folders)" "$n" "all but the big one arrived"
assert_contains "$("${FM[@]}" log -u "$U" "$ID")" "over max-size" "the log reports the skipped message"

check "imap: a changed UIDVALIDITY neither loses nor duplicates"
before=$(msgids_local "$U" folders)
assert_ok ext_doveadm mailbox update -u alice --uid-validity 12345 INBOX
sandbox_fill alice 1 1k
expect_run "$ID" "ok 1 1 0" "only the new message after the change"
assert_eq "$(msgids_local "$U" folders | uniq -d)" "" "no duplicates"
assert_eq "$(msgids_local "$U" folders | wc -l)" "$(( $(echo "$before" | wc -l) + 1 ))" "nothing lost"
assert_contains "$("${FM[@]}" log -u "$U" "$ID")" "UIDVALIDITY changed" "the log says so"
assert_ok ext_doveadm mailbox update -u alice --uid-validity 23456 INBOX
expect_run "$ID" "ok 0 1 0" "a change without new mail fetches nothing"
expect_run "$ID" "ok 0 1 0" "and the next run neither"
assert_not_contains "$("${FM[@]}" log -u "$U" "$ID")" "UIDVALIDITY changed" "the new UIDVALIDITY was stored"

check "imap: flags and INTERNALDATE are kept"
printf 'Subject: flagged\r\nMessage-ID: <flagged@x>\r\n\r\nbody\r\n' |
	ext_doveadm save -u alice -m INBOX
ext_doveadm flags add -u alice '\Flagged \Seen' mailbox INBOX header message-id '<flagged@x>'
expect_run "$ID" "ok 1 1 0" "the flagged message fetched"
flags=$(local_doveadm -f tab fetch -u "$U" flags mailbox folders header message-id '<flagged@x>' | tail -1)
assert_contains "$flags" '\Seen' "\\Seen copied"
assert_contains "$flags" '\Flagged' "\\Flagged copied"
ext_date=$(ext_doveadm -f tab fetch -u alice date.received mailbox INBOX header message-id '<flagged@x>' | tail -1)
loc_date=$(local_doveadm -f tab fetch -u "$U" date.received mailbox folders header message-id '<flagged@x>' | tail -1)
assert_eq "$loc_date" "$ext_date" "INTERNALDATE became the received date"

# ------------------------------------------------------------ failures
sandbox_extra notls untrusted
check "an unknown CA fails with tls-verify = yes and fetches nothing"
add_account --port "$UNTRUSTED_IMAPS_PORT" --protocol imap --remote-user alice \
	--password "$ALICE_PASSWORD" --mailbox untrusted
run_account "$ID"
assert_eq "$RC" 75 "the run fails"
assert_match "$(field "$ID" last-error)" '[Cc]ertificate|TLS|verif' "last-error says why"
assert_eq "$(count_local "$U" untrusted)" 0 "nothing fetched"
check "tls-verify = no succeeds against the unknown CA"
assert_ok "${FM[@]}" edit -u "$U" "$ID" --tls-verify no
run_account "$ID"; assert_match "$ROW" '^ok [1-9]' "fetched with verification off"

check "a server without STARTTLS fails a starttls account, never falls back"
add_account --port "$NOTLS_POP3_PORT" --protocol pop3 --tls starttls \
	--remote-user alice --password "$ALICE_PASSWORD" --mailbox notls
run_account "$ID"
assert_eq "$RC" 75 "the run fails"
assert_contains "$(field "$ID" last-error)" "STLS" "last-error names STLS"
assert_not_contains "$("${FM[@]}" log -u "$U" "$ID")" "USER alice" "no login in the clear"
add_account --port "$NOTLS_IMAP_PORT" --protocol imap --tls starttls \
	--remote-user alice --password "$ALICE_PASSWORD" --mailbox notls
run_account "$ID"
assert_contains "$(field "$ID" last-error)" "STARTTLS" "imap: last-error names STARTTLS"

check "a wrong password: the server's message in last-error and the log, no password"
WRONG='wrong-Pass-4242'
for proto in pop3 imap; do
	port=$EXT_POP3S_PORT
	[[ $proto == imap ]] && port=$EXT_IMAPS_PORT
	add_account --port "$port" --protocol "$proto" --remote-user alice --password "$WRONG"
	run_account "$ID"
	assert_eq "$RC" 75 "$proto: the run fails"
	assert_match "$(field "$ID" last-error)" '[Aa]uthentication failed' "$proto: the server's text"
	assert_eq "$(field "$ID" last-status)" error "$proto: last-status error"
	log=$("${FM[@]}" log -u "$U" "$ID")
	assert_match "$log" '[Aa]uthentication failed' "$proto: the log has the server's reply"
	assert_not_contains "$log" "$WRONG" "$proto: the log has no password"
	assert_not_contains "$(cat "$LOCAL_LOG")" "$WRONG" "$proto: the Dovecot log has no password"
done

# peak_rss_kb CMD...: runs CMD, prints its peak RSS in KiB (stdout of CMD
# is discarded).
peak_rss_kb() {
	"$PYTHON" -c '
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}

check "a 20 MiB message: delivered intact, memory does not grow with its size"
sandbox_fill carol 1 4k Small
sandbox_fill carol 1 20M Big
for box in Small Big; do
	add_account --port "$EXT_IMAPS_PORT" --protocol imap --remote-user carol \
		--password "$CAROL_PASSWORD" --folders "$box" --mailbox "size-$box"
	eval "ID_$box=\$ID"
done
rss_small=$(peak_rss_kb doveadm -c "$LOCAL_CONF" fetchmail run -u "$U" "$ID_Small")
rss_big=$(peak_rss_kb doveadm -c "$LOCAL_CONF" fetchmail run -u "$U" "$ID_Big")
say "peak RSS: $rss_small KiB for 4 KiB, $rss_big KiB for 20 MiB"
assert_eq "$(body_hashes_local "$U" size-Big)" "$(body_hashes_ext carol Big)" "the 20 MiB body arrived intact"
[[ $((rss_big - rss_small)) -lt 8192 ]] && pass "peak RSS grew by $((rss_big - rss_small)) KiB (< 8 MiB) for a 20 MiB message" ||
	fail "peak RSS grew by $((rss_big - rss_small)) KiB for a 20 MiB message"

check "key rotation: old records still decrypt, new passwords use the new key"
old_key=$(cat "$FETCHMAIL_KEY_FILE")
add_account --port "$EXT_POP3S_PORT" --protocol pop3 --remote-user alice \
	--password "$ALICE_PASSWORD" --mailbox rotated
openssl rand -hex 32 >"$FETCHMAIL_KEY_FILE"
echo "$old_key" >"$SANDBOX_DIR/old.keys"
sed -i "s|^\(\s*\)fetchmail_key = .*|&\n\1fetchmail_old_keys = <$SANDBOX_DIR/old.keys|" "$LOCAL_CONF"
run_account "$ID"
assert_match "$ROW" '^ok ' "the account written with the old key still runs"
attrs=$SANDBOX_DIR/local/mail/$U/dovecot-attributes
old_blob=$(grep -A1 "account/$ID\$" "$attrs" | tail -1 | grep -o '"password":"v1:[0-9a-f]*')
assert_ok "${FM[@]}" edit -u "$U" "$ID" --password "$ALICE_PASSWORD"
new_blob=$(grep -A1 "account/$ID\$" "$attrs" | tail -1 | grep -o '"password":"v1:[0-9a-f]*')
assert_ne "$new_blob" "$old_blob" "the new password names the new key id"
run_account "$ID"
assert_match "$ROW" '^ok ' "and runs"
sed -i '/fetchmail_old_keys/d' "$LOCAL_CONF"
add_account --port "$EXT_POP3S_PORT" --protocol pop3 --remote-user alice --password "$ALICE_PASSWORD"
echo "$old_key" >"$FETCHMAIL_KEY_FILE"
run_account "$ID"
assert_ne "$RC" 0 "a record under an unknown key fails"
assert_contains "$OUT" "not configured" "the error says the record's key is not configured"
openssl rand -hex 32 >"$FETCHMAIL_KEY_FILE"

check "pointing an account at another mailbox forgets its ledger; a port change does not"
add_account --port "$EXT_POP3S_PORT" --protocol pop3 --remote-user bob \
	--password "$BOB_PASSWORD" --mailbox switched
run_account "$ID"
attrs=$SANDBOX_DIR/local/mail/$U/dovecot-attributes
assert_contains "$(cat "$attrs")" "fetchmail/ledger/$ID" "the run stored a ledger"
assert_ok "${FM[@]}" edit -u "$U" "$ID" --port "$EXT_POP3S_PORT" --tls implicit
assert_contains "$(cat "$attrs")" "fetchmail/ledger/$ID" "kept after a port/TLS edit"
assert_ok "${FM[@]}" edit -u "$U" "$ID" --remote-user alice --password "$ALICE_PASSWORD"
assert_not_contains "$(cat "$attrs")" "fetchmail/ledger/$ID" "forgotten after a remote-user change"
nb=$(count_local "$U" switched)
run_account "$ID"
assert_eq "$(count_local "$U" switched)" "$((nb + $(count_ext alice)))" "alice's mail is fetched"

check "test: each step, nothing fetched"
add_account --port "$EXT_IMAPS_PORT" --protocol imap --remote-user alice --password "$ALICE_PASSWORD" --mailbox tested
assert_ok doveadm -c "$LOCAL_CONF" -f tab fetchmail test -u "$U" "$ID"
assert_contains "$OUT" $'tls\tTLSv1' "the TLS step"
assert_contains "$OUT" "verified" "verification result"
assert_contains "$OUT" $'login\tok' "login ok"
assert_match "$OUT" $'messages\t[0-9]+ in INBOX' "message count"
assert_eq "$(count_local "$U" tested)" 0 "test fetched nothing"
assert_eq "$(field "$ID" last-status)" never "test changed no status"
assert_exit 75 doveadm -c "$LOCAL_CONF" fetchmail test -u "$U" --host 127.0.0.1 \
	--port "$EXT_POP3S_PORT" --protocol pop3 --remote-user alice --password "$WRONG"
assert_contains "$OUT" "login" "test from fields reports the failed login"
