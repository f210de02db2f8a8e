// SPDX-License-Identifier: GPL-2.0
/*
 * The netlink operations on trackers and their CBT maps, and the events
 * about trackers.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-nl: " fmt

#include <linux/kernel.h>
#include <linux/log2.h>
#include <net/genetlink.h>
#include "cbt_map.h"
#include "genl.h"
#include "snapshot.h"
#include "tracker.h"

/*
 * Bytes of CBT map in one message of a map read: at most this many (an
 * attribute's length is 16 bits), else what the dump buffer has room for,
 * but not fewer than BLKSNAP_NL_MAP_SLICE_MIN unless that is all there is
 * left to send.
 */
#define BLKSNAP_NL_MAP_SLICE_MAX	32768
#define BLKSNAP_NL_MAP_SLICE_MIN	256

static int blksnap_nl_put_tracker(struct sk_buff *skb, dev_t dev,
				  const struct cbt_map_info *info)
{
	if (nla_put_u32(skb, BLKSNAP_A_DEV_MAJOR, MAJOR(dev)) ||
	    nla_put_u32(skb, BLKSNAP_A_DEV_MINOR, MINOR(dev)))
		return -EMSGSIZE;
	if (!info)
		return 0;
	if (nla_put_u32(skb, BLKSNAP_A_BLOCK_SIZE, info->block_size) ||
	    nla_put_u64_64bit(skb, BLKSNAP_A_BLOCK_COUNT, info->block_count,
			      BLKSNAP_A_PAD) ||
	    nla_put_u64_64bit(skb, BLKSNAP_A_CAPACITY, info->capacity,
			      BLKSNAP_A_PAD) ||
	    nla_put(skb, BLKSNAP_A_GENERATION_ID, BLKSNAP_GENERATION_ID_LEN,
		    &info->generation_id) ||
	    nla_put_u8(skb, BLKSNAP_A_SNAP_NUMBER, info->snap_number))
		return -EMSGSIZE;
	return 0;
}

static int blksnap_nl_reply_tracker(struct genl_info *info, dev_t dev,
				    const struct cbt_map_info *map_info)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &blksnap_nl_family, 0,
				info->genlhdr->cmd);
	if (!hdr || blksnap_nl_put_tracker(msg, dev, map_info)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/*
 * Tell the events group about a tracker: attached (with its info),
 * changed (with its info) or detached (@map_info NULL).  An event that
 * cannot be allocated is lost; listeners resynchronise with a dump.
 */
static void __blksnap_nl_notify_tracker(u8 cmd, dev_t dev,
					const struct cbt_map_info *map_info)
{
	struct sk_buff *msg;
	void *hdr;

	if (!blksnap_nl_has_listeners())
		return;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &blksnap_nl_family, 0, cmd);
	if (!hdr || blksnap_nl_put_tracker(msg, dev, map_info)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	blksnap_nl_multicast(msg);
}

/**
 * blksnap_nl_notify_tracker_change() - announce a new CBT generation or
 * snap number
 * @dev: the device
 * @info: its map's metadata now
 *
 * Context: process context.
 */
void blksnap_nl_notify_tracker_change(dev_t dev,
				      const struct cbt_map_info *info)
{
	__blksnap_nl_notify_tracker(BLKSNAP_CMD_TRACKER_CHANGE_NTF, dev, info);
}

/* The tracker a request names, or NULL with the error said. */
static struct tracker *__blksnap_nl_find_tracker(dev_t dev,
						 struct netlink_ext_ack *extack)
{
	struct tracker *tracker = __tracker_find(dev);

	if (!tracker)
		NL_SET_ERR_MSG_MOD(extack, "device is not tracked");
	return tracker;
}

/**
 * blksnap_nl_tracker_attach_doit() - attach a tracker to a device
 * @skb: the request
 * @info: the request's parsed attributes and extack
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno, the reason in extack.
 */
int blksnap_nl_tracker_attach_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *block_size_attr = info->attrs[BLKSNAP_A_BLOCK_SIZE];
	struct netlink_ext_ack *extack = info->extack;
	struct cbt_map_info map_info;
	u32 block_size = 0;
	dev_t dev;
	int ret;

	ret = blksnap_nl_check_admin(skb, extack);
	if (ret)
		return ret;
	ret = blksnap_nl_get_dev(info->attrs, extack, &dev);
	if (ret)
		return ret;
	if (block_size_attr) {
		block_size = nla_get_u32(block_size_attr);
		if (!is_power_of_2(block_size)) {
			NL_SET_ERR_MSG_ATTR(extack, block_size_attr,
					    "block size must be a power of two");
			return -EINVAL;
		}
	}

	ret = tracker_attach(dev, block_size, &map_info);
	switch (ret) {
	case 0:
		break;
	case -EEXIST:
		NL_SET_ERR_MSG_MOD(extack, "device is already tracked");
		return ret;
	case -ENXIO:
	case -ENODEV:
		NL_SET_ERR_MSG_MOD(extack, "no block device has that number");
		return -ENODEV;
	case -ENOMEDIUM:
		NL_SET_ERR_MSG_MOD(extack, "device has no capacity");
		return ret;
	case -EOPNOTSUPP:
		NL_SET_ERR_MSG_MOD(extack,
				   "zoned devices cannot be tracked: zone appends and resets would escape copy-on-write");
		return ret;
	case -E2BIG:
		NL_SET_ERR_MSG_ATTR(extack, block_size_attr,
				    "block size too small for the device: the map would have more than 16 Mi blocks");
		return ret;
	default:
		NL_SET_ERR_MSG_MOD(extack, "cannot attach the tracker");
		return ret;
	}

	__blksnap_nl_notify_tracker(BLKSNAP_CMD_TRACKER_ADD_NTF, dev, &map_info);
	return blksnap_nl_reply_tracker(info, dev, &map_info);
}

