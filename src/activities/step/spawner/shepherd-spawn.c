/*
 * shepherd-spawn: the worker's step spawner, compiled (spawner/helper.mjs is the fallback where
 * there is no C compiler). Started by the worker with a Node IPC channel; it forks each step's
 * group leader and hands the program's pipes to the worker.
 *
 *   shepherd-spawn <tag>          (the channel's fd in NODE_CHANNEL_FD, JSON lines)
 *
 * Why C: a step's fork then happens in a process of a few hundred KiB, and the child sets itself
 * up (new session, parent-death signal, watchdog, descriptors, cwd) and execs the program
 * directly. The Node helper forked itself (tens of MiB) into a launcher that did the same set-up
 * and exec'd again: on a machine where process creation is slow, that was most of a trivial
 * step's cost.
 *
 * Each child: setsid (leader of a new session and process group), PR_SET_PDEATHSIG=SIGKILL, then
 * starts the watchdog, then execs the program (same pid: the spawner sees the program's own exit).
 * Neither the child nor its watchdog copies this process's page tables: the child is a vfork
 * (this process waits until its exec, as posix_spawn does), the watchdog a clone sharing this
 * process's memory and running on a stack of its own (see take_stack). Where process creation is
 * slow (page tables on a paravirtualised guest), the two copies and their teardown were a quarter
 * of a trivial step's CPU.
 * The watchdog ignores SIGTERM/SIGINT/SIGHUP/SIGQUIT (it outlives a graceful stop and keeps the
 * group id reserved until the group is gone) and blocks reading fd 3, a socket whose other end
 * only the worker holds. When the worker dies, even by SIGKILL, the kernel closes that end, the
 * read returns, and the watchdog SIGKILLs the whole group. Its command line is this process's,
 * which carries <tag>: by it the worker tells the watchdog from the program's own processes.
 *
 * Protocol (Node's "json" IPC serialization: one JSON object per line; a descriptor travels as
 * SCM_RIGHTS with a {"cmd":"NODE_HANDLE","type":"net.Socket","msg":...} line):
 *   worker  → {"op":"spawn","id":N,"b":"<base64>"}: NUL-terminated strings: file, cwd, argc, the
 *             args, envc, the KEY=VALUE entries
 *   spawner → pipe fd 1, 2, 3 (each a handle), then {"op":"spawned","id":N,"pid":P,"startTime":T}
 *             once the program is exec'd (never before: the worker may signal its group at once);
 *             T is its start time in clock ticks since boot (/proc/P/stat), 0 if unreadable;
 *             {"op":"failed","id":N,"message":"..."} if it could not be started;
 *             {"op":"exit","id":N,"exitCode":C,"signal":S,"groupGone":G} when the program
 *             exits; G is true when nothing but the watchdog was left, which this process then
 *             killed and reaped (see only_watchdog_left): the step's group is gone.
 * It exits when the channel closes (the worker's death included); its children carry
 * PDEATHSIG and their watchdogs hold the worker's lifeline, so none outlives both.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* What a child writes to its `ready` pipe before the exec: its watchdog, or why it stopped. */
struct report {
  int kind; /* WATCHDOG or FAILURE */
  int value; /* the watchdog's pid, or errno */
  char stage[56];
};
enum { WATCHDOG = 1, FAILURE = 2 };

enum state { FREE, STARTING, RUNNING, FAILED };

struct child {
  enum state state;
  long id;
  pid_t pid;
  int pipes[3]; /* our ends of the program's fd 1, 2 and 3 */
  int ready;    /* read end of the child's start report (struct report), closed by its exec */
  pid_t watchdog;
  struct report got; /* what the child reported so far */
  size_t gotlen;
};



static struct child *children;
static size_t nchildren;
static int ipc = -1;

static void die(const char *what) {
  fprintf(stderr, "shepherd-spawn: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void write_all(const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(ipc, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) exit(0); /* the worker is gone: nothing left to report to */
    buf += n;
    len -= (size_t)n;
  }
}

