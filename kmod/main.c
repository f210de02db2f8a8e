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
#include "genl.h"
#include "stats.h"
#include "version.h"

/*
 * Init order: counters, the bio filter, then the user-visible interface
 * (the netlink family) last; exit in reverse.  While the module tracks
 * devices each tracker holds a module reference, so exit runs only with
 * no tracker left.
 */
static int __init blksnap_init(void)
{
	int ret;

	blksnap_stats_init();

	ret = filter_init();
	if (ret)
		goto out_stats;

	ret = blksnap_nl_init();
	if (ret)
		goto out_filter;

	pr_info("version %s loaded\n", BLKSNAP_VERSION_STR);
	return 0;

out_filter:
	filter_exit();
out_stats:
	blksnap_stats_exit();
	return ret;
}

static void __exit blksnap_exit(void)
{
	blksnap_nl_exit();
	filter_exit();
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
