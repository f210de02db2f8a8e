#!/bin/bash
# Profile, not a test: where first writes after a take spend their time.
# Runs in the VM, with cache=none disks, e.g.
#   tests/vm/run-vm --cache none --disk 300M --disk 300M -- \
#	env PROFILE_TRACE=1 tests/bench/profile-first-writes.sh
# (run-vm passes no other variable of the host's environment: set the
# PROFILE_ ones with env inside the VM's command, as here)
#   DISK1  the origin (prefilled)
#   DISK2  the storage (prefilled)
# PROFILE_RW/PROFILE_BS/PROFILE_DEPTH (default write 1M 16): the fio job,
# one pass over the origin.  Prints the raw rate, the rate after the take,
# the CPU and disk use meanwhile (busy share, requests in flight) and the
# module's counters.  With PROFILE_GRAPH=FUNCTION, the function_graph
# tracer follows FUNCTION (PROFILE_GRAPH_DEPTH levels, default 3) during
# the pass; with PROFILE_TRACE=1 it times the functions of the copy path
# (one level); PROFILE_EVENTS="block:block_rq_issue block:block_rq_complete"
# adds those trace events (alone, or to either tracer); PROFILE_BUFFER_KB
# (default 16384) is the trace buffer per CPU.  Each leaves the trace in
# RESULTS/trace, summed up by tests/bench/trace-durations.py.  (perf sampling gets next to no samples
# under TCG: no PMU, and the cpu-clock timer barely fires.)
. "$BLKSNAP_SRC/tests/lib/common.sh"

RW=${PROFILE_RW:-write}
BS=${PROFILE_BS:-1M}
DEPTH=${PROFILE_DEPTH:-16}
ORIG=$DISK1 STORE=$DISK2
T=/sys/kernel/tracing

note() { echo "# $*"; }
fio_once() { # DEV -> MiB/s of one pass
	fio --name=p --filename="$1" --rw="$RW" --bs="$BS" --iodepth="$DEPTH" \
		--direct=1 --ioengine=libaio --randrepeat=0 --output-format=json |
		jq -r '.jobs[0] | (.write.bw_bytes + .read.bw_bytes) / 1048576 | floor'
}
cpu() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat; }
disk() { # DEV -> "IO_TICKS_MS TIME_IN_QUEUE_MS READS WRITES"
	awk -v d="${1#/dev/}" '$3 == d { print $13, $14, $4, $8 }' /proc/diskstats
}
trace_start() {
	local on=
	if [ -n "${PROFILE_GRAPH:-}" ]; then
		echo "$PROFILE_GRAPH" >$T/set_graph_function
		echo "${PROFILE_GRAPH_DEPTH:-3}" >$T/max_graph_depth
		on=graph
	elif [ -n "${PROFILE_TRACE:-}" ]; then
		for f in diff_io_bdev_submit diff_area_copy_work diff_copy_work \
			diff_area_pending_work diff_area_submit_bio tracker_io_submit \
			submit_bio_noacct kmem_cache_alloc bio_alloc_bioset \
			kvmalloc_node kvfree buf_cache_get buf_cache_put; do
			echo "$f" >>$T/set_ftrace_filter 2>/dev/null || note "cannot trace $f"
		done
		echo 1 >$T/max_graph_depth
		on=graph
	fi
	for e in ${PROFILE_EVENTS:-}; do
		echo "$e" >>$T/set_event || note "cannot enable event $e"
		on=${on:-events}
	done
	[ -n "$on" ] || return 0
	tracing=1
	if [ "$on" = graph ]; then
		echo function_graph >$T/current_tracer
		echo funcgraph-abstime >$T/trace_options
	fi
	echo "${PROFILE_BUFFER_KB:-16384}" >$T/buffer_size_kb
	echo >$T/trace
}
trace_stop() {
	[ -n "${tracing:-}" ] || return 0
	echo 0 >$T/tracing_on
	cp $T/trace "$RESULTS/trace"
	echo nop >$T/current_tracer
	echo >$T/set_event
	echo 1 >$T/tracing_on
	note "trace in RESULTS/trace"
}

step "arrange: prefilled disks"
for d in "$ORIG" "$STORE"; do
	fio --name=fill --filename="$d" --rw=write --bs=1M --iodepth=16 --direct=1 \
		--ioengine=libaio --output-format=terse >/dev/null
done
load_module
note "raw $RW $BS $DEPTH: $(fio_once "$ORIG") MiB/s"

nl attach "$ORIG" >/dev/null
snap=$(snap_field snapshot "$(nl snapshot-create "$ORIG" --chunk-size 65536)")
nl snapshot-append "$snap" "$STORE:0+$(sectors "$STORE")" >/dev/null
nl snapshot-take "$snap" >/dev/null
cp /sys/kernel/debug/blksnap/counters /tmp/counters.before

step "first writes after the take"
read -r b0 i0 <<<"$(cpu)"
read -r ot0 oq0 or0 ow0 <<<"$(disk "$ORIG")"
read -r st0 sq0 sr0 sw0 <<<"$(disk "$STORE")"
trace_start
t0=$(date +%s%N)
note "after the take: $(fio_once "$ORIG") MiB/s"
t1=$(date +%s%N)
trace_stop
read -r b1 i1 <<<"$(cpu)"
read -r ot1 oq1 or1 ow1 <<<"$(disk "$ORIG")"
read -r st1 sq1 sr1 sw1 <<<"$(disk "$STORE")"
ms=$(((t1 - t0) / 1000000))
note "over $ms ms (fio's start included): CPU busy" \
	"$((100 * (b1 - b0) / (b1 - b0 + i1 - i0)))% of $(nproc) CPUs"
note "origin: busy $((100 * (ot1 - ot0) / ms))%, $(((oq1 - oq0) * 10 / ms))/10" \
	"requests in flight, $((or1 - or0)) reads, $((ow1 - ow0)) writes"
note "storage: busy $((100 * (st1 - st0) / ms))%, $(((sq1 - sq0) * 10 / ms))/10" \
	"requests in flight, $((sr1 - sr0)) reads, $((sw1 - sw0)) writes"
paste /tmp/counters.before /sys/kernel/debug/blksnap/counters |
	awk '$4 != $2 { print "# " $1 ": " $4 - $2 }'
nl snapshot-destroy "$snap"
nl detach "$ORIG"
unload_module
