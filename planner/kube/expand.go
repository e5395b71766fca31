package kube

// Kubernetes' $(VAR) references: the kubelet expands them in a container's
// command and args, in its env values (from the variables defined before)
// and in exec probes' commands (third_party/forked/golang/expansion). "$$"
// is one "$"; "$(NAME)" is NAME's value, or stays as written when NAME is
// not defined; any other "$" is itself.

import "strings"

// escape writes s so that the kubelet's expansion gives s back: each "$"
// followed by "$" or "(" is doubled, the only ones expansion changes.
func escape(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '$' && i+1 < len(s) && (s[i+1] == '$' || s[i+1] == '(') {
			b.WriteByte('$')
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
