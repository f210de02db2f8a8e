#!/bin/bash
# Benchmark, not a test: issue 9's table.  blksnap's copy-on-write, image
# reads, take latency and memory, side by side with dm-snapshot (persistent
# store, the same chunk size, the same storage disk), every figure a ratio
# to the raw device measured in the same VM boot.  Runs inside the VM
# (scripts/bench boots it with cache=none disks):
#   DISK1  560M: partition 1 (256 MiB) is the origin; partition 2 the
#          storage "on the same disk"
#   DISK2  320M: the storage disk (and a dm-delay over it, 20 ms per write)
#   DISK3..DISK5  64M: the other busy devices of the take latency
# All disks are prefilled, so reads and copies move real data.  fio:
# direct=1 ioengine=libaio iodepth=16 unless said; chunks of 64 KiB.
# BENCH_ROUNDS (default 3) rounds; each cell is min/median/max over them.
# Every median here is a measured figure: of an even count, the lower of
# the two in the middle.
# First writes run once over the 256 MiB origin, stopped after BENCH_CAP
# seconds (default 5); raw runs and the other workloads run BENCH_TIME
# seconds (default 3).  Memory per copied chunk is measured on two brd RAM
# disks with 4 KiB chunks (65536 copies of one sequential pass: dm-snapshot
# merges the exceptions of consecutive chunks), CBT bytes on a 1 TiB
# dm-zero.  The tracker rows (rand 4 KiB writes, on the origin and on a
# null_blk device, where a write costs no disk time: the tracker's CPU per
# write) are the median of BENCH_PAIRS (default 5) pairs of one-second
# runs, untracked and tracked, in alternating order: neighbouring seconds
# share the host's state.  The first-writes rows show their limit in the
# round (copy_limit: what fio moves in the three streams of a copy).
# First random 4 KiB writes are one random pass over the origin's blocks,
# stopped after BENCH_CAP seconds: its first writes each copy a chunk (of
# 4096), and after about 10,000 writes nine chunks in ten are copied (16
# blocks a chunk) and most writes pass; the row is the two together,
# which fio's independent streams cannot model, so it has no limit.
. "$BLKSNAP_SRC/tests/lib/common.sh"

ROUNDS=${BENCH_ROUNDS:-3}
CAP=${BENCH_CAP:-5}
TIME=${BENCH_TIME:-3}
PAIRS=${BENCH_PAIRS:-5}
CHUNK=65536
DBG=/sys/kernel/debug/blksnap
OUT=/tmp/bench
mkdir -p "$OUT"

counter() { awk -v k="$1" '$1 == k { print $2 }' "$DBG/counters"; }
object() { awk -v k="$1" '$1 == k { print $2 }' "$DBG/objects"; }
note() { echo "# $*" >&2; }

# fio_bw DEV RW BS DEPTH SIZE first|timed -> "BYTES_PER_S IO_BYTES IOPS"
# first: one pass over SIZE (each block written once), at most CAP s;
# timed: TIME s, wrapping around SIZE.
fio_bw() {
	local mode
	case $6 in
	first) mode="--runtime=$CAP" ;;
	timed) mode="--time_based --runtime=$TIME" ;;
	esac
	# shellcheck disable=SC2086 # mode is two words
	fio --name=bench --filename="$1" --rw="$2" --bs="$3" --iodepth="$4" \
		--size="$5" --direct=1 --ioengine=libaio --randrepeat=0 $mode \
		--output-format=json |
		jq -r '.jobs[0] | [.read.bw_bytes + .write.bw_bytes,
			.read.io_bytes + .write.io_bytes,
			(.read.iops + .write.iops | floor)] | @tsv'
}

