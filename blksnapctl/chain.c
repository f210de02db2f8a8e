// SPDX-License-Identifier: GPL-2.0
/*
 * chain.json: reading, checking and atomically replacing the manifest of a
 * device's backup chain (json-c).
 */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <inttypes.h>
#include <stdarg.h>
#include <json-c/json.h>
#include <nettle/sha2.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "chain.h"
#include "util.h"

#define CHAIN_TMP	"chain.json.tmp"
#define CHAIN_MAX_SIZE	(1024u << 20)

static inline void json_object_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

void chain_backup_done(struct chain_backup *b)
{
	free(b->image);
	free(b->backing);
	free(b->reason);
	free(b->extents_file);
	free(b->extents);
	*b = (struct chain_backup){};
}

void chain_free(struct chain *c)
{
	for (size_t i = 0; i < c->n_backups; i++)
		chain_backup_done(&c->backups[i]);
	free(c->backups);
	free(c->device);
	free(c);
}

bool uuid_text_valid(const char *s)
{
	if (strlen(s) != UUID_TEXT_LEN)
		return false;
	for (int i = 0; i < UUID_TEXT_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!strchr("0123456789abcdef", s[i])) {
			return false;
		}
	}
	return true;
}

void sha256_hex(const uint8_t sum[SHA256_LEN], char hex[2 * SHA256_LEN + 1])
{
	for (int i = 0; i < SHA256_LEN; i++)
		sprintf(hex + 2 * i, "%02x", sum[i]);
}

static int hex_to_sha256(const char *s, uint8_t sum[SHA256_LEN])
{
	if (strlen(s) != 2 * SHA256_LEN)
		return -EINVAL;
	for (int i = 0; i < SHA256_LEN; i++) {
		unsigned v;

		if (!strchr("0123456789abcdef", s[2 * i]) || !strchr("0123456789abcdef", s[2 * i + 1]))
			return -EINVAL;
		sscanf(s + 2 * i, "%2x", &v);
		sum[i] = v;
	}
	return 0;
}

int chain_image_name(unsigned n, char **ret)
{
	if (asprintf(ret, "%04u.qcow2", n) < 0)
		return -ENOMEM;
	return 0;
}

int chain_extents_name(unsigned n, char **ret)
{
	if (asprintf(ret, "%04u.extents", n) < 0)
		return -ENOMEM;
	return 0;
}

const struct chain_backup *chain_last(const struct chain *c)
{
	return c->n_backups ? &c->backups[c->n_backups - 1] : NULL;
}

const struct chain_backup *chain_find(const struct chain *c, unsigned n)
{
	for (size_t i = 0; i < c->n_backups; i++)
		if (c->backups[i].number == n)
			return &c->backups[i];
	return NULL;
}

/* ---- reading ------------------------------------------------------------- */

struct parse {
	const char *file;
	size_t backup;
};

static _printf_(2, 3) int bad(const struct parse *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s: backup %zu: %s", p->file, p->backup, msg);
	return -EINVAL;
}

static int get_u64(const struct parse *p, struct json_object *o, const char *key, uint64_t *ret)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return bad(p, "\"%s\" is missing or not an integer", key);
	if (json_object_get_int64(v) < 0)
		return bad(p, "\"%s\" is negative", key);
	*ret = json_object_get_uint64(v);
	return 0;
}

static int get_str(const struct parse *p, struct json_object *o, const char *key,
		   bool nullable, char **ret)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return bad(p, "\"%s\" is missing", key);
	if (nullable && json_object_is_type(v, json_type_null)) {
		*ret = NULL;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return bad(p, "\"%s\" is not a string", key);
	*ret = strdup(json_object_get_string(v));
	return *ret ? 0 : -ENOMEM;
}

static bool image_name_ok(const char *s)
{
	return s[0] && s[0] != '.' && !strchr(s, '/');
}

/*
 * The list ext ([offset, length, checksum]...) of backup b into a new
 * array: sorted, within the device, summing to b's changed bytes (the whole
 * device for a full backup).
 */
