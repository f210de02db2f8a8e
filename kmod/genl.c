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

static struct netlink_range_validation blksnap_a_chunk_size_range = {
	.min	= BLKSNAP_CHUNK_SIZE_MIN,
	.max	= BLKSNAP_CHUNK_SIZE_MAX,
};

/*
 * The whole nested set, as the spec has it; a device to snapshot names
 * only the original (the handler refuses the rest).
 */
const struct nla_policy blksnap_device_nl_policy[BLKSNAP_A_DEVICE_ERROR + 1] = {
	[BLKSNAP_A_DEVICE_DEV_MAJOR] = NLA_POLICY_MAX(NLA_U32, 4095),
	[BLKSNAP_A_DEVICE_DEV_MINOR] = NLA_POLICY_FULL_RANGE(NLA_U32, &blksnap_a_dev_minor_range),
	[BLKSNAP_A_DEVICE_DEV_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
	[BLKSNAP_A_DEVICE_IMAGE_MAJOR] = { .type = NLA_U32, },
	[BLKSNAP_A_DEVICE_IMAGE_MINOR] = { .type = NLA_U32, },
	[BLKSNAP_A_DEVICE_IMAGE_NAME] = { .type = NLA_NUL_STRING, },
	[BLKSNAP_A_DEVICE_SNAP_NUMBER] = { .type = NLA_U8, },
	[BLKSNAP_A_DEVICE_GENERATION_ID] = NLA_POLICY_EXACT_LEN(BLKSNAP_GENERATION_ID_LEN),
	[BLKSNAP_A_DEVICE_ERROR] = { .type = NLA_U32, },
};

const struct nla_policy blksnap_storage_range_nl_policy[BLKSNAP_A_STORAGE_COUNT + 1] = {
	[BLKSNAP_A_STORAGE_DEV_MAJOR] = NLA_POLICY_MAX(NLA_U32, 4095),
	[BLKSNAP_A_STORAGE_DEV_MINOR] = NLA_POLICY_FULL_RANGE(NLA_U32, &blksnap_a_dev_minor_range),
	[BLKSNAP_A_STORAGE_DEV_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
	[BLKSNAP_A_STORAGE_START] = { .type = NLA_U64, },
	[BLKSNAP_A_STORAGE_COUNT] = NLA_POLICY_MIN(NLA_U64, 1),
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
static const struct nla_policy blksnap_cbt_map_read_nl_policy[BLKSNAP_A_SNAPSHOT_ID + 1] = {
	[BLKSNAP_A_DEV_MAJOR] = NLA_POLICY_MAX(NLA_U32, 4095),
	[BLKSNAP_A_DEV_MINOR] = NLA_POLICY_FULL_RANGE(NLA_U32, &blksnap_a_dev_minor_range),
	[BLKSNAP_A_MAP_OFFSET] = { .type = NLA_U64, },
	[BLKSNAP_A_MAP_LENGTH] = NLA_POLICY_MIN(NLA_U64, 1),
	[BLKSNAP_A_DEV_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
	[BLKSNAP_A_SNAPSHOT_ID] = NLA_POLICY_EXACT_LEN(BLKSNAP_GENERATION_ID_LEN),
};

/* BLKSNAP_CMD_CBT_MARK_DIRTY - do */
static const struct nla_policy blksnap_cbt_mark_dirty_nl_policy[BLKSNAP_A_DEV_PATH + 1] = {
	[BLKSNAP_A_DEV_MAJOR] = NLA_POLICY_MAX(NLA_U32, 4095),
	[BLKSNAP_A_DEV_MINOR] = NLA_POLICY_FULL_RANGE(NLA_U32, &blksnap_a_dev_minor_range),
	[BLKSNAP_A_RANGE] = NLA_POLICY_NESTED(blksnap_range_nl_policy),
	[BLKSNAP_A_DEV_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
};

/* BLKSNAP_CMD_SNAPSHOT_CREATE - do */
static const struct nla_policy blksnap_snapshot_create_nl_policy[BLKSNAP_A_LOW_FREE_SECTORS + 1] = {
	[BLKSNAP_A_DEVICE] = NLA_POLICY_NESTED(blksnap_device_nl_policy),
	[BLKSNAP_A_CHUNK_SIZE] = NLA_POLICY_FULL_RANGE(NLA_U32, &blksnap_a_chunk_size_range),
	[BLKSNAP_A_LOW_FREE_SECTORS] = { .type = NLA_U64, },
};

/*
 * BLKSNAP_CMD_SNAPSHOT_DESTROY, BLKSNAP_CMD_SNAPSHOT_GET,
 * BLKSNAP_CMD_SNAPSHOT_TAKE - do: a snapshot
 */
static const struct nla_policy blksnap_snapshot_nl_policy[BLKSNAP_A_SNAPSHOT_ID + 1] = {
	[BLKSNAP_A_SNAPSHOT_ID] = NLA_POLICY_EXACT_LEN(BLKSNAP_GENERATION_ID_LEN),
};

/* BLKSNAP_CMD_SNAPSHOT_APPEND_STORAGE - do */
static const struct nla_policy
blksnap_snapshot_append_storage_nl_policy[BLKSNAP_A_STORAGE_LIMIT + 1] = {
	[BLKSNAP_A_SNAPSHOT_ID] = NLA_POLICY_EXACT_LEN(BLKSNAP_GENERATION_ID_LEN),
	[BLKSNAP_A_STORAGE_RANGE] = NLA_POLICY_NESTED(blksnap_storage_range_nl_policy),
	[BLKSNAP_A_STORAGE_FD] = { .type = NLA_U32, },
	[BLKSNAP_A_STORAGE_LIMIT] = NLA_POLICY_MIN(NLA_U64, 1),
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
		.maxattr	= BLKSNAP_A_SNAPSHOT_ID,
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
	{
		.cmd		= BLKSNAP_CMD_SNAPSHOT_CREATE,
		.doit		= blksnap_nl_snapshot_create_doit,
		.policy		= blksnap_snapshot_create_nl_policy,
		.maxattr	= BLKSNAP_A_LOW_FREE_SECTORS,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= BLKSNAP_CMD_SNAPSHOT_DESTROY,
		.doit		= blksnap_nl_snapshot_destroy_doit,
		.policy		= blksnap_snapshot_nl_policy,
		.maxattr	= BLKSNAP_A_SNAPSHOT_ID,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= BLKSNAP_CMD_SNAPSHOT_GET,
		.doit		= blksnap_nl_snapshot_get_doit,
		.dumpit		= blksnap_nl_snapshot_get_dumpit,
		.policy		= blksnap_snapshot_nl_policy,
		.maxattr	= BLKSNAP_A_SNAPSHOT_ID,
	},
	{
		.cmd		= BLKSNAP_CMD_SNAPSHOT_APPEND_STORAGE,
		.doit		= blksnap_nl_snapshot_append_storage_doit,
		.policy		= blksnap_snapshot_append_storage_nl_policy,
		.maxattr	= BLKSNAP_A_STORAGE_LIMIT,
		.flags		= GENL_ADMIN_PERM,
	},
	{
		.cmd		= BLKSNAP_CMD_SNAPSHOT_TAKE,
		.doit		= blksnap_nl_snapshot_take_doit,
		.policy		= blksnap_snapshot_nl_policy,
		.maxattr	= BLKSNAP_A_SNAPSHOT_ID,
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
 * __blksnap_nl_get_dev() - the device that attributes name
 * @attrs: parsed attributes (of a message or of a nest)
 * @major: type of the major number attribute
 * @minor: type of the minor number attribute
 * @path: type of the path attribute
 * @nest: the nest holding @attrs, or NULL for the message
 * @extack: where to say what is wrong
 * @dev: filled with the device number on success
 *
 * A device is named by a path or by major and minor numbers.  Whether a
 * device has that number is for the caller to find out.
 *
 * Context: process context, may sleep (path lookup).
 * Return: 0; -EINVAL if the device is not named or named twice; the
 * errno of the path lookup (-ENOENT, -ENOTBLK, ...).
 */
int __blksnap_nl_get_dev(struct nlattr **attrs, int major, int minor,
			 int path, const struct nlattr *nest,
			 struct netlink_ext_ack *extack, dev_t *dev)
{
	int ret;

	if (attrs[path]) {
		if (attrs[major] || attrs[minor]) {
			NL_SET_ERR_MSG_ATTR(extack, attrs[path],
					    "give either dev-path or dev-major and dev-minor");
			return -EINVAL;
		}
		ret = lookup_bdev(nla_data(attrs[path]), dev);
		if (ret == -ENOTBLK)
			NL_SET_ERR_MSG_ATTR(extack, attrs[path],
					    "not a block device");
		else if (ret)
			NL_SET_ERR_MSG_ATTR(extack, attrs[path],
					    "cannot look up the device path");
		return ret;
	}
	if (NL_REQ_ATTR_CHECK(extack, nest, attrs, major) ||
	    NL_REQ_ATTR_CHECK(extack, nest, attrs, minor)) {
		NL_SET_ERR_MSG(extack,
			       "device missing: give dev-major and dev-minor, or dev-path");
		return -EINVAL;
	}
	*dev = MKDEV(nla_get_u32(attrs[major]), nla_get_u32(attrs[minor]));
	return 0;
}

/**
 * blksnap_nl_get_dev() - the device a request names at its top level
 * @attrs: the request's attributes
 * @extack: where to say what is wrong
 * @dev: filled with the device number on success
 *
 * Context: process context, may sleep.
 * Return: as __blksnap_nl_get_dev().
 */
int blksnap_nl_get_dev(struct nlattr **attrs, struct netlink_ext_ack *extack,
		       dev_t *dev)
{
	return __blksnap_nl_get_dev(attrs, BLKSNAP_A_DEV_MAJOR,
				    BLKSNAP_A_DEV_MINOR, BLKSNAP_A_DEV_PATH,
				    NULL, extack, dev);
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
