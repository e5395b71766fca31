package fserr

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

// TestQuoted: the names of a path or link error are quoted, the error
// they hold kept; other errors pass as they are.
func TestQuoted(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&fs.PathError{Op: "open", Path: "a\nb", Err: syscall.ENOENT}, `open "a\nb": no such file or directory`},
		{&os.LinkError{Op: "link", Old: "a\nb", New: "c\rd", Err: syscall.EEXIST}, `link "a\nb" "c\rd": file exists`},
		{Named("x\ny", errors.New("too large")), `"x\ny": too large`},
		{Named("x\ny", &fs.PathError{Op: "lstat", Path: "x\ny", Err: syscall.ENOENT}), `lstat "x\ny": no such file or directory`},
	} {
		if got := Quoted(c.err); got.Error() != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
	if !errors.Is(Quoted(&fs.PathError{Op: "open", Path: "a", Err: syscall.ENOENT}), fs.ErrNotExist) {
		t.Error("fs.ErrNotExist lost")
	}
	if Quoted(nil) != nil || Named("x", nil) != nil {
		t.Error("nil is not nil")
	}
}
