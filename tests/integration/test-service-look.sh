# The fetch service beyond the interval: fetch when the user looks (INBOX
# opened over IMAP polls accounts whose last poll is older than
# fetchmail_look_age, at most once per that age per user), and failure
# notices (one message in the INBOX per failure episode). The interval is
# an hour, so nothing here arrives by plain polling.
export SANDBOX_SERVICE=1 SANDBOX_INTERVAL=1h SANDBOX_EXTRAS=""
export SANDBOX_LOCAL_CONF='plugin {
  fetchmail_look_age = 6s
  fetchmail_notify_after = 3s
  fetchmail_notify_url = https://mail.example.org/?_task=settings&_action=plugin.fetchmail
}'
source "$(dirname "$0")/lib.sh"
sandbox_up

U1=user1@example.org
U2=user2@example.org
FM=(doveadm -c "$LOCAL_CONF" fetchmail)
same_count() { [[ $(count_local "$1" "$2") == "$3" ]]; }

# open_inbox USER PASSWORD: an IMAP client that logs in and selects INBOX
open_inbox() {
	"$PYTHON" - "$LOCAL_IMAP_PORT" "$1" "$2" <<-'EOF'
	import imaplib, sys
	c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
	c.login(sys.argv[2], sys.argv[3])
	c.select("INBOX")
	c.logout()
	EOF
}

check "a new account is fetched at once, then waits for the interval"
n=$(count_ext alice)
assert_ok "${FM[@]}" add -u "$U1" --host 127.0.0.1 --port "$EXT_POP3S_PORT" \
	--protocol pop3 --remote-user alice --password-file - --mailbox Fetched <<<"$ALICE_PASSWORD"
A=$OUT
assert_ok wait_until 20 same_count "$U1" Fetched "$n"
sandbox_fill alice 2 2k
sleep 7
assert_eq "$(count_local "$U1" Fetched)" "$n" "no poll before the interval"

check "opening INBOX over IMAP fetches at once"
t0=$(date +%s)
assert_ok open_inbox "$U1" "$USER1_PASSWORD"
assert_ok wait_until 10 same_count "$U1" Fetched "$((n + 2))"
say "arrived $(( $(date +%s) - t0 )) s after INBOX was opened"

check "looking again at once does not poll again (rate limit)"
sandbox_fill alice 3 2k
for i in 1 2 3 4; do open_inbox "$U1" "$USER1_PASSWORD"; done
sleep 3
assert_eq "$(count_local "$U1" Fetched)" "$((n + 2))" "no poll within fetchmail_look_age"

check "after fetchmail_look_age, looking polls again"
sleep 4
assert_ok open_inbox "$U1" "$USER1_PASSWORD"
assert_ok wait_until 10 same_count "$U1" Fetched "$((n + 5))"

check "opening another mailbox, or another user looking, polls nothing"
sleep 7
sandbox_fill alice 1 2k
assert_ok open_inbox "$U2" "$USER2_PASSWORD"
sleep 3
assert_eq "$(count_local "$U1" Fetched)" "$((n + 5))" "user2's look is not user1's"

notices() { count_notices "$U2"; }
count_notices() {
	local conf=$LOCAL_CONF
	doveadm -c "$conf" search -u "$1" mailbox INBOX header Auto-Submitted auto-generated 2>/dev/null | wc -l
}

check "a failing account gets one notice per failure episode"
before=$(notices)
assert_ok "${FM[@]}" add -u "$U2" --host 127.0.0.1 --port "$EXT_POP3S_PORT" \
	--protocol pop3 --remote-user bob --password-file - --mailbox Bob <<<"wrong-password"
B=$OUT
failing() { [[ $(fm_field "$U2" "$B" last-status) == error ]]; }
assert_ok wait_until 15 failing
# the episode is 3 s old after the next poll: looking starts that poll
sleep 7
assert_ok open_inbox "$U2" "$USER2_PASSWORD"
got_notice() { [[ $(notices) -gt $before ]]; }
assert_ok wait_until 15 got_notice
assert_eq "$(notices)" "$((before + 1))" "one notice"
body=$(doveadm -c "$LOCAL_CONF" fetch -u "$U2" text mailbox INBOX header Auto-Submitted auto-generated)
assert_contains "$body" "bob" "it names the remote account"
assert_contains "$body" "mail.example.org" "and where to fix it"
assert_not_contains "$body" "wrong-password" "never the password"

check "no second notice while it keeps failing"
for i in 1 2; do sleep 7; open_inbox "$U2" "$USER2_PASSWORD"; done
sleep 3
assert_eq "$(notices)" "$((before + 1))" "still one notice"

check "recovered and failing anew: a new notice"
assert_ok "${FM[@]}" edit -u "$U2" "$B" --password-file - <<<"$BOB_PASSWORD"
working() { [[ $(fm_field "$U2" "$B" last-status) == ok ]]; }
assert_ok wait_until 20 working
assert_ok "${FM[@]}" edit -u "$U2" "$B" --password-file - <<<"wrong-again"
assert_ok wait_until 20 failing
sleep 7
assert_ok open_inbox "$U2" "$USER2_PASSWORD"
second() { [[ $(notices) -ge $((before + 2)) ]]; }
assert_ok wait_until 15 second
assert_eq "$(notices)" "$((before + 2))" "exactly one more"
