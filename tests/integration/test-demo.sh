# The README's main job (scripts/sandbox demo) keeps working: accounts are
# added, mail is fetched, the list and the log are shown, and the password
# is not printed.
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
assert_contains "$DEMO" "Stopping the sandbox" "the sandbox is stopped"
