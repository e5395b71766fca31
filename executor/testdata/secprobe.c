/* secprobe: what root inside an environment can do, one check per
 * argument, each printed as "NAME: OK" or "NAME: ERRNO-NAME" (and a value
 * where there is one). Built static by the security tests (gcc -static)
 * and run inside environments; single-threaded, so that unshare(2) of a
 * user namespace is possible where the filter allows it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <mqueue.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e) {
	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case EROFS: return "EROFS";
	case ENOENT: return "ENOENT";
	case EINVAL: return "EINVAL";
	case ENOKEY: return "ENOKEY";
	case ENOSYS: return "ENOSYS";
	case EBADF: return "EBADF";
	case ENOTTY: return "ENOTTY";
	case EISDIR: return "EISDIR";
	case EIO: return "EIO";
	case ENOSPC: return "ENOSPC";
	case EAGAIN: return "EAGAIN";
	case EMFILE: return "EMFILE";
	}
	static char buf[32];
	snprintf(buf, sizeof buf, "errno%d", e);
	return buf;
}

#ifdef __x86_64__
/* i386's ABI from a 64-bit process: int 0x80, arguments in the low 4 GiB,
 * -errno returned as the result */
static long int80(long nr, long a, long b, long c) {
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "0"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	if (r < 0 && r > -4096) { errno = -r; return -1; }
	return r;
}
#endif

static void result(const char *name, long r) { printf("%s: %s\n", name, ename(r < 0 ? errno : 0)); }

#define KEYCTL_GET_KEYRING_ID 0
#define KEYCTL_READ 11
#define KEY_SPEC_SESSION_KEYRING -3
#define KEY_SPEC_USER_KEYRING -4
#define KEYCTL_LINK 8
#define KEYCTL_SEARCH 10

