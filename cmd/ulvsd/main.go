// Command ulvsd is the ulvs director daemon. See package director.
package main

import (
	"os"

	"github.com/ulvs/ulvs/director"
)

func main() { os.Exit(director.Main(os.Args[1:])) }
