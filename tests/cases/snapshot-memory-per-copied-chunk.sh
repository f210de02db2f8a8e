#!/bin/bash
# disks: 160M 192M
# timeout: 900
#
# Copied chunks cost at most 16 bytes of kernel memory each until the
# snapshot is destroyed: after 32 Ki chunks of 4 KiB are copied, the
# kernel's slab memory (/proc/meminfo, real allocations, not a count the
# module keeps) has grown by at most 16 bytes per copied chunk, and the
# image still reads as the device was at the take.
. "$BLKSNAP_SRC/tests/lib/common.sh"

# Slab memory in bytes, once the caches that can be dropped are, and every
# slab cache is shrunk: that frees empty slabs and, on a KASAN kernel, the
# freed objects its quarantine still holds (up to 1/32 of the memory,
# counted as slab: 28 bytes per chunk of noise in one debug-kernel run).
slab_bytes() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	for f in /sys/kernel/slab/*/shrink; do
		echo 1 >"$f" 2>/dev/null || :
	done
	awk '$1 == "Slab:" { print $2 * 1024 }' /proc/meminfo
}

chunks=32768
load_module
dd if=/dev/urandom of="$DISK1" bs=1M count=160 oflag=direct status=none
nl attach "$DISK1" >/dev/null
id=$(snap_field snapshot "$(nl snapshot-create "$DISK1" --chunk-size 4096)")
nl snapshot-append "$id" "$DISK2:0+$(sectors "$DISK2")" >/dev/null
nl snapshot-take "$id" >/dev/null
img=$(snap_image "$DISK1" "$(nl snapshot-get "$id")")
image_sum=$(md5sum < "$img")

step "arrange: warm up the copy path on the first 16 MiB"
dd if=/dev/zero of="$DISK1" bs=1M count=16 oflag=direct status=none
copied0=$(counter chunks_copied)
before=$(slab_bytes)

step "act: overwrite the next $((chunks * 4 / 1024)) MiB, $chunks chunks"
dd if=/dev/zero of="$DISK1" bs=1M seek=16 count=$((chunks * 4 / 1024)) \
	oflag=direct status=none
after=$(slab_bytes)
copied=$(($(counter chunks_copied) - copied0))
per_chunk=$(((after - before) / copied))
echo "slab before $before after $after: $copied chunks copied, $per_chunk bytes each"

step "assert: every chunk copied once, at most 16 bytes of slab each"
assert_eq "chunks copied" "$chunks" "$copied"
[ "$per_chunk" -le 16 ] || fail "$per_chunk bytes of slab per copied chunk (limit 16)"
assert_eq "image as at the take" "$image_sum" "$(md5sum < "$img")"

nl snapshot-destroy "$id"
nl detach "$DISK1"
unload_module
