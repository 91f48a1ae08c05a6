# The scheduler inside Dovecot: with the service from conf.d/90-fetchmail.conf
# and a 2 s interval, mail arrives without anyone running `doveadm fetchmail
# run`; inactive accounts are not polled; failing accounts back off; the
# registry follows add/edit/remove and can be rebuilt; runs emit the
# fetchmail_run_finished event; and restarting Dovecot in the middle of a
# large fetch neither loses nor duplicates mail.
export SANDBOX_SERVICE=1 SANDBOX_INTERVAL=2s
source "$(dirname "$0")/lib.sh"
sandbox_up

U1=user1@example.org
U2=user2@example.org
FM=(doveadm -c "$LOCAL_CONF" fetchmail)
REGISTRY=$SANDBOX_DIR/local/registry/fetchmail-registry

field() { fm_field "$@"; } # USER ID NAME
same_count() { [[ $(count_local "$1" "$2") == "$3" ]]; }
remote_empty() { [[ $(count_ext "$1") == 0 ]]; }

# the scheduler processes of this sandbox's local Dovecot (other sandboxes
# may run on the machine at the same time)
services() { pgrep -P "$(cat "$LOCAL_BASE_DIR/master.pid")" -f "doveadm fetchmail service"; }

check "the fetch service runs as a Dovecot service"
assert_ok wait_until 20 services
assert_eq "$(services | wc -l)" 1 "exactly one service"
sched=$(services)

check "mail arrives by itself"
n=$(count_ext alice)
want_b=$(msgids_ext bob)
assert_ok "${FM[@]}" add -u "$U1" --host 127.0.0.1 --port "$EXT_POP3S_PORT" \
	--protocol pop3 --remote-user alice --password "$ALICE_PASSWORD" --mailbox S
A=$OUT
assert_ok "${FM[@]}" add -u "$U2" --host 127.0.0.1 --port "$EXT_IMAPS_PORT" \
	--protocol imap --remote-user bob --password "$BOB_PASSWORD" --keep no --mailbox S
B=$OUT
registered() { grep -q "shared/fetchmail/user/$1" "$REGISTRY" 2>/dev/null; }
assert_ok wait_until 15 registered "$U1"
assert_ok wait_until 30 same_count "$U1" S "$n"
assert_eq "$(msgids_local "$U1" S)" "$(msgids_ext alice)" "alice's mail arrived for user1"
assert_ok wait_until 30 remote_empty bob
assert_eq "$(msgids_local "$U2" S)" "$want_b" "bob's mail arrived for user2 and left the server"

check "new mail arrives within a few intervals"
sandbox_fill alice 2 2k
assert_ok wait_until 30 same_count "$U1" S "$((n + 2))"
assert_eq "$(msgids_local "$U1" S | uniq -d)" "" "no duplicates"

check "an edited password reaches the service's next polls"
# the service's cheap polls name an account its worker has by revision:
# an edit must reach them (wrong password: error; right again: mail)
assert_ok "${FM[@]}" edit -u "$U1" "$A" --password wrong-password-123
a_is() { [[ $(field "$U1" "$A" last-status) == "$1" ]]; }
assert_ok wait_until 30 a_is error
assert_ok "${FM[@]}" edit -u "$U1" "$A" --password "$ALICE_PASSWORD"
sandbox_fill alice 1 2k
assert_ok wait_until 30 same_count "$U1" S "$((n + 3))"
assert_ok wait_until 10 a_is ok

check "an inactive account is not polled"
assert_ok "${FM[@]}" edit -u "$U1" "$A" --active no
sleep 1
before=$(count_local "$U1" S)
sandbox_fill alice 2 2k
sleep 8
assert_eq "$(count_local "$U1" S)" "$before" "nothing fetched for the inactive account"


check "a removed account is not polled"
assert_ok "${FM[@]}" remove -u "$U2" "$B"
sandbox_fill bob 2 2k
sleep 8
assert_eq "$(count_ext bob)" 2 "bob's new mail stays on the server"