static int parse_extents(const struct parse *p, struct json_object *ext,
			 const struct chain_backup *b, struct chain_extent **ret, size_t *ret_n)
{
	_cleanup_(freep) struct chain_extent *v = NULL;
	uint64_t end = 0, sum = 0;
	size_t n;

	if (!json_object_is_type(ext, json_type_array))
		return bad(p, "\"extents\" is not a list");
	n = json_object_array_length(ext);
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(ext, i);
		struct json_object *a0, *a1, *a2;
		struct chain_extent *x = &v[i];
		const char *cs;

		if (!json_object_is_type(e, json_type_array) || json_object_array_length(e) != 3)
			return bad(p, "extent %zu is not [offset, length, checksum]", i);
		a0 = json_object_array_get_idx(e, 0);
		a1 = json_object_array_get_idx(e, 1);
		a2 = json_object_array_get_idx(e, 2);
		if (!json_object_is_type(a0, json_type_int) || !json_object_is_type(a1, json_type_int) ||
		    !json_object_is_type(a2, json_type_string))
			return bad(p, "extent %zu is not [offset, length, checksum]", i);
		x->offset = json_object_get_uint64(a0);
		x->length = json_object_get_uint64(a1);
		if (json_object_get_int64(a0) < 0 || json_object_get_int64(a1) <= 0 ||
		    x->offset < end || x->offset > b->device_size ||
		    x->length > b->device_size - x->offset)
			return bad(p, "extent %zu (%" PRIu64 "+%" PRIu64 ") is empty, unsorted or beyond the device",
				   i, x->offset, x->length);
		end = x->offset + x->length;
		sum += x->length;
		cs = json_object_get_string(a2);
		if (strcmp(cs, "zero") == 0)
			x->zero = true;
		else if (hex_to_sha256(cs, x->sha256) < 0)
			return bad(p, "extent %zu: checksum is neither \"zero\" nor a SHA-256 in hex", i);
	}
	if (sum != b->changed_bytes)
		return bad(p, "\"changed_bytes\" is %" PRIu64 ", the extents hold %" PRIu64,
			   b->changed_bytes, sum);
	if (b->full && sum != b->device_size)
		return bad(p, "a full backup whose extents do not cover the device");
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

static int parse_backup(const struct parse *p, struct json_object *o, struct chain_backup *b)
{
	struct json_object *ext, *kind;
	_cleanup_(freep) char *gen = NULL, *sha = NULL;
	uint64_t v;
	int r;

	if (!json_object_is_type(o, json_type_object))
		return bad(p, "not an object");
	r = get_u64(p, o, "number", &v);
	if (r < 0)
		return r;
	if (v != p->backup)
		return bad(p, "\"number\" is %" PRIu64 ", not its place in the list", v);
	b->number = v;
	r = get_str(p, o, "image", false, &b->image);
	if (r < 0)
		return r;
	r = get_str(p, o, "backing", true, &b->backing);
	if (r < 0)
		return r;
	if (!image_name_ok(b->image) || (b->backing && !image_name_ok(b->backing)))
		return bad(p, "an image name is not a file name of the chain's directory");
	if (!json_object_object_get_ex(o, "kind", &kind) || !json_object_is_type(kind, json_type_string))
		return bad(p, "\"kind\" is missing");
	if (strcmp(json_object_get_string(kind), "full") == 0)
		b->full = true;
	else if (strcmp(json_object_get_string(kind), "incremental") != 0)
		return bad(p, "\"kind\" is neither \"full\" nor \"incremental\"");
	if (b->full != !b->backing)
		return bad(p, "a full backup has no backing image, an incremental one has one");
	r = get_str(p, o, "reason", false, &b->reason);
	if (r < 0)
		return r;
	r = get_u64(p, o, "time_unix", &v);
	if (r < 0)
		return r;
	b->time = v;
	r = get_u64(p, o, "device_size", &b->device_size);
	if (r < 0)
		return r;
	r = get_str(p, o, "generation_id", false, &gen);
	if (r < 0)
		return r;
	if (!uuid_text_valid(gen))
		return bad(p, "\"generation_id\" is not a lower-case UUID");
	memcpy(b->generation_id, gen, UUID_TEXT_LEN + 1);
	r = get_u64(p, o, "snap_number", &v);
	if (r < 0)
		return r;
	if (v > UINT32_MAX)
		return bad(p, "\"snap_number\" is out of range");
	b->snap_number = v;
	r = get_u64(p, o, "changed_bytes", &b->changed_bytes);
	if (r < 0)
		return r;

	if (json_object_object_get_ex(o, "extents", &ext))
		return parse_extents(p, ext, b, &b->extents, &b->n_extents);	/* version 1 */
	r = get_str(p, o, "extents_file", false, &b->extents_file);
	if (r < 0)
		return r;
	if (!image_name_ok(b->extents_file))
		return bad(p, "\"extents_file\" is not a file name of the chain's directory");
	r = get_u64(p, o, "extents_count", &v);
	if (r < 0)
		return r;
	if (v > b->device_size / 512)
		return bad(p, "\"extents_count\" is more than the device has sectors");
	b->n_extents = v;
	r = get_str(p, o, "extents_sha256", false, &sha);
	if (r < 0)
		return r;
	if (hex_to_sha256(sha, b->extents_sha256) < 0)
		return bad(p, "\"extents_sha256\" is not a SHA-256 in hex");
	return 0;
}

