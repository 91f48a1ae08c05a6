# The doveadm HTTP API: every fetchmail command with named JSON parameters,
# as a panel would call them, including error replies and authentication.
source "$(dirname "$0")/lib.sh"
sandbox_up

U=user1@example.org
SECRET='http-Secret-9f3!never'
j() { $PYTHON -c "import json,sys; d=json.load(sys.stdin); $1"; }

check "the command list has every fetchmail command with camel-cased parameters"
cmds=$(http_get | j 'print(" ".join(c["command"] for c in d if c["command"].startswith("fetchmail")))')
for c in fetchmailAdd fetchmailEdit fetchmailRemove fetchmailList fetchmailShow fetchmailLog fetchmailRun fetchmailTest; do
	assert_contains "$cmds" "$c" "$c is exposed"
done
params=$(http_get | j 'print(" ".join(p["name"] for c in d if c["command"]=="fetchmailAdd" for p in c["parameters"]))')
assert_contains "$params" "remoteUser" "remote-user is remoteUser"
assert_contains "$params" "tlsVerify" "tls-verify is tlsVerify"
assert_contains "$params" "maxSize" "max-size is maxSize"

check "authentication"
assert_eq "$(http_code none '[["fetchmailList",{"user":"'$U'"},"x"]]')" 401 "no credentials: 401"
assert_eq "$(http_code key:wrong '[["fetchmailList",{"user":"'$U'"},"x"]]')" 401 "wrong key: 401"
assert_eq "$(http_code basic '[["fetchmailList",{"user":"'$U'"},"x"]]')" 200 "doveadm_password works too"

check "add"
r=$(http_call '[["fetchmailAdd",{"user":"'$U'","host":"127.0.0.1","protocol":"imap","remoteUser":"alice","password":"'$SECRET'","folders":["INBOX","Archive"],"tls":"starttls","keep":"no"},"add1"]]')
assert_contains "$r" '"doveadmResponse"' "add answered"
ID=$(echo "$r" | j 'print(d[0][1][0]["id"])')
assert_match "$ID" '^fm-[a-z2-7]{8}$' "add returned the id"
assert_eq "$(echo "$r" | j 'print(d[0][2])')" add1 "the tag comes back"

check "show"
r=$(http_call '[["fetchmailShow",{"user":"'$U'","id":"'$ID'"},"s"]]')
assert_eq "$(echo "$r" | j 'print(d[0][1][0]["folders"])')" "INBOX,Archive" "folders from a JSON array"
assert_eq "$(echo "$r" | j 'print(d[0][1][0]["tls"])')" starttls "tls"
assert_eq "$(echo "$r" | j 'print(d[0][1][0]["port"])')" 143 "default port"
assert_not_contains "$r" "$SECRET" "no password in show"
assert_not_contains "$r" "v1:" "no ciphertext in show"

check "edit changes only the given fields"
r=$(http_call '[["fetchmailEdit",{"user":"'$U'","id":"'$ID'","mailbox":"Fetched","maxSize":"1M"},"e"]]')
assert_contains "$r" '"doveadmResponse"' "edit answered"
r=$(http_call '[["fetchmailShow",{"user":"'$U'","id":"'$ID'"},"s"]]')
assert_eq "$(echo "$r" | j 'print(d[0][1][0]["mailbox"], d[0][1][0]["max-size"], d[0][1][0]["keep"])')" "Fetched 1048576 no" "edited and kept fields"

check "list, for one user, a mask and all users"
r=$(http_call '[["fetchmailList",{"user":"'$U'"},"l"]]')
assert_eq "$(echo "$r" | j 'print(len(d[0][1]))')" 1 "one row"
r=$(http_call '[["fetchmailList",{"allUsers":true},"l"]]')
assert_eq "$(echo "$r" | j 'print(d[0][1][0]["username"])')" "$U" "rows carry the username with allUsers"
r=$(http_call '[["fetchmailList",{"user":"*@other.org"},"l"]]')
assert_eq "$(echo "$r" | j 'print(len(d[0][1]))')" 0 "a mask with no accounts: no rows"
assert_not_contains "$(http_call '[["fetchmailList",{"allUsers":true},"l"]]')" "$SECRET" "no password in list"

