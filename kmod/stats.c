// SPDX-License-Identifier: GPL-2.0
/*
 * Counts of the module's live objects, readable in debugfs as
 * /sys/kernel/debug/blksnap/objects, one "name value" line per kind, and
 * counters of events in blksnap/counters, and the step times of the last
 * take in blksnap/take.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-stats: " fmt

#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/seqlock.h>
#include <linux/string.h>
#include "stats.h"

atomic_long_t blksnap_stats[BLKSNAP_STAT_NR];
atomic_long_t blksnap_counters[BLKSNAP_COUNTER_NR];

static const char * const blksnap_counter_names[BLKSNAP_COUNTER_NR] = {
	[BLKSNAP_COUNTER_THROTTLED] = "throttled",
	[BLKSNAP_COUNTER_NOWAIT_REFUSED] = "nowait_refused",
	[BLKSNAP_COUNTER_CHUNKS_COPIED] = "chunks_copied",
	[BLKSNAP_COUNTER_DISCARDS_KEPT] = "discards_kept",
	[BLKSNAP_COUNTER_WRITES_HELD_BY_CLONE] = "writes_held_by_clone",
};

static const char * const blksnap_stat_names[BLKSNAP_STAT_NR] = {
	[BLKSNAP_STAT_TRACKERS] = "trackers",
	[BLKSNAP_STAT_CBT_MAPS] = "cbt_maps",
	[BLKSNAP_STAT_CBT_MAP_BYTES] = "cbt_map_bytes",
	[BLKSNAP_STAT_SNAPSHOTS] = "snapshots",
	[BLKSNAP_STAT_DIFF_AREAS] = "diff_areas",
	[BLKSNAP_STAT_CHUNKS] = "chunks",
	[BLKSNAP_STAT_STORAGE_RANGES] = "storage_ranges",
	[BLKSNAP_STAT_IMAGES] = "images",
	[BLKSNAP_STAT_BUFFERS] = "buffers",
	[BLKSNAP_STAT_BATCH_BUFFERS] = "batch_buffers",
	[BLKSNAP_STAT_DEFERRED_BIOS] = "deferred_bios",
};

static const char * const blksnap_take_names[BLKSNAP_TAKE_NR] = {
	[BLKSNAP_TAKE_PREPARE] = "prepare",
	[BLKSNAP_TAKE_BDEV_FREEZE] = "bdev_freeze",
	[BLKSNAP_TAKE_SWITCH] = "switch",
	[BLKSNAP_TAKE_DRAIN] = "drain",
	[BLKSNAP_TAKE_CBT_FREEZE] = "cbt_freeze",
	[BLKSNAP_TAKE_THAW] = "thaw",
	[BLKSNAP_TAKE_IMAGES] = "images",
	[BLKSNAP_TAKE_TOTAL] = "total",
};

/* The step times of the last take; one take's set, under the seqlock. */
static DEFINE_SEQLOCK(blksnap_take_lock);
static u64 blksnap_take_ns[BLKSNAP_TAKE_NR];

/**
 * blksnap_take_publish() - record the step times of a take
 * @ns: nanoseconds per &enum blksnap_take_step
 *
 * Context: any.
 */
void blksnap_take_publish(const u64 *ns)
{
	unsigned long flags;

	write_seqlock_irqsave(&blksnap_take_lock, flags);
	memcpy(blksnap_take_ns, ns, sizeof(blksnap_take_ns));
	write_sequnlock_irqrestore(&blksnap_take_lock, flags);
}

static int blksnap_take_show(struct seq_file *m, void *v)
{
	u64 ns[BLKSNAP_TAKE_NR];
	unsigned int seq;
	int i;

	do {
		seq = read_seqbegin(&blksnap_take_lock);
		memcpy(ns, blksnap_take_ns, sizeof(ns));
	} while (read_seqretry(&blksnap_take_lock, seq));
	for (i = 0; i < BLKSNAP_TAKE_NR; i++)
		seq_printf(m, "%s %llu\n", blksnap_take_names[i], ns[i]);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(blksnap_take);

static struct dentry *blksnap_debugfs_dir;

static int blksnap_objects_show(struct seq_file *m, void *v)
{
	int i;

	for (i = 0; i < BLKSNAP_STAT_NR; i++)
		seq_printf(m, "%s %ld\n", blksnap_stat_names[i],
			   atomic_long_read(&blksnap_stats[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(blksnap_objects);

static int blksnap_counters_show(struct seq_file *m, void *v)
{
	int i;

	for (i = 0; i < BLKSNAP_COUNTER_NR; i++)
		seq_printf(m, "%s %ld\n", blksnap_counter_names[i],
			   atomic_long_read(&blksnap_counters[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(blksnap_counters);

/**
 * blksnap_stats_init() - publish the object counts in debugfs
 *
 * A missing debugfs is not an error: the counts are a testing aid.
 *
 * Context: module init, may sleep.
 */
void blksnap_stats_init(void)
{
	blksnap_debugfs_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("objects", 0400, blksnap_debugfs_dir, NULL,
			    &blksnap_objects_fops);
	debugfs_create_file("counters", 0400, blksnap_debugfs_dir, NULL,
			    &blksnap_counters_fops);
	debugfs_create_file("take", 0400, blksnap_debugfs_dir, NULL,
			    &blksnap_take_fops);
}

/**
 * blksnap_stats_exit() - remove the debugfs files, warn about leaks
 *
 * Context: module exit, may sleep.
 */
void blksnap_stats_exit(void)
{
	int i;

	debugfs_remove_recursive(blksnap_debugfs_dir);
	for (i = 0; i < BLKSNAP_STAT_NR; i++)
		WARN(atomic_long_read(&blksnap_stats[i]), "%ld %s leaked\n",
		     atomic_long_read(&blksnap_stats[i]),
		     blksnap_stat_names[i]);
}
