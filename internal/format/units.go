package format

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	decimalUnits = []string{"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"}
	binaryUnits  = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"}
)

// HumanSize returns size in decimal units with three significant digits and
// no space, as `docker images` prints it: "0B", "34B", "13.2kB", "584MB".
//
// Docker (go-units HumanSizeWithPrecision(size, 3)) prints sizes that round
// up to the next unit in exponent form, such as "1e+03kB" for 999,600 bytes;
// HumanSize moves on to the next unit instead and prints "1MB".
func HumanSize(size int64) string {
	return scaled(float64(size), 1000, decimalUnits, 3)
}

// HumanSizePrecise is HumanSize with four significant digits ("2.134MB"),
// which Docker prints in `system df` and prune's "Total reclaimed space".
func HumanSizePrecise(size int64) string {
	return scaled(float64(size), 1000, decimalUnits, 4)
}

// BytesSize returns size in binary units with four significant digits, like
// go-units BytesSize: "1.5GiB", "44KiB".
func BytesSize(size int64) string {
	return scaled(float64(size), 1024, binaryUnits, 4)
}

func scaled(size, base float64, units []string, precision int) string {
	if size < 0 {
		return "-" + scaled(-size, base, units, precision)
	}
	i := 0
	for size >= base && i < len(units)-1 {
		size /= base
		i++
	}
	s := strconv.FormatFloat(size, 'g', precision, 64)
	if strings.ContainsRune(s, 'e') && i < len(units)-1 {
		// Rounding to precision digits reached the base (999.6 -> "1e+03").
		i++
		s = strconv.FormatFloat(size/base, 'g', precision, 64)
	}
	return s + units[i]
}

// HumanDuration approximates d in words with go-units' thresholds:
// "Less than a second", "1 second", "2 seconds", "About a minute",
// "3 minutes", "About an hour", "5 hours", "3 days", "2 weeks", "3 months",
// "2 years". Hours are rounded to the nearest hour; other units truncate.
func HumanDuration(d time.Duration) string {
	seconds := int(d.Seconds())
	switch {
	case seconds < 1:
		return "Less than a second"
	case seconds == 1:
		return "1 second"
	case seconds < 60:
		return fmt.Sprintf("%d seconds", seconds)
	}
	minutes := int(d.Minutes())
	switch {
	case minutes == 1:
		return "About a minute"
	case minutes < 60:
		return fmt.Sprintf("%d minutes", minutes)
	}
	hours := int(d.Hours() + 0.5)
	switch {
	case hours == 1:
		return "About an hour"
	case hours < 48:
		return fmt.Sprintf("%d hours", hours)
	case hours < 24*7*2:
		return fmt.Sprintf("%d days", hours/24)
	case hours < 24*30*2:
		return fmt.Sprintf("%d weeks", hours/24/7)
	case hours < 24*365*2:
		return fmt.Sprintf("%d months", hours/24/30)
	}
	return fmt.Sprintf("%d years", int(d.Hours())/24/365)
}

// Ago returns how long before now t was, as in the CREATED column:
// "3 weeks ago".
func Ago(t, now time.Time) string {
	return HumanDuration(now.Sub(t)) + " ago"
}

// shortIDLen is the length of an ID as `docker images` shows it.
const shortIDLen = 12

// TruncateID drops an "<algorithm>:" prefix and keeps the first 12
// characters: "sha256:7cc4b5aefd1d0c..." becomes "7cc4b5aefd1d".
func TruncateID(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > shortIDLen {
		id = id[:shortIDLen]
	}
	return id
}

// Ellipsis shortens s to at most max runes, ending in "…" when it had to
// cut. For max 1 it returns the first rune alone and for max <= 0 the empty
// string, as Docker does. Docker counts East Asian wide runes as two
// columns; Ellipsis counts every rune as one.
func Ellipsis(s string, max int) string {
	if max <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max == 1 {
		_, n := utf8.DecodeRuneInString(s)
		return s[:n]
	}
	keep := 0
	for i := 0; i < max-1; i++ {
		_, n := utf8.DecodeRuneInString(s[keep:])
		keep += n
	}
	return s[:keep] + "…"
}
