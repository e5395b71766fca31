package spec

import (
	"errors"
	"flag"
	"github.com/nsup/nsup/internal/golden"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/invalid")

// schemaMarker is the first line of the corpus files whose error is
// structural, which the JSON Schema of package schema must reject too.
const schemaMarker = "# schema: invalid"

// TestInvalidCorpus parses every testdata/invalid/<case>.yaml and compares
// the error lines with <case>.errors. go test ./spec -update rewrites the
// .errors files; review each by eye before keeping it.
func TestInvalidCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 45 {
		t.Fatalf("only %d files in testdata/invalid, want at least 45", len(files))
	}
	marked := 0
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil && strings.HasPrefix(string(data), schemaMarker+"\n") {
			marked++
		}
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			s, err := Parse(file)
			if err == nil {
				t.Fatalf("Parse(%s) accepted an invalid spec: %+v", file, s)
			}
			if s != nil {
				t.Errorf("Parse(%s) returned a spec and an error", file)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse(%s) error is %T, want Errors: %v", file, err, err)
			}
			got := err.Error() + "\n"
			golden.Check(t, strings.TrimSuffix(file, ".yaml")+".errors", got, *update)
		})
	}
	if marked < 15 {
		t.Errorf("%d files are marked %q, want at least 15", marked, schemaMarker)
	}
}
