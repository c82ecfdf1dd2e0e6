package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/strata-dev/strata/internal/errdefs"
)

// File is a parsed Dockerfile.
type File struct {
	Name     string                    // as shown in errors ("Dockerfile")
	Stages   []instructions.Stage      // in file order
	MetaArgs []instructions.ArgCommand // ARGs before the first FROM
	Escape   rune                      // the escape directive ('\\' or '`')
	Syntax   string                    // a "# syntax=" directive, ignored
	Warnings []string                  // parser warnings, file:line prefixed
	Lines    []string                  // the source, for error context
}

// Parse reads a Dockerfile. Every error is errdefs.ErrInvalidArgument and
// reads "name:line: reason".
func Parse(name string, src []byte) (*File, error) {
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "%s: the Dockerfile cannot be empty", name)
	}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, locate(name, err)
	}
	f := &File{Name: name, Escape: res.EscapeToken, Syntax: syntaxDirective(src), Lines: strings.Split(string(src), "\n")}
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil {
			line = w.Location.Start.Line
		}
		f.Warnings = append(f.Warnings, fmt.Sprintf("%s:%d: %s", name, line, w.Short))
	}
	if err := checkJSON(name, res.AST); err != nil {
		return nil, err
	}
	stages, meta, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, f.noFrom(res.AST, locate(name, err))
	}
	if len(stages) == 0 {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "%s: no FROM instruction: a Dockerfile must start with FROM (only ARG may come before it)", name)
	}
	f.Stages, f.MetaArgs = stages, meta
	return f, nil
}

// noFrom rewords BuildKit's "no build stage in current context" for an
// instruction that comes before any FROM.
func (f *File) noFrom(ast *parser.Node, err error) error {
	if !strings.Contains(err.Error(), "no build stage in current context") {
		return err
	}
	for _, n := range ast.Children {
		if strings.EqualFold(n.Value, "from") {
			break
		}
		if !strings.EqualFold(n.Value, "arg") {
			return errdefs.Newf(errdefs.ErrInvalidArgument, "%s:%d: %s before FROM: a Dockerfile must start with FROM (only ARG may come before it)", f.Name, n.StartLine, strings.ToUpper(n.Value))
		}
	}
	return err
}

// checkJSON refuses an exec-form argument list that is not valid JSON.
// BuildKit would run it as a shell command line, which is never what
// `CMD ["a", ` meant. A shell line that merely starts with "[" (a test
// such as `RUN [ -f x ]`) does not look like JSON and is left alone.
func checkJSON(name string, ast *parser.Node) error {
	for _, n := range ast.Children {
		switch strings.ToLower(n.Value) {
		case "run", "cmd", "entrypoint", "shell", "volume":
		default:
			continue
		}
		if n.Attributes["json"] || n.Next == nil {
			continue
		}
		rest := strings.TrimSpace(n.Next.Value)
		if strings.HasPrefix(rest, "[") && (strings.Contains(rest, `",`) || strings.HasSuffix(rest, `"]`) || strings.HasPrefix(rest, `["`)) {
			return errdefs.Newf(errdefs.ErrInvalidArgument, "%s:%d: %s: invalid JSON array %s: write it as [\"arg\", \"arg\"] or use the shell form", name, n.StartLine, strings.ToUpper(n.Value), rest)
		}
	}
	return nil
}

var syntaxRe = regexp.MustCompile(`(?i)^#\s*syntax\s*=\s*(\S+)`)

// syntaxDirective returns the value of a leading "# syntax=" line.
func syntaxDirective(src []byte) string {
	for _, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "#") {
			return ""
		}
		if m := syntaxRe.FindStringSubmatch(line); m != nil {
			return m[1]
		}
	}
	return ""
}

// locate turns a parser error into "name:line: reason".
func locate(name string, err error) error {
	line := Line(err)
	msg := cleanMessage(err)
	if line > 0 {
		return errdefs.Newf(errdefs.ErrInvalidArgument, "%s:%d: %s", name, line, msg)
	}
	return errdefs.Newf(errdefs.ErrInvalidArgument, "%s: %s", name, msg)
}

// Line returns the first source line an error from BuildKit's packages
// names, or 0.
func Line(err error) int {
	var le *parser.LocationError
	if errors.As(err, &le) {
		for _, locs := range le.Locations {
			for _, r := range locs {
				if r.Start.Line > 0 {
					return r.Start.Line
				}
			}
		}
	}
	return 0
}

// cleanMessage drops BuildKit's "dockerfile parse error on line N:" prefix,
// which the file:line prefix replaces.
func cleanMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "dockerfile parse error on line "); i >= 0 {
		rest := msg[i+len("dockerfile parse error on line "):]
		if j := strings.Index(rest, ": "); j >= 0 {
			msg = rest[j+2:]
		}
	}
	return msg
}

// ParseInstruction parses one instruction line, as an ONBUILD trigger.
func ParseInstruction(line string) (instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(line + "\n"))
	if err != nil {
		return nil, err
	}
	if len(res.AST.Children) != 1 {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "ONBUILD trigger %q is not one instruction", line)
	}
	cmd, err := instructions.ParseCommand(res.AST.Children[0])
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "ONBUILD trigger %q: %v", line, err)
	}
	return cmd, nil
}
