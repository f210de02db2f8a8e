#!/bin/bash
# Benchmark, not a test: blksnapctl's backup engine against dd, as ratios
# measured in one run on this machine (files only: no module, no VM, no root).
#   full/dd          throughput of a full backup of an image of random data
#                    against dd of the same image to a file (conv=fsync, as
#                    the backup flushes); the target is >= 0.80
#   incr-N%/full     time of an incremental backup of N% of the 4 KiB blocks,
#                    scattered, against the full backup's; target for 1%: <= 0.05
# The image is read from the page cache by both.  Usage:
#   tests/bench/blksnapctl-backup-throughput.sh [SIZE_MIB (default 1024)]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BLKSNAP_BUILD:-$src/build}
ctl=$build/blksnapctl/blksnapctl
[ -x "$ctl" ] || { echo "no $ctl: run scripts/build first" >&2; exit 1; }
size_mib=${1:-1024}
work=$(mktemp -d "${TMPDIR:-/tmp}/blksnapctl-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
gen=5a0f3c2e-7b1d-4e8a-9c6f-2d4b8e1a3c57
img=$work/device.img

secs() { # COMMAND... -> wall seconds it took
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
rate() { awk -v s="$size_mib" -v t="$1" 'BEGIN { printf "%.1f MiB/s", s / t }'; }

head -c $((16 << 20)) /dev/urandom >"$work/r16"
for _ in $(seq $((size_mib / 16))); do cat "$work/r16"; done >"$img"
rm "$work/r16"
cat "$img" >/dev/null	# both read it from the page cache

dd_t=$(secs dd if="$img" of="$work/dd.out" bs=1M conv=fsync)
rm "$work/dd.out"
full_t=$(secs "$ctl" backup dev --from-image "$img" --generation $gen --snap-number 1 --to "$work/b")
echo "dd to a file:    $(rate "$dd_t") ($dd_t s)"
echo "full backup:     $(rate "$full_t") ($full_t s)"
echo "full/dd:         $(ratio "$dd_t" "$full_t") (target >= 0.80)"

snap=1
for pct in 1 10; do
	snap=$((snap + 1))
	# pct% of the 4 KiB blocks, spread with a fixed seed, overwritten with
	# random data; their extents (sorted, merged) as GetChangedExtents gives them
	perl -e '
		my ($img, $ext, $blocks, $pct) = @ARGV;
		srand(42 + $pct);
		my %pick;
		$pick{int(rand($blocks))} = 1 while keys(%pick) < $blocks * $pct / 100;
		open(my $r, "<", "/dev/urandom") or die;
		open(my $f, "+<", $img) or die;
		open(my $e, ">", $ext) or die;
		my ($po, $pl) = (-1, 0);
		for my $b (sort { $a <=> $b } keys %pick) {
			read($r, my $buf, 4096);
			seek($f, $b * 4096, 0); print $f $buf;
			if ($po >= 0 && $b * 4096 == $po + $pl) { $pl += 4096; next }
			print $e pack("Q<Q<", $po, $pl) if $po >= 0;
			($po, $pl) = ($b * 4096, 4096);
		}
		print $e pack("Q<Q<", $po, $pl) if $po >= 0;
	' "$img" "$work/ext" $((size_mib * 256)) "$pct"
	incr_t=$(secs "$ctl" backup dev --from-image "$img" --generation $gen --snap-number $snap \
		--extents-file "$work/ext" --to "$work/b")
	echo "incr-$pct%/full:    $(ratio "$incr_t" "$full_t") ($incr_t s$([ "$pct" != 1 ] || echo '; target <= 0.05'))"
done
"$ctl" list "$work/b"
