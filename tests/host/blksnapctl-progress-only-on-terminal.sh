#!/bin/bash
# A backup draws a progress line (bytes of the total, rate, time left) on
# stderr when it is a terminal, and writes no progress at all otherwise.
. "$BLKSNAP_SRC/tests/lib/common.sh"
. "$BLKSNAP_SRC/tests/lib/blksnapctl.sh"

M=$((1 << 20))
dev=$WORK/dev.img
truncate -s $((64 * M)) "$dev"
write_random "$dev" 0 $((8 * M))

step "on a terminal (script(1) gives it one)"
script -qefc "'$CTL' backup vdi --from-image '$dev' --generation $GEN1 --snap-number 1 --to '$WORK/t'" \
	/dev/null >"$WORK/tty.out"
line=$(tr '\r' '\n' <"$WORK/tty.out" | grep -a ' of 64.0 MiB, ' | head -n 1)
assert_match "progress line" "vdi: [0-9.]+ [KMG]?i?B of 64.0 MiB, [0-9.]+ [KMG]?i?B/s(, [0-9]+:[0-9]{2} left)?" "$line"
echo "ok: progress on a terminal: $line"

step "not on a terminal"
backup_image vdi "$dev" $GEN1 1 "$WORK/n" >"$WORK/plain.out" 2>&1
if grep -aq $'\r\\| of 64.0 MiB, ' "$WORK/plain.out"; then
	fail "progress written without a terminal: $(cat -A "$WORK/plain.out")"
fi
assert_eq "lines written without a terminal" 2 "$(wc -l <"$WORK/plain.out")"
echo "ok: no progress without a terminal"
echo "PASS"
