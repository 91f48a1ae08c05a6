#!/bin/bash
# test-transport: plugin/fetchmail-transport.cc through the probe tool
# (tests/tools/fetchmail-transport-probe) against the sandbox's external
# servers and against small misbehaving servers started here: implicit TLS
# and STARTTLS, certificate and host name verification, refused and timed
# out connections, STARTTLS injection, the handler deleting the transport
# inside its callbacks; TLS session resumption across connections of one
# process (fetchmail-tls-cache) and the checks that still hold with it.
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

# fake_server MODE [ADDRESS [CERT]]: starts a misbehaving server on a free port and sets
# FAKE_PORT (no command substitution: the server must not hold its pipe and
# the kill hook must be registered in this shell). Modes: silent (accepts, never speaks), greet-silent (greeting, then
# silence), inject (POP3 greeting; answers STLS with "+OK" and a second line
# in the same packet), backlog (never accepts; its queue is full, so
# connects hang), tls12 (implicit TLS, at most TLS 1.2, with CERT.pem and
# CERT.key; a POP3 greeting, then silence). Killed on exit.
fake_server() {
	local portfile
	portfile=$(mktemp)
	"$PYTHON" - "$1" "$portfile" "${2:-127.0.0.1}" "${3:-}" >/dev/null 2>&1 <<-'EOF' &
	import socket, ssl, sys, threading, time
	mode, portfile, address, cert = sys.argv[1:5]
	if mode == "tls12":
	    # one context for every connection: its session cache and ticket
	    # key let clients resume
	    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
	    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
	    ctx.load_cert_chain(cert + ".pem", cert + ".key")
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
	    if mode == "tls12":
	        try:
	            c = ctx.wrap_socket(c, server_side=True)
	            c.sendall(b"+OK tls12 fake server ready\r\n")
	        except (OSError, ssl.SSLError):
	            return
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

check "a reader slower than the server does not hold the ioloop"
# the handler sleeps 1 ms per input callback, so the server always has
# more queued: without a bound per ioloop pass (64 KiB) the 2 MB were read
# in one or two passes and a 5 ms timeout ran 0-3 times (no other run,
# push connection or the service's stop got a turn); with it, about 30
for mode in implicit none; do
	port=$EXT_POP3S_PORT
	[[ $mode == implicit ]] || port=$EXT_POP3_PORT
	expect_ok "2 MB RETR read slowly ($mode)" \
		--host "$EXT_HOST" --port "$port" --tls "$mode" --ca-file "$CA_FILE" \
		--send "USER alice\r\nPASS $ALICE_PASSWORD\r\nRETR $big\r\n" \
		--slow-input-ms 1 --tick-ms 5
	assert_match "$OUT" "reply: [0-9]+ lines, [0-9]{7,} bytes" "2 MB arrived ($mode)"
	ticks=$(sed -n 's/^ticks during the reply: //p' <<<"$OUT")
	[[ ${ticks:-0} -ge 10 ]] && pass "timeouts ran during the reply: $ticks ($mode)" ||
		fail "timeouts ran ${ticks:-0} times during the reply ($mode)"
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

# ------------------------------------------------ TLS session resumption

# summary_of: the probe's last line ("new resumed error ..."), from OUT.
summary_of() { sed -n 's/^summary: //p' <<<"$OUT"; }

# expect_summary MSG WORDS ARGS...: the probe's connections ended as WORDS
# (new, resumed, error, ...).
expect_summary() {
	local msg=$1 want=$2
	shift 2
	probe "$@"
	assert_eq "$(summary_of)" "$want" "$msg"
}

check "Dovecot's defaults do not resume: a new login process per connection"
# Each login process makes its own session ticket key, so a ticket from
# one is useless to the next: the transport must then not claim to resume.
expect_summary "POP3S with a new login process each time: no resumption" "new new" \
	--host "$EXT_HOST" --port "$EXT_POP3S_PORT" --ca-file "$CA_FILE" --repeat 2
assert_not_contains "$OUT" "tls_resumed: yes" "no connection reported as resumed"

# One long-lived login process per service (Dovecot's "high-performance
# mode", as providers run it): its ticket key stays, sessions resume.
reuse_login_processes() {
	cat >>"$1" <<-EOF

		# test-transport: one reused login process, one ticket key
		service pop3-login {
		  service_count = 0
		  process_min_avail = 1
		  process_limit = 1
		}
		service imap-login {
		  service_count = 0
		  process_min_avail = 1
		  process_limit = 1
		}
	EOF
	doveadm -c "$1" reload
}
reuse_login_processes "$EXT_CONF"
reuse_login_processes "$BADNAME_CONF"
reuse_login_processes "$UNTRUSTED_CONF"
# resumes_again PORT [ARGS...]: two connections, the second resumed.
resumes_again() {
	local port=$1
	shift
	probe --host "$EXT_HOST" --port "$port" --ca-file "$CA_FILE" --repeat 2 --brief "$@"
	[[ $(summary_of) == "new resumed" ]]
}
# Until the reloaded masters' new login processes answer (badname and
# untrusted resume only with --no-verify: checked below). A timeout here
# shows in the checks that follow.
for port in "$EXT_POP3S_PORT" "$EXT_IMAPS_PORT" "$EXT_POP3_PORT" "$EXT_IMAP_PORT"; do
	case $port in
	"$EXT_POP3_PORT") wait_until 10 resumes_again "$port" --tls starttls-pop3 || true ;;
	"$EXT_IMAP_PORT") wait_until 10 resumes_again "$port" --tls starttls-imap || true ;;
	*) wait_until 10 resumes_again "$port" || true ;;
	esac
