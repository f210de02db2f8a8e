#!/bin/bash
# timeout: 600
#
# The policies the running kernel reports through CTRL_CMD_GETPOLICY are
# the spec's: for every op and mode, the accepted attributes are exactly
# its request attributes, with the type and the value and length limits
# of their checks (nested ranges included), and none where it lists none;
# the family reports version 1, the spec's op ids with their flags, and
# the events multicast group.
. "$BLKSNAP_SRC/tests/lib/common.sh"

export XDG_CACHE_HOME=$BLKSNAP_BUILD/cache
tree=$("$BLKSNAP_SRC/netlink-spec/ynl-tree")

load_module

step "compare getfamily and getpolicy of the live family with the spec"
/usr/bin/python3 "$BLKSNAP_SRC/tests/lib/policy_vs_spec.py" \
	--ynl "$tree/tools/net/ynl" \
	--nlctrl "$tree/Documentation/netlink/specs/nlctrl.yaml" \
	--spec "$BLKSNAP_SRC/netlink-spec/blksnap.yaml" \
	--save "$RESULTS/kernel-policy.json" ||
	fail "the kernel's policies differ from the spec (see above)"

unload_module
