// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshots: a set of tracked devices snapshotted at one instant, their
 * difference storage, the take and the destroy, and what happens when the
 * storage overflows or fails.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-snapshot: " fmt

#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <uapi/linux/blksnap.h>
#include "diff_area.h"
#include "genl.h"
#include "snapimage.h"
#include "snapshot.h"
#include "stats.h"
#include "tracker.h"

static unsigned int chunk_size = 65536;
module_param_named(chunk_size, chunk_size, uint, 0644);
MODULE_PARM_DESC(chunk_size,
		 "Default copy-on-write chunk size in bytes, a power of two from 4 KiB to 8 MiB (default 65536)");

static unsigned long long low_free_sectors = 4194304;
module_param_named(low_free_sectors, low_free_sectors, ullong, 0644);
MODULE_PARM_DESC(low_free_sectors,
		 "Default free difference storage, in sectors, under which a snapshot asks for more (default 4194304: 2 GiB)");

static unsigned int copy_buffers = 8;
module_param_named(copy_buffers, copy_buffers, uint, 0444);
MODULE_PARM_DESC(copy_buffers,
		 "Chunk buffers reserved per taken snapshot for copies (default 8)");

static unsigned int copy_buffer_cache = 16;
module_param_named(copy_buffer_cache, copy_buffer_cache, uint, 0444);
MODULE_PARM_DESC(copy_buffer_cache,
		 "MiB of free copy buffers a taken snapshot keeps for its next copies, of each size (default 16)");

/*
 * The registry of snapshots.  snapshot_mutex protects it, the state of
 * every snapshot (taken, destroyed, its devices) and the snapshot links of
 * the trackers; it is taken before tracker_lock().
 */
static LIST_HEAD(snapshots);
static DEFINE_MUTEX(snapshot_mutex);

/* Events, error handling and frees that must not run on the I/O path. */
struct workqueue_struct *blksnap_wq;

/**
 * snapshot_default_chunk_size() - the chunk_size module parameter, sane
 *
 * Return: a power of two within the UAPI limits.
 */
u32 snapshot_default_chunk_size(void)
{
	u32 size = clamp_t(u32, READ_ONCE(chunk_size), BLKSNAP_CHUNK_SIZE_MIN,
			   BLKSNAP_CHUNK_SIZE_MAX);

	return rounddown_pow_of_two(size);
}

/**
 * snapshot_default_low_free() - the low_free_sectors module parameter
 */
sector_t snapshot_default_low_free(void)
{
	return READ_ONCE(low_free_sectors);
}

/**
 * snapshot_init() - check the parameters, create the workqueue
 *
 * Context: module init, may sleep.
 * Return: 0 or -ENOMEM.
 */
int snapshot_init(void)
{
	chunk_size = snapshot_default_chunk_size();
	copy_buffers = clamp(copy_buffers, 1U, 256U);
	blksnap_wq = alloc_workqueue("blksnap", WQ_MEM_RECLAIM, 0);
	return blksnap_wq ? 0 : -ENOMEM;
}

/**
 * snapshot_exit() - wait for the last frees; no snapshot is left, since
 * every snapshot needs trackers, which keep the module loaded
 *
 * Context: module exit, may sleep.
 */
void snapshot_exit(void)
{
	WARN_ON(!list_empty(&snapshots));
	destroy_workqueue(blksnap_wq);
}

/**
 * snapshot_lock() - serialise with every change of the snapshots
 *
 * Context: process context, may sleep.
 */
void snapshot_lock(void)
{
	mutex_lock(&snapshot_mutex);
}

/**
 * snapshot_unlock() - end of a section started with snapshot_lock()
 */
void snapshot_unlock(void)
{
	mutex_unlock(&snapshot_mutex);
}

/**
 * __snapshot_find() - the snapshot with an id
 * @id: the id
 *
 * Context: snapshot_lock() held.
 * Return: the snapshot, valid while the lock is held, or NULL.
 */
struct snapshot *__snapshot_find(const uuid_t *id)
{
	struct snapshot *snapshot;

	lockdep_assert_held(&snapshot_mutex);
	list_for_each_entry(snapshot, &snapshots, link)
		if (uuid_equal(&snapshot->id, id))
			return snapshot;
	return NULL;
}

