# shellcheck shell=bash
# tests/integration/lib.sh: sourced by every integration test.
#
#   source "$(dirname "$0")/lib.sh"
#   sandbox_up
#   check "alice has mail"
#   assert_eq "$(count_ext alice)" 3 "alice's INBOX holds the sample mail"
#
# Tests run inside scripts/ns-run (CTest does that; by hand:
#   scripts/ns-run bash tests/integration/test-X.sh).
# Every assert_* counts a pass or a failure and goes on; on exit the sandbox
# is stopped and removed (KEEP_SANDBOX=1 keeps the files), the Dovecot logs
# are shown when something failed, and the last line is "N passed, M failed".
# The exit status is non-zero when anything failed.
# See docs/sandbox.md.

set -euo pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export FETCHMAIL_SOURCE_DIR=${FETCHMAIL_SOURCE_DIR:-$(cd "$LIB_DIR/../.." && pwd)}
export FETCHMAIL_BUILD_DIR=${FETCHMAIL_BUILD_DIR:-$FETCHMAIL_SOURCE_DIR/build}
SANDBOX=$FETCHMAIL_SOURCE_DIR/scripts/sandbox
PYTHON=/usr/bin/python3
[[ -x $PYTHON ]] || PYTHON=python3

TEST_NAME=$(basename "$0" .sh)
TESTS_PASSED=0
TESTS_FAILED=0
SANDBOX_IS_UP=0
# Set by assert_exit / run_cmd: the output (stdout+stderr) and exit status of
# the last command.
OUT=
RC=0
_LIB_EXIT_HOOKS=()
_LIB_LAST_ERROR=
_LIB_FATAL=0
_LIB_SKIP=
# The exit status of a skipped test (CTest's SKIP_RETURN_CODE).
readonly SKIP_STATUS=200

if [[ ${FETCHMAIL_NS:-} != 1 ]] || ! mountpoint -q /var/lib/dovecot; then
	echo "$TEST_NAME: run me through scripts/ns-run (private mount namespace)" >&2
	exit 1
fi

# ------------------------------------------------------------------ reporting

# say TEXT: a progress line.
say() { echo "# $*"; }
# check TEXT: announces what is being checked next.
check() { echo "# check: $*"; }

pass() {
	TESTS_PASSED=$((TESTS_PASSED + 1))
	echo "ok - $*"
}

# fail MSG: counts a failure and goes on (returns 0, so `cond || fail MSG`
# works under set -e).
fail() {
	TESTS_FAILED=$((TESTS_FAILED + 1))
	echo "FAIL - $*"
}

# fatal MSG: counts a failure and ends the test.
fatal() {
	fail "$*"
	_LIB_FATAL=1
	exit 1
}

# skip_test REASON: ends the test as skipped (what it checks is not there
# yet); CTest shows it as "Skipped".
skip_test() {
	_LIB_SKIP=$*
	exit "$SKIP_STATUS"
}

# _show TEXT: TEXT quoted, with control characters made visible.
_show() {
	if [[ $1 =~ [[:cntrl:]] ]]; then printf '%q' "$1"; else printf "'%s'" "$1"; fi
}

# assert_eq ACTUAL EXPECTED MSG
assert_eq() {
	if [[ $1 == "$2" ]]; then
		pass "$3"
	else
		fail "$3: expected $(_show "$2"), got $(_show "$1")"
	fi
}

# assert_ne ACTUAL UNEXPECTED MSG
assert_ne() {
	if [[ $1 != "$2" ]]; then
		pass "$3"
	else
		fail "$3: got '$1'"
	fi
}

