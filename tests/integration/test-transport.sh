#!/bin/bash
# test-transport: plugin/fetchmail-transport.cc through the probe tool
# (tests/tools/fetchmail-transport-probe) against the sandbox's external
# servers and against small misbehaving servers started here: implicit TLS
# and STARTTLS, certificate and host name verification, refused and timed
# out connections, STARTTLS injection, the handler deleting the transport
# inside its callbacks.
#
#   scripts/ns-run bash tests/integration/test-transport.sh
source "$(dirname "$0")/lib.sh"

PROBE=$FETCHMAIL_BUILD_DIR/tests/tools/fetchmail-transport-probe
[[ -x $PROBE ]] || fatal "$PROBE is not built (target fetchmail-transport-probe)"

sandbox_up

# probe ARGS...: runs the probe (30 s at most), sets OUT and RC.
# Host names are looked up through the local Dovecot's dns-client service.
probe() { run_cmd timeout 30 "$PROBE" --dns-socket "$LOCAL_BASE_DIR/dns-client" "$@"; }

# expect_ok MSG ARGS...: the probe succeeds.
expect_ok() {
	local msg=$1
	shift
	probe "$@"
	if [[ $RC == 0 ]]; then
		pass "$msg"
	else
		fail "$msg: exit $RC: $(_excerpt "$OUT")"
	fi
}

# expect_error MSG KIND TEXT ARGS...: the probe fails (exit 1) with
# "error: KIND: ...TEXT...".
expect_error() {
	local msg=$1 kind=$2 text=$3
	shift 3
	probe "$@"
	if [[ $RC == 1 && $OUT == *"error: $kind: "*"$text"* ]]; then
		pass "$msg"
	else
		fail "$msg: exit $RC, expected 'error: $kind: ...$text': $(_excerpt "$OUT")"
	fi
}

# fake_server MODE [ADDRESS]: starts a misbehaving server on a free port and sets
# FAKE_PORT (no command substitution: the server must not hold its pipe and
# the kill hook must be registered in this shell). Modes: silent (accepts, never speaks), greet-silent (greeting, then
# silence), inject (POP3 greeting; answers STLS with "+OK" and a second line
# in the same packet), backlog (never accepts; its queue is full, so
# connects hang). Killed on exit.
fake_server() {
	local portfile
	portfile=$(mktemp)
	"$PYTHON" - "$1" "$portfile" "${2:-127.0.0.1}" >/dev/null 2>&1 <<-'EOF' &
	import socket, sys, threading, time
	mode, portfile, address = sys.argv[1], sys.argv[2], sys.argv[3]
	srv = socket.socket()
	srv.bind((address, 0))
	srv.listen(0 if mode == "backlog" else 16)
	port = srv.getsockname()[1]
	held = []
	if mode == "backlog":
	    for _ in range(8):
	        c = socket.socket()
	        c.setblocking(False)
	        try:
	            c.connect((address, port))
	        except BlockingIOError:
	            pass
	        held.append(c)
	    time.sleep(0.3)
	with open(portfile, "w") as f:
	    f.write("%d\n" % port)
	def serve(c):
	    if mode == "greet-silent":
	        c.sendall(b"+OK fake server ready\r\n")
	    elif mode == "inject":
	        c.sendall(b"+OK fake server ready\r\n")
	        buf = b""
	        while b"\n" not in buf:
	            d = c.recv(1024)
	            if not d:
	                return
	            buf += d
	        c.sendall(b"+OK Begin TLS negotiation now.\r\n+OK injected-secret-line\r\n")
	    held.append(c)
	while True:
	    if mode == "backlog":
	        time.sleep(3600)
	    c, _ = srv.accept()
	    threading.Thread(target=serve, args=(c,), daemon=True).start()
	EOF
	local pid=$!
	on_exit "kill $pid 2>/dev/null || true"
	wait_until 10 test -s "$portfile" || fatal "fake server ($1) did not start"
	FAKE_PORT=$(<"$portfile")
	rm -f "$portfile"
}

# ------------------------------------------------------------ implicit TLS

check "POP3S, implicit TLS, verified against the sandbox CA"
expect_ok "POP3S handshake verified" \
	--host "$EXT_HOST" --port "$EXT_POP3S_PORT" --ca-file "$CA_FILE" --send 'CAPA\r\n'