static void send_line(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0 || n > (int)sizeof buf - 2) n = (int)sizeof buf - 2;
  buf[n++] = '\n';
  write_all(buf, (size_t)n);
}

/* One line with one descriptor; the worker's Node turns it into a net.Socket. */
static void send_pipe(long id, int which, int fd) {
  char line[160];
  int n = snprintf(line, sizeof line, "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":{\"op\":\"pipe\",\"id\":%ld,\"fd\":%d}}\n", id, which);
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  struct iovec iov = {line, (size_t)n};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  while (sendmsg(ipc, &msg, 0) < 0) {
    if (errno != EINTR) exit(0);
  }
}

/* Only ASCII reaches here (our own messages and strerror texts); quotes and controls dropped. */
static void send_failed(long id, const char *what, int err) {
  char msg[300];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  for (char *p = msg; *p; p++)
    if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) *p = ' ';
  send_line("{\"op\":\"failed\",\"id\":%ld,\"message\":\"%s\"}", id, msg);
}

static const struct {
  int sig;
  const char *name;
} SIGNALS[] = {{SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},     {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},   {SIGTRAP, "SIGTRAP"},
               {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},     {SIGFPE, "SIGFPE"},   {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"},
               {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},   {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},
               {SIGCHLD, "SIGCHLD"}, {SIGCONT, "SIGCONT"},   {SIGSTOP, "SIGSTOP"}, {SIGTSTP, "SIGTSTP"}, {SIGTTIN, "SIGTTIN"},
               {SIGTTOU, "SIGTTOU"}, {SIGURG, "SIGURG"},     {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"}, {SIGVTALRM, "SIGVTALRM"},
               {SIGPROF, "SIGPROF"}, {SIGWINCH, "SIGWINCH"}, {SIGIO, "SIGIO"},     {SIGSYS, "SIGSYS"}};

static void send_exit(long id, int status, int gone) {
  const char *g = gone ? "true" : "false";
  if (WIFEXITED(status)) {
    send_line("{\"op\":\"exit\",\"id\":%ld,\"exitCode\":%d,\"signal\":null,\"groupGone\":%s}", id, WEXITSTATUS(status), g);
    return;
  }
  int sig = WTERMSIG(status);
  const char *name = "SIGKILL";
  for (size_t i = 0; i < sizeof SIGNALS / sizeof SIGNALS[0]; i++)
    if (SIGNALS[i].sig == sig) name = SIGNALS[i].name;
  send_line("{\"op\":\"exit\",\"id\":%ld,\"exitCode\":null,\"signal\":\"%s\",\"groupGone\":%s}", id, name, g);
}

/*
 * Watchdog stacks. A watchdog runs in this process's memory, so each needs a stack nobody else
 * uses until it has exited. The kernel writes the watchdog's pid into its slot's `tid` when it
 * is created and zeroes it when it exits (CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID), whoever
 * reaps it: zero marks a free stack. Chunks are never moved or freed (the kernel holds addresses
 * into them).
 */
#define WATCHDOG_STACK (16 * 1024)
#define STACKS_PER_CHUNK 64
struct stack_chunk {
  struct stack_chunk *next;
  volatile pid_t tid[STACKS_PER_CHUNK];
  char *stacks;
};
static struct stack_chunk *stack_chunks;

/* A free slot, marked taken (-1) until the child's clone overwrites it; NULL if out of memory. */
static volatile pid_t *take_stack(char **top) {
  for (struct stack_chunk *k = stack_chunks;; k = k->next) {
    if (!k) {
      k = calloc(1, sizeof *k);
      void *m = k ? mmap(NULL, (size_t)STACKS_PER_CHUNK * WATCHDOG_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : MAP_FAILED;
      if (m == MAP_FAILED) {
        free(k);
        return NULL;
      }
      k->stacks = m;
      k->next = stack_chunks;
      stack_chunks = k;
    }
    for (int i = 0; i < STACKS_PER_CHUNK; i++) {
      if (k->tid[i] != 0) continue;
      k->tid[i] = -1;
      *top = k->stacks + (size_t)(i + 1) * WATCHDOG_STACK; /* stacks grow down; mmap keeps it aligned */
      return &k->tid[i];
    }
  }
}

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

static void close_from(int lowest) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, lowest, ~0U, 0) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  for (int fd = lowest; fd < (max > 0 ? max : 65536); fd++) close(fd);
}

/* The watchdog's start, on its own stack: it keeps fd 3 (the lifeline), not the start report. */
static int watchdog_main(void *unused) {
  (void)unused;
  close(4);
  watchdog();
  return 0;
}

/* What the child needs, filled in by this process before the clone. */
struct start {
  char *file, *cwd, **argv, **envp;
  int ends[3]; /* the program's fd 1, 2 and 3 */
  int ready;
  pid_t spawner;
  char *stack; /* the watchdog's */
  volatile pid_t *tid;
};

/*
 * The child's stack: one child at a time runs on it, since this process waits for its exec. The
 * set-up needs little; execvpe copies argv onto it only for a program found on PATH without
 * "#!" (steps never: the worker resolves their programs to paths). An inaccessible page below
 * turns any overflow into the child's SIGSEGV instead of a write into this process's memory.
 */
#define CHILD_STACK (128 * 1024)
static char *child_stack_base;

static char *map_stack(size_t size) {
  long page = sysconf(_SC_PAGESIZE);
  char *m = mmap(NULL, size + (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (m == MAP_FAILED) return NULL;
  if (mprotect(m, (size_t)page, PROT_NONE) != 0) {
    munmap(m, size + (size_t)page);
    return NULL;
  }
  return m;
}

/*
 * In the child, which shares this process's memory until its exec (CLONE_VFORK): never returns,
 * and writes nothing of the parent's but errno and the watchdog's stack slot. A failure before
 * the exec is reported through `ready`.
 */
static int run_child(void *arg) {
  const struct start *st = arg;
  char *file = st->file, *cwd = st->cwd, **argv = st->argv, **envp = st->envp;
  const int *ends = st->ends;
  int ready = st->ready;
  pid_t spawner = st->spawner;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  const char *stage = "setsid";
  int devnull;
  if (setsid() < 0) goto fail;
  stage = "prctl";
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) goto fail;
  if (getppid() != spawner) _exit(127); /* the spawner died before the signal was armed */
  stage = "descriptors";
  if ((devnull = open("/dev/null", O_RDONLY)) < 0) goto fail;
  /* ends[] and ready are above 3 (0-2 are the spawner's stdio, 3 its channel): no clobbering. */
  if (dup2(devnull, 0) < 0 || dup2(ends[0], 1) < 0 || dup2(ends[1], 2) < 0 || dup2(ends[2], 3) < 0) goto fail;
  if (ready != 4 && dup2(ready, 4) < 0) goto fail;
  ready = 4;
  if (fcntl(ready, F_SETFD, FD_CLOEXEC) < 0) goto fail;
  close_from(5);
  stage = "chdir";
  if (chdir(cwd) < 0) goto fail;
  stage = "start of the watchdog";
  pid_t w = clone(watchdog_main, st->stack, CLONE_VM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, NULL, st->tid, NULL, st->tid);
  if (w < 0) goto fail;
  close(3);
  struct report r = {.kind = WATCHDOG, .value = w};
  if (write(ready, &r, sizeof r) != (ssize_t)sizeof r) _exit(127);
  if (strchr(file, '/')) execve(file, argv, envp);
  else execvpe(file, argv, envp);
  /* Like a shell: the program's own failure to start goes to its stderr, exit 126/127. */
  int err = errno;
  dprintf(2, "shepherd-spawn: %s: %s\n", file, strerror(err));
  _exit(err == ENOENT ? 127 : 126);
fail: {
  struct report r = {.kind = FAILURE, .value = errno};
  strncpy(r.stage, stage, sizeof r.stage - 1);
  if (write(ready, &r, sizeof r) < 0) _exit(127);
  _exit(127);
}
}

static int b64value(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Decodes base64 in place; returns the decoded length. */
static size_t b64decode(char *s, size_t len) {
  size_t out = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64value((unsigned char)s[i]);
    if (v < 0) continue;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      s[out++] = (char)((acc >> bits) & 0xff);
    }
  }
  return out;
}

/* Splits the decoded payload into `count` strings; NULL if it holds fewer. */
static char *next_string(char **at, char *end) {
  char *s = *at;
  char *nul = s < end ? memchr(s, '\0', (size_t)(end - s)) : NULL;
  if (!nul) return NULL;
  *at = nul + 1;
  return s;
}

static struct child *new_slot(void) {
  for (size_t i = 0; i < nchildren; i++)
    if (children[i].state == FREE) return &children[i];
  size_t grown = nchildren ? nchildren * 2 : 64;
  struct child *more = realloc(children, grown * sizeof *more);
  if (!more) return NULL;
  memset(more + nchildren, 0, (grown - nchildren) * sizeof *more);
  children = more;
  nchildren = grown;
  return new_slot();
}

static void spawn(long id, char *payload, size_t len) {
  char *at = payload, *end = payload + b64decode(payload, len);
  char *file = next_string(&at, end), *cwd = next_string(&at, end), *count = next_string(&at, end);
  if (!file || !cwd || !count) {
    send_failed(id, "malformed spawn request", EINVAL);
    return;
  }
  long argc = strtol(count, NULL, 10);
  char **argv = calloc((size_t)argc + 2, sizeof *argv);
  argv[0] = file;
  for (long i = 1; i <= argc; i++) argv[i] = next_string(&at, end);
  char *envcount = next_string(&at, end);
  long envc = envcount ? strtol(envcount, NULL, 10) : -1;
  char **envp = calloc((size_t)(envc < 0 ? 0 : envc) + 1, sizeof *envp);
  for (long i = 0; i < envc; i++) envp[i] = next_string(&at, end);
  int ok = envc >= 0 && (argc == 0 || argv[argc]) && (envc == 0 || envp[envc - 1]);
  struct child *c = ok ? new_slot() : NULL;
  if (!c) {
    send_failed(id, ok ? "out of memory" : "malformed spawn request", ok ? ENOMEM : EINVAL);
    free(argv);
    free(envp);
    return;
  }
  int pairs[3][2], ready[2], made = 0;
  for (; made < 3; made++)
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pairs[made]) < 0) break;
  int readied = made == 3 && pipe2(ready, O_CLOEXEC) == 0;
  pid_t self = getpid();
  struct start st = {file, cwd, argv, envp, {pairs[0][1], pairs[1][1], pairs[2][1]}, readied ? ready[1] : -1, self, NULL, NULL};
  st.tid = readied ? take_stack(&st.stack) : NULL;
  if (!child_stack_base) child_stack_base = map_stack(CHILD_STACK);
  char *stack = child_stack_base ? child_stack_base + sysconf(_SC_PAGESIZE) + CHILD_STACK : NULL;
  pid_t pid = st.tid && stack ? clone(run_child, stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &st) : -1;
  int err = st.tid && stack ? errno : ENOMEM;
  /* The child has exec'd or exited by now (CLONE_VFORK): a slot still marked -1 got no watchdog. */
  if (st.tid && *st.tid == -1) *st.tid = 0;
  free(argv);
  free(envp);
  for (int i = 0; i < made; i++) close(pairs[i][1]);
  if (readied) close(ready[1]);
  if (pid < 0) {
    for (int i = 0; i < made; i++) close(pairs[i][0]);
    if (readied) close(ready[0]);
    send_failed(id, made < 3 ? "socketpair" : !readied ? "pipe" : !st.tid ? "watchdog stack" : !stack ? "child stack" : "clone", err);
    return;
  }
  *c = (struct child){.state = STARTING, .id = id, .pid = pid, .pipes = {pairs[0][0], pairs[1][0], pairs[2][0]}, .ready = ready[0]};
}

