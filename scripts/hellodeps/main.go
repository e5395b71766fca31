// Command hellodeps is a hello-world that links the two dependencies every
// nsup process initialises and nsup may not drop (gopkg.in/yaml.v3, whose
// package initialisation compiles regular expressions, and
// github.com/spf13/pflag, which links package net): scripts/bench.sh times
// it beside a plain hello-world and `nsup version`, to show the floor
// those set for nsup's own start. It is never linked into nsup.
package main

import (
	"fmt"

	_ "github.com/spf13/pflag"
	_ "gopkg.in/yaml.v3"
)

func main() { fmt.Println("hello, world") }