/* The whole of fd (named file in messages), NUL-terminated, and its length. */
static int read_text(int fd, const char *file, char **ret, size_t *ret_len)
{
	_cleanup_(freep) char *text = NULL;
	struct stat st;
	size_t len = 0;

	if (fstat(fd, &st) < 0)
		return log_error_errno(-errno, "%s: %m", file);
	if ((uint64_t)st.st_size > CHAIN_MAX_SIZE)
		return log_error_errno(-EFBIG, "%s: larger than %u MiB", file, CHAIN_MAX_SIZE >> 20);
	text = malloc(st.st_size + 1);
	if (!text)
		return -ENOMEM;
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, text + len, st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return log_error_errno(-errno, "cannot read %s: %m", file);
		if (n == 0)
			break;
		len += n;
	}
	text[len] = '\0';
	*ret = TAKE_PTR(text);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int chain_backup_extents(const char *dir, const struct chain_backup *b,
			 struct chain_extent **ret, size_t *ret_n)
{
	_cleanup_(json_object_putp) struct json_object *root = NULL;
	_cleanup_(freep) char *file = NULL, *text = NULL;
	_cleanup_(closep) int fd = -1;
	struct json_object *v, *ext;
	enum json_tokener_error jerr;
	struct parse p = { .backup = b->number };
	uint8_t sum[SHA256_LEN];
	struct sha256_ctx sha;
	size_t len, n;
	int r;

	if (!b->extents_file) {
		*ret = calloc(b->n_extents ? b->n_extents : 1, sizeof(**ret));
		if (!*ret)
			return -ENOMEM;
		memcpy(*ret, b->extents, b->n_extents * sizeof(**ret));
		*ret_n = b->n_extents;
		return 0;
	}
	if (asprintf(&file, "%s/%s", dir, b->extents_file) < 0)
		return -ENOMEM;
	p.file = file;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		log_error_errno(r, "%s: DAMAGED: backup %u's list of extents cannot be opened: %m", file, b->number);
		return r == -ENOENT ? r : -EBADMSG;
	}
	r = read_text(fd, file, &text, &len);
	if (r < 0)
		return r == -ENOMEM ? r : -EBADMSG;
	sha256_init(&sha);
	sha256_update(&sha, len, (const uint8_t *)text);
	sha256_digest(&sha, SHA256_DIGEST_SIZE, sum);
	if (memcmp(sum, b->extents_sha256, SHA256_LEN) != 0) {
		char got[2 * SHA256_LEN + 1], want[2 * SHA256_LEN + 1];

		sha256_hex(sum, got);
		sha256_hex(b->extents_sha256, want);
		log_error("%s: DAMAGED: backup %u's list of extents has SHA-256 %s, the manifest says %s",
			  file, b->number, got, want);
		return -EBADMSG;
	}
	/* As the manifest says: only a bug would fail the checks below. */
	root = json_tokener_parse_verbose(text, &jerr);
	if (!root || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "format", &v) || !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), EXTENTS_FORMAT) != 0 ||
	    !json_object_object_get_ex(root, "extents", &ext)) {
		log_error("%s: DAMAGED: not a list of extents of blksnapctl", file);
		return -EBADMSG;
	}
	r = parse_extents(&p, ext, b, ret, &n);
	if (r < 0)
		return r == -ENOMEM ? r : -EBADMSG;
	if (n != b->n_extents) {
		free(TAKE_PTR(*ret));
		log_error("%s: DAMAGED: %zu extents, the manifest says %zu", file, n, b->n_extents);
		return -EBADMSG;
	}
	*ret_n = n;
	return 0;
}

