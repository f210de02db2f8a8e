// SPDX-License-Identifier: GPL-2.0
/*
 * The blksnap generic netlink family: policies, operations and multicast
 * groups as netlink-spec/blksnap.yaml describes them, in the layout of the
 * kernel's YNL generator; registration; the helpers every handler shares.
 * The VM test netlink-policy-matches-spec compares these tables with the
 * spec through CTRL_CMD_GETPOLICY.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-genl: " fmt

#include <linux/blkdev.h>
#include <linux/module.h>
#include <net/genetlink.h>
#include <uapi/linux/blksnap.h>
#include "compat.h"
#include "genl.h"
#include "version.h"

/* Integer value ranges (not const: 6.1 takes them by plain pointer) */
static struct netlink_range_validation blksnap_a_dev_minor_range = {
	.max	= 1048575ULL,
};

static struct netlink_range_validation blksnap_a_block_size_range = {
	.min	= BLKSNAP_BLOCK_SIZE_MIN,
	.max	= BLKSNAP_BLOCK_SIZE_MAX,
};

/* Common nested types */
const struct nla_policy blksnap_range_nl_policy[BLKSNAP_A_RANGE_COUNT + 1] = {
	[BLKSNAP_A_RANGE_START] = { .type = NLA_U64, },
	[BLKSNAP_A_RANGE_COUNT] = NLA_POLICY_MIN(NLA_U64, 1),
};

/* BLKSNAP_CMD_VERSION - do: takes no attribute */
static const struct nla_policy blksnap_version_nl_policy[BLKSNAP_A_PAD + 1] = {
};

