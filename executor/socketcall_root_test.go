package executor_test

import (
	"runtime"
	"testing"
)

// TestRootSocketcallFamilies (helper-96's review): Docker's default
// profile lets socket(2) make only the address families it lists
// (AF_VSOCK, 40, and AF_ALG, 38, are not), but allowed socketcall(2),
// i386's multiplexer, whose arguments lie behind a pointer no filter
// reads. Root inside made an AF_VSOCK socket with socketcall(SYS_SOCKET)
// through int 0x80 (a channel to the hypervisor's services that the
// environment's network namespace does not confine), where
// socket(AF_VSOCK) was refused. socketcall is refused now (ENOSYS, as
// moby/profiles#21 did), and i386's own socket(2) is checked as the
// 64-bit one is.
func TestRootSocketcallFamilies(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	if runtime.GOARCH != "amd64" {
		skipOrFail(t, "int 0x80 is amd64's way to i386's calls")
	}
	dir, yaml := secEnv(t, "", "socket32=2", "socket32=40", "socketcall=40", "socketcall=38", "socketcall=2")
	res := probeResults(runOK(t, compile(t, dir, yaml)))
	if res["socket32=2"] != "OK" {
		skipOrFail(t, "no i386 ABI here (IA32 emulation): socket32=2 is "+res["socket32=2"])
	}
	for k, w := range map[string]string{"socket32=40": "EPERM", "socketcall=40": "ENOSYS", "socketcall=38": "ENOSYS", "socketcall=2": "ENOSYS"} {
		if res[k] != w {
			t.Errorf("%s inside: %q, want %s", k, res[k], w)
		}
	}
}
