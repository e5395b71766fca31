package oci

// Import's YAML nodes: scalars, mappings, lists, commands.

import (
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/nsup/nsup/planner/yamlnode"
)

// YAML building blocks (planner/yamlnode), by their short names here.
func integer(n uint64) *yaml.Node { return yamlnode.Int(strconv.FormatUint(n, 10)) }

var (
	str     = yamlnode.Str
	boolean = yamlnode.Bool
	mapping = yamlnode.Mapping
	set     = yamlnode.Set
	strList = yamlnode.StrList
	command = yamlnode.Command
)
