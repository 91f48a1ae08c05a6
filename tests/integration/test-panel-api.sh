# Panel support commands over the CLI and the doveadm HTTP API: validate
# (per-field errors as rows, exit 0, nothing changed) and role (what the
# logged-in person may do, the users a picker offers), with the actor
# check every verb has.
source "$(dirname "$0")/lib.sh"
sandbox_up

U1=user1@example.org
U2=user2@example.org
U3=user3@other.org
ADMIN=admin@example.org        # fetchmail_admins in the sandbox
DADMIN=dadmin@example.org      # fetchmail_domain_admins = dadmin@example.org:example.org
SECRET='panel-Secret-7x!'
FM=(doveadm -c "$LOCAL_CONF" fetchmail)
FMT=(doveadm -c "$LOCAL_CONF" -f tab fetchmail)
j() { $PYTHON -c "import json,sys; d=json.load(sys.stdin); $1"; }
# rows JSON: "field=error" lines of a fetchmailValidate/fetchmailRole reply
rows() { j 'print("\n".join("|".join(r.values()) for r in d[0][1]))'; }

check "both commands are exposed over HTTP"
cmds=$(http_get | j 'print(" ".join(c["command"] for c in d))')
assert_contains "$cmds" fetchmailValidate "fetchmailValidate is exposed"
assert_contains "$cmds" fetchmailRole "fetchmailRole is exposed"

check "validate: good fields give no rows and exit 0"
assert_ok "${FMT[@]}" validate -u $U1 --host pop.example.net --protocol pop3 --remote-user bob --password "$SECRET"
assert_eq "$OUT" $'field\terror' "only the header"

check "validate: every bad field at once, with add's own words"
before=$(snapshot)
assert_ok "${FMT[@]}" validate -u $U1 --host 'bad host' --port 70000 --protocol pop3 --remote-user bob --password "$SECRET" --tls sometimes --max-size lots
assert_contains "$OUT" $'port\tport: must be a number from 1 to 65535 (got \'70000\')' "port row"
assert_contains "$OUT" $'host\thost: must not contain spaces or control characters (got \'bad host\')' "host row"
assert_contains "$OUT" $'tls\ttls: must be implicit, starttls or none' "tls row"
assert_contains "$OUT" $'max-size\tmax-size: must be a number' "max-size row"
assert_eq "$(printf '%s\n' "$OUT" | grep -c '^host')" 1 "a bad host is not also reported missing"
assert_not_contains "$OUT" "$SECRET" "no password in the rows"
assert_exit 64 "${FM[@]}" add -u $U1 --host pop.example.net --port 70000 --protocol pop3 --remote-user bob --password "$SECRET"
assert_contains "$OUT" "port: must be a number from 1 to 65535 (got '70000')" "add says the same"
assert_eq "$(snapshot)" "$before" "validate changed nothing"

check "validate: missing required fields are all named"
assert_ok "${FMT[@]}" validate -u $U1 --port 995
assert_eq "$(printf '%s\n' "$OUT" | cut -f1 | tail -n +2 | tr '\n' ' ')" "host protocol remote-user password " "host, protocol, remote-user and password missing"
assert_ok "${FMT[@]}" validate -u $U1 --host h.example.net --protocol pop3 --remote-user bob --password x --folders INBOX --folders Archive
assert_contains "$OUT" $'folders\tfolders: only for protocol imap' "folders with pop3"
assert_ok "${FMT[@]}" validate -u $U1 --host h.example.net --protocol imap --remote-user bob --password "bad$(printf '\r')pw"
assert_contains "$OUT" $'password\tpassword: must not contain CR, LF or NUL' "a bad password is named"
assert_eq "$(printf '%s\n' "$OUT" | grep -c '^password')" 1 "... once"

check "validate --id: an edit of a stored account"
ID=$("${FM[@]}" add -u $U1 --host 127.0.0.1 --protocol imap --remote-user alice --password "$SECRET")
assert_ok "${FMT[@]}" validate -u $U1 --id "$ID" --mailbox Fetched
assert_eq "$OUT" $'field\terror' "a good edit: no rows (the stored password counts)"
assert_ok "${FMT[@]}" validate -u $U1 --id "$ID" --port 0 --protocol pop3
assert_contains "$OUT" $'port\tport: must be a number from 1 to 65535' "bad port on edit"
assert_ok "${FMT[@]}" validate -u $U1 --id "$ID" --protocol pop3 --folders INBOX --folders Sent
assert_contains "$OUT" $'folders\tfolders: only for protocol imap' "the stored fields count too"
assert_exit 68 "${FM[@]}" validate -u $U1 --id fm-nothere --port 1
assert_exit 64 "${FM[@]}" validate -u $U1 --id 'BAD ID' --port 1
assert_contains "$OUT" "id: not a valid account id" "a bad id is named"