/**
 * __snapshot_next() - iterate over the snapshots in creation order
 * @prev: the previous one, or NULL for the first
 *
 * Context: snapshot_lock() held.
 * Return: the next snapshot or NULL.
 */
struct snapshot *__snapshot_next(struct snapshot *prev)
{
	lockdep_assert_held(&snapshot_mutex);
	if (!prev)
		return list_first_entry_or_null(&snapshots, struct snapshot,
						link);
	return list_is_last(&prev->link, &snapshots) ? NULL :
		list_next_entry(prev, link);
}

static void snapshot_release(struct kref *kref)
{
	struct snapshot *snapshot = container_of(kref, struct snapshot, kref);

	if (snapshot->cow_wq)
		destroy_workqueue(snapshot->cow_wq);
	if (snapshot->cow_io_wq)
		destroy_workqueue(snapshot->cow_io_wq);
	diff_storage_free(&snapshot->storage);
	mempool_destroy(snapshot->buffers);
	buf_cache_destroy(&snapshot->chunk_bufs);
	buf_cache_destroy(&snapshot->batch_bufs);
	kfree(snapshot);
	blksnap_stat_sub(BLKSNAP_STAT_SNAPSHOTS, 1);
}

/**
 * snapshot_get() - take a reference
 * @snapshot: the snapshot
 */
void snapshot_get(struct snapshot *snapshot)
{
	kref_get(&snapshot->kref);
}

/**
 * snapshot_put() - drop a reference; the last one frees the storage
 * @snapshot: the snapshot
 *
 * Context: process context, may sleep.
 */
void snapshot_put(struct snapshot *snapshot)
{
	kref_put(&snapshot->kref, snapshot_release);
}

/* The reserve's buffers come from the cache, and go back to it. */
static void *snapshot_buffer_pool_alloc(gfp_t gfp, void *data)
{
	struct snapshot *snapshot = data;

	return buf_cache_get(&snapshot->chunk_bufs, gfp);
}

static void snapshot_buffer_pool_free(void *buf, void *data)
{
	struct snapshot *snapshot = data;

	buf_cache_put(&snapshot->chunk_bufs, buf);
}

/**
 * snapshot_buffer_alloc() - a chunk-sized buffer for a copy
 * @snapshot: a taken snapshot
 *
 * Never fails: waits for a buffer of the reserve when memory is short.
 *
 * Context: process context in a NOIO scope, may sleep.
 * Return: the buffer.
 */
void *snapshot_buffer_alloc(struct snapshot *snapshot)
{
	return mempool_alloc(snapshot->buffers, GFP_KERNEL);
}

/**
 * snapshot_buffer_free() - give back a buffer of snapshot_buffer_alloc()
 * @snapshot: the snapshot
 * @buf: the buffer
 */
void snapshot_buffer_free(struct snapshot *snapshot, void *buf)
{
	mempool_free(buf, snapshot->buffers);
}

static void snapshot_error_work(struct work_struct *work)
{
	struct snapshot *snapshot = container_of(work, struct snapshot,
						 error_work);
	struct cbt_map_info info;
	unsigned int i;

	snapshot_lock();
	if (snapshot->destroyed)
		goto out;
	pr_warn("snapshot %pUb is corrupted: %d; its devices start new CBT generations\n",
		&snapshot->id, snapshot->error);
	for (i = 0; i < snapshot->nr_devs; i++) {
		struct snapshot_dev *sd = &snapshot->devs[i];

		if (sd->da == snapshot->error_da)
			sd->error = snapshot->error;
		if (sd->da)
			diff_area_set_error(sd->da, snapshot->error);
		/* The history has a hole: the next backup must be full. */
		if (!cbt_map_reset(sd->tracker->cbt_map)) {
			cbt_map_get_info(sd->tracker->cbt_map, &info);
			blksnap_nl_notify_tracker_change(sd->dev, &info);
		}
	}
	blksnap_nl_notify_snapshot_corrupted(snapshot);
	blksnap_nl_notify_snapshot(BLKSNAP_CMD_SNAPSHOT_CHANGE_NTF, snapshot);
out:
	snapshot_unlock();
	snapshot_put(snapshot);
}

/**
 * snapshot_set_error() - the snapshot is corrupted
 * @snapshot: the snapshot
 * @da: the diff area of the device whose copy failed
 * @error: negative errno (-ENOSPC: storage full, -EIO...)
 *
 * The first error sticks.  Copy-on-write stops at once for @da and soon
 * for the other devices; the originals go on working with every write.
 *
 * Context: process context.
 */
