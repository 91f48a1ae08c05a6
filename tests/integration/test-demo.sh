# The README's main job (scripts/sandbox demo) keeps working: accounts are
# added, mail is fetched, the list and the log are shown, an OAuth2 account
# is connected and fetched, the fetch service pushes new mail of an IMAP
# IDLE account within seconds, and no password is printed.
source "$(dirname "$0")/lib.sh"

check "scripts/sandbox demo"
assert_ok "$SANDBOX" demo
DEMO=$OUT
assert_contains "$DEMO" "dovecot-fetchmail" "the version is shown"
assert_match "$DEMO" 'fm-[a-z2-7]{8} +ok +3 ' "the POP3 account fetched alice's 3 messages"
assert_match "$DEMO" 'fm-[a-z2-7]{8} +ok +5 ' "the IMAP account fetched 5 from two folders"
assert_contains "$DEMO" "<sample-alice-Archive-2@example.net>" "the fetched mail is listed"
assert_contains "$DEMO" 'LOGIN "alice" ***' "the log is shown, redacted"
assert_not_contains "$DEMO" "alice-secret-1" "the password is never printed"
assert_match "$DEMO" 'fm-[a-z2-7]{8} +connected' "the OAuth2 account was connected through the consent page"
assert_match "$DEMO" 'fm-[a-z2-7]{8} +ok +3 .*' "the OAuth2 account fetched alice's INBOX"
assert_match "$DEMO" "in user2@example.org's Pushed [0-9]+ ms after it was delivered" \
	"the push account got bob's new mail"
ms=$(grep -o "Pushed [0-9]* ms after" <<<"$DEMO" | grep -o "[0-9]*")
[[ -n $ms && $ms -lt 5000 ]] && pass "within seconds ($ms ms), without a poll" ||
	fail "the pushed mail took ${ms:-forever} ms"
assert_contains "$DEMO" "push: idling in INBOX" "the service's log shows the IDLE"
assert_not_contains "$DEMO" "bob-secret-1" "bob's password is never printed"
assert_contains "$DEMO" "Stopping the sandbox" "the sandbox is stopped"
