// Command hello is the demo image's program: a static binary that needs
// nothing else in its image.
package main

import (
	"fmt"
	"os"
)

func main() {
	host, _ := os.Hostname()
	fmt.Printf("Hello from a strata-built image (container %s)\n", host)
}
