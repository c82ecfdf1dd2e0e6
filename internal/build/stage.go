package build

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/strata-dev/strata/internal/dockerfile"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/imagestore"
	"github.com/strata-dev/strata/internal/progress"
)

// stageRun is one stage being built.
type stageRun struct {
	b      *Builder
	p      *plan
	o      *Options
	c      *cache
	x      *dockerfile.Expander
	idx    int
	st     *state
	args   dockerfile.Env // ARGs declared in this stage, with values
	step   int
	total  int
	missed bool // a step of this stage ran (so every later one misses)
	cmdSet bool // this stage has a CMD (an ENTRYPOINT then keeps it)
}

// runStage builds stage i once the stages it reads are done.
func (b *Builder) runStage(ctx context.Context, p *plan, i int, c *cache, o Options) (*state, error) {
	for _, d := range p.deps[i] {
		if _, err := p.results[d].wait(ctx); err != nil {
			return nil, err
		}
	}
	s := &stageRun{b: b, p: p, o: &o, c: c, x: dockerfile.NewExpander(p.f.Escape), idx: i}
	stage := p.f.Stages[i]
	s.total = len(stage.Commands) + 1
	if err := s.from(ctx, stage); err != nil {
		return nil, s.located(stage.Location, stage.SourceCode, err)
	}
	cmds, err := s.triggers()
	if err != nil {
		return nil, s.located(stage.Location, stage.SourceCode, err)
	}
	s.total += len(cmds)
	for _, cmd := range append(cmds, stage.Commands...) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.dispatch(ctx, cmd); err != nil {
			return nil, s.located(cmd.Location(), cmdText(cmd), err)
		}
	}
	return s.st, nil
}

// located prefixes err with the Dockerfile line and instruction.
func (s *stageRun) located(loc []parser.Range, text string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	if n := line(loc); n > 0 {
		return fmt.Errorf("%s:%d: %s: %w", s.p.f.Name, n, text, err)
	}
	return fmt.Errorf("%s: %w", text, err)
}

func line(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

// env is what variables expand from in this stage: its ARGs, then ENV.
func (s *stageRun) env() dockerfile.Env {
	out := append(dockerfile.Env{}, s.args...)
	return append(out, s.st.Config.Config.Env...)
}

// label is the progress name of the next step.
func (s *stageRun) label(text string) string {
	s.step++
	return s.p.stageLabel(s.idx, s.step, s.total) + " " + text
}

// triggers returns the base image's ONBUILD instructions, parsed; they run
// first, and the new image does not inherit them.
func (s *stageRun) triggers() ([]instructions.Command, error) {
	trig := s.st.Config.Config.OnBuild
	if len(trig) == 0 {
		return nil, nil
	}
	s.st = s.st.clone()
	s.st.Config.Config.OnBuild = nil
	var out []instructions.Command
	for _, t := range trig {
		cmd, err := dockerfile.ParseInstruction(t)
		if err != nil {
			return nil, err
		}
		switch strings.ToUpper(cmd.Name()) {
		case "ONBUILD", "FROM", "MAINTAINER":
			return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "ONBUILD trigger %q: %s is not allowed as a trigger", t, cmd.Name())
		}
		out = append(out, cmd)
	}
	return out, nil
}

// dispatch runs one instruction.
func (s *stageRun) dispatch(ctx context.Context, cmd instructions.Command) error {
	if a, ok := cmd.(*instructions.ArgCommand); ok {
		return s.arg(ctx, a)
	}
	// Expands RUN's --mount values too; RUN's command is the shell's.
	if err := s.x.Command(cmd, s.env()); err != nil {
		return errdefs.Classed(errdefs.ErrInvalidArgument, err)
	}
	if err := s.x.Raw(cmd, s.env()); err != nil {
		return errdefs.Classed(errdefs.ErrInvalidArgument, err)
	}
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		return s.run(ctx, c)
	case *instructions.CopyCommand:
		return s.copy(ctx, c)
	case *instructions.AddCommand:
		return s.add(ctx, c)
	case *instructions.WorkdirCommand:
		return s.workdir(ctx, c)
	}
	text, apply, err := s.configChange(cmd)
	if err != nil {
		return err
	}
	return s.exec(ctx, cmdText(cmd), inputs{Step: text}, func(ctx context.Context, st *state, v *progress.Vertex) (*imagestore.Layer, error) {
		if err := apply(&st.Config); err != nil {
			return nil, err
		}
		st.addHistory(st.nop(text), nil, now())
		return nil, nil
	})
}

