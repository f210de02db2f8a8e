/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BLKSNAP_DIFF_STORAGE_H
#define __BLKSNAP_DIFF_STORAGE_H

#include <linux/blk_types.h>
#include <linux/errseq.h>
#include <linux/list.h>
#include <linux/maple_tree.h>
#include <linux/spinlock.h>
#include "compat.h"

struct file;

/**
 * struct diff_storage_range - a piece of difference storage
 * @link: in &diff_storage.ranges
 * @all_link: in the list of every block range of every snapshot, for the
 *	overlap checks; empty for a file
 * @bdev: open reference to the block device of a block range
 * @file: the file of a file range, or NULL
 * @dev: device number of a block range
 * @start: first sector of a block range; 0 for a file
 * @count: sectors in the range; for a file, its size limit
 * @disk_start: @start in the sector space of the whole disk (for the
 *	overlap checks: a partition and its disk share sectors)
 * @wb_err: for a file, its writeback error state when the range was made
 * @pos: where the range begins in the storage's linear space (the ranges
 *	of a storage one after the other, in the order appended); set by
 *	diff_storage_append()
 *
 * Immutable once appended.
 */
struct diff_storage_range {
	struct list_head link;
	struct list_head all_link;
	struct blksnap_bdev bdev;
	struct file *file;
	errseq_t wb_err;
	dev_t dev;
	sector_t start;
	sector_t count;
	sector_t disk_start;
	sector_t pos;
};

/**
 * struct diff_region - where one chunk lives in the difference storage
 * @range: the range holding it
 * @sector: its first sector in the range's device or file
 * @count: its length in sectors
 */
struct diff_region {
	struct diff_storage_range *range;
	sector_t sector;
	sector_t count;
};

/**
 * struct diff_storage - the difference storage of one snapshot
 * @lock: protects every field below; taken in any context
 * @ranges: the ranges in the order they were appended
 * @cur: the range being filled, or NULL before the first allocation
 * @cur_used: sectors of @cur already allocated
 * @total: sectors appended in all
 * @used: sectors allocated (and wasted at range ends)
 * @low_free: the low free space threshold in sectors
 * @low_notified: a low space event was asked for since the last append
 * @map: the ranges by their sectors in the linear space (&diff_storage_range.pos
 *	to pos + count - 1), so that a stored chunk is known by one number;
 *	RCU-safe lookups, stores serialised by diff_storage_all_lock
 */
struct diff_storage {
	spinlock_t lock; /* protects the fields below */
	struct list_head ranges;
	struct diff_storage_range *cur;
	sector_t cur_used;
	sector_t total;
	sector_t used;
	sector_t low_free;
	bool low_notified;
	struct maple_tree map;
};

/* The storage's linear space ends here: a position fits an xarray value. */
#define DIFF_STORAGE_POS_MAX	((sector_t)1 << 62)

void diff_storage_init(struct diff_storage *ds, sector_t low_free);
void diff_storage_free(struct diff_storage *ds);
struct diff_storage_range *diff_storage_range_bdev(dev_t dev, sector_t start,
						   sector_t count);
struct diff_storage_range *diff_storage_range_file(struct file *file,
						   sector_t limit);
void diff_storage_range_free(struct diff_storage_range *range);
int diff_storage_append(struct diff_storage *ds, struct list_head *ranges,
			int *bad);

/**
 * typedef diff_storage_visit_fn - a device found by diff_storage_walk()
 * @bdev: the device
 * @depth: 0 for the device the walk started at, 1 for a device it is
 *	stacked on, and so on
 * @data: the walk's data
 *
 * Return: true to stop the walk at @bdev.
 */
typedef bool (*diff_storage_visit_fn)(struct block_device *bdev,
				      unsigned int depth, void *data);
int diff_storage_walk(struct block_device *bdev, diff_storage_visit_fn visit,
		      void *data, dev_t *where);
int diff_storage_walk_file(struct file *file, diff_storage_visit_fn visit,
			   void *data, dev_t *where);
bool diff_storage_claim_low(struct diff_storage *ds);
int diff_storage_alloc(struct diff_storage *ds, sector_t count,
		       sector_t unit, struct diff_region *region, bool *low);
void diff_storage_usage(struct diff_storage *ds, sector_t *total,
			sector_t *used);
unsigned long diff_region_pos(const struct diff_region *region);
int diff_storage_region(struct diff_storage *ds, unsigned long pos,
			sector_t count, struct diff_region *region);
int diff_region_io(const struct diff_region *region, enum req_op op,
		   void *buf, sector_t offset, sector_t count);
int diff_io_bdev(struct block_device *bdev, enum req_op op, sector_t sector,
		 void *buf, sector_t count);
int diff_io_bdev_submit(struct block_device *bdev, enum req_op op,
			sector_t sector, void *buf, sector_t count,
			bio_end_io_t *end_io, void *private, atomic_t *inflight);

#endif /* __BLKSNAP_DIFF_STORAGE_H */
