package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/engine"
)

// cli holds the global flags and the lazily opened engine.
type cli struct {
	root       string
	driver     string
	runtime    string
	layerLimit sizeValue
	eng        *engine.Engine
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
}

func newCLI() *cli {
	return &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
}

// engine opens the store on first use: `strata version` never touches it.
func (c *cli) engine() (*engine.Engine, error) {
	if c.eng != nil {
		return c.eng, nil
	}
	opts := engine.Options{Root: c.root, LayerLimit: c.layerLimit.n, Driver: c.driver, Runtime: c.runtime}
	if limit := os.Getenv("STRATA_LAYER_SIZE_LIMIT"); limit != "" && c.layerLimit.text == "" {
		n, err := engine.ParseSize(limit)
		if err != nil {
			return nil, fmt.Errorf("STRATA_LAYER_SIZE_LIMIT: %w", err)
		}
		opts.LayerLimit = n
	}
	e, err := engine.Open(opts)
	if err != nil {
		return nil, err
	}
	c.eng = e
	return e, nil
}

// sizeValue is a byte-count flag ("10MiB"), checked as the flag is parsed
// so that a bad value is a command-line mistake (exit 125).
type sizeValue struct {
	text string
	n    int64
}

func (v *sizeValue) String() string { return v.text }
func (v *sizeValue) Type() string   { return "size" }

func (v *sizeValue) Set(s string) error {
	n, err := engine.ParseSize(s)
	if err != nil {
		return err
	}
	v.text, v.n = s, n
	return nil
}

func (c *cli) close() {
	if c.eng != nil {
		_ = c.eng.Close() // every write is committed by now; nothing to report
	}
}

func (c *cli) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "strata [OPTIONS] COMMAND",
		Short:         "A daemonless, Docker-compatible container image tool",
		SilenceUsage:  true,
		SilenceErrors: true,
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
	}
	root.PersistentFlags().StringVar(&c.root, "root", "", "state directory (default $STRATA_ROOT, /var/lib/strata as root, else $XDG_DATA_HOME/strata)")
	root.PersistentFlags().StringVar(&c.driver, "storage-driver", "", "storage driver: overlay or vfs (default: the root's, else overlay where the kernel supports it)")
	root.PersistentFlags().StringVar(&c.runtime, "runtime", "", "OCI runtime binary (default runc, else crun)")
	root.PersistentFlags().Var(&c.layerLimit, "layer-size-limit", "largest uncompressed layer accepted by load and import (default $STRATA_LAYER_SIZE_LIMIT or 64GiB)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{err: err, cmd: cmd.CommandPath()} })
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)

	image := group("image", "Manage images")
	image.AddCommand(c.imagesCommand("ls", "list"), c.tagCommand(), c.rmiCommand("rm", "remove"),
		c.pruneCommand(), c.historyCommand(), c.imageInspectCommand(), c.saveCommand(),
		c.loadCommand(), c.importCommand(), c.buildCommand(), c.pullCommand(), c.pushCommand())
	builder := group("builder", "Manage builds")
	builder.AddCommand(c.builderPruneCommand())
	system := group("system", "Manage strata")
	system.AddCommand(c.dfCommand(), c.infoCommand(), c.checkCommand())

	root.AddCommand(image, system, builder, c.buildCommand(),
		c.pullCommand(), c.pushCommand(), c.loginCommand(), c.logoutCommand(), c.searchCommand(), c.registryCommand(), c.manifestCommand(),
		c.imagesCommand("images"), c.tagCommand(), c.rmiCommand("rmi"), c.historyCommand(),
		c.inspectCommand(), c.saveCommand(), c.loadCommand(), c.importCommand(),
		c.infoCommand(), c.versionCommand())
	c.addContainerCommands(root)
	hideFlagsInUseLine(root)
	return root
}

// hideFlagsInUseLine drops cobra's " [flags]" from usage lines: like
// Docker's, each Use already says [OPTIONS] where a command takes any.
func hideFlagsInUseLine(cmd *cobra.Command) {
	cmd.DisableFlagsInUseLine = true
	for _, sub := range cmd.Commands() {
		hideFlagsInUseLine(sub)
	}
}

// group is a command that only holds subcommands: alone it prints its
// help; with an unknown subcommand it fails as `strata foo` does.
func group(use, short string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() }}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

// exactArgs, minArgs and rangeArgs give Docker's wording for argument errors.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return argError(cmd, fmt.Sprintf("exactly %d argument%s", n, plural(n)))
		}
		return nil
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return argError(cmd, fmt.Sprintf("at least %d argument%s", n, plural(n)))
		}
		return nil
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return argError(cmd, fmt.Sprintf("at least %d and at most %d arguments", lo, hi))
		}
		return nil
	}
}

func argError(cmd *cobra.Command, want string) error {
	return statusError{code: 1, msg: fmt.Sprintf("%q requires %s.\nSee '%s --help'.\n\nUsage:  %s\n\n%s",
		cmd.CommandPath(), want, cmd.CommandPath(), cmd.UseLine(), cmd.Short)}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
