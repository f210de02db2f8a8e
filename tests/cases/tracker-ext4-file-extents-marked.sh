#!/bin/bash
# disks: 512M
# timeout: 600
#
# A tracker on a mounted, busy ext4: every block of the written extents of
# the files written after the attach (FIEMAP, through filefrag) is marked in
# the map; the blocks of a file written before the attach and not touched
# since stay clean.
. "$BLKSNAP_SRC/tests/lib/common.sh"

load_module
mkfs.ext4 -q -F -b 4096 "$DISK1"
mkdir -p /tmp/mnt
mount "$DISK1" /tmp/mnt
dd if=/dev/urandom of=/tmp/mnt/before bs=1M count=8 conv=fsync status=none
sync

step "attach to the mounted file system's device"
nl attach "$DISK1" 4096 >/dev/null

step "write files while a background writer keeps the file system busy"
fio --name=busy --directory=/tmp/mnt --rw=randwrite --bs=4k --size=16M \
	--time_based --runtime=20 --ioengine=psync --fsync=32 \
	--output=/tmp/busy.out &
busy=$!
dd if=/dev/urandom of=/tmp/mnt/a bs=1M count=10 conv=fsync status=none
dd if=/dev/urandom of=/tmp/mnt/b bs=64k count=37 oflag=direct status=none
fio --name=c --filename=/tmp/mnt/c --rw=write --bs=1M --size=24M \
	--ioengine=psync --end_fsync=1 --output=/tmp/c.out
wait "$busy"
sync

step "every block of every extent of the new files is marked"
nl map --raw /tmp/map "$DISK1" >/dev/null
for f in a b c busy.0.0; do
	# fio preallocates its file: the blocks its random writes have not
	# reached yet are unwritten extents, which nothing wrote to the disk
	ext=$(filefrag -e -b4096 "/tmp/mnt/$f" |
		awk -F'[:. ]+' '/^ *[0-9]+:/ && !/unwritten/ { print $5, $6 }')
	[ -n "$ext" ] || fail "no written extents for $f"
	total=0
	while read -r first last; do
		n=$((last - first + 1))
		clean=$(od -An -v -tu1 -j "$first" -N "$n" /tmp/map | tr -s ' ' '\n' |
			grep -c '^0$' || true)
		[ "$clean" = 0 ] || fail "$f: $clean blocks of extent $first..$last not marked"
		total=$((total + n))
	done <<<"$ext"
	echo "ok: $f: $total blocks in $(echo "$ext" | wc -l) extents marked"
done

step "the file written before the attach is untouched"
ext=$(filefrag -e -b4096 /tmp/mnt/before | awk -F'[:. ]+' '/^ *[0-9]+:/ { print $5, $6 }')
while read -r first last; do
	n=$((last - first + 1))
	marked=$(od -An -v -tu1 -j "$first" -N "$n" /tmp/map | tr -s ' ' '\n' |
		grep -c '^1$' || true)
	assert_eq "marked blocks of 'before' ($first..$last)" 0 "$marked"
done <<<"$ext"

umount /tmp/mnt
nl detach "$DISK1"
unload_module
