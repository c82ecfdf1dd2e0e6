package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/strata-dev/strata/internal/errdefs"
)

// errorCode is one row of the distribution-spec error table: the code a
// client sees and the HTTP status it travels with.
type errorCode struct {
	Code    string
	Status  int
	Message string
}

// The one table of registry error codes. Handlers return *apiError values
// built from these rows; writeError turns them into responses.
var (
	codeBlobUnknown         = errorCode{"BLOB_UNKNOWN", http.StatusNotFound, "blob unknown to registry"}
	codeBlobUploadInvalid   = errorCode{"BLOB_UPLOAD_INVALID", http.StatusBadRequest, "blob upload invalid"}
	codeBlobUploadUnknown   = errorCode{"BLOB_UPLOAD_UNKNOWN", http.StatusNotFound, "blob upload unknown to registry"}
	codeDigestInvalid       = errorCode{"DIGEST_INVALID", http.StatusBadRequest, "provided digest did not match uploaded content"}
	codeManifestBlobUnknown = errorCode{"MANIFEST_BLOB_UNKNOWN", http.StatusNotFound, "manifest references a manifest or blob unknown to registry"}
	codeManifestInvalid     = errorCode{"MANIFEST_INVALID", http.StatusBadRequest, "manifest invalid"}
	codeManifestUnknown     = errorCode{"MANIFEST_UNKNOWN", http.StatusNotFound, "manifest unknown to registry"}
	codeNameInvalid         = errorCode{"NAME_INVALID", http.StatusBadRequest, "invalid repository name"}
	codeNameUnknown         = errorCode{"NAME_UNKNOWN", http.StatusNotFound, "repository name not known to registry"}
	codeSizeInvalid         = errorCode{"SIZE_INVALID", http.StatusBadRequest, "provided length did not match content length"}
	codeManifestTooBig      = errorCode{"SIZE_INVALID", http.StatusRequestEntityTooLarge, "manifest too large"}
	codeUnauthorized        = errorCode{"UNAUTHORIZED", http.StatusUnauthorized, "authentication required"}
	codeDenied              = errorCode{"DENIED", http.StatusForbidden, "requested access to the resource is denied"}
	codeUnsupported         = errorCode{"UNSUPPORTED", http.StatusMethodNotAllowed, "the operation is unsupported"}
	codeNotFound            = errorCode{"UNSUPPORTED", http.StatusNotFound, "no such endpoint"}
	codeTooManyRequests     = errorCode{"TOOMANYREQUESTS", http.StatusTooManyRequests, "too many requests"}
	codeRangeInvalid        = errorCode{"REQUESTED_RANGE_NOT_SATISFIABLE", http.StatusRequestedRangeNotSatisfiable, "requested range not satisfiable"}
	codeUnavailable         = errorCode{"UNAVAILABLE", http.StatusServiceUnavailable, "storage unavailable"}
	codeInternal            = errorCode{"UNKNOWN", http.StatusInternalServerError, "internal error"}
)

// apiError is a registry error on its way to the client.
type apiError struct {
	code   errorCode
	msg    string // replaces code.Message when set
	detail any
	header http.Header // extra response headers (Range, WWW-Authenticate)
}

func (e *apiError) Error() string {
	if e.msg != "" {
		return e.code.Code + ": " + e.msg
	}
	return e.code.Code + ": " + e.code.Message
}

// newError builds an apiError with a formatted message.
func newError(code errorCode, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

func (e *apiError) withDetail(d any) *apiError { e.detail = d; return e }

func (e *apiError) withHeader(k, v string) *apiError {
	if e.header == nil {
		e.header = http.Header{}
	}
	e.header.Add(k, v)
	return e
}

// toAPIError classifies any error: apiErrors pass through, storage errors map
// by errdefs class, the rest become 500.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	switch {
	case errors.Is(err, errdefs.ErrUnavailable):
		return &apiError{code: codeUnavailable, msg: err.Error()}
	case errors.Is(err, errdefs.ErrLimitExceeded):
		return &apiError{code: codeTooManyRequests, msg: err.Error()}
	}
	return &apiError{code: codeInternal, msg: err.Error()}
}

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// writeError sends err as the spec's JSON error body.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	for k, vs := range ae.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	msg := ae.msg
	if msg == "" {
		msg = ae.code.Message
	}
	body, _ := json.Marshal(errorBody{Errors: []errorEntry{{Code: ae.code.Code, Message: msg, Detail: ae.detail}}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	if ae.code.Status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(ae.code.Status)
	if r.Method != http.MethodHead {
		// The status is sent; a failed write means the client went away
		// and there is no one left to tell.
		_, _ = w.Write(body)
	}
}
