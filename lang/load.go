package lang

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/trainrun/trainrun/providers"
)

// Limits that keep a hostile or mistaken configuration from exhausting the
// machine; each is reported as a diagnostic, never silently applied.
const (
	maxInstancesPerExperiment = 100_000
	maxInstances              = 1_000_000
	maxFileFunctionBytes      = 64 << 20
)

// loader holds everything one Load call works on. It is never shared.
type loader struct {
	dir    string // absolute
	opts   Options
	parser *hclparse.Parser
	cfg    *Config
	diags  hcl.Diagnostics
	seen   map[diagKey]bool // deduplicates diagnostics of per-instance evaluation
	funcs  map[string]function.Function

	varFiles map[string][]span // -var-file names in cfg.Files: the regions to mask
	// declIncomplete: some variable blocks could not be read (a file
	// with syntax errors, an invalid name), so which variables are
	// sensitive is not fully known.
	declIncomplete bool

	vars      map[string]*varDecl
	locals    map[string]*localDecl
	computes  map[string]*kindBlock
	envs      map[string]*kindBlock
	exps      map[string]*expDecl
	settings  *hcl.Block
	parAttr   *hcl.Attribute
	nodes     map[string]*node
	secrets   map[string]bool           // clear forms of sensitive values
	marked    bool                      // some value carries the sensitive mark
	knownCtx  map[*hcl.EvalContext]bool // contexts that hold only wholly known values
	redaction []string                  // secrets and raw sensitive inputs, for diagnostics
}

type diagKey struct {
	sev             hcl.DiagnosticSeverity
	summary, detail string
	rng             hcl.Range
}

// rootSchema is the set of top-level blocks (SPEC §2).
var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "trainrun"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "compute", LabelNames: []string{"kind", "name"}},
		{Type: "environment", LabelNames: []string{"kind", "name"}},
		{Type: "experiment", LabelNames: []string{"name"}},
	},
}

var settingsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "parallelism"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "backend", LabelNames: []string{"kind"}}, // LoadBackend reads it
		{Type: "remote", LabelNames: []string{"kind"}},  // LoadRemote reads it
	},
}

// Load reads the configuration in dir: every trainrun.hcl, *.trainrun.hcl and
// *.trainrun.json file (not recursive), the variable values opts names, and
// evaluates it into a Config with every sweep expanded into instances.
//
// The returned Config is never nil: when diags has errors it is partial, but
// its Dir and Files are set so that the diagnostics can be rendered.
func Load(dir string, opts Options) (*Config, hcl.Diagnostics) {
	l := &loader{
		opts:     opts,
		parser:   hclparse.NewParser(),
		seen:     map[diagKey]bool{},
		varFiles: map[string][]span{},
		vars:     map[string]*varDecl{},
		locals:   map[string]*localDecl{},
		computes: map[string]*kindBlock{},
		envs:     map[string]*kindBlock{},
		exps:     map[string]*expDecl{},
		nodes:    map[string]*node{},
		secrets:  map[string]bool{},
		knownCtx: map[*hcl.EvalContext]bool{},
	}
	l.cfg = &Config{
		Files:        map[string]*hcl.File{},
		Variables:    map[string]*Variable{},
		Computes:     map[string]*Block{},
		Environments: map[string]*Block{},
		Experiments:  map[string]*Experiment{},
		Graph:        map[string][]string{},
	}
	l.load(dir)
	l.finish()
	return l.cfg, l.diags
}

func (l *loader) load(dir string) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		l.errorf(nil, "Invalid working directory", "Cannot resolve %q: %v.", dir, err)
		return
	}
	l.dir = abs
	l.cfg.Dir = abs
	l.funcs = functions(abs, l.opts.Getenv)

	names, ok := l.discover()
	if !ok {
		return
	}
	var bodies []hcl.Body
	for _, name := range names {
		f := l.parseFile(name, filepath.Join(abs, name))
		if f != nil {
			bodies = append(bodies, f.Body)
		}
	}
	if l.opts.Registry == nil {
		l.opts.Registry = &providers.Registry{}
	}
	for _, body := range bodies {
		l.declare(body)
	}
	l.resolveVariables()
	l.scanAll()
	order := l.order()
	for _, n := range order {
		l.evalNode(n)
	}
	l.evalSettings()
	l.collectInstances()
}