done
for port in "$BADNAME_POP3S_PORT" "$BADNAME_IMAPS_PORT" "$UNTRUSTED_POP3S_PORT" "$UNTRUSTED_IMAPS_PORT"; do
	wait_until 10 resumes_again "$port" --no-verify || true
done

check "implicit TLS: the second connection to the same server resumes"
expect_summary "POP3S: new, then resumed twice" "new resumed resumed" \
	--host "$EXT_HOST" --port "$EXT_POP3S_PORT" --ca-file "$CA_FILE" --repeat 3 --send 'CAPA\r\n' \
	--quiet-ms 200
assert_eq "$(grep -c '^  tls_verified: yes' <<<"$OUT")" 3 "POP3S: every connection verified"
assert_eq "$(grep -c '^  tls_subject: CN=localhost' <<<"$OUT")" 3 "POP3S: the subject is known on resumption too"
assert_eq "$(grep -c '^S: UIDL' <<<"$OUT")" 3 "POP3S: CAPA read through every connection"
assert_eq "$(grep '^tls_cache: ' <<<"$OUT" | sort -u)" "tls_cache: 1" "POP3S: one session kept"
expect_summary "IMAPS by DNS name: new, then resumed" "new resumed" \
	--host "$EXT_HOSTNAME" --port "$EXT_IMAPS_PORT" --ca-file "$CA_FILE" --repeat 2
assert_eq "$(grep -c '^  tls_verified: yes' <<<"$OUT")" 2 "IMAPS: every connection verified"
assert_contains "$OUT" "S: * OK" "IMAPS: greeting read after resumption"

check "STARTTLS: the second upgrade resumes"
expect_summary "POP3 STLS: new, then resumed" "new resumed" \
	--host "$EXT_HOST" --port "$EXT_POP3_PORT" --tls starttls-pop3 --ca-file "$CA_FILE" \
	--send 'CAPA\r\n' --quiet-ms 200 --repeat 2
assert_eq "$(grep -c '^  tls_resumed: yes' <<<"$OUT")" 1 "POP3 STLS: the second upgrade resumed"
assert_eq "$(grep -c '^  tls_verified: yes' <<<"$OUT")" 2 "POP3 STLS: every upgrade verified"
assert_eq "$(grep -c '^S: UIDL' <<<"$OUT")" 2 "POP3 STLS: CAPA after each upgrade"
expect_summary "IMAP STARTTLS: new, then resumed" "new resumed" \
	--host "$EXT_HOST" --port "$EXT_IMAP_PORT" --tls starttls-imap --ca-file "$CA_FILE" \
	--send 'b CAPABILITY\r\n' --quiet-ms 200 --repeat 2
assert_eq "$(grep -c '^S: b OK' <<<"$OUT")" 2 "IMAP STARTTLS: CAPABILITY after each upgrade"
assert_eq "$(grep -c '^  tls_verified: yes' <<<"$OUT")" 2 "IMAP STARTTLS: every upgrade verified"

