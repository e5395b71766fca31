package seccomp

//go:generate go run ./internal/gen zsyscalls.go

// A sysTable is one ABI's syscall names and numbers, generated into
// zsyscalls.go from github.com/elastic/go-seccomp-bpf/arch (its Info).
// nsup does not link that package: its maps are built at init, in every
// nsup process, though only planning reads them; these tables are static
// data, nothing runs at init.
type sysTable struct {
	name  string
	audit uint32  // AUDIT_ARCH_*, as seccomp_data.arch shows it
	mask  uint32  // or'ed into every number: __X32_SYSCALL_BIT for x32
	calls []sysnr // sorted by name, then nr
}

type sysnr struct {
	name string
	nr   uint32
}

// A finder looks names up in one table by binary search, from a finger:
// where the last name was. Compile looks up every name of a profile in
// two or three tables, where a plain binary search for each would be half
// its time; but the names of a profile come mostly in order (Docker's are
// sorted, underscores aside) or repeated (socket, thirty times), so the
// next one is near the last: the search gallops from the finger toward it
// (1, 2, 4… entries) and bisects only the range that brackets it, a
// comparison or two instead of nine.
type finder struct {
	t  *sysTable
	at int // where the last name was, or would be
}

// lookup returns the entries for name, numbers ascending (without the
// mask), none if the ABI has no such syscall. A name may have several:
// go-seccomp-bpf's x32 table has both the x86_64 number and x32's own
// (512+) for 36 syscalls.
func (f *finder) lookup(name string) []sysnr {
	calls, at := f.t.calls, f.at
	// The first entry >= name is in [lo, hi].
	var lo, hi int
	if at < len(calls) && calls[at].name < name {
		lo, hi = at+1, len(calls)
		for step := 1; at+step < len(calls); step *= 2 {
			if calls[at+step].name >= name {
				hi = at + step
				break
			}
			lo = at + step + 1
		}
	} else {
		lo, hi = 0, at
		for step := 1; at-step >= 0; step *= 2 {
			if calls[at-step].name < name {
				lo = at - step + 1
				break
			}
			hi = at - step
		}
	}
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if calls[h].name < name {
			lo = h + 1
		} else {
			hi = h
		}
	}
	f.at = lo
	end := lo
	for end < len(calls) && calls[end].name == name {
		end++
	}
	return calls[lo:end]
}