void snapshot_set_error(struct snapshot *snapshot, struct diff_area *da,
			int error)
{
	if (cmpxchg(&snapshot->error, 0, -error) != 0)
		return;
	WRITE_ONCE(da->error, -error);
	snapshot->error_da = da;
	snapshot_get(snapshot);
	if (!queue_work(blksnap_wq, &snapshot->error_work))
		snapshot_put(snapshot);
}

static void snapshot_low_space_work(struct work_struct *work)
{
	struct snapshot *snapshot = container_of(work, struct snapshot,
						 low_space_work);

	snapshot_lock();
	if (!snapshot->destroyed && !snapshot->error)
		blksnap_nl_notify_snapshot_low_space(snapshot);
	snapshot_unlock();
	snapshot_put(snapshot);
}

/**
 * snapshot_low_space() - ask for more difference storage
 * @snapshot: the snapshot
 *
 * Context: any.
 */
void snapshot_low_space(struct snapshot *snapshot)
{
	snapshot_get(snapshot);
	if (!queue_work(blksnap_wq, &snapshot->low_space_work))
		snapshot_put(snapshot);
}

/**
 * __snapshot_device_resized() - a device of the snapshot changed capacity
 * @snapshot: the snapshot
 * @tracker: the device's tracker
 *
 * Before the take, the snapshot takes the new capacity; after it, the
 * image no longer matches the device: the snapshot is corrupted (ENXIO).
 *
 * Context: snapshot_lock() and tracker_lock() held.
 */
void __snapshot_device_resized(struct snapshot *snapshot,
			       struct tracker *tracker)
{
	unsigned int i;

	lockdep_assert_held(&snapshot_mutex);
	for (i = 0; i < snapshot->nr_devs; i++) {
		struct snapshot_dev *sd = &snapshot->devs[i];

		if (sd->tracker != tracker)
			continue;
		if (sd->da)
			snapshot_set_error(snapshot, sd->da, -ENXIO);
		else
			sd->capacity = bdev_nr_sectors(tracker->bdev.bdev);
	}
}

/* A disk and one of its partitions cannot both be in snapshots. */
static bool __snapshot_overlaps_disk(struct tracker *tracker,
				     struct tracker **taken, unsigned int nr)
{
	struct block_device *bdev = tracker->bdev.bdev;
	struct tracker *other;
	dev_t pos = 0;
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (bdev_whole(taken[i]->bdev.bdev) == bdev_whole(bdev) &&
		    (!bdev_is_partition(bdev) ||
		     !bdev_is_partition(taken[i]->bdev.bdev)))
			return true;
	while ((other = __tracker_next(&pos))) {
		pos++;
		if (other == tracker || !other->snapshot)
			continue;
		if (bdev_whole(other->bdev.bdev) == bdev_whole(bdev) &&
		    (!bdev_is_partition(bdev) ||
		     !bdev_is_partition(other->bdev.bdev)))
			return true;
	}
	return false;
}

/**
 * snapshot_create() - a new snapshot of tracked devices, not taken yet
 * @devs: device numbers, each tracked and in no other snapshot
 * @nr_devs: how many, at least one
 * @chunk_size: chunk size in bytes, a power of two within the UAPI limits
 * @low_free: low free space threshold in sectors
 * @id: filled with the new snapshot's id
 * @bad: on error, the index of the device at fault
 *
 * Context: process context, may sleep.
 * Return: 0; -EINVAL for a device listed twice; -ENOENT for one not
 * tracked; -EBUSY for one already in a snapshot (or whose disk or
 * partition is); -ENOMEM.
 */
