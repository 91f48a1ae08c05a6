# Accounts over the CLI: add/edit/remove/list/show against the sandbox's
# local Dovecot, every bad input refused with EX_USAGE and nothing stored,
# printers, masks and -A, and the password never in the clear anywhere.
source "$(dirname "$0")/lib.sh"
sandbox_up

U=user1@example.org
SECRET='pw-Zq9!x7#CLI-never-shown'
FM=(doveadm -c "$LOCAL_CONF" fetchmail)


check "add prints the new id"
assert_ok "${FM[@]}" add -u "$U" --host 127.0.0.1 --protocol imap \
	--remote-user alice --password "$SECRET" --tls starttls \
	--folders INBOX --folders Archive --keep no --max-size 10M
ID=$OUT
assert_match "$ID" '^fm-[a-z2-7]{8}$' "add printed an id"

check "show prints every field, with defaults, never the password"
assert_ok "${FM[@]}" show -u "$U" "$ID"
SHOW=$OUT
assert_contains "$SHOW" "host: 127.0.0.1" "host"
assert_contains "$SHOW" "port: 143" "default port for imap+starttls"
assert_contains "$SHOW" "protocol: imap" "protocol"
assert_contains "$SHOW" "remote-user: alice" "remote-user"
assert_contains "$SHOW" "tls: starttls" "tls"
assert_contains "$SHOW" "tls-verify: yes" "tls-verify default"
assert_contains "$SHOW" "keep: no" "keep"
assert_contains "$SHOW" "folders: INBOX,Archive" "folders"
assert_contains "$SHOW" "mailbox: INBOX" "mailbox default"
assert_contains "$SHOW" "max-size: 10485760" "max-size with suffix"
assert_contains "$SHOW" "active: yes" "active default"
assert_contains "$SHOW" "last-status: never" "status never"
assert_not_contains "$SHOW" "$SECRET" "show does not print the password"

check "edit changes only the fields given"
assert_ok "${FM[@]}" edit -u "$U" "$ID" --port 1143 --active no
assert_ok "${FM[@]}" show -u "$U" "$ID"
assert_contains "$OUT" "port: 1143" "port changed"
assert_contains "$OUT" "active: no" "active changed"
assert_contains "$OUT" "folders: INBOX,Archive" "folders unchanged"
assert_contains "$OUT" "remote-user: alice" "remote-user unchanged"
assert_contains "$OUT" "keep: no" "keep unchanged"

check "edit without fields, of an unknown id, with a bad id"
assert_exit 64 "${FM[@]}" edit -u "$U" "$ID"
assert_exit 68 "${FM[@]}" edit -u "$U" fm-nothere2 --port 1
assert_contains "$OUT" "no such account" "unknown id named"
assert_exit 64 "${FM[@]}" show -u "$U" 'BAD ID'

check "bad input: one clear line naming the field, EX_USAGE, nothing stored"
before=$(snapshot "$U")
base=(--host 127.0.0.1 --protocol pop3 --remote-user bob --password x)
bad_add() { # FIELD-IN-ERROR ARGS...
	local field=$1
	shift
	assert_exit 64 "${FM[@]}" add -u "$U" "$@"
	assert_contains "$OUT" "$field" "error names $field"
}
bad_add "protocol:" --host h --protocol smtp --remote-user bob --password x
bad_add "port:" "${base[@]}" --port 0
bad_add "port:" "${base[@]}" --port 70000
bad_add "port:" "${base[@]}" --port abc
bad_add "host:" --host "bad host" --protocol pop3 --remote-user bob --password x
bad_add "host:" --host $'bad\rhost' --protocol pop3 --remote-user bob --password x
bad_add "host:" --host $'bad\nhost' --protocol pop3 --remote-user bob --password x
bad_add "host:" --host "$(printf 'a%.0s' $(seq 254))" --protocol pop3 --remote-user bob --password x
bad_add "remote-user:" --host h --protocol pop3 --remote-user "" --password x
bad_add "password:" --host h --protocol pop3 --remote-user bob --password $'pw\rmore'
bad_add "password:" --host h --protocol pop3 --remote-user bob --password $'pw\nmore'
bad_add "tls:" "${base[@]}" --tls ssl3
bad_add "folders:" "${base[@]}" --folders Archive
bad_add "host:" --protocol pop3 --remote-user bob --password x
bad_add "keep:" "${base[@]}" --keep maybe
bad_add "max-size:" "${base[@]}" --max-size lots
assert_exit 64 "${FM[@]}" add -u "$U" "${base[@]}" --colour blue
assert_exit 64 "${FM[@]}" edit -u "$U" "$ID" --port 0
assert_eq "$(snapshot "$U")" "$before" "nothing was stored by the refused commands"
assert_ok "${FM[@]}" show -u "$U" "$ID"
assert_contains "$OUT" "port: 1143" "the refused edit changed nothing"

