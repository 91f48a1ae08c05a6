#!/bin/bash
# doveadm fetchmail import: real-world files from the three sources (see
# tests/integration/import/README.md for where each comes from), a
# .fetchids written the way fetchmail 6.4 writes it, the dry run (nothing
# created, no password shown, refused options named with reasons), --apply,
# importing twice, and "after import and one run, no message is fetched
# twice": mail that the old fetcher delivered and left on the server stays
# out, mail that arrives later comes in. Also bad files and the HTTP API,
# which takes the file's content and never opens a path on the server.
source "$(dirname "$0")/lib.sh"
sandbox_up

FM=(doveadm -c "$LOCAL_CONF" fetchmail)
FMT=(doveadm -c "$LOCAL_CONF" -f tab fetchmail)
U1=user1@example.org U2=user2@example.org U3=user3@other.org
DAVE_PASSWORD='dave secret "#1'
WORK=$SANDBOX_DIR/import
mkdir -p "$WORK"

# an external user whose password has spaces, a quote and a '#'
echo "dave:{PLAIN}$DAVE_PASSWORD::::::" >>"$SANDBOX_DIR/ext/users"
# passwd-file is re-read when its mtime changes, checked once a second
touch -d "@$(($(date +%s) + 2))" "$SANDBOX_DIR/ext/users"
sleep 1.1
sandbox_fill dave 2 1k