check "validate over HTTP: rows, exit 0"
r=$(http_call '[["fetchmailValidate",{"user":"'$U1'","actor":"'$U1'","host":"bad host","port":"70000","protocol":"imap","remoteUser":"alice","password":"'$SECRET'","folders":["INBOX",""]},"v1"]]')
assert_contains "$r" '"doveadmResponse"' "answered with rows"
out=$(echo "$r" | rows)
assert_contains "$out" "port|port: must be a number from 1 to 65535 (got '70000')" "port row over HTTP"
assert_contains "$out" "host|host: must not contain spaces" "host row over HTTP"
assert_contains "$out" "folders|folders: folder names must not be empty" "folders row over HTTP"
assert_not_contains "$r" "$SECRET" "no password in the reply"
r=$(http_call '[["fetchmailValidate",{"user":"'$U1'","actor":"'$U1'","id":"'$ID'","maxSize":"2M"},"v2"]]')
assert_eq "$(echo "$r" | j 'print(len(d[0][1]))')" 0 "a good edit over HTTP: no rows"

check "validate respects the actor"
r=$(http_call '[["fetchmailValidate",{"user":"'$U1'","actor":"'$U3'","id":"'$ID'","port":"1"},"v3"]]')
assert_contains "$r" '"exitCode":77' "another user's account: refused"
assert_not_contains "$r" "$ID" "nothing read"
r=$(http_call '[["fetchmailValidate",{"user":"'$U1'","actor":"'$DADMIN'","id":"'$ID'","port":"1"},"v4"]]')
assert_contains "$r" '"doveadmResponse"' "the domain admin may"

check "role: user, domain admin, admin"
role() { http_call '[["fetchmailRole",{"user":"'$1'","actor":"'$2'"},"r"]]' | rows; }
assert_eq "$(role $U1 $U1)" "user|" "a plain user"
assert_eq "$(role $U1 $DADMIN)" "domain-admin|example.org" "the domain admin, asked for a user of the domain"
assert_eq "$(role $U3 $ADMIN)" "admin|" "the admin"
r=$(http_call '[["fetchmailRole",{"user":"'$U3'","actor":"'$DADMIN'"},"r"]]')
assert_contains "$r" '"exitCode":77' "a domain admin asked about another domain's user: refused"
r=$(http_call '[["fetchmailRole",{"user":"'$U2'","actor":"'$U1'"},"r"]]')
assert_contains "$r" '"exitCode":77' "a user asked about another user: refused"
assert_ok "${FMT[@]}" role -u $U1
assert_eq "$(printf '%s\n' "$OUT" | tail -n 1)" $'admin\t' "without --actor: the doveadm operator is admin"

check "role with allUsers: the users a picker offers"
picker() { http_call '[["fetchmailRole",{"allUsers":true,"actor":"'$1'"},"p"]]' | j 'print(" ".join(sorted(r["username"] for r in d[0][1])))'; }
assert_eq "$(picker $ADMIN)" "$U1 $U2 $U3" "admin: every user"
assert_eq "$(picker $DADMIN)" "$U1 $U2" "domain admin: the users of example.org"
assert_eq "$(picker $U2)" "$U2" "a user: itself"
r=$(http_call '[["fetchmailRole",{"user":"*@other.org","actor":"'$DADMIN'"},"p"]]')
assert_eq "$(echo "$r" | j 'print(len(d[0][1]))')" 0 "a mask of another domain: nobody"

check "test with report: a failed test still gives its steps, exit 0"
r=$(http_call '[["fetchmailTest",{"user":"'$U1'","actor":"'$U1'","host":"127.0.0.1","port":"'$EXT_POP3S_PORT'","protocol":"pop3","remoteUser":"alice","password":"wrong-one","report":true},"t1"]]')
assert_contains "$r" '"doveadmResponse"' "rows, not an exit code"
steps=$(echo "$r" | rows)
assert_match "$steps" $'connect\\|127.0.0.1:[0-9]+' "the connect step"
assert_match "$steps" $'login\\|failed: ' "the login step failed, with the server's words"
assert_match "$steps" $'result\\|failed: ' "the result says failed"
assert_not_contains "$r" "wrong-one" "no password in the rows"
r=$(http_call '[["fetchmailTest",{"user":"'$U1'","actor":"'$U1'","host":"127.0.0.1","port":"'$EXT_POP3S_PORT'","protocol":"pop3","remoteUser":"alice","password":"wrong-one"},"t2"]]')
assert_contains "$r" '"exitCode":75' "without report: EX_TEMPFAIL as before"
r=$(http_call '[["fetchmailTest",{"user":"'$U1'","actor":"'$U1'","host":"127.0.0.1","port":"'$EXT_POP3S_PORT'","protocol":"pop3","remoteUser":"alice","password":"'$ALICE_PASSWORD'","report":true},"t3"]]')
assert_eq "$(echo "$r" | j 'print(d[0][1][-1]["result"])')" ok "a good test with report: ok"
