// SPDX-License-Identifier: GPL-2.0
/*
 * The change-block-tracking map: one byte per CBT block of a device, the
 * snap number of the block's last change in the current generation.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-cbt: " fmt

#include <linux/log2.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <uapi/linux/blksnap.h>
#include "cbt_map.h"
#include "stats.h"

static u64 cbt_map_blocks(sector_t capacity, unsigned int block_shift)
{
	unsigned int shift = block_shift - SECTOR_SHIFT;

	return (capacity + (1ULL << shift) - 1) >> shift;
}

/**
 * cbt_map_default_block_size() - the block size chosen for a device
 * @capacity: capacity of the device in sectors
 *
 * The smallest power of two of at least %BLKSNAP_BLOCK_SIZE_MIN bytes
 * that keeps the map within %CBT_MAP_DEFAULT_MAX_BLOCKS blocks.
 *
 * Context: any.
 * Return: the block size in bytes.
 */
u32 cbt_map_default_block_size(sector_t capacity)
{
	unsigned int shift = ilog2(BLKSNAP_BLOCK_SIZE_MIN);

	while (shift < ilog2(BLKSNAP_BLOCK_SIZE_MAX) &&
	       cbt_map_blocks(capacity, shift) > CBT_MAP_DEFAULT_MAX_BLOCKS)
		shift++;
	return 1U << shift;
}

/**
 * cbt_map_create() - allocate the map of a device, in a new generation
 * @capacity: capacity of the device in sectors, not 0
 * @block_size: CBT block size in bytes: a power of two between
 *	%BLKSNAP_BLOCK_SIZE_MIN and %BLKSNAP_BLOCK_SIZE_MAX
 *
 * Context: process context, may sleep.
 * Return: the map, ERR_PTR(-E2BIG) if it would have more than
 * %CBT_MAP_MAX_BLOCKS blocks, ERR_PTR(-ENOMEM).
 */
struct cbt_map *cbt_map_create(sector_t capacity, u32 block_size)
{
	unsigned int block_shift = ilog2(block_size);
	struct cbt_map *cbt_map;
	u64 block_count;

	block_count = cbt_map_blocks(capacity, block_shift);
	if (block_count > CBT_MAP_MAX_BLOCKS)
		return ERR_PTR(-E2BIG);

	cbt_map = kzalloc(sizeof(*cbt_map), GFP_KERNEL);
	if (!cbt_map)
		return ERR_PTR(-ENOMEM);
	cbt_map->map = kvzalloc(block_count, GFP_KERNEL);
	if (!cbt_map->map) {
		kfree(cbt_map);
		return ERR_PTR(-ENOMEM);
	}
	spin_lock_init(&cbt_map->lock);
	cbt_map->block_shift = block_shift;
	cbt_map->block_count = block_count;
	cbt_map->capacity = capacity;
	cbt_map->snap_number = 1;
	uuid_gen(&cbt_map->generation_id);

	blksnap_stat_add(BLKSNAP_STAT_CBT_MAPS, 1);
	blksnap_stat_add(BLKSNAP_STAT_CBT_MAP_BYTES, block_count);
	return cbt_map;
}

/**
 * cbt_map_destroy() - free a map
 * @cbt_map: the map, or NULL
 *
 * Context: process context, may sleep.
 */
void cbt_map_destroy(struct cbt_map *cbt_map)
{
	if (!cbt_map)
		return;
	blksnap_stat_sub(BLKSNAP_STAT_CBT_MAP_BYTES, cbt_map->block_count);
	blksnap_stat_sub(BLKSNAP_STAT_CBT_MAPS, 1);
	kvfree(cbt_map->map);
	kfree(cbt_map);
}

/**
 * cbt_map_mark() - record a change of a range of sectors
 * @cbt_map: the map
 * @sector: first sector changed
 * @count: number of sectors changed; 0 marks nothing
 *
 * Every block that the range touches, even partly, gets the current snap
 * number.  The part of the range past the capacity is ignored.
 *
 * Context: any, does not sleep; called from the bio submission path.
 */
