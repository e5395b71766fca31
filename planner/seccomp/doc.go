// Package seccomp turns a seccomp profile into the classic BPF program a
// plan carries. In spec → plan → apply it is planning: Default and Load
// resolve a profile (Docker's default, or a JSON one) for the environment's
// bounding capability set, the GOARCH and the running kernel; Compile
// lowers it to the program, whose Digest the plan prints; apply only loads
// that program, with seccomp(SECCOMP_SET_MODE_FILTER,
// SECCOMP_FILTER_FLAG_TSYNC|Flags(profile), prog) after no_new_privs
// (seccomp(2)). It computes, and reads the kernel version (moby's minKernel
// rules); it writes nothing and changes no process state.
//
// Profiles are resolved by moby's own code (github.com/moby/profiles/seccomp),
// so Docker's default is Docker's, rule for rule. Syscall numbers come from
// the tables of github.com/elastic/go-seccomp-bpf/arch, generated into
// zsyscalls.go (go generate) rather than linked: that package builds maps
// at init, a cost every nsup process would pay, the child stage and init
// that never plan included. Docker's default profile for the capability
// set nsup gives by default is compiled when nsup is built, into
// zdefault.go, by go generate's second command (internal/gendefault, which
// imports planner for that set): DefaultProgram returns it, so that a plan
// need not compile it again.
//
// The lowering is ours because neither alternative fits: libseccomp, which
// runc uses, needs cgo, and nsup is built without it; go-seccomp-bpf's own
// policy assembler cannot express SCMP_CMP_MASKED_EQ with a non-zero second
// value, an errno per rule, several architectures in one program, nor a
// kill on a foreign architecture — all of which Docker's profile needs.
// The semantics are libseccomp's as runc drives it (seccomp_rule_add(3)),
// runc's ENOSYS stub included; Compile's comment lists where they differ.
package seccomp