check "the registry can be rebuilt"
assert_ok "${FM[@]}" edit -u "$U1" "$A" --active yes
assert_ok doveadm -c "$LOCAL_CONF" fetchmail registry rebuild -A
assert_ok wait_until 15 registered "$U1"
gone_from_registry() { ! registered "$1"; }
assert_ok wait_until 15 gone_from_registry "$U2"
assert_ok wait_until 30 same_count "$U1" S "$(count_ext alice)"

check "a failing account backs off and shows in list --status error"
assert_ok "${FM[@]}" add -u "$U2" --host 127.0.0.1 --port "$EXT_POP3S_PORT" \
	--protocol pop3 --remote-user alice --password wrong-password-123
C=$OUT
failing() { [[ $(field "$U2" "$C" last-status) == error ]]; }
assert_ok wait_until 30 failing
assert_ok doveadm -c "$LOCAL_CONF" -f tab fetchmail list -A --status error
assert_contains "$OUT" "$C" "list -A --status error shows it"
assert_not_contains "$OUT" "$A" "and not the good account"
sleep 6
last=$(field "$U2" "$C" last-run)
next=$(field "$U2" "$C" next-run)
gap=$(( $(date -d "$next" +%s) - $(date -d "$last" +%s) ))
[[ $gap -ge 3 ]] && pass "next-run backs off ($gap s after the last run)" ||
	fail "next-run did not back off: $last -> $next"
check "run (check now) ignores the backoff"
assert_exit 75 "${FM[@]}" run -u "$U2" "$C"
assert_contains "$OUT" "$C" "the failing account ran on request"
assert_ok "${FM[@]}" remove -u "$U2" "$C"

check "the master keeps the same service (it reported its status)"
sleep 2
assert_eq "$(services)" "$sched" "not killed and restarted"
assert_not_contains "$(cat "$LOCAL_LOG")" "status notification not received" "no status complaint"
check "a killed service is restarted by Dovecot"
kill "$sched"
restarted() { services | grep -vqx "$sched"; }
assert_ok wait_until 20 restarted

check "observability: log prefix and the fetchmail_run_finished metric"
assert_match "$(cat "$LOCAL_LOG")" "fetchmail\\($U1/$A\\): run finished" "log lines carry fetchmail(user/id)"
assert_ok doveadm -c "$LOCAL_CONF" stats dump
assert_match "$OUT" 'fetchmail_runs_ok' "the metric counts runs by result"

check "a restart of Dovecot in the middle of a large fetch loses and duplicates nothing"
sandbox_fill carol 1500 6k
want=$(msgids_ext carol)
assert_ok "${FM[@]}" add -u "$U2" --host 127.0.0.1 --port "$EXT_IMAPS_PORT" \
	--protocol imap --remote-user carol --password "$CAROL_PASSWORD" --keep no --mailbox Big
started() { [[ $(count_local "$U2" Big) -gt 0 ]]; }
assert_ok wait_until 60 started
mid=$(count_local "$U2" Big)
master=$(cat "$LOCAL_BASE_DIR/master.pid")
stops=$(grep -c "fetchmail service: stopped" "$LOCAL_LOG" || true)
t0=$SECONDS
doveadm -c "$LOCAL_CONF" stop
gone() { ! kill -0 "$master" 2>/dev/null; }
assert_ok wait_until 30 gone
# the master waits 5 s for services that do not stop, then SIGQUITs them
[[ $((SECONDS - t0)) -lt 5 ]] && pass "Dovecot stopped in $((SECONDS - t0)) s" ||
	fail "Dovecot took $((SECONDS - t0)) s to stop: the service did not stop by itself"
assert_eq "$(grep -c "fetchmail service: stopped" "$LOCAL_LOG")" "$((stops + 1))" \
	"the service stopped (not killed)"
say "stopped with $mid of 1500 delivered"
[[ $mid -gt 0 && $mid -lt 1500 ]] && pass "stopped in the middle ($mid of 1500)" ||
	fail "not stopped in the middle of the fetch ($mid of 1500)"
dovecot -c "$LOCAL_CONF"
all_there() { [[ $(count_ext carol) == 0 && $(count_local "$U2" Big) -ge 1500 ]]; }
assert_ok wait_until 120 all_there
assert_eq "$(msgids_local "$U2" Big)" "$want" "every message exactly once after the restart"
assert_eq "$(count_ext carol)" 0 "and the remote is empty"
