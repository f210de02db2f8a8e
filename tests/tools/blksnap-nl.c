// SPDX-License-Identifier: GPL-2.0-only
/*
 * blksnap-nl - a small command-line client of the "blksnap" generic netlink
 * family, for the test cases and the demo.  Raw AF_NETLINK sockets, no libnl.
 *
 * Output: stable "key=value" lines on stdout.  Errors: on stderr,
 *   error: <ENAME> (<strerror>): <extack message, our own message, or "-">
 * optionally followed by "error-attr: offset=N" and/or
 * "missing-attr: type=N [nest-offset=N]" from the kernel's extended ack.
 * Exit status: 0 on success, the positive errno of a failure, 64 (EX_USAGE)
 * on a command-line error (ENONET, 64, is never a result of this family).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/blksnap.h>

#include "util.h"

#ifndef BLKSNAP_NL_VERSION
#define BLKSNAP_NL_VERSION "unknown"
#endif
#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define EXIT_USAGE	64		/* sysexits.h EX_USAGE */
#define R_USAGE		(-4096)		/* a usage error, already reported */
#define RECV_BUF_SIZE	(256u * 1024)	/* the kernel's dump skbs are <= 32 KiB */
#define REQ_BUF_SIZE	(64u * 1024)
#define MONITOR_RCVBUF	(1 << 20)
#define UUID_STR_LEN	37


/* Take ownership of *p, leaving NULL for its cleanup handler. */
static inline void *take_ptr(void *p)
{
	void *v = *(void **)p;

	*(void **)p = NULL;
	return v;
}

/* ---- messages ---------------------------------------------------------- */

static const char *errno_name(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "EUNKNOWN";
}

/* Report a failure as "error: ENAME (strerror): message"; return -errno. */
static _printf_(2, 3) int log_error(int r, const char *fmt, ...)
{
	int err = r < 0 ? -r : r;
	va_list ap;

	fprintf(stderr, "error: %s (%s): ", errno_name(err), strerror(err));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -err;
}

static _printf_(1, 2) int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("blksnap-nl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'blksnap-nl --help'.\n", stderr);
	return R_USAGE;
}

static char *uuid_format(const uint8_t id[BLKSNAP_GENERATION_ID_LEN],
			 char buf[UUID_STR_LEN])
{
	char *p = buf;

	for (int i = 0; i < BLKSNAP_GENERATION_ID_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		p += sprintf(p, "%02x", id[i]);
	}
	return buf;
}

/* ---- names of the family's operations and attributes ------------------- */

static const char *const cmd_names[BLKSNAP_CMD_MAX + 1] = {
	[BLKSNAP_CMD_VERSION]		 = "version",
	[BLKSNAP_CMD_TRACKER_ATTACH]	 = "tracker-attach",
	[BLKSNAP_CMD_TRACKER_DETACH]	 = "tracker-detach",
	[BLKSNAP_CMD_TRACKER_GET]	 = "tracker-get",
	[BLKSNAP_CMD_CBT_MAP_READ]	 = "cbt-map-read",
	[BLKSNAP_CMD_CBT_MARK_DIRTY]	 = "cbt-mark-dirty",
	[BLKSNAP_CMD_CBT_RESET]		 = "cbt-reset",
	[BLKSNAP_CMD_TRACKER_ADD_NTF]	 = "tracker-add-ntf",
	[BLKSNAP_CMD_TRACKER_DEL_NTF]	 = "tracker-del-ntf",
	[BLKSNAP_CMD_TRACKER_CHANGE_NTF] = "tracker-change-ntf",
	[BLKSNAP_CMD_SNAPSHOT_CREATE]	 = "snapshot-create",
	[BLKSNAP_CMD_SNAPSHOT_DESTROY]	 = "snapshot-destroy",
	[BLKSNAP_CMD_SNAPSHOT_GET]	 = "snapshot-get",
	[BLKSNAP_CMD_SNAPSHOT_APPEND_STORAGE] = "snapshot-append-storage",
	[BLKSNAP_CMD_SNAPSHOT_TAKE]	 = "snapshot-take",
	[BLKSNAP_CMD_SNAPSHOT_ADD_NTF]	 = "snapshot-add-ntf",
	[BLKSNAP_CMD_SNAPSHOT_DEL_NTF]	 = "snapshot-del-ntf",
	[BLKSNAP_CMD_SNAPSHOT_CHANGE_NTF] = "snapshot-change-ntf",
	[BLKSNAP_CMD_SNAPSHOT_LOW_SPACE_NTF] = "snapshot-low-space-ntf",
	[BLKSNAP_CMD_SNAPSHOT_CORRUPTED_NTF] = "snapshot-corrupted-ntf",
};

static const char *const main_attr_names[BLKSNAP_A_MAX + 1] = {
	[BLKSNAP_A_PAD]		  = "pad",
	[BLKSNAP_A_VERSION_MAJOR] = "version-major",
	[BLKSNAP_A_VERSION_MINOR] = "version-minor",
	[BLKSNAP_A_VERSION_PATCH] = "version-patch",
	[BLKSNAP_A_DEV_MAJOR]	  = "dev-major",
	[BLKSNAP_A_DEV_MINOR]	  = "dev-minor",
	[BLKSNAP_A_BLOCK_SIZE]	  = "block-size",
	[BLKSNAP_A_BLOCK_COUNT]	  = "block-count",
	[BLKSNAP_A_CAPACITY]	  = "capacity",
	[BLKSNAP_A_GENERATION_ID] = "generation-id",
	[BLKSNAP_A_SNAP_NUMBER]	  = "snap-number",
	[BLKSNAP_A_MAP_OFFSET]	  = "map-offset",
	[BLKSNAP_A_MAP_LENGTH]	  = "map-length",
	[BLKSNAP_A_MAP_DATA]	  = "map-data",
	[BLKSNAP_A_RANGE]	  = "range",
	[BLKSNAP_A_DEV_PATH]	  = "dev-path",
	[BLKSNAP_A_SNAPSHOT_ID]	  = "snapshot-id",
	[BLKSNAP_A_DEVICE]	  = "device",
	[BLKSNAP_A_CHUNK_SIZE]	  = "chunk-size",
	[BLKSNAP_A_LOW_FREE_SECTORS] = "low-free-sectors",
	[BLKSNAP_A_STATE]	  = "state",
	[BLKSNAP_A_STORAGE_TOTAL] = "storage-total",
	[BLKSNAP_A_STORAGE_USED]  = "storage-used",
	[BLKSNAP_A_ERROR]	  = "error",
	[BLKSNAP_A_STORAGE_RANGE] = "storage-range",
	[BLKSNAP_A_STORAGE_FD]	  = "storage-fd",
	[BLKSNAP_A_STORAGE_LIMIT] = "storage-limit",
	[BLKSNAP_A_WANTED_SECTORS] = "wanted-sectors",
};

static const char *const device_attr_names[BLKSNAP_A_DEVICE_MAX + 1] = {
	[BLKSNAP_A_DEVICE_PAD]		 = "pad",
	[BLKSNAP_A_DEVICE_DEV_MAJOR]	 = "dev-major",
	[BLKSNAP_A_DEVICE_DEV_MINOR]	 = "dev-minor",
	[BLKSNAP_A_DEVICE_DEV_PATH]	 = "dev-path",
	[BLKSNAP_A_DEVICE_IMAGE_MAJOR]	 = "image-major",
	[BLKSNAP_A_DEVICE_IMAGE_MINOR]	 = "image-minor",
	[BLKSNAP_A_DEVICE_IMAGE_NAME]	 = "image-name",
	[BLKSNAP_A_DEVICE_SNAP_NUMBER]	 = "snap-number",
	[BLKSNAP_A_DEVICE_GENERATION_ID] = "generation-id",
	[BLKSNAP_A_DEVICE_ERROR]	 = "error",
};

static const char *const storage_attr_names[BLKSNAP_A_STORAGE_MAX + 1] = {
	[BLKSNAP_A_STORAGE_PAD]	      = "pad",
	[BLKSNAP_A_STORAGE_DEV_MAJOR] = "dev-major",
	[BLKSNAP_A_STORAGE_DEV_MINOR] = "dev-minor",
	[BLKSNAP_A_STORAGE_DEV_PATH]  = "dev-path",
	[BLKSNAP_A_STORAGE_START]     = "start",
	[BLKSNAP_A_STORAGE_COUNT]     = "count",
};

static const char *const state_names[] = {
	[BLKSNAP_SNAPSHOT_STATE_CREATED]   = "created",
	[BLKSNAP_SNAPSHOT_STATE_TAKEN]	   = "taken",
	[BLKSNAP_SNAPSHOT_STATE_CORRUPTED] = "corrupted",
};

static const char *const range_attr_names[BLKSNAP_A_RANGE_MAX + 1] = {
	[BLKSNAP_A_RANGE_START] = "start",
	[BLKSNAP_A_RANGE_COUNT] = "count",
	[BLKSNAP_A_RANGE_PAD]	= "pad",
};

/* ---- parsing of arguments ---------------------------------------------- */

