package network

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/strata-dev/strata/internal/errdefs"
)

// iptables drives one iptables command. strata uses the `iptables` the
// system selects (update-alternatives picks iptables-nft or iptables-legacy),
// as Docker does, so its rules sit in the same backend as the host's other
// rules; if that command is missing or cannot read the nat table, the other
// variant is tried.
type iptables struct {
	bin string
}

// iptablesCandidates is the order in which commands are tried.
var iptablesCandidates = []string{"iptables", "iptables-nft", "iptables-legacy"}

// findIPTables returns the first usable iptables command.
func findIPTables(ctx context.Context) (iptables, error) {
	var errs []error
	for _, name := range iptablesCandidates {
		bin, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		ipt := iptables{bin: bin}
		if _, err := ipt.run(ctx, "-t", "nat", "-S", "POSTROUTING"); err != nil {
			errs = append(errs, err)
			continue
		}
		return ipt, nil
	}
	err := errors.Join(errs...)
	if err == nil {
		err = errors.New("no iptables command found (install the iptables package)")
	}
	return iptables{}, errdefs.Classed(errdefs.ErrUnavailable, fmt.Errorf("bridge networking needs iptables: %w", err))
}

// variant reports "nf_tables" or "legacy" from `iptables --version`.
func (t iptables) variant(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, t.bin, "--version").Output()
	if err != nil {
		return ""
	}
	if s := string(out); strings.Contains(s, "nf_tables") {
		return "nf_tables"
	} else if strings.Contains(s, "legacy") {
		return "legacy"
	}
	return ""
}

// rule is one strata rule; spec excludes the comment match, which tags every
// rule with "strata:<bridge>".
type rule struct {
	table, chain string
	insert       bool // insert at the top (before a DROP policy's rules) instead of appending
	spec         []string
}

// natRules are the rules a bridge needs: masquerade what leaves the subnet
// through another interface, and let forwarded traffic in and out even when
// the FORWARD chain drops by default.
func natRules(bridge, subnet string) []rule {
	return []rule{
		{table: "nat", chain: "POSTROUTING", spec: []string{"-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"}},
		{table: "filter", chain: "FORWARD", insert: true, spec: []string{"-i", bridge, "-j", "ACCEPT"}},
		{table: "filter", chain: "FORWARD", insert: true, spec: []string{"-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"}},
	}
}

func (r rule) args(op, bridge string) []string {
	args := []string{"-t", r.table, op, r.chain}
	if op == "-I" {
		args = append(args, "1")
	}
	args = append(args, r.spec...)
	return append(args, "-m", "comment", "--comment", "strata:"+bridge)
}

// ensure adds each rule that is not there yet. Callers serialise through the
// bridge's pool lock, so check-then-add cannot race with another strata.
func (t iptables) ensure(ctx context.Context, bridge string, rules []rule) error {
	for _, r := range rules {
		ok, err := t.exists(ctx, r, bridge)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		op := "-A"
		if r.insert {
			op = "-I"
		}
		if _, err := t.run(ctx, r.args(op, bridge)...); err != nil {
			return err
		}
	}
	return nil
}

// remove deletes every copy of each rule; absent rules are fine.
func (t iptables) remove(ctx context.Context, bridge string, rules []rule) error {
	for _, r := range rules {
		for range 16 {
			ok, err := t.exists(ctx, r, bridge)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if _, err := t.run(ctx, r.args("-D", bridge)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// exists runs -C: exit status 1 means the rule is absent.
func (t iptables) exists(ctx context.Context, r rule, bridge string) (bool, error) {
	_, err := t.run(ctx, r.args("-C", bridge)...)
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return false, nil
	}
	return err == nil, err
}

// run executes iptables with -w (wait for the xtables lock).
func (t iptables) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, t.bin, append([]string{"-w"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, &iptablesError{args: args, stderr: strings.TrimSpace(stderr.String()), err: err}
	}
	return out, nil
}

type iptablesError struct {
	args   []string
	stderr string
	err    error
}

func (e *iptablesError) Error() string {
	return fmt.Sprintf("iptables %s: %v: %s", strings.Join(e.args, " "), e.err, e.stderr)
}

func (e *iptablesError) Unwrap() error { return e.err }

// ipForwardPath is the IPv4 forwarding switch.
const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

// enableIPForward turns IPv4 forwarding on unless it already is (writing the
// switch also resets per-interface settings, so it is written only if needed).
func enableIPForward() error {
	cur, err := os.ReadFile(ipForwardPath)
	if err != nil {
		return fmt.Errorf("read ip_forward: %w", err)
	}
	if strings.TrimSpace(string(cur)) == "1" {
		return nil
	}
	if err := os.WriteFile(ipForwardPath, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable ip_forward: %w", err)
	}
	return nil
}
