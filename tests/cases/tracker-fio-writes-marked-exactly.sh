#!/bin/bash
# disks: 256M 128M
# timeout: 600
#
# fio random writes (direct with sizes and offsets aligned to 512 bytes
# only, so many span two CBT blocks; buffered with 4 KiB pages), logged
# with write_iolog: the CBT map holds exactly the blocks the log says were
# written, with the default block size, and nothing else.
. "$BLKSNAP_SRC/tests/lib/common.sh"

# writes_of_iolog LOG -> "OFFSET LENGTH" of each write (iolog v2 or v3,
# which has a timestamp first)
writes_of_iolog() {
	awk '{ for (i = 1; i + 2 <= NF; i++) if ($i == "write") { print $(i + 1), $(i + 2); next } }' "$1"
}

# blocks_of_iolog LOG BLOCK_SIZE -> "START+COUNT=1" runs of written blocks
blocks_of_iolog() {
	writes_of_iolog "$1" |
	awk -v bs="$2" '{
			first = int($1 / bs); last = int(($1 + $2 - 1) / bs)
			for (b = first; b <= last; b++) print b
		}' | sort -n -u |
	awk 'NR == 1 { s = $1; p = $1; next }
	     $1 == p + 1 { p = $1; next }
	     { print s "+" (p - s + 1) "=1"; s = $1; p = $1 }
	     END { if (NR) print s "+" (p - s + 1) "=1" }'
}

load_module

step "attach with the default block size"
info=$(nl attach "$DISK1")
assert_eq "default block size for 256 MiB" 4096 "$(field block_size "$info")"
nl attach "$DISK2" >/dev/null

step "direct random writes, 512-byte aligned, 512 B to 64 KiB"
fio --name=direct --filename="$DISK1" --rw=randwrite --direct=1 \
	--ioengine=psync --bsrange=512-64k --blockalign=512 --size=256M \
	--io_size=4M --randseed=1234 --write_iolog=/tmp/direct.log \
	--output=/tmp/direct.out
n=$(grep -c ' write ' /tmp/direct.log)
[ "$n" -gt 50 ] || fail "fio logged only $n writes"
expected=$(blocks_of_iolog /tmp/direct.log 4096)
assert_eq "map of direct writes" "$expected" "$(changed_blocks "$DISK1")"
spanning=$(writes_of_iolog /tmp/direct.log |
	awk 'int($1 / 4096) != int(($1 + $2 - 1) / 4096)' | wc -l)
[ "$spanning" -gt 0 ] || fail "no write spanned two blocks"
echo "ok: $n writes, $spanning spanning blocks, $(echo "$expected" | wc -l) runs"

step "buffered random writes of 4 KiB pages, fsync at the end"
fio --name=buffered --filename="$DISK2" --rw=randwrite --direct=0 \
	--ioengine=psync --bs=4k --size=128M --io_size=2M --randseed=99 \
	--end_fsync=1 --write_iolog=/tmp/buffered.log --output=/tmp/buffered.out
expected=$(blocks_of_iolog /tmp/buffered.log 4096)
assert_eq "map of buffered writes" "$expected" "$(changed_blocks "$DISK2")"

nl detach "$DISK1"
nl detach "$DISK2"
unload_module