// discover lists the configuration files of l.dir, sorted.
func (l *loader) discover() ([]string, bool) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		l.errorf(nil, "Cannot read the working directory", "Reading %s failed: %v. Check that the directory exists and is readable, or pass another one with -chdir.", l.dir, err)
		return nil, false
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if !IsConfigFile(name) {
			continue
		}
		if e.IsDir() {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) == 0 {
		l.errorf(nil, "No configuration files",
			"There is no trainrun.hcl, *.trainrun.hcl or *.trainrun.json file in %s. Run `trainrun init` to write a starter trainrun.hcl, or use -chdir to point at the directory that holds your configuration.", l.dir)
		return nil, false
	}
	return names, true
}

// IsConfigFile says whether a file in the working directory is part of
// the configuration. Hidden files (editor and lock files) are not.
func IsConfigFile(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	return name == "trainrun.hcl" ||
		strings.HasSuffix(name, ".trainrun.hcl") ||
		strings.HasSuffix(name, ".trainrun.json")
}

// parseFile reads and parses one file, registering it under name in
// Config.Files. JSON syntax is chosen by the .json extension.
func (l *loader) parseFile(name, path string) *hcl.File {
	src, err := os.ReadFile(path)
	if err != nil {
		l.errorf(nil, "Cannot read file", "Reading %s failed: %v.", name, err)
		return nil
	}
	f, diags := parseSource(l.parser, name, src)
	l.add(diags)
	if f == nil {
		return nil
	}
	l.cfg.Files[name] = f
	if diags.HasErrors() {
		// A file with syntax errors is not decoded further: its partial
		// body would only add confusing follow-up errors.
		l.declIncomplete = true
		return nil
	}
	return f
}

// declare decodes the structure of one file's body: block types, labels,
// names and, per block, which attributes and nested blocks are present.
func (l *loader) declare(body hcl.Body) {
	content, diags := body.Content(rootSchema)
	l.add(diags)
	if content == nil {
		return
	}
	for _, b := range content.Blocks {
		switch b.Type {
		case "trainrun":
			l.declareSettings(b)
		case "variable":
			l.declareVariable(b)
		case "locals":
			l.declareLocals(b)
		case "compute", "environment":
			l.declareKindBlock(b)
		case "experiment":
			l.declareExperiment(b)
		}
	}
}

func (l *loader) declareSettings(b *hcl.Block) {
	if l.settings != nil {
		l.add(hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Duplicate trainrun block",
			Detail:   fmt.Sprintf("A trainrun block was already declared at %s. Merge the settings into one block.", rangeString(l.settings.DefRange)),
			Subject:  b.DefRange.Ptr(),
		}})
		return
	}
	l.settings = b
	content, diags := b.Body.Content(settingsSchema)
	l.add(diags)
	if content == nil {
		return
	}
	l.parAttr = content.Attributes["parallelism"]
	// The backend and remote blocks are read alone by the commands that
	// use them (LoadBackend, LoadRemote); checked here too, so that
	// validate and plan report a misspelt or missing attribute.
	var backends, remotes []*hcl.Block
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "backend":
			backends = append(backends, blk)
		case "remote":
			remotes = append(remotes, blk)
		}
	}
	_, d := decodeBackend(backends)
	l.add(d)
	_, d = decodeRemote(remotes)
	l.add(d)
}

// checkName reports a name that does not match [A-Za-z_][A-Za-z0-9_-]*.
func (l *loader) checkName(what, name string, rng hcl.Range) bool {
	if validName(name) {
		return true
	}
	l.add(hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid " + what + " name",
		Detail:   fmt.Sprintf("%q is not a valid name. A name starts with a letter or underscore and contains only letters, digits, underscores and dashes.", name),
		Subject:  rng.Ptr(),
	}})
	return false
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c == '-' || c >= '0' && c <= '9'):
		default:
			return false
		}
	}
	return true
}

// duplicate reports a second declaration of the same name.
func (l *loader) duplicate(what, name string, first, second hcl.Range) {
	l.add(hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Duplicate " + what + " " + fmt.Sprintf("%q", name),
		Detail:   fmt.Sprintf("%s %s named %q was already declared at %s. Names must be unique within a block type: rename or remove one of them.", article(what), what, name, rangeString(first)),
		Subject:  second.Ptr(),
	}})
}

