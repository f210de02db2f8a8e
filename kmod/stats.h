/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BLKSNAP_STATS_H
#define __BLKSNAP_STATS_H

#include <linux/atomic.h>
#include <linux/types.h>

/**
 * enum blksnap_stat - kinds of live objects the module counts
 * @BLKSNAP_STAT_TRACKERS: attached trackers
 * @BLKSNAP_STAT_CBT_MAPS: allocated CBT maps
 * @BLKSNAP_STAT_CBT_MAP_BYTES: bytes held by the CBT maps' tables
 * @BLKSNAP_STAT_SNAPSHOTS: snapshots, from create until freed
 * @BLKSNAP_STAT_DIFF_AREAS: per-device copy-on-write tables
 * @BLKSNAP_STAT_CHUNKS: chunks in use (being copied, read, waited for, failed)
 * @BLKSNAP_STAT_STORAGE_RANGES: ranges of difference storage
 * @BLKSNAP_STAT_IMAGES: snapshot image block devices
 * @BLKSNAP_STAT_BUFFERS: chunk-sized copy buffers allocated (in use or kept)
 * @BLKSNAP_STAT_BATCH_BUFFERS: copy buffers of several chunks allocated
 * @BLKSNAP_STAT_DEFERRED_BIOS: writes of originals waiting for copies
 * @BLKSNAP_STAT_NR: number of counters
 *
 * The counts are exposed in debugfs (blksnap/objects) so tests can check
 * that every object is gone after teardown.
 */
enum blksnap_stat {
	BLKSNAP_STAT_TRACKERS,
	BLKSNAP_STAT_CBT_MAPS,
	BLKSNAP_STAT_CBT_MAP_BYTES,
	BLKSNAP_STAT_SNAPSHOTS,
	BLKSNAP_STAT_DIFF_AREAS,
	BLKSNAP_STAT_CHUNKS,
	BLKSNAP_STAT_STORAGE_RANGES,
	BLKSNAP_STAT_IMAGES,
	BLKSNAP_STAT_BUFFERS,
	BLKSNAP_STAT_BATCH_BUFFERS,
	BLKSNAP_STAT_DEFERRED_BIOS,
	BLKSNAP_STAT_NR,
};

/**
 * enum blksnap_counter - events the module counts, for tests and tuning
 * @BLKSNAP_COUNTER_THROTTLED: writers that waited for copies to catch up
 * @BLKSNAP_COUNTER_NOWAIT_REFUSED: REQ_NOWAIT writes ended with -EAGAIN
 * @BLKSNAP_COUNTER_CHUNKS_COPIED: chunks copied to difference storage
 * @BLKSNAP_COUNTER_DISCARDS_KEPT: discards of chunks not copied, ended
 *	without going down (the original keeps the data)
 * @BLKSNAP_COUNTER_WRITES_HELD_BY_CLONE: tracked writes held by a clone,
 *	no tracker_io being at hand without waiting
 * @BLKSNAP_COUNTER_NR: number of counters
 *
 * Exposed in debugfs (blksnap/counters); they only grow.
 */
enum blksnap_counter {
	BLKSNAP_COUNTER_THROTTLED,
	BLKSNAP_COUNTER_NOWAIT_REFUSED,
	BLKSNAP_COUNTER_CHUNKS_COPIED,
	BLKSNAP_COUNTER_DISCARDS_KEPT,
	BLKSNAP_COUNTER_WRITES_HELD_BY_CLONE,
	BLKSNAP_COUNTER_NR,
};

/**
 * enum blksnap_take_step - the steps of the last take, each timed
 * @BLKSNAP_TAKE_PREPARE: allocations (frozen maps, diff areas, images)
 * @BLKSNAP_TAKE_BDEV_FREEZE: freezing the devices' file systems
 * @BLKSNAP_TAKE_SWITCH: advancing the CBT maps, publishing the states
 * @BLKSNAP_TAKE_DRAIN: waiting for the writes under the old states (and
 *	the RCU grace period that ends them)
 * @BLKSNAP_TAKE_CBT_FREEZE: copying the CBT maps for the backup
 * @BLKSNAP_TAKE_THAW: thawing the file systems
 * @BLKSNAP_TAKE_IMAGES: adding the images, notifications
 * @BLKSNAP_TAKE_TOTAL: the whole take, from the call to the return
 * @BLKSNAP_TAKE_NR: number of steps
 *
 * Nanoseconds (ktime) of the last take that succeeded, in debugfs
 * (blksnap/take), one "name value" line each.  The steps do not overlap,
 * so they sum to at most the total.
 */
enum blksnap_take_step {
	BLKSNAP_TAKE_PREPARE,
	BLKSNAP_TAKE_BDEV_FREEZE,
	BLKSNAP_TAKE_SWITCH,
	BLKSNAP_TAKE_DRAIN,
	BLKSNAP_TAKE_CBT_FREEZE,
	BLKSNAP_TAKE_THAW,
	BLKSNAP_TAKE_IMAGES,
	BLKSNAP_TAKE_TOTAL,
	BLKSNAP_TAKE_NR,
};

extern atomic_long_t blksnap_stats[BLKSNAP_STAT_NR];
extern atomic_long_t blksnap_counters[BLKSNAP_COUNTER_NR];

static inline void blksnap_count(enum blksnap_counter counter)
{
	atomic_long_inc(&blksnap_counters[counter]);
}

static inline void blksnap_stat_add(enum blksnap_stat stat, long n)
{
	atomic_long_add(n, &blksnap_stats[stat]);
}

static inline void blksnap_stat_sub(enum blksnap_stat stat, long n)
{
	atomic_long_sub(n, &blksnap_stats[stat]);
}

void blksnap_take_publish(const u64 *ns);
void blksnap_stats_init(void);
void blksnap_stats_exit(void);

#endif /* __BLKSNAP_STATS_H */
