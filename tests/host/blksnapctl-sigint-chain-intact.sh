#!/bin/bash
# SIGINT in the middle of a backup stops it with exit status 130 and a
# sentence, removes the partial image, stops qemu-nbd and leaves the chain as
# it was (manifest unchanged, verify clean); a second backup of the chain
# meanwhile is refused; after a SIGKILL, the next backup removes the partial
# image left behind; the next backup then works.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

M=$((1 << 20))
dev=$WORK/dev.img
chain=$WORK/b/vdg
truncate -s $((512 * M)) "$dev"
backup_image vdg "$dev" $GEN1 1 "$WORK/b" 2>/dev/null
before=$(sum "$chain/chain.json")

step "fill 512 MiB with data (16 MiB of random bytes, repeated)"
head -c $((16 * M)) /dev/urandom >"$WORK/r16"
for i in $(seq 0 31); do cat "$WORK/r16"; done >"$dev"
extents_file "$WORK/e" 0 $((512 * M))

step "SIGINT once the partial image holds data"
"$CTL" backup vdg --from-image "$dev" --generation $GEN1 --snap-number 2 \
	--extents-file "$WORK/e" --to "$WORK/b" >"$WORK/out" 2>&1 &
pid=$!
for _ in $(seq 200); do
	size=$(stat -c %s "$chain/0001.qcow2.partial" 2>/dev/null || echo 0)
	[ "$size" -lt $((8 * M)) ] || break
	sleep 0.05
done
[ "$size" -ge $((8 * M)) ] || fail "the partial image never grew: $(cat "$WORK/out")"
rc=0
out=$(backup_image vdg "$dev" $GEN1 2 "$WORK/b" "$WORK/e" 2>&1) || rc=$?
assert_eq "exit status of a second backup meanwhile" 1 "$rc"
assert_match "message" "another blksnapctl is writing this chain" "$out"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
cat "$WORK/out"
assert_eq "exit status" 130 "$rc"
assert_match "message" "interrupted by SIGINT: the partial image was removed, the chain in .* is as it was" \
	"$(cat "$WORK/out")"

step "nothing is left: no partial image, no qemu-nbd, the manifest unchanged"
assert_eq "files of the chain" "0000.extents 0000.qcow2 chain.json" "$(ls "$chain" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "qemu-nbd processes on the chain" "" "$(pgrep -f "qemu-nbd.*$chain" || :)"
assert_eq "manifest unchanged" "$before" "$(sum "$chain/chain.json")"
assert_chain_sound "$chain"

step "SIGKILL: the partial image stays, and the next backup removes it"
"$CTL" backup vdg --from-image "$dev" --generation $GEN1 --snap-number 2 \
	--extents-file "$WORK/e" --to "$WORK/b" >"$WORK/out" 2>&1 &
pid=$!
for _ in $(seq 200); do
	size=$(stat -c %s "$chain/0001.qcow2.partial" 2>/dev/null || echo 0)
	[ "$size" -lt $((8 * M)) ] || break
	sleep 0.05
done
kill -KILL "$pid"
wait "$pid" 2>/dev/null || :
[ -e "$chain/0001.qcow2.partial" ] || fail "no partial image after SIGKILL"
# qemu-nbd sees its client go and exits once it has written back what it holds
for _ in $(seq 600); do
	[ -n "$(pgrep -f "qemu-nbd.*$chain" || :)" ] || break
	sleep 0.1
done
assert_eq "qemu-nbd processes on the chain" "" "$(pgrep -f "qemu-nbd.*$chain" || :)"
assert_eq "manifest unchanged" "$before" "$(sum "$chain/chain.json")"

step "the next backup works"
out=$(backup_image vdg "$dev" $GEN1 2 "$WORK/b" "$WORK/e" 2>&1)
assert_match "removes what the killed run left" "removed $chain/0001.qcow2.partial, left by an interrupted run" "$out"
assert_restores "$chain" 1 "$dev"
echo "PASS"