// article is "An" before a word that starts with a vowel ("An experiment",
// "An environment"), else "A".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "An"
	}
	return "A"
}

// evalSettings evaluates the trainrun block once everything it may refer to
// is known.
func (l *loader) evalSettings() {
	if l.parAttr == nil {
		return
	}
	n := &node{addr: "trainrun", deps: map[string]hcl.Range{}}
	if !l.scanExpr(n, l.parAttr.Expr, scanOpts{}) {
		return
	}
	v, ok := l.eval(l.parAttr.Expr, l.ctxFor(n))
	if !ok {
		return
	}
	p, ok := l.wholeNumber(v, l.parAttr, "parallelism", 1)
	if ok {
		l.cfg.Parallelism = p
	}
}

// collectInstances gathers every experiment's instances into Config.Instances.
func (l *loader) collectInstances() {
	total := 0
	for _, e := range l.cfg.Experiments {
		total += len(e.Instances)
	}
	all := make([]*Instance, 0, total)
	for _, e := range l.cfg.Experiments {
		all = append(all, e.Instances...)
	}
	slices.SortFunc(all, func(a, b *Instance) int { return CompareAddresses(a.Address, b.Address) })
	l.cfg.Instances = all
}

// finish makes the diagnostics safe to show: secrets are redacted from
// their text and from the var-file sources they quote, values are no longer
// attached, and each diagnostic carries its source snippet for JSON output.
func (l *loader) finish() {
	secrets := make([]string, 0, len(l.secrets))
	for s := range l.secrets {
		secrets = append(secrets, s)
	}
	// Longest first, so that a secret containing another is replaced whole.
	sort.Slice(secrets, func(i, j int) bool {
		if len(secrets[i]) != len(secrets[j]) {
			return len(secrets[i]) > len(secrets[j])
		}
		return secrets[i] < secrets[j]
	})
	l.cfg.Secrets = secrets
	l.warnShortSecrets()
	// Diagnostics are free text: a value too short to be found in it is
	// not looked for (warnShortSecrets says so).
	redact := Redactable(append(append([]string(nil), secrets...), l.redaction...))
	sort.Slice(redact, func(i, j int) bool { return len(redact[i]) > len(redact[j]) })

	forms := SecretForms(redact)
	for name, regions := range l.varFiles {
		if f := l.cfg.Files[name]; f != nil {
			l.cfg.Files[name] = maskFile(f, regions, forms)
		}
	}
	for _, d := range l.diags {
		if l.marked {
			withholdSensitiveCallError(d)
		}
		if len(redact) > 0 {
			d.Summary = Redact(d.Summary, redact)
			d.Detail = Redact(d.Detail, redact)
			// The text writer prints the values an expression refers to.
			d.Expression = nil
			d.EvalContext = nil
		}
		if snip := snippetFor(d, l.cfg.Files); snip != nil {
			d.Extra = snip
		}
	}
}

// warnShortSecrets says which sensitive values are too short to be
// redacted from what runs print (MinRedactable): the variable's, or, for
// a value computed from one, that there is such a value.
func (l *loader) warnShortSecrets() {
	short := map[string]bool{}
	for _, s := range l.cfg.Secrets {
		if utf8.RuneCountInString(s) < MinRedactable {
			short[s] = true
		}
	}
	if len(short) == 0 {
		return
	}
	const why = "trainrun still shows it as (sensitive) in plans, status and state, but cannot hide it in what a run prints " +
		"(its log, apply's output) or in messages: a text that short occurs by chance everywhere (\"e\" in \"epoch\"), " +
		"and replacing each occurrence would mangle the log and still tell the value. Use a longer value."
	for _, name := range slices.Sorted(maps.Keys(l.cfg.Variables)) {
		v := l.cfg.Variables[name]
		if !v.Sensitive || !v.Value.IsWhollyKnown() {
			continue
		}
		found := false
		walkLeaves(v.Value, func(s string) {
			if short[s] {
				found = true
				delete(short, s)
			}
		})
		if found {
			l.add(hcl.Diagnostics{{
				Severity: hcl.DiagWarning,
				Summary:  "Sensitive value too short to redact",
				Detail:   fmt.Sprintf("The value of var.%s is shorter than %d characters. %s", name, MinRedactable, why),
				Subject:  v.DeclRange.Ptr(),
			}})
		}
	}
	if len(short) > 0 {
		l.add(hcl.Diagnostics{{
			Severity: hcl.DiagWarning,
			Summary:  "Sensitive value too short to redact",
			Detail:   fmt.Sprintf("A sensitive value computed in the configuration is shorter than %d characters. %s", MinRedactable, why),
		}})
	}
}