/* A decimal or 0x-prefixed hexadecimal number, nothing else. */
static int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	const char *digits = "0123456789";
	unsigned long long v;
	int base = 10;
	char *end;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		digits = "0123456789abcdefABCDEF";
		base = 16;
		s += 2;
	}
	if (!*s || s[strspn(s, digits)] != '\0')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static int parse_u32(const char *s, uint32_t *ret)
{
	uint64_t v;
	int r = parse_u64(s, UINT32_MAX, &v);

	if (r == 0)
		*ret = (uint32_t)v;
	return r;
}

/* The index of @s in @names, or -ENOENT. */
static int lookup(const char *s, const char *const *names, size_t n, uint64_t *ret)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && strcmp(s, names[i]) == 0) {
			*ret = i;
			return 0;
		}
	return -ENOENT;
}

/* One of @names (index = value), or a number up to @max. */
static int parse_name(const char *s, const char *const *names, size_t n,
		      uint64_t max, uint64_t *ret)
{
	return lookup(s, names, n, ret) == 0 ? 0 : parse_u64(s, max, ret);
}

/* Two numbers "A<sep>B", each at most @max. */
static int parse_pair(const char *s, char sep, uint64_t max, uint64_t *a, uint64_t *b)
{
	char buf[64], *p;

	if (strlen(s) >= sizeof(buf) || !(p = strchr(strcpy(buf, s), sep)))
		return -EINVAL;
	*p = '\0';
	return parse_u64(buf, max, a) < 0 || parse_u64(p + 1, max, b) < 0 ? -EINVAL : 0;
}

struct dev_arg {
	const char *path;	/* or NULL, and then: */
	uint32_t major, minor;
};

static int parse_dev(const char *s, struct dev_arg *ret)
{
	uint64_t major, minor;

	*ret = (struct dev_arg){ .path = s[0] == '/' ? s : NULL };
	if (ret->path)
		return 0;
	if (parse_pair(s, ':', UINT32_MAX, &major, &minor) < 0)
		return usage_error("device '%s' is neither MAJ:MIN nor /path", s);
	ret->major = (uint32_t)major;
	ret->minor = (uint32_t)minor;
	return 0;
}

/* A UUID as 32 hexadecimal digits, dashes anywhere between the bytes. */
static int parse_uuid(const char *s, uint8_t ret[BLKSNAP_GENERATION_ID_LEN])
{
	static const char hex[] = "0123456789abcdefABCDEF";
	size_t n = 0;

	for (; *s; s++) {
		if (*s == '-')
			continue;
		if (n == BLKSNAP_GENERATION_ID_LEN || !s[1] || !strchr(hex, s[0]) ||
		    !strchr(hex, s[1]))
			return -EINVAL;
		sscanf(s++, "%2hhx", &ret[n++]);
	}
	return n == BLKSNAP_GENERATION_ID_LEN ? 0 : -EINVAL;
}

static int parse_snapshot_id(const char *s, uint8_t ret[BLKSNAP_GENERATION_ID_LEN])
{
	if (parse_uuid(s, ret) < 0)
		return usage_error("snapshot id '%s' is not a UUID", s);
	return 0;
}

/* ---- building requests --------------------------------------------------- */

struct req {
	_Alignas(NLMSG_ALIGNTO) uint8_t buf[REQ_BUF_SIZE];
	size_t len;
	bool overflow;		/* sticky; reported when sent */
};

static struct nlmsghdr *req_hdr(struct req *req)
{
	return (struct nlmsghdr *)req->buf;
}

/* @type 0 means the blksnap family, filled in when the request is sent. */
static void req_init(struct req *req, uint16_t type, uint8_t cmd, uint8_t version)
{
	struct genlmsghdr *g = (struct genlmsghdr *)(req->buf + NLMSG_HDRLEN);

	memset(req->buf, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	req_hdr(req)->nlmsg_type = type;
	g->cmd = cmd;
	g->version = version;
	req->len = NLMSG_HDRLEN + GENL_HDRLEN;
	req->overflow = false;
}

/* Append an attribute; return its offset, for a nest. */
static size_t req_put(struct req *req, uint16_t type, const void *data, size_t len)
{
	size_t start = req->len, total = NLA_HDRLEN + len;
	struct nlattr *a = (struct nlattr *)(req->buf + start);

	if (req->overflow || total > UINT16_MAX ||
	    NLA_ALIGN(total) > sizeof(req->buf) - start) {
		req->overflow = true;
		return 0;
	}
	a->nla_type = type;
	a->nla_len = (uint16_t)total;
	if (len)
		memcpy(req->buf + start + NLA_HDRLEN, data, len);
	memset(req->buf + start + total, 0, NLA_ALIGN(total) - total);
	req->len += NLA_ALIGN(total);
	return start;
}

static void req_put_u32(struct req *req, uint16_t type, uint32_t v)
{
	req_put(req, type, &v, sizeof(v));
}

static void req_put_u64(struct req *req, uint16_t type, uint64_t v)
{
	req_put(req, type, &v, sizeof(v));
}

static void req_put_str(struct req *req, uint16_t type, const char *s)
{
	req_put(req, type, s, strlen(s) + 1);
}

static size_t req_nest_start(struct req *req, uint16_t type)
{
	return req_put(req, type | NLA_F_NESTED, NULL, 0);
}

static void req_nest_end(struct req *req, size_t start)
{
	if (req->overflow)
		return;
	if (req->len - start > UINT16_MAX) {
		req->overflow = true;
		return;
	}
	((struct nlattr *)(req->buf + start))->nla_len = (uint16_t)(req->len - start);
}

/* A device as a path, or as its numbers, in the given attribute types. */
static void req_put_dev_as(struct req *req, const struct dev_arg *dev, uint16_t path_type,
			   uint16_t major_type, uint16_t minor_type)
{
	if (dev->path) {
		req_put_str(req, path_type, dev->path);
	} else {
		req_put_u32(req, major_type, dev->major);
		req_put_u32(req, minor_type, dev->minor);
	}
}

static void req_put_dev(struct req *req, const struct dev_arg *dev)
{
	req_put_dev_as(req, dev, BLKSNAP_A_DEV_PATH, BLKSNAP_A_DEV_MAJOR, BLKSNAP_A_DEV_MINOR);
}

/* ---- reading attributes -------------------------------------------------- */

static const void *attr_data(const struct nlattr *a)
{
	return (const uint8_t *)a + NLA_HDRLEN;
}

static size_t attr_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

static bool attr_ok(const struct nlattr *a, size_t rem)
{
	return rem >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= rem;
}

static const struct nlattr *attr_next(const struct nlattr *a, size_t *rem)
{
	size_t step = NLA_ALIGN(a->nla_len);

	step = step < *rem ? step : *rem;
	*rem -= step;
	return (const struct nlattr *)((const uint8_t *)a + step);
}

/* Index the attributes of @data by type, the last one of a type winning. */
static int attr_parse(const void *data, size_t len, const struct nlattr **tb, unsigned max)
{
	const struct nlattr *a;
	size_t rem = len;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	for (a = data; attr_ok(a, rem); a = attr_next(a, &rem))
		if ((a->nla_type & NLA_TYPE_MASK) <= max)
			tb[a->nla_type & NLA_TYPE_MASK] = a;
	return rem >= NLA_HDRLEN ? -EPROTO : 0;
}

/* Copy attribute @a if it has exactly @size bytes. */
static bool attr_copy(const struct nlattr *a, void *ret, size_t size)
{
	if (!a || attr_len(a) != size)
		return false;
	memcpy(ret, attr_data(a), size);
	return true;
}

/* Copy attribute @a, if present, of exactly @size bytes: 1 if copied, 0 if absent. */
static int attr_get_opt(const struct nlattr *a, const char *name, void *ret, size_t size)
{
	if (!a)
		return 0;
	if (attr_len(a) != size)
		return log_error(-EPROTO, "%s has %zu bytes, not %zu", name, attr_len(a), size);
	memcpy(ret, attr_data(a), size);
	return 1;
}

/* Copy attribute @type (a name of @names) of exactly @size bytes, or report what is wrong. */
static int attr_get_named(const struct nlattr *const *tb, unsigned type, const char *const *names,
			  size_t n_names, void *ret, size_t size)
{
	const char *name = type < n_names && names[type] ? names[type] : "?";

	if (!tb[type])
		return log_error(-EPROTO, "the kernel's message lacks %s", name);
	return attr_get_opt(tb[type], name, ret, size) < 0 ? -EPROTO : 0;
}

/* Copy attribute @type of the main set of exactly @size bytes, or report what is wrong. */
static int attr_get(const struct nlattr *const *tb, unsigned type, void *ret, size_t size)
{
	return attr_get_named(tb, type, main_attr_names, ELEMENTSOF(main_attr_names), ret, size);
}

/* ---- the netlink socket -------------------------------------------------- */

struct nl {
	int fd;
	uint32_t seq;
	uint16_t family;
	uint32_t events_group;	/* 0 if the family has none */
	bool enoent_acked;	/* the last error was an ENOENT ack, left unreported */
	unsigned pause_before_receive;	/* seconds to wait between a send and its answer */
	uint8_t *buf;		/* RECV_BUF_SIZE bytes */
};

#define NL_NULL ((struct nl){ .fd = -1 })

enum {
	NL_DUMP		= 1 << 0,	/* a dump request */
	NL_ENOENT_QUIET	= 1 << 1,	/* an ENOENT ack is the caller's to report */
};

/* Called for each reply message of the family; a negative errno stops. */
typedef int (*nl_reply_fn)(const struct genlmsghdr *g, const void *attrs, size_t len,
			   void *userdata);

static void nl_done(struct nl *nl)
{
	closep(&nl->fd);
	free(nl->buf);
}

static bool msg_ok(const struct nlmsghdr *h, size_t rem)
{
	return rem >= NLMSG_HDRLEN && h->nlmsg_len >= NLMSG_HDRLEN && h->nlmsg_len <= rem;
}

static const struct nlmsghdr *msg_next(const struct nlmsghdr *h, size_t *rem)
{
	size_t step = NLMSG_ALIGN(h->nlmsg_len);

	step = step < *rem ? step : *rem;
	*rem -= step;
	return (const struct nlmsghdr *)((const uint8_t *)h + step);
}

/*
 * Report a kernel error (an NLMSG_ERROR, or an NLMSG_DONE ending a dump)
 * with the extended ack TLVs found at @tlv_off in the payload of @h.
 */
static int nl_ack_error(struct nl *nl, int error, const struct nlmsghdr *h, size_t tlv_off,
			unsigned flags)
{
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = { NULL };
	size_t payload = h->nlmsg_len - NLMSG_HDRLEN;
	uint32_t v;

	if (error >= 0)
		error = -EPROTO;
	if (error == -ENOENT && (flags & NL_ENOENT_QUIET)) {
		nl->enoent_acked = true;
		return error;
	}
	tlv_off = NLMSG_ALIGN(tlv_off);
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS) || tlv_off >= payload ||
	    attr_parse((const uint8_t *)NLMSG_DATA(h) + tlv_off, payload - tlv_off, tb,
		       NLMSGERR_ATTR_MAX) < 0)
		memset(tb, 0, sizeof(tb));
	fprintf(stderr, "error: %s (%s): ", errno_name(-error), strerror(-error));
	if (tb[NLMSGERR_ATTR_MSG])
		fprintf(stderr, "%.*s\n", (int)attr_len(tb[NLMSGERR_ATTR_MSG]),
			(const char *)attr_data(tb[NLMSGERR_ATTR_MSG]));
	else
		fputs("-\n", stderr);
	if (attr_copy(tb[NLMSGERR_ATTR_OFFS], &v, sizeof(v)))
		fprintf(stderr, "error-attr: offset=%" PRIu32 "\n", v);
	if (attr_copy(tb[NLMSGERR_ATTR_MISS_TYPE], &v, sizeof(v))) {
		fprintf(stderr, "missing-attr: type=%" PRIu32, v);
		if (attr_copy(tb[NLMSGERR_ATTR_MISS_NEST], &v, sizeof(v)))
			fprintf(stderr, " nest-offset=%" PRIu32, v);
		fputc('\n', stderr);
	}
	return error;
}