# fixtures with the sandbox's ports and passwords
fill_in() { # TEMPLATE OUT
	sed -e "s/@EXT_POP3_PORT@/$EXT_POP3_PORT/g" \
		-e "s/@EXT_POP3S_PORT@/$EXT_POP3S_PORT/g" \
		-e "s/@EXT_IMAPS_PORT@/$EXT_IMAPS_PORT/g" \
		-e "s/@ALICE_PASSWORD@/$ALICE_PASSWORD/g" \
		-e "s/@BOB_PASSWORD@/$BOB_PASSWORD/g" \
		-e "s/@CAROL_PASSWORD@/$CAROL_PASSWORD/g" \
		-e "s/@BOB_PASSWORD_B64@/$(printf %s "$BOB_PASSWORD" | base64 -w0)/g" \
		-e "s/@CAROL_PASSWORD_B64@/$(printf %s "$CAROL_PASSWORD" | base64 -w0)/g" \
		"$FETCHMAIL_SOURCE_DIR/tests/integration/import/$1" >"$WORK/$2"
}
fill_in fetchmailrc.in fetchmailrc
fill_in postfixadmin.tsv.in postfixadmin.tsv
fill_in mailu.csv.in mailu.csv
chmod 0600 "$WORK"/*

count_ids() { # USER: how many accounts
	"${FMT[@]}" list -u "$1" | tail -n +2 | grep -c . || true
}
all_output_clean() { # TEXT: no password of the fixtures in it
	local p
	for p in "$ALICE_PASSWORD" "$BOB_PASSWORD" "$CAROL_PASSWORD" "$DAVE_PASSWORD" \
		"$(printf %s "$BOB_PASSWORD" | base64 -w0)" "$(printf %s "$CAROL_PASSWORD" | base64 -w0)"; do
		assert_not_contains "$1" "$p" "no password in the output"
	done
}
# each Message-ID of USER's local INBOX exactly once
assert_no_duplicates() { # USER
	local dups
	dups=$(msgids_local "$1" | uniq -d)
	assert_eq "$dups" "" "$1: no message delivered twice"
}

# ------------------------------------------------------------------ the old fetcher
# What fetchmail did before the move: it fetched alice's INBOX over POP3
# with keep (and wrote the UIDLs to .fetchids, "<user>@<server> <UIDL>" as
# uid.c writes them), and dave's INBOX over IMAP (tracking \Seen); it
# delivered both into user1's mailbox.
say "the old fetcher's state"
uidls=$(tcp_chat "$EXT_POP3_PORT" "USER alice" "PASS $ALICE_PASSWORD" "UIDL" "QUIT" |
	tr -d '\r' | awk '/^[0-9]+ / { print $2 }')
assert_eq "$(echo "$uidls" | grep -c .)" 3 "alice has 3 UIDLs"
{
	for u in $uidls; do echo "alice@127.0.0.1 $u"; done
	echo "someone@pop.example.net 00000001aaaa"
} >"$WORK/fetchids"
for u in alice dave; do
	ext_doveadm -f json fetch -u "$u" text mailbox INBOX all |
		"$PYTHON" -c '
import json, sys, os
for i, m in enumerate(json.load(sys.stdin)):
    open(os.path.join(sys.argv[1], "old-%s-%d.eml" % (sys.argv[2], i)), "w").write(m["text"])
' "$WORK" "$u"
done
for f in "$WORK"/old-*.eml; do lmtp_deliver "$U1" "$f"; done
assert_eq "$(count_local "$U1")" 5 "user1 has the 5 messages the old fetcher delivered"

# ------------------------------------------------------------------ dry run
check "fetchmailrc: the dry run prints what it would do and creates nothing"
assert_ok "${FMT[@]}" import -u "$U1" --from fetchmailrc \
	--fetchids "$WORK/fetchids" "$WORK/fetchmailrc"
DRY=$OUT
all_output_clean "$DRY"
assert_match "$DRY" $'\tcreate\t\tpop3://alice@127.0.0.1:'"$EXT_POP3S_PORT"$'\t\t3 UIDLs from fetchids' \
	"alice: would be created with the 3 UIDLs"
assert_match "$DRY" $'\tcreate\t\timap://dave@localhost:'"$EXT_IMAPS_PORT/INBOX"$'\t\t\n' \
	"dave: would be created (no seed without --mark-existing)"
assert_match "$DRY" $'\tcreate\t\timap://bob@127.0.0.1' "skip entry: would be created"
assert_match "$DRY" $'\trefused\t\tpop3://alice@[^\t]*\tmda\tcommands from the file are never run' \
	"mda refused with its reason"
assert_match "$DRY" $'\trefused\t\timap://dave@[^\t]*\tpreconnect\tcommands from the file are never run' \
	"preconnect refused with its reason"
assert_match "$DRY" $'\tskip\t\tpop3://carol@[^\t]*\t\tis: multidrop' "multidrop entry skipped"
assert_match "$DRY" $'\tchanged\t\timap://bob@[^\t]*\tskip\timported inactive' "skip: inactive"
assert_match "$DRY" $'\tignored\t\t\tset idfile\t' "global settings noted"
assert_match "$DRY" $'\n13\tignored\t\tpop3://alice@[^\t]*\ttimeout\t' \
	"an option from defaults is noted at its line"
assert_not_contains "$DRY" "/usr/lib/dovecot/deliver" "the mda command is not printed"
assert_not_contains "$DRY" "fetchmail-was-here" "the preconnect command is not printed"
assert_contains "$OUT" "nobody@example.org" "the entry of an unknown user is reported"
assert_eq "$(count_ids "$U1")" 0 "the dry run created nothing"

# ------------------------------------------------------------------ apply
check "fetchmailrc: --apply creates the accounts with their seeds"
assert_ok "${FMT[@]}" import -u "$U1" --from fetchmailrc --apply \
	--mark-existing --fetchids "$WORK/fetchids" "$WORK/fetchmailrc"
all_output_clean "$OUT"
assert_match "$OUT" $'\tcreated\tfm-[a-z2-7]{8}\tpop3://alice@[^\t]*\t\t3 UIDLs from fetchids' "alice created"
assert_match "$OUT" $'\tcreated\tfm-[a-z2-7]{8}\timap://dave@[^\t]*\t\tmarked: ' "dave created, marked"
assert_eq "$(count_ids "$U1")" 3 "three accounts (alice, dave, bob inactive)"
LIST=$("${FMT[@]}" list -u "$U1")
assert_match "$LIST" $'imap\t127.0.0.1\tbob\tINBOX\tno\t' "the skip entry is inactive"
ALICE_ID=$(echo "$LIST" | awk -F '\t' '$4 == "alice" { print $1 }')
DAVE_ID=$(echo "$LIST" | awk -F '\t' '$4 == "dave" { print $1 }')
assert_eq "$(fm_field "$U1" "$ALICE_ID" keep)" yes "alice: keep"
assert_eq "$(fm_field "$U1" "$ALICE_ID" tls)" implicit "alice: ssl is implicit TLS"
assert_eq "$(fm_field "$U1" "$DAVE_ID" tls-verify)" yes "dave: certificate verified"

check "importing twice creates nothing"
assert_ok "${FMT[@]}" import -u "$U1" --from fetchmailrc --apply \
	--mark-existing --fetchids "$WORK/fetchids" "$WORK/fetchmailrc"
assert_match "$OUT" $'\texists\t'"$ALICE_ID"$'\tpop3://alice' "alice exists"
assert_match "$OUT" $'\texists\t'"$DAVE_ID"$'\timap://dave' "dave exists"
assert_not_contains "$OUT" $'\tcreated\t' "nothing created"
assert_eq "$(count_ids "$U1")" 3 "still three accounts"

# ------------------------------------------------------------------ no refetch
check "one run: the old mail stays out, new mail comes in, nothing twice"
sandbox_fill alice 2 1k
sandbox_fill dave 1 1k
fm_run "$U1" "$ALICE_ID"
assert_eq "$RC" 0 "alice's run ok"
assert_eq "$ROW" "ok 2 0 0" "alice: only the 2 new messages"
fm_run "$U1" "$DAVE_ID"
assert_eq "$RC" 0 "dave's run ok"
# the baseline run records what is there, including the new message that
# arrived before it: that is the documented window (docs/migration.md),
# so the test adds dave's new mail after the baseline run
assert_eq "$ROW" "ok 0 0 0" "dave: the baseline run fetches nothing"
sandbox_fill dave 1 1k
fm_run "$U1" "$DAVE_ID"
assert_eq "$ROW" "ok 1 0 0" "dave: the next run fetches the new message"
assert_ok "${FM[@]}" log -u "$U1" "$DAVE_ID"
assert_eq "$(count_local "$U1")" $((5 + 2 + 1)) "user1: old 5 + new 3"
assert_no_duplicates "$U1"
fm_run "$U1" "$ALICE_ID"
assert_eq "$ROW" "ok 0 0 0" "alice: nothing more"

# ------------------------------------------------------------------ PostfixAdmin
check "PostfixAdmin (mysql -B export): dry run, apply, twice, no refetch"
sandbox_fill carol 1 1k   # carol's account deletes (keep 0): new mail only
assert_ok "${FMT[@]}" import -u "$U2" --from postfixadmin "$WORK/postfixadmin.tsv"
all_output_clean "$OUT"
assert_match "$OUT" $'\n4\tskip\t[^\n]*protocol: ETRN is not supported' "ETRN skipped"
assert_match "$OUT" $'\n3\trefused\t\tpop3://carol@[^\t]*\tmda\t' "mda refused"
assert_match "$OUT" $'\n3\trefused\t\tpop3://carol@[^\t]*\textra_options\t' "extra_options refused"
assert_not_contains "$OUT" "limit 1000000" "extra_options text not printed"
assert_eq "$(count_ids "$U2")" 0 "dry run: nothing created"
assert_ok "${FMT[@]}" import -u "$U2" --from postfixadmin --apply --mark-existing \
	"$WORK/postfixadmin.tsv"
assert_match "$OUT" $'\n2\tcreated\tfm-[a-z2-7]{8}\timap://bob@localhost:[0-9]+/INBOX\t\tmarked' "bob marked"
assert_match "$OUT" $'\n3\tcreated\tfm-[a-z2-7]{8}\tpop3://carol@[^\t]*\t\tnot marked: keep is no' \
	"carol (keep 0) is not marked"
assert_ok "${FMT[@]}" import -u "$U2" --from postfixadmin --apply --mark-existing \
	"$WORK/postfixadmin.tsv"
assert_not_contains "$OUT" $'\tcreated\t' "twice: nothing created"
assert_eq "$(count_ids "$U2")" 2 "two accounts"
assert_ok "${FMT[@]}" run -u "$U2"
assert_eq "$(count_local "$U2")" 1 "user2: carol's new message only (bob's old one stays out)"
assert_eq "$(count_ext carol)" 0 "carol's message deleted after the save (keep 0)"
sandbox_fill bob 1 1k
assert_ok "${FMT[@]}" run -u "$U2"
assert_eq "$(count_local "$U2")" 2 "bob's new message fetched"
assert_no_duplicates "$U2"

# ------------------------------------------------------------------ Mailu
check "Mailu (sqlite3 -header -csv export): apply, no refetch"
assert_ok "${FMT[@]}" import -u "$U3" --from mailu --apply --mark-existing "$WORK/mailu.csv"
all_output_clean "$OUT"
assert_match "$OUT" $'\tcreated\tfm-[a-z2-7]{8}\timap://alice@localhost:[0-9]+/Archive\t\tmarked' "alice's Archive"
assert_match "$OUT" $'\tchanged\t\tpop3://bob@[^\t]*\ttls\t0: no TLS' "tls 0 noted"
assert_match "$OUT" $'\tignored\t\tpop3://bob@[^\t]*\tscan\t' "scan noted"
assert_ok "${FMT[@]}" run -u "$U3"
assert_eq "$(count_local "$U3")" 0 "user3: nothing old fetched"
sandbox_fill alice 1 1k Archive
sandbox_fill bob 1 1k
assert_ok "${FMT[@]}" run -u "$U3"
assert_eq "$(count_local "$U3")" 2 "user3: the new Archive and INBOX messages"
assert_no_duplicates "$U3"

# ------------------------------------------------------------------ -A
check "-A imports each entry for its own user"
assert_ok "${FMT[@]}" import -A --from postfixadmin "$WORK/postfixadmin.tsv"
assert_match "$OUT" "$U2"$'\t2\texists' "-A: user2's entries found"
assert_not_contains "$OUT" "$U1" "-A: nothing for user1"

# ------------------------------------------------------------------ bad input
check "bad files: one error naming file, line and option; nothing created"
before=$(count_ids "$U3")
printf 'poll a.example.net proto pop3 port 99999 user u pass p is %s here\n' "$U3" >"$WORK/bad.rc"
assert_exit 65 "${FM[@]}" import -u "$U3" --from fetchmailrc --apply "$WORK/bad.rc"
assert_contains "$OUT" "$WORK/bad.rc: line 1: port: must be a number from 1 to 65535" "port error"
printf 'poll a.example.net proto pop3 user u pass "unclosed\n' >"$WORK/bad2.rc"
assert_exit 65 "${FM[@]}" import -u "$U3" --from fetchmailrc --apply "$WORK/bad2.rc"
assert_contains "$OUT" "bad2.rc: line 1: a quoted string is not closed" "syntax error"
assert_exit 65 "${FM[@]}" import -u "$U3" --from mailu --apply "$WORK/postfixadmin.tsv"
assert_contains "$OUT" "line 1: column 'user_email' is missing" "wrong source"
printf 'alice@127.0.0.1 uid1\nno-at-sign uid2\n' >"$WORK/bad.fetchids"
assert_exit 65 "${FM[@]}" import -u "$U1" --from fetchmailrc --fetchids "$WORK/bad.fetchids" "$WORK/fetchmailrc"
assert_contains "$OUT" "bad.fetchids: line 2: expected '<user>@<server> <UIDL>'" "bad fetchids"
assert_exit 64 "${FM[@]}" import -u "$U3" --from getmail "$WORK/mailu.csv"
assert_contains "$OUT" "from: must be fetchmailrc, postfixadmin or mailu" "bad --from"
assert_exit 64 "${FM[@]}" import -u "$U3" --from mailu
assert_contains "$OUT" "file: missing" "no file"
assert_exit nonzero "${FM[@]}" import -u "$U3" --from mailu "$WORK/no-such-file"
assert_contains "$OUT" "no-such-file" "missing file named"
assert_eq "$(count_ids "$U3")" "$before" "nothing created by bad input"

# ------------------------------------------------------------------ HTTP API
check "HTTP API: the file's content inline, never a path on the server"
rc_json=$("$PYTHON" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$WORK/mailu.csv")
R=$(http_call "[[\"fetchmailImport\",{\"user\":\"$U3\",\"from\":\"mailu\",\"file\":$rc_json},\"t1\"]]")
assert_contains "$R" '"doveadmResponse"' "import over HTTP answers"
assert_contains "$R" '"action":"exists"' "over HTTP: the accounts exist"
all_output_clean "$R"
R=$(http_call "[[\"fetchmailImport\",{\"user\":\"$U3\",\"from\":\"fetchmailrc\",\"file\":\"/etc/passwd\"},\"t2\"]]")
assert_contains "$R" '"exitCode":65' "a path is read as the content and refused"
assert_not_contains "$(tail -n 20 "$LOCAL_LOG")" "root:x:0" "no server file was read"
assert_contains "$(tail -n 20 "$LOCAL_LOG")" "line 1: unexpected value" "the content /etc/passwd fails at line 1"