assert_contains "$OUT" "tls_verified: yes" "POP3S certificate verified"
assert_match "$OUT" "tls_cipher: TLSv1\.[23] [A-Z0-9_-]+" "POP3S cipher reported"
assert_contains "$OUT" "tls_subject: CN=localhost" "POP3S peer subject reported"
assert_contains "$OUT" "S: +OK" "POP3S greeting read through TLS"
assert_contains "$OUT" "S: UIDL" "POP3S CAPA reply read through TLS"

check "IMAPS, implicit TLS, verified by DNS name"
expect_ok "IMAPS handshake verified (localhost)" \
	--host "$EXT_HOSTNAME" --port "$EXT_IMAPS_PORT" --ca-file "$CA_FILE"
assert_contains "$OUT" "tls_verified: yes" "IMAPS certificate verified"
assert_contains "$OUT" "S: * OK" "IMAPS greeting read through TLS"
expect_ok "IMAPS handshake verified (127.0.0.1)" \
	--host "$EXT_HOST" --port "$EXT_IMAPS_PORT" --ca-file "$CA_FILE"

# ---------------------------------------------------------------- STARTTLS

check "POP3 STLS upgrade"
expect_ok "POP3 STLS" --host "$EXT_HOST" --port "$EXT_POP3_PORT" \
	--tls starttls-pop3 --ca-file "$CA_FILE" --send 'CAPA\r\n'
assert_match "$OUT" $'connected\n  address: [0-9.:]+\n  tls: no' "POP3 plaintext first"
assert_contains "$OUT" "S: +OK Begin TLS negotiation now." "POP3 STLS accepted"
assert_match "$OUT" $'tls started\n  address: [0-9.:]+\n  tls: yes' "POP3 upgraded to TLS"
assert_contains "$OUT" "tls_verified: yes" "POP3 STLS certificate verified"
assert_contains "$OUT" "S: UIDL" "POP3 CAPA after STLS"
assert_not_contains "$OUT" "S: STLS" "POP3 no STLS capability after the upgrade"

check "IMAP STARTTLS upgrade"
expect_ok "IMAP STARTTLS" --host "$EXT_HOST" --port "$EXT_IMAP_PORT" \
	--tls starttls-imap --ca-file "$CA_FILE" --send 'b CAPABILITY\r\n'
assert_contains "$OUT" "S: a OK" "IMAP STARTTLS accepted"
assert_match "$OUT" $'tls started\n  address: [0-9.:]+\n  tls: yes' "IMAP upgraded to TLS"
assert_contains "$OUT" "tls_verified: yes" "IMAP STARTTLS certificate verified"
assert_contains "$OUT" "S: b OK" "IMAP CAPABILITY after STARTTLS"

check "STARTTLS refused by a server without TLS"
probe --host "$EXT_HOST" --port "$NOTLS_POP3_PORT" --tls starttls-pop3 --ca-file "$CA_FILE"
assert_eq "$RC" 3 "probe reports the refused STLS"

check "STARTTLS injection: plaintext after the STLS reply"
fake_server inject
inject_port=$FAKE_PORT
expect_error "data after the STARTTLS reply is refused" tls \
	"TLS upgrade with 127.0.0.1:$inject_port failed: server sent data after the STARTTLS reply" \
	--host 127.0.0.1 --port "$inject_port" --tls starttls-pop3 --ca-file "$CA_FILE"
assert_not_contains "$OUT" "error: tls: "*"injected" "no protocol data in the error"

# ------------------------------------------------------ certificate checks

check "untrusted CA"
expect_error "unknown CA fails" tls \
	"TLS handshake with 127.0.0.1:$UNTRUSTED_POP3S_PORT failed: certificate verify failed" \
	--host "$EXT_HOST" --port "$UNTRUSTED_POP3S_PORT" --ca-file "$CA_FILE"
assert_not_contains "$OUT" "S: +OK" "nothing read from an untrusted server"
expect_error "unknown CA fails for IMAPS too" tls "certificate verify failed" \
	--host "$EXT_HOST" --port "$UNTRUSTED_IMAPS_PORT" --ca-file "$CA_FILE"
