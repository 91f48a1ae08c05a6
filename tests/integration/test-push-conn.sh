#!/bin/bash
# test-push-conn: the push connection (plugin/fetchmail-push-conn.cc,
# IMAP IDLE) through tests/tools/fetchmail-push-probe against real
# servers: the sandbox's external Dovecot (implicit TLS and STARTTLS; its
# rawlog shows what it read from the probe), its oauth2 instance (XOAUTH2
# tokens checked by the test provider) and fakeserver.py's imap-good (a
# server without IDLE).
#
#   new mail -> "changed" within 2 s, once per delivery burst (both TLS
#     modes); the IDLE renewed (the server reads DONE and IDLE again) and
#     still reporting; the server restarted -> lost, idling again by
#     itself, changes still reported, nothing reported twice; stop() ->
#     DONE and LOGOUT; a wrong password -> failed, no reconnect; no IDLE
#     -> unsupported, LOGOUT, no reconnect; OAuth2: a refused token ->
#     one forced retry (then idling, or failed), token errors -> lost
#     with the backoff, or failed; no password or token in any output.
#
#   scripts/ns-run bash tests/integration/test-push-conn.sh
source "$(dirname "$0")/lib.sh"

PROBE=$FETCHMAIL_BUILD_DIR/tests/tools/fetchmail-push-probe
[[ -x $PROBE ]] || fatal "$PROBE is not built (target fetchmail-push-probe)"

export SANDBOX_EXTRAS=oauth2 SANDBOX_OAUTH2_TTL=120
sandbox_up
# shellcheck source=tests/integration/oauth2-lib.sh
source "$LIB_DIR/oauth2-lib.sh"

# The external server's rawlog (what its IMAP sessions read after the
# login, per user): the reload must be in effect before the probes log in.
RAWLOG=$SANDBOX_DIR/rawlog
mkdir -p "$RAWLOG"/{alice,bob,carol}
chown -R mail:mail "$RAWLOG"
printf 'protocol imap {\n  rawlog_dir = %s/%%u\n}\n' "$RAWLOG" >>"$EXT_CONF"
ext_doveadm reload
wait_until 10 grep -q "SIGHUP received" "$EXT_LOG" || fatal "the external Dovecot did not reload"

declare -A PIDS=()
on_exit 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done'

# probe_start NAME PASSWORD ARGS...: a probe in the background, the
# password on stdin; output in $SANDBOX_DIR/NAME.out, its debug log (the
# protocol, redacted) in NAME.err.
probe_start() {
	local name=$1 pw=$2
	shift 2
	"$PROBE" --dns-socket "$LOCAL_BASE_DIR/dns-client" --debug "$@" <<<"$pw" \
		>"$SANDBOX_DIR/$name.out" 2>"$SANDBOX_DIR/$name.err" &
	PIDS[$name]=$!
}

# probe_out NAME: what the probe printed so far.
probe_out() { cat "$SANDBOX_DIR/$1.out"; }
# probe_count NAME ERE: lines of its output that match.
probe_count() { grep -cE "$2" "$SANDBOX_DIR/$1.out" || true; }
_count_ge() { [[ $(probe_count "$1" "$2") -ge $3 ]]; }
# probe_wait SECS NAME ERE [N]: until N (default 1) lines match.
probe_wait() { wait_until "$1" _count_ge "$2" "$3" "${4:-1}"; }
# probe_end NAME SECS: waits for the probe to exit (it stops by itself
# with --stop-after-ms, or on SIGTERM); sets RC.
probe_end() {
	local pid=${PIDS[$1]}
	RC=0
	if ! wait_until "$2" _exited "$pid"; then
		kill "$pid" 2>/dev/null || true
		RC=124
	fi
	[[ $RC != 0 ]] || wait "$pid" || RC=$?
	unset "PIDS[$1]"
}
_exited() { ! kill -0 "$1" 2>/dev/null || [[ -n $(ps -o stat= -p "$1" | grep Z) ]]; }

# expect_changed NAME N MSG: the probe has reported N changes within 2 s.
expect_changed() {
	if probe_wait 2 "$1" ' changed$' "$2"; then
		pass "$3"
	else
		fail "$3: $(probe_count "$1" ' changed$') changes: $(_excerpt "$(probe_out "$1")")"
	fi
}

