#!/bin/bash
# Benchmark, not a test: blksnapctl's backup engine against dd, as ratios
# measured on this machine (files only: no module, no VM, no root).  Each
# round, one after the other on the same image:
#   full/dd          throughput of a full backup of an image of random data
#                    against dd of the same image to a file (conv=fsync: the
#                    backup is durable at its end too); target >= 0.80
#   incr-N%/full     time of an incremental backup of N% of the image's
#                    blocks, scattered, against the same round's full
#                    backup: blocks of the size the module's CBT gives a
#                    device of the image's size by default (at most 1 Mi
#                    blocks, at least 4 KiB: 4 KiB up to 4 GiB, 16 KiB for
#                    16 GiB), and of 64 KiB; target for 1% of the default
#                    blocks: <= 0.05
# and then min/median/max over the rounds.  Before each timing the page
# cache is written back (sync), so no run pays for the one before; the
# image is read from the page cache by every run (as far as it fits in
# memory beside what the runs write).  Usage:
#   tests/bench/blksnapctl-backup-throughput.sh [SIZE_MIB (default 1024)]
# BENCH_ROUNDS (default 3) sets the rounds.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BLKSNAP_BUILD:-$src/build}
ctl=$build/blksnapctl/blksnapctl
[ -x "$ctl" ] || { echo "no $ctl: run scripts/build first" >&2; exit 1; }
size_mib=${1:-1024}
rounds=${BENCH_ROUNDS:-3}
# the image, dd's copy of it and the full backup, with a tenth to spare
need_kib=$((size_mib * 1024 * 33 / 10))
free_kib=$(df -Pk "${TMPDIR:-/tmp}" | awk 'NR == 2 { print $4 }')
[ "$free_kib" -ge "$need_kib" ] ||
	{ echo "${TMPDIR:-/tmp} has $((free_kib >> 20)) GiB free; a $size_mib MiB image needs $((need_kib >> 20))" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/blksnapctl-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
gen=5a0f3c2e-7b1d-4e8a-9c6f-2d4b8e1a3c57
img=$work/device.img

secs() { # COMMAND... -> wall seconds it took, after writing back what was dirty
	local t0 t1
	sync
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
rate() { awk -v s="$size_mib" -v t="$1" 'BEGIN { printf "%.0f", s / t }'; }
stats() { # VALUES... -> min/median/max
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { printf "%.2f/%.2f/%.2f", v[1], v[int((NR + 1) / 2)], v[NR] }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
verdict() { # VALUE OP TARGET
	awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
		ok = op == ">=" ? v >= t : v <= t; print ok ? "met" : "missed" }'
}

# pct% of the image's blocks of blk bytes, spread with a fixed seed,
# overwritten with random data; their extents (sorted, merged) in $work/ext
# as GetChangedExtents gives them
change() {
	perl -e '
		my ($img, $ext, $size, $pct, $blk, $seed) = @ARGV;
		my $blocks = $size / $blk;
		srand($seed);
		my %pick;
		$pick{int(rand($blocks))} = 1 while keys(%pick) < $blocks * $pct / 100;
		open(my $r, "<", "/dev/urandom") or die;
		open(my $f, "+<", $img) or die;
		open(my $e, ">", $ext) or die;
		my ($po, $pl) = (-1, 0);
		for my $b (sort { $a <=> $b } keys %pick) {
			read($r, my $buf, $blk);
			seek($f, $b * $blk, 0); print $f $buf;
			if ($po >= 0 && $b * $blk == $po + $pl) { $pl += $blk; next }
			print $e pack("Q<Q<", $po, $pl) if $po >= 0;
			($po, $pl) = ($b * $blk, $blk);
		}
		print $e pack("Q<Q<", $po, $pl) if $po >= 0;
	' "$img" "$work/ext" $((size_mib << 20)) "$1" "$2" "$3"
}

head -c $((16 << 20)) /dev/urandom >"$work/r16"
for _ in $(seq $((size_mib / 16))); do cat "$work/r16"; done >"$img"
rm "$work/r16"
cat "$img" >/dev/null	# every run reads it from the page cache

# the CBT block of a device of this size by default (kmod: the smallest
# power of two from 4 KiB that keeps the map at most 1 Mi blocks)
cbt=4096
while [ $(((size_mib << 20) / cbt)) -gt $((1 << 20)) ]; do cbt=$((cbt * 2)); done
cbtk=$((cbt / 1024))

# the incrementals of a round: "pct block_size"
incrs=("1 $cbt" "1 65536" "10 $cbt")
declare -a r_full i_ratio0 i_ratio1 i_ratio2 incr_t0
echo "image: $size_mib MiB ($cbtk KiB CBT blocks by default), $rounds rounds"
for round in $(seq "$rounds"); do
	dd_t=$(secs dd if="$img" of="$work/dd.out" bs=1M conv=fsync)
	rm "$work/dd.out"
	rm -rf "$work/b"
	full_t=$(secs "$ctl" backup dev --from-image "$img" --generation $gen \
		--snap-number 1 --to "$work/b")
	r_full+=("$(ratio "$dd_t" "$full_t")")
	line="round $round: dd $(rate "$dd_t") MiB/s, full $(rate "$full_t") MiB/s ($full_t s)"
	for k in "${!incrs[@]}"; do
		read -r pct blk <<<"${incrs[$k]}"
		change "$pct" "$blk" $((round * 100 + k))
		t=$(secs "$ctl" backup dev --from-image "$img" --generation $gen \
			--snap-number $((k + 2)) --extents-file "$work/ext" --to "$work/b")
		eval "i_ratio$k+=(\"\$(ratio \"\$t\" \"\$full_t\")\")"
		[ "$k" != 0 ] || incr_t0+=("$t")
		line+=", incr $pct% of $((blk / 1024)) KiB ${t} s"
	done
	echo "$line"
done
"$ctl" list "$work/b"

m=$(median "${r_full[@]}")
echo "full/dd:                  $(stats "${r_full[@]}") (target >= 0.80: $(verdict "$m" ">=" 0.80))"
m=$(median "${i_ratio0[@]}")
printf '%-26s%s\n' \
	"incr 1% of $cbtk KiB/full:" "$(stats "${i_ratio0[@]}") (target <= 0.05: $(verdict "$m" "<=" 0.05); $(median "${incr_t0[@]}") s)" \
	"incr 1% of 64 KiB/full:" "$(stats "${i_ratio1[@]}")" \
	"incr 10% of $cbtk KiB/full:" "$(stats "${i_ratio2[@]}")"
