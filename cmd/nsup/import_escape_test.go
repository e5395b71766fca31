package main

import (
	"testing"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner/yamlnode"
)

// TestImportEscapesWhatTerminalHides: the runes an imported spec shows
// escaped (yamlnode.Unsafe) are those nsup never prints raw to a
// terminal (lifecycle.Printable): the two sets are kept apart (planner
// imports no executor), so this keeps them one.
func TestImportEscapesWhatTerminalHides(t *testing.T) {
	for r := rune(0); r <= 0x10ffff; r++ {
		if r >= 0xd800 && r <= 0xdfff || r == '?' {
			continue // not a rune of UTF-8 text; Printable's own stand-in
		}
		hidden := lifecycle.Printable(string(r)) == "?"
		if hidden != yamlnode.Unsafe(r) {
			t.Errorf("%U: Printable hides it: %v, yamlnode.Unsafe: %v", r, hidden, yamlnode.Unsafe(r))
		}
	}
}