void cbt_map_mark(struct cbt_map *cbt_map, sector_t sector, sector_t count)
{
	unsigned int shift = cbt_map->block_shift - SECTOR_SHIFT;
	unsigned long flags;
	u64 first, last;

	if (!count)
		return;
	spin_lock_irqsave(&cbt_map->lock, flags);
	if (sector < cbt_map->capacity) {
		count = min(count, cbt_map->capacity - sector);
		first = sector >> shift;
		last = (sector + count - 1) >> shift;
		memset(cbt_map->map + first, cbt_map->snap_number,
		       last - first + 1);
	}
	spin_unlock_irqrestore(&cbt_map->lock, flags);
}

/**
 * cbt_map_reset() - start a new generation
 * @cbt_map: the map
 *
 * A new generation id, every block unchanged, snap number 1.  The table
 * is replaced by a zeroed one, so the lock is held only for the swap.
 *
 * Context: process context, may sleep.
 * Return: 0 or -ENOMEM, in which case the map is unchanged.
 */
int cbt_map_reset(struct cbt_map *cbt_map)
{
	unsigned long flags;
	u8 *map, *old;

	map = kvzalloc(cbt_map->block_count, GFP_KERNEL);
	if (!map)
		return -ENOMEM;

	spin_lock_irqsave(&cbt_map->lock, flags);
	old = cbt_map->map;
	cbt_map->map = map;
	cbt_map->snap_number = 1;
	uuid_gen(&cbt_map->generation_id);
	spin_unlock_irqrestore(&cbt_map->lock, flags);

	kvfree(old);
	return 0;
}

/**
 * cbt_map_resize() - start a new generation for a new device capacity
 * @cbt_map: the map
 * @capacity: the device's capacity in sectors now, not 0
 *
 * Like cbt_map_reset(), with a table of the new size (same block size).
 *
 * Context: process context, may sleep; the caller holds tracker_lock().
 * Return: 0; -E2BIG if the map would exceed %CBT_MAP_MAX_BLOCKS blocks;
 * -ENOMEM; the map is unchanged on error.
 */
int cbt_map_resize(struct cbt_map *cbt_map, sector_t capacity)
{
	u64 count = cbt_map_blocks(capacity, cbt_map->block_shift);
	unsigned long flags;
	u8 *map, *old;
	u64 old_count;

	if (count > CBT_MAP_MAX_BLOCKS)
		return -E2BIG;
	map = kvzalloc(count, GFP_KERNEL);
	if (!map)
		return -ENOMEM;

	spin_lock_irqsave(&cbt_map->lock, flags);
	old = cbt_map->map;
	old_count = cbt_map->block_count;
	cbt_map->map = map;
	cbt_map->block_count = count;
	cbt_map->capacity = capacity;
	cbt_map->snap_number = 1;
	uuid_gen(&cbt_map->generation_id);
	spin_unlock_irqrestore(&cbt_map->lock, flags);

	kvfree(old);
	blksnap_stat_sub(BLKSNAP_STAT_CBT_MAP_BYTES, old_count);
	blksnap_stat_add(BLKSNAP_STAT_CBT_MAP_BYTES, count);
	return 0;
}

/**
 * cbt_map_get_info() - copy the metadata of a map consistently
 * @cbt_map: the map
 * @info: filled with the metadata
 *
 * Context: any, does not sleep.
 */
void cbt_map_get_info(struct cbt_map *cbt_map, struct cbt_map_info *info)
{
	unsigned long flags;

	info->block_size = 1U << cbt_map->block_shift;
	spin_lock_irqsave(&cbt_map->lock, flags);
	info->block_count = cbt_map->block_count;
	info->capacity = cbt_map->capacity;
	info->snap_number = cbt_map->snap_number;
	uuid_copy(&info->generation_id, &cbt_map->generation_id);
	spin_unlock_irqrestore(&cbt_map->lock, flags);
}

/**
 * cbt_map_read() - copy a slice of a map
 * @cbt_map: the map
 * @offset: first block to copy; @offset + @len <= block count
 * @buf: where to copy
 * @len: number of blocks (bytes) to copy
 * @generation_id: filled with the generation the slice belongs to
 *
 * Context: any, does not sleep.  Keep @len small (a page or so): the
 * copy holds the map's lock with interrupts disabled.  Blocks past the
 * end of a map resized meanwhile read as 0.
 */
