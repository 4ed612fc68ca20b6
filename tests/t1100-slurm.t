#!/bin/sh
# t1100-slurm: examples/slurm-array.sh on a real Slurm.  A one-node cluster
# (munged, slurmctld, slurmd from Debian's munge and slurm-wlm) runs in a
# network namespace of its own that has only loopback, since Slurm's daemons
# listen on every address, and in a PID namespace of its own, so that no
# daemon outlives the test: when the namespace's first process ends, the
# kernel ends every process in it.  Over a few hundred offline jobs it runs
# the array numbered from 0 and from 1, a resubmission of the parts not
# complete, and a changed number of parts, and checks that every job is in
# exactly one shard.  Skipped where Slurm or namespaces are not to be had.
. "$(dirname "$0")/lib.sh"

skip_all() {
	echo "1..0 # skip $1"
	cd "$TOP" && rm -rf "$TRASH"
	exit 0
}

PATH=$PATH:/usr/sbin:/sbin
[ "$(id -u)" -eq 0 ] || skip_all "not root: the Slurm daemons and the namespaces need root"
for c in unshare nsenter ip munged slurmctld slurmd sbatch squeue sinfo; do
	command -v $c >/dev/null 2>&1 ||
	    skip_all "$c is not installed (scripts/install-deps installs slurm-wlm, munge and iproute2)"
done
unshare --net --mount --pid --fork --mount-proc --kill-child true 2>/dev/null ||
    skip_all "cannot make network and PID namespaces here (unshare --net --pid failed)"

unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_MAX \
	SLURM_ARRAY_TASK_STEP SLURM_JOB_ID JOB_COMPLETION_INDEX PARALLEL_SEQ VJ_PARTITION_COUNT \
	VJ_PARTITION_BASE SBATCH_OPTS
S=$TRASH/slurm
# munge's socket path must be short (a socket name has 108 bytes), and its
# directory one that munged accepts (no group or other write up the path)
M=$(mktemp -d /tmp/vj-munge.XXXXXX) || exit 1
mkdir -p "$S/state" "$S/spool" "$S/log"
SLURM_CONF=$S/slurm.conf
export SLURM_CONF

# The node says it has 4 CPUs whatever the machine has (config_overrides),
# so that 4 tasks of 1 CPU run at once; memory is not a consumable.
cat >"$SLURM_CONF" <<EOT
ClusterName=vjtest
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$M/sock
SlurmctldPort=46817
SlurmdPort=46818
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmdParameters=config_overrides
NodeName=vjnode NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=4 RealMemory=2000 State=UNKNOWN
PartitionName=vj Nodes=vjnode Default=YES MaxTime=INFINITE State=UP
EOT

# The namespace's first process: bring up loopback, start the daemons, wait
# for SIGTERM, stop them.  glibc's getaddrinfo (AI_ADDRCONFIG, which Slurm
# uses) finds no IPv4 address when 127.0.0.1 is the only one: 127.0.0.2 on
# lo is there for it, still loopback.
cat >"$S/ns.sh" <<EOT
stop() {
	for f in "$S/slurmd.pid" "$S/slurmctld.pid" "$M/pid"; do
		[ -s "\$f" ] && kill "\$(cat "\$f")" 2>/dev/null
	done
	sleep 1
	exit 0
}
trap stop TERM INT
ip link set lo up && ip addr add 127.0.0.2/8 dev lo || exit 1
dd if=/dev/urandom of="$M/key" bs=1024 count=1 2>/dev/null && chmod 400 "$M/key" || exit 1
munged -f --key-file="$M/key" --socket="$M/sock" --pid-file="$M/pid" \
    --log-file="$S/log/munged.log" --seed-file="$M/seed" || exit 1
slurmctld -i -f "$SLURM_CONF" || exit 1
slurmd -N vjnode -f "$SLURM_CONF" || exit 1
echo up >"$S/up"
while :; do sleep 1 & wait \$!; done
EOT

unshare --net --mount --pid --fork --mount-proc --kill-child sh "$S/ns.sh" >"$S/ns.log" 2>&1 &
US_PID=$!
NS_PID=
i=0
while [ -z "$NS_PID" ] && [ $i -lt 100 ]; do
	NS_PID=$(cat /proc/$US_PID/task/$US_PID/children 2>/dev/null | cut -d" " -f1)
	[ -n "$NS_PID" ] || sleep 0.1
	i=$((i + 1))
