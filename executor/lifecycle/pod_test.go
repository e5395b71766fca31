package lifecycle

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestInNamespacesZombie: a process that has ended but is not reaped
// still reads as in its user namespace (a zombie keeps its credentials),
// though it is in no namespace any longer. A pod's holder whose last
// environment's init was left unreaped (a PID 1 that never reaps) was
// kept by nsup down until it ended by itself.
func TestInNamespacesZombie(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", "read x")
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	if err := cmd.Start(); err != nil {
		w.Close()
		t.Fatalf("a user namespace: %v", err)
	}
	pid := cmd.Process.Pid
	defer cmd.Wait()
	user, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
	if err != nil {
		w.Close()
		t.Fatal(err)
	}
	mine := map[string]string{"user": user}
	if !InNamespaces(mine, os.Getpid()) {
		t.Errorf("a running process in user namespace %s is not seen", user)
	}
	w.Close() // it ends
	for i := 0; ; i++ {
		if zombie(pid) {
			break
		}
		if i == 500 {
			t.Fatalf("pid %d never became a zombie", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid)); err != nil || l != user {
		t.Logf("the zombie's user link: %q %v (the kernel hides it: nothing to test)", l, err)
	}
	if InNamespaces(mine, os.Getpid()) {
		t.Errorf("a zombie counts as in user namespace %s", user)
	}
}
