// SPDX-License-Identifier: GPL-2.0
/*
 * The netlink operations on snapshots, and the events about them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-nl: " fmt

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include "diff_storage.h"
#include "genl.h"
#include "snapimage.h"
#include "snapshot.h"

/*
 * The generation of the list of snapshots, for dumps: advanced at every
 * snapshot added or destroyed (from the add and del events, which the
 * snapshot code sends under snapshot_lock()), never 0.  A dump resumes by
 * a count of snapshots already sent, so one that spans a change is
 * flagged NLM_F_DUMP_INTR.  Protected by snapshot_lock().
 */
static unsigned int blksnap_nl_snapshot_seq = 1;

static void __blksnap_nl_snapshot_list_changed(void)
{
	if (!++blksnap_nl_snapshot_seq)
		blksnap_nl_snapshot_seq = 1;
}

static u32 blksnap_nl_snapshot_state(struct snapshot *snapshot)
{
	if (READ_ONCE(snapshot->error))
		return BLKSNAP_SNAPSHOT_STATE_CORRUPTED;
	if (snapshot->taken)
		return BLKSNAP_SNAPSHOT_STATE_TAKEN;
	return BLKSNAP_SNAPSHOT_STATE_CREATED;
}

static int blksnap_nl_put_device(struct sk_buff *skb, struct snapshot *snapshot,
				 struct snapshot_dev *sd)
{
	struct nlattr *nest = nla_nest_start(skb, BLKSNAP_A_DEVICE);

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, BLKSNAP_A_DEVICE_DEV_MAJOR, MAJOR(sd->dev)) ||
	    nla_put_u32(skb, BLKSNAP_A_DEVICE_DEV_MINOR, MINOR(sd->dev)) ||
	    nla_put_u32(skb, BLKSNAP_A_DEVICE_ERROR, sd->error))
		goto cancel;
	if (snapshot->taken && sd->image &&
	    (nla_put_u32(skb, BLKSNAP_A_DEVICE_IMAGE_MAJOR, sd->image->disk->major) ||
	     nla_put_u32(skb, BLKSNAP_A_DEVICE_IMAGE_MINOR,
			 sd->image->disk->first_minor) ||
	     nla_put_string(skb, BLKSNAP_A_DEVICE_IMAGE_NAME,
			    sd->image->disk->disk_name)))
		goto cancel;
	if (snapshot->taken &&
	    (nla_put_u8(skb, BLKSNAP_A_DEVICE_SNAP_NUMBER, sd->frozen.snap_number) ||
	     nla_put(skb, BLKSNAP_A_DEVICE_GENERATION_ID, BLKSNAP_GENERATION_ID_LEN,
		     &sd->frozen.generation_id)))
		goto cancel;
	nla_nest_end(skb, nest);
	return 0;

cancel:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
}

/* The snapshot's state, as in snapshot-get.  snapshot_lock() held. */
static int blksnap_nl_put_snapshot(struct sk_buff *skb,
				   struct snapshot *snapshot)
{
	sector_t total, used;
	unsigned int i;

	diff_storage_usage(&snapshot->storage, &total, &used);
	if (nla_put(skb, BLKSNAP_A_SNAPSHOT_ID, BLKSNAP_GENERATION_ID_LEN,
		    &snapshot->id) ||
	    nla_put_u32(skb, BLKSNAP_A_STATE, blksnap_nl_snapshot_state(snapshot)) ||
	    nla_put_u32(skb, BLKSNAP_A_CHUNK_SIZE, snapshot->chunk_size) ||
	    nla_put_u64_64bit(skb, BLKSNAP_A_LOW_FREE_SECTORS,
			      snapshot->storage.low_free, BLKSNAP_A_PAD) ||
	    nla_put_u64_64bit(skb, BLKSNAP_A_STORAGE_TOTAL, total, BLKSNAP_A_PAD) ||
	    nla_put_u64_64bit(skb, BLKSNAP_A_STORAGE_USED, used, BLKSNAP_A_PAD) ||
	    nla_put_u32(skb, BLKSNAP_A_ERROR, READ_ONCE(snapshot->error)))
		return -EMSGSIZE;
	for (i = 0; i < snapshot->nr_devs; i++)
		if (blksnap_nl_put_device(skb, snapshot, &snapshot->devs[i]))
			return -EMSGSIZE;
	return 0;
}