check "TLS 1.2: the session is kept right after the handshake and resumed"
fake_server tls12 127.0.0.1 "$SANDBOX_DIR/server"
tls12_port=$FAKE_PORT
expect_summary "TLS 1.2 server: new, then resumed" "new resumed" \
	--host "$EXT_HOST" --port "$tls12_port" --ca-file "$CA_FILE" --repeat 2
assert_eq "$(grep -c '^  tls_cipher: TLSv1.2 ' <<<"$OUT")" 2 "TLS 1.2 negotiated"
assert_eq "$(grep -c '^  tls_verified: yes' <<<"$OUT")" 2 "TLS 1.2: every connection verified"

check "sessions are not shared between verified and unverified connections"
expect_summary "--no-verify, then verified: separate sessions" "new resumed new resumed" \
	--host "$EXT_HOST" --port "$EXT_POP3S_PORT" --ca-file "$CA_FILE" --no-verify --repeat 2 \
	--next --verify --repeat 2
assert_contains "$OUT" $'tls_cache: 1\nconnection 3' "one session after the unverified connections"
assert_contains "$OUT" $'tls_cache: 2\nsummary' "two sessions after both kinds"
expect_summary "verified, then --no-verify: separate sessions" "new resumed new resumed" \
	--host "$EXT_HOST" --port "$EXT_POP3S_PORT" --ca-file "$CA_FILE" --repeat 2 \
	--next --no-verify --repeat 2

check "sessions are not shared between host names of the same server"
expect_summary "127.0.0.1, then localhost: no resumption across names" "new resumed new resumed" \
	--host 127.0.0.1 --port "$EXT_POP3S_PORT" --ca-file "$CA_FILE" --repeat 2 \
	--next --host localhost --repeat 2
expect_summary "localhost, then 127.0.0.1 (IMAPS)" "new new" \
	--host localhost --port "$EXT_IMAPS_PORT" --ca-file "$CA_FILE" \
	--next --host 127.0.0.1

check "sessions are not shared between CA settings"
# The same server, now checked against another CA: its session must not
# let the connection skip that check.
expect_summary "sandbox CA, then the untrusted CA: verification fails" "new resumed error" \
	--host "$EXT_HOST" --port "$EXT_POP3S_PORT" --ca-file "$CA_FILE" --repeat 2 \
	--next --ca-file "$UNTRUSTED_CA_FILE"
assert_contains "$OUT" "error: tls: TLS handshake with 127.0.0.1:$EXT_POP3S_PORT failed: certificate verify failed" \
	"the other CA's check ran"

check "the checks still hold: another server on the same address does not resume"
for proto in POP3S IMAPS; do
	ext_port=EXT_${proto}_PORT bad_port=BADNAME_${proto}_PORT untrusted_port=UNTRUSTED_${proto}_PORT
	expect_summary "$proto: trusted server's session kept, then badname fails" "new resumed error" \
		--host "$EXT_HOST" --port "${!ext_port}" --ca-file "$CA_FILE" --repeat 2 \
		--next --port "${!bad_port}"
	assert_contains "$OUT" "error: tls: TLS handshake with 127.0.0.1:${!bad_port} failed: certificate verify failed: SSL certificate doesn't match expected host name 127.0.0.1" \
		"$proto: badname fails the host name check"
	assert_not_contains "$OUT" "(resumed session)" "$proto: badname's handshake was a full one"
	expect_summary "$proto: trusted server's session kept, then untrusted fails" "new resumed error" \
		--host "$EXT_HOST" --port "${!ext_port}" --ca-file "$CA_FILE" --repeat 2 \
		--next --port "${!untrusted_port}"
	assert_contains "$OUT" "error: tls: TLS handshake with 127.0.0.1:${!untrusted_port} failed: certificate verify failed" \
		"$proto: untrusted fails the chain check"
done
expect_summary "a failed verification keeps nothing (badname twice)" "error error" \
	--host "$EXT_HOST" --port "$BADNAME_POP3S_PORT" --ca-file "$CA_FILE" --repeat 2
assert_eq "$(grep '^tls_cache: ' <<<"$OUT" | sort -u)" "tls_cache: 0" "no session kept from failed handshakes"

