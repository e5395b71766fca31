#include "textflag.h"

#define SYS_clone 56
#define SYS_exit_group 231

// func rawCloneOnStack(flags, stack uintptr, e *rawEntry) (pid, errno uintptr)
//
// clone(2) whose child starts on stack (the top of a mapping of its own)
// and runs rawChildEntry(e), never returning here: with CLONE_VM it
// shares nsup's memory but not its stack. The parent returns the pid.
TEXT ·rawCloneOnStack(SB),NOSPLIT|NOFRAME,$0-40
	MOVQ	flags+0(FP), DI
	MOVQ	stack+8(FP), SI
	MOVQ	$0, DX
	MOVQ	$0, R10
	MOVQ	$0, R8
	// The child finds e in R13: the system call keeps it (only AX, CX
	// and R11 change), and the child has no use of the parent's stack.
	MOVQ	e+16(FP), R13
	MOVL	$SYS_clone, AX
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	MOVQ	$-1, pid+24(FP)
	NEGQ	AX
	MOVQ	AX, errno+32(FP)
	RET
ok:
	MOVQ	AX, pid+24(FP)
	MOVQ	$0, errno+32(FP)
	RET
child:
	// On the new stack, which the kernel set: call rawChildEntry(e)
	// (ABI0: its argument at 0(SP) before the call).
	ANDQ	$~15, SP
	SUBQ	$16, SP
	MOVQ	R13, 0(SP)
	// An indirect call: the child is on a stack of its own, so its calls
	// are not the caller's nosplit chain, which the linker would count.
	LEAQ	·rawChildEntry(SB), R12
	CALL	R12
	MOVL	$127, DI
	MOVL	$SYS_exit_group, AX
	SYSCALL
	INT	$3
