package registry

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
)

// metrics are this process's counters, exposed at /metrics in the
// Prometheus text format. They are per process by nature; nothing else
// depends on them.
type metrics struct {
	mu        sync.Mutex
	requests  map[requestKey]uint64
	durations map[string]*histogram // by route
	served    uint64                // response body bytes
	uploaded  uint64                // upload body bytes received
}

type requestKey struct {
	method, route string
	status        int
}

var durationBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	total  uint64
}

func newMetrics() *metrics {
	return &metrics{requests: map[requestKey]uint64{}, durations: map[string]*histogram{}}
}

func (m *metrics) observe(method, route string, status int, bytes int64, d time.Duration) {
	sec := d.Seconds()
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		method = "OTHER" // keep label cardinality bounded
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[requestKey{method, route, status}]++
	m.served += uint64(bytes)
	h := m.durations[route]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(durationBuckets))}
		m.durations[route] = h
	}
	if i := sort.SearchFloat64s(durationBuckets, sec); i < len(durationBuckets) {
		h.counts[i]++
	}
	h.sum += sec
	h.total++
}

func (m *metrics) addUpload(n int64) {
	if n <= 0 {
		return
	}
	m.mu.Lock()
	m.uploaded += uint64(n)
	m.mu.Unlock()
}

// render writes the Prometheus text exposition, sorted so the output is
// stable.
func (m *metrics) render() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b bytes.Buffer
	b.WriteString("# HELP strata_registry_requests_total HTTP requests served.\n")
	b.WriteString("# TYPE strata_registry_requests_total counter\n")
	keys := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, c := keys[i], keys[j]
		if a.route != c.route {
			return a.route < c.route
		}
		if a.method != c.method {
			return a.method < c.method
		}
		return a.status < c.status
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "strata_registry_requests_total{method=%q,route=%q,status=\"%d\"} %d\n", k.method, k.route, k.status, m.requests[k])
	}
	b.WriteString("# HELP strata_registry_response_bytes_total Response body bytes sent.\n")
	b.WriteString("# TYPE strata_registry_response_bytes_total counter\n")
	fmt.Fprintf(&b, "strata_registry_response_bytes_total %d\n", m.served)
	b.WriteString("# HELP strata_registry_upload_bytes_total Blob upload bytes received.\n")
	b.WriteString("# TYPE strata_registry_upload_bytes_total counter\n")
	fmt.Fprintf(&b, "strata_registry_upload_bytes_total %d\n", m.uploaded)
	b.WriteString("# HELP strata_registry_request_duration_seconds Request latency.\n")
	b.WriteString("# TYPE strata_registry_request_duration_seconds histogram\n")
	routes := make([]string, 0, len(m.durations))
	for r := range m.durations {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		h := m.durations[r]
		var cum uint64
		for i, le := range durationBuckets {
			cum += h.counts[i]
			fmt.Fprintf(&b, "strata_registry_request_duration_seconds_bucket{route=%q,le=%q} %d\n", r, strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		fmt.Fprintf(&b, "strata_registry_request_duration_seconds_bucket{route=%q,le=\"+Inf\"} %d\n", r, h.total)
		fmt.Fprintf(&b, "strata_registry_request_duration_seconds_sum{route=%q} %g\n", r, h.sum)
		fmt.Fprintf(&b, "strata_registry_request_duration_seconds_count{route=%q} %d\n", r, h.total)
	}
	return b.Bytes()
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, http.MethodGet)
	}
	body := s.metrics.render()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}
