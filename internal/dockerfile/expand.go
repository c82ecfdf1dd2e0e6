package dockerfile

import (
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Env is a list of KEY=VALUE pairs in which a later pair wins. It is what
// variables expand from: the build args in scope, then the image's ENV.
type Env []string

// Get returns the value of the last pair named k.
func (e Env) Get(k string) (string, bool) {
	for i := len(e) - 1; i >= 0; i-- {
		if key, val, ok := strings.Cut(e[i], "="); ok && key == k {
			return val, true
		} else if !ok && e[i] == k {
			return "", true
		}
	}
	return "", false
}

// Keys returns the distinct names, first occurrence order.
func (e Env) Keys() []string {
	seen := make(map[string]bool, len(e))
	var out []string
	for _, kv := range e {
		k, _, _ := strings.Cut(kv, "=")
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// Expander expands variables with the Dockerfile's escape character.
type Expander struct {
	lex *shell.Lex
}

// NewExpander returns an expander for the file's escape token.
func NewExpander(escape rune) *Expander {
	return &Expander{lex: shell.NewLex(escape)}
}

// Word expands one word: ${VAR}, ${VAR:-default}, ${VAR:+alt}, ${VAR#pat}
// and the other forms BuildKit knows.
func (x *Expander) Word(word string, env Env) (string, error) {
	s, _, err := x.lex.ProcessWord(word, env)
	return s, err
}

// Raw expands variables in heredoc bodies (COPY <<EOF with an unquoted
// delimiter), keeping quotes and other characters as written.
func (x *Expander) Raw(cmd instructions.Command, env Env) error {
	ex, ok := cmd.(instructions.SupportsSingleWordExpansionRaw)
	if !ok {
		return nil
	}
	lex := shell.NewLex('\\')
	lex.SkipProcessQuotes = true
	return ex.ExpandRaw(func(w string) (string, error) {
		s, _, err := lex.ProcessWord(w, env)
		return s, err
	})
}

// Command expands the words of cmd in place, as Docker does for the
// instructions that support it (ENV, LABEL, COPY, ADD, WORKDIR, USER,
// VOLUME, EXPOSE, STOPSIGNAL, ARG, and RUN's --mount flags). Others are
// left alone: RUN and CMD text is expanded by the shell in the container.
func (x *Expander) Command(cmd instructions.Command, env Env) error {
	ex, ok := cmd.(instructions.SupportsSingleWordExpansion)
	if !ok {
		return nil
	}
	return ex.Expand(func(w string) (string, error) { return x.Word(w, env) })
}