int chain_load(int dirfd, const char *dir, const char *device, struct chain **ret)
{
	_cleanup_(json_object_putp) struct json_object *root = NULL;
	_cleanup_(chain_freep) struct chain *c = NULL;
	_cleanup_(freep) char *text = NULL, *file = NULL;
	_cleanup_(closep) int fd = -1;
	struct json_object *v, *list;
	enum json_tokener_error jerr;
	struct parse p = {};
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->device = strdup(device);
	if (!c->device)
		return -ENOMEM;
	if (asprintf(&file, "%s/%s", dir, CHAIN_FILE) < 0)
		return -ENOMEM;
	p.file = file;

	fd = openat(dirfd, CHAIN_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			return log_error_errno(-errno, "cannot open %s: %m", file);
		*ret = TAKE_PTR(c);
		return 0;
	}
	r = read_text(fd, file, &text, NULL);
	if (r < 0)
		return r;
	root = json_tokener_parse_verbose(text, &jerr);
	if (!root)
		return log_error_errno(-EINVAL, "%s is not JSON: %s", file, json_tokener_error_desc(jerr));
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "format", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), CHAIN_FORMAT) != 0)
		return log_error_errno(-EINVAL, "%s is not a blksnapctl chain manifest", file);
	if (!json_object_object_get_ex(root, "version", &v) || !json_object_is_type(v, json_type_int))
		return log_error_errno(-EINVAL, "%s has no version", file);
	if (json_object_get_int64(v) < 1 || json_object_get_int64(v) > CHAIN_VERSION)
		return log_error_errno(-EPROTONOSUPPORT, "%s has version %" PRId64 "; this blksnapctl reads versions 1 to %d",
				       file, json_object_get_int64(v), CHAIN_VERSION);
	if (!json_object_object_get_ex(root, "backups", &list) || !json_object_is_type(list, json_type_array))
		return log_error_errno(-EINVAL, "%s has no list of backups", file);

	size_t n = json_object_array_length(list);
	c->backups = calloc(n ? n : 1, sizeof(*c->backups));
	if (!c->backups)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		p.backup = i;
		c->n_backups = i + 1;
		r = parse_backup(&p, json_object_array_get_idx(list, i), &c->backups[i]);
		if (r < 0)
			return r;
		if (i > 0 && !c->backups[i].full &&
		    strcmp(c->backups[i].backing, c->backups[i - 1].image) != 0)
			return bad(&p, "its backing image is not the image of the backup before it");
		if (i > 0 && !c->backups[i].full &&
		    c->backups[i].device_size != c->backups[i - 1].device_size)
			return bad(&p, "an incremental backup of another device size than its backing image");
	}
	if (n > 0 && c->backups[0].backing) {
		p.backup = 0;
		return bad(&p, "the first backup is not a full one");
	}
	*ret = TAKE_PTR(c);
	return 0;
}

/* ---- writing ------------------------------------------------------------- */

/* An extent on one line: [offset, length, "checksum"]. */
static int extent_serialize(struct json_object *o, struct printbuf *pb, int level _unused_, int flags _unused_)
{
	return sprintbuf(pb, "[%" PRIu64 ", %" PRIu64 ", \"%s\"]",
			 json_object_get_uint64(json_object_array_get_idx(o, 0)),
			 json_object_get_uint64(json_object_array_get_idx(o, 1)),
			 json_object_get_string(json_object_array_get_idx(o, 2)));
}

