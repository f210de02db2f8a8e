/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The backup engine: one device's data (any readable fd: a snapshot image
 * from OpenImage, a file, a block device) copied into the next image of its
 * chain in DIR/<device name>/: a full qcow2 image, or a qcow2 overlay of the
 * previous image holding only the changed extents; then the manifest names
 * it.  A failure or an interruption removes the partial image and leaves the
 * chain exactly as it was.
 */
#ifndef BLKSNAPCTL_BACKUP_H
#define BLKSNAPCTL_BACKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "chain.h"
#include "extents.h"

/*
 * How a caller drives the engine (the D-Bus path of "backup", and the
 * --from-image test entry point alike):
 *
 *   backup_target_open(DIR, device name)     lock and load DIR/<name>/chain.json
 *   backup_image_start(target, size, full?)   the next image ready (optional)
 *   (take the snapshot; GetImages gives the frozen generation and snap number)
 *   backup_plan(target, source, --full)      full, or incremental since
 *                                            plan.since_generation_id/_snap_number
 *   if incremental: GetChangedExtents(since...) -> fd -> extent_list_read_fd()
 *                   (GenerationChanged: set plan.full and plan.reason instead)
 *   source.fd = OpenImage(...)
 *   backup_run(target, source, plan, extents, image or NULL)
 *   backup_target_done(target)
 *
 * Directories, images and manifests are created for their owner only
 * (they hold raw disk contents): main() sets umask 077.
 */

/* The chain of one device, opened and locked for writing. */
struct backup_target {
	char *path;		/* DIR/<device name> */
	char *device;		/* <device name> */
	int dirfd;
	int lockfd;		/* flock()ed while the target is open */
	struct chain *chain;
};

/*
 * Create DIR (one level) and DIR/<device> if needed, take the chain's lock
 * (another backup of it refused with -EBUSY), load its manifest and remove
 * what an earlier crash left (temp files, a partial image).  Return: 0 or
 * -errno (said why); *ret untouched on failure.
 */
int backup_target_open(const char *dir, const char *device, struct backup_target *ret);
void backup_target_done(struct backup_target *t);

struct backup_source {
	int fd;			/* read with pread from 0 to size */
	const char *what;	/* its name in messages */
	uint64_t size;
	const char *generation_id;	/* of the CBT map frozen with the data */
	uint32_t snap_number;		/* likewise */
};

struct backup_plan {
	bool full;
	char reason[256];	/* why a full backup */
	/* for an incremental: what to ask GetChangedExtents for */
	char since_generation_id[UUID_TEXT_LEN + 1];
	uint32_t since_snap_number;
};

/*
 * Full or incremental: full the first time, when asked, or when the device's
 * size or generation id is not the last backup's (reason says which).
 * Return: 0, or -EINVAL when the source is older than the last backup.
 */
int backup_plan(const struct backup_target *t, const struct backup_source *src,
		bool force_full, struct backup_plan *ret);

/*
 * The next image of a chain, created and served by qemu-nbd ahead of the
 * copy: a caller starts it before taking the snapshot, so that the
 * snapshot (and its copy-on-write of every first write) does not live
 * through qemu-img's and qemu-nbd's start-ups.
 */
struct backup_image {
	struct nbd_writer *w;	/* NULL: not started */
	bool full;		/* a full image, else an overlay of the last one */
	uint64_t size;
	unsigned number;	/* in the chain */
	char *image, *partial;	/* names in the target's directory */
	char *image_path, *partial_path;
	char *extents, *extents_partial;	/* its list of extents, likewise */
};

/*
 * Create the next image of t (full, or an overlay of the last image; full
 * anyway for the first) as a partial file and start its writer.  Return: 0
 * or -errno (said why; nothing left).
 */
int backup_image_start(struct backup_target *t, uint64_t size, bool full, struct backup_image *ret);
/* Stop img's writer and remove its partial file, if any; img is empty after. */
void backup_image_discard(struct backup_target *t, struct backup_image *img);

/*
 * Copy src into the next image: the whole device when plan->full, else
 * the extents of changed (checked against src->size by the caller).  img,
 * when not NULL, may hold that image started ahead (one started for another
 * kind or size is replaced); backup_run() always consumes it.  Prints one
 * line saying what was written.  Return: 0, -EINTR when interrupted, or
 * -errno (said why); on failure the chain and its directory are as before.
 */
int backup_run(struct backup_target *t, const struct backup_source *src,
	       const struct backup_plan *plan, const struct extent_list *changed,
	       struct backup_image *img);

#endif /* BLKSNAPCTL_BACKUP_H */