int snapshot_create(const dev_t *devs, unsigned int nr_devs, u32 chunk_size,
		    sector_t low_free, uuid_t *id, unsigned int *bad)
{
	struct snapshot *snapshot;
	struct tracker **trackers;
	unsigned int i, j;
	int ret = 0;

	snapshot = kzalloc(struct_size(snapshot, devs, nr_devs), GFP_KERNEL);
	trackers = kcalloc(nr_devs, sizeof(*trackers), GFP_KERNEL);
	if (!snapshot || !trackers) {
		kfree(snapshot);
		kfree(trackers);
		return -ENOMEM;
	}
	kref_init(&snapshot->kref);
	INIT_LIST_HEAD(&snapshot->link);
	uuid_gen(&snapshot->id);
	snapshot->chunk_size = chunk_size;
	diff_storage_init(&snapshot->storage, low_free);
	INIT_WORK(&snapshot->error_work, snapshot_error_work);
	INIT_WORK(&snapshot->low_space_work, snapshot_low_space_work);
	snapshot->nr_devs = nr_devs;

	snapshot_lock();
	tracker_lock();
	for (i = 0; i < nr_devs; i++) {
		*bad = i;
		for (j = 0; j < i; j++)
			if (devs[j] == devs[i])
				ret = -EINVAL;
		if (ret)
			break;
		trackers[i] = __tracker_find(devs[i]);
		if (!trackers[i]) {
			ret = -ENOENT;
			break;
		}
		if (trackers[i]->snapshot ||
		    __snapshot_overlaps_disk(trackers[i], trackers, i)) {
			ret = -EBUSY;
			break;
		}
	}
	if (!ret) {
		for (i = 0; i < nr_devs; i++) {
			struct snapshot_dev *sd = &snapshot->devs[i];

			trackers[i]->snapshot = snapshot;
			sd->tracker = trackers[i];
			sd->dev = devs[i];
			sd->capacity = trackers[i]->cbt_map->capacity;
		}
	}
	tracker_unlock();
	if (ret) {
		snapshot_unlock();
		kfree(trackers);
		kfree(snapshot);
		return ret;
	}
	list_add_tail(&snapshot->link, &snapshots);
	blksnap_stat_add(BLKSNAP_STAT_SNAPSHOTS, 1);
	uuid_copy(id, &snapshot->id);
	blksnap_nl_notify_snapshot(BLKSNAP_CMD_SNAPSHOT_ADD_NTF, snapshot);
	snapshot_unlock();
	kfree(trackers);
	pr_info("snapshot %pUb created, %u devices\n", id, nr_devs);
	return 0;
}

/* Release what the take (or a failed take) set up for the devices. */
static void __snapshot_release_devs(struct snapshot *snapshot)
{
	unsigned int i;

	for (i = 0; i < snapshot->nr_devs; i++) {
		struct snapshot_dev *sd = &snapshot->devs[i];

		if (sd->image)
			snapimage_destroy(sd->image);
		sd->image = NULL;
		tracker_state_destroy(sd->cow_state);
		sd->cow_state = NULL;
		tracker_state_destroy(sd->plain_state);
		sd->plain_state = NULL;
		if (sd->da)
			diff_area_put(sd->da);
		sd->da = NULL;
		kvfree(sd->frozen_map);
		sd->frozen_map = NULL;
	}
}

/*
 * No write takes the devices' old states any more (they were swapped out):
 * wait for those that did, and free the states.  All are killed first, so
 * that one RCU grace period serves every device.
 */
static void snapshot_drain_old_states(struct snapshot *snapshot)
{
	unsigned int i;

	for (i = 0; i < snapshot->nr_devs; i++)
		tracker_state_kill(snapshot->devs[i].old_state);
	for (i = 0; i < snapshot->nr_devs; i++) {
		tracker_state_drain(snapshot->devs[i].old_state);
		snapshot->devs[i].old_state = NULL;
	}
}

/**
 * snapshot_destroy() - stop copy-on-write, remove the images, release
 * @id: the snapshot
 *
 * Copy-on-write stops: no copy starts any more, and the writes deferred
 * for copies go to their devices without them.  Returns once every write
 * that passed the filter while the snapshot was taken has completed and
 * every copy that had begun has ended: nothing is written to the
 * difference storage afterwards.
 *
 * Context: process context, may sleep.
 * Return: 0; -ENOENT if there is no such snapshot; -EBUSY if an image is
 * open (then nothing changed).
 */