static struct json_object *extents_to_json(const struct chain_extent *v, size_t n)
{
	_cleanup_(json_object_putp) struct json_object *ext = json_object_new_array_ext(n);

	if (!ext)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct chain_extent *x = &v[i];
		struct json_object *e = json_object_new_array_ext(3);
		char hex[2 * SHA256_LEN + 1];

		if (!e)
			return NULL;
		json_object_array_add(ext, e);
		json_object_array_add(e, json_object_new_uint64(x->offset));
		json_object_array_add(e, json_object_new_uint64(x->length));
		if (x->zero)
			strcpy(hex, "zero");
		else
			sha256_hex(x->sha256, hex);
		json_object_array_add(e, json_object_new_string(hex));
		json_object_set_serializer(e, extent_serialize, NULL, NULL);
	}
	return TAKE_PTR(ext);
}

static struct json_object *backup_to_json(const struct chain_backup *b)
{
	_cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
	struct json_object *ext;
	char when[32];
	struct tm tm;
	time_t t = b->time;

	if (!o)
		return NULL;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_object_add(o, "number", json_object_new_uint64(b->number));
	json_object_object_add(o, "image", json_object_new_string(b->image));
	json_object_object_add(o, "backing", b->backing ? json_object_new_string(b->backing) : NULL);
	json_object_object_add(o, "kind", json_object_new_string(b->full ? "full" : "incremental"));
	json_object_object_add(o, "reason", json_object_new_string(b->reason ? b->reason : ""));
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "time_unix", json_object_new_int64(b->time));
	json_object_object_add(o, "device_size", json_object_new_uint64(b->device_size));
	json_object_object_add(o, "generation_id", json_object_new_string(b->generation_id));
	json_object_object_add(o, "snap_number", json_object_new_uint64(b->snap_number));
	json_object_object_add(o, "changed_bytes", json_object_new_uint64(b->changed_bytes));
	json_object_object_add(o, "checksum", json_object_new_string("sha256"));
	if (b->extents_file) {
		char hex[2 * SHA256_LEN + 1];

		sha256_hex(b->extents_sha256, hex);
		json_object_object_add(o, "extents_file", json_object_new_string(b->extents_file));
		json_object_object_add(o, "extents_count", json_object_new_uint64(b->n_extents));
		json_object_object_add(o, "extents_sha256", json_object_new_string(hex));
	} else {
		ext = extents_to_json(b->extents, b->n_extents);
		if (!ext)
			return NULL;
		json_object_object_add(o, "extents", ext);	/* as version 1 had it */
	}
	return TAKE_PTR(o);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

/* dirfd/file: text and a newline, synced; removed again on failure. */
static int write_synced(int dirfd, const char *dir, const char *file, const char *text, size_t len)
{
	_cleanup_(closep) int fd = -1;
	int r;

	fd = openat(dirfd, file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return log_error_errno(-errno, "cannot create %s/%s: %m", dir, file);
	r = write_all(fd, text, len);
	if (r >= 0)
		r = write_all(fd, "\n", 1);
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, file, 0);
		return log_error_errno(r, "cannot write %s/%s: %m", dir, file);
	}
	return 0;
}

int chain_extents_write(int dirfd, const char *dir, const char *file, const char *image,
			const struct chain_extent *v, size_t n, uint8_t sha256[SHA256_LEN])
{
	_cleanup_(json_object_putp) struct json_object *root = json_object_new_object();
	struct json_object *ext;
	struct sha256_ctx sha;
	const char *text;
	size_t len;

	if (!root)
		return -ENOMEM;
	json_object_object_add(root, "format", json_object_new_string(EXTENTS_FORMAT));
	json_object_object_add(root, "version", json_object_new_int(EXTENTS_VERSION));
	json_object_object_add(root, "image", json_object_new_string(image));
	ext = extents_to_json(v, n);
	if (!ext)
		return -ENOMEM;
	json_object_object_add(root, "extents", ext);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	sha256_init(&sha);
	sha256_update(&sha, len, (const uint8_t *)text);
	sha256_update(&sha, 1, (const uint8_t *)"\n");
	sha256_digest(&sha, SHA256_DIGEST_SIZE, sha256);
	return write_synced(dirfd, dir, file, text, len);
}

