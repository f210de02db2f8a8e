#!/bin/bash
# disks: 64M
# timeout: 300
#
# Polled writes (io_uring with IORING_SETUP_IOPOLL, fio --hipri) to a
# tracked device with poll queues (null_blk, memory-backed) complete,
# are marked exactly, and are copied for a snapshot: the module holds
# them (in place) and sends them down unpolled, so their submitter's
# polling finds no cookie and waits for the completion instead.  On 6.1
# a polled write always has REQ_NOWAIT, so one that needs a copy is
# refused with EAGAIN every time it is sent: the refusal must begin the
# copies it waits for, or the writer retries for ever.
. "$BLKSNAP_SRC/tests/lib/common.sh"

store=$DISK1 dev=/dev/nullb0
polled() { # DEV OFFSET SIZE RW: one fio job of polled 4 KiB writes
	timeout 120 fio --name=polled --filename="$1" --offset="$2" --size="$3" \
		--rw="$4" --bs=4k --iodepth=8 --direct=1 --ioengine=io_uring \
		--hipri --randrepeat=0 --output-format=json >/tmp/fio.json ||
		fail "polled writes did not complete"
	jq -e '.jobs[0].error == 0' /tmp/fio.json >/dev/null || fail "fio: $(jq .jobs[0].error /tmp/fio.json)"
}
sum64() { dd if="$1" bs=1M count=64 iflag=direct status=none | md5sum; }

step "arrange: a memory-backed null_blk device with poll queues (its first 64 MiB used)"
modprobe null_blk nr_devices=1 gb=1 memory_backed=1 bs=4096 queue_mode=2 \
	submit_queues=1 poll_queues=1 || fail "no null_blk with poll queues"
[ -b "$dev" ] || fail "no $dev"
[ "$(cat /sys/block/nullb0/queue/io_poll)" = 1 ] || fail "$dev does not poll"
load_module
dd if=/dev/urandom of="$dev" bs=1M count=64 oflag=direct status=none

step "act: track it; 4 MiB of sequential polled writes at 1 MiB"
nl attach "$dev" 4096 >/dev/null
polled "$dev" 1M 4M write
step "assert: exactly those 1024 blocks are marked"
assert_eq "changed blocks" "256+1024=1" "$(changed_blocks "$dev")"

step "arrange: a snapshot of it, storage on $store"
read -r id img <<<"$(snap_take_alone "$dev" "$store")"
before=$(sum64 "$dev")
copied=$(counter chunks_copied) refused=$(counter nowait_refused)
step "act: random polled writes over its first 16 MiB"
polled "$dev" 0 16M randwrite
echo "chunks copied $(($(counter chunks_copied) - copied)), writes refused for REQ_NOWAIT $(($(counter nowait_refused) - refused))"
[ "$(counter chunks_copied)" -gt "$copied" ] || fail "no chunk copied"
step "assert: the image is the device before them; the device changed"
assert_eq "state" "taken error=0" "$(snap_state "$id")"
assert_eq "image" "$before" "$(sum64 "$img")"
[ "$(sum64 "$dev")" != "$before" ] || fail "the polled writes changed nothing"
nl snapshot-destroy "$id"
nl detach "$dev"
unload_module
