# Roles: --actor (JSON "actor") against fetchmail_admins and
# fetchmail_domain_admins, for read and write commands, over the CLI and
# over the HTTP API. A refused actor changes nothing, reads nothing, and is
# logged.
source "$(dirname "$0")/lib.sh"
sandbox_up

ADMIN=admin@example.org        # fetchmail_admins in the sandbox
DADMIN=dadmin@example.org      # fetchmail_domain_admins = dadmin@example.org:example.org
U1=user1@example.org
U2=user2@example.org
U3=user3@other.org
FM=(doveadm -c "$LOCAL_CONF" fetchmail)
ADD=(--host 127.0.0.1 --protocol pop3 --remote-user bob --password role-secret)

declare -A ID
for u in $U1 $U2 $U3; do
	run_cmd "${FM[@]}" add -u "$u" "${ADD[@]}"
	ID[$u]=$OUT
done

# expect ACTOR TARGET yes|no: the whole command set over the CLI.
expect_cli() {
	local actor=$1 target=$2 want=$3 id=${ID[$2]} code=77 before
	[[ $want == yes ]] && code=0
	check "CLI: $actor acting for $target: $want"
	assert_exit $code "${FM[@]}" list -u "$target" --actor "$actor"
	[[ $want == yes ]] && assert_contains "$OUT" "$id" "list shows the account"
	[[ $want == no ]] && assert_not_contains "$OUT" "$id" "nothing is read"
	[[ $want == no ]] && assert_contains "$OUT" "refused" "the refusal is reported"
	assert_exit $code "${FM[@]}" show -u "$target" --actor "$actor" "$id"
	[[ $want == no ]] && assert_not_contains "$OUT" "127.0.0.1" "show reads nothing"
	before=$(snapshot)
	assert_exit $code "${FM[@]}" edit -u "$target" --actor "$actor" "$id" --port 1110
	assert_exit $code "${FM[@]}" add -u "$target" --actor "$actor" "${ADD[@]}"
	local added=$OUT
	if [[ $want == no ]]; then
		assert_eq "$(snapshot)" "$before" "a refused actor changed nothing"
		assert_exit 77 "${FM[@]}" remove -u "$target" --actor "$actor" "$id"
		assert_exit 0 "${FM[@]}" show -u "$target" "$id"
	else
		assert_exit 0 "${FM[@]}" remove -u "$target" --actor "$actor" "$added"
	fi
}

# expect_http ACTOR TARGET yes|no: the same over the HTTP API.
expect_http() {
	local actor=$1 target=$2 want=$3 id=${ID[$2]} before r
	check "HTTP: $actor acting for $target: $want"
	before=$(snapshot)
	r=$(http_call "[[\"fetchmailList\",{\"user\":\"$target\",\"actor\":\"$actor\"},\"l\"]]")
	if [[ $want == yes ]]; then
		assert_contains "$r" "\"id\":\"$id\"" "list over HTTP"
	else
		assert_contains "$r" '"exitCode":77' "list refused over HTTP"
		assert_not_contains "$r" "$id" "nothing is read over HTTP"
	fi
	r=$(http_call "[[\"fetchmailEdit\",{\"user\":\"$target\",\"actor\":\"$actor\",\"id\":\"$id\",\"port\":\"2110\"},\"e\"]]")
	if [[ $want == yes ]]; then
		assert_contains "$r" '"doveadmResponse"' "edit over HTTP"
	else
		assert_contains "$r" '"exitCode":77' "edit refused over HTTP"
		assert_eq "$(snapshot)" "$before" "a refused HTTP actor changed nothing"
	fi
}

expect_cli $ADMIN $U1 yes
expect_cli $ADMIN $U3 yes
expect_cli $DADMIN $U1 yes
expect_cli $DADMIN $U2 yes
expect_cli $DADMIN $U3 no
expect_cli $U1 $U1 yes
expect_cli $U1 $U2 no
expect_cli $U1 $U3 no

expect_http $ADMIN $U3 yes
expect_http $DADMIN $U2 yes
expect_http $DADMIN $U3 no
expect_http $U1 $U1 yes
expect_http $U1 $U2 no
expect_http $U1 $U3 no

check "refusals over HTTP are logged by the server"
assert_contains "$(cat "$SANDBOX_DIR/local/dovecot.log")" "refused: actor $U1 may not act for $U2" "logged"

check "a mask or -A shows an actor only what it may see"
assert_ok doveadm -c "$LOCAL_CONF" -f tab fetchmail list -A --actor "$DADMIN"
assert_contains "$OUT" "${ID[$U1]}" "domain admin sees its domain"
assert_not_contains "$OUT" "${ID[$U3]}" "domain admin does not see other.org"
assert_ok doveadm -c "$LOCAL_CONF" -f tab fetchmail list -A --actor "$U1"
assert_contains "$OUT" "${ID[$U1]}" "a user sees its own accounts"
assert_not_contains "$OUT" "${ID[$U2]}" "a user does not see its neighbour's"
