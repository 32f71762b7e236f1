#ifndef WIRECHECK_CSPAWN_H
#define WIRECHECK_CSPAWN_H
/* Adds to `actions` (a posix_spawn_file_actions_t) the closing, in the
 * child, of every descriptor from `lowest` up: glibc's
 * posix_spawn_file_actions_addclosefrom_np (2.34+), which its headers declare
 * only under _GNU_SOURCE, out of Swift's sight. 0 on success, else an error
 * number. The type is left out of this header (void *) so that this module
 * does not take <spawn.h>'s types (sigset_t…) over from Glibc's. */
int wirecheck_spawn_close_from(void *actions, int lowest);
#endif
