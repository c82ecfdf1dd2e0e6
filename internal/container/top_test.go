package container

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePS(t *testing.T) {
	ef := `UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 07:49 ?        00:00:25 /sbin/init splash
root       31752   31722  0 09:03 ?        00:00:00 sleep 1000
root       31760   31752  0 09:03 ?        00:00:00 sh -c echo  two   spaces
root       40000       1  0 09:05 ?        00:00:00 other
`
	got, err := parsePS([]byte(ef), []int{31752, 31760})
	if err != nil {
		t.Fatal(err)
	}
	wantTitles := []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}
	if !reflect.DeepEqual(got.Titles, wantTitles) {
		t.Fatalf("titles %q", got.Titles)
	}
	want := [][]string{
		{"root", "31752", "31722", "0", "09:03", "?", "00:00:00", "sleep 1000"},
		{"root", "31760", "31752", "0", "09:03", "?", "00:00:00", "sh -c echo two spaces"},
	}
	if !reflect.DeepEqual(got.Processes, want) {
		t.Fatalf("processes:\n%q\nwant\n%q", got.Processes, want)
	}

	// ps -L/m prints threads as "-" lines after their process: they belong
	// to the process above.
	threads := `USER       PID %CPU COMMAND
root        10  0.0 sleep
-            -  0.0 -
root        11  0.0 other
-            -  0.0 -
`
	got, err = parsePS([]byte(threads), []int{10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Processes) != 2 || got.Processes[0][1] != "10" || got.Processes[1][1] != "-" {
		t.Fatalf("threads: %q", got.Processes)
	}

	if _, err := parsePS([]byte("USER COMMAND\nroot sh\n"), []int{1}); err == nil {
		t.Fatal("output without a PID column accepted")
	}
	if _, err := parsePS([]byte("PID CMD\nabc sh\n"), []int{1}); err == nil {
		t.Fatal("non-numeric pid accepted")
	}
	if got, err := parsePS([]byte("PID CMD\n"), nil); err != nil || len(got.Processes) != 0 || got.Processes == nil {
		t.Fatalf("empty: %+v %v", got, err)
	}
}

func TestTopRow(t *testing.T) {
	if got := topRow([]string{"a", "b"}, 3); !reflect.DeepEqual(got, []string{"a", "b", ""}) {
		t.Fatalf("short row %q", got)
	}
	if got := topRow(strings.Fields("1 2 3 4 5"), 3); !reflect.DeepEqual(got, []string{"1", "2", "3 4 5"}) {
		t.Fatalf("long row %q", got)
	}
}

func TestTopRefusesRenamedColumns(t *testing.T) {
	m := &Manager{}
	for _, args := range []string{"-o pid,comm,x=PID", "-o user=PIDX"} {
		if _, err := m.Top(t.Context(), "c", args); err == nil || !strings.Contains(err.Error(), "is not allowed") {
			t.Errorf("%q: %v", args, err)
		}
	}
}

func TestJoinPids(t *testing.T) {
	if got := joinPids([]int{1, 22, 333}); got != "1,22,333" {
		t.Fatal(got)
	}
}
