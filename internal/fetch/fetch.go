package fetch

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-dev/strata/internal/errdefs"
)

const (
	// defaultMaxSize bounds a download when Options.MaxSize is 0.
	defaultMaxSize int64 = 2 << 30
	// defaultTimeout bounds a download when Options.Timeout is 0.
	defaultTimeout = 10 * time.Minute
	// maxRedirects is how many redirects a download follows.
	maxRedirects = 10
	// copyBufSize is the read size of the body copy loop.
	copyBufSize = 1 << 20
	userAgent   = "strata"
)

// Options bound a download.
type Options struct {
	MaxSize      int64         // 0 = default 2 GiB; exceeding -> errdefs.ErrLimitExceeded naming the URL and limit
	Timeout      time.Duration // whole download incl. connect; 0 = default 10 min -> errdefs.ErrUnavailable "download of URL timed out after ..."
	AllowPrivate bool          // allow loopback, link-local, private (RFC 1918, 100.64/10 CGNAT, fc00::/7 ULA), unspecified, multicast destinations
	Checksum     digest.Digest // ADD --checksum=sha256:...; "" = none; mismatch -> errdefs.ErrCorrupt "checksum mismatch for URL: expected X, got Y"
	Client       *http.Client  // nil = build one; otherwise only the TLS settings of its *http.Transport are used
}

// Result is a downloaded file.
type Result struct {
	Path     string        // file in dir holding the body (caller removes it)
	Name     string        // file name for `ADD url /dir/`
	Modified time.Time     // from Last-Modified, zero if absent
	Digest   digest.Digest // sha256 of the body
	Size     int64
}

// IsURL reports whether an ADD source is a URL (http:// or https:// prefix;
// Docker's rule).
func IsURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// Download GETs rawURL (http or https only) into a new temp file under dir,
// streaming and hashing as it goes. Unless o.AllowPrivate is set, every
// connection, including those of redirects, is refused whose resolved address
// is private (see the package doc). On any error nothing is left in dir.
func Download(ctx context.Context, rawURL, dir string, o Options) (Result, error) {
	guard := refusePrivate
	if o.AllowPrivate {
		guard = nil
	}
	return download(ctx, rawURL, dir, o, guard)
}

// download is Download with the dial guard as a parameter, so that tests can
// tell two loopback servers apart by port.
func download(ctx context.Context, rawURL, dir string, o Options, guard func(netip.AddrPort) error) (Result, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return Result{}, err
	}
	shown := u.Redacted()
	if o.Checksum != "" {
		if err := o.Checksum.Validate(); err != nil {
			return Result{}, errdefs.Newf(errdefs.ErrInvalidArgument, "checksum %q for %s: %v", o.Checksum, shown, err)
		}
	}
	tlsConf, err := tlsConfigOf(o.Client)
	if err != nil {
		return Result{}, err
	}
	maxSize, timeout := o.MaxSize, o.Timeout
	if maxSize <= 0 {
		maxSize = defaultMaxSize
	}
	if timeout <= 0 {
		timeout = defaultTimeout
	}

	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := newClient(guard, tlsConf)
	defer client.CloseIdleConnections()

	d := &downloader{url: u, shown: shown, maxSize: maxSize, checksum: o.Checksum}
	res, err := d.run(tctx, client, dir)
	if err != nil {
		return Result{}, d.explain(ctx, tctx, timeout, err)
	}
	return res, nil
}

// parseURL accepts absolute http and https URLs with a host.
func parseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid URL %q: %v", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "unsupported URL scheme %q in %s: only http and https can be downloaded", u.Scheme, u.Redacted())
	}
	if u.Host == "" {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "URL %s has no host", u.Redacted())
	}
	return u, nil
}

// tlsConfigOf takes the TLS settings of a caller's client. Anything else of
// it (transport, dialer, proxy, redirect policy) is ignored, so that the
// address check cannot be bypassed; a transport whose TLS settings cannot be
// read is refused rather than silently dropped.
func tlsConfigOf(c *http.Client) (*tls.Config, error) {
	if c == nil || c.Transport == nil {
		return nil, nil
	}
	t, ok := c.Transport.(*http.Transport)
	if !ok {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "fetch: Options.Client must use an *http.Transport (only its TLS settings are used), got %T", c.Transport)
	}
	return t.TLSClientConfig.Clone(), nil
}

// newClient builds the client of one download: no environment proxy, the
// guard in the dialer, byte-exact bodies, at most maxRedirects http(s)
// redirects.
func newClient(guard func(netip.AddrPort) error, tlsConf *tls.Config) *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if guard != nil {
		dialer.Control = dialControl(guard)
	}
	transport := &http.Transport{
		Proxy:                 nil, // environment proxies would bypass the dial-time check
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConf,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   30 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // the file is what the server sent, checksum and all
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
	}
	return &http.Client{Transport: transport, CheckRedirect: checkRedirect}
}

// redirectError reports a redirect chain that was cut.
type redirectError struct{ err error }

func (e *redirectError) Error() string { return e.err.Error() }
func (e *redirectError) Unwrap() error { return e.err }

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return &redirectError{errdefs.Newf(errdefs.ErrLimitExceeded, "too many redirects (more than %d)", maxRedirects)}
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return &redirectError{errdefs.Newf(errdefs.ErrInvalidArgument, "redirect to unsupported URL scheme %q", s)}
	}
	return nil
}