/**
 * blksnap_nl_tracker_detach_doit() - detach the tracker of a device
 * @skb: the request
 * @info: the request's parsed attributes and extack
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno, the reason in extack.
 */
int blksnap_nl_tracker_detach_doit(struct sk_buff *skb, struct genl_info *info)
{
	dev_t dev;
	int ret;

	ret = blksnap_nl_check_admin(skb, info->extack);
	if (ret)
		return ret;
	ret = blksnap_nl_get_dev(info->attrs, info->extack, &dev);
	if (ret)
		return ret;
	ret = tracker_detach(dev);
	if (ret == -EBUSY) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "device is in a snapshot: destroy it first");
		return ret;
	}
	if (ret) {
		NL_SET_ERR_MSG_MOD(info->extack, "device is not tracked");
		return ret;
	}
	__blksnap_nl_notify_tracker(BLKSNAP_CMD_TRACKER_DEL_NTF, dev, NULL);
	return 0;
}

/**
 * blksnap_nl_tracker_get_doit() - the CBT information of one device
 * @skb: the request
 * @info: the request's parsed attributes and extack
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno, the reason in extack.
 */
int blksnap_nl_tracker_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct cbt_map_info map_info;
	struct tracker *tracker;
	dev_t dev;
	int ret;

	ret = blksnap_nl_get_dev(info->attrs, info->extack, &dev);
	if (ret)
		return ret;
	tracker_lock();
	tracker = __blksnap_nl_find_tracker(dev, info->extack);
	if (tracker)
		cbt_map_get_info(tracker->cbt_map, &map_info);
	tracker_unlock();
	if (!tracker)
		return -ENOENT;
	return blksnap_nl_reply_tracker(info, dev, &map_info);
}

/*
 * State of a tracker dump in netlink_callback.args: the next device number
 * to report, and whether the request named one device (then the only one
 * to report, and the dump ends after it).
 */
enum {
	BLKSNAP_NL_LIST_ARG_NEXT,
	BLKSNAP_NL_LIST_ARG_ONE,
};

