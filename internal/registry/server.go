package registry

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Server is an OCI distribution registry over a storage.Driver. It keeps no
// state a request depends on: any number of Servers on one backend act as one
// registry.
type Server struct {
	cfg     Config
	store   *store
	auth    *authorizer
	metrics *metrics
	log     *slog.Logger
	leases  leases // see gclease.go
}

// New checks cfg and builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Storage == nil {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "registry: no storage driver")
	}
	cfg.setDefaults()
	key := cfg.TokenKey
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key)
	}
	a, err := newAuthorizer(&cfg, tokenSigner{key: key, ttl: cfg.TokenTTL})
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg:     cfg,
		store:   &store{d: cfg.Storage},
		auth:    a,
		metrics: newMetrics(),
		log:     cfg.Logger,
	}, nil
}

// request carries what the access log and metrics want to know about a
// request as handlers learn it.
type request struct {
	route route
	user  string
}

// Handler returns the registry's HTTP handler.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	rq := &request{}
	err := s.dispatch(rec, r, rq)
	if err != nil {
		if rec.status != 0 {
			// Headers are gone; all we can do is cut the response short.
			s.log.LogAttrs(r.Context(), slog.LevelWarn, "response aborted", slog.String("error", err.Error()))
		} else {
			writeError(rec, r, err)
		}
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	dur := time.Since(start)
	s.metrics.observe(r.Method, string(rq.route.kind), rec.status, rec.bytes, dur)
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("route", string(rq.route.kind)),
		slog.String("path", r.URL.Path),
		slog.String("repo", rq.route.name),
		slog.Int("status", rec.status),
		slog.Int64("bytes", rec.bytes),
		slog.Duration("duration", dur),
		slog.String("user", rq.user),
		slog.String("remote", r.RemoteAddr),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// dispatch routes a request to its handler.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, rq *request) error {
	rt, err := parseRoute(r.URL.EscapedPath())
	rq.route = rt
	if err != nil {
		return err
	}
	switch rt.kind {
	case routeMetrics:
		return s.serveMetrics(w, r)
	case routeToken:
		return s.serveToken(w, r, rq)
	}
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	switch rt.kind {
	case routeBase:
		return s.serveBase(w, r, rq)
	case routeCatalog:
		return s.serveCatalog(w, r, rq)
	case routeSearch:
		return s.serveSearch(w, r, rq)
	case routeBlob:
		return s.serveBlob(w, r, rq)
	case routeUploads:
		return s.serveUploads(w, r, rq)
	case routeUpload:
		return s.serveUpload(w, r, rq)
	case routeManifest:
		return s.serveManifest(w, r, rq)
	case routeTags:
		return s.serveTags(w, r, rq)
	case routeReferrers:
		return s.serveReferrers(w, r, rq)
	}
	return newError(codeNotFound, "no such endpoint")
}

// authorize runs the authorizer and records the user for the log.
func (s *Server) authorize(r *http.Request, rq *request, needs ...need) (identity, error) {
	id, err := s.auth.authorize(r, needs...)
	rq.user = id.user
	return id, err
}

func repoNeed(name, action string) need { return need{"repository", name, action} }

func (s *Server) serveBase(w http.ResponseWriter, r *http.Request, rq *request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, http.MethodGet, http.MethodHead)
	}
	if _, err := s.authorize(r, rq); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct{}{})
}

// Serve serves on l until ctx is done, then shuts down gracefully: it stops
// accepting, lets running requests finish for up to 30 s, and returns nil.
// With TLSCert and TLSKey set it serves HTTPS.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return errdefs.Newf(errdefs.ErrInvalidArgument, "registry tls: %v", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		l = tls.NewListener(l, srv.TLSConfig)
	}
	done := make(chan error, 1)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if err != nil {
			// Shutdown's error is the one reported; Close only cuts the
			// connections that did not finish in time.
			_ = srv.Close()
		}
		done <- err
	}()
	err := srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return <-done
	}
	return err
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err
}

func methodNotAllowed(w http.ResponseWriter, allow ...string) error {
	w.Header().Set("Allow", strings.Join(allow, ", "))
	return newError(codeUnsupported, "method not allowed")
}

// recorder counts what a handler sent, keeping io.ReaderFrom so blob
// downloads still reach sendfile.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

func (rec *recorder) ReadFrom(src io.Reader) (int64, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := rec.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(rec.ResponseWriter, src)
	}
	rec.bytes += n
	return n, err
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }
