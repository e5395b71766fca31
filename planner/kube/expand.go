package kube

// Kubernetes' $(VAR) references: the kubelet expands them in a container's
// command and args, in its env values (from the variables defined before)
// and in exec probes' commands (third_party/forked/golang/expansion). "$$"
// is one "$"; "$(NAME)" is NAME's value, or stays as written when NAME is
// not defined; any other "$" is itself.

import "strings"

// escape writes s so that the kubelet's expansion gives s back, changing
// only what expansion would change: a "$" followed by "$", or by
// "(NAME)" with NAME defined, is doubled. Any other "$(...)" is left as
// written, which expansion leaves too: so a shell's "$(cmd)" or "$HOME"
// reads the same under a runtime that does not expand (podman kube play
// before 4.7) as under the kubelet.
func escape(s string, defined func(name string) bool) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] != '$' || i+1 == len(s) {
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 && defined != nil && defined(s[i+2:i+2+end]) {
				b.WriteByte('$')
			}
		}
	}
	return b.String()
}

// expand is the kubelet's expansion of s, looking each name up with
// lookup; refs lists the names referenced, defined or not.
func expand(s string, lookup func(name string) (string, bool)) (out string, refs []string) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString("$(")
				i++
				continue
			}
			name := s[i+2 : i+2+end]
			refs = append(refs, name)
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
			b.WriteByte(s[i+1])
			i++
		}
	}
	return b.String(), refs
}