static int chain_save(const struct chain *c, const struct chain_backup *extra,
		      int dirfd, const char *dir)
{
	_cleanup_(json_object_putp) struct json_object *root = json_object_new_object();
	struct json_object *list;
	const char *text;
	int r;

	if (!root)
		return -ENOMEM;
	json_object_object_add(root, "format", json_object_new_string(CHAIN_FORMAT));
	json_object_object_add(root, "version", json_object_new_int(CHAIN_VERSION));
	json_object_object_add(root, "device", json_object_new_string(c->device));
	list = json_object_new_array();
	if (!list)
		return -ENOMEM;
	json_object_object_add(root, "backups", list);
	for (size_t i = 0; i <= c->n_backups; i++) {
		const struct chain_backup *b = i < c->n_backups ? &c->backups[i] : extra;
		struct json_object *o;

		if (!b)
			break;
		o = backup_to_json(b);
		if (!o)
			return -ENOMEM;
		json_object_array_add(list, o);
	}
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return -ENOMEM;

	r = write_synced(dirfd, dir, CHAIN_TMP, text, strlen(text));
	if (r < 0)
		return r;
	if (renameat(dirfd, CHAIN_TMP, dirfd, CHAIN_FILE) < 0) {
		r = -errno;
		unlinkat(dirfd, CHAIN_TMP, 0);
		return log_error_errno(r, "cannot rename %s/%s: %m", dir, CHAIN_TMP);
	}
	/* The manifest is replaced now: a failed sync of the directory is only
	 * worth a warning, the caller must not undo the backup. */
	if (fsync(dirfd) < 0)
		log_error_errno(-errno, "warning: cannot sync %s: %m", dir);
	return 0;
}

int chain_append_save(struct chain *c, int dirfd, const char *dir, struct chain_backup *b)
{
	struct chain_backup *v;
	int r;

	v = reallocarray(c->backups, c->n_backups + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	c->backups = v;
	r = chain_save(c, b, dirfd, dir);
	if (r < 0)
		return r;
	c->backups[c->n_backups++] = *b;
	*b = (struct chain_backup){};
	return 0;
}

/* ---- finding chains -------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int chain_dirs(const char *dir, char ***ret)
{
	_cleanup_(strv_freep) char **v = NULL;
	_cleanup_(closep) int fd = -1;
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(-errno, "cannot open %s: %m", dir);
	if (faccessat(fd, CHAIN_FILE, F_OK, 0) == 0) {
		v = calloc(2, sizeof(char *));
		if (!v || !(v[0] = strdup(dir)))
			return -ENOMEM;
		*ret = TAKE_PTR(v);
		return 1;
	}
	d = fdopendir(fd);
	if (!d)
		return -errno;
	int dfd = TAKE_FD(fd);
	v = calloc(1, sizeof(char *));
	if (!v) {
		closedir(d);
		return -ENOMEM;
	}
	while ((de = readdir(d))) {
		char *p, **nv;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dfd, de->d_name, &st, 0) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (asprintf(&p, "%s/%s/%s", dir, de->d_name, CHAIN_FILE) < 0)
			break;
		if (access(p, F_OK) < 0) {
			free(p);
			continue;
		}
		p[strlen(p) - strlen(CHAIN_FILE) - 1] = '\0';
		nv = reallocarray(v, n + 2, sizeof(char *));
		if (!nv) {
			free(p);
			break;
		}
		v = nv;
		v[n++] = p;
		v[n] = NULL;
	}
	closedir(d);
	qsort(v, n, sizeof(char *), cmp_str);
	*ret = TAKE_PTR(v);
	return n;
}

int chain_open(const char *dir, int *ret_dirfd, struct chain **ret)
{
	_cleanup_(chain_freep) struct chain *c = NULL;
	_cleanup_(closep) int fd = -1;
	_cleanup_(freep) char *copy = strdup(dir);
	int r;

	if (!copy)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(-errno, "cannot open %s: %m", dir);
	r = chain_load(fd, dir, basename(copy), &c);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	if (ret_dirfd)
		*ret_dirfd = TAKE_FD(fd);
	return 0;
}