void cbt_map_read(struct cbt_map *cbt_map, u64 offset, u8 *buf, size_t len,
		  uuid_t *generation_id)
{
	unsigned long flags;
	size_t n;

	spin_lock_irqsave(&cbt_map->lock, flags);
	n = offset < cbt_map->block_count ?
		min_t(u64, len, cbt_map->block_count - offset) : 0;
	memcpy(buf, cbt_map->map + offset, n);
	memset(buf + n, 0, len - n);
	uuid_copy(generation_id, &cbt_map->generation_id);
	spin_unlock_irqrestore(&cbt_map->lock, flags);
}

/**
 * cbt_map_advance() - start marking changes with the next snap number
 * @cbt_map: the map; its snap number is below 255 (the caller resets a
 *	map about to wrap)
 *
 * The take calls it just before it switches the device to copy-on-write:
 * a write that is copied marks the new number (see &struct tracker_state).
 *
 * Context: any, does not sleep.
 */
void cbt_map_advance(struct cbt_map *cbt_map)
{
	unsigned long flags;

	spin_lock_irqsave(&cbt_map->lock, flags);
	if (!WARN_ON(cbt_map->snap_number == U8_MAX))
		cbt_map->snap_number++;
	spin_unlock_irqrestore(&cbt_map->lock, flags);
}

/* What cbt_map_freeze() copies between two chances to reschedule. */
#define CBT_MAP_FREEZE_STEP	SZ_64K

/**
 * cbt_map_freeze() - copy the map for a snapshot
 * @cbt_map: the map, advanced by cbt_map_advance() since the last freeze
 * @copy: a buffer
 * @len: its size: the map's block count when it was allocated (a map
 *	resized since is cut, or padded with 0)
 * @info: filled with the metadata of the copy: the snap number the
 *	snapshot froze (the one before the current)
 *
 * The take calls it once the writes from before its switch have
 * completed, so @copy holds every change the snapshot's image holds; a
 * block already marked with the current number (written since the switch,
 * or just before it, and then in the image too) is copied as the frozen
 * number: changed up to the snapshot.  A backup of the snapshot reads
 * @copy, and the next one knows what changed since.
 *
 * The lock is held only to read the metadata and the table's address:
 * the bytes are copied without it, with interrupts on.  Writes that mark
 * the map meanwhile write only the current number, so each byte copied is
 * either its value at the switch's drain or the current number, which the
 * copy turns into the frozen one, as it would have under the lock.
 *
 * Context: process context, may sleep.  The caller keeps cbt_map_reset()
 * and cbt_map_resize() from running (the take holds snapshot_lock() and
 * tracker_lock()), so the table stays in place.
 */
void cbt_map_freeze(struct cbt_map *cbt_map, u8 *copy, u64 len,
		    struct cbt_map_info *info)
{
	unsigned long flags;
	u64 i, count, n;
	u8 frozen;
	u8 *map;

	info->block_size = 1U << cbt_map->block_shift;
	spin_lock_irqsave(&cbt_map->lock, flags);
	count = min(len, cbt_map->block_count);
	info->block_count = count;
	info->capacity = min_t(sector_t, cbt_map->capacity,
			       len << (cbt_map->block_shift - SECTOR_SHIFT));
	map = cbt_map->map;
	frozen = max_t(u8, cbt_map->snap_number - 1, 1);
	uuid_copy(&info->generation_id, &cbt_map->generation_id);
	spin_unlock_irqrestore(&cbt_map->lock, flags);
	info->snap_number = frozen;

	for (i = 0; i < count; i += n) {
		u64 j;

		n = min_t(u64, count - i, CBT_MAP_FREEZE_STEP);
		/* Racing marks write whole bytes: each is old or current. */
		data_race(memcpy(copy + i, map + i, n));
		for (j = i; j < i + n; j++)
			if (copy[j] > frozen)
				copy[j] = frozen;
		cond_resched();
	}
	memset(copy + count, 0, len - count);
}
