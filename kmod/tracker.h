/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BLKSNAP_TRACKER_H
#define __BLKSNAP_TRACKER_H

#include <linux/blk_types.h>
#include <linux/completion.h>
#include <linux/percpu-refcount.h>
#include <linux/rcupdate.h>
#include <linux/workqueue.h>
#include "cbt_map.h"
#include "compat.h"

struct snapshot;
struct diff_area;

/**
 * struct tracker_state - what the bio path does with the writes of a device
 * @inflight: the writes that passed the filter under this state, each held
 *	from the filter until it completes (or fails); killed when the state
 *	is replaced, so the take and the destroy can wait for every one
 * @drained: completed when @inflight has been killed and has reached 0
 * @da: copy-on-write of the device, or NULL; a reference is held
 *
 * "Is a write copied-on-write" and "which snap number does it mark" change
 * together at the take: the CBT map's number advances first, then the new
 * state is published, so a write that sees the new state marks the new
 * number.  Immutable once published; replaced with __tracker_state_swap(),
 * ended with tracker_state_kill(), then waited for with
 * tracker_state_drain().
 */
struct tracker_state {
	struct percpu_ref inflight;
	struct completion drained;
	struct diff_area *da;
};

/**
 * struct tracker - change tracking of one block device
 * @dev: the device number; the key in the registry; immutable
 * @bdev: open reference that keeps the device while it is tracked
 * @cbt_map: the change-block-tracking map; the pointer is immutable
 * @snapshot: the snapshot the device is in, or NULL; set and cleared under
 *	snapshot_lock() and tracker_lock(); a tracker in a snapshot cannot be
 *	detached
 * @state: what the bio path does with its writes; never NULL; replaced
 *	under tracker_lock(), read under RCU on the bio path
 * @resize_work: starts a new generation when the bio path sees that the
 *	device's capacity is not the map's
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
	struct tracker_state __rcu *state;
	struct work_struct resize_work;
};

void tracker_lock(void);
void tracker_unlock(void);
struct tracker *__tracker_find(dev_t dev);
struct tracker *__tracker_next(dev_t *dev);

int tracker_init(void);
void tracker_exit(void);

struct tracker_state *tracker_state_create(struct diff_area *da);
void tracker_state_destroy(struct tracker_state *state);
struct tracker_state *__tracker_state_swap(struct tracker *tracker,
					   struct tracker_state *state);
void tracker_state_kill(struct tracker_state *state);
void tracker_state_drain(struct tracker_state *state);
sector_t tracker_bio_sector(struct bio *bio);

int tracker_attach(dev_t dev, u32 block_size, struct cbt_map_info *info);
int tracker_detach(dev_t dev);
bool tracker_submit_bio(struct bio *bio);
void tracker_io_submit(struct bio *bio);

/**
 * tracker_any() - whether any device is tracked
 *
 * Context: any.  A racy hint for the bio path: an attach that has not
 * returned yet may not be seen.
 */
bool tracker_any(void);

#endif /* __BLKSNAP_TRACKER_H */