static int blksnap_nl_reply_snapshot(struct genl_info *info, const uuid_t *id)
{
	struct snapshot *snapshot;
	struct sk_buff *msg;
	void *hdr;
	int ret = -EMSGSIZE;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &blksnap_nl_family, 0,
				info->genlhdr->cmd);
	snapshot_lock();
	snapshot = __snapshot_find(id);
	if (!snapshot)
		ret = -ENOENT;
	else if (hdr && !blksnap_nl_put_snapshot(msg, snapshot))
		ret = 0;
	snapshot_unlock();
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static struct sk_buff *blksnap_nl_event_new(u8 cmd, void **hdr)
{
	struct sk_buff *msg;

	if (!blksnap_nl_has_listeners())
		return NULL;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return NULL;
	*hdr = genlmsg_put(msg, 0, 0, &blksnap_nl_family, 0, cmd);
	if (!*hdr) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static void blksnap_nl_event_send(struct sk_buff *msg, void *hdr, int ret)
{
	if (ret) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	blksnap_nl_multicast(msg);
}

/**
 * blksnap_nl_notify_snapshot() - announce a snapshot's new state
 * @cmd: BLKSNAP_CMD_SNAPSHOT_ADD_NTF or BLKSNAP_CMD_SNAPSHOT_CHANGE_NTF
 * @snapshot: the snapshot
 *
 * Context: process context, snapshot_lock() held.
 */
void blksnap_nl_notify_snapshot(u8 cmd, struct snapshot *snapshot)
{
	struct sk_buff *msg;
	void *hdr;

	if (cmd == BLKSNAP_CMD_SNAPSHOT_ADD_NTF)
		__blksnap_nl_snapshot_list_changed();

	msg = blksnap_nl_event_new(cmd, &hdr);
	if (msg)
		blksnap_nl_event_send(msg, hdr,
				      blksnap_nl_put_snapshot(msg, snapshot));
}

/**
 * blksnap_nl_notify_snapshot_del() - announce a destroyed snapshot
 * @id: its id
 *
 * Context: process context, snapshot_lock() held (the snapshot has just
 * left the list).
 */
void blksnap_nl_notify_snapshot_del(const uuid_t *id)
{
	struct sk_buff *msg;
	void *hdr;

	__blksnap_nl_snapshot_list_changed();

	msg = blksnap_nl_event_new(BLKSNAP_CMD_SNAPSHOT_DEL_NTF, &hdr);
	if (msg)
		blksnap_nl_event_send(msg, hdr,
				      nla_put(msg, BLKSNAP_A_SNAPSHOT_ID,
					      BLKSNAP_GENERATION_ID_LEN, id));
}

/**
 * blksnap_nl_notify_snapshot_low_space() - ask for more storage
 * @snapshot: the snapshot
 *
 * Wants the threshold's worth of sectors, at least a chunk.
 *
 * Context: process context, snapshot_lock() held.
 */
void blksnap_nl_notify_snapshot_low_space(struct snapshot *snapshot)
{
	sector_t total, used, wanted;
	struct sk_buff *msg;
	void *hdr;

	msg = blksnap_nl_event_new(BLKSNAP_CMD_SNAPSHOT_LOW_SPACE_NTF, &hdr);
	if (!msg)
		return;
	diff_storage_usage(&snapshot->storage, &total, &used);
	wanted = max_t(sector_t, snapshot->storage.low_free,
		       snapshot->chunk_size >> SECTOR_SHIFT);
	blksnap_nl_event_send(msg, hdr,
			      nla_put(msg, BLKSNAP_A_SNAPSHOT_ID,
				      BLKSNAP_GENERATION_ID_LEN, &snapshot->id) ||
			      nla_put_u64_64bit(msg, BLKSNAP_A_WANTED_SECTORS,
						wanted, BLKSNAP_A_PAD) ||
			      nla_put_u64_64bit(msg, BLKSNAP_A_STORAGE_TOTAL,
						total, BLKSNAP_A_PAD) ||
			      nla_put_u64_64bit(msg, BLKSNAP_A_STORAGE_USED,
						used, BLKSNAP_A_PAD));
}

/**
 * blksnap_nl_notify_snapshot_corrupted() - announce a corrupted snapshot
 * @snapshot: the snapshot, with the failed device's error set
 *
 * Context: process context, snapshot_lock() held.
 */
void blksnap_nl_notify_snapshot_corrupted(struct snapshot *snapshot)
{
	struct sk_buff *msg;
	unsigned int i;
	void *hdr;
	int ret;

	msg = blksnap_nl_event_new(BLKSNAP_CMD_SNAPSHOT_CORRUPTED_NTF, &hdr);
	if (!msg)
		return;
	ret = nla_put(msg, BLKSNAP_A_SNAPSHOT_ID, BLKSNAP_GENERATION_ID_LEN,
		      &snapshot->id) ||
	      nla_put_u32(msg, BLKSNAP_A_ERROR, READ_ONCE(snapshot->error));
	for (i = 0; !ret && i < snapshot->nr_devs; i++)
		if (snapshot->devs[i].error)
			ret = blksnap_nl_put_device(msg, snapshot,
						    &snapshot->devs[i]);
	blksnap_nl_event_send(msg, hdr, ret);
}

static int blksnap_nl_get_id(struct nlattr **attrs,
			     struct netlink_ext_ack *extack, uuid_t *id)
{
	if (NL_REQ_ATTR_CHECK(extack, NULL, attrs, BLKSNAP_A_SNAPSHOT_ID))
		return -EINVAL;
	memcpy(id, nla_data(attrs[BLKSNAP_A_SNAPSHOT_ID]), sizeof(*id));
	return 0;
}

/* The nth attribute of a type in a request, for error messages. */
static struct nlattr *blksnap_nl_nth_attr(struct genl_info *info, int type,
					  int n)
{
	struct nlattr *nla;
	int rem;

	nlmsg_for_each_attr(nla, info->nlhdr, GENL_HDRLEN, rem)
		if (nla_type(nla) == type && n-- == 0)
			return nla;
	return NULL;
}

/* A device to snapshot names the original only: no image, no state. */
static int blksnap_nl_device_only_original(struct nlattr **tb,
					   struct netlink_ext_ack *extack)
{
	int type;

	for (type = BLKSNAP_A_DEVICE_IMAGE_MAJOR; type <= BLKSNAP_A_DEVICE_ERROR;
	     type++) {
		if (tb[type]) {
			NL_SET_ERR_MSG_ATTR(extack, tb[type],
					    "a device to snapshot takes dev-major and dev-minor, or dev-path, only");
			return -EINVAL;
		}
	}
	return 0;
}

/**
 * blksnap_nl_snapshot_create_doit() - create a snapshot
 * @skb: the request
 * @info: the request's parsed attributes and extack
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno, the reason in extack.
 */
int blksnap_nl_snapshot_create_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *chunk_attr = info->attrs[BLKSNAP_A_CHUNK_SIZE];
	struct nlattr *tb[BLKSNAP_A_DEVICE_ERROR + 1];
	struct netlink_ext_ack *extack = info->extack;
	u32 chunk_size = snapshot_default_chunk_size();
	sector_t low_free = snapshot_default_low_free();
	unsigned int nr = 0, bad;
	struct nlattr *nla;
	dev_t *devs;
	uuid_t id;
	int rem, ret;

	ret = blksnap_nl_check_admin(skb, extack);
	if (ret)
		return ret;
	if (GENL_REQ_ATTR_CHECK(info, BLKSNAP_A_DEVICE))
		return -EINVAL;
	if (chunk_attr) {
		chunk_size = nla_get_u32(chunk_attr);
		if (!is_power_of_2(chunk_size)) {
			NL_SET_ERR_MSG_ATTR(extack, chunk_attr,
					    "chunk size must be a power of two");
			return -EINVAL;
		}
	}
	if (info->attrs[BLKSNAP_A_LOW_FREE_SECTORS])
		low_free = nla_get_u64(info->attrs[BLKSNAP_A_LOW_FREE_SECTORS]);

	nlmsg_for_each_attr(nla, info->nlhdr, GENL_HDRLEN, rem)
		if (nla_type(nla) == BLKSNAP_A_DEVICE)
			nr++;
	devs = kcalloc(nr, sizeof(*devs), GFP_KERNEL);
	if (!devs)
		return -ENOMEM;
	nr = 0;
	nlmsg_for_each_attr(nla, info->nlhdr, GENL_HDRLEN, rem) {
		if (nla_type(nla) != BLKSNAP_A_DEVICE)
			continue;
		ret = nla_parse_nested(tb, BLKSNAP_A_DEVICE_ERROR, nla,
				       blksnap_device_nl_policy, extack);
		if (!ret)
			ret = blksnap_nl_device_only_original(tb, extack);
		if (!ret)
			ret = __blksnap_nl_get_dev(tb, BLKSNAP_A_DEVICE_DEV_MAJOR,
						   BLKSNAP_A_DEVICE_DEV_MINOR,
						   BLKSNAP_A_DEVICE_DEV_PATH,
						   nla, extack, &devs[nr]);
		if (ret)
			goto out;
		nr++;
	}

	/*
	 * snapshot_create() sets @bad only for a refused device, not on
	 * -ENOMEM: look the attribute up only for the errors that have one.
	 */
	ret = snapshot_create(devs, nr, chunk_size, low_free, &id, &bad);
	if (ret == -EINVAL || ret == -ENOENT || ret == -EBUSY)
		nla = blksnap_nl_nth_attr(info, BLKSNAP_A_DEVICE, bad);
	switch (ret) {
	case 0:
		ret = blksnap_nl_reply_snapshot(info, &id);
		break;
	case -EINVAL:
		NL_SET_ERR_MSG_ATTR(extack, nla, "device is listed twice");
		break;
	case -ENOENT:
		NL_SET_ERR_MSG_ATTR(extack, nla, "device is not tracked");
		break;
	case -EBUSY:
		NL_SET_ERR_MSG_ATTR(extack, nla,
				    "device is already in a snapshot (or its disk or partition is)");
		break;
	default:
		NL_SET_ERR_MSG_MOD(extack, "cannot create the snapshot");
		break;
	}
out:
	kfree(devs);
	return ret;
}