/* BLKSNAP_CMD_TRACKER_ATTACH - do */
static const struct nla_policy blksnap_tracker_attach_nl_policy[BLKSNAP_A_DEV_PATH + 1] = {
	[BLKSNAP_A_DEV_MAJOR] = NLA_POLICY_MAX(NLA_U32, 4095),
	[BLKSNAP_A_DEV_MINOR] = NLA_POLICY_FULL_RANGE(NLA_U32, &blksnap_a_dev_minor_range),
	[BLKSNAP_A_BLOCK_SIZE] = NLA_POLICY_FULL_RANGE(NLA_U32, &blksnap_a_block_size_range),
	[BLKSNAP_A_DEV_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
};

/*
 * BLKSNAP_CMD_TRACKER_DETACH, BLKSNAP_CMD_TRACKER_GET, BLKSNAP_CMD_CBT_RESET
 * - do: a device
 */
static const struct nla_policy blksnap_dev_nl_policy[BLKSNAP_A_DEV_PATH + 1] = {
	[BLKSNAP_A_DEV_MAJOR] = NLA_POLICY_MAX(NLA_U32, 4095),
	[BLKSNAP_A_DEV_MINOR] = NLA_POLICY_FULL_RANGE(NLA_U32, &blksnap_a_dev_minor_range),
	[BLKSNAP_A_DEV_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
};

/* BLKSNAP_CMD_CBT_MAP_READ - dump */
static const struct nla_policy blksnap_cbt_map_read_nl_policy[BLKSNAP_A_DEV_PATH + 1] = {
	[BLKSNAP_A_DEV_MAJOR] = NLA_POLICY_MAX(NLA_U32, 4095),
	[BLKSNAP_A_DEV_MINOR] = NLA_POLICY_FULL_RANGE(NLA_U32, &blksnap_a_dev_minor_range),
	[BLKSNAP_A_MAP_OFFSET] = { .type = NLA_U64, },
	[BLKSNAP_A_MAP_LENGTH] = NLA_POLICY_MIN(NLA_U64, 1),
	[BLKSNAP_A_DEV_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
};

/* BLKSNAP_CMD_CBT_MARK_DIRTY - do */
static const struct nla_policy blksnap_cbt_mark_dirty_nl_policy[BLKSNAP_A_DEV_PATH + 1] = {
	[BLKSNAP_A_DEV_MAJOR] = NLA_POLICY_MAX(NLA_U32, 4095),
	[BLKSNAP_A_DEV_MINOR] = NLA_POLICY_FULL_RANGE(NLA_U32, &blksnap_a_dev_minor_range),
	[BLKSNAP_A_RANGE] = NLA_POLICY_NESTED(blksnap_range_nl_policy),
	[BLKSNAP_A_DEV_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
};

/* Ops table for blksnap */
static const struct genl_ops blksnap_nl_ops[] = {
	{
		.cmd		= BLKSNAP_CMD_VERSION,
		.doit		= blksnap_nl_version_doit,
		.policy		= blksnap_version_nl_policy,
		.maxattr	= BLKSNAP_A_PAD,
	},
	{
		.cmd		= BLKSNAP_CMD_TRACKER_ATTACH,
		.doit		= blksnap_nl_tracker_attach_doit,
		.policy		= blksnap_tracker_attach_nl_policy,
		.maxattr	= BLKSNAP_A_DEV_PATH,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= BLKSNAP_CMD_TRACKER_DETACH,
		.doit		= blksnap_nl_tracker_detach_doit,
		.policy		= blksnap_dev_nl_policy,
		.maxattr	= BLKSNAP_A_DEV_PATH,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= BLKSNAP_CMD_TRACKER_GET,
		.doit		= blksnap_nl_tracker_get_doit,
		.dumpit		= blksnap_nl_tracker_get_dumpit,
		.policy		= blksnap_dev_nl_policy,
		.maxattr	= BLKSNAP_A_DEV_PATH,
	},
	{
		.cmd		= BLKSNAP_CMD_CBT_MAP_READ,
		.dumpit		= blksnap_nl_cbt_map_read_dumpit,
		.policy		= blksnap_cbt_map_read_nl_policy,
		.maxattr	= BLKSNAP_A_DEV_PATH,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= BLKSNAP_CMD_CBT_MARK_DIRTY,
		.doit		= blksnap_nl_cbt_mark_dirty_doit,
		.policy		= blksnap_cbt_mark_dirty_nl_policy,
		.maxattr	= BLKSNAP_A_DEV_PATH,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= BLKSNAP_CMD_CBT_RESET,
		.doit		= blksnap_nl_cbt_reset_doit,
		.policy		= blksnap_dev_nl_policy,
		.maxattr	= BLKSNAP_A_DEV_PATH,
		.flags		= GENL_ADMIN_PERM,
	},
};

static const struct genl_multicast_group blksnap_nl_mcgrps[] = {
	[BLKSNAP_NLGRP_EVENTS] = {
		.name	= BLKSNAP_MCGRP_EVENTS,
		.flags	= BLKSNAP_MCGRP_FLAGS,
	},
};

struct genl_family blksnap_nl_family __ro_after_init = {
	.name		= BLKSNAP_FAMILY_NAME,
	.version	= BLKSNAP_FAMILY_VERSION,
	.netnsok	= false,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.ops		= blksnap_nl_ops,
	.n_ops		= ARRAY_SIZE(blksnap_nl_ops),
	.mcgrps		= blksnap_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(blksnap_nl_mcgrps),
};

/**
 * blksnap_nl_version_doit() - reply with the module's version
 * @skb: the request
 * @info: the request's parsed attributes and extack
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno.
 */
int blksnap_nl_version_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &blksnap_nl_family, 0,
				BLKSNAP_CMD_VERSION);
	if (!hdr ||
	    nla_put_u32(msg, BLKSNAP_A_VERSION_MAJOR, BLKSNAP_VERSION_MAJOR) ||
	    nla_put_u32(msg, BLKSNAP_A_VERSION_MINOR, BLKSNAP_VERSION_MINOR) ||
	    nla_put_u32(msg, BLKSNAP_A_VERSION_PATCH, BLKSNAP_VERSION_PATCH)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/**
 * blksnap_nl_get_dev() - the device a request names
 * @attrs: the request's attributes
 * @extack: where to say what is wrong
 * @dev: filled with the device number on success
 *
 * A request names a device by dev-path or by dev-major and dev-minor.
 * Whether a device has that number is for the caller to find out.
 *
 * Context: process context, may sleep (path lookup).
 * Return: 0; -EINVAL if the device is not named or named twice; the
 * errno of the path lookup (-ENOENT, -ENOTBLK, ...).
 */
int blksnap_nl_get_dev(struct nlattr **attrs, struct netlink_ext_ack *extack,
		       dev_t *dev)
{
	struct nlattr *path = attrs[BLKSNAP_A_DEV_PATH];
	int ret;

	if (path) {
		if (attrs[BLKSNAP_A_DEV_MAJOR] || attrs[BLKSNAP_A_DEV_MINOR]) {
			NL_SET_ERR_MSG_ATTR(extack, path,
					    "give either dev-path or dev-major and dev-minor");
			return -EINVAL;
		}
		ret = lookup_bdev(nla_data(path), dev);
		if (ret == -ENOTBLK)
			NL_SET_ERR_MSG_ATTR(extack, path, "not a block device");
		else if (ret)
			NL_SET_ERR_MSG_ATTR(extack, path,
					    "cannot look up the device path");
		return ret;
	}
	if (NL_REQ_ATTR_CHECK(extack, NULL, attrs, BLKSNAP_A_DEV_MAJOR) ||
	    NL_REQ_ATTR_CHECK(extack, NULL, attrs, BLKSNAP_A_DEV_MINOR)) {
		NL_SET_ERR_MSG(extack,
			       "device missing: give dev-major and dev-minor, or dev-path");
		return -EINVAL;
	}
	*dev = MKDEV(nla_get_u32(attrs[BLKSNAP_A_DEV_MAJOR]),
		     nla_get_u32(attrs[BLKSNAP_A_DEV_MINOR]));
	return 0;
}

/**
 * blksnap_nl_check_admin() - refuse a caller without CAP_SYS_ADMIN
 * @skb: the request
 * @extack: where to say why
 *
 * GENL_ADMIN_PERM only asks for CAP_NET_ADMIN; block devices want more.
 *
 * Context: process context.
 * Return: 0 or -EPERM.
 */
int blksnap_nl_check_admin(struct sk_buff *skb, struct netlink_ext_ack *extack)
{
	if (netlink_capable(skb, CAP_SYS_ADMIN))
		return 0;
	NL_SET_ERR_MSG(extack, "CAP_SYS_ADMIN is required");
	return -EPERM;
}

/**
 * blksnap_nl_has_listeners() - whether anyone listens to the events group
 *
 * Context: any.
 */
bool blksnap_nl_has_listeners(void)
{
	return genl_has_listeners(&blksnap_nl_family, &init_net,
				  BLKSNAP_NLGRP_EVENTS);
}

/**
 * blksnap_nl_multicast() - send a finished event message to the group
 * @skb: the message; consumed
 *
 * Context: process context, may sleep.
 */
void blksnap_nl_multicast(struct sk_buff *skb)
{
	genlmsg_multicast(&blksnap_nl_family, skb, 0, BLKSNAP_NLGRP_EVENTS,
			  GFP_KERNEL);
}

/**
 * blksnap_nl_init() - register the family
 *
 * Context: module init, may sleep.
 * Return: 0 or a negative errno.
 */
int blksnap_nl_init(void)
{
	return genl_register_family(&blksnap_nl_family);
}

/**
 * blksnap_nl_exit() - unregister the family; waits for running handlers
 *
 * Context: module exit, may sleep.
 */
void blksnap_nl_exit(void)
{
	genl_unregister_family(&blksnap_nl_family);
}