check "a resumed session's certificate is checked again"
# With --no-verify the sessions are kept and resumed; the resumed
# handshake's own checks (no certificate is sent: the kept one, the kept
# chain result) must find what the full handshake found.
expect_summary "badname --no-verify: new, then resumed" "new resumed" \
	--host "$EXT_HOST" --port "$BADNAME_POP3S_PORT" --ca-file "$CA_FILE" --no-verify --repeat 2
assert_contains "$OUT" "tls_verify_error: SSL certificate doesn't match expected host name 127.0.0.1: did not match to any IP or DNS fields (resumed session)" \
	"the host name check ran on the resumed session"
assert_eq "$(grep -c '^  tls_verified: no' <<<"$OUT")" 2 "badname never reported verified"
assert_contains "$OUT" "tls_subject: CN=wrong-name.example.net" "subject of the kept certificate"
expect_summary "untrusted --no-verify: new, then resumed" "new resumed" \
	--host "$EXT_HOST" --port "$UNTRUSTED_POP3S_PORT" --ca-file "$CA_FILE" --no-verify --repeat 2
assert_match "$OUT" "tls_verify_error: Received invalid SSL certificate: .* \\(resumed session\\)" \
	"the chain result kept in the session is checked on resumption"
assert_eq "$(grep -c '^  tls_verified: no' <<<"$OUT")" 2 "untrusted never reported verified"

check "the cache's bounds"
# Three keys: POP3S and IMAPS by address, POP3S by name.
A=(--host 127.0.0.1 --port "$EXT_POP3S_PORT")
B=(--host 127.0.0.1 --port "$EXT_IMAPS_PORT")
C=(--host localhost --port "$EXT_POP3S_PORT")
expect_summary "at most 1: the other key evicts it" "new new new" \
	--ca-file "$CA_FILE" --tls-cache-max 1 "${A[@]}" --next "${B[@]}" --next "${A[@]}"
assert_eq "$(grep '^tls_cache: ' <<<"$OUT" | sort -u)" "tls_cache: 1" "never more than 1 kept"
# A used again after B: C evicts B, the least recently used, not A.
expect_summary "at most 2: the least recently used goes" "new new resumed new resumed new" \
	--ca-file "$CA_FILE" --tls-cache-max 2 "${A[@]}" --next "${B[@]}" --next "${A[@]}" \
	--next "${C[@]}" --next "${A[@]}" --next "${B[@]}"
assert_eq "$(grep '^tls_cache: ' <<<"$OUT" | tr '\n' ' ')" \
	"tls_cache: 1 tls_cache: 2 tls_cache: 2 tls_cache: 2 tls_cache: 2 tls_cache: 2 " \
	"never more than 2 kept"
expect_summary "0: resumption off" "new new" \
	--ca-file "$CA_FILE" --tls-cache-max 0 "${A[@]}" --repeat 2
# Age: counted from the full handshake. The resumed connection gets a new
# ticket, but at 3 s after the full handshake the session is dropped.
expect_summary "at most 3 s after the full handshake, also after resumption" "new resumed new" \
	--ca-file "$CA_FILE" --tls-cache-max-age 3 --pause-ms 1500 "${A[@]}" --repeat 3

check "the run log says when TLS was resumed"
U=user2@example.org
ids=()
for remote in bob carol; do
	pw=BOB_PASSWORD
	[[ $remote == carol ]] && pw=CAROL_PASSWORD
	assert_ok doveadm -c "$LOCAL_CONF" fetchmail add -u "$U" --host 127.0.0.1 \
		--port "$EXT_POP3S_PORT" --protocol pop3 --remote-user "$remote" \
		--password "${!pw}" --mailbox "INBOX"
	ids+=("$OUT")
done
# one account after the other: the second finds the first one's session
assert_ok doveadm -c "$LOCAL_CONF" -o plugin/fetchmail_max_parallel=1 fetchmail run -u "$U"
logs=
for id in "${ids[@]}"; do
	assert_ok doveadm -c "$LOCAL_CONF" fetchmail log -u "$U" "$id"
	logs+=$(grep -o 'TLS: .*' <<<"$OUT")$'\n'
done
assert_eq "$(grep -c 'CN=localhost, verified$' <<<"$logs")" 1 "one run made a full handshake"
assert_eq "$(grep -c 'CN=localhost, verified, resumed$' <<<"$logs")" 1 "the other resumed: $(tr '\n' '|' <<<"$logs")"

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