/* Receive one datagram into nl->buf; return its length. */
static ssize_t nl_recv(struct nl *nl)
{
	ssize_t n;

	do
		n = recv(nl->fd, nl->buf, RECV_BUF_SIZE, MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return log_error(-errno, "cannot receive from the netlink socket");
	if ((size_t)n > RECV_BUF_SIZE)
		return log_error(-EMSGSIZE, "a %zd-byte netlink message did not fit in %u bytes",
				 n, RECV_BUF_SIZE);
	return n;
}

/* One message of an answer: 1 when the answer is complete, 0 for more. */
static int nl_handle(struct nl *nl, const struct nlmsghdr *h, uint16_t type, unsigned flags,
		     nl_reply_fn fn, void *userdata)
{
	size_t payload = h->nlmsg_len - NLMSG_HDRLEN;
	const struct nlmsgerr *e = NLMSG_DATA(h);
	const struct genlmsghdr *g = NLMSG_DATA(h);
	size_t off = sizeof(*e);
	int error = 0;

	if (h->nlmsg_seq != nl->seq)
		return 0;
	if (h->nlmsg_type == NLMSG_ERROR) {
		if (payload < sizeof(*e))
			return log_error(-EPROTO, "truncated netlink error message");
		if (e->error == 0)
			return 1;
		if (!(h->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len >= NLMSG_HDRLEN)
			off += e->msg.nlmsg_len - NLMSG_HDRLEN;
		return nl_ack_error(nl, e->error, h, off, flags);
	}
	if (h->nlmsg_type == NLMSG_DONE) {
		if (payload >= sizeof(error))
			memcpy(&error, NLMSG_DATA(h), sizeof(error));
		return error ? nl_ack_error(nl, error, h, sizeof(error), flags) : 1;
	}
	if (h->nlmsg_type != type)
		return 0;
	if (h->nlmsg_flags & NLM_F_DUMP_INTR)
		return log_error(-EINTR, "the dump was interrupted by a concurrent change");
	if (payload < GENL_HDRLEN)
		return log_error(-EPROTO, "truncated generic netlink message");
	return fn ? fn(g, (const uint8_t *)g + GENL_HDRLEN, payload - GENL_HDRLEN, userdata) : 0;
}

/* Send @req; feed the answer to @fn until the ack or the end of the dump. */
static int nl_transact(struct nl *nl, struct req *req, unsigned flags, nl_reply_fn fn,
		       void *userdata)
{
	struct nlmsghdr *nlh = req_hdr(req);

	if (req->overflow)
		return log_error(-EMSGSIZE, "the request does not fit in %u bytes", REQ_BUF_SIZE);
	if (!nlh->nlmsg_type)
		nlh->nlmsg_type = nl->family;
	nlh->nlmsg_len = (uint32_t)req->len;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | ((flags & NL_DUMP) ? NLM_F_DUMP : 0);
	nlh->nlmsg_seq = ++nl->seq;
	if (send(nl->fd, req->buf, req->len, 0) < 0)
		return log_error(-errno, "cannot send the request");
	/*
	 * For tests: the kernel fills the first part of a dump at the send,
	 * each next one when the previous one is received.
	 */
	if (nl->pause_before_receive) {
		fputs("paused\n", stderr);
		sleep(nl->pause_before_receive);
		nl->pause_before_receive = 0;
	}

	for (;;) {
		ssize_t n = nl_recv(nl);
		size_t rem = n > 0 ? (size_t)n : 0;
		int r;

		if (n < 0)
			return (int)n;
		for (const struct nlmsghdr *h = (void *)nl->buf; msg_ok(h, rem); h = msg_next(h, &rem))
			if ((r = nl_handle(nl, h, nlh->nlmsg_type, flags, fn, userdata)) != 0)
				return r < 0 ? r : 0;
	}
}

static int family_reply(_unused_ const struct genlmsghdr *g, const void *attrs, size_t len,
			void *userdata)
{
	const struct nlattr *tb[CTRL_ATTR_MAX + 1], *grp[CTRL_ATTR_MCAST_GRP_MAX + 1];
	const struct nlattr *a, *name;
	struct nl *nl = userdata;
	size_t rem;

	if (attr_parse(attrs, len, tb, CTRL_ATTR_MAX) < 0 ||
	    !attr_copy(tb[CTRL_ATTR_FAMILY_ID], &nl->family, sizeof(nl->family)))
		return log_error(-EPROTO, "malformed reply from the genetlink controller");
	if (!tb[CTRL_ATTR_MCAST_GROUPS])
		return 0;
	rem = attr_len(tb[CTRL_ATTR_MCAST_GROUPS]);
	for (a = attr_data(tb[CTRL_ATTR_MCAST_GROUPS]); attr_ok(a, rem); a = attr_next(a, &rem)) {
		if (attr_parse(attr_data(a), attr_len(a), grp, CTRL_ATTR_MCAST_GRP_MAX) < 0)
			continue;
		name = grp[CTRL_ATTR_MCAST_GRP_NAME];
		if (name && attr_len(name) == sizeof(BLKSNAP_MCGRP_EVENTS) &&
		    memcmp(attr_data(name), BLKSNAP_MCGRP_EVENTS, attr_len(name)) == 0)
			attr_copy(grp[CTRL_ATTR_MCAST_GRP_ID], &nl->events_group,
				  sizeof(nl->events_group));
	}
	return 0;
}

/* Open the socket; resolve the family and its events group. */
static int nl_connect(struct nl *nl)
{
	static const int opts[] = { NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, NETLINK_CAP_ACK };
	struct req req;
	int one = 1, r;

	nl->buf = malloc(RECV_BUF_SIZE);
	if (!nl->buf)
		return log_error(-ENOMEM, "out of memory");
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl->fd < 0)
		return log_error(-errno, "cannot open a generic netlink socket");
	for (size_t i = 0; i < ELEMENTSOF(opts); i++)
		if (setsockopt(nl->fd, SOL_NETLINK, opts[i], &one, sizeof(one)) < 0)
			return log_error(-errno, "cannot set netlink socket option %d", opts[i]);

	req_init(&req, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	req_put_str(&req, CTRL_ATTR_FAMILY_NAME, BLKSNAP_FAMILY_NAME);
	r = nl_transact(nl, &req, NL_ENOENT_QUIET, family_reply, nl);
	if (r == -ENOENT && nl->enoent_acked)
		return log_error(r, "generic netlink family \"%s\" not found "
				 "(is the blksnap module loaded?)", BLKSNAP_FAMILY_NAME);
	if (r < 0)
		return r;
	if (!nl->family)
		return log_error(-EPROTO, "the genetlink controller gave no family id");
	return 0;
}

/*
 * Swap the socket for a new one that has received nothing yet, keeping the
 * family resolved on the old one: the kernel sizes the first part of a dump
 * by what the socket has received before (NLMSG_GOODSIZE on a fresh one).
 */
static int nl_reopen_fresh(struct nl *nl)
{
	static const int opts[] = { NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, NETLINK_CAP_ACK };
	_cleanup_(closep) int fd = -1;
	int one = 1;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		return log_error(-errno, "cannot open a generic netlink socket");
	for (size_t i = 0; i < ELEMENTSOF(opts); i++)
		if (setsockopt(fd, SOL_NETLINK, opts[i], &one, sizeof(one)) < 0)
			return log_error(-errno, "cannot set netlink socket option %d", opts[i]);
	close(nl->fd);
	nl->fd = fd;
	fd = -1;
	return 0;
}

/* Connect, send @req and handle its answer. */
static int nl_run(struct req *req, unsigned flags, nl_reply_fn fn, void *userdata)
{
	_cleanup_(nl_done) struct nl nl = NL_NULL;
	int r = nl_connect(&nl);

	return r < 0 ? r : nl_transact(&nl, req, flags, fn, userdata);
}

/* ---- replies ------------------------------------------------------------- */

struct tracker_info {
	uint32_t major, minor, block_size;
	uint64_t block_count, capacity;
	uint8_t generation[BLKSNAP_GENERATION_ID_LEN];
	uint8_t snap;
};

static int parse_main(const void *attrs, size_t len, const struct nlattr **tb)
{
	if (attr_parse(attrs, len, tb, BLKSNAP_A_MAX) < 0)
		return log_error(-EPROTO, "malformed attributes in the kernel's message");
	return 0;
}

static int tracker_info_parse(const void *attrs, size_t len, struct tracker_info *t, bool full)
{
	const struct nlattr *tb[BLKSNAP_A_MAX + 1];
	int r;

	if ((r = parse_main(attrs, len, tb)) < 0 ||
	    (r = attr_get(tb, BLKSNAP_A_DEV_MAJOR, &t->major, 4)) < 0 ||
	    (r = attr_get(tb, BLKSNAP_A_DEV_MINOR, &t->minor, 4)) < 0 || !full)
		return r;
	if ((r = attr_get(tb, BLKSNAP_A_BLOCK_SIZE, &t->block_size, 4)) < 0 ||
	    (r = attr_get(tb, BLKSNAP_A_BLOCK_COUNT, &t->block_count, 8)) < 0 ||
	    (r = attr_get(tb, BLKSNAP_A_CAPACITY, &t->capacity, 8)) < 0 ||
	    (r = attr_get(tb, BLKSNAP_A_GENERATION_ID, t->generation,
			  BLKSNAP_GENERATION_ID_LEN)) < 0)
		return r;
	return attr_get(tb, BLKSNAP_A_SNAP_NUMBER, &t->snap, 1);
}

static int tracker_reply(_unused_ const struct genlmsghdr *g, const void *attrs, size_t len,
			 _unused_ void *userdata)
{
	struct tracker_info t = { 0 };
	char uuid[UUID_STR_LEN];
	int r = tracker_info_parse(attrs, len, &t, true);

	if (r < 0)
		return r;
	printf("dev=%" PRIu32 ":%" PRIu32 " block_size=%" PRIu32 " block_count=%" PRIu64
	       " capacity=%" PRIu64 " generation=%s snap=%u\n", t.major, t.minor, t.block_size,
	       t.block_count, t.capacity, uuid_format(t.generation, uuid), t.snap);
	return 0;
}

static int version_reply(_unused_ const struct genlmsghdr *g, const void *attrs, size_t len,
			 _unused_ void *userdata)
{
	const struct nlattr *tb[BLKSNAP_A_MAX + 1];
	uint32_t v[3] = { 0 };
	int r = parse_main(attrs, len, tb);

	for (int i = 0; i < 3 && r == 0; i++)
		r = attr_get(tb, BLKSNAP_A_VERSION_MAJOR + i, &v[i], 4);
	if (r == 0)
		printf("version=%" PRIu32 ".%" PRIu32 ".%" PRIu32 "\n", v[0], v[1], v[2]);
	return r;
}

/* ---- snapshots ------------------------------------------------------------ */

struct snapshot_info {
	uint8_t id[BLKSNAP_GENERATION_ID_LEN];
	uint32_t state, chunk_size, error;
	uint64_t low_free, total, used;
};

struct device_info {
	uint32_t major, minor, image_major, image_minor, error;
	uint8_t generation[BLKSNAP_GENERATION_ID_LEN];
	uint8_t snap;
	bool has_snap, has_generation, has_error, has_image_dev;
	const char *image_name;	/* in the message, not NUL-terminated; or NULL */
	int image_name_len;
};

static const char *state_name(uint32_t state, char buf[16])
{
	if (state < ELEMENTSOF(state_names) && state_names[state])
		return state_names[state];
	snprintf(buf, 16, "%" PRIu32, state);
	return buf;
}

/* The attributes every snapshot-get reply carries (and the add and change events). */
static int snapshot_info_parse(const struct nlattr *const *tb, struct snapshot_info *s)
{
	int r;

	if ((r = attr_get(tb, BLKSNAP_A_SNAPSHOT_ID, s->id, sizeof(s->id))) < 0 ||
	    (r = attr_get(tb, BLKSNAP_A_STATE, &s->state, 4)) < 0 ||
	    (r = attr_get(tb, BLKSNAP_A_CHUNK_SIZE, &s->chunk_size, 4)) < 0 ||
	    (r = attr_get(tb, BLKSNAP_A_LOW_FREE_SECTORS, &s->low_free, 8)) < 0 ||
	    (r = attr_get(tb, BLKSNAP_A_STORAGE_TOTAL, &s->total, 8)) < 0 ||
	    (r = attr_get(tb, BLKSNAP_A_STORAGE_USED, &s->used, 8)) < 0)
		return r;
	return attr_get(tb, BLKSNAP_A_ERROR, &s->error, 4);
}

/* A device nest: its numbers are required, the rest is printed when present. */
static int device_parse(const struct nlattr *nest, struct device_info *d)
{
	const struct nlattr *tb[BLKSNAP_A_DEVICE_MAX + 1];
	const char *const *names = device_attr_names;
	size_t n = ELEMENTSOF(device_attr_names);
	int r, major, minor;

	*d = (struct device_info){ 0 };
	if (attr_parse(attr_data(nest), attr_len(nest), tb, BLKSNAP_A_DEVICE_MAX) < 0)
		return log_error(-EPROTO, "malformed device nest in the kernel's message");
	if ((r = attr_get_named(tb, BLKSNAP_A_DEVICE_DEV_MAJOR, names, n, &d->major, 4)) < 0 ||
	    (r = attr_get_named(tb, BLKSNAP_A_DEVICE_DEV_MINOR, names, n, &d->minor, 4)) < 0)
		return r;
	if ((r = attr_get_opt(tb[BLKSNAP_A_DEVICE_SNAP_NUMBER], "snap-number", &d->snap, 1)) < 0)
		return r;
	d->has_snap = r;
	r = attr_get_opt(tb[BLKSNAP_A_DEVICE_GENERATION_ID], "generation-id", d->generation,
			 sizeof(d->generation));
	if (r < 0)
		return r;
	d->has_generation = r;
	if ((r = attr_get_opt(tb[BLKSNAP_A_DEVICE_ERROR], "error", &d->error, 4)) < 0)
		return r;
	d->has_error = r;
	if ((major = attr_get_opt(tb[BLKSNAP_A_DEVICE_IMAGE_MAJOR], "image-major",
				  &d->image_major, 4)) < 0)
		return major;
	if ((minor = attr_get_opt(tb[BLKSNAP_A_DEVICE_IMAGE_MINOR], "image-minor",
				  &d->image_minor, 4)) < 0)
		return minor;
	if (major != minor)
		return log_error(-EPROTO, "image-major and image-minor come only together");
	d->has_image_dev = major;
	if (tb[BLKSNAP_A_DEVICE_IMAGE_NAME]) {
		d->image_name = attr_data(tb[BLKSNAP_A_DEVICE_IMAGE_NAME]);
		d->image_name_len = (int)strnlen(d->image_name,
						 attr_len(tb[BLKSNAP_A_DEVICE_IMAGE_NAME]));
	}
	return 0;
}

static void device_print(const struct device_info *d)
{
	char uuid[UUID_STR_LEN];

	printf("device dev=%" PRIu32 ":%" PRIu32, d->major, d->minor);
	if (d->has_snap)
		printf(" snap=%u", d->snap);
	if (d->has_generation)
		printf(" generation=%s", uuid_format(d->generation, uuid));
	if (d->has_error)
		printf(" error=%" PRIu32, d->error);
	if (d->image_name)
		printf(" image=%.*s", d->image_name_len, d->image_name);
	if (d->has_image_dev)
		printf(" image_dev=%" PRIu32 ":%" PRIu32, d->image_major, d->image_minor);
	putchar('\n');
}

/* Call @fn for each device nest of a message. */
static int for_each_device(const void *attrs, size_t len,
			   int (*fn)(const struct device_info *d, void *userdata), void *userdata)
{
	const struct nlattr *a;
	size_t rem = len;
	int r;

	for (a = attrs; attr_ok(a, rem); a = attr_next(a, &rem)) {
		struct device_info d;

		if ((a->nla_type & NLA_TYPE_MASK) != BLKSNAP_A_DEVICE)
			continue;
		if ((r = device_parse(a, &d)) < 0 || (r = fn(&d, userdata)) < 0)
			return r;
	}
	return 0;
}

static int device_print_line(const struct device_info *d, _unused_ void *userdata)
{
	device_print(d);
	return 0;
}

/* The line of a snapshot, then one line per device. */
static int snapshot_reply(_unused_ const struct genlmsghdr *g, const void *attrs, size_t len,
			  _unused_ void *userdata)
{
	const struct nlattr *tb[BLKSNAP_A_MAX + 1];
	struct snapshot_info s;
	char uuid[UUID_STR_LEN], state[16];
	int r;

	if ((r = parse_main(attrs, len, tb)) < 0 || (r = snapshot_info_parse(tb, &s)) < 0)
		return r;
	printf("snapshot=%s state=%s chunk_size=%" PRIu32 " low_free=%" PRIu64
	       " storage_total=%" PRIu64 " storage_used=%" PRIu64 " error=%" PRIu32 "\n",
	       uuid_format(s.id, uuid), state_name(s.state, state), s.chunk_size, s.low_free,
	       s.total, s.used, s.error);
	return for_each_device(attrs, len, device_print_line, NULL);
}

/* ---- commands with one request ------------------------------------------- */

struct command;
typedef int (*command_fn)(const struct command *c, int argc, char **argv);

struct command {
	const char *name, *args, *help;
	command_fn run;
	uint8_t cmd;		/* for run_simple() */
	int min_args, max_args;
	unsigned flags;
	nl_reply_fn reply;
};

static int put_range(struct req *req, const char *arg)
{
	uint64_t start, count;
	size_t nest;

	if (parse_pair(arg, '+', UINT64_MAX, &start, &count) < 0)
		return usage_error("range '%s' is not START+COUNT", arg);
	nest = req_nest_start(req, BLKSNAP_A_RANGE);
	req_put_u64(req, BLKSNAP_A_RANGE_START, start);
	req_put_u64(req, BLKSNAP_A_RANGE_COUNT, count);
	req_nest_end(req, nest);
	return 0;
}

/* version, attach, detach, get, list, reset, mark: [DEV [BLOCK_SIZE | RANGE...]] */
static int run_simple(const struct command *c, int argc, char **argv)
{
	struct dev_arg dev;
	struct req req;
	uint32_t block_size = 0;
	int r;

	req_init(&req, 0, c->cmd, BLKSNAP_FAMILY_VERSION);
	if (argc > 0) {
		if ((r = parse_dev(argv[0], &dev)) < 0)
			return r;
		req_put_dev(&req, &dev);
	}
	for (int i = 1; i < argc; i++) {
		if (c->cmd == BLKSNAP_CMD_CBT_MARK_DIRTY) {
			if ((r = put_range(&req, argv[i])) < 0)
				return r;
		} else {
			if (parse_u32(argv[i], &block_size) < 0)
				return usage_error("bad block size '%s'", argv[i]);
			req_put_u32(&req, BLKSNAP_A_BLOCK_SIZE, block_size);
		}
	}
	return nl_run(&req, c->flags, c->reply, NULL);
}

/* snapshot-create DEV... [--chunk-size BYTES] [--low-free SECTORS], in any order */
static int run_snapshot_create(const struct command *c, int argc, char **argv)
{
	struct req req;
	int r;

	req_init(&req, 0, c->cmd, BLKSNAP_FAMILY_VERSION);
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		struct dev_arg dev;
		uint64_t v;
		size_t nest;

		if (strcmp(arg, "--chunk-size") == 0 || strcmp(arg, "--low-free") == 0) {
			bool chunk = arg[2] == 'c';

			if (++i >= argc)
				return usage_error("%s needs a value", arg);
			if (parse_u64(argv[i], chunk ? UINT32_MAX : UINT64_MAX, &v) < 0)
				return usage_error("bad %s '%s'", arg + 2, argv[i]);
			if (chunk)
				req_put_u32(&req, BLKSNAP_A_CHUNK_SIZE, (uint32_t)v);
			else
				req_put_u64(&req, BLKSNAP_A_LOW_FREE_SECTORS, v);
			continue;
		}
		if ((r = parse_dev(arg, &dev)) < 0)
			return r;
		nest = req_nest_start(&req, BLKSNAP_A_DEVICE);
		req_put_dev_as(&req, &dev, BLKSNAP_A_DEVICE_DEV_PATH, BLKSNAP_A_DEVICE_DEV_MAJOR,
			       BLKSNAP_A_DEVICE_DEV_MINOR);
		req_nest_end(&req, nest);
	}
	return nl_run(&req, c->flags, c->reply, NULL);
}

/* snapshot-get, snapshot-take, snapshot-destroy: ID; snapshot-list: nothing */
static int run_snapshot(const struct command *c, int argc, char **argv)
{
	uint8_t id[BLKSNAP_GENERATION_ID_LEN];
	struct req req;
	int r;

	req_init(&req, 0, c->cmd, BLKSNAP_FAMILY_VERSION);
	if (argc > 0) {
		if ((r = parse_snapshot_id(argv[0], id)) < 0)
			return r;
		req_put(&req, BLKSNAP_A_SNAPSHOT_ID, id, sizeof(id));
	}
	return nl_run(&req, c->flags, c->reply, NULL);
}

/* snapshot-list [--fresh-socket] [--pause-before-receive SECONDS] */
static int run_snapshot_list(const struct command *c, int argc, char **argv)
{
	_cleanup_(nl_done) struct nl nl = NL_NULL;
	unsigned pause = 0;
	bool fresh = false;
	struct req req;
	uint64_t v;
	int r;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--fresh-socket") == 0) {
			fresh = true;
		} else if (strcmp(argv[i], "--pause-before-receive") == 0 && i + 1 < argc) {
			if (parse_u64(argv[++i], 3600, &v) < 0)
				return usage_error("bad pause '%s'", argv[i]);
			pause = (unsigned)v;
		} else {
			return usage_error("usage: blksnap-nl snapshot-list %s", c->args);
		}
	}
	req_init(&req, 0, c->cmd, BLKSNAP_FAMILY_VERSION);
	if ((r = nl_connect(&nl)) < 0)
		return r;
	if (fresh && (r = nl_reopen_fresh(&nl)) < 0)
		return r;
	nl.pause_before_receive = pause;
	return nl_transact(&nl, &req, c->flags, c->reply, NULL);
}

