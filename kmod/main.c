// SPDX-License-Identifier: GPL-2.0
/*
 * blksnap: change-block tracking and snapshots of live block devices.
 * Module init and exit.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <net/genetlink.h>
#include <uapi/linux/blksnap.h>
#include "filter.h"
#include "diff_area.h"
#include "genl.h"
#include "snapimage.h"
#include "snapshot.h"
#include "stats.h"
#include "tracker.h"
#include "version.h"

/*
 * Init order: counters, the workqueues of snapshots, copies and images,
 * the images' block major, the bio filter, then the user-visible interface
 * (the netlink family) last; exit in reverse, each workqueue drained as it
 * goes.  While the module tracks
 * devices each tracker holds a module reference, so exit runs only with
 * no tracker left.
 */
static int __init blksnap_init(void)
{
	int ret;

	blksnap_stats_init();

	ret = snapshot_init();
	if (ret)
		goto out_stats;
	ret = diff_area_init();
	if (ret)
		goto out_snapshot;
	ret = snapimage_init();
	if (ret)
		goto out_diff_area;
	ret = tracker_init();
	if (ret)
		goto out_snapimage;
	ret = filter_init();
	if (ret)
		goto out_tracker;
	ret = blksnap_nl_init();
	if (ret)
		goto out_filter;

	pr_info("version %s loaded\n", BLKSNAP_VERSION_STR);
	return 0;

out_filter:
	filter_exit();
out_tracker:
	tracker_exit();
out_snapimage:
	snapimage_exit();
out_diff_area:
	diff_area_exit();
out_snapshot:
	snapshot_exit();
out_stats:
	blksnap_stats_exit();
	return ret;
}

static void __exit blksnap_exit(void)
{
	blksnap_nl_exit();
	filter_exit();
	tracker_exit();
	snapimage_exit();
	diff_area_exit();
	snapshot_exit();
	blksnap_stats_exit();
	pr_info("unloaded\n");
}

module_init(blksnap_init);
module_exit(blksnap_exit);

MODULE_DESCRIPTION("Change-block tracking and snapshots of live block devices");
MODULE_VERSION(BLKSNAP_VERSION_STR);
MODULE_AUTHOR("The blksnap developers");
MODULE_LICENSE("GPL");
MODULE_ALIAS_GENL_FAMILY(BLKSNAP_FAMILY_NAME);
