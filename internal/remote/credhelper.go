package remote

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Docker's credential helper protocol: docker-credential-<name> get|store|erase,
// the server URL or a JSON document on stdin, JSON on stdout.

// tokenUsername is the user name a helper stores an identity token under.
const tokenUsername = "<token>"

// helperNotFound is the message helpers print when they hold nothing.
const helperNotFound = "credentials not found"

type helperCreds struct {
	ServerURL string `json:"ServerURL"`
	Username  string `json:"Username"`
	Secret    string `json:"Secret"`
}

func runHelper(name, action string, input []byte) ([]byte, error) {
	if name == "" || strings.ContainsAny(name, `/\`) {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid credential helper name %q", name)
	}
	prog := "docker-credential-" + name
	cmd := exec.Command(prog, action)
	cmd.Stdin = bytes.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return nil, errdefs.Newf(errdefs.ErrUnavailable, "credential helper %s: %v", prog, err)
	}
	// Helpers print their errors on stdout.
	msg := strings.TrimSpace(stdout.String())
	if msg == "" {
		msg = strings.TrimSpace(stderr.String())
	}
	if strings.Contains(strings.ToLower(msg), helperNotFound) {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "credential helper %s: %s", prog, msg)
	}
	if msg == "" {
		msg = err.Error()
	}
	return nil, errdefs.Newf(errdefs.ErrUnavailable, "credential helper %s %s: %s", prog, action, msg)
}

func helperGet(name, server string) (Credentials, error) {
	out, err := runHelper(name, "get", []byte(server))
	if errdefs.IsNotFound(err) {
		return Credentials{}, nil
	}
	if err != nil {
		return Credentials{}, err
	}
	var hc helperCreds
	if err := json.Unmarshal(out, &hc); err != nil {
		return Credentials{}, errdefs.Newf(errdefs.ErrCorrupt, "credential helper docker-credential-%s: invalid answer: %v", name, err)
	}
	if hc.Username == tokenUsername {
		return Credentials{IdentityToken: hc.Secret}, nil
	}
	return Credentials{Username: hc.Username, Password: hc.Secret}, nil
}

func helperStore(name, server string, c Credentials) error {
	hc := helperCreds{ServerURL: server, Username: c.Username, Secret: c.Password}
	if c.IdentityToken != "" {
		hc.Username, hc.Secret = tokenUsername, c.IdentityToken
	}
	in, err := json.Marshal(hc)
	if err != nil {
		return err
	}
	_, err = runHelper(name, "store", in)
	return err
}

func helperErase(name, server string) error {
	_, err := runHelper(name, "erase", []byte(server))
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}
