#!/bin/bash
# The sandbox itself: every external listener answers as documented (TLS,
# STARTTLS, no TLS, unknown CA, wrong host name), the sample users and mail
# are there, the local instance runs the plugin from the build tree with
# attributes, LMTP and the HTTP API, `sandbox fill` is fast, and `sandbox
# stop` leaves no process and no trace outside the temp dir.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

OUTER=
if [[ -n ${FETCHMAIL_NS_OUTER_PID:-} && -d /proc/${FETCHMAIL_NS_OUTER_PID}/root ]]; then
	OUTER=/proc/$FETCHMAIL_NS_OUTER_PID/root
fi

# host_view: the host's /etc/dovecot, /var/lib/dovecot and /usr/lib/dovecot
# as seen from outside the namespace (names, types, modes, sizes, mtimes).
host_view() {
	local root=${OUTER:-} p
	for p in /etc/dovecot /var/lib/dovecot /usr/lib/dovecot; do
		[[ -n $root || $p == /etc/dovecot ]] || continue
		find "$root$p" -printf '%p %y %m %s %T@\n' | sed "s|^$root||"
	done | sort
}

# ------------------------------------------------------------------ start

if [[ -z $OUTER ]]; then
	say "FETCHMAIL_NS_OUTER_PID not set: only /etc/dovecot is compared"
fi
before=$(host_view)

check "the sandbox starts"
start_time=$SECONDS
sandbox_up
pass "sandbox started in $((SECONDS - start_time))s"

check "instances register in their own state_dir, /var/lib/dovecot is the namespace's"
assert_contains "$(cat "$SANDBOX_DIR/local/state/instances")" fetchmail-local "local state_dir/instances lists fetchmail-local"
assert_ok mountpoint -q /var/lib/dovecot
assert_ok mountpoint -q /usr/lib/dovecot/modules/doveadm

check "env file"
for v in SANDBOX_DIR EXT_CONF LOCAL_CONF EXT_POP3_PORT EXT_POP3S_PORT EXT_IMAP_PORT \
	EXT_IMAPS_PORT NOTLS_POP3_PORT NOTLS_IMAP_PORT UNTRUSTED_POP3S_PORT \
	UNTRUSTED_IMAPS_PORT BADNAME_POP3S_PORT BADNAME_IMAPS_PORT LOCAL_IMAP_PORT \
	LOCAL_HTTP_PORT DOVEADM_API_KEY DOVEADM_PASSWORD CA_FILE UNTRUSTED_CA_FILE \
	ALICE_PASSWORD BOB_PASSWORD CAROL_PASSWORD USER1_PASSWORD LOCAL_LMTP_SOCKET; do
	if [[ -n ${!v:-} ]]; then pass "$v is set"; else fail "$v is not set"; fi
done
assert_eq "$(stat -c %a "$FETCHMAIL_KEY_FILE")" 600 "fetchmail.key is mode 0600"
assert_match "$(cat "$FETCHMAIL_KEY_FILE")" '^[0-9a-f]{64}$' "fetchmail.key holds 64 hex digits"

check "every listener is on 127.0.0.1"
listeners=$(ss -ltnH)
for port in "$EXT_POP3_PORT" "$EXT_POP3S_PORT" "$EXT_IMAP_PORT" "$EXT_IMAPS_PORT" \
	"$NOTLS_POP3_PORT" "$NOTLS_IMAP_PORT" "$LOCAL_IMAP_PORT" "$LOCAL_HTTP_PORT"; do
	assert_contains "$listeners" "127.0.0.1:$port " "port $port listens on 127.0.0.1"
