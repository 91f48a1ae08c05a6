# IMAP IDLE push through the fetch service: an account with push = yes on
# a server that offers IDLE gets new mail within seconds, without a poll
# (the interval is an hour); the push survives the remote server
# restarting; an account whose server lacks IDLE is polled instead; the
# live status shows the push state; edited off, the connection goes away.
export SANDBOX_SERVICE=1 SANDBOX_INTERVAL=1h SANDBOX_EXTRAS=""
export SANDBOX_LOCAL_CONF='plugin {
  fetchmail_look_age = 0
}'
source "$(dirname "$0")/lib.sh"
sandbox_up

U1=user1@example.org
U2=user2@example.org
FM=(doveadm -c "$LOCAL_CONF" fetchmail)
same_count() { [[ $(count_local "$1" "$2") == "$3" ]]; }
_exited() { ! kill -0 "$1" 2>/dev/null; }

# push_state USER ID: the push state the fetch service reports (STATUS on
# its socket, as list and show ask it)
push_state() {
	"$PYTHON" - "$LOCAL_BASE_DIR/fetchmail" "$1" "$2" <<-'EOF'
	import json, socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.settimeout(5)
	s.connect(sys.argv[1])
	s.sendall(b"VERSION\tfetchmail\t1\t0\nSTATUS\t" + sys.argv[2].encode() + b"\n")
	data = b""
	while data.count(b"\n") < 2:
	    d = s.recv(65536)
	    if not d:
	        break
	    data += d
	reply = data.split(b"\n")[1].decode()
	assert reply.startswith("OK\t"), reply
	print(json.loads(reply[3:]).get(sys.argv[3], {}).get("push", ""))
	EOF
}
idling() { [[ $(push_state "$1" "$2") == idling ]]; }

check "a push account idles after its first run"
n=$(count_ext bob)
assert_ok "${FM[@]}" add -u "$U1" --host 127.0.0.1 --port "$EXT_IMAPS_PORT" \
	--protocol imap --remote-user bob --password-file - --mailbox Pushed \
	--push yes <<<"$BOB_PASSWORD"
P=$OUT
assert_ok wait_until 20 same_count "$U1" Pushed "$n"
assert_ok wait_until 20 idling "$U1" "$P"
assert_match "$(cat "$LOCAL_LOG")" "fetchmail\\($U1/$P\\): push: idling in INBOX" "the log says so"

check "new mail arrives within 5 seconds, without a poll"
for round in 1 2 3; do
	t0=$(date +%s%N)
	sandbox_fill bob 1 2k
	n=$((n + 1))
	assert_ok wait_until 5 same_count "$U1" Pushed "$n"
	say "round $round: arrived after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
done
assert_eq "$(msgids_local "$U1" Pushed | uniq -d)" "" "no duplicates"

check "the remote server restarts: the push comes back by itself"
ext_pid=$(cat "$SANDBOX_DIR/ext/run/master.pid")
ext_doveadm stop
wait_until 15 _exited "$ext_pid" || fatal "the external Dovecot did not stop"
lost() { [[ $(push_state "$U1" "$P") == lost ]]; }
assert_ok wait_until 20 lost
dovecot -c "$EXT_CONF" || fatal "the external Dovecot did not start again"
assert_ok wait_until 30 idling "$U1" "$P"
sandbox_fill bob 1 2k
n=$((n + 1))
assert_ok wait_until 5 same_count "$U1" Pushed "$n"

check "a server without IDLE: polled instead"
NMSG=2 fake_start imap-good
before=$(count_local "$U2" NoIdle)
assert_ok "${FM[@]}" add -u "$U2" --host 127.0.0.1 --port "$FAKE_PORT" --tls none \
	--protocol imap --remote-user fake --password-file - --mailbox NoIdle \
	--push yes <<<"fake-password"
Q=$OUT
polled() { [[ $(push_state "$U2" "$Q") == polled ]]; }
assert_ok wait_until 20 polled
assert_match "$(cat "$LOCAL_LOG")" "fetchmail\\($U2/$Q\\): push: .*IDLE.*not pushing" "the log says why"
assert_ok wait_until 20 same_count "$U2" NoIdle "$((before + 2))"
next=$(fm_field "$U2" "$Q" next-run)
[[ -n $next ]] && pass "it has a next poll ($next)" || fail "no next poll"

check "push edited off: the connection goes away, the account is polled"
assert_ok "${FM[@]}" edit -u "$U1" "$P" --push no
notpushed() { [[ $(push_state "$U1" "$P") == "" ]]; }
assert_ok wait_until 20 notpushed
