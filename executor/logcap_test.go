package executor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nsup/nsup/executor/lifecycle"
	"golang.org/x/sys/unix"
)

// TestCappedLog: written line by line far past its bound, the log never
// holds more than the bound, and holds exactly the newest output after a
// line counting the bytes cut; lifecycle.LogCut reads that line back.
func TestCappedLog(t *testing.T) {
	for _, max := range []int64{4 << 10, 64 << 10} {
		path := filepath.Join(t.TempDir(), "output.log")
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		l, err := newCappedLog(f, max)
		if err != nil {
			t.Fatal(err)
		}
		var all bytes.Buffer
		for i := 0; i < 50000; i++ {
			line := []byte(fmt.Sprintf("line %d\n", i))
			all.Write(line)
			if _, err := l.Write(line); err != nil {
				t.Fatal(err)
			}
			if i%997 == 0 {
				var st unix.Stat_t
				unix.Fstat(int(f.Fd()), &st)
				if st.Size > max {
					t.Fatalf("max %d: the log holds %d bytes", max, st.Size)
				}
			}
		}
		f.Close()
		b, _ := os.ReadFile(path)
		r, _ := os.Open(path)
		cut, header, _ := lifecycle.LogCut(r)
		r.Close()
		if header == 0 || !bytes.Equal(b[header:], all.Bytes()[cut:]) {
			t.Errorf("max %d: cut %d, header %d; the log is not the newest output: %q", max, cut, header, b[:min(len(b), 80)])
		}
		if b[header-1] != '\n' || !bytes.HasPrefix(b, []byte("nsup: ")) {
			t.Errorf("max %d: the cut line: %q", max, b[:header])
		}
		if int64(len(b)) < max/4 {
			t.Errorf("max %d: only %d bytes kept", max, len(b))
		}
	}
}