/**
 * blksnap_nl_snapshot_destroy_doit() - destroy a snapshot
 * @skb: the request
 * @info: the request's parsed attributes and extack
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno, the reason in extack.
 */
int blksnap_nl_snapshot_destroy_doit(struct sk_buff *skb,
				     struct genl_info *info)
{
	uuid_t id;
	int ret;

	ret = blksnap_nl_check_admin(skb, info->extack);
	if (!ret)
		ret = blksnap_nl_get_id(info->attrs, info->extack, &id);
	if (ret)
		return ret;
	ret = snapshot_destroy(&id);
	if (ret == -ENOENT)
		NL_SET_ERR_MSG_MOD(info->extack, "no such snapshot");
	else if (ret == -EBUSY)
		NL_SET_ERR_MSG_MOD(info->extack,
				   "an image of the snapshot is open (image is open)");
	return ret;
}

/**
 * blksnap_nl_snapshot_get_doit() - the state of a snapshot
 * @skb: the request
 * @info: the request's parsed attributes and extack
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno, the reason in extack.
 */
int blksnap_nl_snapshot_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	uuid_t id;
	int ret;

	ret = blksnap_nl_get_id(info->attrs, info->extack, &id);
	if (ret)
		return ret;
	ret = blksnap_nl_reply_snapshot(info, &id);
	if (ret == -ENOENT)
		NL_SET_ERR_MSG_MOD(info->extack, "no such snapshot");
	return ret;
}

