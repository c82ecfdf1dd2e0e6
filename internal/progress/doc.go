// Package progress shows the progress of a Dockerfile build the way BuildKit
// does: "plain" prints one line per event ("#3 [2/4] RUN make", "#3 0.152 cc
// main.c", "#3 DONE 1.2s"), "tty" redraws a live frame every 100 ms with the
// running steps and the tail of their output, and "quiet" prints nothing.
//
// A Display is shared by the build's goroutines: every method of Display and
// Vertex is safe for concurrent use, and in plain mode each output line
// reaches the writer in a single Write call. Whatever the mode, each Vertex
// keeps the last lines of its output so that a failed step can show them.
package progress
