#!/bin/bash
# disks: 64M 96M
# timeout: 900
#
# Reads of a snapshot image go to the original device many at a time (more
# than two reads in flight on the original on average while fio reads
# never-copied chunks of the image at iodepth 16), and they still return
# exactly the data of the take while random writes to the original race
# them: four readers of the image, each reading a quarter of it again and
# again during the writes, and the whole image after them, match checksums
# taken before the take.  Both with storage on a block device (copied
# chunks read by clones sent to it) and in a file (copied chunks read by the
# worker).
. "$BLKSNAP_SRC/tests/lib/common.sh"

orig=$DISK1
orig_name=$(basename "$(readlink -f "$orig")")
quarter=16 # MiB

# read_ticks -> "READ_MS BUSY_MS" of the original (/sys/block/*/stat): the
# time its reads spent in flight, summed over reads, and the time it had any
# I/O in flight.  Over an interval with only reads, the first grown by more
# than the second means more than one read was in flight at a time.
read_ticks() {
	local -a s
	read -r -a s < "/sys/block/$orig_name/stat"
	echo "${s[3]} ${s[9]}"
}

# mean_reads_in_flight BEFORE AFTER -> the mean number of reads in flight
# while the original was busy, between two read_ticks
mean_reads_in_flight() {
	local r0 b0 r1 b1
	read -r r0 b0 <<<"$1"
	read -r r1 b1 <<<"$2"
	[ "$b1" -gt "$b0" ] || fail "the original was never busy: $1, then $2"
	awk -v r=$((r1 - r0)) -v b=$((b1 - b0)) 'BEGIN { printf "%.1f\n", r / b }'
}

# seq_read DEV OUT: fio reads DEV in 1 MiB at iodepth 16 for 4 s; prints
# the rate
seq_read() {
	fio --name=r --filename="$1" --rw=read --bs=1M --direct=1 \
		--ioengine=libaio --iodepth=16 --time_based --runtime=4 \
		--output="$2" >/dev/null
	grep -o 'READ: bw=[^ ]*' "$2"
}

# quarter_sum DEV Q -> MD5 of quarter Q (0-3) of the device
quarter_sum() {
	dd if="$1" bs=1M skip=$(($2 * quarter)) count=$quarter iflag=direct \
		status=none | md5sum | cut -d' ' -f1
}

# reads_in_flight_and_consistent NAME STORAGE-ARGS...: the whole scenario
# with a snapshot whose storage is given by STORAGE-ARGS
reads_in_flight_and_consistent() {
	local info q bad writer id img take_sum t0 mean
	local -a take_q readers
	local name=$1
	shift
	step "$name: arrange: random data on $orig, its checksums, a taken snapshot"
	dd if=/dev/urandom of="$orig" bs=1M count=64 oflag=direct status=none
	take_sum=$(device_sum "$orig")
	for q in 0 1 2 3; do
		take_q[q]=$(quarter_sum "$orig" "$q")
	done
	id=$(snap_field snapshot "$(nl snapshot-create "$orig" --chunk-size 65536)")
	nl snapshot-append "$id" "$@" >/dev/null
	img=$(snap_image "$orig" "$(nl snapshot-take "$id")")

	step "$name: act: fio reads the image (never-copied chunks), 1 MiB at iodepth 16"
	t0=$(read_ticks)
	echo "image reads: $(seq_read "$img" /tmp/fio-read.out)"
	mean=$(mean_reads_in_flight "$t0" "$(read_ticks)")
	echo "mean reads in flight on $orig_name while busy: $mean"

	step "$name: assert: more than two reads were in flight on the original on average"
	awk -v m="$mean" 'BEGIN { exit !(m > 2) }' ||
		fail "a mean of $mean reads in flight on $orig_name during image reads at iodepth 16"

	step "$name: act: random writes to the original race four readers of the image"
	fio --name=w --filename="$orig" --rw=randwrite --bs=4k --direct=1 \
		--ioengine=libaio --iodepth=16 --time_based --runtime=10 \
		--randseed=42 --output=/tmp/fio-write.out >/dev/null &
	writer=$!
	for q in 0 1 2 3; do
		(
			pass=0
			while kill -0 "$writer" 2>/dev/null; do
				sum=$(quarter_sum "$img" "$q")
				pass=$((pass + 1))
				[ "$sum" = "${take_q[q]}" ] ||
					{ echo "quarter $q pass $pass: $sum"; exit 1; }
			done
			echo "quarter $q: $pass passes"
		) > "/tmp/reader$q" 2>&1 &
		readers[q]=$!
	done
	bad=0
	for q in 0 1 2 3; do
		wait "${readers[q]}" || bad=1
		cat "/tmp/reader$q"
	done
	wait "$writer"

	step "$name: assert: every quarter read during the writes was the data of the take"
	[ "$bad" = 0 ] || fail "an image reader saw data that is not the take's"
	for q in 0 1 2 3; do
		assert_match "reader of quarter $q made passes" "quarter $q: [1-9][0-9]* passes" \
			"$(cat "/tmp/reader$q")"
	done

	step "$name: assert: the original changed, chunks were copied, the image did not change"
	[ "$(device_sum "$orig")" != "$take_sum" ] || fail "the writes did not change $orig"
	info=$(nl snapshot-get "$id")
	[ "$(snap_field storage_used "$info")" -gt 0 ] || fail "no chunk was copied: $info"
	assert_eq "snapshot state" "taken error=0" "$(snap_state "$id")"
	assert_eq "whole image" "$take_sum" "$(device_sum "$img")"
	nl snapshot-destroy "$id"
}

load_module
nl attach "$orig" >/dev/null
reads_in_flight_and_consistent range "$DISK2:0+$(sectors "$DISK2")"
reads_in_flight_and_consistent tmpfile --tmpfile /dev/shm "$(sectors "$DISK2")"
nl detach "$orig"
unload_module
