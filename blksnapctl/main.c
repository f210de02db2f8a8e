// SPDX-License-Identifier: GPL-2.0
/*
 * blksnapctl: the command-line client of blksnapd, and the backup tool
 * (qcow2 chains written through NBD).
 *
 * The subcommands that talk to blksnapd (status, track, untrack, snapshot,
 * changes, monitor) are in service.c, the backup of live devices in live.c;
 * the backup engine, restore, verify and list work without the service.
 */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "backup.h"
#include "bus.h"
#include "cli.h"
#include "chain.h"
#include "extents.h"
#include "list.h"
#include "restore.h"
#include "util.h"
#include "verify.h"

#ifndef BLKSNAPCTL_VERSION
#define BLKSNAPCTL_VERSION "unknown"
#endif

/* Exit codes, documented in --help and blksnapctl(1). */
#define EXIT_OK			0
#define EXIT_FAILED		1	/* the operation failed; the message says why */
#define EXIT_USAGE		2	/* bad or missing arguments */
#define EXIT_DAMAGED		3	/* verify found a damaged or missing file */
#define EXIT_DENIED		4	/* polkit refused the operation (the D-Bus glue's
					 * AccessDenied, never a local errno) */
#define EXIT_UNAVAILABLE	5	/* blksnapd cannot be reached */
#define EXIT_INTERRUPTED	130	/* SIGINT/SIGTERM; nothing was left half-done */

int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("blksnapctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'blksnapctl --help'.\n", stderr);
	return R_USAGE;
}

static int exit_status(int r)
{
	if (r >= 0)
		return EXIT_OK;
	switch (r) {
	case R_HELP:
		return EXIT_OK;
	case R_USAGE:
		return EXIT_USAGE;
	case R_DAMAGED:
		return EXIT_DAMAGED;
	case R_DENIED:
		return EXIT_DENIED;
	case -EHOSTUNREACH:
		return EXIT_UNAVAILABLE;
	case -EINTR:
		return EXIT_INTERRUPTED;
	default:
		return EXIT_FAILED;
	}
}

const char help_text[] =
"Usage: blksnapctl [--help] [--version] COMMAND [ARGS...]\n"
"\n"
"Snapshots, change tracking and backups of live block devices, through the\n"
"blksnapd service (polkit decides who may do what: no root needed).\n"
"Sizes and offsets are bytes.  --json gives scripts JSON instead of tables.\n"
"\n"
"Service commands (talk to blksnapd on the system bus):\n"
"  status [--json]                        the service, its tracked devices and snapshots\n"
"  track DEVICE [--block-size BYTES]      start change tracking of DEVICE (/dev/... or MAJ:MIN)\n"
"  untrack DEVICE                         stop tracking it, dropping its change map\n"
"  snapshot create DEVICE... [--chunk-size BYTES] [--storage-pool DIR|DEV]\n"
"                                         a snapshot of the devices together; prints its id\n"
"  snapshot storage ID (--file PATH --limit BYTES | --range DEV:OFFSET+LENGTH...)\n"
"                                         give it difference storage\n"
"  snapshot take ID                       take it: one instant for all its devices\n"
"  snapshot destroy ID                    release it and its images\n"
"  snapshot list [--json]                 the snapshots, their state and images\n"
"  changes DEVICE --since GENERATION:SNAP [--json]\n"
"                                         the extents changed after that snap number\n"
"  monitor [--json]                       print the service's signals as they come\n"
"\n"
"Backups (qcow2 chains: DIR/<device name>/NNNN.qcow2 and chain.json):\n"
"  backup DEVICE... --to DIR [--storage-pool DIR] [--full]\n"
"                                         snapshot the devices together and copy each image:\n"
"                                         full the first time, after a generation change or\n"
"                                         with --full (saying why); else only what changed.\n"
"                                         Progress on a terminal.  A failure or Ctrl-C\n"
"                                         removes the partial image: the chain stays as it was.\n"
"  restore DIR[@N] --to DEVICE|FILE       write the state of backup N (default: the latest)\n"
"  verify DIR                             check every image against the manifest's checksums\n"
"                                         and with qemu-img check; names each damaged extent\n"
"  list DIR [--json]                      the chain: times, sizes, changed bytes\n"
"DIR of restore is one device's directory (DIR/<device name>), or a backup\n"
"directory holding one device; verify and list take either and do every chain.\n"
"\n"
"Exit status:\n"
"  0    success\n"
"  1    the operation failed (I/O error, no space, bad manifest...): the message says why\n"
"  2    bad or missing arguments\n"
"  3    verify found a damaged or missing image or extents file\n"
"  4    not authorized (polkit)\n"
"  5    blksnapd cannot be reached\n"
"  130  interrupted by SIGINT or SIGTERM; a backup's partial image was removed\n"
"\n"
"See blksnapctl(1).\n";

