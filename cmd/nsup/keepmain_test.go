package main

import "testing"

// Only the commands that print, check or plan go without the main thread
// kept for Apply; every other command, nsup's other roles and the test
// binary keep it.
func TestStartsNoEnvironment(t *testing.T) {
	none := map[string]bool{"version": true, "help": true, "validate": true, "plan": true}
	for _, c := range commands() {
		if got := startsNoEnvironment([]string{c.name, "x"}); got != none[c.name] {
			t.Errorf("startsNoEnvironment(%s) = %v, want %v", c.name, got, none[c.name])
		}
	}
	for _, args := range [][]string{{}, {"--version"}, {"-h"}, {"--help"}} {
		if !startsNoEnvironment(args) {
			t.Errorf("startsNoEnvironment(%q) = false", args)
		}
	}
	for _, args := range [][]string{{"__nsup_init"}, {"__nsup_keep"}, {"__nsup_hold"}, {"__nsup_ptyro"}, {"-test.v"}, {"nonsense"}} {
		if startsNoEnvironment(args) {
			t.Errorf("startsNoEnvironment(%q) = true", args)
		}
	}
}

// Only plan and validate trade memory for a slower garbage collector:
// every command that may outlive its output (apply's foreground run, a
// shell's relay) keeps the runtime's default.
func TestPlansOnly(t *testing.T) {
	for _, c := range commands() {
		want := c.name == "plan" || c.name == "validate"
		if got := plansOnly([]string{c.name, "x"}); got != want {
			t.Errorf("plansOnly(%s) = %v, want %v", c.name, got, want)
		}
		if plansOnly([]string{c.name}) && !startsNoEnvironment([]string{c.name}) {
			t.Errorf("%s plans only but may start an environment", c.name)
		}
	}
	for _, args := range [][]string{{}, {"__nsup_init"}, {"-test.v"}} {
		if plansOnly(args) {
			t.Errorf("plansOnly(%q) = true", args)
		}
	}
}
