package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/format"
	"github.com/strata-dev/strata/internal/remote"
)

// defaultServer is the registry login and logout talk to without one.
const defaultServer = "docker.io"

func (c *cli) loginCommand() *cobra.Command {
	var user, password string
	var stdin bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Log in to a registry",
		Args:  rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := defaultServer
			if len(args) == 1 {
				server = args[0]
			}
			if stdin {
				if user == "" {
					return usageError{err: errors.New("must provide --username with --password-stdin"), cmd: cmd.CommandPath()}
				}
				b, err := io.ReadAll(io.LimitReader(c.stdin, 1<<20))
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(b), "\r\n")
			}
			if password != "" && !stdin {
				fmt.Fprintln(c.stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
			}
			if user == "" || password == "" {
				r := bufio.NewReader(c.stdin)
				if user == "" {
					fmt.Fprint(c.stdout, "Username: ")
					line, _ := r.ReadString('\n')
					user = strings.TrimSpace(line)
				}
				if password == "" {
					fmt.Fprint(c.stdout, "Password: ")
					line, _ := r.ReadString('\n')
					password = strings.TrimRight(line, "\r\n")
				}
			}
			if user == "" || password == "" {
				return errdefs.Newf(errdefs.ErrInvalidArgument, "username and password are required")
			}
			_, client, _, err := c.remote()
			if err != nil {
				return err
			}
			if err := client.Login(cmd.Context(), server, remote.Credentials{Username: user, Password: password}); err != nil {
				return err
			}
			fmt.Fprintln(c.stdout, "Login Succeeded")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&user, "username", "u", "", "Username")
	f.StringVarP(&password, "password", "p", "", "Password")
	f.BoolVar(&stdin, "password-stdin", false, "Take the password from stdin")
	return cmd
}

func (c *cli) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Args:  rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := defaultServer
			if len(args) == 1 {
				server = args[0]
			}
			store, err := remote.NewConfigFile("")
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "Removing login credentials for %s\n", server)
			if err := store.Erase(server); err != nil && !errdefs.IsNotFound(err) {
				return err
			}
			return nil
		},
	}
}

type searchRow struct {
	Name, Description string
	StarCount         int
	IsOfficial        bool
	IsAutomated       bool
}

func (c *cli) searchCommand() *cobra.Command {
	var filters []string
	var limit int
	var noTrunc bool
	var tmpl string
	cmd := &cobra.Command{
		Use:   "search [OPTIONS] TERM",
		Short: "Search registries for images",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 100 {
				return errdefs.Newf(errdefs.ErrInvalidArgument, "limit %d is outside the range of [1, 100]", limit)
			}
			keep, err := searchFilter(filters)
			if err != nil {
				return err
			}
			host, term := defaultServer, args[0]
			if i := strings.Index(term, "/"); i > 0 && strings.ContainsAny(term[:i], ".:") || strings.HasPrefix(term, "localhost/") {
				host, term = term[:i], term[i+1:]
			}
			_, client, _, err := c.remote()
			if err != nil {
				return err
			}
			results, err := client.Search(cmd.Context(), host, term, limit)
			if err != nil {
				return err
			}
			w, err := format.NewWriter(c.stdout, tmpl, "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}\t{{.IsAutomated}}",
				map[string]string{"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL", "IsAutomated": "AUTOMATED"})
			if err != nil {
				return err
			}
			for _, r := range results {
				row := searchRow{Name: r.Name, Description: r.Description, StarCount: r.StarCount, IsOfficial: r.IsOfficial, IsAutomated: r.IsAutomated}
				if !keep(row) {
					continue
				}
				if !noTrunc && len(row.Description) > 45 {
					row.Description = row.Description[:44] + "…"
				}
				if err := w.Write(searchView(row, tmpl == "")); err != nil {
					return err
				}
			}
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	f.IntVar(&limit, "limit", 25, "Max number of search results")
	f.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	f.StringVar(&tmpl, "format", "", "Pretty-print search using a Go template")
	return cmd
}

// searchView prints booleans as Docker's table does: "[OK]" or nothing.
func searchView(r searchRow, table bool) any {
	if !table {
		return r
	}
	ok := func(b bool) string {
		if b {
			return "[OK]"
		}
		return ""
	}
	return map[string]string{"Name": r.Name, "Description": r.Description, "StarCount": strconv.Itoa(r.StarCount),
		"IsOfficial": ok(r.IsOfficial), "IsAutomated": ok(r.IsAutomated)}
}

// searchFilter parses is-official=, is-automated= and stars=.
func searchFilter(filters []string) (func(searchRow) bool, error) {
	var checks []func(searchRow) bool
	for _, f := range filters {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "is-official", "is-automated":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid filter '%s=%s'", k, v)
			}
			if k == "is-official" {
				checks = append(checks, func(r searchRow) bool { return r.IsOfficial == b })
			} else {
				checks = append(checks, func(r searchRow) bool { return r.IsAutomated == b })
			}
		case "stars":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid filter 'stars=%s'", v)
			}
			checks = append(checks, func(r searchRow) bool { return r.StarCount >= n })
		default:
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "invalid filter '%s'", k)
		}
	}
	return func(r searchRow) bool {
		for _, c := range checks {
			if !c(r) {
				return false
			}
		}
		return true
	}, nil
}
