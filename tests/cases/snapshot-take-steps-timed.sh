#!/bin/bash
# disks: 256M 256M 256M 256M 1G
# timeout: 900
#
# The take of a snapshot of four devices, each kept busy by fio, reports
# the time of each of its steps (debugfs blksnap/take, from ktime): every
# step is there, and they sum to no more than the take's measured total.
# The figures are printed (min/median/max over the rounds), not judged: a
# timed pass/fail would fail on a slow machine.
. "$BLKSNAP_SRC/tests/lib/common.sh"

TAKE=/sys/kernel/debug/blksnap/take
STEPS="prepare bdev_freeze switch drain cbt_freeze thaw images"
ROUNDS=3
origs=("$DISK1" "$DISK2" "$DISK3" "$DISK4")
storage=$DISK5
writers=

stop_writers() {
	local pid
	for pid in $writers; do
		kill "$pid" 2>/dev/null || :
		wait "$pid" 2>/dev/null || :
	done
	writers=
}
trap stop_writers EXIT

# parse_report REPORT: ns[NAME] = nanoseconds of step NAME, in bash alone:
# with four fio writers on two vCPUs, every process started costs a second.
declare -A ns
parse_report() {
	local name value
	ns=()
	while read -r name value; do
		ns[$name]=$value
	done <<<"$1"
}

load_module
step "arrange: four tracked devices, fio writing random 4 KiB blocks to each"
for d in "${origs[@]}"; do
	nl attach "$d" >/dev/null
	fio --name="w$(basename "$d")" --filename="$d" --rw=randwrite --bs=4k \
		--iodepth=16 --ioengine=libaio --direct=1 --time_based \
		--runtime=600 --output=/dev/null &
	writers="$writers $!"
done
sleep 3

for r in $(seq "$ROUNDS"); do
	step "act: round $r: take a snapshot of the four, read its step times"
	id=$(snap_field snapshot "$(nl snapshot-create "${origs[@]}")")
	nl snapshot-append "$id" "$storage:0+$(sectors "$storage")" >/dev/null
	nl snapshot-take "$id" >/dev/null
	report=$(cat "$TAKE")
	nl snapshot-destroy "$id"
	echo "$report" | tr '\n' ' '
	echo

	step "assert: every step timed; their sum at most the total"
	parse_report "$report"
	total=${ns[total]:-}
	[[ $total =~ ^[1-9][0-9]*$ ]] || fail "total: '$total' in: $report"
	sum=0
	for s in $STEPS; do
		v=${ns[$s]:-}
		[[ $v =~ ^[0-9]+$ ]] || fail "step $s: '$v' in: $report"
		sum=$((sum + v))
		echo "$s $v" >>"/tmp/steps.$s"
	done
	[ "$sum" -le "$total" ] || fail "the steps sum to $sum ns, more than the total $total ns"
	echo "total $total" >>/tmp/steps.total
	# Writes go on: the devices stay busy through every take.
	sleep 1
done
stop_writers

step "figures: milliseconds over $ROUNDS takes, min/median/max"
for s in $STEPS total; do
	sort -n -k2 "/tmp/steps.$s" | awk -v s="$s" '{ v[NR] = $2 / 1e6 }
		END { printf "%-12s %8.2f %8.2f %8.2f\n", s, v[1], v[int((NR + 1) / 2)], v[NR] }'
done

for d in "${origs[@]}"; do
	nl detach "$d"
done
unload_module