/**
 * blksnap_nl_tracker_get_dumpit() - the CBT information of every device
 * @skb: the message to fill
 * @cb: the dump's state
 *
 * A request that names a device narrows the dump to that device.
 *
 * Context: process context, may sleep.
 * Return: the length of @skb (0 when the dump is complete) or an errno.
 */
int blksnap_nl_tracker_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb)
{
	struct nlattr **attrs = blksnap_dump_attrs(cb);
	dev_t dev = cb->args[BLKSNAP_NL_LIST_ARG_NEXT];
	struct cbt_map_info map_info;
	struct tracker *tracker;
	dev_t one = 0;
	void *hdr;
	int ret;

	if (attrs[BLKSNAP_A_DEV_PATH] || attrs[BLKSNAP_A_DEV_MAJOR] ||
	    attrs[BLKSNAP_A_DEV_MINOR]) {
		ret = blksnap_nl_get_dev(attrs, cb->extack, &one);
		if (ret)
			return ret;
		if (cb->args[BLKSNAP_NL_LIST_ARG_ONE])
			return 0;
		dev = one;
	}

	tracker_lock();
	while ((tracker = __tracker_next(&dev))) {
		if (one && dev != one)
			break;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &blksnap_nl_family,
				  NLM_F_MULTI, BLKSNAP_CMD_TRACKER_GET);
		if (!hdr)
			break;
		cbt_map_get_info(tracker->cbt_map, &map_info);
		if (blksnap_nl_put_tracker(skb, dev, &map_info)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		if (one) {
			cb->args[BLKSNAP_NL_LIST_ARG_ONE] = 1;
			break;
		}
		dev++;
	}
	tracker_unlock();
	cb->args[BLKSNAP_NL_LIST_ARG_NEXT] = dev;
	return skb->len;
}

/*
 * State of a CBT map read in netlink_callback.args: whether the request
 * was checked (and reads a live or a frozen map), the device, the next
 * block to send, the end of the requested slice, and the snapshot id of a
 * frozen map.
 */
enum {
	BLKSNAP_NL_MAP_ARG_STARTED,
	BLKSNAP_NL_MAP_ARG_DEV,
	BLKSNAP_NL_MAP_ARG_NEXT,
	BLKSNAP_NL_MAP_ARG_END,
	BLKSNAP_NL_MAP_ARG_ID,
};

enum {
	BLKSNAP_NL_MAP_LIVE = 1,
	BLKSNAP_NL_MAP_FROZEN,
};

static_assert(BLKSNAP_NL_MAP_ARG_ID * sizeof(long) + sizeof(uuid_t) <=
	      sizeof_field(struct netlink_callback, args));

/*
 * The device of a snapshot whose frozen map a read wants, or an errno
 * with the reason said.  snapshot_lock() held.
 */
static struct snapshot_dev *
__blksnap_nl_frozen_map(const uuid_t *id, dev_t dev,
			struct netlink_ext_ack *extack)
{
	struct snapshot *snapshot = __snapshot_find(id);
	unsigned int i;

	if (!snapshot) {
		NL_SET_ERR_MSG_MOD(extack, "no such snapshot");
		return ERR_PTR(-ENOENT);
	}
	for (i = 0; i < snapshot->nr_devs; i++) {
		if (snapshot->devs[i].dev != dev)
			continue;
		if (!snapshot->taken) {
			NL_SET_ERR_MSG_MOD(extack, "snapshot is not taken yet");
			return ERR_PTR(-ENODATA);
		}
		return &snapshot->devs[i];
	}
	NL_SET_ERR_MSG_MOD(extack, "device is not in the snapshot");
	return ERR_PTR(-EINVAL);
}

/*
 * Check a CBT map read request and set up the dump's args.  This runs in
 * the first dumpit call, not in a start callback: 6.1 gives a start
 * callback no extack, and every refusal must say why.
 */