expect_error "no CA file: the system CAs do not know the sandbox CA" tls \
	"certificate verify failed" --host "$EXT_HOST" --port "$EXT_POP3S_PORT"
expect_ok "unknown CA with --no-verify" \
	--host "$EXT_HOST" --port "$UNTRUSTED_POP3S_PORT" --ca-file "$CA_FILE" --no-verify
assert_contains "$OUT" "tls_verified: no" "reported as not verified"
assert_match "$OUT" "tls_verify_error: .*certificate" "the reason is reported"
assert_contains "$OUT" "tls_subject: CN=localhost" "the subject of an untrusted certificate"
assert_contains "$OUT" "S: +OK" "greeting read without verification"
expect_ok "untrusted instance verified against its own CA (--ca-file is used)" \
	--host "$EXT_HOST" --port "$UNTRUSTED_POP3S_PORT" --ca-file "$UNTRUSTED_CA_FILE"
assert_contains "$OUT" "tls_verified: yes" "verified with the other CA"

check "host name mismatch"
# The sandbox's server certificate is for DNS:localhost and IP:127.0.0.1;
# badname's is for wrong-name.example.net (same CA).
expect_error "127.0.0.1 vs wrong-name.example.net" tls \
	"doesn't match expected host name 127.0.0.1" \
	--host "$EXT_HOST" --port "$BADNAME_IMAPS_PORT" --ca-file "$CA_FILE"
expect_error "localhost vs wrong-name.example.net (STARTTLS)" tls \
	"doesn't match expected host name localhost" \
	--host "$EXT_HOSTNAME" --port "$BADNAME_POP3_PORT" --tls starttls-pop3 --ca-file "$CA_FILE"
expect_ok "name mismatch with --no-verify" \
	--host "$EXT_HOST" --port "$BADNAME_IMAPS_PORT" --ca-file "$CA_FILE" --no-verify
assert_contains "$OUT" "tls_verify_error: SSL certificate doesn't match expected host name" \
	"mismatch reported as the reason"
assert_contains "$OUT" "tls_subject: CN=wrong-name.example.net" "subject of the mismatching certificate"

# ------------------------------------------------------- connection errors

check "connection refused"
closed_port=$(free_port)
expect_error "closed port" connect "connect(127.0.0.1:$closed_port) failed: Connection refused" \
	--host 127.0.0.1 --port "$closed_port"

check "host name that does not resolve"
expect_error "unknown host" resolve "dns_lookup(no-such-host.invalid) failed" \
	--host no-such-host.invalid --port 110

check "connect timeout (a listener whose queue is full)"
fake_server backlog
backlog_port=$FAKE_PORT
start=$SECONDS
expect_error "connect timed out" timeout \
	"connect(127.0.0.1:$backlog_port) timed out after 1500 ms" \
	--host 127.0.0.1 --port "$backlog_port" --timeout-ms 1500
assert_match "$((SECONDS - start))" '^[0-5]$' "connect timeout honoured"

check "timeouts against a listener that never answers"
fake_server silent
silent_port=$FAKE_PORT
start=$SECONDS
expect_error "TLS handshake timed out" timeout \
	"TLS handshake with 127.0.0.1:$silent_port timed out after 1500 ms" \
	--host 127.0.0.1 --port "$silent_port" --timeout-ms 1500 --ca-file "$CA_FILE"
expect_error "no greeting: inactivity timeout" timeout \
	"read(127.0.0.1:$silent_port) timed out: no data for 1500 ms" \
	--host 127.0.0.1 --port "$silent_port" --timeout-ms 1500 --tls none
assert_match "$((SECONDS - start))" '^[0-9]$' "timeouts honoured"
fake_server greet-silent
greet_port=$FAKE_PORT
expect_error "silence after the greeting: inactivity timeout" timeout \
	"read(127.0.0.1:$greet_port) timed out: no data for 1500 ms" \
	--host 127.0.0.1 --port "$greet_port" --timeout-ms 1500 --tls none --send 'CAPA\r\n' \
	--quiet-ms 20000
assert_contains "$OUT" "S: +OK fake server ready" "greeting read before the timeout"

check "plaintext implicit-TLS mismatch"
expect_error "TLS against a plaintext port" tls "TLS handshake with 127.0.0.1:$NOTLS_POP3_PORT failed" \
	--host "$EXT_HOST" --port "$NOTLS_POP3_PORT" --timeout-ms 5000 --ca-file "$CA_FILE"

