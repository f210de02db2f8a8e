#!/bin/bash
# Benchmark, not a test: the cost of blksnap on write IOPS, as ratios
# measured in one VM run (absolute numbers under TCG mean little).
#   none            no module loaded (the mean of a run before and after)
#   untracked/none  a disk nobody tracks, with the module loaded and another
#                   disk tracked (the hook is live), against no module
#   tracked/none    the same disk tracked
#   cow-first/none  first writes to chunks after a snapshot's take
#   cow-again/none  writes to chunks already copied
# Runs inside the VM: scripts/bench boots it.
. "$BLKSNAP_SRC/tests/lib/common.sh"

iops() { # DEV -> write IOPS of 4 KiB random direct writes over 64 MiB, 8 s
	fio --name=b --filename="$1" --rw=randwrite --bs=4k --direct=1 \
		--ioengine=libaio --iodepth=16 --size=64M --time_based --runtime=8 \
		--randrepeat=0 --output-format=terse --terse-version=3 |
		awk -F';' '{ print $49 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

none=$(iops "$DISK1")
load_module
nl attach "$DISK3" >/dev/null
untracked=$(iops "$DISK1")
nl attach "$DISK1" >/dev/null
tracked=$(iops "$DISK1")
id=$(nl snapshot-create "$DISK1" | sed -n 's/^snapshot=\([^ ]*\).*/\1/p')
nl snapshot-append "$id" "$DISK2:0+$(sectors "$DISK2")" >/dev/null
nl snapshot-take "$id" >/dev/null
first=$(iops "$DISK1")
again=$(iops "$DISK1")
nl snapshot-destroy "$id"
nl detach "$DISK1"
nl detach "$DISK3"
unload_module
none2=$(iops "$DISK1")
# The baseline is measured before and after, to show the run's drift.
echo "no module: $none IOPS before, $none2 after"
none=$(( (none + none2) / 2 ))

printf '%-16s %10s %8s\n' case IOPS ratio
printf '%-16s %10s %8s\n' none "$none" 1.00
printf '%-16s %10s %8s\n' untracked "$untracked" "$(ratio "$untracked" "$none")"
printf '%-16s %10s %8s\n' tracked "$tracked" "$(ratio "$tracked" "$none")"
printf '%-16s %10s %8s\n' cow-first "$first" "$(ratio "$first" "$none")"
printf '%-16s %10s %8s\n' cow-again "$again" "$(ratio "$again" "$none")"