# _excerpt TEXT: the text, shortened for a failure message.
_excerpt() {
	local t=$1
	[[ ${#t} -le 600 ]] || t="${t:0:600}..."
	printf '%s' "$t"
}

# assert_contains HAYSTACK NEEDLE MSG (fixed string)
assert_contains() {
	if [[ $1 == *"$2"* ]]; then
		pass "$3"
	else
		fail "$3: '$2' not in: $(_excerpt "$1")"
	fi
}

# assert_not_contains HAYSTACK NEEDLE MSG
assert_not_contains() {
	if [[ $1 != *"$2"* ]]; then
		pass "$3"
	else
		fail "$3: '$2' found in: $(_excerpt "$1")"
	fi
}

# assert_match HAYSTACK ERE MSG
assert_match() {
	if [[ $1 =~ $2 ]]; then
		pass "$3"
	else
		fail "$3: /$2/ does not match: $(_excerpt "$1")"
	fi
}

# run_cmd CMD...: runs CMD, sets OUT (stdout+stderr) and RC, never fails.
run_cmd() {
	RC=0
	OUT=$("$@" 2>&1) || RC=$?
}

# assert_exit CODE CMD...: runs CMD and checks its exit status. CODE may be
# "nonzero". Sets OUT and RC for further checks.
assert_exit() {
	local want=$1
	shift
	run_cmd "$@"
	if [[ $want == nonzero && $RC != 0 ]] || [[ $RC == "$want" ]]; then
		pass "exit $RC: $*"
	else
		fail "exit $RC (expected $want): $*: $(_excerpt "$OUT")"
	fi
}

# assert_ok CMD...: assert_exit 0 CMD...
assert_ok() { assert_exit 0 "$@"; }

# wait_until SECONDS CMD...: polls CMD every 0.1 s; 1 on timeout.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[[ $SECONDS -lt $end ]] || return 1
		sleep 0.1
	done
}

# on_exit CMD: runs the shell command CMD on exit (before the sandbox is
# stopped), last registered first.
on_exit() { _LIB_EXIT_HOOKS+=("$1"); }

# free_port: a port on 127.0.0.1 that nobody listens on.
free_port() {
	"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ------------------------------------------------------------ fake servers

FAKESERVER=$LIB_DIR/fakeserver.py
FAKE_PIDS=()
FAKE_N=0

# fake_start SCENARIO [ARGS...]: starts fakeserver.py (tests/integration/
# fakeserver.py: scripted faults a real server will not produce) with
# ${NMSG:-3} messages (killed at exit, stops by itself after 90 s anyway);
# sets FAKE_PORT, FAKE_LOG, FAKE_PID and FAKE_DUMP (the messages it serves,
# as files).
fake_start() {
	local scenario=$1 dir
	shift
	[[ $FAKE_N != 0 ]] || on_exit fake_stop_all
	FAKE_N=$((FAKE_N + 1))
	dir=$SANDBOX_DIR/fake-$FAKE_N-$scenario
	mkdir -p "$dir"
	FAKE_LOG=$dir/log
	FAKE_DUMP=$dir/messages
	"$PYTHON" "$FAKESERVER" --scenario "$scenario" --port-file "$dir/port" \
		--log "$FAKE_LOG" --messages "${NMSG:-3}" --lifetime 90 --dump "$FAKE_DUMP" "$@" \
		>"$dir/out" 2>&1 &
	FAKE_PID=$!
	FAKE_PIDS+=("$FAKE_PID")
	wait_until 10 test -s "$dir/port" || fatal "fake server $scenario did not start: $(cat "$dir/out")"
	FAKE_PORT=$(cat "$dir/port")
}

# fake_stop [PID]: stops a fake server (default: the last one started).
fake_stop() {
	local pid=${1:-$FAKE_PID} p rest=()
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for p in "${FAKE_PIDS[@]}"; do
		[[ $p == "$pid" ]] || rest+=("$p")
	done
	FAKE_PIDS=("${rest[@]}")
}

# at exit: stop the fake servers still running; after a failure, show the
# tail of every fake server's log (the sandbox and they go away).
fake_stop_all() {
	local log
	while [[ ${#FAKE_PIDS[@]} -gt 0 ]]; do
		fake_stop "${FAKE_PIDS[0]}"
	done
	[[ $TESTS_FAILED -gt 0 ]] || return 0
	for log in "$SANDBOX_DIR"/fake-*/log; do
		[[ -f $log ]] || continue
		echo "----- tail of $log"
		tail -n 20 "$log" | cut -c1-200 | tr -d '\0'
	done
}

# _fake_idle: every connection the fake server accepted has ended.
_fake_idle() {
	[[ $(grep -ac '] BEGIN ' "$FAKE_LOG") == $(grep -ac '] END ' "$FAKE_LOG") ]]
}

# fake_sent: what the client sent the last fake server, once every
# connection is over (the client may still be closing when doveadm exits).
fake_sent() {
	wait_until 10 _fake_idle || true
	grep -a '] C: ' "$FAKE_LOG" | sed 's/^\[[0-9]*\] C: //' | tr -d '\0' || true
}

# fake_deleted: what the last fake server deleted (uids / UIDLs), sorted.
fake_deleted() {
	wait_until 10 _fake_idle || true
	grep -a '] DELETED ' "$FAKE_LOG" | sed 's/.*DELETED //' | sort || true
}

# fake_body_hashes: sha256 of the bodies the last fake server serves, as
# body_hashes_local computes them (body after the header, CRLF read as LF).
fake_body_hashes() {
	"$PYTHON" - "$FAKE_DUMP" <<-'EOF' | sort
	import glob, hashlib, sys
	for name in glob.glob(sys.argv[1] + "/*.eml"):
	    data = open(name, "rb").read()
	    body = data.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n")
	    print(hashlib.sha256(body).hexdigest())
	EOF
}

# ------------------------------------------------------------------ sandbox

# sandbox_up: starts a sandbox in a fresh temp dir and exports its env
# (SANDBOX_DIR, LOCAL_CONF, EXT_CONF, ports, passwords: docs/sandbox.md).
# Extra instances: SANDBOX_EXTRAS (default all) or sandbox_extra later.
sandbox_up() {
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/fm-$TEST_NAME.XXXXXX")
	SANDBOX_DIR=$dir
	SANDBOX_IS_UP=1
	if ! "$SANDBOX" start "$dir" >"$dir/start.out" 2>&1; then
		cat "$dir/start.out"
		fatal "the sandbox did not start: $(grep '^sandbox:' "$dir/start.out" | tail -n 1)"
	fi
	_sandbox_load_env
	say "sandbox up in $SANDBOX_DIR"
}

_sandbox_load_env() {
	set -a
	# shellcheck source=/dev/null
	source "$SANDBOX_DIR/env"
	set +a
}

# sandbox_extra NAME...: starts extra external instances (notls, untrusted,
# badname) that are not running yet and reloads the env.
sandbox_extra() {
	"$SANDBOX" start-extra "$SANDBOX_DIR" "$@"
	_sandbox_load_env
}

# sandbox_fill USER N SIZE [FOLDER]: N generated messages of about SIZE
# bytes (k/M suffixes) for an external user (scripts/sandbox fill).
sandbox_fill() { "$SANDBOX" fill "$SANDBOX_DIR" "$@"; }

# sandbox_stop: stops every instance (the sandbox stays on disk).
sandbox_stop() { "$SANDBOX" stop "$SANDBOX_DIR"; }

# sandbox_logs [LINES]: the tail of every instance's Dovecot log.
sandbox_logs() {
	local n=${1:-40} log
	for log in "$SANDBOX_DIR"/*/dovecot.log; do
		[[ -f $log ]] || continue
		echo "----- tail of $log"
		tail -n "$n" "$log"
	done
}

sandbox_down() {
	[[ $SANDBOX_IS_UP == 1 ]] || return 0
	SANDBOX_IS_UP=0
	"$SANDBOX" stop "$SANDBOX_DIR" || true
	if [[ ${KEEP_SANDBOX:-} == 1 ]]; then
		echo "# KEEP_SANDBOX=1: files kept in $SANDBOX_DIR"
	else
		rm -rf "$SANDBOX_DIR"
	fi
}

# ------------------------------------------------------------------ doveadm

local_doveadm() { doveadm -c "$LOCAL_CONF" "$@"; }
# attr_file USER: where the local user's attributes (the accounts) live.
attr_file() { echo "$SANDBOX_DIR/local/mail/$1/dovecot-attributes"; }
# snapshot [USER]: a hash of the user's (or every user's) attributes, to
# show that a refused command changed nothing.
snapshot() {
	if [[ $# -gt 0 ]]; then
		{ cat "$(attr_file "$1")" 2>/dev/null || true; } | sha256sum
	else
		{ cat "$SANDBOX_DIR"/local/mail/*/dovecot-attributes 2>/dev/null || true; } | sha256sum
	fi
}
ext_doveadm() { doveadm -c "$EXT_CONF" "$@"; }

# _fetch_json CONF USER FIELDS MAILBOX: doveadm fetch as JSON; "[]" when the
# mailbox does not exist.
_fetch_json() {
	local out err rc=0
	err=$(mktemp)
	out=$(doveadm -c "$1" -f json fetch -u "$2" "$3" mailbox "$4" all 2>"$err") || rc=$?
	if [[ $rc != 0 ]]; then
		if grep -q "doesn't exist" "$err"; then
			out='[]'
		else
			cat "$err" >&2
			rm -f "$err"
			return "$rc"
		fi
	fi
	rm -f "$err"
	printf '%s' "$out"
}

# _msgids CONF USER MAILBOX: sorted Message-IDs.
_msgids() {
	_fetch_json "$1" "$2" hdr.message-id "$3" | "$PYTHON" -c '
import json, sys
for m in json.load(sys.stdin):
    print(m["hdr.message-id"].strip())
' | sort
}

# _body_hashes CONF USER MAILBOX: sorted sha256 of each body, CRLF read as
# LF (storage keeps what it was given; LMTP and POP3 speak CRLF).
_body_hashes() {
	_fetch_json "$1" "$2" body "$3" | "$PYTHON" -c '
import hashlib, json, sys
data = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
for m in json.loads(data):
    body = m["body"].encode("utf-8", "surrogateescape").replace(b"\r\n", b"\n")
    print(hashlib.sha256(body).hexdigest())
' | sort
}

# _count CONF USER MAILBOX: number of messages, 0 when it does not exist.
_count() {
	local out
	out=$(doveadm -c "$1" -f tab mailbox status -u "$2" messages "$3" 2>/dev/null) || {
		echo 0
		return 0
	}
	printf '%s\n' "$out" | tail -n 1 | awk -F '\t' '{ print $NF }'
}

msgids_local() { _msgids "$LOCAL_CONF" "$1" "${2:-INBOX}"; }
msgids_ext() { _msgids "$EXT_CONF" "$1" "${2:-INBOX}"; }
body_hashes_local() { _body_hashes "$LOCAL_CONF" "$1" "${2:-INBOX}"; }
body_hashes_ext() { _body_hashes "$EXT_CONF" "$1" "${2:-INBOX}"; }
count_local() { _count "$LOCAL_CONF" "$1" "${2:-INBOX}"; }
count_ext() { _count "$EXT_CONF" "$1" "${2:-INBOX}"; }

# lmtp_deliver RCPT [FILE]: delivers FILE (default stdin; LF or CRLF line
# ends) to RCPT through the local LMTP socket.
lmtp_deliver() {
	local rcpt=$1 file=${2:-/dev/stdin}
	"$PYTHON" -c '
import smtplib, sys
with open(sys.argv[3], "rb") as f:
    msg = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
c = smtplib.LMTP(sys.argv[1])
c.sendmail("sender@example.net", [sys.argv[2]], msg)
c.quit()
' "$LOCAL_LMTP_SOCKET" "$rcpt" "$file"
}

# ------------------------------------------------------------------ network

# tcp_chat PORT LINE...: connects to 127.0.0.1:PORT, sends the lines (CRLF)
# and prints everything the server says until it closes (5 s at most). End
# with QUIT / LOGOUT.
tcp_chat() {
	local port=$1
	shift
	"$PYTHON" - "$port" "$@" <<-'EOF'
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
	s.sendall("".join(l + "\r\n" for l in sys.argv[2:]).encode())
	out = b""
	try:
	    while True:
	        d = s.recv(65536)
	        if not d:
	            break
	        out += d
	except socket.timeout:
	    pass
	sys.stdout.write(out.decode("utf-8", "replace"))
	EOF
}

# tls_verify PORT CAFILE [STARTTLS_PROTO] [HOSTNAME]: TLS handshake with
# chain (and host name, default 127.0.0.1 as IP) verification; status 0 when
# the certificate verifies. STARTTLS_PROTO: pop3, imap or "" (implicit TLS).
tls_verify() {
	local port=$1 ca=$2 proto=${3:-} name=${4:-127.0.0.1} check
	if [[ $name =~ ^[0-9.]+$ ]]; then check=(-verify_ip "$name"); else check=(-verify_hostname "$name"); fi
	timeout 10 openssl s_client -connect "127.0.0.1:$port" ${proto:+-starttls "$proto"} \
		-CAfile "$ca" -verify_return_error "${check[@]}" </dev/null >/dev/null 2>&1
}

# ------------------------------------------------------------------ accounts

# fm_field USER ID NAME: one field of `doveadm fetchmail show`.
fm_field() {
	doveadm -c "$LOCAL_CONF" -f tab fetchmail show -u "$1" "$2" |
		"$PYTHON" -c 'import sys; h,v=[l.rstrip("\n").split("\t") for l in sys.stdin][:2]; print(dict(zip(h,v))[sys.argv[1]])' "$3"
}

# fm_run USER ID: `doveadm fetchmail run` of one account under `timeout 60`
# (a hang fails the test instead of blocking it). Sets RC, OUT (stdout),
# ERR (stderr), ROW ("status fetched skipped deleted") and ELAPSED (s).
fm_run() {
	local t0 err
	RC=0
	err=$(mktemp)
	t0=$(date +%s%N)
	OUT=$(timeout 60 doveadm -c "$LOCAL_CONF" -f tab fetchmail run -u "$1" "$2" 2>"$err") || RC=$?
	ELAPSED=$(( ($(date +%s%N) - t0) / 1000000000 ))
	ERR=$(cat "$err")
	rm -f "$err"
	ROW=$(echo "$OUT" | awk -F '\t' 'NR==2 { print $2, $3, $4, $5 }')
}

# ------------------------------------------------------------------ HTTP API

# _http AUTH METHOD [JSON]: prints "BODY\nHTTPCODE". AUTH: key (the
# sandbox's API key), key:VALUE, basic (doveadm:$DOVEADM_PASSWORD),
# basic:USER:PASSWORD, none.
_http() {
	local auth=$1 method=$2 json=${3:-} hdr=()
	case $auth in
	key) hdr=(-H "Authorization: X-Dovecot-API $(printf %s "$DOVEADM_API_KEY" | base64 -w0)") ;;
	key:*) hdr=(-H "Authorization: X-Dovecot-API $(printf %s "${auth#key:}" | base64 -w0)") ;;
	basic) hdr=(-u "doveadm:$DOVEADM_PASSWORD") ;;
	basic:*) hdr=(-u "${auth#basic:}") ;;
	none) ;;
	*) echo "_http: bad auth $auth" >&2; return 2 ;;
	esac
	if [[ $method == POST ]]; then
		hdr+=(-H "Content-Type: application/json" --data-binary "$json")
	fi
	curl -sS --max-time 60 -w '\n%{http_code}' "${hdr[@]}" \
		"http://127.0.0.1:$LOCAL_HTTP_PORT/doveadm/v1"
}

# http_call JSON: POSTs JSON with the API key, prints the response body.
http_call() { http_call_as key "$1"; }

# http_call_as AUTH JSON: the same with another AUTH (see _http).
http_call_as() {
	local r
	r=$(_http "$1" POST "$2") || return 1
	printf '%s\n' "${r%$'\n'*}"
}

# http_code AUTH [JSON]: the HTTP status of a GET (no JSON) or POST.
http_code() {
	local r
	if [[ $# -ge 2 ]]; then r=$(_http "$1" POST "$2"); else r=$(_http "$1" GET); fi || return 1
	printf '%s\n' "${r##*$'\n'}"
}

# http_get [AUTH]: the body of GET /doveadm/v1 (the command list).
http_get() {
	local r
	r=$(_http "${1:-key}" GET) || return 1
	printf '%s\n' "${r%$'\n'*}"
}

# ------------------------------------------------------------------ exit

_lib_on_err() { _LIB_LAST_ERROR="line $1: $2 (exit $3)"; }

_lib_on_exit() {
	local rc=$? i
	set +e
	if [[ -n $_LIB_SKIP && $TESTS_FAILED == 0 ]]; then
		rc=$SKIP_STATUS
	elif [[ $rc != 0 && $_LIB_FATAL != 1 ]]; then
		fail "aborted: ${_LIB_LAST_ERROR:-exit status $rc}"
	fi
	for ((i = ${#_LIB_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
		eval "${_LIB_EXIT_HOOKS[i]}"
	done
	if [[ $TESTS_FAILED -gt 0 && $SANDBOX_IS_UP == 1 ]]; then
		sandbox_logs 30
	fi
	sandbox_down
	if [[ $rc == "$SKIP_STATUS" && -n $_LIB_SKIP ]]; then
		echo "skipped: $_LIB_SKIP ($TESTS_PASSED passed)"
		exit "$rc"
	fi
	echo "$TESTS_PASSED passed, $TESTS_FAILED failed"
	if [[ $TESTS_FAILED -gt 0 ]]; then
		[[ $rc != 0 ]] || rc=1
		exit "$rc"
	fi
	exit "$rc"
}

trap '_lib_on_err "$LINENO" "$BASH_COMMAND" "$?"' ERR
trap _lib_on_exit EXIT
# Killed (CTest timeout, Ctrl-C): still clean up through the EXIT trap.
trap '_LIB_LAST_ERROR="killed by SIGTERM"; exit 143' TERM
trap '_LIB_LAST_ERROR="interrupted"; exit 130' INT
