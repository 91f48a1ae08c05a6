#!/bin/bash
# Exactly once across crashes: runs of a 2,000-message fetch are killed
# with SIGKILL at many points, then run to completion, for POP3 and IMAP,
# keep yes and no, storage and LMTP delivery; afterwards every message is
# in the local mailbox exactly once (counted by Message-ID) and, with
# keep = no, gone from the server.
#
# The points: the test-only failpoints (plugin/fetchmail-failpoint.hh)
# right after a batch is committed to the mailbox and before the ledger
# records it (after-commit; with LMTP after-lmtp-save), after the pending
# record is written (after-pending) and after the ledger write, before the
# deletions (after-ledger); and kills at random moments (seeded, so a
# failure can be replayed with the same seed: CRASH_SEED).
source "$(dirname "$0")/lib.sh"
sandbox_up

U=user2@example.org
N=${CRASH_MESSAGES:-2000}
RANDOM=${CRASH_SEED:-4242}
FM=(doveadm -c "$LOCAL_CONF")

# fresh_remote EXTUSER FOLDER: FOLDER of EXTUSER holds exactly N new
# messages; WANT is their Message-IDs, sorted.
fresh_remote() {
	ext_doveadm expunge -u "$1" mailbox "$2" all >/dev/null 2>&1 || true
	sandbox_fill "$1" "$N" 1k "$2" >/dev/null
	WANT=$(msgids_ext "$1" "$2")
	assert_eq "$(wc -l <<<"$WANT")" "$N" "$1/$2 holds $N messages"
}

# crash_run WHY ARGS...: one run that is killed (a failpoint, or
# timeout(1) for a random kill); it must die by SIGKILL or finish.
crash_run() {
	local why=$1 rc=0
	shift
	"$@" >/dev/null 2>&1 || rc=$?
	case $rc in
	0|137|75) say "  $why: exit $rc" ;;
	*) fail "$why: exit $rc (expected SIGKILL, 0 or 75)" ;;
	esac
	CRASH_RC=$rc
}

# combo PROTO KEEP DELIVERY EXTUSER FOLDER
combo() {
	local proto=$1 keep=$2 delivery=$3 ext=$4 folder=$5 box id i got dups
	local what="$proto keep=$keep $delivery"
	local opts=(-o "plugin/fetchmail_delivery=$delivery")
	check "$what: killed at many points of a $N-message fetch, then completed"
	fresh_remote "$ext" "$folder"
	box=Crash-$proto-$keep
	if [[ $delivery == lmtp ]]; then
		box=INBOX    # LMTP delivers to INBOX (no Sieve script here)
		local_doveadm expunge -u "$U" mailbox INBOX all >/dev/null 2>&1 || true
	fi
	local args=(--host 127.0.0.1 --remote-user "$ext" --password-file -
		--keep "$keep" --mailbox "$box")
	if [[ $proto == pop3 ]]; then
		args+=(--protocol pop3 --port "$EXT_POP3S_PORT")
	else
		args+=(--protocol imap --port "$EXT_IMAPS_PORT" --folders "$folder")
	fi
	local pw_var=${ext^^}_PASSWORD
	assert_ok "${FM[@]}" fetchmail add -u "$U" "${args[@]}" <<<"${!pw_var}"
	id=$OUT
	local run=("${FM[@]}" "${opts[@]}" fetchmail run -u "$U" "$id")
	local commit=after-commit
	[[ $delivery == lmtp ]] && commit=after-lmtp-save:$((RANDOM % 300 + 1))
	for point in "$commit" after-pending:2 after-ledger:1 "${commit%%:*}:2"; do
		crash_run "failpoint $point" env DOVECOT_PRESERVE_ENVS=FETCHMAIL_FAILPOINT \
			FETCHMAIL_FAILPOINT="$point" "${run[@]}"
		assert_eq "$CRASH_RC" 137 "$what: failpoint $point killed the run"
	done
	for i in 1 2 3; do
		local ms=$((RANDOM % 1500 + 100))
		crash_run "killed after ${ms} ms" timeout -s KILL \
			"$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))" "${run[@]}"
	done
	# to completion (a run after a crash first settles the interrupted
	# batch; a second run must find nothing new)
	assert_ok "${run[@]}"
	assert_ok "${run[@]}"
	assert_match "$OUT" $'\tok\t0\t0\t0\t|ok +0 +0 +0' "$what: the last run finds nothing new"
	got=$(msgids_local "$U" "$box")
	dups=$(uniq -d <<<"$got")
	assert_eq "$dups" "" "$what: no message delivered twice"
	assert_eq "$(comm -23 <(echo "$WANT") <(echo "$got") | wc -l)" 0 "$what: no message lost"
	assert_eq "$(wc -l <<<"$got")" "$N" "$what: $N messages in $box"
	if [[ $keep == no ]]; then
		assert_eq "$(count_ext "$ext" "$folder")" 0 "$what: the server is empty"
	else
		assert_eq "$(count_ext "$ext" "$folder")" "$N" "$what: the server keeps them"
	fi
	assert_eq "$(doveadm -c "$LOCAL_CONF" fetchmail show -u "$U" "$id" |
		grep -c 'last-status: running')" 0 "$what: not left running"
	assert_ok "${FM[@]}" fetchmail remove -u "$U" "$id"
}

combo pop3 yes storage alice INBOX
combo pop3 no storage bob INBOX
combo imap yes storage alice Crash1
combo imap no storage alice Crash2
combo pop3 yes lmtp carol INBOX
combo pop3 no lmtp bob INBOX
combo imap yes lmtp alice Crash3
combo imap no lmtp alice Crash4
