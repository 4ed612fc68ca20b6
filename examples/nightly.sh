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
export PATH

day=$(date -u +%Y-%m-%d)
mkdir -p "$INBOX" "$DONE_DIR" "$SHARDS" "$LOGDIR" || exit 3
LOG=$LOGDIR/nightly-$day.log

# cron mails what a job prints: keep fd 3 for the one line that needs a human,
# everything else goes to the log.
exec 3>&2 >>"$LOG" 2>&1
log() { printf '%s nightly: %s\n' "$(date -u +%H:%M:%S)" "$*"; }
alert() { log "$*"; printf 'vj nightly (%s): %s; see %s\n' "$VJ_HOME" "$*" "$LOG" >&3; }

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

# step NAME CMD...: run one stage and sort its exit status.
#   0 fine; 1 some jobs failed for good: carry on, report at the end;
#   75 try again later: carry on (what is done flows on), exit 75 at the end;
#   2, 3 or anything else: stop now and tell a human.
step() {
	name=$1
	shift
	"$@"
	st=$?
	case $st in
	0) ;;
	1) failed=1; log "$name: some jobs failed for good" ;;
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
	mv "$f" "$dest" || { alert "cannot move $f"; exit 3; }
	step "ingest $(basename "$f")" vj-ingest -r "$RUN" --rejects "$LOGDIR/rejects-$day.jsonl" "$dest" >/dev/null
done
# fetches that failed retryably in an earlier night
step "ingest retries" vj-ingest -r "$RUN" --pending >/dev/null

# 2. Every stage drains what is ready for it.
# shellcheck disable=SC2086  # the option lists are meant to split
step analyze vj-analyze -r "$RUN" --pending $ANALYZE_OPTS >/dev/null
# shellcheck disable=SC2086
step generate vj-generate -r "$RUN" --pending $GENERATE_OPTS >/dev/null
# shellcheck disable=SC2086
step pack vj-pack -r "$RUN" --pending -o "$SHARDS" $PACK_OPTS
step verify vj-pack --verify "$SHARDS"

# 3. A record of the night.
vj-status -r "$RUN" --json >"$LOGDIR/status-$day.json" 2>/dev/null
vj-status -r "$RUN" -q
if [ $failed -eq 1 ]; then
	vj-status -r "$RUN" --failed
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