// withholdSensitiveCallError replaces the reason of a function call that
// failed on a sensitive argument. Functions quote their arguments in their
// errors, escaped or in part (jsondecode names the one character it could
// not read), which no redaction of the whole value can be sure to catch.
func withholdSensitiveCallError(d *hcl.Diagnostic) {
	if d.Summary != "Invalid function argument" && d.Summary != "Error in function call" ||
		d.Expression == nil || d.EvalContext == nil {
		return
	}
	// hcl gives the argument for the one, the call for the other.
	args := []hcl.Expression{d.Expression}
	if call, ok := d.Expression.(*hclsyntax.FunctionCallExpr); ok {
		args = args[:0]
		for _, a := range call.Args {
			args = append(args, a)
		}
	}
	sensitive := false
	for _, a := range args {
		v, _ := a.Value(d.EvalContext)
		sensitive = sensitive || hasSensitiveMark(v)
	}
	if !sensitive {
		return
	}
	const why = "the value is (sensitive), and the reason is not shown, as it may quote the value. Check the value given to the sensitive variable."
	if param, _, ok := strings.Cut(d.Detail, " parameter: "); ok && strings.HasPrefix(param, "Invalid value for ") {
		d.Detail = param + " parameter: " + why
		return
	}
	name := "a function"
	if x, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d); ok {
		name = fmt.Sprintf("function %q", x.CalledFunctionName())
	}
	d.Detail = fmt.Sprintf("Call to %s failed: %s", name, why)
}

// hasSensitiveMark reports whether v or a value within it is sensitive.
func hasSensitiveMark(v cty.Value) bool {
	if !v.ContainsMarked() {
		return false
	}
	_, pvm := v.UnmarkDeepWithPaths()
	for _, pm := range pvm {
		if _, ok := pm.Marks[sensitiveMark]; ok {
			return true
		}
	}
	return false
}

// add appends diagnostics, dropping exact repeats (an expression evaluated
// for each of a thousand sweep points fails the same way each time).
func (l *loader) add(diags hcl.Diagnostics) {
	for _, d := range diags {
		if d == nil {
			continue
		}
		whatToDo(d)
		k := diagKey{sev: d.Severity, summary: d.Summary, detail: d.Detail}
		if d.Subject != nil {
			k.rng = *d.Subject
		}
		if l.seen[k] {
			continue
		}
		l.seen[k] = true
		l.diags = append(l.diags, d)
	}
}

// whatToDo completes the diagnostics hcl writes that say what is wrong
// but not what to do about it (SPEC §7 asks for both).
func whatToDo(d *hcl.Diagnostic) {
	switch {
	case d.Summary == "Missing required argument" && strings.HasSuffix(d.Detail, "but no definition was found."):
		if name, _, ok := strings.Cut(strings.TrimPrefix(d.Detail, "The argument \""), "\""); ok {
			d.Detail += fmt.Sprintf(" Add %s = … to this block.", name)
		}
	case (d.Summary == "Unsupported argument" || d.Summary == "Unsupported block type") &&
		(strings.HasSuffix(d.Detail, " is not expected here.") || strings.HasSuffix(d.Detail, " are not expected here.")):
		d.Detail += " Remove it, or correct its name."
	}
}

func (l *loader) errorf(subject *hcl.Range, summary, format string, args ...any) {
	l.add(hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject,
	}})
}

func (l *loader) hasErrors() bool { return l.diags.HasErrors() }

// rangeString is "file:line,col" of a range's start, as hcl prints ranges.
func rangeString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column)
}

// addSecret records the clear forms of a sensitive value.
func (l *loader) addSecret(v cty.Value) {
	v, _ = v.UnmarkDeep()
	walkLeaves(v, func(s string) {
		if s != "" {
			l.secrets[s] = true
		}
	})
}
