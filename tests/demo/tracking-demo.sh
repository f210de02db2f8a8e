#!/bin/bash
# The main job, live: change-block tracking of a mounted, busy ext4 file
# system, shown as a table of the changed block ranges and what lives in
# them.  Runs inside the VM (scripts/demo boots it).
. "$BLKSNAP_SRC/tests/lib/common.sh"

human() { # bytes -> short human size
	numfmt --to=iec-i --suffix=B --format='%.1f' "$1" | sed 's/\.0\([A-Za-z]\)/\1/'
}

load_module
echo "blksnap $(nl version | cut -d= -f2) loaded into Debian's kernel $(uname -r)"

step "an ext4 file system on $DISK1, mounted and holding data"
mkfs.ext4 -q -F -b 4096 -L demo "$DISK1"
mkdir -p /tmp/fs
mount "$DISK1" /tmp/fs
mkdir -p /tmp/fs/photos /tmp/fs/db /tmp/fs/docs
for i in 1 2 3; do
	dd if=/dev/urandom of=/tmp/fs/photos/img-$i.jpg bs=1M count=4 status=none
done
dd if=/dev/urandom of=/tmp/fs/db/orders.db bs=1M count=32 status=none
sync

step "attach a tracker to $DISK1 while it is mounted"
info=$(nl attach "$DISK1")
echo "  $info"
bs=$(field block_size "$info")

step "the file system keeps working: a database updates pages, a report is written"
fio --name=db --filename=/tmp/fs/db/orders.db --rw=randwrite --bs=4k \
	--size=32M --io_size=1M --randseed=7 --ioengine=psync --fsync=16 \
	--output=/dev/null
dd if=/dev/urandom of=/tmp/fs/docs/report.pdf bs=1M count=6 conv=fsync status=none
cp /tmp/fs/photos/img-2.jpg /tmp/fs/photos/img-2-edited.jpg
sync

step "which blocks changed since the attach"
nl map --raw /tmp/map "$DISK1" > /tmp/map.info
runs=$(changed_blocks "$DISK1")
firsts=$(echo "$runs" | sed 's/+.*//' | tr '\n' ' ')
# Which inode owns the first block of each run, and its path.
declare -A owner path
while read -r blk ino; do
	owner[$blk]=$ino
done < <(debugfs -c -R "icheck $firsts" "$DISK1" 2>/dev/null | awk 'NR > 1 && $2 ~ /^[0-9]+$/')
inodes=$(printf '%s\n' "${owner[@]}" | sort -u | tr '\n' ' ')
while read -r ino p; do
	path[$ino]=$p
done < <(debugfs -c -R "ncheck $inodes" "$DISK1" 2>/dev/null | awk 'NR > 1')

printf '\n  %-22s %10s   %s\n' "changed blocks" "size" "what lives there"
printf '  %-22s %10s   %s\n' "----------------------" "----------" "------------------------------"
total=0
while IFS='+=' read -r start count _; do
	ino=${owner[$start]:-}
	what="file system metadata"
	if [ -n "$ino" ]; then
		case $ino in
		7) what="ext4 reserved GDT blocks" ;;
		8) what="ext4 journal" ;;
		*) what="/tmp/fs${path[$ino]:-/ (inode $ino)}" ;;
		esac
	fi
	printf '  %-22s %10s   %s\n' "$start-$((start + count - 1))" \
		"$(human $((count * bs)))" "$what"
	total=$((total + count))
done <<<"$runs"
size=$(blockdev --getsize64 "$DISK1")
printf '\n  %d ranges, %s of %s changed (%s%%): an incremental backup copies only these.\n' \
	"$(echo "$runs" | wc -l)" "$(human $((total * bs)))" "$(human "$size")" \
	"$(awk -v a=$((total * bs)) -v b="$size" 'BEGIN { printf "%.1f", 100 * a / b }')"

umount /tmp/fs
nl detach "$DISK1"
unload_module