/**
 * blksnap_nl_snapshot_get_dumpit() - the state of every snapshot
 * @skb: the message to fill
 * @cb: the dump's state: args[0] counts the snapshots already sent
 *
 * A request that names a snapshot narrows the dump to it.  A dump during
 * which a snapshot was added or destroyed is flagged NLM_F_DUMP_INTR (it
 * may have skipped or repeated one): the client dumps again.
 *
 * Context: process context, may sleep.
 * Return: the length of @skb (0 when the dump is complete) or an errno.
 */
int blksnap_nl_snapshot_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb)
{
	struct nlattr *id_attr = blksnap_dump_attrs(cb)[BLKSNAP_A_SNAPSHOT_ID];
	struct snapshot *snapshot = NULL;
	long skip = cb->args[0], n = 0;
	void *hdr;

	snapshot_lock();
	cb->seq = blksnap_nl_snapshot_seq;
	while ((snapshot = __snapshot_next(snapshot))) {
		if (id_attr && memcmp(nla_data(id_attr), &snapshot->id,
				      BLKSNAP_GENERATION_ID_LEN))
			continue;
		if (n++ < skip)
			continue;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &blksnap_nl_family,
				  NLM_F_MULTI, BLKSNAP_CMD_SNAPSHOT_GET);
		if (!hdr)
			break;
		genl_dump_check_consistent(cb, hdr);
		if (blksnap_nl_put_snapshot(skb, snapshot)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0]++;
	}
	snapshot_unlock();
	return skb->len;
}

