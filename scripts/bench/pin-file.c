/* Keeps a file's pages in memory while a benchmark reads it.
 *   cc -O2 -o pin-file pin-file.c && ./pin-file FILE &   (kill it when done)
 * The development machine's host takes page cache back from the guest within
 * seconds (`fincore` showed a 2 GB capture 7 % gone 45 s after `cat` had read
 * all of it, with 21 GB free), so a "warm" capture was partly read from disk
 * again, by the floor and by wirecheck alike, at random. Locked pages stay:
 * every run then reads memory, as the side-by-side comparison assumes. Needs
 * CAP_IPC_LOCK (root) or a memlock limit above the file's size. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: pin-file FILE\n"); return 2; }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) { perror(argv[1]); return 2; }
    void *pages = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (pages == MAP_FAILED) { perror("mmap"); return 2; }
    if (mlock(pages, (size_t)st.st_size) != 0) { perror("mlock"); return 2; }
    fprintf(stderr, "pin-file: %s, %lld bytes locked in memory\n", argv[1], (long long)st.st_size);
    /* Until killed: the pages stay locked while this process lives. */
    for (;;) pause();
}