int snapshot_destroy(const uuid_t *id)
{
	struct snapshot *snapshot;
	unsigned int i, j;

	snapshot_lock();
	snapshot = __snapshot_find(id);
	if (!snapshot) {
		snapshot_unlock();
		return -ENOENT;
	}
	for (i = 0; i < snapshot->nr_devs; i++) {
		if (snapshot->devs[i].image &&
		    snapimage_claim(snapshot->devs[i].image)) {
			for (j = 0; j < i; j++)
				if (snapshot->devs[j].image)
					snapimage_unclaim(snapshot->devs[j].image);
			snapshot_unlock();
			return -EBUSY;
		}
	}

	list_del_init(&snapshot->link);
	snapshot->destroyed = true;
	for (i = 0; i < snapshot->nr_devs; i++)
		if (snapshot->devs[i].da)
			diff_area_stop(snapshot->devs[i].da);
	tracker_lock();
	for (i = 0; i < snapshot->nr_devs; i++) {
		struct snapshot_dev *sd = &snapshot->devs[i];

		if (snapshot->taken) {
			sd->old_state = __tracker_state_swap(sd->tracker,
							     sd->plain_state);
			sd->plain_state = NULL;
		}
		sd->tracker->snapshot = NULL;
	}
	tracker_unlock();
	if (snapshot->taken) {
		snapshot_drain_old_states(snapshot);
		/* The copies that had begun, then what they queued. */
		for (i = 0; i < snapshot->nr_devs; i++)
			if (snapshot->devs[i].da)
				diff_area_wait_copies(snapshot->devs[i].da);
		drain_workqueue(snapshot->cow_wq);
		drain_workqueue(snapshot->cow_io_wq);
	}
	__snapshot_release_devs(snapshot);
	blksnap_nl_notify_snapshot_del(&snapshot->id);
	snapshot_unlock();

	pr_info("snapshot %pUb destroyed\n", &snapshot->id);
	snapshot_put(snapshot);
	return 0;
}

/* Two devices share sectors: the same, or a disk and one of its partitions. */
static bool snapshot_bdev_related(struct block_device *a, struct block_device *b)
{
	return bdev_whole(a) == bdev_whole(b) &&
	       (a == b || !bdev_is_partition(a) || !bdev_is_partition(b));
}

/*
 * What storage being appended to a snapshot may not reach: @snapshot, and
 * whether the storage is a block range (which may lie directly on a
 * device of @snapshot itself: the module's own I/O bypasses the filter).
 */
struct snapshot_storage_walk {
	struct snapshot *snapshot;
	bool range;
};

/*
 * A device under new storage that would make the storage recurse: an
 * image, or a device of a snapshot (reached through a stack, or a file
 * system on it, or in another snapshot, whose copy-on-write the module's
 * own writes would bypass).  snapshot_lock() held.
 */
static bool __snapshot_storage_hits(struct block_device *bdev,
				    unsigned int depth, void *data)
{
	struct snapshot_storage_walk *walk = data;
	struct snapshot *snapshot = NULL;
	unsigned int i;

	lockdep_assert_held(&snapshot_mutex);
	if (snapimage_is_image(bdev->bd_dev))
		return true;
	while ((snapshot = __snapshot_next(snapshot))) {
		if (walk->range && !depth && snapshot == walk->snapshot)
			continue;
		for (i = 0; i < snapshot->nr_devs; i++)
			if (snapshot_bdev_related(bdev,
						  snapshot->devs[i].tracker->bdev.bdev))
				return true;
	}
	return false;
}

/*
 * Whether a range of new storage would recurse into a snapshot (-ELOOP)
 * or lies on storage whose devices cannot be known (-EOPNOTSUPP), with the
 * device at fault.  snapshot_lock() held.
 */
static int __snapshot_storage_recurses(struct snapshot *snapshot,
				       struct diff_storage_range *range,
				       dev_t *where)
{
	struct snapshot_storage_walk walk = {
		.snapshot = snapshot,
		.range = !range->file,
	};

	if (range->file)
		return diff_storage_walk_file(range->file,
					      __snapshot_storage_hits, &walk,
					      where);
	return diff_storage_walk(range->bdev.bdev, __snapshot_storage_hits,
				 &walk, where);
}

/* The smallest logical block size of the snapshot's devices. */
static unsigned int snapshot_logical_block_size(struct snapshot *snapshot)
{
	unsigned int i, lbs = UINT_MAX;

	for (i = 0; i < snapshot->nr_devs; i++)
		lbs = min(lbs, bdev_logical_block_size(snapshot->devs[i].tracker->bdev.bdev));
	return lbs;
}

/*
 * Check one new range against the snapshot; the reason of a refusal in
 * @fault.  snapshot_lock() held.
 */
