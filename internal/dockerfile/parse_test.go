package dockerfile

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-dev/strata/internal/errdefs"
)

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ src, want string }{
		{"FROM busybox\nFOO bar\n", "Dockerfile:2: unknown instruction: FOO"},
		{"FROM busybox\nRUN <<EOF\necho hi\n", "Dockerfile:2: unterminated heredoc"},
		{"RUN echo\nFROM x\n", "Dockerfile:1: RUN before FROM"},
		{"ARG X=1\n", "Dockerfile: no FROM instruction"},
		{"\n\n  \n", "Dockerfile: the Dockerfile cannot be empty"},
		{"FROM busybox\nCMD [\"a\", \n", "Dockerfile:2: CMD: invalid JSON array"},
		{"FROM busybox\nENTRYPOINT [\"a\" \"b\"]\n", "Dockerfile:2: ENTRYPOINT: invalid JSON array"},
		{"FROM a AS 1x\n", "Dockerfile:1: invalid name for build stage"},
		{"FROM busybox\nCOPY\n", "Dockerfile:2: COPY requires at least two arguments"},
	} {
		_, err := Parse("Dockerfile", []byte(tc.src))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want prefix %q", tc.src, err, tc.want)
			continue
		}
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("Parse(%q): error %v is not InvalidArgument", tc.src, err)
		}
	}
}

func TestParseStages(t *testing.T) {
	t.Parallel()
	src := "# syntax=docker/dockerfile:1\nARG BASE=busybox\nFROM $BASE AS build\nRUN [ -f /x ] || echo no\nCMD [\"a\", \"b\"]\nFROM scratch\nCOPY --from=build /bin /bin\n"
	f, err := Parse("Dockerfile", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if f.Syntax != "docker/dockerfile:1" || len(f.Stages) != 2 || len(f.MetaArgs) != 1 {
		t.Fatalf("syntax=%q stages=%d meta=%d", f.Syntax, len(f.Stages), len(f.MetaArgs))
	}
	if f.Stages[0].Name != "build" || len(f.Stages[0].Commands) != 2 {
		t.Fatalf("stage 0 = %+v", f.Stages[0])
	}
	run := f.Stages[0].Commands[0].(*instructions.RunCommand)
	if !run.PrependShell || run.CmdLine[0] != "[ -f /x ] || echo no" {
		t.Fatalf("RUN starting with [ must stay shell form: %+v", run.ShellDependantCmdLine)
	}
	cp := f.Stages[1].Commands[0].(*instructions.CopyCommand)
	if cp.From != "build" || cp.DestPath != "/bin" {
		t.Fatalf("COPY = %+v", cp)
	}
}

func TestEscapeDirective(t *testing.T) {
	t.Parallel()
	f, err := Parse("Dockerfile", []byte("# escape=`\nFROM busybox\nRUN echo a `\n  b\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Escape != '`' {
		t.Fatalf("escape = %q", f.Escape)
	}
	run := f.Stages[0].Commands[0].(*instructions.RunCommand)
	if got := strings.Join(run.CmdLine, " "); !strings.Contains(got, "echo a") || !strings.Contains(got, "b") {
		t.Fatalf("continuation with backtick: %q", got)
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	x := NewExpander('\\')
	env := Env{"A=1", "EMPTY=", "A=2", "P=/usr/bin:/bin"}
	for word, want := range map[string]string{
		"$A":               "2",
		"${A}x":            "2x",
		"${UNSET:-def}":    "def",
		"${EMPTY:-def}":    "def",
		"${EMPTY-def}":     "",
		"${A:+alt}":        "alt",
		"${UNSET:+alt}":    "",
		"${P#/usr}":        "/bin:/bin",
		"${P%%:*}":         "/usr/bin",
		"'$A'":             "$A",
		"\\$A":             "$A",
		"pre-${A}-${A:-z}": "pre-2-2",
	} {
		got, err := x.Word(word, env)
		if err != nil || got != want {
			t.Errorf("Word(%q) = %q, %v; want %q", word, got, err, want)
		}
	}
	if keys := env.Keys(); strings.Join(keys, ",") != "A,EMPTY,P" {
		t.Errorf("Keys = %v", keys)
	}
}

func TestExpandCommand(t *testing.T) {
	t.Parallel()
	f, err := Parse("Dockerfile", []byte("FROM x\nENV DIR=/app\nWORKDIR ${DIR}/src\nCOPY $SRC ${DIR}/\n"))
	if err != nil {
		t.Fatal(err)
	}
	x := NewExpander(f.Escape)
	env := Env{"DIR=/srv", "SRC=main.go"}
	wd := f.Stages[0].Commands[1].(*instructions.WorkdirCommand)
	if err := x.Command(wd, env); err != nil || wd.Path != "/srv/src" {
		t.Fatalf("WORKDIR = %q, %v", wd.Path, err)
	}
	cp := f.Stages[0].Commands[2].(*instructions.CopyCommand)
	if err := x.Command(cp, env); err != nil || cp.SourcePaths[0] != "main.go" || cp.DestPath != "/srv/" {
		t.Fatalf("COPY = %v %q, %v", cp.SourcePaths, cp.DestPath, err)
	}
}

func TestParseInstruction(t *testing.T) {
	t.Parallel()
	cmd, err := ParseInstruction("RUN echo triggered")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cmd.(*instructions.RunCommand); !ok {
		t.Fatalf("got %T", cmd)
	}
	if _, err := ParseInstruction("BOGUS x"); err == nil {
		t.Fatal("a bad trigger parsed")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"FROM busybox\nRUN echo hi\n",
		"ARG X=1\nFROM $X AS a\nCOPY --from=a / /\n",
		"FROM x\nRUN <<EOF\nhi\nEOF\n",
		"# escape=`\nFROM x\nCMD [\"a\"]\n",
		"FROM x\nHEALTHCHECK --interval=5s CMD true\nONBUILD RUN x\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("Dockerfile", src)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("error %v is not InvalidArgument", err)
			}
			return
		}
		if len(file.Stages) == 0 {
			t.Fatal("no error and no stage")
		}
	})
}