static int blksnap_nl_cbt_map_read_begin(struct netlink_callback *cb)
{
	struct nlattr **attrs = blksnap_dump_attrs(cb);
	struct nlattr *offset_attr = attrs[BLKSNAP_A_MAP_OFFSET];
	struct nlattr *length_attr = attrs[BLKSNAP_A_MAP_LENGTH];
	u64 offset = 0, length, block_count;
	struct tracker *tracker;
	long mode;
	dev_t dev;
	int ret;

	ret = blksnap_nl_check_admin(cb->skb, cb->extack);
	if (ret)
		return ret;
	ret = blksnap_nl_get_dev(attrs, cb->extack, &dev);
	if (ret)
		return ret;

	tracker_lock();
	tracker = __blksnap_nl_find_tracker(dev, cb->extack);
	block_count = tracker ? tracker->cbt_map->block_count : 0;
	tracker_unlock();
	if (!tracker)
		return -ENOENT;

	mode = BLKSNAP_NL_MAP_LIVE;
	if (attrs[BLKSNAP_A_SNAPSHOT_ID]) {
		struct snapshot_dev *sd;

		memcpy(&cb->args[BLKSNAP_NL_MAP_ARG_ID],
		       nla_data(attrs[BLKSNAP_A_SNAPSHOT_ID]), sizeof(uuid_t));
		snapshot_lock();
		sd = __blksnap_nl_frozen_map((uuid_t *)&cb->args[BLKSNAP_NL_MAP_ARG_ID],
					     dev, cb->extack);
		snapshot_unlock();
		if (IS_ERR(sd))
			return PTR_ERR(sd);
		mode = BLKSNAP_NL_MAP_FROZEN;
	}

	if (offset_attr)
		offset = nla_get_u64(offset_attr);
	if (offset >= block_count) {
		NL_SET_ERR_MSG_ATTR(cb->extack, offset_attr,
				    "offset is past the end of the map");
		return -ERANGE;
	}
	length = block_count - offset;
	if (length_attr) {
		if (nla_get_u64(length_attr) > length) {
			NL_SET_ERR_MSG_ATTR(cb->extack, length_attr,
					    "length goes past the end of the map");
			return -ERANGE;
		}
		length = nla_get_u64(length_attr);
	}

	cb->args[BLKSNAP_NL_MAP_ARG_STARTED] = mode;
	cb->args[BLKSNAP_NL_MAP_ARG_DEV] = dev;
	cb->args[BLKSNAP_NL_MAP_ARG_NEXT] = offset;
	cb->args[BLKSNAP_NL_MAP_ARG_END] = offset + length;
	return 0;
}

/*
 * How many blocks of a map read the next message in @skb can carry, out
 * of @want: the first buffer of a dump is small (NLMSG_GOODSIZE until the
 * socket has received something larger), so each slice is cut to the room
 * left for it beside the message and generic netlink headers, the
 * generation id, the offset and the data attribute's header.  0 when the
 * room left is too small for a slice worth a message.
 */
static u32 blksnap_nl_map_slice_len(struct sk_buff *skb, u64 want)
{
	int room = skb_tailroom(skb) -
		   (int)(NLMSG_ALIGN(NLMSG_HDRLEN + GENL_HDRLEN) +
			 nla_total_size(BLKSNAP_GENERATION_ID_LEN) +
			 nla_total_size_64bit(sizeof(u64)) + NLA_HDRLEN);
	u32 len;

	if (room <= 0)
		return 0;
	len = min_t(u64, want, min(round_down(room, NLA_ALIGNTO),
				   BLKSNAP_NL_MAP_SLICE_MAX));
	if (len < want && len < BLKSNAP_NL_MAP_SLICE_MIN)
		return 0;
	return len;
}

/*
 * One message of a map read: @len blocks from @offset of the live map
 * @cbt_map, or of the frozen map @frozen of generation @frozen_gen.
 */