static int __snapshot_check_storage(struct snapshot *snapshot,
				    struct diff_storage_range *range,
				    enum snapshot_storage_fault *fault,
				    dev_t *where)
{
	unsigned int lbs;
	int ret;

	*where = range->dev;
	if (!range->file && snapimage_is_image(range->dev)) {
		*fault = SNAPSHOT_STORAGE_IMAGE;
		return -ELOOP;
	}
	ret = __snapshot_storage_recurses(snapshot, range, where);
	if (ret) {
		*fault = ret == -ELOOP ? SNAPSHOT_STORAGE_RECURSES :
					 SNAPSHOT_STORAGE_UNKNOWN_FS;
		return ret;
	}
	if (range->count < (snapshot->chunk_size >> SECTOR_SHIFT)) {
		*fault = SNAPSHOT_STORAGE_SMALL;
		return -EINVAL;
	}
	if (range->file)
		return 0;
	/* Images read and write the storage in their devices' blocks. */
	lbs = bdev_logical_block_size(range->bdev.bdev);
	if (lbs > snapshot_logical_block_size(snapshot)) {
		*fault = SNAPSHOT_STORAGE_BLOCK_SIZE;
		return -EINVAL;
	}
	if (!IS_ALIGNED(range->start, lbs >> SECTOR_SHIFT) ||
	    !IS_ALIGNED(range->count, lbs >> SECTOR_SHIFT)) {
		*fault = SNAPSHOT_STORAGE_ALIGNMENT;
		return -EINVAL;
	}
	return 0;
}

/**
 * snapshot_append_storage() - give a snapshot more difference storage
 * @id: the snapshot
 * @ranges: new ranges (block ranges and at most one file range); on
 *	success they belong to the snapshot, on failure to the caller
 * @bad: on error about one range, its position in @ranges, else -1
 * @fault: on error about one range, what is wrong with it
 * @where: on -ELOOP or -EOPNOTSUPP, the device at fault
 *
 * Storage is refused when writing to it could come back into a snapshot:
 * on an image; on a device of another snapshot; a file on a device of
 * this snapshot; a device stacked (dm, md, loop) on a device of any
 * snapshot, or a file on one.  A block range may lie directly on a device
 * of this snapshot (the module's own I/O bypasses the filter).
 *
 * Context: process context, may sleep.
 * Return: 0; -ENOENT for no such snapshot; -EIO if it is corrupted;
 * -ELOOP for storage that would recurse; -EOPNOTSUPP for a file (or a
 * loop device's backing file) on a file system whose devices cannot be
 * known; -EINVAL for a range smaller than a chunk, on a device with larger
 * logical blocks than the snapshot's devices, or not aligned to its
 * device's logical blocks; -EBUSY for ranges that overlap; -EFBIG past
 * 2^62 sectors of storage in all; -ENOMEM.  Nothing is added on error.
 */
int snapshot_append_storage(const uuid_t *id, struct list_head *ranges,
			    int *bad, enum snapshot_storage_fault *fault,
			    dev_t *where)
{
	struct diff_storage_range *range;
	struct snapshot *snapshot;
	int ret = 0, i = 0;

	*bad = -1;
	*fault = SNAPSHOT_STORAGE_OK;
	*where = 0;
	snapshot_lock();
	snapshot = __snapshot_find(id);
	if (!snapshot) {
		ret = -ENOENT;
		goto out;
	}
	if (READ_ONCE(snapshot->error)) {
		ret = -EIO;
		goto out;
	}
	list_for_each_entry(range, ranges, link) {
		*bad = i++;
		ret = __snapshot_check_storage(snapshot, range, fault, where);
		if (ret)
			goto out;
	}
	*bad = -1;
	ret = diff_storage_append(&snapshot->storage, ranges, bad);
	if (ret) {
		/* -EFBIG (2^62 sectors in all) and -ENOMEM are no overlap. */
		if (ret == -EBUSY)
			*fault = SNAPSHOT_STORAGE_OVERLAP;
		goto out;
	}
	/* Still low after the growth: ask again (before the take: at it). */
	if (snapshot->taken && diff_storage_claim_low(&snapshot->storage))
		snapshot_low_space(snapshot);
	blksnap_nl_notify_snapshot(BLKSNAP_CMD_SNAPSHOT_CHANGE_NTF, snapshot);
out:
	snapshot_unlock();
	return ret;
}

