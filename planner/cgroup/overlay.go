package cgroup

import "strings"

// Overlay is what an overlay mount's mountinfo line says of its folders:
// the upper one (written through the merged folder; "" for a read-only
// overlay), its work folder, the lower ones (read through it, the top
// one first) and the data-only ones (read through its metacopy files).
// Each is named as the mounter named it (the kernel's escapes undone):
// in the mounter's mount namespace, and relative to its working folder
// then if not absolute (mount(2)'s options; the new mount API's
// lowerdir+= by an fd are full paths).
type Overlay struct {
	Upper, Work string
	Lower, Data []string
}

// overlayOf is the folders of the overlay mount whose superblock options
// (mountinfo's last field) are super, or nil for another type.
//
// mountinfo shows each option's value with ',', '=', ' ', '\t', '\n'
// and '\' in octal (seq_show_option), so the options are split at each
// ',' and the value taken after the first '='. Under that is the
// overlay's own form (fs/overlayfs/params.c): upperdir=, workdir= and
// each of lowerdir='s folders are kept as given, where a '\' takes the
// next character as it is ("\," for a ',', "\:" for a ':', "\\");
// lowerdir= is a list split at each ':' not so escaped, and "::" starts
// its data-only folders; lowerdir+= and datadir+= (Linux 6.8) are one
// folder each, with no escapes.
func overlayOf(fstype, super string) *Overlay {
	if fstype != "overlay" {
		return nil
	}
	o := &Overlay{}
	for _, opt := range strings.Split(super, ",") {
		name, value, ok := strings.Cut(opt, "=")
		if !ok {
			continue
		}
		value = unescape(value)
		switch unescape(name) {
		case "upperdir":
			o.Upper = ovlUnescape(value)
		case "workdir":
			o.Work = ovlUnescape(value)
		case "lowerdir":
			o.Lower, o.Data = splitLowerdir(value)
		case "lowerdir+":
			o.Lower = append(o.Lower, value)
		case "datadir+":
			o.Data = append(o.Data, value)
		}
	}
	return o
}

// splitLowerdir splits lowerdir='s value into its folders, the lower ones
// and, after the first "::", the data-only ones, each unescaped.
func splitLowerdir(s string) (lower, data []string) {
	var cur strings.Builder
	isData := false
	flush := func() {
		if cur.Len() > 0 {
			if isData {
				data = append(data, ovlUnescape(cur.String()))
			} else {
				lower = append(lower, ovlUnescape(cur.String()))
			}
		}
		cur.Reset()
	}
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			cur.WriteByte(s[i])
			cur.WriteByte(s[i+1])
			i++
		case s[i] == ':':
			flush()
			if i+1 < len(s) && s[i+1] == ':' {
				isData = true
				i++
			}
		default:
			cur.WriteByte(s[i])
		}
	}
	flush()
	return lower, data
}

// ovlUnescape drops each '\' and keeps the character after it
// (ovl_unescape).
func ovlUnescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			if i == len(s) {
				break
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