check "list through every printer"
assert_ok "${FM[@]}" add -u "$U" --host 127.0.0.1 --protocol pop3 --remote-user bob --password "$SECRET"
ID2=$OUT
assert_ok "${FM[@]}" list -u "$U"
assert_contains "$OUT" "$ID" "table lists the first account"
assert_contains "$OUT" "$ID2" "table lists the second account"
# the default table is for people: it fits 80 columns (stdout is not a
# terminal here) and every column starts under its title
column_starts() { # LINE: the offsets where words start after spaces
	awk '{ for (i = 1; i <= length($0); i++)
		if (substr($0, i, 1) != " " && (i == 1 || substr($0, i - 1, 1) == " "))
			printf "%d ", i }' <<<"$1"; }
header=$(head -1 <<<"$OUT")
assert_eq "$(awk '{print $1, $2, $3, $4}' <<<"$header")" "id proto host status" "compact titles"
while IFS= read -r row; do
	assert_eq "$(column_starts "$row" | cut -d' ' -f1-4)" \
		"$(column_starts "$header" | cut -d' ' -f1-4)" "row under the titles: $row"
	assert_eq "$(( ${#row} <= 80 ))" 1 "row fits 80 columns"
done < <(tail -n +2 <<<"$OUT")
assert_ok doveadm -c "$LOCAL_CONF" -f json fetchmail list -u "$U"
assert_eq "$(echo "$OUT" | $PYTHON -c 'import json,sys; print(len(json.load(sys.stdin)))')" 2 "json has two rows"
assert_contains "$OUT" "\"remote-user\":\"alice\"" "json keys are the field names"
assert_ok doveadm -c "$LOCAL_CONF" -f tab fetchmail list -u "$U"
assert_eq "$(echo "$OUT" | head -1 | cut -f1-3)" $'id\tprotocol\thost' "tab header"
assert_ok doveadm -c "$LOCAL_CONF" -f flow fetchmail list -u "$U"
assert_contains "$OUT" "id=$ID" "flow output"
assert_ok "${FM[@]}" list -u "$U" --status never
assert_contains "$OUT" "$ID2" "status filter keeps matching rows"
assert_ok "${FM[@]}" list -u "$U" --status error
assert_not_contains "$OUT" "$ID2" "status filter drops others"
assert_exit 64 "${FM[@]}" list -u "$U" --status broken

check "masks and -A reach every user, with a username column"
assert_ok "${FM[@]}" add -u user3@other.org --host 127.0.0.1 --protocol pop3 --remote-user carol --password "$SECRET"
ID3=$OUT
assert_ok doveadm -c "$LOCAL_CONF" -f tab fetchmail list -A
assert_contains "$OUT" "user3@other.org" "-A lists user3"
assert_contains "$OUT" "$ID" "-A lists user1's account"
assert_ok doveadm -c "$LOCAL_CONF" -f tab fetchmail list -u '*@example.org'
assert_contains "$OUT" "$ID2" "mask lists user1"
assert_not_contains "$OUT" "$ID3" "mask leaves out other.org"

