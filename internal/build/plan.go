package build

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-dev/strata/internal/dockerfile"
	"github.com/strata-dev/strata/internal/errdefs"
)

// plan is a parsed Dockerfile resolved against the build's args and
// target: which stages run and what each waits for.
type plan struct {
	f       *dockerfile.File
	meta    dockerfile.Env // the args declared before FROM, with values
	target  int
	order   []int // the stages the target needs, in file order
	deps    map[int][]int
	results map[int]*stageResult
	names   map[string]int // stage name -> index

	mu        sync.Mutex
	buildArgs map[string]string
	used      map[string]bool // build args something declared
}

type stageResult struct {
	done chan struct{}
	st   *state
	err  error
}

// wait blocks until the stage is built. A stage that failed reports
// context.Canceled: its own error is reported where it happened.
func (r *stageResult) wait(ctx context.Context) (*state, error) {
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, context.Canceled
	}
	return r.st, nil
}

// proxyArgs may be passed without an ARG; they reach RUN but stay out of
// the cache key and the history, as in Docker.
var proxyArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true,
	"ALL_PROXY": true, "all_proxy": true,
}

func newPlan(f *dockerfile.File, o Options) (*plan, error) {
	p := &plan{f: f, buildArgs: o.BuildArgs, used: map[string]bool{}, names: map[string]int{},
		deps: map[int][]int{}, results: map[int]*stageResult{}}
	x := dockerfile.NewExpander(f.Escape)
	p.meta = platformArgs()
	for _, a := range f.MetaArgs {
		for _, kv := range a.Args {
			val, ok, err := p.argValue(kv, p.meta, nil, x)
			if err != nil {
				return nil, err
			}
			if ok {
				p.meta = append(p.meta, kv.Key+"="+val)
			}
		}
	}
	for i, s := range f.Stages {
		if s.Name != "" {
			if _, dup := p.names[s.Name]; dup {
				return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "%s:%d: duplicate stage name %q", f.Name, line(s.Location), s.Name)
			}
			p.names[s.Name] = i
		}
	}
	p.target = len(f.Stages) - 1
	if o.Target != "" {
		i, ok := p.names[strings.ToLower(o.Target)]
		if !ok {
			return nil, errdefs.Newf(errdefs.ErrNotFound, "target stage %q could not be found", o.Target)
		}
		p.target = i
	}
	for i := range f.Stages {
		d, err := p.stageDeps(i, x)
		if err != nil {
			return nil, err
		}
		p.deps[i] = d
	}
	p.selectStages()
	return p, nil
}

// argValue is the value of an ARG: the --build-arg, else its default
// expanded with env, else the value of the global ARG of that name.
func (p *plan) argValue(kv instructions.KeyValuePairOptional, env, global dockerfile.Env, x *dockerfile.Expander) (string, bool, error) {
	p.mu.Lock()
	p.used[kv.Key] = true
	v, ok := p.buildArgs[kv.Key]
	p.mu.Unlock()
	if ok {
		return v, true, nil
	}
	if kv.Value != nil {
		s, err := x.Word(*kv.Value, env)
		return s, err == nil, err
	}
	if global != nil {
		if v, ok := global.Get(kv.Key); ok {
			return v, true, nil
		}
	}
	return "", false, nil
}

// stageDeps lists the stages stage i reads: its base and its --from.
func (p *plan) stageDeps(i int, x *dockerfile.Expander) ([]int, error) {
	s := p.f.Stages[i]
	var out []int
	add := func(name string) {
		if j, ok := p.stageRef(name, i); ok {
			out = append(out, j)
		}
	}
	base, err := x.Word(s.BaseName, p.meta)
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "%s:%d: %v", p.f.Name, line(s.Location), err)
	}
	add(base)
	for _, c := range s.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			if c.From != "" {
				from, _ := x.Word(c.From, p.meta)
				add(from)
			}
		case *instructions.RunCommand:
			if err := c.Expand(func(w string) (string, error) { return x.Word(w, p.meta) }); err != nil {
				return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "%s:%d: %v", p.f.Name, line(c.Location()), err)
			}
			for _, m := range instructions.GetMounts(c) {
				if m.From != "" {
					add(m.From)
				}
			}
		}
	}
	return out, nil
}

// stageRef resolves a FROM or --from name to an earlier stage: by name,
// or (--from only, but harmless for FROM) by index.
func (p *plan) stageRef(name string, before int) (int, bool) {
	if j, ok := p.names[strings.ToLower(name)]; ok && j < before {
		return j, true
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < before {
		return n, true
	}
	return 0, false
}

// selectStages keeps the target and what it needs, transitively.
func (p *plan) selectStages() {
	need := map[int]bool{}
	var visit func(int)
	visit = func(i int) {
		if need[i] {
			return
		}
		need[i] = true
		for _, d := range p.deps[i] {
			visit(d)
		}
	}
	visit(p.target)
	for i := range p.f.Stages {
		if need[i] {
			p.order = append(p.order, i)
			p.results[i] = &stageResult{done: make(chan struct{})}
		}
	}
}

// unusedArgs are the --build-arg names no ARG of a built stage declared.
func (p *plan) unusedArgs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for k := range p.buildArgs {
		if !p.used[k] && !proxyArgs[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// stageLabel names stage i in progress lines: "[name 2/5]" when the file
// has several stages, "[2/5]" otherwise.
func (p *plan) stageLabel(i, step, total int) string {
	if len(p.f.Stages) == 1 {
		return fmt.Sprintf("[%d/%d]", step, total)
	}
	name := p.f.Stages[i].Name
	if name == "" {
		name = "stage-" + strconv.Itoa(i)
	}
	return fmt.Sprintf("[%s %d/%d]", name, step, total)
}

// platformArgs are BuildKit's automatic platform args.
func platformArgs() dockerfile.Env {
	plat := hostPlatform()
	arch := runtime.GOARCH
	variant := ""
	if parts := strings.Split(plat, "/"); len(parts) == 3 {
		variant = parts[2]
	}
	var env dockerfile.Env
	for _, prefix := range []string{"BUILD", "TARGET"} {
		env = append(env, prefix+"PLATFORM="+plat, prefix+"OS=linux", prefix+"ARCH="+arch, prefix+"VARIANT="+variant)
	}
	return env
}

// hostPlatform is os/arch[/variant] of this machine.
func hostPlatform() string {
	if runtime.GOARCH == "arm64" {
		return "linux/arm64/v8"
	}
	if runtime.GOARCH == "arm" {
		return "linux/arm/v7"
	}
	return "linux/" + runtime.GOARCH
}
