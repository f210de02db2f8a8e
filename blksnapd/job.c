// SPDX-License-Identifier: GPL-2.0-only
/*
 * Jobs: a netlink request that may take long (take, destroy, append) is run
 * by a worker thread on its own socket; the thread signals an eventfd and
 * the loop answers the bus call with the result.  The loop never blocks on
 * the kernel for these.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/eventfd.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include "blksnapd.h"

static void job_free(Job *j)
{
	if (!j)
		return;
	sd_event_source_disable_unref(j->source);
	if (j->efd >= 0)
		close(j->efd);
	if (j->fd_to_close >= 0)
		close(j->fd_to_close);
	if (j->req)
		nlmsg_free(j->req);
	if (j->reply)
		nlmsg_free(j->reply);
	sd_bus_message_unref(j->m);
	if (j->free_userdata)
		j->free_userdata(j->userdata);
	free(j->extack);
	free(j);
}

static int job_keep_reply(struct nlmsghdr *h, _unused_ struct nlattr **tb, void *userdata)
{
	Job *j = userdata;

	if (!j->reply)
		j->reply = nlmsg_convert(h);
	return 0;
}

static void *job_thread(void *p)
{
	Job *j = p;
	struct nl_sock *sk = NULL;
	int family = j->c->family;
	struct nl_msg *req = TAKE_PTR(j->req);

	j->r = nl_open(&sk, &family);
	if (j->r >= 0) {
		j->r = nl_transact(sk, req, job_keep_reply, j, &j->extack);
		nl_socket_free(sk);
	} else {
		nlmsg_free(req);
	}
	(void)eventfd_write(j->efd, 1);
	return NULL;
}

static int job_finished(_unused_ sd_event_source *src, _unused_ int fd,
			_unused_ uint32_t revents, void *userdata)
{
	Job *j = userdata;

	j->done(j);
	job_free(j);
	return 0;
}

/*
 * Run @req (consumed) in a worker thread; call @done on the loop with the
 * result.  @m (referenced) is the call to answer; @fd_to_close is closed
 * when the job ends (a storage fd the kernel must see until then), or -1.
 */
int job_start(Context *c, struct nl_msg *req, sd_bus_message *m, job_done_fn done,
	      void *userdata, void (*free_userdata)(void *p), int fd_to_close)
{
	Job *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t thread;
	int r;

	if (!j) {
		nlmsg_free(req);
		if (free_userdata)
			free_userdata(userdata);
		if (fd_to_close >= 0)
			close(fd_to_close);
		return -ENOMEM;
	}
	*j = (Job){ .c = c, .req = req, .m = sd_bus_message_ref(m), .done = done,
		    .userdata = userdata, .free_userdata = free_userdata,
		    .fd_to_close = fd_to_close };
	j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (j->efd < 0) {
		r = -errno;
		goto fail;
	}
	r = sd_event_add_io(c->event, &j->source, j->efd, EPOLLIN, job_finished, j);
	if (r < 0)
		goto fail;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&thread, &attr, job_thread, j);
	pthread_attr_destroy(&attr);
	if (r < 0)
		goto fail;
	return 0;
fail:
	job_free(j);
	return r;
}
