/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BLKSNAP_TRACKER_H
#define __BLKSNAP_TRACKER_H

#include <linux/blk_types.h>
#include <linux/rcupdate.h>
#include "cbt_map.h"
#include "compat.h"

struct snapshot;
struct diff_area;

/**
 * struct tracker - change tracking of one block device
 * @dev: the device number; the key in the registry; immutable
 * @bdev: open reference that keeps the device while it is tracked
 * @cbt_map: the change-block-tracking map; the pointer is immutable
 * @snapshot: the snapshot the device is in, or NULL; set and cleared under
 *	snapshot_lock() and tracker_lock(); a tracker in a snapshot cannot be
 *	detached
 * @diff_area: copy-on-write of the device while its snapshot is taken;
 *	published under snapshot_lock(), read under RCU on the bio path
 *
 * A tracker lives from attach to detach in the registry (an xarray keyed
 * by device number).  The bio path finds it under rcu_read_lock(); the
 * control path under tracker_lock().  Detach waits for an RCU grace
 * period before it frees the tracker.
 */
struct tracker {
	dev_t dev;
	struct blksnap_bdev bdev;
	struct cbt_map *cbt_map;
	struct snapshot *snapshot;
	struct diff_area __rcu *diff_area;
};

void tracker_lock(void);
void tracker_unlock(void);
struct tracker *__tracker_find(dev_t dev);
struct tracker *__tracker_next(dev_t *dev);

int tracker_attach(dev_t dev, u32 block_size, struct cbt_map_info *info);
int tracker_detach(dev_t dev);
bool tracker_submit_bio(struct bio *bio);

/**
 * tracker_any() - whether any device is tracked
 *
 * Context: any.  A racy hint for the bio path: an attach that has not
 * returned yet may not be seen.
 */
bool tracker_any(void);

#endif /* __BLKSNAP_TRACKER_H */