/* ---- arguments ------------------------------------------------------------ */

int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s[0] || s[0] == '-' || s[0] == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int next_opt(int argc, char **argv, const char *cmd, const struct option *opts, int *ret)
{
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, ":h", opts, NULL);
	if (c == '?')
		return optopt ? usage_error("%s: unknown option '-%c'", cmd, optopt)
			      : usage_error("%s: unknown option '%s'", cmd, argv[optind - 1]);
	if (c == ':')
		return usage_error("%s: option '%s' needs a value", cmd, argv[optind - 1]);
	if (c == 'h') {
		fputs(help_text, stdout);
		return R_HELP;
	}
	if (c == -1)
		return 0;
	*ret = c;
	return 1;
}

/* ---- backup ----------------------------------------------------------------- */

/*
 * The size of a device or file: BLKGETSIZE64 or st_size.
 */
static int fd_size(int fd, const char *what, uint64_t *ret)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return log_error_errno(-errno, "cannot stat %s: %m", what);
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, ret) < 0)
			return log_error_errno(-errno, "cannot get the size of %s: %m", what);
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return log_error_errno(-EINVAL, "%s is neither a block device nor a file", what);
	*ret = st.st_size;
	return 0;
}

/*
 * The test and expert entry point: "backup DEVICE --from-image PATH
 * --generation UUID --snap-number N [--extents-file F] --to DIR [--full]"
 * runs the backup engine on an image that is already there (a snapshot
 * image /dev/blksnap-imageN, a file, a device) with the generation id and
 * snap number of the CBT map frozen with it, and the changed extents that
 * GetChangedExtents would return in a file.  The tests use it; the D-Bus
 * path calls the same engine with the fds of OpenImage and
 * GetChangedExtents.  Not in --help on purpose: nothing checks that the
 * image, the generation and the extents belong together.
 */
