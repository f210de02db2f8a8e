/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The blksnap generic netlink family, as netlink-spec/blksnap.yaml
 * describes it: policies, operations and multicast groups, in the layout
 * of the kernel's YNL generator (genl_ops with per-op policies, which both
 * 6.1 and 6.12 accept).
 */
#ifndef __BLKSNAP_GENL_H
#define __BLKSNAP_GENL_H

#include <net/netlink.h>
#include <net/genetlink.h>
#include <linux/uuid.h>
#include <uapi/linux/blksnap.h>

/* Common nested types */
extern const struct nla_policy blksnap_range_nl_policy[BLKSNAP_A_RANGE_COUNT + 1];
extern const struct nla_policy blksnap_device_nl_policy[BLKSNAP_A_DEVICE_ERROR + 1];
extern const struct nla_policy blksnap_storage_range_nl_policy[BLKSNAP_A_STORAGE_COUNT + 1];

/* Ops table for blksnap */
int blksnap_nl_version_doit(struct sk_buff *skb, struct genl_info *info);
int blksnap_nl_tracker_attach_doit(struct sk_buff *skb, struct genl_info *info);
int blksnap_nl_tracker_detach_doit(struct sk_buff *skb, struct genl_info *info);
int blksnap_nl_tracker_get_doit(struct sk_buff *skb, struct genl_info *info);
int blksnap_nl_tracker_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb);
int blksnap_nl_cbt_map_read_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb);
int blksnap_nl_cbt_mark_dirty_doit(struct sk_buff *skb, struct genl_info *info);
int blksnap_nl_cbt_reset_doit(struct sk_buff *skb, struct genl_info *info);
int blksnap_nl_snapshot_create_doit(struct sk_buff *skb, struct genl_info *info);
int blksnap_nl_snapshot_destroy_doit(struct sk_buff *skb,
				     struct genl_info *info);
int blksnap_nl_snapshot_get_doit(struct sk_buff *skb, struct genl_info *info);
int blksnap_nl_snapshot_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb);
int blksnap_nl_snapshot_append_storage_doit(struct sk_buff *skb,
					    struct genl_info *info);
int blksnap_nl_snapshot_take_doit(struct sk_buff *skb, struct genl_info *info);

enum {
	BLKSNAP_NLGRP_EVENTS,
};

extern struct genl_family blksnap_nl_family;

int blksnap_nl_init(void);
void blksnap_nl_exit(void);

int __blksnap_nl_get_dev(struct nlattr **attrs, int major, int minor,
			 int path, const struct nlattr *nest,
			 struct netlink_ext_ack *extack, dev_t *dev);
int blksnap_nl_get_dev(struct nlattr **attrs, struct netlink_ext_ack *extack,
		       dev_t *dev);
int blksnap_nl_check_admin(struct sk_buff *skb,
			   struct netlink_ext_ack *extack);
void blksnap_nl_multicast(struct sk_buff *skb);
bool blksnap_nl_has_listeners(void);

struct cbt_map_info;
struct snapshot;

/* Events of the core, sent from process context. */
void blksnap_nl_notify_tracker_change(dev_t dev,
				      const struct cbt_map_info *info);
void blksnap_nl_notify_snapshot(u8 cmd, struct snapshot *snapshot);
void blksnap_nl_notify_snapshot_del(const uuid_t *id);
void blksnap_nl_notify_snapshot_low_space(struct snapshot *snapshot);
void blksnap_nl_notify_snapshot_corrupted(struct snapshot *snapshot);

#endif /* __BLKSNAP_GENL_H */