/* DEV:START+COUNT, DEV a /path or MAJ:MIN: a storage-range nest */
static int put_storage_range(struct req *req, const char *arg)
{
	char buf[PATH_MAX + 64], *colon;
	uint64_t start, count;
	struct dev_arg dev;
	size_t nest;
	int r;

	if (strlen(arg) >= sizeof(buf) || !(colon = strrchr(strcpy(buf, arg), ':')) ||
	    parse_pair(colon + 1, '+', UINT64_MAX, &start, &count) < 0)
		return usage_error("storage range '%s' is not DEV:START+COUNT", arg);
	*colon = '\0';
	if ((r = parse_dev(buf, &dev)) < 0)
		return r;
	nest = req_nest_start(req, BLKSNAP_A_STORAGE_RANGE);
	req_put_dev_as(req, &dev, BLKSNAP_A_STORAGE_DEV_PATH, BLKSNAP_A_STORAGE_DEV_MAJOR,
		       BLKSNAP_A_STORAGE_DEV_MINOR);
	req_put_u64(req, BLKSNAP_A_STORAGE_START, start);
	req_put_u64(req, BLKSNAP_A_STORAGE_COUNT, count);
	req_nest_end(req, nest);
	return 0;
}

/*
 * snapshot-append ID [DEV:START+COUNT...] [--file PATH LIMIT | --tmpfile DIR LIMIT]
 * Nothing is checked here that the kernel checks: ranges and a file together,
 * or neither, are sent as they are.
 */