/* Everything the take needs, allocated before anything is frozen. */
static int __snapshot_prepare(struct snapshot *snapshot)
{
	unsigned int i;

	/* The reserve holds copy_buffers chunk buffers: its floor. */
	buf_cache_init(&snapshot->chunk_bufs, snapshot->chunk_size,
		       (size_t)copy_buffer_cache << 20, copy_buffers,
		       BLKSNAP_STAT_BUFFERS);
	buf_cache_init(&snapshot->batch_bufs,
		       diff_area_batch_bytes(snapshot->chunk_size),
		       (size_t)copy_buffer_cache << 20, 0,
		       BLKSNAP_STAT_BATCH_BUFFERS);
	snapshot->buffers = mempool_create(copy_buffers,
					   snapshot_buffer_pool_alloc,
					   snapshot_buffer_pool_free, snapshot);
	if (!snapshot->buffers)
		return -ENOMEM;
	snapshot->cow_wq = diff_area_alloc_wq(false);
	snapshot->cow_io_wq = diff_area_alloc_wq(true);
	if (!snapshot->cow_wq || !snapshot->cow_io_wq)
		return -ENOMEM;
	for (i = 0; i < snapshot->nr_devs; i++) {
		struct snapshot_dev *sd = &snapshot->devs[i];
		struct block_device *bdev = sd->tracker->bdev.bdev;
		struct diff_area *da;

		sd->frozen.block_count = sd->tracker->cbt_map->block_count;
		sd->frozen_map = kvzalloc(sd->frozen.block_count, GFP_KERNEL);
		if (!sd->frozen_map)
			return -ENOMEM;
		da = diff_area_create(snapshot, bdev, sd->tracker->cbt_map,
				      sd->capacity, snapshot->chunk_size);
		if (IS_ERR(da))
			return PTR_ERR(da);
		sd->da = da;
		sd->cow_state = tracker_state_create(da);
		if (IS_ERR(sd->cow_state)) {
			int ret = PTR_ERR(sd->cow_state);

			sd->cow_state = NULL;
			return ret;
		}
		sd->plain_state = tracker_state_create(NULL);
		if (IS_ERR(sd->plain_state)) {
			int ret = PTR_ERR(sd->plain_state);

			sd->plain_state = NULL;
			return ret;
		}
		sd->image = snapimage_create(da, bdev_logical_block_size(bdev),
					     bdev_physical_block_size(bdev));
		if (IS_ERR(sd->image)) {
			int ret = PTR_ERR(sd->image);

			sd->image = NULL;
			return ret;
		}
	}
	return 0;
}

/* The time of a step of the take, from *@t to now; now in *@t. */
static void snapshot_take_step(u64 *ns, enum blksnap_take_step step, u64 *t)
{
	u64 now = ktime_get_ns();

	ns[step] = now - *t;
	*t = now;
}

/**
 * snapshot_take() - take the snapshot: all devices at one instant
 * @id: the snapshot
 *
 * Freezes the file systems of the devices; advances each CBT map's snap
 * number and switches each device to copy-on-write (one published state
 * per device: a write that is copied marks the new number); waits until
 * every write that passed the filter before the switch has completed
 * (throttled, queued in a stacking driver or on a bio-based device
 * included); freezes each CBT map for the backup; lets the copies begin;
 * thaws, and adds the images.
 *
 * Context: process context, may sleep.
 * Return: 0; -ENOENT for no such snapshot; -EALREADY if it is taken;
 * -ENOSPC if it has no difference storage; the errno of a freeze or an
 * allocation, and then nothing changed.
 */
