// Package fserr words the operating system's errors about a file whose
// name nsup did not choose (a file of a root tree export copies): the
// name quoted (%q), so that a line break or another control character in
// it cannot split the error into lines that read as nsup's own.
// It imports nothing of nsup's.
package fserr

import (
	"fmt"
	"io/fs"
	"os"
)

// Quoted is err, an *fs.PathError or *os.LinkError, with its names
// quoted, the error it holds kept (errors.Is still finds
// fs.ErrNotExist); any other error (nil too) as it is.
func Quoted(err error) error {
	switch e := err.(type) {
	case *os.LinkError:
		return fmt.Errorf("%s %q %q: %w", e.Op, e.Old, e.New, e.Err)
	case *fs.PathError:
		return fmt.Errorf("%s %q: %w", e.Op, e.Path, e.Err)
	}
	return err
}

// Named is err about the file named name, which nsup did not choose:
// "NAME": err, err as Quoted words it (nil: nil).
func Named(name string, err error) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*fs.PathError); ok && e.Path == name {
		return Quoted(err)
	}
	return fmt.Errorf("%q: %w", name, Quoted(err))
}