static int run_snapshot_append(const struct command *c, int argc, char **argv)
{
	_cleanup_(closep) int fd = -1;
	uint8_t id[BLKSNAP_GENERATION_ID_LEN];
	struct req req;
	int r;

	if ((r = parse_snapshot_id(argv[0], id)) < 0)
		return r;
	req_init(&req, 0, c->cmd, BLKSNAP_FAMILY_VERSION);
	req_put(&req, BLKSNAP_A_SNAPSHOT_ID, id, sizeof(id));
	for (int i = 1; i < argc; i++) {
		bool tmp = strcmp(argv[i], "--tmpfile") == 0;
		bool append = strcmp(argv[i], "--append-file") == 0;
		bool ro = strcmp(argv[i], "--ro-file") == 0;
		uint64_t limit;

		if (!tmp && !append && !ro && strcmp(argv[i], "--file") != 0) {
			if ((r = put_storage_range(&req, argv[i])) < 0)
				return r;
			continue;
		}
		if (i + 2 >= argc)
			return usage_error("%s needs a path and a limit in sectors", argv[i]);
		if (fd >= 0)
			return usage_error("only one file in a request");
		if (parse_u64(argv[i + 2], UINT64_MAX, &limit) < 0)
			return usage_error("bad limit '%s'", argv[i + 2]);
		if (tmp)
			fd = open(argv[i + 1], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		else if (append)
			fd = open(argv[i + 1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		else if (ro)
			fd = open(argv[i + 1], O_RDONLY | O_CLOEXEC);
		else
			fd = open(argv[i + 1], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return log_error(-errno, "cannot open %s'%s'",
					 tmp ? "a temporary file in " : "", argv[i + 1]);
		req_put_u32(&req, BLKSNAP_A_STORAGE_FD, (uint32_t)fd);
		req_put_u64(&req, BLKSNAP_A_STORAGE_LIMIT, limit);
		i += 2;
	}
	return nl_run(&req, c->flags, c->reply, NULL);
}

/* ---- map ------------------------------------------------------------------ */

struct map_read {
	uint64_t next;		/* block expected in the next slice */
	uint8_t generation[BLKSNAP_GENERATION_ID_LEN];
	bool have_generation;
	FILE *raw;		/* NULL: print the runs of changed blocks */
	uint64_t run_start, run_count;
	uint8_t run_value;
};

static void map_flush_run(struct map_read *m)
{
	if (m->run_count && m->run_value)
		printf("%" PRIu64 "+%" PRIu64 "=%u\n", m->run_start, m->run_count, m->run_value);
	m->run_count = 0;
}

static void map_scan(struct map_read *m, uint64_t offset, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (m->run_count && data[i] == m->run_value) {
			m->run_count++;
			continue;
		}
		map_flush_run(m);
		m->run_start = offset + i;
		m->run_count = 1;
		m->run_value = data[i];
	}
}

static int map_slice(_unused_ const struct genlmsghdr *g, const void *attrs, size_t len,
		     void *userdata)
{
	const struct nlattr *tb[BLKSNAP_A_MAX + 1], *data;
	uint8_t generation[BLKSNAP_GENERATION_ID_LEN];
	char a[UUID_STR_LEN], b[UUID_STR_LEN];
	struct map_read *m = userdata;
	uint64_t offset = 0;
	int r;

	if ((r = parse_main(attrs, len, tb)) < 0 ||
	    (r = attr_get(tb, BLKSNAP_A_GENERATION_ID, generation, sizeof(generation))) < 0 ||
	    (r = attr_get(tb, BLKSNAP_A_MAP_OFFSET, &offset, sizeof(offset))) < 0)
		return r;
	data = tb[BLKSNAP_A_MAP_DATA];
	if (!data)
		return log_error(-EPROTO, "the kernel's message lacks map-data");
	if (!m->have_generation) {
		memcpy(m->generation, generation, sizeof(generation));
		m->have_generation = true;
	} else if (memcmp(m->generation, generation, sizeof(generation)) != 0) {
		return log_error(-EPROTO, "generation changed during the read: %s, then %s",
				 uuid_format(m->generation, a), uuid_format(generation, b));
	}
	if (offset != m->next)
		return log_error(-EPROTO, "map slice at block %" PRIu64 ", expected %" PRIu64,
				 offset, m->next);
	m->next += attr_len(data);
	if (!m->raw)
		map_scan(m, offset, attr_data(data), attr_len(data));
	else if (fwrite(attr_data(data), 1, attr_len(data), m->raw) != attr_len(data))
		return log_error(-errno, "cannot write the raw map");
	return 0;
}

/* map [--fresh-socket] [--raw FILE] [--snapshot ID] DEV [OFFSET [LENGTH]] */
static int run_map(const struct command *c, int argc, char **argv)
{
	_cleanup_(nl_done) struct nl nl = NL_NULL;
	_cleanup_(fclosep) FILE *raw_file = NULL;
	struct map_read m = { 0 };
	const char *raw = NULL, *snapshot = NULL;
	uint64_t offset = 0, length = 0;
	bool fresh = false;
	uint8_t id[BLKSNAP_GENERATION_ID_LEN];
	char uuid[UUID_STR_LEN];
	struct dev_arg dev;
	struct req req;
	int r;

	for (;;) {
		if (argc >= 1 && strcmp(argv[0], "--fresh-socket") == 0) {
			fresh = true;
			argc--;
			argv++;
			continue;
		}
		if (argc < 2 || (strcmp(argv[0], "--raw") != 0 &&
				 strcmp(argv[0], "--snapshot") != 0))
			break;
		if (argv[0][2] == 'r')
			raw = argv[1];
		else
			snapshot = argv[1];
		argc -= 2;
		argv += 2;
	}
	if (argc < 1 || argc > 3)
		return usage_error("usage: blksnap-nl map %s", c->args);
	if ((r = parse_dev(argv[0], &dev)) < 0)
		return r;
	if (snapshot && (r = parse_snapshot_id(snapshot, id)) < 0)
		return r;
	req_init(&req, 0, c->cmd, BLKSNAP_FAMILY_VERSION);
	req_put_dev(&req, &dev);
	if (snapshot)
		req_put(&req, BLKSNAP_A_SNAPSHOT_ID, id, sizeof(id));
	if (argc > 1 && parse_u64(argv[1], UINT64_MAX, &offset) < 0)
		return usage_error("bad offset '%s'", argv[1]);
	if (argc > 2 && parse_u64(argv[2], UINT64_MAX, &length) < 0)
		return usage_error("bad length '%s'", argv[2]);
	if (argc > 1)
		req_put_u64(&req, BLKSNAP_A_MAP_OFFSET, offset);
	if (argc > 2)
		req_put_u64(&req, BLKSNAP_A_MAP_LENGTH, length);
	if ((r = nl_connect(&nl)) < 0)
		return r;
	if (fresh && (r = nl_reopen_fresh(&nl)) < 0)
		return r;
	if (raw && !(raw_file = fopen(raw, "we")))
		return log_error(-errno, "cannot open '%s'", raw);

	m.raw = raw_file;
	m.next = offset;
	if ((r = nl_transact(&nl, &req, c->flags, c->reply, &m)) < 0)
		return r;
	map_flush_run(&m);
	if (!m.have_generation)
		return log_error(-EPROTO, "the map read returned no data");
	if (argc > 2 && m.next - offset != length)
		return log_error(-EPROTO, "read %" PRIu64 " blocks, asked for %" PRIu64,
				 m.next - offset, length);
	if (raw_file && fclose(take_ptr(&raw_file)) != 0)
		return log_error(-errno, "cannot write '%s'", raw);
	printf("generation=%s blocks=%" PRIu64 "\n", uuid_format(m.generation, uuid),
	       m.next - offset);
	return 0;
}

/* ---- monitor -------------------------------------------------------------- */

static int device_print_list(const struct device_info *d, void *userdata)
{
	bool *first = userdata;

	printf("%s%" PRIu32 ":%" PRIu32, *first ? " devices=" : ",", d->major, d->minor);
	*first = false;
	return 0;
}

static int snapshot_event_print(const struct genlmsghdr *g, const void *attrs, size_t len)
{
	const struct nlattr *tb[BLKSNAP_A_MAX + 1];
	char uuid[UUID_STR_LEN], state[16];
	struct snapshot_info s = { 0 };
	struct device_info d;
	uint64_t wanted;
	bool first = true;
	int r;

	if ((r = parse_main(attrs, len, tb)) < 0)
		return r;
	switch (g->cmd) {
	case BLKSNAP_CMD_SNAPSHOT_ADD_NTF:
		if ((r = snapshot_info_parse(tb, &s)) < 0)
			return r;
		printf("event=snapshot-add snapshot=%s state=%s chunk_size=%" PRIu32
		       " low_free=%" PRIu64 " storage_total=%" PRIu64 " storage_used=%" PRIu64
		       " error=%" PRIu32, uuid_format(s.id, uuid), state_name(s.state, state),
		       s.chunk_size, s.low_free, s.total, s.used, s.error);
		r = for_each_device(attrs, len, device_print_list, &first);
		putchar('\n');
		return r;
	case BLKSNAP_CMD_SNAPSHOT_CHANGE_NTF:
		if ((r = snapshot_info_parse(tb, &s)) < 0)
			return r;
		printf("event=snapshot-change snapshot=%s state=%s storage_total=%" PRIu64
		       " storage_used=%" PRIu64 " error=%" PRIu32 "\n", uuid_format(s.id, uuid),
		       state_name(s.state, state), s.total, s.used, s.error);
		return 0;
	case BLKSNAP_CMD_SNAPSHOT_DEL_NTF:
		if ((r = attr_get(tb, BLKSNAP_A_SNAPSHOT_ID, s.id, sizeof(s.id))) < 0)
			return r;
		printf("event=snapshot-del snapshot=%s\n", uuid_format(s.id, uuid));
		return 0;
	case BLKSNAP_CMD_SNAPSHOT_LOW_SPACE_NTF:
		if ((r = attr_get(tb, BLKSNAP_A_SNAPSHOT_ID, s.id, sizeof(s.id))) < 0 ||
		    (r = attr_get(tb, BLKSNAP_A_WANTED_SECTORS, &wanted, 8)) < 0 ||
		    (r = attr_get(tb, BLKSNAP_A_STORAGE_TOTAL, &s.total, 8)) < 0 ||
		    (r = attr_get(tb, BLKSNAP_A_STORAGE_USED, &s.used, 8)) < 0)
			return r;
		printf("event=snapshot-low-space snapshot=%s wanted=%" PRIu64
		       " storage_total=%" PRIu64 " storage_used=%" PRIu64 "\n",
		       uuid_format(s.id, uuid), wanted, s.total, s.used);
		return 0;
	case BLKSNAP_CMD_SNAPSHOT_CORRUPTED_NTF:
		if ((r = attr_get(tb, BLKSNAP_A_SNAPSHOT_ID, s.id, sizeof(s.id))) < 0 ||
		    (r = attr_get(tb, BLKSNAP_A_ERROR, &s.error, 4)) < 0)
			return r;
		printf("event=snapshot-corrupted snapshot=%s error=%" PRIu32,
		       uuid_format(s.id, uuid), s.error);
		/* The failed device, or "-" when the failure was not one device's. */
		if (tb[BLKSNAP_A_DEVICE] && (r = device_parse(tb[BLKSNAP_A_DEVICE], &d)) < 0)
			return r;
		if (tb[BLKSNAP_A_DEVICE])
			printf(" dev=%" PRIu32 ":%" PRIu32 "\n", d.major, d.minor);
		else
			puts(" dev=-");
		return 0;
	}
	printf("event=unknown cmd=%u\n", g->cmd);
	return 0;
}

static int event_print(const struct genlmsghdr *g, const void *attrs, size_t len)
{
	struct tracker_info t = { 0 };
	char uuid[UUID_STR_LEN];
	int r;

	if (g->cmd >= BLKSNAP_CMD_SNAPSHOT_ADD_NTF && g->cmd <= BLKSNAP_CMD_SNAPSHOT_CORRUPTED_NTF)
		return snapshot_event_print(g, attrs, len);
	if (g->cmd < BLKSNAP_CMD_TRACKER_ADD_NTF || g->cmd > BLKSNAP_CMD_TRACKER_CHANGE_NTF) {
		printf("event=unknown cmd=%u\n", g->cmd);
		return 0;
	}
	r = tracker_info_parse(attrs, len, &t, g->cmd != BLKSNAP_CMD_TRACKER_DEL_NTF);
	if (r < 0)
		return r;
	if (g->cmd == BLKSNAP_CMD_TRACKER_ADD_NTF)
		printf("event=tracker-add dev=%" PRIu32 ":%" PRIu32 " block_size=%" PRIu32
		       " generation=%s snap=%u\n", t.major, t.minor, t.block_size,
		       uuid_format(t.generation, uuid), t.snap);
	else if (g->cmd == BLKSNAP_CMD_TRACKER_CHANGE_NTF)
		printf("event=tracker-change dev=%" PRIu32 ":%" PRIu32 " generation=%s snap=%u\n",
		       t.major, t.minor, uuid_format(t.generation, uuid), t.snap);
	else
		printf("event=tracker-del dev=%" PRIu32 ":%" PRIu32 "\n", t.major, t.minor);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int monitor_parse(int argc, char **argv, uint64_t *count, int64_t *timeout_ms)
{
	for (int i = 0; i < argc; i += 2) {
		char *end;
		double s;

		if (i + 1 >= argc)
			return usage_error("monitor: %s needs a value", argv[i]);
		if (strcmp(argv[i], "--count") == 0) {
			if (parse_u64(argv[i + 1], UINT64_MAX, count) < 0 || !*count)
				return usage_error("bad count '%s'", argv[i + 1]);
		} else if (strcmp(argv[i], "--timeout") == 0) {
			errno = 0;
			s = strtod(argv[i + 1], &end);
			if (errno || *end || end == argv[i + 1] || !(s >= 0 && s < 1e9))
				return usage_error("bad timeout '%s'", argv[i + 1]);
			*timeout_ms = (int64_t)(s * 1000);
		} else {
			return usage_error("monitor: unknown option '%s'", argv[i]);
		}
	}
	return 0;
}

/* monitor [--count N] [--timeout SECONDS] */
static int run_monitor(_unused_ const struct command *c, int argc, char **argv)
{
	_cleanup_(nl_done) struct nl nl = NL_NULL;
	uint64_t count = 0, seen = 0;
	int64_t deadline = -1;
	int rcvbuf = MONITOR_RCVBUF, r;

	if ((r = monitor_parse(argc, argv, &count, &deadline)) < 0 ||
	    (r = nl_connect(&nl)) < 0)
		return r;
	if (!nl.events_group)
		return log_error(-ENOENT, "the family has no \"%s\" group", BLKSNAP_MCGRP_EVENTS);
	if (setsockopt(nl.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &nl.events_group,
		       sizeof(nl.events_group)) < 0)
		return log_error(-errno, "cannot join the \"%s\" group", BLKSNAP_MCGRP_EVENTS);
	(void)setsockopt(nl.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (deadline >= 0)
		deadline += now_ms();
	puts("ready");
	fflush(stdout);

	while (!count || seen < count) {
		struct pollfd pfd = { .fd = nl.fd, .events = POLLIN };
		int64_t wait = deadline < 0 ? -1 : deadline - now_ms();
		ssize_t n;
		size_t rem;

		if (deadline >= 0 && wait <= 0)
			return log_error(-ETIME, "timed out after %" PRIu64 " event(s)", seen);
		r = poll(&pfd, 1, wait > INT32_MAX ? INT32_MAX : (int)wait);
		if (r < 0 && errno != EINTR)
			return log_error(-errno, "cannot poll the netlink socket");
		if (r <= 0)
			continue;
		if ((n = nl_recv(&nl)) < 0)
			return (int)n;
		rem = (size_t)n;
		for (const struct nlmsghdr *h = (void *)nl.buf;
		     msg_ok(h, rem) && (!count || seen < count); h = msg_next(h, &rem)) {
			const struct genlmsghdr *g = NLMSG_DATA(h);

			if (h->nlmsg_type != nl.family)
				continue;
			if (h->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
				return log_error(-EPROTO, "truncated generic netlink message");
			r = event_print(g, (const uint8_t *)g + GENL_HDRLEN,
					h->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN);
			fflush(stdout);
			if (r < 0)
				return r;
			seen++;
		}
	}
	return 0;
}

/* ---- raw ------------------------------------------------------------------ */

static int put_hex(struct req *req, uint16_t type, const char *s)
{
	size_t len = strlen(s) / 2;
	_cleanup_(freep) uint8_t *buf = malloc(len + 1);

	if (!buf)
		return log_error(-ENOMEM, "out of memory");
	if (strlen(s) % 2 || s[strspn(s, "0123456789abcdefABCDEF")])
		return usage_error("bad hex bytes '%s'", s);
	for (size_t i = 0; i < len; i++)
		sscanf(s + 2 * i, "%2hhx", &buf[i]);
	req_put(req, type, buf, len);
	return 0;
}

enum { RAW_U8, RAW_U16, RAW_U32, RAW_U64, RAW_STR, RAW_BIN, RAW_FLAG, RAW_NEST };

/* NAME=TYPE:VALUE, NAME an attribute name of @names or a number. */
static int put_raw_attr(struct req *req, const char *spec, const char *const *names,
			size_t n_names, bool nest_ok)
{
	static const char *const types[] = { "u8", "u16", "u32", "u64", "str", "bin", "flag",
					     "nest" };
	static const uint64_t int_max[] = { UINT8_MAX, UINT16_MAX, UINT32_MAX, UINT64_MAX };
	/* The attribute sets of the nests; any other nest holds main attributes. */
	static const struct {
		uint16_t type;
		const char *const *names;
		size_t n;
	} nest_names[] = {
		{ BLKSNAP_A_RANGE, range_attr_names, ELEMENTSOF(range_attr_names) },
		{ BLKSNAP_A_DEVICE, device_attr_names, ELEMENTSOF(device_attr_names) },
		{ BLKSNAP_A_STORAGE_RANGE, storage_attr_names, ELEMENTSOF(storage_attr_names) },
	};
	_cleanup_(freep) char *s = strdup(spec);
	char *eq, *value, *item, *save;
	uint64_t type, kind, v;
	size_t nest;
	int r;

	if (!s)
		return log_error(-ENOMEM, "out of memory");
	if (!(eq = strchr(s, '=')))
		return usage_error("attribute '%s' is not NAME=TYPE:VALUE", spec);
	*eq++ = '\0';
	value = eq + strcspn(eq, ":");
	if (*value)
		*value++ = '\0';
	if (parse_name(s, names, n_names, NLA_TYPE_MASK, &type) < 0)
		return usage_error("unknown attribute '%s'", s);
	if (lookup(eq, types, ELEMENTSOF(types), &kind) < 0)
		return usage_error("unknown type '%s' (u8 u16 u32 u64 str bin flag nest)", eq);
	if (kind <= RAW_U64) {
		if (parse_u64(value, int_max[kind], &v) < 0)
			return usage_error("bad %s value '%s'", types[kind], value);
		if (kind == RAW_U8)
			req_put(req, (uint16_t)type, &(uint8_t){ (uint8_t)v }, 1);
		else if (kind == RAW_U16)
			req_put(req, (uint16_t)type, &(uint16_t){ (uint16_t)v }, 2);
		else if (kind == RAW_U32)
			req_put_u32(req, (uint16_t)type, (uint32_t)v);
		else
			req_put_u64(req, (uint16_t)type, v);
		return 0;
	}
	if (kind == RAW_STR)
		req_put_str(req, (uint16_t)type, value);
	else if (kind == RAW_BIN)
		return put_hex(req, (uint16_t)type, value);
	else if (kind == RAW_FLAG)
		req_put(req, (uint16_t)type, NULL, 0);
	if (kind != RAW_NEST)
		return 0;
	if (!nest_ok)
		return usage_error("nests inside nests are not supported: '%s'", spec);
	for (size_t i = 0; i < ELEMENTSOF(nest_names); i++)
		if (nest_names[i].type == type) {
			names = nest_names[i].names;
			n_names = nest_names[i].n;
		}
	nest = req_nest_start(req, (uint16_t)type);
	for (item = strtok_r(value, ",", &save); item; item = strtok_r(NULL, ",", &save))
		if ((r = put_raw_attr(req, item, names, n_names, false)) < 0)
			return r;
	req_nest_end(req, nest);
	return 0;
}

static int raw_count(_unused_ const struct genlmsghdr *g, _unused_ const void *attrs,
		     _unused_ size_t len, void *userdata)
{
	++*(uint64_t *)userdata;
	return 0;
}

/* raw CMD [--dump] [ATTR=TYPE:VALUE...] */
static int run_raw(const struct command *c, int argc, char **argv)
{
	uint64_t cmd, messages = 0;
	unsigned flags = 0;
	struct req req;
	int r;

	if (parse_name(argv[0], cmd_names, ELEMENTSOF(cmd_names), UINT8_MAX, &cmd) < 0)
		return usage_error("unknown operation '%s'", argv[0]);
	req_init(&req, 0, (uint8_t)cmd, BLKSNAP_FAMILY_VERSION);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dump") == 0)
			flags |= NL_DUMP;
		else if ((r = put_raw_attr(&req, argv[i], main_attr_names,
					   ELEMENTSOF(main_attr_names), true)) < 0)
			return r;
	}
	if ((r = nl_run(&req, flags, c->reply, &messages)) < 0)
		return r;
	if (flags & NL_DUMP)
		printf("messages=%" PRIu64 "\n", messages);
	else
		puts("ok");
	return 0;
}

/* ---- main ------------------------------------------------------------------ */

static const struct command commands[] = {
	{ "version", "", "print version=MAJOR.MINOR.PATCH of the module",
	  run_simple, BLKSNAP_CMD_VERSION, 0, 0, 0, version_reply },
	{ "attach", "DEV [BLOCK_SIZE]", "attach a tracker; print its line",
	  run_simple, BLKSNAP_CMD_TRACKER_ATTACH, 1, 2, 0, tracker_reply },
	{ "detach", "DEV", "detach the tracker",
	  run_simple, BLKSNAP_CMD_TRACKER_DETACH, 1, 1, 0, NULL },
	{ "get", "DEV", "print the tracker's line",
	  run_simple, BLKSNAP_CMD_TRACKER_GET, 1, 1, 0, tracker_reply },
	{ "list", "", "print the line of every tracker",
	  run_simple, BLKSNAP_CMD_TRACKER_GET, 0, 0, NL_DUMP, tracker_reply },
	{ "reset", "DEV", "start a new CBT generation; print the tracker's line",
	  run_simple, BLKSNAP_CMD_CBT_RESET, 1, 1, 0, tracker_reply },
	{ "mark", "DEV START+COUNT...", "mark ranges of sectors changed",
	  run_simple, BLKSNAP_CMD_CBT_MARK_DIRTY, 2, INT_MAX, 0, NULL },
	{ "map", "[--fresh-socket] [--raw FILE] [--snapshot ID] DEV [OFFSET [LENGTH]]",
	  "print runs of changed blocks as START+COUNT=VALUE (or write\n"
	  "\tthe map's bytes to FILE), then generation=UUID blocks=N; with\n"
	  "\t--snapshot, the map as the snapshot's take froze it; with\n"
	  "\t--fresh-socket, read it on a socket that received nothing before",
	  run_map, BLKSNAP_CMD_CBT_MAP_READ, 1, 8, NL_DUMP, map_slice },
	{ "snapshot-create", "DEV... [--chunk-size BYTES] [--low-free SECTORS]",
	  "create a snapshot of the devices; print it",
	  run_snapshot_create, BLKSNAP_CMD_SNAPSHOT_CREATE, 1, INT_MAX, 0, snapshot_reply },
	{ "snapshot-get", "ID", "print the snapshot",
	  run_snapshot, BLKSNAP_CMD_SNAPSHOT_GET, 1, 1, 0, snapshot_reply },
	{ "snapshot-list", "[--fresh-socket] [--pause-before-receive SECONDS]",
	  "print every snapshot; for tests, on a socket that received nothing\n"
	  "\tbefore, and printing \"paused\" on stderr then waiting between the\n"
	  "\trequest and the first receive (the kernel fills the first part of\n"
	  "\tthe dump at the request, the next ones as the parts are received)",
	  run_snapshot_list, BLKSNAP_CMD_SNAPSHOT_GET, 0, 3, NL_DUMP, snapshot_reply },
	{ "snapshot-append", "ID [DEV:START+COUNT...] [--file PATH LIMIT | --tmpfile DIR LIMIT]",
	  "give the snapshot difference storage: sector ranges of devices,\n"
	  "\tor a file (opened read-write, created if need be; or an O_TMPFILE\n"
	  "\tin DIR) it may grow to LIMIT sectors; print the snapshot.  For\n"
	  "\ttests of refusals, --append-file PATH LIMIT opens the file\n"
	  "\twrite-only with O_APPEND, --ro-file PATH LIMIT read-only",
	  run_snapshot_append, BLKSNAP_CMD_SNAPSHOT_APPEND_STORAGE, 1, INT_MAX, 0,
	  snapshot_reply },
	{ "snapshot-take", "ID", "take the snapshot; print it",
	  run_snapshot, BLKSNAP_CMD_SNAPSHOT_TAKE, 1, 1, 0, snapshot_reply },
	{ "snapshot-destroy", "ID", "destroy the snapshot",
	  run_snapshot, BLKSNAP_CMD_SNAPSHOT_DESTROY, 1, 1, 0, NULL },
	{ "monitor", "[--count N] [--timeout SECONDS]",
	  "print \"ready\", then one event=... line per event",
	  run_monitor, 0, 0, 4, 0, NULL },
	{ "raw", "CMD [--dump] [ATTR=TYPE:VALUE...]",
	  "send any request; print ok, or messages=N for a dump.  CMD and\n"
	  "\tATTR are names or numbers; TYPE is u8 u16 u32 u64 str bin (hex) flag\n"
	  "\tor nest, e.g. range=nest:start=u64:0,count=u64:8 or\n"
	  "\tstorage-range=nest:dev-path=str:/dev/vdb,start=u64:0,count=u64:128",
	  run_raw, 0, 1, INT_MAX, 0, raw_count },
};

static void help(void)
{
	printf("Usage: blksnap-nl COMMAND [ARGS...]\n"
	       "A client of the \"%s\" generic netlink family, for tests.\n"
	       "DEV is MAJ:MIN or a /path; numbers are decimal or 0x-hexadecimal.\n\n",
	       BLKSNAP_FAMILY_NAME);
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		printf("  %s%s%s\n\t%s\n", commands[i].name, commands[i].args[0] ? " " : "",
		       commands[i].args, commands[i].help);
	printf("\nTrackers print as: dev=MAJ:MIN block_size=N block_count=N capacity=N "
	       "generation=UUID snap=N\n"
	       "Snapshots print as: snapshot=UUID state=created|taken|corrupted chunk_size=N\n"
	       "  low_free=N storage_total=N storage_used=N error=N (sizes in sectors but the\n"
	       "  chunk size, in bytes), then per device: device dev=MAJ:MIN [snap=N]\n"
	       "  [generation=UUID] [error=N] [image=NAME] [image_dev=MAJ:MIN].\n"
	       "ID is the snapshot's UUID.\n"
	       "Errors go to stderr as \"error: ENAME (description): message\"; the exit\n"
	       "status is the errno: 0 on success, %d on a usage error.\n", EXIT_USAGE);
}

static int run(int argc, char **argv)
{
	const struct command *c = NULL;
	int r;

	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			c = &commands[i];
	if (!c)
		return usage_error("unknown command '%s'", argv[0]);
	if (argc - 1 < c->min_args || argc - 1 > c->max_args)
		return usage_error("usage: blksnap-nl %s%s%s", c->name, c->args[0] ? " " : "",
				   c->args);
	r = c->run(c, argc - 1, argv + 1);
	if (fflush(stdout) != 0 && r == 0)
		r = log_error(-(errno ? errno : EIO), "cannot write to stdout");
	return r;
}

int main(int argc, char **argv)
{
	int r;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		help();
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("blksnap-nl %s (family %s, version %d)\n", BLKSNAP_NL_VERSION,
		       BLKSNAP_FAMILY_NAME, BLKSNAP_FAMILY_VERSION);
		return 0;
	}
	r = argc < 2 ? usage_error("no command given") : run(argc - 1, argv + 1);
	if (r == R_USAGE)
		return EXIT_USAGE;
	return r < 0 ? (-r > 255 ? 255 : -r) : 0;
}
