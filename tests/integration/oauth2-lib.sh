# shellcheck shell=bash
# tests/integration/oauth2-lib.sh: helpers for the OAuth2 tests, sourced
# after lib.sh. They talk to the sandbox's OAuth2 test provider
# (oauth2-provider.py, the sandbox extra "oauth2") the way a browser, a
# person at a device page or an administrator would. See docs/sandbox.md.

# provider_post PATH [CURL ARGS...]: POST to the provider; prints the body.
provider_post() {
	local path=$1
	shift
	curl -sS --max-time 30 --cacert "$CA_FILE" "$@" "$OAUTH2_PROVIDER_URL$path"
}

# provider_control JSON: a control command; prints the JSON answer.
provider_control() {
	provider_post /control -H "Content-Type: application/json" --data-binary "$1"
}

# provider_mode ok|503|close|hang|garbage|huge
provider_mode() { provider_control '{"action":"mode","mode":"'"$1"'"}' >/dev/null; }
# provider_delay SECONDS: before every /token answer
provider_delay() { provider_control '{"action":"delay","seconds":'"$1"'}' >/dev/null; }

# provider_stat KEY: one value of /control/stats (counts.X for counts).
provider_stat() {
	curl -sS --cacert "$CA_FILE" "$OAUTH2_PROVIDER_URL/control/stats" |
		"$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
k = sys.argv[1]
print(d["counts"].get(k[7:], 0) if k.startswith("counts.") else d[k])' "$1"
}

# provider_issue USER: a fresh refresh token for USER, without consent
# (what a token file from another program would hold).
provider_issue() {
	provider_control '{"action":"issue","user":"'"$1"'"}' |
		"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])'
}

# provider_tokens USER: every token ever issued to USER, one per line.
provider_tokens() {
	provider_control '{"action":"tokens","user":"'"$1"'"}' |
		"$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
print("\n".join(d["access"] + d["refresh"]))'
}

# consent_approve URL USER [deny]: the person's browser: opens the
# authorization URL, submits the consent page (Approve, or Deny), and
# prints the query of the redirect it gets back (code=...&state=...), or
# the error page.
consent_approve() {
	local url=$1 user=$2 action=${3:-approve} page txn location
	page=$(curl -sS --cacert "$CA_FILE" "$url") || return 1
	txn=$(printf '%s' "$page" | sed -n 's/.*name=txn value=\([A-Za-z0-9_-]*\).*/\1/p')
	if [[ -z $txn ]]; then
		printf '%s\n' "$page"
		return 1
	fi
	location=$(curl -sS --cacert "$CA_FILE" -o /dev/null -w '%{redirect_url}' \
		--data-urlencode "txn=$txn" --data-urlencode "username=$user" \
		--data-urlencode "action=$action" "$OAUTH2_PROVIDER_URL/authorize")
	printf '%s\n' "${location#*\?}"
}

# query_param QUERY NAME: one parameter of a query string, decoded.
query_param() {
	"$PYTHON" -c '
import sys, urllib.parse
q = urllib.parse.parse_qs(sys.argv[1])
print(q.get(sys.argv[2], [""])[0])' "$1" "$2"
}

# device_decide USER_CODE USER approve|deny: the person at the device page.
device_decide() {
	provider_post /device --data-urlencode "user_code=$1" \
		--data-urlencode "username=$2" --data-urlencode "action=$3" >/dev/null
}

# make_due USER ID: the account's next run is now (its status record's
# next-run set to 1; everything else, held too, stays).
make_due() {
	local key=/private/fetchmail/status/$2 json
	json=$(doveadm -c "$LOCAL_CONF" mailbox metadata get -u "$1" -s "" "$key")
	[[ -n $json ]] || json='{}'
	json=$(printf '%s' "$json" | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
d["next-run"] = 1
d.setdefault("v", 1)
print(json.dumps(d))')
	doveadm -c "$LOCAL_CONF" mailbox metadata set -u "$1" -s "" "$key" "$json"
}

# row_value OUT FIELD: the value of FIELD in `-f tab` output of a command
# that prints field/value rows (oauth2 device).
row_value() {
	printf '%s\n' "$1" | awk -F '\t' -v f="$2" '$1 == f { print $2 }'
}

# tab_column OUT COLUMN [ROW]: a column of `-f tab` output, of the first
# data row or row ROW (1-based). The header is the first line that has
# COLUMN among its tab-separated fields; rows are the following lines with
# as many fields (error lines on stderr are skipped).
tab_column() {
	local out=$1
	shift
	printf '%s\n' "$out" | "$PYTHON" -c '
import sys
col = sys.argv[1]
want = int(sys.argv[2]) if len(sys.argv) > 2 else 1
lines = [l.rstrip("\n").split("\t") for l in sys.stdin]
for i, h in enumerate(lines):
    if len(h) > 1 and col in h:
        rows = [r for r in lines[i + 1:] if len(r) == len(h)]
        if len(rows) >= want:
            print(dict(zip(h, rows[want - 1]))[col])
        break' "$@"
}
