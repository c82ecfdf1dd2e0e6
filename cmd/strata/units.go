package main

import "strconv"

// dockerSize prints a byte count the way go-units' HumanSize does (decimal
// units, four significant digits: "2.134MB"), which is what Docker uses for
// `system df` and prune's "Total reclaimed space"; `images` and `history`
// use format.HumanSize's three digits.
//
// TODO: move to internal/format (a precision argument to HumanSize).
func dockerSize(size int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"}
	f := float64(size)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return strconv.FormatFloat(f, 'g', 4, 64) + units[i]
}
