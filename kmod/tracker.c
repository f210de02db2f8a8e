// SPDX-License-Identifier: GPL-2.0
/*
 * Trackers: the registry of tracked block devices, attach and detach, and
 * the hand-over of each bio of a tracked device to its CBT map.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-tracker: " fmt

#include <linux/bio.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#include "diff_area.h"
#include "stats.h"
#include "tracker.h"

/*
 * The registry of trackers, keyed by device number.  Entries are stored
 * and erased under tracker_mutex (which serialises every change of a
 * tracker: attach, detach, reset, marks made by the control path); the bio
 * path reads it under rcu_read_lock() only.
 */
static DEFINE_XARRAY(trackers);
static DEFINE_MUTEX(tracker_mutex);

/**
 * tracker_lock() - serialise with every other change of the trackers
 *
 * Context: process context, may sleep.
 */
void tracker_lock(void)
{
	mutex_lock(&tracker_mutex);
}

/**
 * tracker_unlock() - end of a section started with tracker_lock()
 */
void tracker_unlock(void)
{
	mutex_unlock(&tracker_mutex);
}

/**
 * __tracker_find() - the tracker of a device
 * @dev: device number
 *
 * Context: tracker_lock() held; the tracker stays valid until it is
 * released.
 * Return: the tracker or NULL.
 */
struct tracker *__tracker_find(dev_t dev)
{
	lockdep_assert_held(&tracker_mutex);
	return xa_load(&trackers, dev);
}

/**
 * __tracker_next() - iterate over the trackers in device-number order
 * @dev: in: the first device number to look at; out: the number of the
 *	tracker found
 *
 * Context: tracker_lock() held.
 * Return: the first tracker at or after *@dev, or NULL when none is left.
 */
struct tracker *__tracker_next(dev_t *dev)
{
	unsigned long index = *dev;
	struct tracker *tracker;

	lockdep_assert_held(&tracker_mutex);
	tracker = xa_find(&trackers, &index, U32_MAX, XA_PRESENT);
	if (tracker)
		*dev = index;
	return tracker;
}

bool tracker_any(void)
{
	return !xa_empty(&trackers);
}

static void tracker_free(struct tracker *tracker)
{
	cbt_map_destroy(tracker->cbt_map);
	if (tracker->bdev.bdev)
		blksnap_bdev_close(&tracker->bdev);
	kfree(tracker);
}

/**
 * tracker_attach() - start tracking the changes of a block device
 * @dev: device number of a whole disk or a partition
 * @block_size: CBT block size in bytes, a power of two within the UAPI
 *	limits, or 0 for the default for the device's capacity
 * @info: filled with the new map's metadata on success
 *
 * The tracker holds the device open (for reading, shared) and a reference
 * on the module, so the module cannot be unloaded while it tracks devices.
 *
 * Context: process context, may sleep; takes tracker_lock().
 * Return: 0; -EEXIST if the device is tracked; -ENXIO or -ENODEV if there
 * is no such device; -ENOMEDIUM if it has no capacity; -E2BIG if the block
 * size is too small for the device; -ENOMEM.
 */
int tracker_attach(dev_t dev, u32 block_size, struct cbt_map_info *info)
{
	struct tracker *tracker;
	sector_t capacity;
	int ret;

	tracker_lock();
	if (__tracker_find(dev)) {
		ret = -EEXIST;
		goto out_unlock;
	}

	tracker = kzalloc(sizeof(*tracker), GFP_KERNEL);
	if (!tracker) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	tracker->dev = dev;

	ret = blksnap_bdev_open(dev, false, &tracker->bdev);
	if (ret)
		goto out_free;

	capacity = bdev_nr_sectors(tracker->bdev.bdev);
	if (!capacity) {
		ret = -ENOMEDIUM;
		goto out_free;
	}
	if (!block_size)
		block_size = cbt_map_default_block_size(capacity);
	tracker->cbt_map = cbt_map_create(capacity, block_size);
	if (IS_ERR(tracker->cbt_map)) {
		ret = PTR_ERR(tracker->cbt_map);
		tracker->cbt_map = NULL;
		goto out_free;
	}

	ret = xa_insert(&trackers, dev, tracker, GFP_KERNEL);
	if (ret)
		goto out_free;

	__module_get(THIS_MODULE);
	blksnap_stat_add(BLKSNAP_STAT_TRACKERS, 1);
	cbt_map_get_info(tracker->cbt_map, info);
	tracker_unlock();
	pr_info("tracking device %u:%u, %u-byte blocks\n",
		MAJOR(dev), MINOR(dev), block_size);
	return 0;

out_free:
	tracker_free(tracker);
out_unlock:
	tracker_unlock();
	return ret;
}

