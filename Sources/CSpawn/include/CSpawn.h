#ifndef WIRECHECK_CSPAWN_H
#define WIRECHECK_CSPAWN_H
#include <spawn.h>
/* Adds to `actions` the closing, in the child, of every descriptor from
 * `lowest` up: glibc's posix_spawn_file_actions_addclosefrom_np (2.34+),
 * which its headers declare only under _GNU_SOURCE, out of Swift's sight.
 * 0 on success, else an error number. */
int wirecheck_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest);
#endif