static int backup_from_image(const char *device, const char *image, const char *dir,
			     const char *generation, uint64_t snap, const char *extents_file,
			     bool full)
{
	_cleanup_(backup_target_done) struct backup_target t = { .dirfd = -1, .lockfd = -1 };
	_cleanup_(extent_list_done) struct extent_list changed = {};
	_cleanup_(freep) char *copy = strdup(device);
	_cleanup_(closep) int fd = -1;
	struct backup_plan plan;
	struct backup_source src;
	int r;

	if (!copy)
		return -ENOMEM;
	fd = open(image, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(-errno, "cannot open %s: %m", image);
	src = (struct backup_source){ .fd = fd, .what = image, .generation_id = generation,
				      .snap_number = snap };
	r = fd_size(fd, image, &src.size);
	if (r < 0)
		return r;
	if (src.size % 512)
		return log_error_errno(-EINVAL, "%s has %" PRIu64 " bytes, not a whole number of 512-byte sectors as a block device has",
				       image, src.size);
	r = backup_target_open(dir, basename(copy), &t);
	if (r < 0)
		return r;
	r = backup_plan(&t, &src, full, &plan);
	if (r < 0)
		return r;
	if (!plan.full) {
		_cleanup_(closep) int efd = -1;

		if (!extents_file)
			return usage_error("backup: an incremental backup (since generation %s snap %" PRIu32 ") needs --extents-file",
					   plan.since_generation_id, plan.since_snap_number);
		efd = open(extents_file, O_RDONLY | O_CLOEXEC);
		if (efd < 0)
			return log_error_errno(-errno, "cannot open %s: %m", extents_file);
		r = extent_list_read_fd(efd, extents_file, src.size, &changed);
		if (r < 0)
			return r;
	}
	return backup_run(&t, &src, &plan, plan.full ? NULL : &changed, NULL);
}

static int cmd_backup(int argc, char **argv)
{
	enum { O_TO = 0x100, O_POOL, O_FULL, O_FROM, O_GEN, O_SNAP, O_EXT };
	static const struct option opts[] = {
		{ "to", required_argument, NULL, O_TO },
		{ "storage-pool", required_argument, NULL, O_POOL },
		{ "full", no_argument, NULL, O_FULL },
		{ "from-image", required_argument, NULL, O_FROM },
		{ "generation", required_argument, NULL, O_GEN },
		{ "snap-number", required_argument, NULL, O_SNAP },
		{ "extents-file", required_argument, NULL, O_EXT },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *to = NULL, *from = NULL, *gen = NULL, *ext = NULL, *pool = NULL;
	uint64_t snap = 0;
	bool full = false, have_snap = false;
	int c, r;

	optind = 1;
	while ((r = next_opt(argc, argv, "backup", opts, &c)) > 0) {
		switch (c) {
		case O_TO: to = optarg; break;
		case O_POOL: pool = optarg; break;
		case O_FULL: full = true; break;
		case O_FROM: from = optarg; break;
		case O_GEN: gen = optarg; break;
		case O_EXT: ext = optarg; break;
		case O_SNAP:
			if (parse_u64(optarg, &snap) < 0 || snap > UINT32_MAX)
				return usage_error("backup: --snap-number '%s' is not a number from 0 to %u",
						   optarg, UINT32_MAX);
			have_snap = true;
			break;
		}
	}
	if (r < 0)
		return r;
	/* GNU getopt permutes: the devices are what is left. */
	if (optind >= argc)
		return usage_error("backup: no DEVICE given");
	if (!to)
		return usage_error("backup: --to DIR is missing");
	if (!from) {
		if (gen || have_snap || ext)
			return usage_error("backup: --generation, --snap-number and --extents-file go with --from-image");
		return backup_live(argv + optind, argc - optind, to, pool, full);
	}
	if (argc - optind != 1)
		return usage_error("backup: --from-image backs up one DEVICE");
	if (!gen || !have_snap)
		return usage_error("backup: --from-image needs --generation UUID and --snap-number N");
	if (!uuid_text_valid(gen))
		return usage_error("backup: --generation '%s' is not a UUID in lower case", gen);
	return backup_from_image(argv[optind], from, to, gen, snap, ext, full);
}

/* ---- restore, verify, list ----------------------------------------------------- */

/* The one chain DIR stands for. */
static int single_chain(const char *cmd, const char *dir, char **ret)
{
	_cleanup_(strv_freep) char **dirs = NULL;
	int n = chain_dirs(dir, &dirs);

	if (n < 0)
		return n;
	if (n == 0)
		return log_error_errno(-ENOENT, "%s holds no backup chain (no chain.json in it or its subdirectories)", dir);
	if (n > 1)
		return usage_error("%s: %s holds the chains of %d devices: name one, e.g. %s", cmd, dir, n, dirs[0]);
	*ret = strdup(dirs[0]);
	return *ret ? 0 : -ENOMEM;
}

static int cmd_restore(int argc, char **argv)
{
	enum { O_TO = 0x100 };
	static const struct option opts[] = {
		{ "to", required_argument, NULL, O_TO },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_(chain_freep) struct chain *ch = NULL;
	_cleanup_(freep) char *arg = NULL, *dir = NULL;
	const char *to = NULL;
	long number = -1;
	char *at;
	int c, r;

	optind = 1;
	while ((r = next_opt(argc, argv, "restore", opts, &c)) > 0) {
		if (c == O_TO)
			to = optarg;
	}
	if (r < 0)
		return r;
	if (argc - optind != 1)
		return usage_error("restore: give one DIR[@N]");
	if (!to)
		return usage_error("restore: --to DEVICE|FILE is missing");
	arg = strdup(argv[optind]);
	if (!arg)
		return -ENOMEM;
	at = strrchr(arg, '@');
	if (at && !strchr(at, '/')) {
		uint64_t n;

		if (parse_u64(at + 1, &n) < 0 || n > INT_MAX)
			return usage_error("restore: '%s' after '@' is not a backup number", at + 1);
		number = n;
		*at = '\0';
	}
	r = single_chain("restore", arg, &dir);
	if (r < 0)
		return r;
	r = chain_open(dir, NULL, &ch);
	if (r < 0)
		return r;
	interrupt_install();
	r = restore_run(dir, ch, number, to);
	if (interrupted)
		r = -EINTR;
	interrupt_restore();
	return r;
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_(strv_freep) char **dirs = NULL;
	int c, r, n, problems = 0, err = 0, unreadable = 0;

	optind = 1;
	r = next_opt(argc, argv, "verify", opts, &c);
	if (r < 0)
		return r;
	if (argc - optind != 1)
		return usage_error("verify: give one DIR");
	n = chain_dirs(argv[optind], &dirs);
	if (n < 0)
		return n;
	if (n == 0)
		return log_error_errno(-ENOENT, "%s holds no backup chain (no chain.json in it or its subdirectories)",
				       argv[optind]);
	interrupt_install();
	for (char **d = dirs; *d; d++) {
		_cleanup_(chain_freep) struct chain *ch = NULL;

		r = chain_open(*d, NULL, &ch);
		if (r < 0) {
			unreadable = r;	/* said why; go on with the others */
			continue;
		}
		r = verify_chain(*d, ch);
		if (r < 0) {
			err = r;
			break;
		}
		problems += r;
	}
	interrupt_restore();
	if (err < 0 && !interrupted)
		return log_error_errno(err, "verify could not finish: %m");
	if (interrupted)
		return -EINTR;
	if (problems) {
		log_error("%d problem%s found: the chain is damaged", problems, problems == 1 ? "" : "s");
		return R_DAMAGED;
	}
	return unreadable;	/* a manifest that could not be read: exit status 1 */
}

static int cmd_list(int argc, char **argv)
{
	enum { O_JSON = 0x100 };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_(strv_freep) char **dirs = NULL;
	bool json = false;
	int c, r, n;

	optind = 1;
	while ((r = next_opt(argc, argv, "list", opts, &c)) > 0) {
		if (c == O_JSON)
			json = true;
	}
	if (r < 0)
		return r;
	if (argc - optind != 1)
		return usage_error("list: give one DIR");
	n = chain_dirs(argv[optind], &dirs);
	if (n < 0)
		return n;
	if (n == 0)
		return log_error_errno(-ENOENT, "%s holds no backup chain (no chain.json in it or its subdirectories)",
				       argv[optind]);
	return list_chains(dirs, json);
}

/* ---- dispatch ------------------------------------------------------------------- */

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "status", cmd_status },
	{ "track", cmd_track },
	{ "untrack", cmd_untrack },
	{ "snapshot", cmd_snapshot },
	{ "changes", cmd_changes },
	{ "monitor", cmd_monitor },
	{ "backup", cmd_backup },
	{ "restore", cmd_restore },
	{ "verify", cmd_verify },
	{ "list", cmd_list },
};

int main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	int r;

	if (argc < 2)
		return exit_status(usage_error("no command given"));
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(help_text, stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("blksnapctl %s\n", BLKSNAPCTL_VERSION);
		return EXIT_OK;
	}
	/* Backups and restored files hold raw disk contents: only for their owner. */
	umask(0077);
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd) {
		usage_error(argv[1][0] == '-' ? "unknown option '%s'" : "unknown command '%s'", argv[1]);
		return EXIT_USAGE;
	}
	r = cmd->run(argc - 1, argv + 1);
	return exit_status(r);
}