static int blksnap_nl_put_map_slice(struct sk_buff *skb,
				    struct netlink_callback *cb,
				    struct cbt_map *cbt_map, const u8 *frozen,
				    const uuid_t *frozen_gen, u64 offset,
				    u32 len)
{
	struct nlattr *gen_attr, *data_attr;
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &blksnap_nl_family, NLM_F_MULTI,
			  BLKSNAP_CMD_CBT_MAP_READ);
	if (!hdr)
		return -EMSGSIZE;
	gen_attr = nla_reserve(skb, BLKSNAP_A_GENERATION_ID,
			       BLKSNAP_GENERATION_ID_LEN);
	if (!gen_attr ||
	    nla_put_u64_64bit(skb, BLKSNAP_A_MAP_OFFSET, offset, BLKSNAP_A_PAD))
		goto cancel;
	data_attr = nla_reserve(skb, BLKSNAP_A_MAP_DATA, len);
	if (!data_attr)
		goto cancel;
	if (frozen) {
		memcpy(nla_data(data_attr), frozen + offset, len);
		memcpy(nla_data(gen_attr), frozen_gen, BLKSNAP_GENERATION_ID_LEN);
	} else {
		cbt_map_read(cbt_map, offset, nla_data(data_attr), len,
			     nla_data(gen_attr));
	}
	genlmsg_end(skb, hdr);
	return 0;

cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/**
 * blksnap_nl_cbt_map_read_dumpit() - send the next slices of a CBT map
 * @skb: the message to fill
 * @cb: the dump's state; the first call checks the request
 *
 * If the tracker is detached during the dump, the dump ends with -ENODEV;
 * a reset shows as a new generation id in the following slices.
 *
 * Context: process context, may sleep.
 * Return: the length of @skb (0 when the dump is complete) or an errno.
 */
int blksnap_nl_cbt_map_read_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb)
{
	struct tracker *tracker;
	u64 next, end;
	dev_t dev;
	u32 len;
	int ret;

	if (!cb->args[BLKSNAP_NL_MAP_ARG_STARTED]) {
		ret = blksnap_nl_cbt_map_read_begin(cb);
		if (ret)
			return ret;
	}
	dev = cb->args[BLKSNAP_NL_MAP_ARG_DEV];
	next = cb->args[BLKSNAP_NL_MAP_ARG_NEXT];
	end = cb->args[BLKSNAP_NL_MAP_ARG_END];

	if (cb->args[BLKSNAP_NL_MAP_ARG_STARTED] == BLKSNAP_NL_MAP_FROZEN) {
		struct snapshot_dev *sd;

		snapshot_lock();
		sd = __blksnap_nl_frozen_map((uuid_t *)&cb->args[BLKSNAP_NL_MAP_ARG_ID],
					     dev, cb->extack);
		if (IS_ERR(sd)) {
			snapshot_unlock();
			return PTR_ERR(sd);
		}
		while (next < end) {
			len = blksnap_nl_map_slice_len(skb, end - next);
			if (!len ||
			    blksnap_nl_put_map_slice(skb, cb, NULL, sd->frozen_map,
						     &sd->frozen.generation_id,
						     next, len))
				break;
			next += len;
		}
		snapshot_unlock();
		goto out;
	}

	tracker_lock();
	tracker = __blksnap_nl_find_tracker(dev, cb->extack);
	if (!tracker) {
		tracker_unlock();
		return -ENODEV;
	}
	end = min(end, tracker->cbt_map->block_count);
	while (next < end) {
		len = blksnap_nl_map_slice_len(skb, end - next);
		if (!len ||
		    blksnap_nl_put_map_slice(skb, cb, tracker->cbt_map, NULL,
					     NULL, next, len))
			break;
		next += len;
	}
	tracker_unlock();
out:
	cb->args[BLKSNAP_NL_MAP_ARG_NEXT] = next;
	if (next < end && !skb->len)
		return -EMSGSIZE;
	return skb->len;
}

/*
 * Check every range of a mark-dirty request against the device before
 * any is marked; mark them all if they are good.
 */
