package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUpIsApply: nsup up is nsup apply under compose's name, exactly:
// the same help, flags, errors and way of running (appliesPlan), and
// the main help lists it. Before, "unknown command "up"" (helper-151's
// user trial: a team coming from compose types nsup up -d).
func TestUpIsApply(t *testing.T) {
	top := t.TempDir()
	t.Setenv("NSUP_STATE_DIR", filepath.Join(top, "state"))
	t.Chdir(top)
	os.WriteFile("bad.yaml", []byte("version: 1\nenvironments: {}\n"), 0o644)
	for _, args := range [][]string{{"-h"}, {"--nosuch"}, {}, {"-d"}, {"nosuch.yaml"}, {"-d", "bad.yaml"}} {
		code, out, errs := nsup(t, append([]string{"apply"}, args...)...)
		ucode, uout, uerrs := nsup(t, append([]string{"up"}, args...)...)
		if ucode != code || uout != out || uerrs != errs || (code == 0) != (len(args) > 0 && args[0] == "-h") {
			t.Errorf("up %q: %d %q %q; apply: %d %q %q", args, ucode, uout, uerrs, code, out, errs)
		}
	}
	_, help, _ := nsup(t, "help", "apply")
	if _, uhelp, _ := nsup(t, "help", "up"); uhelp != help || !strings.HasPrefix(help, "Usage: nsup apply ") {
		t.Errorf("help up: %q, want apply's: %q", uhelp, help)
	}
	if _, main, _ := nsup(t, "help"); !strings.Contains(main, "\n  up        ") {
		t.Errorf("help lists no up:\n%s", main)
	}
	if !appliesPlan([]string{"up", "-d"}) {
		t.Errorf("appliesPlan(up) = false")
	}
}