check "unknown user"
assert_exit 67 "${FM[@]}" list -u nobody@example.org

check "the password is never in the clear: attributes, outputs, logs"
for f in "$SANDBOX_DIR"/local/mail/*/dovecot-attributes; do
	assert_not_contains "$(cat "$f")" "$SECRET" "not in $f"
done
assert_contains "$(cat "$(attr_file "$U")")" '"password":"v1:' "stored as an encrypted blob"
assert_ok doveadm -c "$LOCAL_CONF" -f json fetchmail show -u "$U" "$ID"
assert_not_contains "$OUT" "$SECRET" "json show"
assert_not_contains "$OUT" "v1:" "json show has no ciphertext"
assert_ok doveadm -c "$LOCAL_CONF" -f json fetchmail list -A
assert_not_contains "$OUT" "$SECRET" "json list"
assert_not_contains "$OUT" "v1:" "json list has no ciphertext"
assert_not_contains "$(cat "$SANDBOX_DIR"/local/*.log 2>/dev/null)" "$SECRET" "the local Dovecot logs"

check "a corrupt record is reported, never dropped, and can be removed"
assert_ok doveadm -c "$LOCAL_CONF" mailbox metadata set -u "$U" -s "" \
	/private/fetchmail/account/fm-corrupt1 '{"v":1,"host":'
assert_ok "${FM[@]}" list -u "$U"
assert_match "$OUT" 'fm-corrupt1 .*corrupt' "list shows it as corrupt"
assert_exit 65 "${FM[@]}" show -u "$U" fm-corrupt1
assert_contains "$OUT" "corrupt record" "show says why"
assert_ok "${FM[@]}" remove -u "$U" fm-corrupt1
assert_exit 68 "${FM[@]}" show -u "$U" fm-corrupt1

check "remove drops the account, its state and its log; delivered mail stays"
doveadm -c "$LOCAL_CONF" save -u "$U" <<<$'Subject: kept\r\nMessage-ID: <kept@x>\r\n\r\nbody'
assert_ok "${FM[@]}" remove -u "$U" "$ID"
assert_exit 68 "${FM[@]}" show -u "$U" "$ID"
assert_not_contains "$(cat "$(attr_file "$U")")" "$ID" "no key of the removed account is left"
assert_eq "$(count_local "$U")" 1 "delivered mail is untouched"
assert_exit 68 "${FM[@]}" remove -u "$U" "$ID"

check "without fetchmail_key, adding a password fails clearly and stores nothing"
sed -i 's|^\(\s*\)fetchmail_key = .*|\1fetchmail_key =|' "$LOCAL_CONF"
before=$(snapshot "$U")
assert_exit 78 "${FM[@]}" add -u "$U" "${base[@]}"
assert_contains "$OUT" "fetchmail_key" "the error names the missing setting"
assert_eq "$(snapshot "$U")" "$before" "nothing stored without a key"

check "a bad fetchmail_* setting fails the user's initialization, naming the setting (parsed once, like quota)"
for bad in fetchmail_interval=often fetchmail_max_parallel=0 fetchmail_delivery=smtp \
	fetchmail_run_timeout=0 fetchmail_max_messages=lots \
	fetchmail_notify_after=soon 'fetchmail_notify_from=Mail <a b>'; do
	before=$(snapshot "$U")
	run_cmd doveadm -c "$LOCAL_CONF" -o "plugin/$bad" fetchmail list -u "$U"
	assert_eq "$([[ $RC != 0 ]] && echo failed)" failed "$bad: the command fails"
	assert_contains "$OUT" "${bad%%=*}:" "$bad: the error names the setting"
	assert_eq "$(snapshot "$U")" "$before" "$bad: nothing changed"
done
