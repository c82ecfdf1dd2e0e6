package remote

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Login checks creds against host's /v2/ (following a Basic or Bearer
// challenge) and stores them in the client's AuthStore. host is a registry
// name ("docker.io", "" too, or "myreg:5000"); Docker Hub is checked on
// registry-1.docker.io. When the token server hands out a refresh token, it
// is stored as the identity token in place of the password, as Docker does.
// Wrong credentials give ErrPermission.
func (c *Client) Login(ctx context.Context, host string, creds Credentials) error {
	host = normalizeHost(host)
	ep, err := c.registryEndpoint(ctx, host)
	if err != nil {
		return err
	}
	ping := &request{method: http.MethodGet, path: "/v2/", noAuth: true, retry: true}
	resp, err := c.do(ctx, ep, ping)
	if err != nil {
		return err
	}
	discard(resp)
	switch resp.StatusCode {
	case http.StatusOK:
		// The registry asks for no credentials: nothing to check.
	case http.StatusUnauthorized:
		if !credentialsAllowed(resp.Request.URL) {
			return errdefs.Newf(errdefs.ErrInvalidArgument, "refusing to send credentials to %s over plain HTTP", ep.hs.name)
		}
		ch := pickChallenge(parseChallenges(resp.Header.Values("WWW-Authenticate")))
		if ch == nil {
			return errdefs.Newf(errdefs.ErrUnsupported, "registry %s asks for an authentication scheme strata does not speak: %q",
				ep.hs.name, resp.Header.Get("WWW-Authenticate"))
		}
		if creds, err = c.checkLogin(ctx, ep, ch, creds); err != nil {
			return err
		}
		ep.hs.setChallenge(ch)
	default:
		return fmt.Errorf("login to %s: %w", host, responseError(resp))
	}
	c.forget(host, ep.hs.name)
	if c.auth == nil {
		return nil
	}
	return c.auth.Store(host, creds)
}

// checkLogin proves creds against ch and returns what to store.
func (c *Client) checkLogin(ctx context.Context, ep *endpoint, ch *challenge, creds Credentials) (Credentials, error) {
	header := http.Header{}
	if ch.scheme == "basic" {
		header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(creds.Username+":"+creds.Password)))
	} else {
		realm, err := parseRealm(ch.params["realm"])
		if err != nil {
			return creds, err
		}
		if !credentialsAllowed(realm) {
			return creds, errdefs.Newf(errdefs.ErrInvalidArgument, "refusing to send credentials to token server %s over plain HTTP", realm.Host)
		}
		tr, err := c.fetchToken(ctx, realm, ch.params["service"], nil, creds, true)
		if err != nil {
			return creds, fmt.Errorf("login to %s: %w", ep.credHost, err)
		}
		if tr.RefreshToken != "" {
			creds.IdentityToken, creds.Password = tr.RefreshToken, ""
		}
		header.Set("Authorization", "Bearer "+tr.token())
	}
	resp, err := c.do(ctx, ep, &request{method: http.MethodGet, path: "/v2/", header: header, noAuth: true, retry: true})
	if err != nil {
		return creds, err
	}
	defer discard(resp)
	if resp.StatusCode != http.StatusOK {
		return creds, fmt.Errorf("login to %s: %w", ep.credHost, responseError(resp))
	}
	return creds, nil
}