/* Field 22 of /proc/<pid>/stat: with the pid, what tells this process from a later one reusing it. */
static unsigned long long start_time_of(pid_t pid) {
  char path[64], stat[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, stat, sizeof stat - 1);
  close(fd);
  if (n <= 0) return 0;
  stat[n] = '\0';
  char *at = strrchr(stat, ')');
  /* Each step moves `at` to the space before field `field`; field 3 (state) follows the ")". */
  for (int field = 3; at && field <= 22; field++) at = strchr(at + 1, ' ');
  return at ? strtoull(at + 1, NULL, 10) : 0;
}

/*
 * Reads the child's start report; at EOF (its exec closed the pipe, or it exited) tells the
 * worker: the pipes and "spawned" after a report of its watchdog, else "failed" and why.
 * Returns 0 while the report is incomplete.
 */
static int resolve_start(struct child *c) {
  ssize_t n;
  do n = read(c->ready, (char *)&c->got + c->gotlen, sizeof c->got - c->gotlen);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    c->gotlen += (size_t)n;
    return 0;
  }
  close(c->ready);
  c->ready = -1;
  if (c->gotlen == sizeof c->got && c->got.kind == WATCHDOG) {
    c->watchdog = c->got.value;
    for (int i = 0; i < 3; i++) {
      send_pipe(c->id, i + 1, c->pipes[i]);
      close(c->pipes[i]); /* in flight now; the worker holds the only copy once it arrives */
    }
    send_line("{\"op\":\"spawned\",\"id\":%ld,\"pid\":%d,\"startTime\":%llu}", c->id, (int)c->pid, start_time_of(c->pid));
    c->state = RUNNING;
    return 1;
  }
  for (int i = 0; i < 3; i++) close(c->pipes[i]);
  int failed = c->gotlen == sizeof c->got && c->got.kind == FAILURE;
  c->got.stage[sizeof c->got.stage - 1] = '\0';
  send_failed(c->id, failed ? c->got.stage : "start", failed ? c->got.value : EIO);
  c->state = FAILED; /* reaped later, reported no further */
  return 1;
}

