// SPDX-License-Identifier: GPL-2.0-only
/*
 * The blksnap generic netlink family through libnl-genl-3: a request socket,
 * the events socket in the sd-event loop, extended acks, and the resync of
 * every object from dumps.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <linux/netlink.h>
#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include "blksnapd.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#define RECV_BUF_SIZE (256u * 1024)

static void nl_socket_freep(struct nl_sock **sk)
{
	if (*sk)
		nl_socket_free(*sk);
}

static void nl_cb_putp(struct nl_cb **cb)
{
	if (*cb)
		nl_cb_put(*cb);
}

/* A socket for requests with extended acks; *ret_family resolved if < 0. */
int nl_open(struct nl_sock **ret, int *ret_family)
{
	_cleanup_(nl_socket_freep) struct nl_sock *sk = nl_socket_alloc();
	int one = 1, r;

	if (!sk)
		return -ENOMEM;
	r = genl_connect(sk);
	if (r < 0)
		return -EIO;
	nl_socket_set_msg_buf_size(sk, RECV_BUF_SIZE);
	nl_socket_enable_msg_peek(sk);
	if (setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one)) < 0)
		return -errno;
	(void)setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (*ret_family < 0) {
		r = genl_ctrl_resolve(sk, BLKSNAP_FAMILY_NAME);
		if (r < 0)
			return -ENOENT;
		*ret_family = r;
	}
	*ret = TAKE_PTR(sk);
	return 0;
}

struct transact {
	nl_reply_fn fn;
	void *userdata;
	int error;
	int cb_r;
	bool done;
	char *extack;
};

/* The NLMSGERR_ATTR_MSG text of an ack or a dump's done, if any. */
static char *extack_text(const struct nlmsghdr *h, size_t off)
{
	const struct nlattr *a;
	int rem;

	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS) || h->nlmsg_len <= off)
		return NULL;
	rem = (int)(h->nlmsg_len - off);
	for (a = (const struct nlattr *)((const uint8_t *)h + off); nla_ok(a, rem);
	     a = nla_next(a, &rem))
		if (nla_type(a) == NLMSGERR_ATTR_MSG && nla_len(a) > 0)
			return strndup(nla_data(a), (size_t)nla_len(a));
	return NULL;
}

static int transact_valid(struct nl_msg *msg, void *arg)
{
	struct transact *t = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[BLKSNAP_A_MAX + 1];
	int r;

	if (t->cb_r < 0 || !t->fn)
		return NL_OK;
	r = genlmsg_parse(h, 0, tb, BLKSNAP_A_MAX, NULL);
	if (r < 0) {
		t->cb_r = -EPROTO;
		return NL_OK;
	}
	r = t->fn(h, tb, t->userdata);
	if (r < 0)
		t->cb_r = r;
	return NL_OK;
}

static int transact_finish(struct nl_msg *msg, void *arg)
{
	struct transact *t = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);

	/* A dump's done carries its errno and, from Linux 6.0, an extack. */
	if (h->nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) {
		int err = *(int *)nlmsg_data(h);

		if (err < 0) {
			t->error = err;
			t->extack = extack_text(h, NLMSG_HDRLEN + sizeof(int));
		}
	}
	t->done = true;
	return NL_STOP;
}

static int transact_ack(_unused_ struct nl_msg *msg, void *arg)
{
	((struct transact *)arg)->done = true;
	return NL_STOP;
}

static int transact_error(_unused_ struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct transact *t = arg;
	const struct nlmsghdr *h = (const struct nlmsghdr *)((const uint8_t *)e - NLMSG_HDRLEN);
	size_t off = NLMSG_HDRLEN + sizeof(*e);

	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	t->error = e->error;
	t->extack = extack_text(h, off);
	t->done = true;
	return NL_STOP;
}

/*
 * Send @req (consumed) and receive its replies, calling @fn on each.
 * Returns 0 or the kernel's negative errno, with its extack text in
 * *ret_extack (NULL if none; the caller frees it).
 */
int nl_transact(struct nl_sock *sk, struct nl_msg *req, nl_reply_fn fn, void *userdata,
		char **ret_extack)
{
	_cleanup_(nl_cb_putp) struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	struct transact t = { .fn = fn, .userdata = userdata };
	int r;

	if (ret_extack)
		*ret_extack = NULL;
	if (!cb) {
		nlmsg_free(req);
		return -ENOMEM;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, transact_valid, &t);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, transact_finish, &t);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, transact_ack, &t);
	nl_cb_err(cb, NL_CB_CUSTOM, transact_error, &t);
	r = nl_send_auto(sk, req);
	nlmsg_free(req);
	if (r < 0)
		return -EIO;
	while (!t.done) {
		r = nl_recvmsgs(sk, cb);
		if (r < 0 && !t.done) {
			free(t.extack);
			return r == -NLE_NOMEM ? -ENOBUFS : -EIO;
		}
	}
	if (ret_extack)
		*ret_extack = t.extack;
	else
		free(t.extack);
	if (t.error < 0)
		return t.error;
	return t.cb_r;
}

