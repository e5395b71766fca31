package kube

// YAML building blocks, for Import's spec and Export's manifests.

import (
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/nsup/nsup/planner/yamlnode"
)

func integer(n int64) *yaml.Node { return yamlnode.Int(strconv.FormatInt(n, 10)) }

var (
	str     = yamlnode.Str
	boolean = yamlnode.Bool
	mapping = yamlnode.Mapping
	set     = yamlnode.Set
	strList = yamlnode.StrList
	command = yamlnode.Command
)
