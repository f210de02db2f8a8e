/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the subcommands share with main(): argument parsing, usage errors,
 * the help text, and the service commands (service.c) and the backup of
 * live devices (live.c).
 */
#ifndef BLKSNAPCTL_CLI_H
#define BLKSNAPCTL_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define R_USAGE			(-4096)	/* a usage error, already reported */
#define R_DAMAGED		(-4097)	/* verify found damage, already reported */
#define R_HELP			(-4099)	/* --help was printed: exit status 0 */

extern const char help_text[];

_printf_(1, 2) int usage_error(const char *fmt, ...);
int parse_u64(const char *s, uint64_t *ret);
/*
 * getopt_long over argv (argv[0] is the subcommand): 1 with the option in
 * *ret, 0 when there are no more; R_USAGE on a bad option, R_HELP once -h or
 * --help has printed the help (the command returns it: exit status 0).
 */
int next_opt(int argc, char **argv, const char *cmd, const struct option *opts, int *ret);

int cmd_status(int argc, char **argv);
int cmd_track(int argc, char **argv);
int cmd_untrack(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_changes(int argc, char **argv);
int cmd_monitor(int argc, char **argv);

/*
 * backup DEVICE... --to DIR through blksnapd: one snapshot of all the
 * devices bound to us, each image copied by the engine, the snapshot
 * destroyed at the end whatever happens.
 */
int backup_live(char **devices, int n_devices, const char *dir, const char *pool, bool full);

#endif /* BLKSNAPCTL_CLI_H */
