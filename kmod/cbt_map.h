/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BLKSNAP_CBT_MAP_H
#define __BLKSNAP_CBT_MAP_H

#include <linux/bits.h>
#include <linux/blk_types.h>
#include <linux/spinlock.h>
#include <linux/uuid.h>

/* The map of a tracker never holds more blocks than this (16 MiB). */
#define CBT_MAP_MAX_BLOCKS	BIT_ULL(24)
/*
 * Without a requested block size, the map stays within this many blocks
 * (1 MiB): at most 1 MiB of memory per TiB of a device of 1 TiB or more.
 */
#define CBT_MAP_DEFAULT_MAX_BLOCKS	BIT_ULL(20)

/**
 * struct cbt_map - change-block-tracking map of one device
 * @lock: protects @snap_number, @generation_id, @map and its bytes,
 *	@block_count and @capacity; taken from the bio submission path, so
 *	with interrupts disabled.
 * @block_shift: log2 of the CBT block size in bytes; immutable.
 * @block_count: number of blocks (bytes in @map).  Changes only with a
 *	new generation by cbt_map_resize(), which the caller serialises with
 *	tracker_lock(): readable under either lock.
 * @capacity: capacity of the device in sectors when this generation
 *	began; likewise.  Changes past it are not recorded.
 * @snap_number: the value that a change writes into @map; 1..255.
 *	Protected by @lock.
 * @generation_id: id of the history in @map.  Protected by @lock.
 * @map: one byte per block: the snap number of the block's last change
 *	in this generation, or 0.  The pointer and the bytes are protected
 *	by @lock, except that cbt_map_freeze() reads the bytes without it
 *	(marks it races with only write the current number).
 */
struct cbt_map {
	spinlock_t lock; /* see above: guards the snap number and the map */
	unsigned int block_shift;
	u64 block_count;
	sector_t capacity;
	u8 snap_number;
	uuid_t generation_id;
	u8 *map;
};

/**
 * struct cbt_map_info - a consistent copy of a map's metadata
 * @block_size: CBT block size in bytes
 * @block_count: number of blocks
 * @capacity: device capacity in sectors
 * @snap_number: current snap number
 * @generation_id: current generation
 */
struct cbt_map_info {
	u32 block_size;
	u64 block_count;
	sector_t capacity;
	u8 snap_number;
	uuid_t generation_id;
};

struct cbt_map *cbt_map_create(sector_t capacity, u32 block_size);
void cbt_map_destroy(struct cbt_map *cbt_map);
u32 cbt_map_default_block_size(sector_t capacity);
void cbt_map_mark(struct cbt_map *cbt_map, sector_t sector, sector_t count);
int cbt_map_reset(struct cbt_map *cbt_map);
int cbt_map_resize(struct cbt_map *cbt_map, sector_t capacity);
void cbt_map_get_info(struct cbt_map *cbt_map, struct cbt_map_info *info);
void cbt_map_advance(struct cbt_map *cbt_map);
void cbt_map_freeze(struct cbt_map *cbt_map, u8 *copy, u64 len,
		    struct cbt_map_info *info);
void cbt_map_read(struct cbt_map *cbt_map, u64 offset, u8 *buf, size_t len,
		  uuid_t *generation_id);

#endif /* __BLKSNAP_CBT_MAP_H */
