package kube

// YAML building blocks, for Import's spec and Export's manifests.

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func integer(n int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(n, 10)}
}

func mapping(flow bool, kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	if flow {
		n.Style = yaml.FlowStyle
	}
	for i := 0; i < len(kv); i += 2 {
		n.Content = append(n.Content, str(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return n
}

func set(n *yaml.Node, k string, v *yaml.Node) {
	n.Content = append(n.Content, str(k), v)
}

func strList(ss []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, s := range ss {
		n.Content = append(n.Content, str(s))
	}
	return n
}

// command is a flow list when short and on one line each, else a block
// list with multi-line arguments as literal blocks.
func command(args []string) *yaml.Node {
	n := strList(args)
	total := 0
	for _, a := range args {
		total += len(a)
		if strings.Contains(a, "\n") {
			n.Style = 0
		}
	}
	if total > 60 {
		n.Style = 0
	}
	if n.Style == 0 {
		for _, c := range n.Content {
			if strings.Contains(c.Value, "\n") && !strings.ContainsAny(c.Value, "\t") && !hasTrailingSpace(c.Value) {
				c.Style = yaml.LiteralStyle
			}
		}
	}
	return n
}

func hasTrailingSpace(s string) bool {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasSuffix(l, " ") {
			return true
		}
	}
	return false
}
