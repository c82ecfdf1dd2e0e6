package container

import (
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/metadata"
)

func TestPruneFilter(t *testing.T) {
	now := time.Date(2024, 1, 10, 12, 0, 0, 0, time.UTC)
	old := metadata.Container{Created: now.Add(-48 * time.Hour)}
	fresh := metadata.Container{Created: now.Add(-time.Minute)}
	labelled := Config{Labels: map[string]string{"env": "test", "keep": ""}}
	plain := Config{}

	tests := []struct {
		filters []string
		c       metadata.Container
		cfg     Config
		want    bool
	}{
		{nil, fresh, plain, true},
		{[]string{"until=24h"}, old, plain, true},
		{[]string{"until=24h"}, fresh, plain, false},
		{[]string{"until=2024-01-10T11:00:00Z"}, fresh, plain, false},
		{[]string{"until=2024-01-10T11:00:00Z"}, old, plain, true},
		// Values of one key are ORed.
		{[]string{"until=24h", "until=1s"}, fresh, plain, true},
		{[]string{"label=env"}, fresh, labelled, true},
		{[]string{"label=env=test"}, fresh, labelled, true},
		{[]string{"label=env=prod"}, fresh, labelled, false},
		{[]string{"label=env"}, fresh, plain, false},
		{[]string{"label!=keep"}, fresh, labelled, false},
		{[]string{"label!=keep"}, fresh, plain, true},
		{[]string{"label!=env=prod"}, fresh, labelled, true},
		// Keys are ANDed.
		{[]string{"label=env", "until=24h"}, fresh, labelled, false},
		{[]string{"label=env", "until=24h"}, old, labelled, true},
	}
	for _, tt := range tests {
		f, err := ParsePruneFilter(tt.filters, now)
		if err != nil {
			t.Fatalf("%q: %v", tt.filters, err)
		}
		if got := f.Match(tt.c, tt.cfg); got != tt.want {
			t.Errorf("%q on %v: got %v, want %v", tt.filters, tt.c.Created, got, tt.want)
		}
	}
	for _, bad := range [][]string{{"until"}, {"status=exited"}, {"until=yesterday"}} {
		if _, err := ParsePruneFilter(bad, now); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
