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
	p=/${p#//}
	[ -d "/tmp/fs$p" ] && p="$p/ (directory)"
	path[$ino]=$p
done < <(debugfs -c -R "ncheck $inodes" "$DISK1" 2>/dev/null | awk 'NR > 1')

# One row per owner: the runs of changed blocks that belong to it.
rows=$(while IFS='+=' read -r start count _; do
	ino=${owner[$start]:-}
	case $ino in
	"") what="(file system metadata: bitmaps, inode tables)" ;;
	7) what="(ext4 reserved GDT blocks)" ;;
	8) what="(ext4 journal)" ;;
	*) what=${path[$ino]:-"(inode $ino)"} ;;
	esac
	printf '%s\t%s\t%s\n' "$what" "$start" "$count"
done <<<"$runs")
size=$(blockdev --getsize64 "$DISK1")
echo
printf '  %-46s %6s %8s %9s   %s\n' "what changed" ranges blocks size "where (blocks)"
printf '  %-46s %6s %8s %9s   %s\n' "------------" ------ ------ ---- "--------------"
awk -F'\t' '
	!($1 in n) { order[++k] = $1; lo[$1] = $2 }
	{ n[$1]++; b[$1] += $3; hi[$1] = $2 + $3 - 1 }
	END { for (i = 1; i <= k; i++) { w = order[i]; print w "\t" n[w] "\t" b[w] "\t" lo[w] "-" hi[w] } }' <<<"$rows" |
while IFS=$'\t' read -r what n blocks where; do
	printf '  %-46s %6d %8d %9s   %s\n' "$what" "$n" "$blocks" "$(human $((blocks * bs)))" "$where"
done
total=$(awk -F'\t' '{ t += $3 } END { print t }' <<<"$rows")
printf '\n  %d ranges, %s of %s changed (%s%%): an incremental backup copies only these.\n' \
	"$(echo "$runs" | wc -l)" "$(human $((total * bs)))" "$(human "$size")" \
	"$(awk -v a=$((total * bs)) -v b="$size" 'BEGIN { printf "%.1f", 100 * a / b }')"

umount /tmp/fs
nl detach "$DISK1"
unload_module
