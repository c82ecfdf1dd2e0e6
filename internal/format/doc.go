// Package format renders command output the way the Docker CLI does: human
// sizes and durations, shortened IDs, and rows printed through a Go
// text/template, either raw (one line per row), as a tab-aligned table with
// a header row, or as JSON.
//
// Docker's behaviour is the reference (docker/cli formatter and templates,
// docker/go-units). Where this package deliberately differs it says so at
// the function.
package format