static void blksnap_nl_free_ranges(struct list_head *ranges)
{
	struct diff_storage_range *range, *tmp;

	list_for_each_entry_safe(range, tmp, ranges, link) {
		list_del(&range->link);
		diff_storage_range_free(range);
	}
}

/* The storage file of a request, as a range of the list. */
static int blksnap_nl_storage_file(struct genl_info *info,
				   struct list_head *ranges)
{
	struct nlattr *fd_attr = info->attrs[BLKSNAP_A_STORAGE_FD];
	struct netlink_ext_ack *extack = info->extack;
	struct diff_storage_range *range;
	struct file *file;
	u64 limit;

	if (GENL_REQ_ATTR_CHECK(info, BLKSNAP_A_STORAGE_LIMIT))
		return -EINVAL;
	file = fget(nla_get_u32(fd_attr));
	if (!file) {
		NL_SET_ERR_MSG_ATTR(extack, fd_attr, "bad file descriptor");
		return -EBADF;
	}
	if (!(file->f_mode & FMODE_WRITE)) {
		fput(file);
		NL_SET_ERR_MSG_ATTR(extack, fd_attr,
				    "file is not open for writing");
		return -EBADF;
	}
	if (!S_ISREG(file_inode(file)->i_mode)) {
		fput(file);
		NL_SET_ERR_MSG_ATTR(extack, fd_attr, "not a regular file");
		return -EINVAL;
	}
	/* Every write would land at the end, not where the chunk goes. */
	if (file->f_flags & O_APPEND) {
		fput(file);
		NL_SET_ERR_MSG_ATTR(extack, fd_attr,
				    "file is open with O_APPEND: chunks are written at their own offsets");
		return -EINVAL;
	}
	limit = nla_get_u64(info->attrs[BLKSNAP_A_STORAGE_LIMIT]);
	range = diff_storage_range_file(file, limit);
	if (IS_ERR(range))
		return PTR_ERR(range);
	list_add_tail(&range->link, ranges);
	return 0;
}