/**
 * tracker_detach() - stop tracking a device and drop its map
 * @dev: device number
 *
 * Bios in the filter may still see the tracker until an RCU grace period
 * has passed; it is freed after one.
 *
 * Context: process context, may sleep; takes tracker_lock().
 * Return: 0, -ENOENT if the device is not tracked, -EBUSY if it is in a
 * snapshot.
 */
int tracker_detach(dev_t dev)
{
	struct tracker *tracker;

	tracker_lock();
	tracker = xa_load(&trackers, dev);
	if (tracker && tracker->snapshot) {
		tracker_unlock();
		return -EBUSY;
	}
	if (tracker)
		xa_erase(&trackers, dev);
	tracker_unlock();
	if (!tracker)
		return -ENOENT;

	synchronize_rcu();
	tracker_free(tracker);
	blksnap_stat_sub(BLKSNAP_STAT_TRACKERS, 1);
	pr_info("stopped tracking device %u:%u\n", MAJOR(dev), MINOR(dev));
	module_put(THIS_MODULE);
	return 0;
}

static bool tracker_bio_changes_data(struct bio *bio)
{
	switch (bio_op(bio)) {
	case REQ_OP_WRITE:
	case REQ_OP_DISCARD:
	case REQ_OP_SECURE_ERASE:
	case REQ_OP_WRITE_ZEROES:
		return bio_sectors(bio) != 0;
	default:
		return false;
	}
}

/**
 * tracker_submit_bio() - record the change a bio is about to make, and
 * copy what it overwrites if the device is in a taken snapshot
 * @bio: a bio entering submit_bio_noacct(), before partition remapping
 *
 * The bio is marked in the map of its device and, for a partition, in
 * the map of the whole disk (in the disk's sector space) when that is
 * tracked too.  A bio that fails later has been marked all the same:
 * tracking errs on the side of copying too much.  A disk and its
 * partitions are never in snapshots at once, so at most one diff area
 * sees the bio.
 *
 * Context: bio submission path; sleeps only to throttle writers.
 * Return: true if the bio was taken over by copy-on-write.
 */
bool tracker_submit_bio(struct bio *bio)
{
	struct block_device *bdev = bio->bi_bdev;
	sector_t sector = bio->bi_iter.bi_sector;
	struct diff_area *da = NULL, *whole_da;
	struct tracker *tracker;
	bool taken;

	if (!tracker_bio_changes_data(bio))
		return false;

	rcu_read_lock();
	tracker = xa_load(&trackers, bdev->bd_dev);
	if (tracker) {
		cbt_map_mark(tracker->cbt_map, sector, bio_sectors(bio));
		da = rcu_dereference(tracker->diff_area);
	}
	if (bdev_is_partition(bdev)) {
		tracker = xa_load(&trackers, bdev_whole(bdev)->bd_dev);
		if (tracker) {
			cbt_map_mark(tracker->cbt_map,
				     sector + bdev->bd_start_sect,
				     bio_sectors(bio));
			whole_da = rcu_dereference(tracker->diff_area);
			if (!da)
				da = whole_da;
		}
	}
	if (da && !diff_area_get(da))
		da = NULL;
	rcu_read_unlock();

	if (!da)
		return false;
	taken = diff_area_submit_bio(da, bio);
	diff_area_put(da);
	return taken;
}
