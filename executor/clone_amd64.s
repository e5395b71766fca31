#include "textflag.h"

#define SYS_clone 56
#define SYS_clone3 435
#define SYS_exit_group 231

// CLONED ends both: the parent returns the pid or the errno, the child
// calls rawChildEntry(e) on its new stack (ABI0: its argument at 0(SP)
// before the call) through an indirect call: the child is on a stack of
// its own, so its calls are not the caller's nosplit chain, which the
// linker would count.
#define CLONED \
	CMPQ	AX, $0 \
	JEQ	child \
	CMPQ	AX, $0xfffffffffffff001 \
	JLS	ok \
	MOVQ	$-1, pid+8(FP) \
	NEGQ	AX \
	MOVQ	AX, errno+16(FP) \
	RET \
ok: \
	MOVQ	AX, pid+8(FP) \
	MOVQ	$0, errno+16(FP) \
	RET \
child: \
	ANDQ	$~15, SP \
	SUBQ	$16, SP \
	MOVQ	R13, 0(SP) \
	LEAQ	·rawChildEntry(SB), R12 \
	CALL	R12 \
	MOVL	$127, DI \
	MOVL	$SYS_exit_group, AX \
	SYSCALL \
	INT	$3

// func rawClone3OnStack(e *rawEntry) (pid, errno uintptr)
//
// clone3(2) with e.args (the first field of e), whose child starts on the
// stack those name (a mapping of its own) and runs rawChildEntry(e),
// never returning here: with CLONE_VM it shares nsup's memory but not its
// stack. The parent returns the pid.
TEXT ·rawClone3OnStack(SB),NOSPLIT|NOFRAME,$0-24
	// The child finds e in R13: the system call keeps it (only AX, CX
	// and R11 change), and the child has no use of the parent's stack.
	MOVQ	e+0(FP), R13
	MOVQ	R13, DI
	MOVQ	$88, SI // cloneArgsSize
	MOVL	$SYS_clone3, AX
	SYSCALL
	CLONED

// func rawCloneOnStack(e *rawEntry) (pid, errno uintptr)
//
// The same with clone(2): flags|exitSignal, the stack's top. For a
// process made after the syscall filter is loaded: Docker's profile
// answers clone3 with ENOSYS (it cannot read clone3's flags, which are in
// memory), as glibc and runc expect.
TEXT ·rawCloneOnStack(SB),NOSPLIT|NOFRAME,$0-24
	MOVQ	e+0(FP), R13
	MOVQ	0(R13), DI  // args.flags
	ORQ	32(R13), DI // args.exitSignal
	MOVQ	40(R13), SI // args.stack
	ADDQ	48(R13), SI // + args.stackSize
	MOVQ	$0, DX
	MOVQ	$0, R10
	MOVQ	$0, R8
	MOVL	$SYS_clone, AX
	SYSCALL
	CLONED