/* The storage ranges of a request, in order, as ranges of the list. */
static int blksnap_nl_storage_ranges(struct genl_info *info,
				     struct list_head *ranges)
{
	struct nlattr *tb[BLKSNAP_A_STORAGE_COUNT + 1];
	struct netlink_ext_ack *extack = info->extack;
	struct diff_storage_range *range;
	u64 start, count;
	struct nlattr *nla;
	dev_t dev;
	int rem, ret;

	nlmsg_for_each_attr(nla, info->nlhdr, GENL_HDRLEN, rem) {
		if (nla_type(nla) != BLKSNAP_A_STORAGE_RANGE)
			continue;
		ret = nla_parse_nested(tb, BLKSNAP_A_STORAGE_COUNT, nla,
				       blksnap_storage_range_nl_policy, extack);
		if (ret)
			return ret;
		ret = __blksnap_nl_get_dev(tb, BLKSNAP_A_STORAGE_DEV_MAJOR,
					   BLKSNAP_A_STORAGE_DEV_MINOR,
					   BLKSNAP_A_STORAGE_DEV_PATH, nla,
					   extack, &dev);
		if (ret)
			return ret;
		if (NL_REQ_ATTR_CHECK(extack, nla, tb, BLKSNAP_A_STORAGE_START) ||
		    NL_REQ_ATTR_CHECK(extack, nla, tb, BLKSNAP_A_STORAGE_COUNT))
			return -EINVAL;
		start = nla_get_u64(tb[BLKSNAP_A_STORAGE_START]);
		count = nla_get_u64(tb[BLKSNAP_A_STORAGE_COUNT]);
		range = diff_storage_range_bdev(dev, start, count);
		if (IS_ERR(range)) {
			ret = PTR_ERR(range);
			if (ret == -ERANGE)
				NL_SET_ERR_MSG_ATTR(extack, nla,
						    "storage range is past the end of its device");
			else if (ret == -ENODEV)
				NL_SET_ERR_MSG_ATTR(extack, nla,
						    "no block device has that number");
			return ret;
		}
		list_add_tail(&range->link, ranges);
	}
	return 0;
}

/**
 * blksnap_nl_snapshot_append_storage_doit() - give a snapshot storage
 * @skb: the request
 * @info: the request's parsed attributes and extack
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno, the reason in extack; on error nothing
 * was added.
 */
int blksnap_nl_snapshot_append_storage_doit(struct sk_buff *skb,
					    struct genl_info *info)
{
	bool has_fd = info->attrs[BLKSNAP_A_STORAGE_FD];
	bool has_ranges = info->attrs[BLKSNAP_A_STORAGE_RANGE];
	struct netlink_ext_ack *extack = info->extack;
	enum snapshot_storage_fault fault;
	struct nlattr *bad_attr;
	LIST_HEAD(ranges);
	int ret, bad;
	dev_t where;
	uuid_t id;

	ret = blksnap_nl_check_admin(skb, extack);
	if (!ret)
		ret = blksnap_nl_get_id(info->attrs, extack, &id);
	if (ret)
		return ret;
	if (has_fd == has_ranges) {
		NL_SET_ERR_MSG_MOD(extack,
				   "give either storage ranges or a storage file");
		return -EINVAL;
	}
	ret = has_fd ? blksnap_nl_storage_file(info, &ranges) :
		       blksnap_nl_storage_ranges(info, &ranges);
	if (ret)
		goto out;