struct nl_msg *nl_request_new(Context *c, uint8_t cmd, bool dump)
{
	struct nl_msg *msg = nlmsg_alloc_size(64 * 1024);

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, c->family, 0, dump ? NLM_F_DUMP : 0,
			 cmd, BLKSNAP_FAMILY_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

int nl_get_u32(struct nlattr *a, uint32_t *ret)
{
	if (!a || nla_len(a) != 4)
		return -EPROTO;
	*ret = nla_get_u32(a);
	return 0;
}

int nl_get_u64(struct nlattr *a, uint64_t *ret)
{
	if (!a || nla_len(a) != 8)
		return -EPROTO;
	*ret = nla_get_u64(a);
	return 0;
}

int nl_get_u8(struct nlattr *a, uint8_t *ret)
{
	if (!a || nla_len(a) != 1)
		return -EPROTO;
	*ret = nla_get_u8(a);
	return 0;
}

int nl_get_id(struct nlattr *a, uint8_t ret[ID_LEN])
{
	if (!a || nla_len(a) != ID_LEN)
		return -EPROTO;
	memcpy(ret, nla_data(a), ID_LEN);
	return 0;
}

static int version_reply(_unused_ struct nlmsghdr *h, struct nlattr **tb, void *userdata)
{
	Context *c = userdata;
	uint32_t major, minor, patch;

	if (nl_get_u32(tb[BLKSNAP_A_VERSION_MAJOR], &major) < 0 ||
	    nl_get_u32(tb[BLKSNAP_A_VERSION_MINOR], &minor) < 0 ||
	    nl_get_u32(tb[BLKSNAP_A_VERSION_PATCH], &patch) < 0)
		return -EPROTO;
	snprintf(c->module_version, sizeof(c->module_version), "%u.%u.%u", major, minor, patch);
	return 0;
}

int nl_get_version(Context *c)
{
	struct nl_msg *req = nl_request_new(c, BLKSNAP_CMD_VERSION, false);

	if (!req)
		return -ENOMEM;
	return nl_transact(c->nl, req, version_reply, c, NULL);
}

/* ---- the mirror: dumps and events ---------------------------------------- */

static int resync_tracker(_unused_ struct nlmsghdr *h, struct nlattr **tb, void *userdata)
{
	Context *c = userdata;
	Device *d;
	int r = device_update(c, tb, &d);

	if (r >= 0)
		d->seen = true;
	return r < 0 ? 0 : 0;	/* one bad message does not stop the dump */
}

static int resync_snapshot(struct nlmsghdr *h, struct nlattr **tb, void *userdata)
{
	Context *c = userdata;
	Snapshot *s;
	int r = snapshot_update(c, h, tb, &s);

	if (r >= 0)
		s->seen = true;
	return 0;
}

/* Rebuild every object from the kernel's dumps: add, update, remove. */
int nl_resync(Context *c)
{
	struct nl_msg *req;
	Device *d, *dn;
	Snapshot *s, *sn;
	int r;

	for (d = c->devices; d; d = d->next)
		d->seen = false;
	for (s = c->snapshots; s; s = s->next)
		s->seen = false;

	req = nl_request_new(c, BLKSNAP_CMD_TRACKER_GET, true);
	if (!req)
		return -ENOMEM;
	r = nl_transact(c->nl, req, resync_tracker, c, NULL);
	if (r < 0)
		return log_error_errno(r, "Cannot dump the trackers: %m");
	req = nl_request_new(c, BLKSNAP_CMD_SNAPSHOT_GET, true);
	if (!req)
		return -ENOMEM;
	r = nl_transact(c->nl, req, resync_snapshot, c, NULL);
	if (r < 0)
		return log_error_errno(r, "Cannot dump the snapshots: %m");

	for (s = c->snapshots; s; s = sn) {
		sn = s->next;
		if (!s->seen)
			snapshot_remove(s);
	}
	for (d = c->devices; d; d = dn) {
		dn = d->next;
		if (!d->seen)
			device_remove(d);
	}
	return 0;
}

static void event_handle(Context *c, struct nlmsghdr *h)
{
	struct genlmsghdr *g = nlmsg_data(h);
	struct nlattr *tb[BLKSNAP_A_MAX + 1];
	uint8_t id[ID_LEN];
	uint32_t major, minor;
	uint64_t wanted;
	Snapshot *s;
	Device *d;

	if (h->nlmsg_type != c->family || genlmsg_parse(h, 0, tb, BLKSNAP_A_MAX, NULL) < 0)
		return;
	switch (g->cmd) {
	case BLKSNAP_CMD_TRACKER_ADD_NTF:
	case BLKSNAP_CMD_TRACKER_CHANGE_NTF:
		(void)device_update(c, tb, &d);
		break;
	case BLKSNAP_CMD_TRACKER_DEL_NTF:
		if (nl_get_u32(tb[BLKSNAP_A_DEV_MAJOR], &major) >= 0 &&
		    nl_get_u32(tb[BLKSNAP_A_DEV_MINOR], &minor) >= 0 &&
		    (d = device_find(c, major, minor)))
			device_remove(d);
		break;
	case BLKSNAP_CMD_SNAPSHOT_ADD_NTF:
	case BLKSNAP_CMD_SNAPSHOT_CHANGE_NTF:
		(void)snapshot_update(c, h, tb, &s);
		break;
	case BLKSNAP_CMD_SNAPSHOT_DEL_NTF:
		if (nl_get_id(tb[BLKSNAP_A_SNAPSHOT_ID], id) >= 0 && (s = snapshot_find(c, id)))
			snapshot_remove(s);
		break;
	case BLKSNAP_CMD_SNAPSHOT_LOW_SPACE_NTF:
		if (nl_get_id(tb[BLKSNAP_A_SNAPSHOT_ID], id) >= 0 &&
		    nl_get_u64(tb[BLKSNAP_A_WANTED_SECTORS], &wanted) >= 0 &&
		    (s = snapshot_find(c, id))) {
			(void)nl_get_u64(tb[BLKSNAP_A_STORAGE_TOTAL], &s->total);
			(void)nl_get_u64(tb[BLKSNAP_A_STORAGE_USED], &s->used);
			snapshot_on_low_space(s, wanted);
		}
		break;
	case BLKSNAP_CMD_SNAPSHOT_CORRUPTED_NTF:
		if (nl_get_id(tb[BLKSNAP_A_SNAPSHOT_ID], id) >= 0 && (s = snapshot_find(c, id)))
			snapshot_on_corrupted(s, tb);
		break;
	}
}

static int events_ready(_unused_ sd_event_source *src, int fd, _unused_ uint32_t revents,
			void *userdata)
{
	Context *c = userdata;
	_cleanup_(freep) uint8_t *buf = malloc(RECV_BUF_SIZE);
	bool overrun = false;

	if (!buf)
		return 0;
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(fd, buf, RECV_BUF_SIZE, MSG_DONTWAIT);
		int rem;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOBUFS) {
			overrun = true;
			continue;
		}
		if (n <= 0)
			break;
		rem = (int)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; nlmsg_ok(h, rem);
		     h = nlmsg_next(h, &rem))
			event_handle(c, h);
	}
	if (overrun) {
		log_info("Events were lost (the socket overran): resynchronising from dumps");
		(void)nl_resync(c);
	}
	return 0;
}

/* The socket of the events group, in the loop.  Opened before the first dump. */
int nl_events_open(Context *c)
{
	int fd, grp, rcvbuf = 4 << 20, one = 1, r;

	grp = genl_ctrl_resolve_grp(c->nl, BLKSNAP_FAMILY_NAME, BLKSNAP_MCGRP_EVENTS);
	if (grp < 0)
		return log_error_errno(-ENOENT, "The blksnap family has no events group");
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_GENERIC);
	if (fd < 0)
		return log_error_errno(-errno, "Cannot open a netlink socket: %m");
	c->events_fd = fd;
	/* Bound, so it has a port id: port 0 is the kernel's, and never receives. */
	if (bind(fd, (struct sockaddr *)&(struct sockaddr_nl){ .nl_family = AF_NETLINK },
		 sizeof(struct sockaddr_nl)) < 0)
		return log_error_errno(-errno, "Cannot bind the events socket: %m");
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0)
		return log_error_errno(-errno, "Cannot join the blksnap events group: %m");
	c->events_group = grp;
	r = sd_event_add_io(c->event, &c->events_source, fd, EPOLLIN, events_ready, c);
	if (r < 0)
		return log_error_errno(r, "Cannot watch the events socket: %m");
	return 0;
}