done
[ -n "$NS_PID" ] || NS_PID=$(pgrep -P "$US_PID" 2>/dev/null | head -n 1)
# the namespace, to look for what is left in it at the end
NS_NET=$(readlink /proc/$NS_PID/ns/net 2>/dev/null)

# Stop the cluster: SIGTERM to the namespace's first process, which stops
# the daemons; SIGKILL to it if it has not ended in 10 s, which ends every
# process left in the namespace.
stop_cluster() {
	[ -n "$US_PID" ] || return 0
	[ -n "$NS_PID" ] && kill -TERM "$NS_PID" 2>/dev/null
	i=0
	while kill -0 "$US_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$US_PID" 2>/dev/null; then
		[ -n "$NS_PID" ] && kill -KILL "$NS_PID" 2>/dev/null
		kill -KILL "$US_PID" 2>/dev/null
	fi
	wait "$US_PID" 2>/dev/null
	US_PID=
	rm -rf "$M"
}
trap 'stop_cluster' EXIT
trap 'stop_cluster; exit 130' INT TERM

# inns CMD...: CMD in the cluster's network namespace
inns() { nsenter -t "$NS_PID" -n -- "$@"; }

# wait_queue: until no job is left in the queue (3 minutes at most)
wait_queue() {
	n=0
	while :; do
		q=$(inns squeue -h -o %i) || return 1
		[ -z "$q" ] && return 0
		[ $n -ge 900 ] && { echo "jobs still queued after 180 s:" >&2; inns squeue >&2; return 1; }
		sleep 0.2
		n=$((n + 1))
	done
}

# example WORK PARTS BASE ARGS...: examples/slurm-array.sh with the offline
# providers and small requests
example() {
	w=$1 p=$2 b=$3
	shift 3
	inns env WORK="$TRASH/$w" PARTS=$p BASE=$b MANIFEST="$TRASH/jobs.jsonl" \
	    ANALYZE_OPTS="--provider offline" GENERATE_OPTS="--provider offline" \
	    VJ_MEM=100M VJ_TIME=00:10:00 RETRY_WAIT=1 bash "$TOP/examples/slurm-array.sh" "$@"
}

# shard_ids OUT...: the ids of every sample in the shards each OUT's
# index.json lists, one a line, sorted (duplicates kept)
shard_ids() {
	for o in "$@"; do
		jq -r ".shards[].name" "$o/index.json" >names || return 1
		while read -r f; do bsdtar -tf "$o/$f" || return 1; done <names
	done | sed -n 's/\.json$//p' | sort
}

# check_exactly_once WORK PARTS: every job of the manifest in exactly one
# shard, from the parts' index.json files and, once vj-pack --merge exists,
# from the merged dataset, which the latest merge job made and vj-pack
# --verify accepts
check_exactly_once() {
	shard_ids "$1"/out-* >"$1.ids" &&
	test_cmp all.ids "$1.ids" &&
	if vj-pack --help | grep -q -- "--merge"; then
		test_grep "merged $2 parts" "$(ls -t "$1"/log/vj-merge-*.log | head -n 1)" &&
		test -s "$1/dataset/index.json" && test ! -e "$1/dataset.old" &&
		shard_ids "$1/dataset" >"$1.merged" &&
		test_cmp all.ids "$1.merged" &&
		vj-pack --verify "$1/dataset"
	fi
}

# task_logs WORK: the array tasks' logs, for messages
task_logs() { cat "$1"/log/vj-[0-9]*.log; }

vj-mkimages img >/dev/null
imgs=$(cd img && ls *.jpg *.png | grep -v -e truncated -e empty)
i=0
for n in $(seq 1 60); do
	for f in $imgs; do
		i=$((i + 1))
		[ $i -le 300 ] && printf '{"imageUrl": "%s/img/%s", "id": "job-%04d"}\n' "$TRASH" "$f" $i
	done
done >jobs.jsonl
cut -d'"' -f8 jobs.jsonl | sort >all.ids