/*
 * After its leader exited: whether the only live process left in the step's session is its
 * watchdog. Every process of the session descends from the leader, so once the leader is gone
 * each survivor is a child of this process (a subreaper) or a descendant of one: one read of our
 * children and one stat per child answer it, where the worker would scan all of /proc.
 */
static int only_watchdog_left(pid_t session, pid_t watchdog) {
  char path[64], list[8192];
  snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0; /* kernel without it: the worker checks the slow way */
  ssize_t n = read(fd, list, sizeof list - 1);
  close(fd);
  if (n < 0 || n == (ssize_t)sizeof list - 1) return 0;
  list[n] = '\0';
  for (char *at = list, *end; *at; at = end) {
    long pid = strtol(at, &end, 10);
    if (end == at) break;
    if (pid == watchdog) continue;
    char stat[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) continue; /* gone meanwhile */
    ssize_t m = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (m <= 0) continue;
    stat[m] = '\0';
    char state;
    int ppid, pgrp, sid;
    char *paren = strrchr(stat, ')');
    if (!paren || sscanf(paren + 2, "%c %d %d %d", &state, &ppid, &pgrp, &sid) != 4) return 0;
    if (sid == session && state != 'Z' && state != 'X') return 0;
  }
  return 1;
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (size_t i = 0; i < nchildren; i++) {
      struct child *c = &children[i];
      if (c->state == FREE || c->pid != pid) continue;
      while (c->state == STARTING) resolve_start(c); /* it exec'd or exited: the report is complete */
      if (c->state == RUNNING) {
        /* The usual end: the program and its processes are gone, only the watchdog waits on
           its lifeline. Kill it here and say so: the worker then need not look for leftovers. */
        int gone = c->watchdog > 0 && only_watchdog_left(c->pid, c->watchdog);
        if (gone) {
          kill(-c->pid, SIGKILL);
          while (waitpid(c->watchdog, NULL, 0) < 0 && errno == EINTR) {
          }
        }
        send_exit(c->id, status, gone);
      }
      c->state = FREE;
      break;
    }
    /* Not ours: an orphaned watchdog or a step's orphan, reparented here (subreaper). */
  }
}

