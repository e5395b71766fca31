package godev

import "testing"

func TestGreet(t *testing.T) {
	if got := Greet("sandbox"); got != "hello, sandbox" {
		t.Errorf("Greet: %q", got)
	}
}
