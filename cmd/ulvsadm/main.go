// Command ulvsadm administers the ulvsd director with ipvsadm's command line
// and output. See package adm.
package main

import (
	"os"

	"github.com/ulvs/ulvs/adm"
)

func main() { os.Exit(adm.Main(os.Args[1:], os.Stdout, os.Stderr)) }
