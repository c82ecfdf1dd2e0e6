package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/registry"
	"github.com/strata-dev/strata/internal/registry/storage"
)

// registryFlags are the settings `registry serve` and `registry gc` take
// on the command line; they override the --config file's.
type registryFlags struct {
	config, addr, root, htpasswd, tlsCert, tlsKey string
	s3                                            storage.S3Config
	quiet                                         bool
}

func (f *registryFlags) storageFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "YAML configuration file (flags override it)")
	fl.StringVar(&f.root, "root", "", "store everything under this directory (the local content-store layout)")
	fl.StringVar(&f.s3.Endpoint, "s3-endpoint", "", "S3 endpoint URL (instead of --root)")
	fl.StringVar(&f.s3.Bucket, "s3-bucket", "", "S3 bucket")
	fl.StringVar(&f.s3.Region, "s3-region", "", "S3 region")
	fl.StringVar(&f.s3.Prefix, "s3-prefix", "", "key prefix inside the bucket")
	fl.BoolVar(&f.s3.PathStyle, "s3-path-style", true, "path-style bucket addressing")
}

func (c *cli) registryCommand() *cobra.Command {
	reg := group("registry", "Run strata's own image registry")
	var f registryFlags
	serve := &cobra.Command{
		Use:   "serve [OPTIONS]",
		Short: "Serve the OCI distribution API (a private registry)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.load(cmd)
			if err != nil {
				return err
			}
			if !f.quiet {
				cfg.Logger = slog.New(slog.NewJSONHandler(c.stderr, nil))
			}
			srv, err := registry.New(cfg)
			if err != nil {
				return err
			}
			l, err := net.Listen("tcp", cfg.Addr)
			if err != nil {
				return errdefs.Newf(errdefs.ErrUnavailable, "listen on %s: %v", cfg.Addr, err)
			}
			fmt.Fprintf(c.stderr, "strata registry listening on %s\n", l.Addr())
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return srv.Serve(ctx, l)
		},
	}
	f.storageFlags(serve)
	fl := serve.Flags()
	fl.StringVar(&f.addr, "addr", ":5000", "listen address")
	fl.StringVar(&f.htpasswd, "htpasswd", "", "htpasswd file (bcrypt): every user in it may pull, push and delete")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate (PEM)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "TLS key (PEM)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no access log")

	var gf registryFlags
	var dryRun bool
	gc := &cobra.Command{
		Use:   "gc [OPTIONS]",
		Short: "Delete the blobs no manifest references (safe while the registry serves)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := gf.load(cmd)
			if err != nil {
				return err
			}
			srv, err := registry.New(cfg)
			if err != nil {
				return err
			}
			rep, err := srv.GC(cmd.Context(), dryRun)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "%+v\n", rep)
			return nil
		},
	}
	gf.storageFlags(gc)
	gc.Flags().BoolVar(&dryRun, "dry-run", false, "only report what would be deleted")
	reg.AddCommand(serve, gc)
	return reg
}

// load builds the server config: the file's, then the flags over it.
func (f *registryFlags) load(cmd *cobra.Command) (registry.Config, error) {
	var fc registry.FileConfig
	if f.config != "" {
		var err error
		if fc, err = registry.LoadConfig(f.config); err != nil {
			return registry.Config{}, err
		}
	}
	cfg := fc.Config
	changed := cmd.Flags().Changed
	if changed("addr") || cfg.Addr == "" {
		cfg.Addr = f.addr
	}
	if f.htpasswd != "" {
		cfg.Htpasswd = f.htpasswd
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return registry.Config{}, errdefs.Newf(errdefs.ErrInvalidArgument, "registry tls: --tls-cert and --tls-key must be given together (cert and key)")
	}
	if f.tlsCert != "" {
		cfg.TLSCert, cfg.TLSKey = f.tlsCert, f.tlsKey
	}
	driver, err := f.driver(cmd.Context(), fc.Storage)
	if err != nil {
		return registry.Config{}, err
	}
	cfg.Storage = driver
	return cfg, nil
}

// driver opens the storage the flags (else the file) name.
func (f *registryFlags) driver(ctx context.Context, sc registry.StorageConfig) (storage.Driver, error) {
	switch {
	case f.root != "":
		return storage.NewFilesystem(f.root)
	case f.s3.Bucket != "" || f.s3.Endpoint != "":
		return storage.NewS3(ctx, f.s3)
	case sc.Filesystem != nil:
		return storage.NewFilesystem(sc.Filesystem.Root)
	case sc.S3 != nil:
		return storage.NewS3(ctx, storage.S3Config{Endpoint: sc.S3.Endpoint, Bucket: sc.S3.Bucket, Region: sc.S3.Region,
			Prefix: sc.S3.Prefix, PathStyle: sc.S3.PathStyle, AccessKey: sc.S3.AccessKey, SecretKey: sc.S3.SecretKey})
	}
	return storage.NewFilesystem("/var/lib/registry")
}
