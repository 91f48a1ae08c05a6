# End-to-end: Debian's Roundcube with the fetchmail plugin, in headless
# Chromium, against a sandbox (see docs/webmail.md). The browser cases are
# in webmail_test.py; this sets up the sandbox, Roundcube and the data the
# cases expect, and counts the cases' ok/FAIL lines.
source "$(dirname "$0")/../integration/lib.sh"

for need in /usr/bin/chromium /usr/bin/chromedriver /usr/share/roundcube/index.php; do
	[[ -e $need ]] || fatal "$need is missing: scripts/build installs the webmail test packages"
done
/usr/bin/python3 -c 'import selenium' 2>/dev/null || fatal "python3-selenium is missing (scripts/build installs it)"

# the oauth2 extra: the test provider the OAuth2 sign-in case uses
SANDBOX_EXTRAS=oauth2 sandbox_up
WEBMAIL=$FETCHMAIL_SOURCE_DIR/scripts/webmail-sandbox
"$WEBMAIL" start "$SANDBOX_DIR" || fatal "Roundcube did not start"
on_exit '"$WEBMAIL" stop "$SANDBOX_DIR"; [[ $TESTS_FAILED == 0 ]] || tail -n 30 "$SANDBOX_DIR"/webmail/logs/* 2>/dev/null'
_sandbox_load_env

# What the cases expect: user1's destination folders, an account of user2
# and one of user3 (another domain) that nobody else may see.
local_doveadm mailbox create -s -u user1@example.org FromPOP3 FromIMAP
local_doveadm fetchmail add -u user2@example.org --host 127.0.0.1 --protocol pop3 \
	--remote-user carol --password "$CAROL_PASSWORD" --port "$EXT_POP3S_PORT" >/dev/null
local_doveadm fetchmail add -u user3@other.org --host secret-host.example.net --protocol imap \
	--remote-user carol --password "$CAROL_PASSWORD" >/dev/null

export SCREENSHOT_DIR=$FETCHMAIL_BUILD_DIR/webmail-screenshots
mkdir -p "$SCREENSHOT_DIR"
say "screenshots go to $SCREENSHOT_DIR"

while IFS= read -r line; do
	case $line in
	"ok - "*) pass "${line#ok - }" ;;
	"FAIL - "*) fail "${line#FAIL - }" ;;
	*) echo "$line" ;;
	esac
done < <(timeout 600 /usr/bin/python3 "$(dirname "$0")/webmail_test.py" 2>&1; echo "# browser tests exited $?")

check "nothing secret in Roundcube's logs"
logs=$(cat "$SANDBOX_DIR"/webmail/logs/* 2>/dev/null || true)
assert_not_contains "$logs" "$ALICE_PASSWORD" "no remote password in Roundcube's logs"
assert_not_contains "$logs" "$DOVEADM_API_KEY" "no API key in Roundcube's logs"
assert_not_contains "$(cat "$LOCAL_LOG")" "$ALICE_PASSWORD" "no remote password in Dovecot's log"
warnings=$(grep -E "PHP (Warning|Notice|Deprecated|Fatal|Parse)" <<<"$logs" | grep -E "plugins/fetchmail|roundcube/fetchmail" || true)
assert_eq "$warnings" "" "no PHP warnings or notices from the plugin"
[[ $TESTS_PASSED -gt 40 ]] || fail "too few browser checks ran ($TESTS_PASSED)"