# rawlog_in USER: every line the external server read from USER's
# sessions, the session written to last at the end, without the rawlog's
# timestamps.
rawlog_in() {
	local files
	mapfile -t files < <(ls -tr "$RAWLOG/$1"/*.in 2>/dev/null)
	[[ ${#files[@]} -gt 0 ]] || return 0
	cat "${files[@]}" | tr -d '\r' | sed 's/^[0-9.]* //'
}

check "the probes connect: implicit TLS (alice), STARTTLS (bob), IDLE renewed every second (carol), a wrong password, a server without IDLE"
fake_start imap-good
probe_start tls "$ALICE_PASSWORD" --host "$EXT_HOST" --port "$EXT_IMAPS_PORT" \
	--user alice --verify --ca-file "$CA_FILE" --backoff-first-ms 300
probe_start renew "$CAROL_PASSWORD" --host "$EXT_HOST" --port "$EXT_IMAPS_PORT" \
	--user carol --verify --ca-file "$CA_FILE" --renew-ms 1000
probe_start starttls "$BOB_PASSWORD" --host "$EXT_HOSTNAME" --port "$EXT_IMAP_PORT" \
	--tls starttls --user bob --verify --ca-file "$CA_FILE" --backoff-first-ms 300
probe_start wrongpw "carol-not-the-password" --host "$EXT_HOST" --port "$EXT_IMAPS_PORT" \
	--user carol --verify --ca-file "$CA_FILE" --backoff-first-ms 100 --stop-after-ms 3000
probe_start noidle "$BOB_PASSWORD" --host 127.0.0.1 --port "$FAKE_PORT" --tls none \
	--user bob --backoff-first-ms 100 --stop-after-ms 2000
probe_wait 15 tls 'state idling$' || fatal "implicit TLS: no idling: $(probe_out tls)"
pass "implicit TLS: idling"
probe_wait 15 starttls 'state idling$' || fatal "STARTTLS: no idling: $(probe_out starttls)"
pass "STARTTLS: idling"
probe_wait 15 renew 'state idling$' || fatal "renewing: no idling: $(probe_out renew)"

check "new mail -> changed within 2 s, once per delivery"
sandbox_fill alice 3 1k
expect_changed tls 1 "implicit TLS: 3 messages for alice reported"
sandbox_fill bob 2 1k
expect_changed starttls 1 "STARTTLS: 2 messages for bob reported"
sleep 1.5
assert_eq "$(probe_count tls ' changed$')" 1 "implicit TLS: one report for the burst"
assert_eq "$(probe_count starttls ' changed$')" 1 "STARTTLS: one report for the burst"

check "the IDLE is renewed (the server reads DONE and IDLE again) and still reports"
raw=$(rawlog_in carol)
assert_match "$(grep -c '^DONE$' <<<"$raw")" '^([2-9]|[1-9][0-9])$' "the server read DONE at least twice"
assert_match "$(grep -cE '^[a-z0-9]+ IDLE$' <<<"$raw")" '^([3-9]|[1-9][0-9])$' "the server read IDLE at least three times"
assert_contains "$raw" 'EXAMINE "INBOX"' "the folder is examined (read-only)"
assert_not_contains "$raw" "SELECT" "not selected"
sandbox_fill carol 1 1k
expect_changed renew 1 "after renewals: new mail reported"
sandbox_fill carol 1 1k
expect_changed renew 2 "and again"
kill -TERM "${PIDS[renew]}"
probe_end renew 10
assert_eq "$(probe_count renew 'state ')" 1 "renewing: idling, never lost"

check "a wrong password: failed, no reconnect"
probe_end wrongpw 10
assert_eq "$RC" 0 "the probe ended by itself"
assert_eq "$(probe_count wrongpw 'state failed: login failed: .*AUTHENTICATIONFAILED')" 1 "failed once, with the server's reason"
assert_eq "$(probe_count wrongpw 'state (lost|idling)')" 0 "neither lost nor idling"
assert_eq "$(grep -c 'passwd-file(carol,.*Password mismatch' "$EXT_LOG")" 1 "the server saw one login attempt in 3 s"
assert_not_contains "$(cat "$SANDBOX_DIR/wrongpw.err")" "carol-not-the-password" "the password is not logged"
assert_contains "$(cat "$SANDBOX_DIR/wrongpw.err")" 'LOGIN "carol" ***' "the login is logged, redacted"

check "a server without IDLE: unsupported, LOGOUT, no reconnect"
probe_end noidle 10
assert_eq "$(probe_count noidle 'state unsupported: server does not offer IDLE')" 1 "unsupported, once"
assert_eq "$(probe_count noidle 'state (lost|failed|idling)')" 0 "nothing else"
sent=$(fake_sent)
assert_eq "$(grep -c '] BEGIN ' "$FAKE_LOG")" 1 "one connection"
assert_not_contains "$sent" "IDLE" "no IDLE sent"
assert_match "$sent" 'EXAMINE "INBOX"' "INBOX examined"
assert_match "$sent" '[a-z0-9]+ LOGOUT' "logged out"

check "the external Dovecot restarted: lost, idling again by itself, changes still reported"
ext_pid=$(cat "$SANDBOX_DIR/ext/run/master.pid")
ext_doveadm stop
wait_until 15 _exited "$ext_pid" || fatal "the external Dovecot did not stop"
# Dovecot's imap processes let clients that were active within 10 s
# finish first (IMAP_DIE_IDLE_SECS): the connections drop within that
probe_wait 15 tls 'state lost' || fail "implicit TLS: not lost: $(probe_out tls)"
dovecot -c "$EXT_CONF" || fatal "the external Dovecot did not start again"
if probe_wait 15 tls 'state idling$' 2; then
	pass "implicit TLS: idling again"
else
	fail "implicit TLS: not idling again: $(probe_out tls)"
fi
if probe_wait 15 starttls 'state idling$' 2; then
	pass "STARTTLS: idling again"
else
	fail "STARTTLS: not idling again: $(probe_out starttls)"
fi
sleep 0.5
assert_eq "$(probe_count tls ' changed$')" 1 "implicit TLS: nothing new, no report after the reconnect"
assert_eq "$(probe_count starttls ' changed$')" 1 "STARTTLS: nothing new, no report after the reconnect"
sandbox_fill alice 1 1k
expect_changed tls 2 "implicit TLS: mail after the restart reported"
sandbox_fill bob 1 1k
expect_changed starttls 2 "STARTTLS: mail after the restart reported"

check "stop(): DONE and LOGOUT"
kill -TERM "${PIDS[tls]}"
probe_end tls 10
assert_eq "$RC" 0 "the probe stopped"
assert_match "$(probe_out tls | tail -n 1)" '^[0-9]+ stopped$' "stopped reported"
assert_match "$(rawlog_in alice | tail -n 2 | tr '\n' '|')" '^DONE\|[a-z0-9]+ LOGOUT\|$' "the server read DONE, then LOGOUT"
kill -TERM "${PIDS[starttls]}"
probe_end starttls 10
assert_match "$(rawlog_in bob | tail -n 2 | tr '\n' '|')" '^DONE\|[a-z0-9]+ LOGOUT\|$' "STARTTLS: DONE, then LOGOUT"
for name in tls starttls; do
	assert_not_contains "$(cat "$SANDBOX_DIR/$name.err")" "-secret-1" "$name: no password in the log"
done

check "OAuth2 (XOAUTH2, the oauth2 instance): a refused token, then a forced one"
revoked=$(provider_control '{"action":"issue","user":"alice"}' | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
provider_control '{"action":"revoke-access","user":"alice"}' >/dev/null
good=$(provider_control '{"action":"issue","user":"alice"}' | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
(umask 077; printf '%s\n%s\n' "$revoked" "$good" >"$SANDBOX_DIR/tokens"; printf '%s\n' "$revoked" >"$SANDBOX_DIR/revoked")
probe_start oauth2 "" --host "$EXT_HOST" --port "$OAUTH2_IMAPS_PORT" --user alice \
	--verify --ca-file "$CA_FILE" --oauth2 XOAUTH2 --token-file "$SANDBOX_DIR/tokens"
probe_start oauth2bad "" --host "$EXT_HOST" --port "$OAUTH2_IMAPS_PORT" --user alice \
	--verify --ca-file "$CA_FILE" --oauth2 XOAUTH2 --token-file "$SANDBOX_DIR/revoked" \
	--backoff-first-ms 100 --stop-after-ms 3000
probe_start tokenerr "" --host 127.0.0.1 --port 1 --user alice --oauth2 XOAUTH2 \
	--token-error "provider unreachable" --backoff-first-ms 100 --stop-after-ms 1500
probe_start consent "" --host 127.0.0.1 --port 1 --user alice --oauth2 XOAUTH2 \
	--token-error "consent needed: invalid_grant" --permanent --backoff-first-ms 100 --stop-after-ms 1000
if probe_wait 15 oauth2 'state idling$'; then
	pass "OAuth2: idling"
else
	fail "OAuth2: not idling: $(probe_out oauth2)"
fi
assert_eq "$(probe_out oauth2 | grep -oE 'token force=[01]|state [a-z]+' | tr '\n' ' ')" \
	"token force=0 token force=1 state idling " "OAuth2: the refused token, then a forced one"
sandbox_fill alice 1 1k
expect_changed oauth2 1 "OAuth2: new mail reported"
probe_end oauth2bad 10
assert_eq "$(probe_out oauth2bad | grep -oE 'token force=[01]|state [a-z]+' | tr '\n' ' ')" \
	"token force=0 token force=1 state failed " "OAuth2: refused twice -> failed, no more tries"
probe_end tokenerr 10
assert_match "$(probe_count tokenerr 'token force=0')" '^[2-9]' "no token: asked again after the backoff"
assert_match "$(probe_count tokenerr 'state lost: OAuth2: provider unreachable')" '^[2-9]' "no token: lost each time"
probe_end consent 10
assert_eq "$(probe_out consent | grep -oE 'token force=[01]|state [a-z]+: .*' | tr '\n' '|')" \
	"token force=0|state failed: OAuth2: consent needed: invalid_grant|" "consent needed: failed, not asked again"
kill -TERM "${PIDS[oauth2]}"
probe_end oauth2 10
assert_eq "$RC" 0 "OAuth2: stopped"
for name in oauth2 oauth2bad; do
	log=$(cat "$SANDBOX_DIR/$name.err" "$SANDBOX_DIR/$name.out")
	assert_not_contains "$log" "$revoked" "$name: the revoked token is not logged"
	assert_not_contains "$log" "$good" "$name: the good token is not logged"
done
assert_contains "$(cat "$SANDBOX_DIR/oauth2.err")" "AUTHENTICATE XOAUTH2 ***" "OAuth2: the login is logged, redacted"

check "memory: 1,000 push connections over TLS in one process"
# A minimal IMAP server (asyncio, TLS with the sandbox's certificate)
# that holds any number of connections in IDLE: the external Dovecot
# allows 10 per user and address.
portfile=$SANDBOX_DIR/idle-server.port
"$PYTHON" - "$portfile" "$SANDBOX_DIR/server" >/dev/null 2>"$SANDBOX_DIR/idle-server.err" <<-'PY' &
import asyncio, resource, ssl, sys
portfile, cert = sys.argv[1:3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert + ".pem", cert + ".key")
async def client(r, w):
    w.write(b"* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n")
    idle = None
    try:
        while True:
            line = await r.readline()
            if not line:
                break
            words = line.decode("ascii", "replace").split()
            if not words:
                continue
            if words[0] == "DONE" and idle:
                w.write(b"%s OK IDLE done\r\n" % idle)
                continue
            tag, cmd = words[0].encode(), words[1].upper() if len(words) > 1 else ""
            if cmd == "LOGIN":
                w.write(b"%s OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n" % tag)
            elif cmd == "EXAMINE":
                w.write(b"* 1 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1] ok\r\n"
                        b"* OK [UIDNEXT 2] ok\r\n%s OK [READ-ONLY] done\r\n" % tag)
            elif cmd == "IDLE":
                idle = tag
                w.write(b"+ idling\r\n")
            elif cmd == "LOGOUT":
                w.write(b"* BYE bye\r\n%s OK bye\r\n" % tag)
                await w.drain()
                break
            else:
                w.write(b"%s BAD unknown\r\n" % tag)
            await w.drain()
    except Exception:
        pass
    w.close()
async def main():
    srv = await asyncio.start_server(client, "127.0.0.1", 0, ssl=ctx, backlog=1024)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.sockets[0].getsockname()[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    await asyncio.sleep(120)
asyncio.run(main())
PY
IDLE_SERVER_PID=$!
on_exit "kill $IDLE_SERVER_PID 2>/dev/null || true"
wait_until 10 test -s "$portfile" || fatal "the IDLE server did not start: $(cat "$SANDBOX_DIR/idle-server.err")"
probe_start many "any-password" --host "$EXT_HOST" --port "$(cat "$portfile")" --user u \
	--verify --ca-file "$CA_FILE" --count 1000 --stop-after-ms 60000
if probe_wait 40 many '^[0-9]+ heap_in_use_kb: '; then
	pass "1,000 connections idling"
else
	fail "not all 1,000 connections idle: $(_excerpt "$(probe_out many)")"
fi
say "$(probe_out many | grep -E 'rss_kb|heap_in_use_kb' | tr '\n' ' ')"
read -r _ _ rss_before rss_after < <(probe_out many | grep ' rss_kb: ')
heap=$(probe_out many | sed -n 's/^[0-9]* heap_in_use_kb: //p')
# about 53 kB a connection in use (plain: 12), RSS higher by what the
# 1,000 simultaneous handshakes needed for a moment
assert_match "$heap" '^[0-9]+$' "heap measured"
if [[ ${heap:-999999} -lt 70000 ]]; then
	pass "heap in use: $heap kB < 70 MB"
else
	fail "heap in use: $heap kB, not < 70 MB"
fi
if [[ $((rss_after - rss_before)) -lt 100000 ]]; then
	pass "resident: $((rss_after - rss_before)) kB more < 100 MB"
else
	fail "resident: $((rss_after - rss_before)) kB more, not < 100 MB"
fi
kill -TERM "${PIDS[many]}"
probe_end many 20
assert_eq "$RC" 0 "1,000 connections stopped"