int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		errno = 0;
		if (!strcmp(a, "keyctl")) {
			result(a, syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
		} else if (!strcmp(a, "add_key")) {
			result(a, syscall(SYS_add_key, "user", "nsup-probe", "x", 1, KEY_SPEC_SESSION_KEYRING));
		} else if (!strncmp(a, "request_key=", 12)) {
			/* request_key(2) then KEYCTL_READ: the key's payload, if found */
			long id = syscall(SYS_request_key, "user", a + 12, NULL, 0);
			if (id < 0) { result("request_key", id); continue; }
			char buf[256] = {0};
			long n = syscall(SYS_keyctl, KEYCTL_READ, id, buf, sizeof buf - 1);
			if (n < 0) { result("request_key", n); continue; }
			printf("request_key: FOUND %s\n", buf);
		} else if (!strncmp(a, "user_key=", 9)) {
			/* the user keyring (root's, outside a user namespace) linked
			 * into the session keyring, then searched and the key read */
			long u = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0);
			if (u < 0) { result("user_key", u); continue; }
			syscall(SYS_keyctl, KEYCTL_LINK, u, KEY_SPEC_SESSION_KEYRING);
			long id = syscall(SYS_keyctl, KEYCTL_SEARCH, u, "user", a + 9, 0);
			if (id < 0) { result("user_key", id); continue; }
			char buf[256] = {0};
			long n = syscall(SYS_keyctl, KEYCTL_READ, id, buf, sizeof buf - 1);
			if (n < 0) { result("user_key", n); continue; }
			printf("user_key: FOUND %s\n", buf);
		} else if (!strcmp(a, "unshare_user")) {
			result(a, unshare(CLONE_NEWUSER));
		} else if (!strcmp(a, "unshare_user_mount")) {
			/* the host-cgroup escape's first steps: a user namespace, then
			 * a mount and a cgroup namespace, then a mount */
			long r = unshare(CLONE_NEWUSER);
			if (r == 0) r = unshare(CLONE_NEWNS | CLONE_NEWCGROUP);
			if (r == 0) r = mount("none", "/tmp", "tmpfs", 0, NULL);
			result(a, r);
		} else if (!strcmp(a, "cgroup_pids_max")) {
			/* the whole of it, in a child: a user namespace mapping 0
			 * onto 0, a mount and a cgroup namespace, the v1 pids
			 * hierarchy mounted (its root the environment's group) and
			 * max written to its pids.max */
			pid_t c = fork();
			if (c == 0) {
				long r = unshare(CLONE_NEWUSER);
				const char *step = "unshare";
				int fd;
				if (r == 0 && (fd = open("/proc/self/setgroups", O_WRONLY)) >= 0) { write(fd, "deny", 4); close(fd); }
				if (r == 0) { step = "uid_map"; fd = open("/proc/self/uid_map", O_WRONLY); r = fd < 0 ? -1 : write(fd, "0 0 1", 5) < 0 ? -1 : 0; if (fd >= 0) close(fd); }
				if (r == 0) { step = "gid_map"; fd = open("/proc/self/gid_map", O_WRONLY); r = fd < 0 ? -1 : write(fd, "0 0 1", 5) < 0 ? -1 : 0; if (fd >= 0) close(fd); }
				if (r == 0) { step = "unshare2"; r = unshare(CLONE_NEWNS | CLONE_NEWCGROUP); }
				if (r == 0) { step = "mkdir"; mkdir("/tmp/pids", 0755); r = mount("none", "/tmp/pids", "cgroup", 0, "pids"); step = "mount"; }
				if (r == 0) { step = "write"; fd = open("/tmp/pids/pids.max", O_WRONLY); r = fd < 0 ? -1 : write(fd, "max", 3) < 0 ? -1 : 0; }
				printf("%s: %s%s%s\n", a, ename(r < 0 ? errno : 0), r < 0 ? " at " : "", r < 0 ? step : "");
				fflush(stdout);
				_exit(0);
			}
			waitpid(c, NULL, 0);
		} else if (!strcmp(a, "perf_event_open")) {
			struct perf_event_attr pe;
			memset(&pe, 0, sizeof pe);
			pe.type = PERF_TYPE_SOFTWARE;
			pe.size = sizeof pe;
			pe.config = PERF_COUNT_SW_CPU_CLOCK;
			pe.exclude_kernel = 1;
			result(a, syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0));
		} else if (!strcmp(a, "userfaultfd")) {
			result(a, syscall(SYS_userfaultfd, 0));
		} else if (!strcmp(a, "open_by_handle_at")) {
			/* name_to_handle_at on a file, then open_by_handle_at: the
			 * call that let Shocker read the host's files (CAP_DAC_READ_SEARCH) */
			struct { struct file_handle h; unsigned char f[128]; } fh;
			int mnt;
			fh.h.handle_bytes = 128;
			if (name_to_handle_at(AT_FDCWD, "/", &fh.h, &mnt, 0) < 0) { result("name_to_handle_at", -1); continue; }
			result(a, open_by_handle_at(AT_FDCWD, &fh.h, O_RDONLY));
		} else if (!strncmp(a, "rewrite=", 8)) {
			/* write a file's own content back: a knob's write is refused
			 * or accepted, and nothing changes either way */
			char buf[4096];
			int fd = open(a + 8, O_RDONLY);
			if (fd < 0) { printf("%s: %s\n", a, ename(errno)); continue; }
			ssize_t n = read(fd, buf, sizeof buf);
			close(fd);
			if (n < 0) { printf("%s: %s\n", a, ename(errno)); continue; }
			fd = open(a + 8, O_WRONLY);
			if (fd < 0) { printf("%s: %s\n", a, ename(errno)); continue; }
			long r = write(fd, buf, n);
			printf("%s: %s\n", a, ename(r < 0 ? errno : 0));
			close(fd);
		} else if (!strncmp(a, "read=", 5)) {
			/* how many bytes a file holds (or entries a folder) */
			struct stat st;
			if (stat(a + 5, &st) < 0) { printf("%s: %s\n", a, ename(errno)); continue; }
			if (S_ISDIR(st.st_mode)) {
				char cmd[512];
				snprintf(cmd, sizeof cmd, "ls -A %s | wc -l | tr -d ' '", a + 5);
				FILE *p = popen(cmd, "r");
				int n = -1;
				if (p) { if (fscanf(p, "%d", &n) != 1) n = -1; pclose(p); }
				printf("%s: %d entries\n", a, n);
				continue;
			}
			int fd = open(a + 5, O_RDONLY);
			if (fd < 0) { printf("%s: %s\n", a, ename(errno)); continue; }
			char buf[65536];
			long total = 0, n;
			while ((n = read(fd, buf, sizeof buf)) > 0) total += n;
			close(fd);
			if (n < 0) printf("%s: %s\n", a, ename(errno));
			else printf("%s: %ld bytes\n", a, total);
		} else if (!strncmp(a, "open=", 5)) {
			result(a, open(a + 5, O_RDONLY));
		} else if (!strncmp(a, "tiocsti=", 8)) {
			/* push each character of the text after "FD:" into the
			 * terminal FD as if typed */
			int fd = atoi(a + 8);
			char *s = strchr(a, ':');
			long r = 0;
			for (s = s ? s + 1 : ""; *s && r == 0; s++) r = ioctl(fd, TIOCSTI, s);
			if (r == 0) r = ioctl(fd, TIOCSTI, "\n");
			result("tiocsti", r);
		} else if (!strncmp(a, "abstract:", 9)) {
			/* connect to the abstract unix socket @NAME */
			struct sockaddr_un sa = {.sun_family = AF_UNIX};
			size_t n = strlen(a + 9);
			if (n > sizeof sa.sun_path - 1) n = sizeof sa.sun_path - 1;
			memcpy(sa.sun_path + 1, a + 9, n);
			int fd = socket(AF_UNIX, SOCK_STREAM, 0);
			long r = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + 1 + n);
			result("abstract", r);
		} else if (!strncmp(a, "shmget:", 7)) {
			/* the SysV shared memory segment of key KEY, attached */
			int id = shmget((key_t)atoi(a + 7), 0, 0);
			long r = id < 0 ? -1 : (shmat(id, NULL, SHM_RDONLY) == (void *)-1 ? -1 : 0);
			result("shmget", r);
		} else if (!strncmp(a, "mq_open:", 8)) {
			/* the POSIX message queue /NAME */
			result("mq_open", mq_open(a + 8, O_RDONLY));
		} else if (!strncmp(a, "kill:", 5)) {
			/* kill:PID:SIG */
			int pid = atoi(a + 5), sig = 0;
			char *c = strchr(a + 5, ':');
			if (c) sig = atoi(c + 1);
			result("kill", kill(pid, sig));
		} else if (!strncmp(a, "prlimit_cpu:", 12)) {
			/* prlimit_cpu:PID: a CPU limit of 1 s on PID (SIGKILL past it) */
			struct rlimit r = {1, 1};
			result("prlimit_cpu", prlimit(atoi(a + 12), RLIMIT_CPU, &r, NULL));
		} else if (!strncmp(a, "setpriority:", 12)) {
			/* setpriority:PID: nice 19 for PID */
			result("setpriority", setpriority(PRIO_PROCESS, atoi(a + 12), 19));
		} else if (!strncmp(a, "sched_idle:", 11)) {
			/* sched_idle:PID: SCHED_IDLE for PID (below nice 19; its owner
			 * cannot undo it without CAP_SYS_NICE or RLIMIT_NICE) */
			struct sched_param sp = {0};
			result("sched_idle", sched_setscheduler(atoi(a + 11), SCHED_IDLE, &sp));
		} else if (!strncmp(a, "reach:", 6)) {
			/* reach:PID: the ptrace-checked calls on PID (reach_NAME) */
			int pid = atoi(a + 6), pfd = syscall(SYS_pidfd_open, pid, 0);
			result("reach_pidfd_open", pfd);
			result("reach_pidfd_getfd", syscall(SYS_pidfd_getfd, pfd, 0, 0));
			result("reach_kcmp", syscall(SYS_kcmp, pid, getpid(), 0, 0, 0));
			void *head; size_t len;
			result("reach_get_robust_list", syscall(SYS_get_robust_list, pid, &head, &len));
			unsigned long mask = 1;
			result("reach_migrate_pages", syscall(SYS_migrate_pages, pid, 8 * sizeof mask, &mask, &mask));
			char buf[8]; struct iovec l = {buf, 8}, r = {(void *)0x400000, 8};
			result("reach_process_vm_readv", syscall(SYS_process_vm_readv, pid, &l, 1, &r, 1, 0));
			result("reach_process_madvise", syscall(SYS_process_madvise, pfd, &r, 1, 20 /* MADV_COLD */, 0));
			result("reach_ptrace", syscall(SYS_ptrace, 16 /* ATTACH */, pid, 0, 0));
			result("reach_sched_setattr_nice", ({ struct { unsigned size, policy; unsigned long long flags; int nice; unsigned prio; unsigned long long r, d, p; } at = {48, 0, 0, 19, 0, 0, 0, 0}; syscall(SYS_sched_setattr, pid, &at, 0); }));
		} else if (!strncmp(a, "peek:", 5)) {
			/* peek:PID: what root inside reaches of PID: its fds (listed,
			 * resolved, opened, taken with pidfd_getfd), its cwd, root and
			 * exe, its environ and mem, ptrace; what it reads is printed
			 * after OK ("peek_cwd: OK /path") */
			int pid = atoi(a + 5);
			char p[64], buf[4096];
			snprintf(p, sizeof p, "/proc/%d/fd", pid);
			DIR *d = opendir(p);
			printf("peek_fddir: %s\n", ename(d ? 0 : errno));
			if (d) {
				struct dirent *de;
				while ((de = readdir(d)))
					if (de->d_name[0] != '.') printf("peek_fdlisted_%s: OK\n", de->d_name);
				closedir(d);
			}
			int pfd = syscall(SYS_pidfd_open, pid, 0);
			for (int fd = 0; fd < 16; fd++) {
				snprintf(p, sizeof p, "/proc/%d/fd/%d", pid, fd);
				ssize_t n = readlink(p, buf, sizeof buf - 1);
				if (n >= 0) { buf[n] = 0; printf("peek_fd_%d: OK %s\n", fd, buf); }
				else printf("peek_fd_%d: %s\n", fd, ename(errno));
				int o = open(p, O_RDONLY | O_NONBLOCK);
				printf("peek_fdopen_%d: %s\n", fd, ename(o < 0 ? errno : 0));
				if (o >= 0) close(o);
				int g = pfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pfd, fd, 0);
				if (g >= 0) {
					snprintf(p, sizeof p, "/proc/self/fd/%d", g);
					n = readlink(p, buf, sizeof buf - 1);
					buf[n < 0 ? 0 : n] = 0;
					printf("peek_getfd_%d: OK %s\n", fd, buf);
					close(g);
				} else printf("peek_getfd_%d: %s\n", fd, ename(pfd < 0 ? EBADF : errno));
			}
			const char *links[] = {"cwd", "root", "exe"};
			for (int i = 0; i < 3; i++) {
				snprintf(p, sizeof p, "/proc/%d/%s", pid, links[i]);
				ssize_t n = readlink(p, buf, sizeof buf - 1);
				if (n >= 0) { buf[n] = 0; printf("peek_%s: OK %s\n", links[i], buf); }
				else printf("peek_%s: %s\n", links[i], ename(errno));
			}
			const char *files[] = {"environ", "mem", "auxv", "maps"};
			for (int i = 0; i < 4; i++) {
				snprintf(p, sizeof p, "/proc/%d/%s", pid, files[i]);
				int o = open(p, O_RDONLY);
				long n = o < 0 ? -1 : read(o, buf, sizeof buf);
				if (n >= 0) printf("peek_%s: OK %ld bytes\n", files[i], n);
				else printf("peek_%s: %s\n", files[i], ename(errno));
				if (o >= 0) close(o);
			}
			long r = syscall(SYS_ptrace, 16 /* ATTACH */, pid, 0, 0);
			printf("peek_ptrace: %s\n", ename(r < 0 ? errno : 0));
			if (r == 0) { waitpid(pid, NULL, __WALL); syscall(SYS_ptrace, 17 /* DETACH */, pid, 0, 0); }
		} else if (!strncmp(a, "affinity:", 9)) {
			/* affinity:PID: PID pinned to CPU 0 */
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(0, &set);
			result("affinity", sched_setaffinity(atoi(a + 9), sizeof set, &set));
#ifdef __x86_64__
		} else if (!strncmp(a, "socketcall=", 11) || !strncmp(a, "socket32=", 9)) {
			/* socketcall=FAMILY: i386's socketcall(SYS_SOCKET, {FAMILY,
			 * SOCK_STREAM, 0}) through int 0x80, whose arguments lie
			 * behind a pointer; socket32=FAMILY: i386's socket(2) (359) */
			unsigned *lo = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
			if (lo == MAP_FAILED) { result(a, -1); continue; }
			int family = atoi(strchr(a, '=') + 1);
			lo[0] = family; lo[1] = SOCK_STREAM; lo[2] = 0;
			result(a, a[6] == 'c' ? int80(102, 1, (long)lo, 0) : int80(359, family, SOCK_STREAM, 0));
#endif
		} else if (!strncmp(a, "ptys:", 5)) {
			/* ptys:N: opens /dev/ptmx up to N times (each a pty of the
			 * kernel's pool, kernel.pty.max), its fds' soft limit raised
			 * to the hard one: "ptys: COUNT ERRNO-NAME" (OK: N opened). */
			struct rlimit rl;
			int n = atoi(a + 5), got = 0, err = 0;
			getrlimit(RLIMIT_NOFILE, &rl);
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
			for (; got < n; got++) {
				if (open("/dev/ptmx", O_RDWR | O_NOCTTY) < 0) {
					err = errno;
					break;
				}
			}
			printf("ptys: %d %s\n", got, ename(err));
		} else if (!strncmp(a, "sigqueue:", 9)) {
			/* sigqueue:N: queues SIGRTMIN to itself (blocked, so it stays
			 * pending) up to N times: "sigqueue: COUNT ERRNO-NAME". The
			 * kernel counts pending signals by user. */
			sigset_t set;
			int n = atoi(a + 9), got = 0, err = 0;
			sigemptyset(&set);
			sigaddset(&set, SIGRTMIN);
			sigprocmask(SIG_BLOCK, &set, NULL);
			for (; got < n; got++) {
				if (sigqueue(getpid(), SIGRTMIN, (union sigval){0}) < 0) {
					err = errno;
					break;
				}
			}
			printf("sigqueue: %d %s\n", got, ename(err));
		} else if (!strncmp(a, "mq_fill:", 8)) {
			/* mq_fill:N: makes up to N POSIX message queues of the
			 * default size: "mq_fill: COUNT ERRNO-NAME". The kernel
			 * counts their bytes by user. */
			int n = atoi(a + 8), got = 0, err = 0;
			for (; got < n; got++) {
				char name[32];
				snprintf(name, sizeof name, "/nsup-probe-%d", got);
				if (mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, NULL) < 0) {
					err = errno;
					break;
				}
			}
			printf("mq_fill: %d %s\n", got, ename(err));
		} else if (!strcmp(a, "wait")) {
			/* wait: until stdin ends. */
			char c;
			while (read(0, &c, 1) > 0)
				;
		} else if (!strcmp(a, "euid")) {
			printf("euid: %d\n", (int)geteuid());
		} else if (!strcmp(a, "ulimit")) {
			system("ulimit -n; ulimit -u");
		} else {
			printf("%s: unknown check\n", a);
		}
		fflush(stdout);
	}
	return 0;
}
