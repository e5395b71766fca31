package spec

// The .env file beside a spec: when it may be read (readTrusted) and
// compose's format of it.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nsup/nsup/internal/regfile"
)

// dotEnv is one variable of a .env file.
type dotEnv struct {
	value string
	at    string // FILE:LINE
}

// readEnvFile reads a .env file, compose's format: NAME=VALUE lines,
// "export " allowed before NAME, # comments and blank lines; VALUE
// unquoted (trimmed, a " #" starts a comment), 'single-quoted' (as is) or
// "double-quoted" (\n, \t, \\, \" and \$ escapes). Values are not
// interpolated. Its errors are reported with its own name.
func (d *decoder) readEnvFile(name string, data []byte) map[string]dotEnv {
	out := map[string]dotEnv{}
	for i, line := range strings.Split(string(data), "\n") {
		ln := i + 1
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		col := len(line) - len(trimmed) + 1
		bad := func(c int, format string, args ...any) {
			d.errs = append(d.errs, &Error{File: name, Pos: Pos{ln, c}, Msg: fmt.Sprintf(format, args...)})
		}
		if rest, ok := strings.CutPrefix(trimmed, "export "); ok {
			col += len(trimmed) - len(rest)
			trimmed = strings.TrimLeft(rest, " \t")
		}
		key, val, ok := strings.Cut(trimmed, "=")
		key = strings.TrimRight(key, " \t")
		if !ok {
			bad(col, "%s: expected NAME=VALUE", quote(trimmed))
			continue
		}
		if !isVarName(key) {
			bad(col, "%s: not a variable name (letters, digits and _, not starting with a digit)", quote(key))
			continue
		}
		vcol := col + strings.Index(trimmed, "=") + 1
		val = strings.TrimLeft(val, " \t")
		switch {
		case strings.HasPrefix(val, "'"):
			end := strings.IndexByte(val[1:], '\'')
			if end < 0 {
				bad(vcol, "unterminated single quote: close it with ' on the same line")
				continue
			}
			val = val[1 : end+1]
		case strings.HasPrefix(val, `"`):
			v, ok := unquoteDouble(val[1:])
			if !ok {
				bad(vcol, `unterminated double quote: close it with " on the same line`)
				continue
			}
			val = v
		default:
			if j := strings.Index(val, " #"); j >= 0 {
				val = val[:j]
			}
			val = strings.TrimRight(val, " \t")
		}
		out[key] = dotEnv{value: val, at: fmt.Sprintf("%s:%d", name, ln)}
	}
	return out
}

// unquoteDouble reads a double-quoted .env value after its opening quote.
func unquoteDouble(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), true
		case '\\':
			if i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				default: // \\ \" \$ and the rest: the character itself
					b.WriteByte(s[i])
				}
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

// readTrusted reads the .env found beside a spec, nil if there is none,
// or says why it may not be read: its values become the spec's, so it
// must be what the spec's owner put there: a regular file (a link is not
// followed), of nsup's user (or of the user who ran sudo nsup) or root,
// that no one else may write or replace (Untrusted), and not larger than
// a spec; the file read is the file checked.
func readTrusted(name string) ([]byte, string) {
	fi, err := os.Lstat(name)
	if os.IsNotExist(err) {
		return nil, ""
	}
	if err != nil {
		return nil, err.Error()
	}
	if why := Untrusted(fi, filepath.Dir(name)); why != "" {
		return nil, why
	}
	// Opened as a regular file only, a link not followed: a FIFO put in
	// its place meanwhile would block this open for good.
	f, err := regfile.OpenNoFollow(name)
	if err != nil {
		return nil, "it was replaced while it was read: " + err.Error()
	}
	defer f.Close()
	// The file checked is the file read: not another put in its place
	// meanwhile.
	if now, err := f.Stat(); err != nil || !os.SameFile(fi, now) {
		return nil, "it was replaced while it was read"
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err.Error()
	}
	if len(b) > MaxSize {
		return nil, fmt.Sprintf("it is larger than %d bytes", MaxSize)
	}
	return b, ""
}