check "log of an account that never ran"
r=$(http_call '[["fetchmailLog",{"user":"'$U'","id":"'$ID'"},"g"]]')
assert_contains "$r" '"doveadmResponse"' "log answered"

check "error replies carry doveadm's exit codes"
r=$(http_call '[["fetchmailAdd",{"user":"'$U'","host":"bad host","protocol":"imap","remoteUser":"a","password":"x"},"b1"]]')
assert_contains "$r" '"exitCode":64' "bad host: EX_USAGE"
r=$(http_call '[["fetchmailAdd",{"user":"'$U'","host":"h","protocol":"imap","remoteUser":"a","password":"x","port":"70000"},"b2"]]')
assert_contains "$r" '"exitCode":64' "bad port: EX_USAGE"
r=$(http_call '[["fetchmailShow",{"user":"'$U'","id":"fm-nothere"},"b3"]]')
assert_contains "$r" '"exitCode":68' "unknown id: not found"
r=$(http_call '[["fetchmailList",{"user":"nobody@example.org"},"b4"]]')
assert_contains "$r" '"exitCode":67' "unknown user: EX_NOUSER"
r=$(http_call '[["fetchmailAdd",{"user":"'$U'","host":"h","protocol":"imap","remoteUser":"a","password":"x","colour":"blue"},"b5"]]')
assert_contains "$r" '"error"' "an unknown parameter is refused"
r=$(http_call '[["fetchmailList",{"user":"'$U'"},"l"]]')
assert_eq "$(echo "$r" | j 'print(len(d[0][1]))')" 1 "the refused calls added nothing"

check "remove"
r=$(http_call '[["fetchmailRemove",{"user":"'$U'","id":"'$ID'"},"r"]]')
assert_contains "$r" '"doveadmResponse"' "remove answered"
r=$(http_call '[["fetchmailShow",{"user":"'$U'","id":"'$ID'"},"s"]]')
assert_contains "$r" '"exitCode":68' "gone after remove"

check "test, run and log over HTTP, against the external server"
r=$(http_call '[["fetchmailTest",{"user":"'$U'","host":"127.0.0.1","port":"'$EXT_POP3S_PORT'","protocol":"pop3","remoteUser":"alice","password":"'$ALICE_PASSWORD'"},"t1"]]')
assert_eq "$(echo "$r" | j 'print(",".join(x["step"] for x in d[0][1]))')" "connect,tls,login,messages,result" "test reports each step"
assert_eq "$(echo "$r" | j 'print(d[0][1][-1]["result"])')" ok "test result ok"
r=$(http_call '[["fetchmailAdd",{"user":"'$U'","host":"127.0.0.1","port":"'$EXT_IMAPS_PORT'","protocol":"imap","remoteUser":"alice","password":"'$ALICE_PASSWORD'"},"a2"]]')
ID2=$(echo "$r" | j 'print(d[0][1][0]["id"])')
r=$(http_call '[["fetchmailRun",{"user":"'$U'","id":"'$ID2'"},"r1"]]')
assert_eq "$(echo "$r" | j 'x=d[0][1][0]; print(x["status"], x["fetched"])')" "ok $(count_ext alice)" "run fetched alice's INBOX"
r=$(http_call '[["fetchmailLog",{"user":"'$U'","id":"'$ID2'"},"g1"]]')
assert_contains "$r" 'LOGIN \"alice\" ***' "the log over HTTP is redacted"
assert_not_contains "$r" "$ALICE_PASSWORD" "no password in the log"
r=$(http_call '[["fetchmailTest",{"user":"'$U'","host":"127.0.0.1","port":"'$EXT_POP3S_PORT'","protocol":"pop3","remoteUser":"alice","password":"wrong-one"},"t2"]]')
assert_contains "$r" '"exitCode":75' "a failing test answers EX_TEMPFAIL"

check "the password is nowhere in the clear"
assert_not_contains "$(cat "$SANDBOX_DIR"/local/mail/*/dovecot-attributes 2>/dev/null)" "$SECRET" "attributes"
assert_not_contains "$(cat "$SANDBOX_DIR"/local/*.log)" "$SECRET" "Dovecot logs"