check "server closes the connection"
expect_error "closed by the server after QUIT" closed \
	"read(127.0.0.1:$NOTLS_POP3_PORT) failed: connection closed by server" \
	--host "$EXT_HOST" --port "$NOTLS_POP3_PORT" --tls none --send 'QUIT\r\n'
assert_contains "$OUT" "S: +OK Logging out" "QUIT reply read before the close"
expect_error "closed by the server after QUIT (TLS)" closed \
	"connection closed by server" \
	--host "$EXT_HOST" --port "$EXT_POP3S_PORT" --ca-file "$CA_FILE" --send 'QUIT\r\n'
assert_not_contains "$OUT" "Logging out\"" "no protocol data in the error"

# ------------------------------------------------- backpressure, resume()

check "a full input buffer pauses reading until resume()"
sandbox_fill alice 1 2M >/dev/null
big=$(count_ext alice)
for mode in implicit none; do
	port=$EXT_POP3S_PORT
	[[ $mode == implicit ]] || port=$EXT_POP3_PORT
	expect_ok "2 MB RETR held for 1 s ($mode)" \
		--host "$EXT_HOST" --port "$port" --tls "$mode" --ca-file "$CA_FILE" \
		--send "USER alice\r\nPASS $ALICE_PASSWORD\r\nRETR $big\r\n" \
		--hold-ms 1000 --quiet-ms 5000
	assert_contains "$OUT" "resume after 1000 ms" "resumed ($mode)"
	assert_match "$OUT" "reply: [0-9]+ lines, [0-9]{7,} bytes" \
		"2 MB arrived after the pause ($mode)"
	assert_contains "$OUT" $'last: .\nbytes_in: ' "up to the final dot ($mode)"
done

# ------------------------------------------------ ownership from callbacks

check "the handler deletes the transport inside its callbacks"
expect_ok "deleted in transport_connected (implicit TLS)" \
	--host "$EXT_HOST" --port "$EXT_POP3S_PORT" --ca-file "$CA_FILE" --drop-in connected
assert_contains "$OUT" "dropped in connected" "dropped in connected"
expect_ok "deleted in transport_input" \
	--host "$EXT_HOST" --port "$EXT_IMAPS_PORT" --ca-file "$CA_FILE" --drop-in input
assert_contains "$OUT" "dropped in input" "dropped in input"
expect_ok "deleted in transport_tls_started" \
	--host "$EXT_HOST" --port "$EXT_IMAP_PORT" --tls starttls-imap --ca-file "$CA_FILE" --drop-in tls
assert_contains "$OUT" "dropped in tls" "dropped in tls"

# ------------------------------------------------------- several addresses

check "a name with several addresses: the next one after a refusal"
# Only inside this test's private mount namespace (scripts/ns-run). The
# name has 127.0.0.1 (nothing listens on the port there) and 127.0.0.2 (a
# fake server); getaddrinfo() sorts 127.0.0.1 first (longest matching
# prefix with the loopback source address).
fake_server greet-silent 127.0.0.2
multi_port=$FAKE_PORT
hosts=$(mktemp)
chmod 644 "$hosts"   # read by the dns-client service (user dovecot)
printf '127.0.0.2 fm-multi.test\n127.0.0.1 fm-multi.test\n' >"$hosts"
if mount --bind "$hosts" /etc/hosts 2>/dev/null; then
	on_exit "umount /etc/hosts 2>/dev/null || true; rm -f '$hosts'"
	expect_error "every address tried, in order" connect \
		"connect(fm-multi.test:$closed_port (127.0.0.1:$closed_port)) failed: Connection refused; connect(fm-multi.test:$closed_port (127.0.0.2:$closed_port)) failed: Connection refused" \
		--host fm-multi.test --port "$closed_port"
	expect_ok "the second address connects" \
		--host fm-multi.test --port "$multi_port" --tls none
	assert_contains "$OUT" "address: 127.0.0.2:$multi_port" "connected to the second address"
	assert_contains "$OUT" "S: +OK fake server ready" "greeting from the second address"
else
	say "skipped: cannot bind-mount /etc/hosts here"
	rm -f "$hosts"
fi