int snapshot_take(const uuid_t *id)
{
	u64 ns[BLKSNAP_TAKE_NR] = { 0 };
	struct snapshot *snapshot;
	struct cbt_map_info info;
	unsigned int i, frozen;
	u64 start, t;
	int ret;

	start = ktime_get_ns();
	snapshot_lock();
	snapshot = __snapshot_find(id);
	if (!snapshot) {
		ret = -ENOENT;
		goto out_unlock;
	}
	if (snapshot->taken) {
		ret = -EALREADY;
		goto out_unlock;
	}
	if (!snapshot->storage.total) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	t = ktime_get_ns();
	ret = __snapshot_prepare(snapshot);
	if (ret)
		goto out_release;
	snapshot_take_step(ns, BLKSNAP_TAKE_PREPARE, &t);

	/* A snap number about to wrap: the history starts over. */
	for (i = 0; i < snapshot->nr_devs; i++) {
		struct cbt_map *map = snapshot->devs[i].tracker->cbt_map;

		cbt_map_get_info(map, &info);
		if (info.snap_number == U8_MAX) {
			ret = cbt_map_reset(map);
			if (ret)
				goto out_release;
		}
	}

	t = ktime_get_ns();
	for (frozen = 0; frozen < snapshot->nr_devs; frozen++) {
		ret = blksnap_bdev_freeze(snapshot->devs[frozen].tracker->bdev.bdev);
		if (ret)
			goto out_thaw;
	}

	/*
	 * Under tracker_lock(), so that no reset of a map comes between its
	 * advance and its freeze.
	 */
	snapshot_take_step(ns, BLKSNAP_TAKE_BDEV_FREEZE, &t);
	tracker_lock();
	for (i = 0; i < snapshot->nr_devs; i++) {
		struct snapshot_dev *sd = &snapshot->devs[i];

		cbt_map_advance(sd->tracker->cbt_map);
		sd->old_state = __tracker_state_swap(sd->tracker, sd->cow_state);
		sd->cow_state = NULL;
	}
	snapshot_take_step(ns, BLKSNAP_TAKE_SWITCH, &t);
	snapshot_drain_old_states(snapshot);
	snapshot_take_step(ns, BLKSNAP_TAKE_DRAIN, &t);
	for (i = 0; i < snapshot->nr_devs; i++) {
		struct snapshot_dev *sd = &snapshot->devs[i];

		cbt_map_freeze(sd->tracker->cbt_map, sd->frozen_map,
			       sd->frozen.block_count, &sd->frozen);
	}
	snapshot_take_step(ns, BLKSNAP_TAKE_CBT_FREEZE, &t);
	tracker_unlock();
	for (i = 0; i < snapshot->nr_devs; i++)
		diff_area_open(snapshot->devs[i].da);
	snapshot->taken = true;
	t = ktime_get_ns();
	for (i = 0; i < snapshot->nr_devs; i++)
		blksnap_bdev_thaw(snapshot->devs[i].tracker->bdev.bdev);
	snapshot_take_step(ns, BLKSNAP_TAKE_THAW, &t);

	for (i = 0; i < snapshot->nr_devs; i++) {
		struct snapshot_dev *sd = &snapshot->devs[i];

		ret = snapimage_add(sd->image);
		if (ret) {
			pr_err("cannot add the image of %u:%u: %d\n",
			       MAJOR(sd->dev), MINOR(sd->dev), ret);
			snapshot_set_error(snapshot, sd->da, ret);
		}
		cbt_map_get_info(sd->tracker->cbt_map, &info);
		blksnap_nl_notify_tracker_change(sd->dev, &info);
	}
	blksnap_nl_notify_snapshot(BLKSNAP_CMD_SNAPSHOT_CHANGE_NTF, snapshot);
	if (diff_storage_claim_low(&snapshot->storage))
		snapshot_low_space(snapshot);
	snapshot_take_step(ns, BLKSNAP_TAKE_IMAGES, &t);
	snapshot_unlock();
	ns[BLKSNAP_TAKE_TOTAL] = ktime_get_ns() - start;
	blksnap_take_publish(ns);
	pr_info("snapshot %pUb taken\n", id);
	return 0;

out_thaw:
	while (frozen--)
		blksnap_bdev_thaw(snapshot->devs[frozen].tracker->bdev.bdev);
out_release:
	__snapshot_release_devs(snapshot);
	mempool_destroy(snapshot->buffers);
	snapshot->buffers = NULL;
	buf_cache_destroy(&snapshot->chunk_bufs);
	buf_cache_destroy(&snapshot->batch_bufs);
	if (snapshot->cow_wq)
		destroy_workqueue(snapshot->cow_wq);
	snapshot->cow_wq = NULL;
	if (snapshot->cow_io_wq)
		destroy_workqueue(snapshot->cow_io_wq);
	snapshot->cow_io_wq = NULL;
out_unlock:
	snapshot_unlock();
	return ret;
}