done
# No instance binds a default port (110, 143, 993, 995, 24).
# shellcheck disable=SC2013 # one pid per file
for pid in $(cat "$SANDBOX_DIR"/*/run/master.pid); do
	for port in 110 143 993 995 24; do
		if ss -ltnpH "sport = :$port" | grep -q "pid=$pid,"; then
			fail "an instance listens on default port $port"
		fi
	done
done
pass "no instance on a default port"

# ------------------------------------------------------------------ external

check "external POP3: STLS offered, STARTTLS and POP3S verify against CA_FILE"
assert_contains "$(tcp_chat "$EXT_POP3_PORT" CAPA QUIT)" "STLS" "POP3 CAPA lists STLS"
assert_ok tls_verify "$EXT_POP3_PORT" "$CA_FILE" pop3
assert_ok tls_verify "$EXT_POP3S_PORT" "$CA_FILE"
assert_ok tls_verify "$EXT_POP3S_PORT" "$CA_FILE" "" localhost

check "external IMAP: STARTTLS offered, STARTTLS and IMAPS verify against CA_FILE"
assert_contains "$(tcp_chat "$EXT_IMAP_PORT" "a CAPABILITY" "b LOGOUT")" "STARTTLS" "IMAP CAPABILITY lists STARTTLS"
assert_ok tls_verify "$EXT_IMAP_PORT" "$CA_FILE" imap
assert_ok tls_verify "$EXT_IMAPS_PORT" "$CA_FILE"
assert_ok tls_verify "$EXT_IMAPS_PORT" "$CA_FILE" "" localhost

check "external logins and sample mail"
assert_ok curl -sS --ssl-reqd --cacert "$CA_FILE" "pop3://127.0.0.1:$EXT_POP3_PORT/" -u "alice:$ALICE_PASSWORD"
assert_eq "$(printf '%s\n' "$OUT" | grep -c .)" 3 "POP3 (STLS) LIST shows alice's 3 messages"
assert_ok curl -sS --cacert "$CA_FILE" "pop3s://127.0.0.1:$EXT_POP3S_PORT/" -u "bob:$BOB_PASSWORD"
assert_eq "$(printf '%s\n' "$OUT" | grep -c .)" 1 "POP3S LIST shows bob's message"
assert_ok curl -sS --cacert "$CA_FILE" "pop3s://localhost:$EXT_POP3S_PORT/" -u "carol:$CAROL_PASSWORD"
assert_eq "$(tr -d '\r\n' <<<"$OUT")" "" "carol's INBOX is empty (host name localhost verified)"
assert_ok curl -sS --cacert "$CA_FILE" "pop3s://127.0.0.1:$EXT_POP3S_PORT/1" -u "alice:$ALICE_PASSWORD"
assert_contains "$OUT" "Message-ID: <sample-alice-INBOX-1@example.net>" "RETR 1 is the first sample message"
assert_ok curl -sS --cacert "$CA_FILE" "pop3s://127.0.0.1:$EXT_POP3S_PORT/" -u "alice:$ALICE_PASSWORD" -X UIDL
assert_match "$OUT" '1 [0-9a-fA-F]{16}' "UIDLs follow pop3_uidl_format %08Xu%08Xv"
assert_ok curl -sS --ssl-reqd --cacert "$CA_FILE" "imap://127.0.0.1:$EXT_IMAP_PORT/" -u "alice:$ALICE_PASSWORD"
assert_contains "$OUT" "Archive" "IMAP (STARTTLS) LIST shows alice's Archive"
assert_ok curl -sS --cacert "$CA_FILE" "imaps://127.0.0.1:$EXT_IMAPS_PORT/" -u "alice:$ALICE_PASSWORD" -X "STATUS Archive (MESSAGES)"
assert_contains "$OUT" "MESSAGES 2" "IMAPS STATUS Archive: 2 messages"
assert_ok curl -sS --cacert "$CA_FILE" "imaps://127.0.0.1:$EXT_IMAPS_PORT/" -u "alice:$ALICE_PASSWORD" -X "STATUS INBOX (MESSAGES)"
assert_contains "$OUT" "MESSAGES 3" "IMAPS STATUS INBOX: 3 messages"
assert_exit 67 curl -sS --cacert "$CA_FILE" "pop3s://127.0.0.1:$EXT_POP3S_PORT/" -u "alice:wrong"
assert_exit 67 curl -sS --cacert "$CA_FILE" "imaps://127.0.0.1:$EXT_IMAPS_PORT/" -u "alice:wrong"
assert_eq "$(count_ext alice)" 3 "count_ext alice INBOX"
assert_eq "$(count_ext alice Archive)" 2 "count_ext alice Archive"
assert_eq "$(count_ext bob)" 1 "count_ext bob"
assert_eq "$(count_ext carol)" 0 "count_ext carol"
assert_eq "$(count_ext carol NoSuchFolder)" 0 "count_ext of a missing folder is 0"
assert_eq "$(msgids_ext alice Archive | tr '\n' ' ')" \
	"<sample-alice-Archive-1@example.net> <sample-alice-Archive-2@example.net> " "msgids_ext alice Archive"
assert_eq "$(body_hashes_ext alice | sort -u | grep -c .)" 3 "body_hashes_ext: 3 distinct bodies"
assert_match "$(body_hashes_ext bob)" '^[0-9a-f]{64}$' "body_hashes_ext bob: one sha256"

check "no-TLS instance: neither STLS nor STARTTLS, plain login works, same mail"
assert_not_contains "$(tcp_chat "$NOTLS_POP3_PORT" CAPA QUIT)" "STLS" "no STLS in POP3 CAPA"
assert_not_contains "$(tcp_chat "$NOTLS_IMAP_PORT" "a CAPABILITY" "b LOGOUT")" "STARTTLS" "no STARTTLS in IMAP CAPABILITY"
assert_ok curl -sS "pop3://127.0.0.1:$NOTLS_POP3_PORT/" -u "alice:$ALICE_PASSWORD"
assert_eq "$(printf '%s\n' "$OUT" | grep -c .)" 3 "plain POP3 LIST shows alice's 3 messages"
assert_ok curl -sS "imap://127.0.0.1:$NOTLS_IMAP_PORT/" -u "alice:$ALICE_PASSWORD" -X "STATUS Archive (MESSAGES)"
assert_contains "$OUT" "MESSAGES 2" "plain IMAP sees alice's Archive"
assert_exit nonzero curl -sS --ssl-reqd "pop3://127.0.0.1:$NOTLS_POP3_PORT/" -u "alice:$ALICE_PASSWORD"

check "untrusted instance: its certificate does not verify against CA_FILE"
assert_exit nonzero tls_verify "$UNTRUSTED_POP3S_PORT" "$CA_FILE"
assert_exit nonzero tls_verify "$UNTRUSTED_IMAPS_PORT" "$CA_FILE"
assert_exit nonzero tls_verify "$UNTRUSTED_POP3_PORT" "$CA_FILE" pop3
assert_exit nonzero tls_verify "$UNTRUSTED_IMAP_PORT" "$CA_FILE" imap
assert_exit 60 curl -sS --cacert "$CA_FILE" "imaps://127.0.0.1:$UNTRUSTED_IMAPS_PORT/" -u "alice:$ALICE_PASSWORD"
assert_ok tls_verify "$UNTRUSTED_IMAPS_PORT" "$UNTRUSTED_CA_FILE"

check "bad-name instance: trusted chain, wrong host name"
assert_exit nonzero tls_verify "$BADNAME_POP3S_PORT" "$CA_FILE" "" localhost
assert_exit nonzero tls_verify "$BADNAME_IMAPS_PORT" "$CA_FILE"
assert_ok tls_verify "$BADNAME_IMAPS_PORT" "$CA_FILE" "" wrong-name.example.net
assert_exit 60 curl -sS --cacert "$CA_FILE" "pop3s://127.0.0.1:$BADNAME_POP3S_PORT/" -u "alice:$ALICE_PASSWORD"

# ------------------------------------------------------------------ local

check "local instance: users, plugin from the build tree, attributes"
assert_ok local_doveadm user user1@example.org
assert_contains "$OUT" "$SANDBOX_DIR/local/mail/user1@example.org" "user1's home is in the sandbox"
assert_ok local_doveadm user '*'
assert_eq "$(printf '%s\n' "$OUT" | sort | tr '\n' ' ')" \
	"user1@example.org user2@example.org user3@other.org " "userdb iteration lists the 3 local users (doveadm -A)"
assert_eq "$(doveconf -c "$LOCAL_CONF" -h mail_plugins | xargs)" fetchmail "mail_plugins is exactly 'fetchmail'"
assert_eq "$(doveconf -c "$LOCAL_CONF" -h mail_plugin_dir)" "$FETCHMAIL_BUILD_DIR/plugin" "mail_plugin_dir is the build tree"
assert_ok local_doveadm -D mailbox status -u user1@example.org messages INBOX
assert_contains "$OUT" "Module loaded: $FETCHMAIL_BUILD_DIR/plugin/lib90_fetchmail_plugin.so" "the mail plugin loads from the build tree"
doveadm_so=lib10_doveadm_fetchmail_plugin.so
if [[ -f $FETCHMAIL_BUILD_DIR/doveadm/$doveadm_so ]]; then
	assert_eq "$(readlink -f "/usr/lib/dovecot/modules/doveadm/$doveadm_so")" \
		"$(readlink -f "$FETCHMAIL_BUILD_DIR/doveadm/$doveadm_so")" "doveadm loads our doveadm plugin from the build tree"
	assert_eq "$(ls /usr/lib/dovecot/modules/doveadm)" "$doveadm_so" "and no other doveadm plugin"
else
	say "$FETCHMAIL_BUILD_DIR/doveadm/$doveadm_so not built: doveadm plugin checks skipped"
fi
assert_ok local_doveadm mailbox metadata set -u user1@example.org INBOX /private/vendor/vendor.example/sandbox "it works"
assert_ok local_doveadm mailbox metadata get -u user1@example.org INBOX /private/vendor/vendor.example/sandbox
assert_eq "$OUT" "it works" "INBOX private attribute round-trips (mail_attribute_dict)"
assert_ok test -s "$SANDBOX_DIR/local/mail/user1@example.org/dovecot-attributes"
assert_eq "$(doveconf -c "$LOCAL_CONF" -h ssl_client_ca_file)" "$CA_FILE" "ssl_client_ca_file is the sandbox CA"
assert_eq "$(doveconf -c "$LOCAL_CONF" -h -f protocol=doveadm plugin/fetchmail_admins)" admin@example.org "fetchmail_admins"
assert_eq "$(doveconf -c "$LOCAL_CONF" -h plugin/fetchmail_domain_admins)" dadmin@example.org:example.org "fetchmail_domain_admins"
# (The value keeps the file's trailing newline; $(...) drops it on both sides.)
assert_eq "$(doveconf -c "$LOCAL_CONF" -x -P -h plugin/fetchmail_key)" "$(cat "$FETCHMAIL_KEY_FILE")" "fetchmail_key is read from fetchmail.key"

check "local LMTP and IMAP"
msg="From: lmtp@example.net
To: user2@example.org
Subject: sandbox lmtp
Message-ID: <sandbox-lmtp-1@example.net>

hello over LMTP
"
assert_ok lmtp_deliver user2@example.org <<<"$msg"
assert_eq "$(count_local user2@example.org)" 1 "LMTP delivered to user2's INBOX"
assert_eq "$(msgids_local user2@example.org)" "<sandbox-lmtp-1@example.net>" "msgids_local user2"
assert_eq "$(body_hashes_local user2@example.org)" "$(printf 'hello over LMTP\n\n' | sha256sum | cut -d' ' -f1)" "body_hashes_local user2"
assert_ok curl -sS "imap://127.0.0.1:$LOCAL_IMAP_PORT/" -u "user2@example.org:$USER2_PASSWORD" -X "STATUS INBOX (MESSAGES)"
assert_contains "$OUT" "MESSAGES 1" "local IMAP login as user2 sees the message"
assert_eq "$(count_local user3@other.org Nothing)" 0 "count_local of a missing mailbox is 0"
assert_eq "$(msgids_local user3@other.org Nothing)" "" "msgids_local of a missing mailbox is empty"

check "doveadm HTTP API"
assert_eq "$(http_code key)" 200 "GET /doveadm/v1 with the API key: 200"
assert_eq "$(http_code none)" 401 "GET without credentials: 401"
assert_eq "$(http_code key:wrong-key)" 401 "GET with a wrong API key: 401"
assert_eq "$(http_code basic)" 200 "GET with doveadm_password (basic): 200"
assert_eq "$(http_code basic:doveadm:wrong)" 401 "GET with a wrong password: 401"
assert_contains "$(http_get key)" '"command":"mailboxList"' "GET lists the commands"
reply=$(http_call '[["mailboxList",{"user":"user2@example.org"},"t1"]]')
assert_eq "$reply" '[["doveadmResponse",[{"mailbox":"INBOX"}],"t1"]]' "http_call mailboxList"
reply=$(http_call_as basic '[["mailboxStatus",{"user":"user2@example.org","field":["messages"],"mailboxMask":["INBOX"]},"t2"]]')
assert_contains "$reply" '"messages":"1"' "http_call_as basic mailboxStatus"
assert_eq "$(http_code none '[["mailboxList",{"user":"user2@example.org"},"t3"]]')" 401 "POST without credentials: 401"

# ------------------------------------------------------------------ fill

check "sandbox fill: 2000 messages in a new folder, quickly"
t0=${EPOCHREALTIME/./}
assert_ok sandbox_fill alice 2000 2k Bulk
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
say "fill 2000 x 2k took ${ms} ms"
if [[ $ms -lt 30000 ]]; then pass "fill 2000 in under 30s"; else fail "fill 2000 took ${ms} ms"; fi
assert_eq "$(count_ext alice Bulk)" 2000 "alice/Bulk holds 2000 messages"
ids=$(msgids_ext alice Bulk)
assert_eq "$(printf '%s\n' "$ids" | sort -u | grep -c .)" 2000 "2000 distinct Message-IDs"
assert_match "$(head -n 1 <<<"$ids")" '^<sandbox-alice-Bulk-[0-9]+-[0-9a-f]+@example.net>$' "Message-ID format"
assert_ok curl -sS --cacert "$CA_FILE" "imaps://127.0.0.1:$EXT_IMAPS_PORT/" -u "alice:$ALICE_PASSWORD" -X "STATUS Bulk (MESSAGES)"
assert_contains "$OUT" "MESSAGES 2000" "IMAP sees Bulk"
assert_ok sandbox_fill alice 5 1k
assert_eq "$(count_ext alice)" 8 "fill appends to INBOX by default"

check "sandbox fill: one 20 MiB message"
assert_ok sandbox_fill carol 1 20M Big
size=$(ext_doveadm -f tab mailbox status -u carol vsize Big | tail -n 1 | awk -F '\t' '{print $NF}')
if [[ $size -ge $((20 * 1024 * 1024)) && $size -lt $((21 * 1024 * 1024)) ]]; then
	pass "carol/Big holds a 20 MiB message ($size bytes)"
else
	fail "carol/Big vsize is $size"
fi
assert_ok curl -sS --cacert "$CA_FILE" "pop3s://127.0.0.1:$EXT_POP3S_PORT/" -u "carol:$CAROL_PASSWORD"
assert_eq "$(tr -d '\r\n' <<<"$OUT")" "" "the big message is not in carol's INBOX"

# ------------------------------------------------------------------ stop

check "sandbox stop leaves nothing running"
masters=$(cat "$SANDBOX_DIR"/*/run/master.pid)
assert_eq "$(echo "$masters" | grep -c .)" 5 "5 masters were running (ext, notls, untrusted, badname, local)"
tree=$masters
for m in $masters; do
	tree+=" $(pgrep -P "$m" | tr '\n' ' ')"
done
assert_ok sandbox_stop
left=
for p in $tree; do
	if [[ -e /proc/$p ]] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then
		left+=" $p"
	fi
done
assert_eq "$left" "" "no master or child process of the sandbox is left"
assert_eq "$(ls "$SANDBOX_DIR"/*/run/master.pid 2>/dev/null)" "" "no master.pid is left"
listeners=$(ss -ltnH)
for port in "$EXT_POP3_PORT" "$EXT_IMAPS_PORT" "$NOTLS_POP3_PORT" "$LOCAL_IMAP_PORT" "$LOCAL_HTTP_PORT"; do
	assert_not_contains "$listeners" "127.0.0.1:$port " "port $port is closed"
done
assert_ok sandbox_stop
pass "sandbox stop is idempotent"

check "nothing was written outside the sandbox"
after=$(host_view)
if [[ $before == "$after" ]]; then
	pass "/etc/dovecot, /var/lib/dovecot and /usr/lib/dovecot (host view) are unchanged"
else
	fail "host paths changed: $(diff <(echo "$before") <(echo "$after") | head -n 20)"
fi
