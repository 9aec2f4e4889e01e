/*
 * shepherd-launch: turns the process the step spawner forked into a step's group leader.
 *
 *   shepherd-launch <tag> <program> [args...]     (fd 3: the worker's lifeline)
 *
 * It is already the leader of a new session and process group (the spawner forks with setsid).
 * It sets its parent-death signal (SIGKILL), forks the watchdog, and execs the program, which
 * keeps this pid, so the spawner sees the program's own exit code and signal.
 *
 * The watchdog ignores SIGTERM/SIGINT/SIGHUP/SIGQUIT (it outlives a graceful stop and keeps the
 * group id reserved until the group is gone) and blocks reading fd 3, a socket whose other end
 * only the worker holds. When the worker dies, even by SIGKILL, the kernel closes that end, the
 * read returns, and the watchdog SIGKILLs the whole group, grandchildren included. Its command
 * line carries <tag>, by which the worker tells it from the program's own processes.
 *
 * This replaces `setpriv --pdeathsig KILL -- sh -c '<watchdog> & exec "$@"'`: one exec instead of
 * three, which was most of a trivial step's cost.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void watchdog(void) {
  char buf[64];
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  for (;;) {
    ssize_t n = read(3, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EINTR)) break;
  }
  kill(0, SIGKILL);
  _exit(0);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: shepherd-launch <tag> <program> [args...]\n");
    return 2;
  }
  /* The watchdog kills its whole group: never run one outside a group of our own, nor without
     a lifeline (a read on a closed fd 3 would return at once and kill the group). */
  if (getsid(0) != getpid() || getpgrp() != getpid()) {
    fprintf(stderr, "shepherd-launch: must be started as the leader of a new session\n");
    return 127;
  }
  if (fcntl(3, F_GETFD) < 0) {
    fprintf(stderr, "shepherd-launch: no lifeline on fd 3\n");
    return 127;
  }
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    fprintf(stderr, "shepherd-launch: prctl: %s\n", strerror(errno));
    return 127;
  }
  /* A fork's child starts without a parent-death signal: the watchdog outlives the program. */
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "shepherd-launch: fork: %s\n", strerror(errno));
    return 127;
  }
  if (pid == 0) watchdog();
  close(3);
  execvp(argv[2], argv + 2);
  fprintf(stderr, "shepherd-launch: %s: %s\n", argv[2], strerror(errno));
  return errno == ENOENT ? 127 : 126;
}
