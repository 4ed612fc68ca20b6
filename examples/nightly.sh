#!/bin/sh
# examples/nightly.sh: a nightly dataset build from the run's queue, for cron.
#
# New job manifests are dropped into $VJ_HOME/inbox/*.jsonl during the day.
# Each night this script ingests them, then lets every stage drain what is
# ready for it, and packs the finished jobs into $VJ_HOME/shards.  Running it
# again (by hand, or by the next cron line) continues where it stopped and
# never pays twice for a result the run already holds.
#
# Exit status: 0 done; 1 some jobs failed for good (see the log); 75 try again
# later (another build holds the lock, a stage is rate limited or was
# interrupted); 2 or 3: needs a human (configuration, corrupt journal, disk).
#
# What goes where: the stages' records (their standard output) go to
# /dev/null, or to a file where they are worth keeping (the shards' index
# lines); what the stages and this script say (standard error) goes to the
# log, each line stamped with its UTC time.  Only the line that needs a human
# goes to this script's own standard error, which cron mails.
set -u

VJ_HOME=${VJ_HOME:-/srv/vj}
RUN=${RUN:-$VJ_HOME/run}
INBOX=$VJ_HOME/inbox
DONE_DIR=$VJ_HOME/ingested
SHARDS=$VJ_HOME/shards
LOGDIR=$VJ_HOME/log
# The model stages' options; for a dry run: ANALYZE_OPTS='--provider offline'
ANALYZE_OPTS=${ANALYZE_OPTS:--j 16 --rpm 300 --max-cost 20}
GENERATE_OPTS=${GENERATE_OPTS:--j 16 --rpm 300 --max-cost 10}
PACK_OPTS=${PACK_OPTS:---shard-records 10000}
PATH=${VJ_BIN:-/usr/local/bin}:/usr/bin:/bin
# Times in UTC, whatever the machine's zone (Debian's cron has no CRON_TZ).
TZ=UTC
export PATH TZ

day=$(date -u +%Y-%m-%d)
mkdir -p "$INBOX" "$DONE_DIR" "$SHARDS" "$LOGDIR" || exit 3
LOG=$LOGDIR/nightly-$day.log

# fd 3: cron's mail, for the one line that needs a human.  fd 4: the log.
# Standard output and error point at the log too, for anything unforeseen
# (a message of mv or of the shell itself); all that this script means to
# write is stamped.
exec 3>&2 4>>"$LOG" || exit 3
exec >&4 2>&4

# stamp: copy standard input to the log, each line after its UTC time.
stamp() {
	while IFS= read -r line || [ -n "$line" ]; do
		printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$line"
	done >&4
}
log() { printf 'nightly: %s\n' "$*" | stamp; }
alert() { log "$*"; printf 'vj nightly (%s): %s; see %s\n' "$VJ_HOME" "$*" "$LOG" >&3; }

# run OUT CMD...: run CMD with its standard output appended to the file OUT
# and its standard error stamped into the log; the exit status is CMD's.
run() {
	out=$1
	shift
	# CMD's status travels through fd 5, the command substitution's pipe;
	# neither CMD nor stamp keeps fd 5 or the lock (fd 9) open.
	rc=$({ { "$@" 2>&1 >>"$out" 5>&- 9>&-; echo $? >&5; } | stamp 5>&- 9>&-; } 5>&1)
	return "${rc:-3}"
}

# One build at a time.  (Each vj stage also locks its own journal and exits
# 75 if another process holds it; this lock keeps whole builds from
# interleaving.)
exec 9>"$VJ_HOME/nightly.lock"
if ! flock -n 9; then
	log "another nightly build is running; try again later"
	exit 75
fi

# Keys come from the environment only: a file readable by this user alone,
# such as  export GEMINI_API_KEY=...  export DEEPSEEK_API_KEY=...
if [ -r "$VJ_HOME/keys.env" ]; then
	# shellcheck source=/dev/null
	. "$VJ_HOME/keys.env"
fi

log "start, run $RUN"
later=0      # some stage said 75
failed=0     # some stage said 1

# step NAME OUT CMD...: run one stage (run OUT CMD...) and sort its exit status.
#   0 fine; 1 some jobs failed for good: carry on, report at the end;
#   75 try again later: carry on (what is done flows on), exit 75 at the end;
#   2, 3 or anything else: stop now and tell a human.
step() {
	name=$1
	shift
	run "$@"
	st=$?
	case $st in
	0) ;;
	1) failed=1; log "$name: some jobs (or input lines) failed for good" ;;
	75) later=1; log "$name: try again later (locked, rate limited, budget or interrupted)" ;;
	*) alert "$name failed with exit status $st"; exit "$st" ;;
	esac
	return 0
}

# 1. New manifests: move each out of the inbox first, so a file being
# written is not read half, and a file is ingested once even if the
# build is killed (vj-ingest itself would skip the jobs it holds).
for f in "$INBOX"/*.jsonl; do
	[ -e "$f" ] || continue
	dest=$DONE_DIR/$day-$(basename "$f")
	run /dev/null mv "$f" "$dest" || { alert "cannot move $f"; exit 3; }
	step "ingest $(basename "$f")" /dev/null \
		vj-ingest -r "$RUN" --rejects "$LOGDIR/rejects-$day.jsonl" "$dest"
done
# fetches that failed retryably in an earlier night
step "ingest retries" /dev/null vj-ingest -r "$RUN" --pending

# 2. Every stage drains what is ready for it.  The records they print are in
# the run's journals already; the index lines of the night's new shards
# are kept in shards-DATE.jsonl.
# shellcheck disable=SC2086  # the option lists are meant to split
step analyze /dev/null vj-analyze -r "$RUN" --pending $ANALYZE_OPTS
# shellcheck disable=SC2086
step generate /dev/null vj-generate -r "$RUN" --pending $GENERATE_OPTS
# shellcheck disable=SC2086
step pack "$LOGDIR/shards-$day.jsonl" vj-pack -r "$RUN" --pending -o "$SHARDS" $PACK_OPTS
step verify /dev/null vj-pack --verify "$SHARDS"

# 3. A record of the night: the status as JSON beside the log, the report
# (and the jobs failed for good) in it.
rm -f "$LOGDIR/status-$day.json"
run "$LOGDIR/status-$day.json" vj-status -r "$RUN" --json || log "vj-status --json failed"
vj-status -r "$RUN" -q 2>&1 | stamp
if [ $failed -eq 1 ]; then
	vj-status -r "$RUN" --failed 2>&1 | stamp
fi

if [ $later -eq 1 ]; then
	log "done for now; leftovers are retried by the next run"
	exit 75
fi
if [ $failed -eq 1 ]; then
	log "done; some jobs failed for good (vj-status --failed; vj-analyze --retry-failed gives them another chance)"
	exit 1
fi
log "done"
exit 0
