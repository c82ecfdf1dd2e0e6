package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/strata-dev/strata/internal/errdefs"
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// errorInfo is one entry of a registry's {"errors": [...]} body.
type errorInfo struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}

// registryError is an error answer of a registry, classed by its first code
// (or, without a body, by its HTTP status).
type registryError struct {
	status int
	errs   []errorInfo
	class  error
}

// Error prints the first error as Docker does: "manifest unknown: manifest
// unknown", "unauthorized: authentication required".
func (e *registryError) Error() string {
	first := e.errs[0]
	text := strings.ToLower(strings.ReplaceAll(first.Code, "_", " "))
	msg := first.Message
	if msg == "" {
		msg = defaultMessages[first.Code]
	}
	switch {
	case text == "":
		return msg
	case msg == "":
		return text
	}
	return text + ": " + msg
}

func (e *registryError) Unwrap() error { return e.class }

// code returns the first error code.
func (e *registryError) code() string { return e.errs[0].Code }

// Registry error codes (distribution spec, plus Docker's TOOMANYREQUESTS).
const (
	codeBlobUnknown     = "BLOB_UNKNOWN"
	codeManifestUnknown = "MANIFEST_UNKNOWN"
	codeNameUnknown     = "NAME_UNKNOWN"
	codeUnauthorized    = "UNAUTHORIZED"
	codeDenied          = "DENIED"
	codeTooManyRequests = "TOOMANYREQUESTS"
)

var codeClasses = map[string]error{
	codeBlobUnknown:         errdefs.ErrNotFound,
	"BLOB_UPLOAD_UNKNOWN":   errdefs.ErrNotFound,
	codeManifestUnknown:     errdefs.ErrNotFound,
	"MANIFEST_BLOB_UNKNOWN": errdefs.ErrNotFound,
	codeNameUnknown:         errdefs.ErrNotFound,
	codeUnauthorized:        errdefs.ErrPermission,
	codeDenied:              errdefs.ErrPermission,
	codeTooManyRequests:     errdefs.ErrUnavailable,
	"BLOB_UPLOAD_INVALID":   errdefs.ErrInvalidArgument,
	"DIGEST_INVALID":        errdefs.ErrInvalidArgument,
	"MANIFEST_INVALID":      errdefs.ErrInvalidArgument,
	"MANIFEST_UNVERIFIED":   errdefs.ErrInvalidArgument,
	"NAME_INVALID":          errdefs.ErrInvalidArgument,
	"SIZE_INVALID":          errdefs.ErrInvalidArgument,
	"TAG_INVALID":           errdefs.ErrInvalidArgument,
	"RANGE_INVALID":         errdefs.ErrInvalidArgument,
	"UNSUPPORTED":           errdefs.ErrUnsupported,
}

// defaultMessages stand in for an empty message, as Docker's error
// descriptors do.
var defaultMessages = map[string]string{
	codeBlobUnknown:     "blob unknown to registry",
	codeManifestUnknown: "manifest unknown",
	codeNameUnknown:     "repository name not known to registry",
	codeUnauthorized:    "authentication required",
	codeDenied:          "requested access to the resource is denied",
	codeTooManyRequests: "too many requests",
}

// responseError turns a failed response into an error, reading (a bounded
// part of) its body. It does not close the body.
func responseError(resp *http.Response) error {
	e := &registryError{status: resp.StatusCode}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		if info, ok := challengeError(resp.Header); ok {
			e.errs = append(e.errs, info)
		}
	}
	var body struct {
		Errors []errorInfo `json:"errors"`
	}
	if resp.Body != nil && resp.Request != nil && resp.Request.Method != http.MethodHead {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if json.Unmarshal(b, &body) == nil {
			e.errs = append(e.errs, body.Errors...)
		}
	}
	if len(e.errs) == 0 {
		e.errs = []errorInfo{statusError(resp)}
	}
	e.class = classOf(e.errs[0].Code, resp.StatusCode)
	return e
}

// challengeError reads the RFC 6750 error of a Bearer challenge, as Docker
// does: insufficient_scope means DENIED, invalid_token UNAUTHORIZED.
func challengeError(h http.Header) (errorInfo, bool) {
	for _, ch := range parseChallenges(h.Values("WWW-Authenticate")) {
		if ch.scheme != "bearer" {
			continue
		}
		var info errorInfo
		switch ch.params["error"] {
		case "insufficient_scope":
			info.Code = codeDenied
		case "invalid_token":
			info.Code = codeUnauthorized
		default:
			continue
		}
		info.Message = ch.params["error_description"]
		return info, true
	}
	return errorInfo{}, false
}

// statusError describes an answer without an error body.
func statusError(resp *http.Response) errorInfo {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return errorInfo{Code: codeUnauthorized}
	case http.StatusForbidden:
		return errorInfo{Code: codeDenied}
	case http.StatusTooManyRequests:
		return errorInfo{Code: codeTooManyRequests}
	}
	where := ""
	if resp.Request != nil && resp.Request.URL != nil {
		u := resp.Request.URL
		// The query is left out: presigned URLs carry secrets there.
		where = fmt.Sprintf(" from %s %s://%s%s", resp.Request.Method, u.Scheme, u.Host, u.Path)
	}
	return errorInfo{Message: fmt.Sprintf("unexpected status %s%s", resp.Status, where)}
}

func classOf(code string, status int) error {
	if class, ok := codeClasses[code]; ok {
		return class
	}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return errdefs.ErrPermission
	case http.StatusNotFound:
		return errdefs.ErrNotFound
	case http.StatusBadRequest, http.StatusRequestedRangeNotSatisfiable:
		return errdefs.ErrInvalidArgument
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return errdefs.ErrUnsupported
	}
	return errdefs.ErrUnavailable
}

// errorCode returns the registry error code err carries, or "".
func errorCode(err error) string {
	var re *registryError
	if errors.As(err, &re) {
		return re.code()
	}
	return ""
}

// transportError is a request that got no answer: connection refused, TLS
// failure, reset.
type transportError struct{ err error }

func (e *transportError) Error() string   { return e.err.Error() }
func (e *transportError) Unwrap() []error { return []error{e.err, errdefs.ErrUnavailable} }

func isTransportError(err error) bool {
	var te *transportError
	return errors.As(err, &te)
}