/* Handles every complete line in buf; returns how many bytes were consumed. */
static size_t handle_lines(char *buf, size_t len) {
  size_t done = 0;
  for (char *nl; (nl = memchr(buf + done, '\n', len - done)) != NULL; done = (size_t)(nl - buf) + 1) {
    *nl = '\0';
    char *line = buf + done;
    if (!strstr(line, "\"op\":\"spawn\"")) continue; /* Node's own acknowledgements */
    char *id = strstr(line, "\"id\":"), *b = strstr(line, "\"b\":\"");
    if (!id || !b) continue;
    b += 5;
    char *q = strchr(b, '"');
    if (!q) continue;
    spawn(strtol(id + 5, NULL, 10), b, (size_t)(q - b));
  }
  return done;
}

int main(int argc, char **argv) {
  (void)argv; /* argv[1], the tag, is only there to be seen in the watchdogs' command lines */
  if (argc != 2) {
    fprintf(stderr, "usage: shepherd-spawn <tag>   (started by a Shepherd worker, with a Node IPC channel)\n");
    return 2;
  }
  const char *fd = getenv("NODE_CHANNEL_FD");
  ipc = fd ? atoi(fd) : -1;
  if (ipc != 3 || fcntl(ipc, F_GETFD) < 0) {
    fprintf(stderr, "shepherd-spawn: no IPC channel on fd 3 (NODE_CHANNEL_FD)\n");
    return 2;
  }
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) return 1;
  /* Orphaned watchdogs are reaped here rather than piling up under PID 1. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) die("signalfd");
  fcntl(ipc, F_SETFD, FD_CLOEXEC);

  size_t cap = 1 << 16, used = 0;
  char *buf = malloc(cap);
  struct pollfd *fds = NULL;
  size_t nfds = 0;
  for (;;) {
    size_t want = 2;
    for (size_t i = 0; i < nchildren; i++) want += children[i].state == STARTING;
    if (want > nfds) {
      fds = realloc(fds, want * sizeof *fds);
      nfds = want;
    }
    fds[0] = (struct pollfd){.fd = ipc, .events = POLLIN};
    fds[1] = (struct pollfd){.fd = sigfd, .events = POLLIN};
    size_t n = 2;
    for (size_t i = 0; i < nchildren; i++)
      if (children[i].state == STARTING) fds[n++] = (struct pollfd){.fd = children[i].ready, .events = POLLIN};
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    /* Starts first: a program that exec'd and exited at once is reported spawned, then exited. */
    for (size_t i = 0; i < nchildren; i++)
      if (children[i].state == STARTING) {
        for (size_t k = 2; k < n; k++)
          if (fds[k].fd == children[i].ready && fds[k].revents) {
            resolve_start(&children[i]);
            break;
          }
      }
    if (fds[1].revents) {
      struct signalfd_siginfo si;
      while (read(sigfd, &si, sizeof si) > 0) {
      }
      reap();
    }
    if (fds[0].revents) {
      if (used == cap) buf = realloc(buf, cap *= 2);
      ssize_t r = read(ipc, buf + used, cap - used);
      if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) return 0; /* the worker is gone */
      if (r > 0) used += (size_t)r;
      size_t done = handle_lines(buf, used);
      memmove(buf, buf + done, used - done);
      used -= done;
    }
  }
}