static int __blksnap_nl_mark_ranges(struct genl_info *info,
				    struct cbt_map *cbt_map)
{
	struct nlattr *tb[BLKSNAP_A_RANGE_COUNT + 1];
	sector_t capacity = cbt_map->capacity;
	bool check = true;
	struct nlattr *nla;
	u64 start, count;
	int rem, ret;

again:
	nlmsg_for_each_attr(nla, info->nlhdr, GENL_HDRLEN, rem) {
		if (nla_type(nla) != BLKSNAP_A_RANGE)
			continue;
		ret = nla_parse_nested(tb, BLKSNAP_A_RANGE_COUNT, nla,
				       blksnap_range_nl_policy, info->extack);
		if (ret)
			return ret;
		if (NL_REQ_ATTR_CHECK(info->extack, nla, tb,
				      BLKSNAP_A_RANGE_START) ||
		    NL_REQ_ATTR_CHECK(info->extack, nla, tb,
				      BLKSNAP_A_RANGE_COUNT))
			return -EINVAL;
		start = nla_get_u64(tb[BLKSNAP_A_RANGE_START]);
		count = nla_get_u64(tb[BLKSNAP_A_RANGE_COUNT]);
		if (!check) {
			cbt_map_mark(cbt_map, start, count);
			continue;
		}
		if (start >= capacity) {
			NL_SET_ERR_MSG_ATTR(info->extack,
					    tb[BLKSNAP_A_RANGE_START],
					    "range starts past the end of the device");
			return -ERANGE;
		}
		if (count > capacity - start) {
			NL_SET_ERR_MSG_ATTR(info->extack,
					    tb[BLKSNAP_A_RANGE_COUNT],
					    "range ends past the end of the device");
			return -ERANGE;
		}
	}
	if (check) {
		check = false;
		goto again;
	}
	return 0;
}

/**
 * blksnap_nl_cbt_mark_dirty_doit() - mark ranges of a device as changed
 * @skb: the request
 * @info: the request's parsed attributes and extack
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno, the reason in extack; on error nothing
 * is marked.
 */
int blksnap_nl_cbt_mark_dirty_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct tracker *tracker;
	dev_t dev;
	int ret;

	ret = blksnap_nl_check_admin(skb, info->extack);
	if (ret)
		return ret;
	ret = blksnap_nl_get_dev(info->attrs, info->extack, &dev);
	if (ret)
		return ret;
	if (GENL_REQ_ATTR_CHECK(info, BLKSNAP_A_RANGE))
		return -EINVAL;

	tracker_lock();
	tracker = __blksnap_nl_find_tracker(dev, info->extack);
	if (tracker)
		ret = __blksnap_nl_mark_ranges(info, tracker->cbt_map);
	else
		ret = -ENOENT;
	tracker_unlock();
	return ret;
}

/**
 * blksnap_nl_cbt_reset_doit() - start a new CBT generation for a device
 * @skb: the request
 * @info: the request's parsed attributes and extack
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno, the reason in extack.
 */
int blksnap_nl_cbt_reset_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct cbt_map_info map_info;
	struct tracker *tracker;
	dev_t dev;
	int ret;

	ret = blksnap_nl_check_admin(skb, info->extack);
	if (ret)
		return ret;
	ret = blksnap_nl_get_dev(info->attrs, info->extack, &dev);
	if (ret)
		return ret;

	tracker_lock();
	tracker = __blksnap_nl_find_tracker(dev, info->extack);
	if (!tracker) {
		ret = -ENOENT;
		goto out_unlock;
	}
	ret = cbt_map_reset(tracker->cbt_map);
	if (ret) {
		NL_SET_ERR_MSG_MOD(info->extack, "no memory for a new map");
		goto out_unlock;
	}
	cbt_map_get_info(tracker->cbt_map, &map_info);
	tracker_unlock();

	__blksnap_nl_notify_tracker(BLKSNAP_CMD_TRACKER_CHANGE_NTF, dev, &map_info);
	return blksnap_nl_reply_tracker(info, dev, &map_info);

out_unlock:
	tracker_unlock();
	return ret;
}