// arg declares build args in this stage. Like Docker's classic builder it
// records a history entry with the instruction's text; the values reach
// the cache key through the RUN steps that see them, not here.
func (s *stageRun) arg(ctx context.Context, a *instructions.ArgCommand) error {
	var parts []string
	for _, kv := range a.Args {
		val, ok, err := s.p.argValue(kv, s.env(), s.p.meta, s.x)
		if err != nil {
			return errdefs.Classed(errdefs.ErrInvalidArgument, err)
		}
		if ok {
			s.args = append(s.args, kv.Key+"="+val)
		}
		part := kv.Key
		if kv.Value != nil { // the declared default, as Docker shows it
			def, err := s.x.Word(*kv.Value, s.env())
			if err != nil {
				return errdefs.Classed(errdefs.ErrInvalidArgument, err)
			}
			part += "=" + def
		}
		parts = append(parts, part)
	}
	text := "ARG " + strings.Join(parts, " ")
	return s.exec(ctx, cmdText(a), inputs{Step: text}, func(ctx context.Context, st *state, v *progress.Vertex) (*imagestore.Layer, error) {
		st.addHistory(st.nop(text), nil, now())
		return nil, nil
	})
}

// exec runs one step through the cache: a hit takes the recorded state,
// a miss runs do on a copy of the state and records what it made.
func (s *stageRun) exec(ctx context.Context, name string, in inputs, do func(context.Context, *state, *progress.Vertex) (*imagestore.Layer, error)) error {
	in.Parent = s.st.key
	v := s.o.Display.Vertex(s.label(name))
	st, hit, err := s.c.lookup(ctx, in)
	if err != nil {
		v.Done(err)
		return err
	}
	if hit {
		s.st = st
		v.Cached()
		return nil
	}
	if s.o.ExplainCache {
		v.Status("cache miss: " + s.c.explain(ctx, in, s.missed))
	}
	next := s.st.clone()
	layer, err := do(ctx, next, v)
	if err == nil {
		var size int64
		if layer != nil {
			size = layer.Size
		}
		err = s.recordStep(ctx, in, next, size)
	}
	v.Done(err)
	if err != nil {
		return err
	}
	s.st, s.missed = next, true
	return nil
}

// recordStep stores the step in the cache, under the lease that keeps its
// new blob from garbage collection until the entry references it.
func (s *stageRun) recordStep(ctx context.Context, in inputs, st *state, size int64) error {
	release, err := s.b.Images.Lease()
	if err != nil {
		return err
	}
	defer release()
	return s.c.record(ctx, in, st, size)
}

// configChange returns the history text of a metadata-only instruction
// and the change it makes to the image config.
func (s *stageRun) configChange(cmd instructions.Command) (string, func(*image.Config) error, error) {
	switch c := cmd.(type) {
	case *instructions.EnvCommand:
		return envChange(c)
	case *instructions.LabelCommand:
		return labelChange(c)
	case *instructions.MaintainerCommand:
		return "MAINTAINER " + c.Maintainer, func(cfg *image.Config) error { cfg.Author = c.Maintainer; return nil }, nil
	case *instructions.UserCommand:
		return "USER " + c.User, func(cfg *image.Config) error { cfg.Config.User = c.User; return nil }, nil
	case *instructions.ExposeCommand:
		return exposeChange(c)
	case *instructions.VolumeCommand:
		return volumeChange(c)
	case *instructions.StopSignalCommand:
		return "STOPSIGNAL " + c.Signal, func(cfg *image.Config) error { cfg.Config.StopSignal = c.Signal; return nil }, nil
	case *instructions.CmdCommand:
		s.cmdSet = true
		return cmdChange(s.st, c)
	case *instructions.EntrypointCommand:
		return entrypointChange(s.st, c, s.cmdSet)
	case *instructions.ShellCommand:
		return shellChange(c)
	case *instructions.HealthCheckCommand:
		return healthChange(c)
	case *instructions.OnbuildCommand:
		return "ONBUILD " + c.Expression, func(cfg *image.Config) error {
			cfg.Config.OnBuild = append(cfg.Config.OnBuild, c.Expression)
			return nil
		}, nil
	}
	return "", nil, errdefs.Newf(errdefs.ErrUnsupported, "instruction %s is not supported", cmd.Name())
}

// cmdText is the instruction as written in the Dockerfile.
func cmdText(cmd instructions.Command) string {
	if s, ok := cmd.(fmt.Stringer); ok {
		return s.String()
	}
	return cmd.Name()
}
