# ./scripts/demo --webmail (scripts/webmail-sandbox demo): prints a working
# Roundcube URL and the logins, and removes everything when stopped.
source "$(dirname "$0")/../integration/lib.sh"

out=$(mktemp)
on_exit 'rm -f "$out"'
"$FETCHMAIL_SOURCE_DIR/scripts/webmail-sandbox" demo >"$out" 2>&1 &
pid=$!
on_exit 'kill $pid 2>/dev/null || true'

check "the demo starts and says where and how to log in"
wait_until 120 grep -q "Press Ctrl-C" "$out" || { cat "$out"; fatal "the demo did not come up"; }
text=$(cat "$out")
url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$out" | head -n 1)
dir=$(grep -o '/[^ ]*fm-webmail\.[A-Za-z0-9]*' "$out" | head -n 1)
assert_match "$url" '^http://127\.0\.0\.1:[0-9]+/$' "a URL on 127.0.0.1"
for login in user1@example.org dadmin@example.org admin@example.org; do
	assert_contains "$text" "$login" "the login $login is printed"
done
assert_contains "$text" "alice-secret-1" "the external account to fetch from is printed"
assert_contains "$(curl -s --max-time 20 "$url")" 'id="rcmloginuser"' "Roundcube's login page answers"

check "stopping it removes everything"
kill -TERM "$pid"
wait "$pid" || true
assert_contains "$(cat "$out")" "Stopped and removed" "it says so"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url" || true)" 000 "the PHP server is gone"
[[ -n $dir && ! -e $dir ]] && pass "its files are gone" || fail "its files are gone: $dir"