test_expect_success 'a one-node Slurm comes up inside its namespace' '
	test -n "$NS_PID" &&
	n=0 && while [ ! -e "$S/up" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done &&
	test -e "$S/up" &&
	n=0 && while [ "$(inns sinfo -h -o %T)" != idle ] && [ $n -lt 150 ]; do sleep 0.2; n=$((n + 1)); done &&
	test "$(inns sinfo -h -o %T)" = idle &&
	test $(wc -l <jobs.jsonl) -eq 300
'

# listening FILE...: the TCP ports 46817 and 46818 (hex B6E1, B6E2) that
# /proc/net/tcp* list as listening (state 0A)
listening() { awk '$4 == "0A" && $2 ~ /:B6E[12]$/ { print $2 }' "$@"; }

test_expect_success 'the daemons listen in the namespace only, which has nothing but loopback' '
	! inns ip -o addr | grep -v " lo " &&
	inns cat /proc/net/tcp /proc/net/tcp6 >ns.tcp &&
	test $(listening ns.tcp | wc -l) -ge 2 &&
	cat /proc/net/tcp /proc/net/tcp6 >host.tcp &&
	test -z "$(listening host.tcp)"
'

test_expect_success 'the array numbered from 0 (--array=0-5): each task takes its part' '
	example w0 6 0 submit >submit.out &&
	test_grep "submitted 6 of 6 parts (0-5)" submit.out &&
	wait_queue &&
	for i in 0 1 2 3 4 5; do
		test "$(cat w0/run-$i/partition.json)" = "{\"k\":$((i + 1)),\"n\":6}" || exit 1
	done &&
	! task_logs w0 | grep "exit [0-9]" &&
	test $(ls w0/log/vj-merge-*.log | wc -l) -eq 1 &&
	check_exactly_once w0 6
'

test_expect_success 'status: every part complete' '
	example w0 6 0 status >status.out &&
	test_grep "6 of 6 parts complete" status.out
'

test_expect_success 'a resubmission runs only the parts not complete, numbered as before' '
	for i in 0 1 3 5; do cat w0/run-$i/journal/*.log; done | sha256sum >kept.before &&
	rm -rf w0/run-2 w0/run-2.ingested w0/out-2 w0/run-4.ingested &&
	test_status 1 example w0 6 0 status >status.out &&
	test_grep "part 2: not complete" status.out && test_grep "part 4: not complete" status.out &&
	test_grep "4 of 6 parts complete" status.out &&
	example w0 6 0 submit >submit.out &&
	test_grep "submitted 2 of 6 parts (2,4)" submit.out &&
	wait_queue &&
	test "$(cat w0/run-2/partition.json)" = "{\"k\":3,\"n\":6}" &&
	test "$(cat w0/run-4/partition.json)" = "{\"k\":5,\"n\":6}" &&
	for i in 0 1 3 5; do cat w0/run-$i/journal/*.log; done | sha256sum >kept.after &&
	test_cmp kept.before kept.after &&
	test $(ls w0/log/vj-merge-*.log | wc -l) -eq 2 &&
	check_exactly_once w0 6
'

test_expect_success 'the array numbered from 1 (--array=1-4)' '
	example w1 4 1 submit >submit.out &&
	test_grep "submitted 4 of 4 parts (1-4)" submit.out &&
	wait_queue &&
	for i in 1 2 3 4; do
		test "$(cat w1/run-$i/partition.json)" = "{\"k\":$i,\"n\":4}" || exit 1
	done &&
	check_exactly_once w1 4
'

test_expect_success 'another number of parts over the same runs is refused by every task' '
	mkdir -p w1/log8 &&
	inns env WORK="$TRASH/w1" MANIFEST="$TRASH/jobs.jsonl" sbatch --parsable --array=1-2 \
	    --mem=100M --output="$TRASH/w1/log8/vj-%A_%a.log" "$TOP/examples/slurm-array.sh" >jid &&
	wait_queue &&
	cat w1/log8/*.log >log8 &&
	test_grep "w1/run-1 holds part 1/4 of the jobs (.*partition.json), not part 1/2 (from SLURM_ARRAY_TASK_ID=1" log8 &&
	test_grep "w1/run-2 holds part 2/4 of the jobs" log8 &&
	test_grep "task 2: vj-ingest exit 2" log8 &&
	check_exactly_once w1 4
'

stop_cluster
test_expect_success 'every daemon it started has stopped: no process is left in its namespace' '
	test -n "$NS_NET" &&
	! kill -0 "$NS_PID" 2>/dev/null &&
	for p in /proc/[0-9]*; do
		test "$(readlink $p/ns/net 2>/dev/null)" != "$NS_NET" || { echo "left: $p" >&2; exit 1; }
	done &&
	test ! -e "$M"
'

test_done