# record ROW COLUMN VALUE: one round's figure of a cell
record() { echo "$3" >>"$OUT/$1.$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

# The raw device's figures, measured at the start of each round (timed,
# over the whole origin, untracked): RAW["RW BS DEPTH"] in bytes/s.
declare -A RAW
measure_raw() {
	local job r
	RAW=()
	for job in "randwrite 4k 16" "write 1M 16" "read 1M 16" "randwrite 4k 1024"; do
		# shellcheck disable=SC2086 # three words
		r=$(fio_bw "$ORIG" $job "$SIZE" timed)
		RAW[$job]=$(cut -f1 <<<"$r")
		echo "$job $r" >>"$OUT/raw-figures"
		note "raw $job: $(awk -v b="${RAW[$job]}" 'BEGIN { printf "%.1f MiB/s", b / 1048576 }')" \
			"$(cut -f3 <<<"$r") IOPS"
	done
}
raw() { # RW BS DEPTH -> bytes/s of the raw origin this round
	echo "${RAW[$1 $2 $3]:?no raw figure of $*}"
}

# ---- blksnap: a snapshot of the origin, storage as one range -------------
SNAP="" IMG=""
blk_take() { # STORAGE_DEV
	nl attach "$ORIG" >/dev/null
	SNAP=$(snap_field snapshot "$(nl snapshot-create "$ORIG" --chunk-size "$CHUNK")")
	nl snapshot-append "$SNAP" "$1:0+$(sectors "$1")" >/dev/null
	IMG=$(snap_image "$ORIG" "$(nl snapshot-take "$SNAP")")
}
blk_drop() {
	nl snapshot-destroy "$SNAP"
	nl detach "$ORIG"
	SNAP="" IMG=""
}

# ---- dm-snapshot: snapshot-origin + persistent snapshot ------------------
DMO="" DMS=""
dm_take() { # COW_DEV
	dd if=/dev/zero of="$1" bs=64k count=1 oflag=direct status=none # a new store
	dmsetup create bench-origin --table "0 $(sectors "$ORIG") snapshot-origin $ORIG"
	dmsetup create bench-snap --table \
		"0 $(sectors "$ORIG") snapshot $ORIG $1 P $((CHUNK / 512))"
	# The origin learns the snapshot's chunk size when it resumes.
	dmsetup suspend bench-origin
	dmsetup resume bench-origin
	DMO=/dev/$(dmsetup info -c --noheadings -o blkdevname bench-origin)
	DMS=/dev/$(dmsetup info -c --noheadings -o blkdevname bench-snap)
}
dm_drop() {
	dmsetup remove bench-snap
	dmsetup remove bench-origin
	DMO="" DMS=""
}
dm_chunks() { # chunks of data in bench-snap's store
	dmsetup status bench-snap | awk -v c=$((CHUNK / 512)) \
		'{ split($4, a, "/"); print int((a[1] - $5) / c) }'
}

# ---- the rows ----------------------------------------------------------
# first-writes ROW STORAGE RW BS DEPTH: first writes after the take, for
# blksnap and dm-snapshot with storage on STORAGE; a ratio to raw.  After
# the seq row's, random 4 KiB rewrites of the chunks just copied, against
# the raw device's over the same region (a smaller region is faster on
# the host), measured right after the snapshot is gone.
first_writes() {
	local row=$1 storage=$2 rw=$3 bs=$4 depth=$5 base r again=
	base=$(raw "$rw" "$bs" "$depth")
	blk_take "$storage"
	r=$(fio_bw "$ORIG" "$rw" "$bs" "$depth" "$SIZE" first)
	record "$row" blksnap "$(ratio "$(cut -f1 <<<"$r")" "$base")"
	[ "$row" != seq ] || again=$(rewrite "$ORIG" "$(cut -f2 <<<"$r")")
	blk_drop
	[ -z "$again" ] || record rewrite blksnap "$(rewrite_ratio "$again")"
	dm_take "$storage"
	r=$(fio_bw "$DMO" "$rw" "$bs" "$depth" "$SIZE" first)
	record "$row" dm "$(ratio "$(cut -f1 <<<"$r")" "$base")"
	[ "$row" != seq ] || again=$(rewrite "$DMO" "$(cut -f2 <<<"$r")")
	dm_drop
	[ -z "$again" ] || record rewrite dm "$(rewrite_ratio "$again")"
}
rewrite() { # DEV BYTES -> "SIZE BYTES_PER_S": random 4 KiB writes over them
	local size=$(($2 / 1048576))M
	[ "$size" != 0M ] || size=1M
	echo "$size $(fio_bw "$1" randwrite 4k 16 "$size" timed | cut -f1)"
}
rewrite_ratio() { # "SIZE BYTES_PER_S" -> ratio to the raw origin's over SIZE
	local size bw
	read -r size bw <<<"$1"
	ratio "$bw" "$(fio_bw "$ORIG" randwrite 4k 16 "$size" timed | cut -f1)"
}

one_second() { # DEV tracked|untracked -> fio_bw's figures of rand 4k writes
	[ "$2" = untracked ] || nl attach "$1" >/dev/null
	TIME=1 fio_bw "$1" randwrite 4k 16 "$SIZE" timed
	[ "$2" = untracked ] || nl detach "$1" >/dev/null
}
lower_median() { # the middle (or lower middle) line on stdin, by value
	sort -g | awk '{ v[NR] = $0 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# tracker_pairs ROW DEV: the tracker's cost is small against the host's
# noise, so a round's figure is the median of PAIRS pairs of one-second
# runs (rand 4 KiB writes over SIZE), tracked over untracked, the order
# alternating from pair to pair so that a drift of the host favours
# neither.  The untracked runs' median joins the raw figures as
# "ROW-randwrite 4k 16".
tracker_pairs() {
	local row=$1 dev=$2 i b t u=() r=()
	for i in $(seq "$PAIRS"); do
		if [ $((i % 2)) = 1 ]; then
			b=$(one_second "$dev" untracked)
			t=$(one_second "$dev" tracked)
		else
			t=$(one_second "$dev" tracked)
			b=$(one_second "$dev" untracked)
		fi
		u+=("$b")
		r+=("$(ratio "$(cut -f1 <<<"$t")" "$(cut -f1 <<<"$b")")")
	done
	echo "$row-randwrite 4k 16 $(printf '%s\n' "${u[@]}" | lower_median)" \
		>>"$OUT/raw-figures"
	note "$row pairs: ${r[*]}"
	record "$row" blksnap "$(printf '%s\n' "${r[@]}" | lower_median)"
}

# three_streams STORAGE RATE: the streams of first seq 1M writes under
# copy-on-write, by fio: the origin's reads of the chunks, their writes to
# STORAGE and the user's writes to the origin, each at RATE bytes/s (0: as
# fast as it goes) for TIME s -> bytes/s of the slowest of the three.
three_streams() {
	local rate=()
	[ "$2" = 0 ] || rate=(--rate="$2")
	fio --direct=1 --ioengine=libaio --bs=1M --iodepth=16 --size="$SIZE" \
		--time_based --runtime="$TIME" "${rate[@]}" \
		--name=read --filename="$ORIG" --rw=read \
		--name=write --filename="$ORIG" --rw=write \
		--name=store --filename="$1" --rw=write \
		--output-format=json --output="$OUT/three.json" >/dev/null
	jq -r '[.jobs[] | .read.bw_bytes + .write.bw_bytes] | min' "$OUT/three.json"
}

# copy_limit ROW STORAGE: what first seq 1M writes can reach in this boot
# with the storage on STORAGE (a copy moves each byte three times): the
# highest common rate at which the three streams all keep up (each at
# least 97% of it), as a ratio to the raw write.  Bisection from the
# unthrottled run's slowest stream (a rate all three reach) up to the raw
# write's rate; fio's flow options do not balance them (the storage job
# ran at twice the origin's write rate whatever the weights).
copy_limit() {
	local base lo hi r
	base=$(raw write 1M 16)
	lo=$(three_streams "$2" 0)
	hi=$base
	for _ in 1 2 3 4 5; do
		r=$(((lo + hi) / 2))
		if awk -v g="$(three_streams "$2" "$r")" -v r="$r" \
			'BEGIN { exit !(g >= 0.97 * r) }'; then
			lo=$r
		else
			hi=$r
		fi
	done
	record "$1" limit "$(ratio "$lo" "$base")"
}

image_read() {
	local base r
	base=$(raw read 1M 16)
	blk_take "$STORE"
	r=$(fio_bw "$IMG" read 1M 16 "$SIZE" timed)
	blk_drop
	record read blksnap "$(ratio "$(cut -f1 <<<"$r")" "$base")"
	dm_take "$STORE"
	r=$(fio_bw "$DMS" read 1M 16 "$SIZE" timed)
	dm_drop
	record read dm "$(ratio "$(cut -f1 <<<"$r")" "$base")"
}

# ---- arrange -------------------------------------------------------------
step "arrange: partitions, prefilled disks, dm-delay"
echo "start=2048, size=$((256 * 2048)), type=83
type=83" | sfdisk --quiet "$DISK1"
ORIG=${DISK1}1 SAME=${DISK1}2 STORE=$DISK2
{ [ -b "$ORIG" ] && [ -b "$SAME" ]; } || fail "no partitions on $DISK1"
SIZE=$(($(sectors "$ORIG") / 2048))M
for d in "$DISK1" "$DISK2" "$DISK3" "$DISK4" "$DISK5"; do
	fio --name=fill --filename="$d" --rw=write --bs=1M --iodepth=16 --direct=1 \
		--ioengine=libaio --output-format=terse >/dev/null
done
modprobe dm-snapshot
modprobe dm-delay
modprobe dm-zero
modprobe null_blk nr_devices=1 gb=1 bs=4096 queue_mode=2 irqmode=0
NULLB=/dev/nullb0
dmsetup create bench-slow --table "0 $(sectors "$STORE") delay $STORE 0 0 $STORE 0 20"
SLOW=/dev/$(dmsetup info -c --noheadings -o blkdevname bench-slow)
load_module
for q in "$DISK1" "$DISK2"; do
	note "$q: write cache $(cat "/sys/block/${q#/dev/}/queue/write_cache")," \
		"$(cat "/sys/block/${q#/dev/}/queue/nr_requests") requests"
done

# ---- act: the rounds ---------------------------------------------------
for round in $(seq "$ROUNDS"); do
	step "round $round of $ROUNDS"
	measure_raw
	tracker_pairs tracker "$ORIG"
	tracker_pairs nullb "$NULLB"
	copy_limit seq "$STORE"
	first_writes seq "$STORE" write 1M 16
	copy_limit same "$SAME"
	first_writes same "$SAME" write 1M 16
	first_writes rand "$STORE" randwrite 4k 16
	image_read
	first_writes slowseq "$SLOW" write 1M 16
	first_writes slowrand "$SLOW" randwrite 4k 1024
	tail -n 2 "$OUT"/*.blksnap "$OUT"/*.dm 2>/dev/null | tr '\n' ' ' >&2
	echo >&2
done

# ---- take latency, with fio writing to every device ----------------------
step "take latency: 1 and 4 busy devices"
export XDG_CACHE_HOME=$BLKSNAP_BUILD/cache
ynl=$("$BLKSNAP_SRC/netlink-spec/ynl-tree")/tools/net/ynl
busy=("$ORIG" "$DISK3" "$DISK4" "$DISK5")
for n in 1 4; do
	pids=()
	for d in "${busy[@]:0:n}"; do
		nl attach "$d" >/dev/null
		fio --name=busy --filename="$d" --rw=randwrite --bs=4k --iodepth=16 \
			--direct=1 --ioengine=libaio --time_based --runtime=3600 \
			--output-format=terse >/dev/null 2>&1 &
		pids+=($!)
	done
	sleep 2
	/usr/bin/python3 "$BLKSNAP_SRC/tests/bench/take-latency.py" --ynl "$ynl" \
		--spec "$BLKSNAP_SRC/netlink-spec/blksnap.yaml" --storage "$STORE" \
		--samples $((3 * ROUNDS)) "${busy[@]:0:n}" >"$OUT/take$n"
	kill "${pids[@]}"
	wait "${pids[@]}" 2>/dev/null || :
	for d in "${busy[@]:0:n}"; do nl detach "$d"; done
	note "take, $n busy: $(tr '\n' ' ' <"$OUT/take$n") ms"
done
# Per-step take timings, if the module counts them.
grep -Hi take "$DBG"/* 2>/dev/null | sed "s|^$DBG/||" >"$OUT/take-steps" || :

# ---- memory per copied chunk: RAM disks, 4 KiB chunks -------------------
step "memory per copied chunk"
modprobe brd rd_nr=2 rd_size=$((288 * 1024))
for d in /dev/ram0 /dev/ram1; do
	fio --name=fill --filename="$d" --rw=write --bs=1M --iodepth=16 --direct=1 \
		--ioengine=libaio --output-format=terse >/dev/null
done
# The module's memory is slab once drop_caches has emptied the caches that
# can be dropped (all of Slab: the xarray nodes that hold copied chunks come
# from radix_tree_node, which counts as reclaimable but is never reclaimed
# while the snapshot lives; SUnreclaim alone misses them) and pages counted
# nowhere else (vmalloc, page allocations): MemTotal less free, page cache,
# anonymous, all slab, page tables, stacks and per-cpu memory.  The verdict
# is on slab; the other pages move by hundreds of KiB between two runs of
# the same writes, so they are shown as measured, in KiB, beside the same
# writes without a snapshot (the control), not as a figure per chunk that
# such noise can turn negative.
meminfo() { # -> "SLAB_KIB OTHER_KIB"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sleep 1
	awk '{ v[$1] = $2 } END {
		print v["Slab:"], v["MemTotal:"] - v["MemFree:"] - v["Buffers:"] - \
			v["Cached:"] - v["AnonPages:"] - v["Slab:"] - v["PageTables:"] - \
			v["KernelStack:"] - v["Percpu:"] }' /proc/meminfo
}
mem_per_chunk() { # COLUMN BEFORE AFTER CHUNKS -> "COLUMN CHUNKS SLAB_BYTES OTHER_KIB"
	local b a
	read -ra b <<<"$2"
	read -ra a <<<"$3"
	awk -v s=$((a[0] - b[0])) -v o=$((a[1] - b[1])) -v n="$4" -v c="$1" 'BEGIN {
		printf "%s %d %.1f %+d\n", c, n, s * 1024 / n, o }'
}
mchunk=4096 msize=256M
ORIG_SAVED=$ORIG ORIG=/dev/ram0
# The control: the same writes with no snapshot.
before=$(meminfo)
fio --name=m --filename="$ORIG" --rw=write --bs=1M --iodepth=16 --direct=1 \
	--ioengine=libaio --size=$msize --output-format=terse >/dev/null
after=$(meminfo)
control=$(($(cut -d' ' -f2 <<<"$after") - $(cut -d' ' -f2 <<<"$before")))
note "memory control: $control KiB of other pages, $(($(cut -d' ' -f1 <<<"$after") - $(cut -d' ' -f1 <<<"$before"))) KiB of slab"
nl attach "$ORIG" >/dev/null
SNAP=$(snap_field snapshot "$(nl snapshot-create "$ORIG" --chunk-size $mchunk)")
nl snapshot-append "$SNAP" "/dev/ram1:0+$(sectors /dev/ram1)" >/dev/null
nl snapshot-take "$SNAP" >/dev/null
copied=$(counter chunks_copied)
before=$(meminfo)
fio --name=m --filename="$ORIG" --rw=write --bs=1M --iodepth=16 --direct=1 \
	--ioengine=libaio --size=$msize --output-format=terse >/dev/null
after=$(meminfo)
mem_per_chunk blksnap "$before" "$after" $(($(counter chunks_copied) - copied)) >"$OUT/mem"
note "blksnap: chunks entries $(object chunks), buffers $(object buffers)"
blk_drop
dd if=/dev/zero of=/dev/ram1 bs=64k count=1 oflag=direct status=none
dmsetup create bench-morigin --table "0 $(sectors "$ORIG") snapshot-origin $ORIG"
dmsetup create bench-msnap --table "0 $(sectors "$ORIG") snapshot $ORIG /dev/ram1 P $((mchunk / 512))"
dmsetup suspend bench-morigin
dmsetup resume bench-morigin
mo=/dev/$(dmsetup info -c --noheadings -o blkdevname bench-morigin)
before=$(meminfo)
fio --name=m --filename="$mo" --rw=write --bs=1M --iodepth=16 --direct=1 \
	--ioengine=libaio --size=$msize --output-format=terse >/dev/null
after=$(meminfo)
n=$(dmsetup status bench-msnap | awk -v c=$((mchunk / 512)) \
	'{ split($4, a, "/"); print int((a[1] - $5) / c) }')
mem_per_chunk dm "$before" "$after" "$n" >>"$OUT/mem"
dmsetup remove bench-msnap
dmsetup remove bench-morigin
ORIG=$ORIG_SAVED
cat "$OUT/mem" >&2

step "CBT bytes per TiB: a tracker on a 1 TiB dm-zero, default block size"
dmsetup create bench-tib --table "0 $((1 << 31)) zero"
tib=/dev/$(dmsetup info -c --noheadings -o blkdevname bench-tib)
cbt0=$(object cbt_map_bytes)
info=$(nl attach "$tib")
cbt=$(($(object cbt_map_bytes) - cbt0))
cbt_block=$(field block_size "$info")
nl detach "$tib"
dmsetup remove bench-tib
dmsetup remove bench-slow
unload_module

# ---- the table ---------------------------------------------------------
# spread FILE DECIMALS -> "min/median/max median": its numbers' spread
# with DECIMALS decimals, then the median with four
spread() {
	sort -g "$1" | awk -v d="$2" -v m="$(lower_median <"$1")" '{ v[NR] = $1 } END {
		f = "%." d "f"
		printf f "/" f "/" f " %.4f\n", v[1], m, v[NR], m }'
}
# stats ROW COLUMN -> the cell's spread over the rounds, and the median
stats() {
	[ -s "$OUT/$1.$2" ] || { echo "— -"; return; }
	spread "$OUT/$1.$2" 2
}
raw_cell() { # RW BS DEPTH -> the median raw figure of the rounds
	awk -v k="$1 $2 $3" '$1 " " $2 " " $3 == k { print $4, $6 }' "$OUT/raw-figures" |
		sort -g | awk -v rw="$1" '{ b[NR] = $1; i[NR] = $2 } END {
		m = int((NR + 1) / 2)
		if (rw ~ /rand/) printf "%d IOPS", i[m]; else printf "%.0f MiB/s", b[m] / 1048576 }'
}
row() { # ROW LABEL RAW_JOB TARGET(number, or dm)
	local b d l bm dm verdict share
	read -r b bm <<<"$(stats "$1" blksnap)"
	read -r d dm <<<"$(stats "$1" dm)"
	read -r l _ <<<"$(stats "$1" limit)"
	if [ "$4" = dm ]; then
		verdict=$(awk -v b="$bm" -v d="$dm" 'BEGIN { print (b >= d ? "met" : "missed") }')
		target="≥ dm-snapshot"
	else
		# A median that rounds up to the target shows its third decimal.
		verdict=$(awk -v b="$bm" -v t="$4" 'BEGIN {
			if (b >= t) print "met"
			else if (sprintf("%.2f", b) + 0 >= t) printf "missed (median %.3f)\n", b
			else print "missed" }')
		target="≥ $4"
	fi
	# Against the limit measured in each round: blksnap's share of it.
	if [ -s "$OUT/$1.limit" ]; then
		paste "$OUT/$1.blksnap" "$OUT/$1.limit" |
			awk '{ printf "%.4f\n", $1 / $2 }' >"$OUT/$1.share"
		read -r share _ <<<"$(stats "$1" share)"
		verdict="$verdict; of the limit $share"
	fi
	# shellcheck disable=SC2086 # three words
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$2" "$(raw_cell $3)" "$l" "$b" "$d" \
		"$target" "$verdict"
}

echo
echo "Ratios to the raw device in the same boot, min/median/max of $ROUNDS rounds;"
echo "verdicts on the median.  Raw: the raw device's median figure of that workload."
echo "Limit: the three streams of a copy (origin read, storage write, the user's"
echo "write) run by fio at the highest rate all three keep, measured in each round;"
echo "\"of the limit\": blksnap's ratio over that round's limit, min/median/max."
echo
echo "| workload | raw | limit | blksnap | dm-snapshot | target | blksnap |"
echo "|---|---|---|---|---|---|---|"
row tracker "tracker only, rand 4k writes" "tracker-randwrite 4k 16" 0.97
row nullb "same, on null_blk (the tracker's CPU per write)" "nullb-randwrite 4k 16" 0.97
row seq "first seq 1M writes after the take" "write 1M 16" 0.45
row same "same, storage on the same disk" "write 1M 16" 0.30
row rewrite "rewrites (rand 4k) of the chunks copied" "randwrite 4k 16" 0.95
row rand "first rand 4k writes" "randwrite 4k 16" 0.85
row read "image seq 1M read vs raw read" "read 1M 16" 0.9
row slowseq "storage 20 ms slower per write, first seq 1M" "write 1M 16" dm
row slowrand "same, first rand 4k at iodepth 1024" "randwrite 4k 1024" dm
echo
for n in 1 4; do
	read -r t tm <<<"$(spread "$OUT/take$n" 0)"
	verdict=
	[ "$n" = 1 ] ||
		verdict="; target < 100 ms: $(awk -v m="$tm" 'BEGIN { print (m < 100 ? "met" : "missed") }')"
	echo "Take latency (the netlink call, from the YNL client), $n busy device(s):" \
		"min/median/max $t ms$verdict"
done
if [ -s "$OUT/take-steps" ]; then
	echo "Take steps (module stats):"
	sed 's/^/  /' "$OUT/take-steps"
fi
read -r _ n s t <<<"$(grep '^blksnap ' "$OUT/mem")"
read -r _ dn ds dt <<<"$(grep '^dm ' "$OUT/mem")"
echo "Memory per copied chunk ($n and $dn chunks of $mchunk bytes), slab:" \
	"blksnap $s bytes; dm-snapshot $ds; target ≤ 16:" \
	"$(awk -v s="$s" 'BEGIN { print (s <= 16 ? "met" : "missed") }');" \
	"other pages over the same writes (one run each, noisy): blksnap $t KiB," \
	"dm-snapshot $dt KiB, no snapshot $(printf %+d "$control") KiB"
echo "CBT per TiB tracked (default block size $cbt_block): $cbt bytes" \
	"($(awk -v b="$cbt" 'BEGIN { printf "%.2f", b / 1048576 }') MiB); target ≤ 1 MiB:" \
	"$( [ "$cbt" -le 1048576 ] && echo met || echo missed)"
