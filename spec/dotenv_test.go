package spec

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadTrustedSwappedForFIFO: a .env replaced by a FIFO between its
// check and its open (by a member of a group that may write its folder,
// say) is refused, not opened: an open of a FIFO for reading waits for a
// writer for good. A racer swaps a FIFO and the regular file in and out
// while .env files are read; a read that blocked on the FIFO is found at
// the end, by a writer's open that succeeds (and lets it go).
func TestReadTrustedSwappedForFIFO(t *testing.T) {
	dir := t.TempDir()
	env, reg, fifo := filepath.Join(dir, ".env"), filepath.Join(dir, "reg"), filepath.Join(dir, "fifo")
	if err := os.WriteFile(reg, []byte("A=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(reg, env); err != nil {
		t.Fatal(err)
	}
	const reads = 20000
	stop := make(chan struct{})
	// attempts counts the reads ended. Every 64th swap the racer leaves
	// what it put in place until two more reads have ended (so one ran
	// wholly after the swap), a regular file and a FIFO in turn: a read of
	// each kind is certain however the scheduler runs the two (on a busy
	// machine a free-running racer could have raced every read).
	var attempts atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the racer
		defer wg.Done()
		tmp := filepath.Join(dir, "tmp")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			src := reg
			if i%2 == 0 {
				src = fifo
			}
			os.Remove(tmp)
			if os.Link(src, tmp) == nil {
				os.Rename(tmp, env)
			}
			if i%64 >= 62 { // i%64 == 62 a FIFO, 63 the regular file
				for n := attempts.Load(); attempts.Load() < n+2; {
					select {
					case <-stop:
						return
					default:
						runtime.Gosched()
					}
				}
			}
		}
	}()
	var read, refused int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range reads {
			b, why := readTrusted(env)
			attempts.Add(1)
			switch {
			case why == "":
				if string(b) != "A=1\n" {
					t.Errorf("read %q", b)
				}
				read++
			case strings.Contains(why, "not a regular file") || strings.Contains(why, "replaced"):
				refused++
			default:
				t.Errorf("refused: %s", why)
			}
		}
	}()
	// Until the reads end, or one blocks on the FIFO: a writer's open
	// (non-blocking) succeeds only where a reader waits.
	blocked := false
	for !blocked {
		select {
		case <-done:
		default:
			if fd, err := unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
				unix.Close(fd)
				blocked = true
			}
			continue
		}
		break
	}
	close(stop)
	wg.Wait()
	<-done // a blocked read was let go by the writer's open
	if blocked {
		t.Fatal("a read of .env opened the FIFO put in its place")
	}
	if read == 0 || refused == 0 {
		t.Errorf("%d read, %d refused: the race was not run both ways", read, refused)
	}
}
