package main

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestPsStatusWidth: a long reason an environment was not started (a
// dependency's healthcheck output) is cut in nsup ps's table, ending
// "…", so that it does not widen every line; a short status is as it
// is. Before, the STATUS column was as wide as the longest reason
// (helper-151's user trial, finding 10).
func TestPsStatusWidth(t *testing.T) {
	long := "not started: dependency db is unhealthy: its healthcheck failed 3 times in a row, the last: exit status 1: connection refused"
	entries := []psEntry{
		{Project: "p", Name: "db", Status: "running", Running: true, Pid: 42, MemoryBytes: -1, MemoryLimit: -1, Pids: -1, PidsLimit: -1, Spec: "nsup.yaml"},
		{Project: "p", Name: "web", Status: long, MemoryBytes: -1, MemoryLimit: -1, Pids: -1, PidsLimit: -1, Spec: "nsup.yaml"},
	}
	var b strings.Builder
	if err := printPs(&b, entries); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("ps:\n%s", b.String())
	}
	// The STATUS column: from where its header starts to where HEALTH's does.
	from, to := strings.Index(lines[0], "STATUS"), strings.Index(lines[0], "HEALTH")
	if to-from > psStatusWidth+2 {
		t.Errorf("the STATUS column is %d wide, want %d at most:\n%s", to-from, psStatusWidth+2, b.String())
	}
	cell := func(l string) string {
		r := []rune(l)
		if len(r) < to {
			t.Fatalf("short line %q", l)
		}
		return strings.TrimRight(string(r[from:to]), " ")
	}
	if got := cell(lines[1]); got != "running" {
		t.Errorf("db's status %q, want running", got)
	}
	got := cell(lines[2])
	if want := string([]rune(long)[:psStatusWidth-1]) + "…"; got != want || utf8.RuneCountInString(got) != psStatusWidth {
		t.Errorf("web's status %q, want %q", got, want)
	}
}
