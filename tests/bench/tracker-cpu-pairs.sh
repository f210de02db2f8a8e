#!/bin/bash
# Benchmark, not a test: the tracker's CPU per write on null_blk, for hosts
# too noisy for cow-vs-dm-snapshot.sh's before/after runs.  Runs in the VM:
#   tests/vm/run-vm --cache none --timeout 1100 -- \
#	tests/bench/tracker-cpu-pairs.sh PAIRS KO [KO...]
# For each module KO (its path; several alternate in one boot, twice),
# PAIRS pairs of one-second fio runs of random 4 KiB writes at iodepth 16,
# untracked then tracked; prints the pairs' ratios (tracked/untracked) and
# their min/median/max.  Neighbouring seconds share the host's state, so
# the median of the pairs moves far less than the raw figures do.
. "$BLKSNAP_SRC/tests/lib/common.sh"
pairs=${1:?PAIRS}
shift
[ $# -gt 0 ] || fail "no module given"
modprobe null_blk nr_devices=1 gb=1 bs=4096 queue_mode=2 irqmode=0
D=/dev/nullb0
iops() {
	fio --name=b --filename=$D --rw=randwrite --bs=4k --iodepth=16 --size=1G \
		--direct=1 --ioengine=libaio --randrepeat=0 --time_based --runtime=1 \
		--output-format=json | jq -r '.jobs[0].write.iops | floor'
}
iops >/dev/null
for _ in 1 2; do
	for ko in "$@"; do
		BLKSNAP_KO=$ko load_module
		rs=()
		for _ in $(seq "$pairs"); do
			b=$(iops)
			nl attach $D >/dev/null
			t=$(iops)
			nl detach $D
			rs+=("$(awk -v t="$t" -v b="$b" 'BEGIN { printf "%.3f", t / b }')")
		done
		unload_module
		echo "$ko: $(printf '%s\n' "${rs[@]}" | sort -g | awk '{ v[NR] = $1 }
			END { printf "min/median/max %.3f/%.3f/%.3f", v[1], v[int((NR + 1) / 2)], v[NR] }') (${rs[*]})"
	done
done
