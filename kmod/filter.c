// SPDX-License-Identifier: GPL-2.0
/*
 * The block-layer filter of a stock kernel: an ftrace hook with IP-modify on
 * submit_bio_noacct() redirects the bios of everyone but this module to
 * filter_submit_bio_noacct(), which shows them to the trackers and then
 * calls the real submit_bio_noacct().  That call comes from this module,
 * so the hook lets it through; the module's own bios, which may come back
 * from elsewhere (the remainder of a split), are told by their end_io in
 * tracker_submit_bio().
 *
 * While no device is tracked the hook redirects nothing.
 */
#define pr_fmt(fmt) KBUILD_MODNAME "-filter: " fmt

#include <linux/blkdev.h>
#include <linux/delay.h>
#include <linux/ftrace.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include "compat.h"
#include "filter.h"
#include "tracker.h"

/*
 * Tasks between the hook and the end of filter_submit_bio_noacct(): the
 * hook increments, the function decrements (maybe on another CPU).  Only
 * the sum over all CPUs means anything; filter_exit() waits for it to
 * reach 0 before the module's text may go away.
 */
static DEFINE_PER_CPU(long, filter_calls);

static void notrace filter_submit_bio_noacct(struct bio *bio)
{
	if (!tracker_submit_bio(bio))
		submit_bio_noacct(bio);
	this_cpu_dec(filter_calls);
}

static void notrace filter_ftrace_handler(unsigned long ip,
					  unsigned long parent_ip,
					  struct ftrace_ops *ops,
					  struct ftrace_regs *fregs)
{
	if (!tracker_any() || within_module(parent_ip, THIS_MODULE))
		return;
	this_cpu_inc(filter_calls);
	blksnap_ftrace_set_ip(fregs, (unsigned long)filter_submit_bio_noacct);
}

static struct ftrace_ops filter_ops = {
	.func = filter_ftrace_handler,
	/*
	 * PERMANENT: while the hook is registered, "sysctl
	 * kernel.ftrace_enabled=0" is refused (EBUSY) instead of silently
	 * unhooking the filter and losing changes.  No RECURSION: nothing
	 * the handler does leads back to submit_bio_noacct(), so it cannot
	 * re-enter itself, and without the flag the trampoline calls it
	 * directly instead of through ftrace_ops_assist_func() and its
	 * recursion lock, on every bio of every device.
	 */
	.flags = FTRACE_OPS_FL_IPMODIFY | FTRACE_OPS_FL_PERMANENT
#ifndef CONFIG_HAVE_DYNAMIC_FTRACE_WITH_ARGS
		 | FTRACE_OPS_FL_SAVE_REGS
#endif
		 ,
};

/**
 * filter_init() - hook submit_bio_noacct()
 *
 * Context: module init, may sleep.
 * Return: 0 or a negative errno; -EBUSY if another IP-modifying hook
 * (a live patch, another filter) owns the function.
 */
int filter_init(void)
{
	unsigned long ip = (unsigned long)submit_bio_noacct;
	int ret;

	ret = ftrace_set_filter_ip(&filter_ops, ip, 0, 0);
	if (ret) {
		pr_err("cannot trace submit_bio_noacct: %d\n", ret);
		return ret;
	}
	ret = register_ftrace_function(&filter_ops);
	if (ret) {
		pr_err("cannot hook submit_bio_noacct: %d\n", ret);
		goto out_filter;
	}
	return 0;

out_filter:
	ftrace_set_filter_ip(&filter_ops, ip, 1, 0);
	return ret;
}

static long filter_calls_sum(void)
{
	long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu(filter_calls, cpu);
	return sum;
}

/**
 * filter_exit() - unhook submit_bio_noacct() and wait for the bios inside
 *
 * After the hook is gone no task enters the filter; the ones inside may
 * sleep in the real submit_bio_noacct().  Once the count is 0 (it only
 * falls now, so a 0 read is exact), an RCU-tasks grace period covers the
 * last instructions after the decrement.
 *
 * Context: module exit, may sleep.
 */
void filter_exit(void)
{
	unregister_ftrace_function(&filter_ops);
	ftrace_set_filter_ip(&filter_ops, (unsigned long)submit_bio_noacct,
			     1, 0);
	while (filter_calls_sum())
		msleep(20);
	synchronize_rcu_tasks();
}