	ret = snapshot_append_storage(&id, &ranges, &bad, &fault, &where);
	bad_attr = has_fd ? info->attrs[BLKSNAP_A_STORAGE_FD] :
		   blksnap_nl_nth_attr(info, BLKSNAP_A_STORAGE_RANGE, bad);
	switch (ret) {
	case 0:
		ret = blksnap_nl_reply_snapshot(info, &id);
		goto out;
	case -ENOENT:
		NL_SET_ERR_MSG_MOD(extack, "no such snapshot");
		goto out;
	case -EIO:
		NL_SET_ERR_MSG_MOD(extack, "snapshot is corrupted");
		goto out;
	}
	switch (fault) {
	case SNAPSHOT_STORAGE_IMAGE:
		NL_SET_ERR_MSG_ATTR(extack, bad_attr,
				    "storage on a snapshot image would recurse");
		break;
	case SNAPSHOT_STORAGE_RECURSES:
		if (has_fd)
			BLKSNAP_NL_ERR_ATTR_DEV(extack, bad_attr, where,
						"a file on a device of this snapshot, of another one, or of a stack (dm, md, loop) on one, would recurse",
						"would recurse: a file on a device of this snapshot or another:");
		else
			BLKSNAP_NL_ERR_ATTR_DEV(extack, bad_attr, where,
						"storage on a device of another snapshot, or of a stack (dm, md, loop) on a snapshot's device, would recurse",
						"would recurse: another snapshot's device, or a stack on one:");
		break;
	case SNAPSHOT_STORAGE_UNKNOWN_FS:
		BLKSNAP_NL_ERR_ATTR_DEV(extack, bad_attr, where,
					"storage on a file system without a block device (btrfs, FUSE, NFS...): which devices it writes to cannot be checked",
					"no block device to check for recursion: file system");
		break;
	case SNAPSHOT_STORAGE_SMALL:
		NL_SET_ERR_MSG_ATTR(extack, bad_attr,
				    "storage is smaller than a chunk");
		break;
	case SNAPSHOT_STORAGE_BLOCK_SIZE:
		NL_SET_ERR_MSG_ATTR(extack, bad_attr,
				    "storage device has a larger logical block size than the snapshot's devices");
		break;
	case SNAPSHOT_STORAGE_ALIGNMENT:
		NL_SET_ERR_MSG_ATTR(extack, bad_attr,
				    "storage range is not aligned to its device's logical block size");
		break;
	case SNAPSHOT_STORAGE_OVERLAP:
		NL_SET_ERR_MSG_ATTR(extack, bad_attr,
				    "storage range overlaps storage in use (on its disk, through a partition or not)");
		break;
	case SNAPSHOT_STORAGE_OK:
		if (ret == -EFBIG)
			NL_SET_ERR_MSG_MOD(extack,
					   "a snapshot's storage cannot exceed 2^62 sectors in all");
		else
			NL_SET_ERR_MSG_MOD(extack, "cannot add the storage");
		break;
	}
out:
	blksnap_nl_free_ranges(&ranges);
	return ret;
}

/**
 * blksnap_nl_snapshot_take_doit() - take a snapshot
 * @skb: the request
 * @info: the request's parsed attributes and extack
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno, the reason in extack.
 */
int blksnap_nl_snapshot_take_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	uuid_t id;
	int ret;

	ret = blksnap_nl_check_admin(skb, extack);
	if (!ret)
		ret = blksnap_nl_get_id(info->attrs, extack, &id);
	if (ret)
		return ret;
	ret = snapshot_take(&id);
	switch (ret) {
	case 0:
		return blksnap_nl_reply_snapshot(info, &id);
	case -ENOENT:
		NL_SET_ERR_MSG_MOD(extack, "no such snapshot");
		break;
	case -EALREADY:
		NL_SET_ERR_MSG_MOD(extack, "snapshot is already taken");
		break;
	case -ENOSPC:
		NL_SET_ERR_MSG_MOD(extack, "snapshot has no difference storage");
		break;
	default:
		NL_SET_ERR_MSG_MOD(extack,
				   "cannot take the snapshot (freeze or memory)");
		break;
	}
	return ret;
}
