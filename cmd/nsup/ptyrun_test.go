package main

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/nsup/nsup/executor/lifecycle"
	"golang.org/x/sys/unix"
)

// ptyRun is a command run with a new pty of the test's as its stdio, its
// output read from the master as it comes: the rootless terminal tests
// look at the host's node while the environment still holds it.
type ptyRun struct {
	master *os.File
	mu     sync.Mutex
	out    strings.Builder
	marked chan struct{} // closed at the first whole line with the marker
	copied chan struct{} // closed once the master reads no more
	waited chan error    // the command's end
}

// startOnPty starts cmd on a new pty (of size ws, if not nil); marker is
// what the line waited for (untilMarker) has.
func startOnPty(t *testing.T, cmd *exec.Cmd, ws *unix.Winsize, marker string) *ptyRun {
	t.Helper()
	master, mfd, slave, err := lifecycle.OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	if ws != nil {
		unix.IoctlSetWinsize(mfd, unix.TIOCSWINSZ, ws)
	}
	tty := os.NewFile(uintptr(slave), "pts")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	p := &ptyRun{master: master, marked: make(chan struct{}), copied: make(chan struct{}), waited: make(chan error, 1)}
	go func() {
		defer close(p.copied)
		buf := make([]byte, 4096)
		seen := false
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			s := p.out.String()
			p.mu.Unlock()
			if i := strings.Index(s, marker); !seen && i >= 0 && strings.Contains(s[i:], "\n") {
				seen = true
				close(p.marked)
			}
			if err != nil {
				return
			}
		}
	}()
	if err := cmd.Start(); err != nil {
		tty.Close()
		t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		tty.Close() // the reader's EIO once nsup's copies are closed too
		p.waited <- err
	}()
	return p
}

// text is the output so far, carriage returns taken out.
func (p *ptyRun) text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.ReplaceAll(p.out.String(), "\r", "")
}

// untilMarker waits for the marker's line; if the command ends first, it
// returns false and the end's error, all its output read.
func (p *ptyRun) untilMarker() (bool, error) {
	select {
	case <-p.marked:
		return true, nil
	case err := <-p.waited:
		<-p.copied
		return false, err
	}
}

// finish types line into the terminal and waits for the command's end
// and the last of its output.
func (p *ptyRun) finish(line string) error {
	p.master.Write([]byte(line))
	err := <-p.waited
	<-p.copied
	return err
}
