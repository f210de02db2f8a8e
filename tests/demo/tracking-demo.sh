#!/bin/bash
# The main job, live: change-block tracking of a mounted, busy ext4 file
# system, shown as a table of the changed block ranges and what lives in
# them; then a full backup from a snapshot of the busy file system and an
# incremental one that copies only the changed blocks and reproduces the
# second snapshot exactly.  Runs inside the VM (scripts/demo boots it).
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
	p=$(sed 's#//*#/#g' <<<"/$p")
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

# -- Snapshots and backups ---------------------------------------------
snapshot_of() { # DEV -> a taken snapshot's id, storage on $DISK2
	local id
	id=$(nl snapshot-create "$1" | sed -n 's/^snapshot=\([^ ]*\).*/\1/p')
	nl snapshot-append "$id" "$DISK2:0+$(sectors "$DISK2")" >/dev/null
	nl snapshot-take "$id" >/dev/null
	echo "$id"
}
image_of() { # ID -> /dev/<image>
	echo "/dev/$(nl snapshot-get "$1" | sed -n 's/.* image=\([^ ]*\).*/\1/p')"
}
snap_of() { # ID -> the CBT snap number the snapshot froze
	nl snapshot-get "$1" | sed -n 's/^device .* snap=\([0-9]*\).*/\1/p'
}

echo
step "backup 1 (full): snapshot the live file system, copy its image"
fio --name=busy --directory=/tmp/fs/db --rw=randwrite --bs=4k --size=16M \
	--time_based --runtime=600 --ioengine=psync --fsync=8 \
	--output=/dev/null &
busy=$!
id1=$(snapshot_of "$DISK1")
img1=$(image_of "$id1")
snap1=$(snap_of "$id1")
echo "  snapshot $id1 taken while a writer keeps going; image $img1, snap number $snap1"
dd if="$img1" of="$DISK3" bs=1M oflag=direct status=none
gen1=$(nl map --snapshot "$id1" "$DISK1" | sed -n 's/^generation=\([^ ]*\).*/\1/p')
echo "  full backup to $DISK3: $(human "$(blockdev --getsize64 "$img1")") copied; keep (generation $gen1, snap $snap1)"
e2fsck -fn "$img1" >/tmp/fsck.out 2>&1 || { cat /tmp/fsck.out; fail "image 1 is not clean"; }
echo "  e2fsck -fn on the image: clean, while the original stays mounted and busy"
nl snapshot-destroy "$id1"

step "the users go on: more files, the database keeps changing"
dd if=/dev/urandom of=/tmp/fs/docs/minutes.txt bs=64k count=5 conv=fsync status=none
rm /tmp/fs/photos/img-1.jpg
sleep 3

step "backup 2 (incremental): snapshot, copy only the blocks changed since backup 1"
id2=$(snapshot_of "$DISK1")
img2=$(image_of "$id2")
snap2=$(snap_of "$id2")
kill "$busy"
wait "$busy" 2>/dev/null || true
runs=$(nl map --snapshot "$id2" "$DISK1")
gen2=$(sed -n 's/^generation=\([^ ]*\).*/\1/p' <<<"$runs")
[ "$gen2" = "$gen1" ] || fail "the CBT generation changed: a full backup would be needed"
copied=0
while IFS='+=' read -r start count value; do
	[ "$value" -gt "$snap1" ] || continue
	dd if="$img2" of="$DISK3" bs="$bs" skip="$start" seek="$start" \
		count="$count" conv=notrunc oflag=direct status=none
	copied=$((copied + count))
done < <(grep -v '^generation=' <<<"$runs")
echo "  same generation, snap $snap1 -> $snap2: copied $(human $((copied * bs))) of $(human "$(blockdev --getsize64 "$DISK1")")"
if [ "$(head -c "$(blockdev --getsize64 "$img2")" "$DISK3" | sha256sum)" = "$(sha256sum < "$img2")" ]; then
	echo "  the backup is now byte for byte the second snapshot (sha256 of both match)"
else
	fail "the incremental backup differs from the snapshot image"
fi
nl snapshot-destroy "$id2"

umount /tmp/fs
nl detach "$DISK1"
unload_module
