# The fetch service on a stock-Debian-like server: system users, each with
# a uid and gid of its own, mbox mail, the registry in a root-only dict.
# Accounts of two users are polled on schedule without anyone running
# `doveadm fetchmail run`, each user's mail is written with that user's
# uid, one worker process per uid does it, and the log holds no error or
# warning.
export SANDBOX_SERVICE=1 SANDBOX_INTERVAL=2s SANDBOX_LOCAL_UIDS=1
export SANDBOX_EXTRAS=""
source "$(dirname "$0")/lib.sh"
sandbox_up

U1=user1@example.org
U2=user2@example.org
FM=(doveadm -c "$LOCAL_CONF" fetchmail)
REGISTRY=$SANDBOX_DIR/local/registry/fetchmail-registry
same_count() { [[ $(count_local "$1" "$2") == "$3" ]]; }
workers() { pgrep -f "fetchmail worker" -P "$(pgrep -f 'doveadm fetchmail service' -P "$(cat "$LOCAL_BASE_DIR/master.pid")")"; }

check "the users have uids of their own"
assert_eq "$(stat -c %u "$SANDBOX_DIR/local/mail/$U1")" 2001 "user1's home is uid 2001's"
assert_eq "$(stat -c %u "$SANDBOX_DIR/local/mail/$U2")" 2002 "user2's home is uid 2002's"

check "accounts of both users are polled without run"
want1=$(msgids_ext alice)
want2=$(msgids_ext bob)
assert_ok "${FM[@]}" add -u "$U1" --host 127.0.0.1 --port "$EXT_POP3S_PORT" \
	--protocol pop3 --remote-user alice --password-file - --mailbox INBOX <<<"$ALICE_PASSWORD"
assert_ok "${FM[@]}" add -u "$U2" --host 127.0.0.1 --port "$EXT_IMAPS_PORT" \
	--protocol imap --remote-user bob --password-file - --mailbox INBOX <<<"$BOB_PASSWORD"
assert_ok wait_until 30 same_count "$U1" INBOX "$(wc -l <<<"$want1")"
assert_ok wait_until 30 same_count "$U2" INBOX "$(wc -l <<<"$want2")"
assert_eq "$(msgids_local "$U1")" "$want1" "alice's mail is user1's"
assert_eq "$(msgids_local "$U2")" "$want2" "bob's mail is user2's"

check "each user's mail is written with that user's uid"
assert_eq "$(find "$SANDBOX_DIR/local/mail/$U1" ! -uid 2001 | wc -l)" 0 \
	"nothing in user1's home belongs to another uid"
assert_eq "$(find "$SANDBOX_DIR/local/mail/$U2" ! -uid 2002 | wc -l)" 0 \
	"nothing in user2's home belongs to another uid"
assert_eq "$(stat -c %u "$SANDBOX_DIR/local/mail/$U1/inbox")" 2001 "user1's mbox INBOX"

check "one worker per uid, none as root"
uids=$(for p in $(workers); do stat -c %u "/proc/$p"; done | sort -n | tr '\n' ' ')
assert_eq "$uids" "2001 2002 " "the workers run as 2001 and 2002"

check "the registry is written by the service and is root's only"
registered() { grep -q "shared/fetchmail/user/$1" "$REGISTRY" 2>/dev/null; }
assert_ok wait_until 15 registered "$U1"
assert_ok wait_until 15 registered "$U2"
assert_eq "$(stat -c '%u %a' "$REGISTRY")" "0 600" "owned by root, mode 0600"
assert_not_contains "$(cat "$REGISTRY")" "$ALICE_PASSWORD" "no plaintext password in it"

check "the workers hold nothing of the service's: only their line, stdout and the log"
# what a process has open: "fd target" lines (socket:[inode], pipe:[inode], paths)
open_fds() { for fd in /proc/$1/fd/*; do echo "${fd##*/} $(readlink "$fd")"; done; }
svc=$(pgrep -f 'doveadm fetchmail service' -P "$(cat "$LOCAL_BASE_DIR/master.pid")")
svc_targets=$(open_fds "$svc" | cut -d' ' -f2- | sort -u)
shared= held=
for p in $(workers); do
	# stderr (the log) is the one thing shared on purpose
	shared+=$(open_fds "$p" |
		awk '$1 != 2 && $2 != "/dev/null" && $2 !~ /^anon_inode:/ { print $2 }' |
		sort -u | comm -12 - <(echo "$svc_targets"))
	held+=$(open_fds "$p")
done
assert_eq "$shared" "" "no fd of the service's in a worker"
assert_not_contains "$held" "registry" "no worker holds the registry"

check "new mail keeps arriving for both"
sandbox_fill alice 2 2k
sandbox_fill bob 3 2k
assert_ok wait_until 30 same_count "$U1" INBOX "$(( $(wc -l <<<"$want1") + 2 ))"
assert_ok wait_until 30 same_count "$U2" INBOX "$(( $(wc -l <<<"$want2") + 3 ))"

check "the status the service keeps shows in list"
assert_ok doveadm -c "$LOCAL_CONF" -f tab fetchmail list -u "$U1"
assert_contains "$OUT" "ok" "list shows the last status"

check "the log holds no error and no warning"
bad=$(grep -E "(Error|Warning|Fatal|Panic):" "$LOCAL_LOG" || true)
assert_eq "$bad" "" "no error or warning lines"