// downloader holds one download's settings; run does the transfer.
type downloader struct {
	url      *url.URL
	shown    string // the URL without its password, for messages
	maxSize  int64
	checksum digest.Digest
}

func (d *downloader) run(ctx context.Context, client *http.Client, dir string) (Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url.String(), nil)
	if err != nil {
		return Result{}, errdefs.Newf(errdefs.ErrInvalidArgument, "download of %s: %v", d.shown, err)
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return Result{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Result{}, statusError(d.shown, resp)
	}
	if resp.ContentLength > d.maxSize {
		return Result{}, d.tooLarge()
	}

	f, err := os.CreateTemp(dir, ".fetch-*")
	if err != nil {
		return Result{}, fmt.Errorf("download of %s: %w", d.shown, err)
	}
	res, err := d.save(f, resp)
	if err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return Result{}, err
	}
	return res, nil
}

// save copies the body into f, hashing it, and closes f.
func (d *downloader) save(f *os.File, resp *http.Response) (Result, error) {
	sha := sha256.New()
	w := io.MultiWriter(f, sha)
	var extra hash.Hash // the --checksum algorithm when it is not sha256
	if d.checksum != "" && d.checksum.Algorithm() != digest.SHA256 {
		extra = d.checksum.Algorithm().Hash()
		w = io.MultiWriter(f, sha, extra)
	}
	src := &readErrRecorder{r: io.LimitReader(resp.Body, d.maxSize+1)}
	n, err := io.CopyBuffer(w, src, make([]byte, copyBufSize))
	if err != nil {
		if src.err != nil {
			return Result{}, errdefs.Newf(errdefs.ErrUnavailable, "download of %s: reading the response: %v", d.shown, err)
		}
		return Result{}, fmt.Errorf("download of %s: %w", d.shown, err)
	}
	if n > d.maxSize {
		return Result{}, d.tooLarge()
	}
	sum := digest.NewDigest(digest.SHA256, sha)
	if d.checksum != "" {
		got := sum
		if extra != nil {
			got = digest.NewDigest(d.checksum.Algorithm(), extra)
		}
		if got != d.checksum {
			return Result{}, errdefs.Newf(errdefs.ErrCorrupt, "checksum mismatch for %s: expected %s, got %s", d.shown, d.checksum, got)
		}
	}
	modified, _ := http.ParseTime(resp.Header.Get("Last-Modified"))
	if !modified.IsZero() {
		if err := os.Chtimes(f.Name(), modified, modified); err != nil {
			return Result{}, fmt.Errorf("download of %s: %w", d.shown, err)
		}
	}
	if err := f.Close(); err != nil {
		return Result{}, fmt.Errorf("download of %s: %w", d.shown, err)
	}
	return Result{
		Path:     f.Name(),
		Name:     fileName(resp.Header.Get("Content-Disposition"), d.url),
		Modified: modified,
		Digest:   sum,
		Size:     n,
	}, nil
}

func (d *downloader) tooLarge() error {
	return errdefs.Newf(errdefs.ErrLimitExceeded, "download of %s exceeds the size limit of %d bytes", d.shown, d.maxSize)
}

// statusError classes a non-2xx response.
func statusError(shown string, resp *http.Response) error {
	class := errdefs.ErrUnavailable
	switch code := resp.StatusCode; {
	case code == http.StatusNotFound || code == http.StatusGone:
		class = errdefs.ErrNotFound
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		class = errdefs.ErrPermission
	case code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests:
		class = errdefs.ErrInvalidArgument
	}
	return errdefs.Newf(class, "download of %s: server answered %s", shown, resp.Status)
}

// explain turns a transfer error into the error Download returns: a refused
// private address, a timeout, a cut redirect chain, a cancellation, or a
// network failure, each naming the URL.
func (d *downloader) explain(parent, tctx context.Context, timeout time.Duration, err error) error {
	var pe *privateAddrError
	if errors.As(err, &pe) {
		where := ""
		var ue *url.Error
		if errors.As(err, &ue) && ue.URL != d.url.String() {
			if r, perr := url.Parse(ue.URL); perr == nil {
				where = " (redirected to " + r.Redacted() + ")"
			}
		}
		return errdefs.Newf(errdefs.ErrPermission, "ADD %s: refusing to download from private address %s%s (use --allow-private-network)", d.shown, pe.describe(), where)
	}
	if parent.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
		return errdefs.Newf(errdefs.ErrUnavailable, "download of %s timed out after %s", d.shown, timeout)
	}
	if perr := parent.Err(); perr != nil {
		return fmt.Errorf("download of %s: %w", d.shown, perr)
	}
	var re *redirectError
	if errors.As(err, &re) {
		return fmt.Errorf("download of %s: %w", d.shown, re.err)
	}
	// A failure inside the HTTP client is a network failure; everything else
	// (size limit, checksum, status, file system) is classed already.
	var ue *url.Error
	if errors.As(err, &ue) {
		return errdefs.Newf(errdefs.ErrUnavailable, "download of %s: %v", d.shown, ue.Err)
	}
	return err
}

// readErrRecorder remembers the error of its reader, so that a failed copy
// can tell the network's failures from the file system's.
type readErrRecorder struct {
	r   io.Reader
	err error
}

func (e *readErrRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}
