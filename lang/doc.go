// Package lang loads trainrun's configuration language (SPEC §1–3): it
// finds the trainrun.hcl, *.trainrun.hcl and *.trainrun.json files of a
// directory, decodes their blocks, resolves variables, evaluates every
// expression and expands sweeps into instances. Nothing is executed.
//
// Loading happens in two phases. The structure comes first: block types,
// labels, names and which attributes are present, each body checked against
// its schema (compute and environment bodies against the schema their kind's
// provider declares in a providers.Registry). Then every reference is found
// with Expression.Variables (and, for compute, environment, inputs,
// depends_on and Ref attributes, by static analysis of the traversal), which
// gives the dependency graph between blocks (Config.Graph). Cycles are
// reported, one diagnostic per cycle naming its blocks in order, and the
// blocks are evaluated in dependency order, each with an hcl.EvalContext
// holding exactly what it refers to.
//
// Everything wrong with a configuration is an hcl.Diagnostic with a range,
// rendered by WriteDiagnostics (text with a source snippet) or
// DiagnosticsJSON (the shape of `terraform validate -json`). Diagnostics
// that follow from another error (a block referring to a broken block) are
// not reported: the user sees the cause once. WriteDiagnostics keeps the
// layout of hcl's text writer but, as SPEC §7 asks, prints file:line,column
// and marks the range with ^ when there is no color; hcl's writer does
// neither.
//
// Choices where SPEC is silent:
//
//   - Hidden files (names starting with ".") are not configuration files.
//   - An empty TRAINRUN_VAR_NAME counts as unset.
//   - Values from -var and TRAINRUN_VAR_NAME are taken as raw text for
//     variables of type string or of no declared type, and parsed as HCL
//     expressions otherwise, as Terraform does.
//   - memory accepts a number of bytes or a string with a decimal unit
//     (K/KB, M/MB, G/GB, T/TB: powers of 1000) or a binary one (Ki/KiB,
//     Mi/MiB, Gi/GiB, Ti/TiB: powers of 1024), case-insensitive.
//   - timeout is a Go duration ("90s", "1h30m") with an optional leading
//     days component ("2d", "1d12h"); 0 means none.
//   - experiment.X evaluates to an object with its name; experiment.X.outputs
//     and experiment.X["KEY"] are only meaningful in inputs and depends_on,
//     which are analysed statically and never evaluated. Any reference to an
//     experiment makes every instance of the referring experiment wait for
//     every instance of the referenced one, except experiment.X["KEY"], which
//     waits for that instance only.
//   - param.NAME is available in the attributes evaluated per instance
//     (command, shell, env, source_dir, outputs, timeout, retries and
//     resources), not in params or sweep, which define the parameters.
//     Attributes that do not refer to param are evaluated once per
//     experiment, so a 1000-point sweep costs little more than its command.
//   - Instance addresses quote the key as an HCL string (a '"' or '\' in a
//     string value is escaped) so that an address can be parsed back.
//   - Instances of one experiment share their DependsOn slice and the
//     address slices of Inputs, and slices of attributes that do not use
//     param: treat them as read-only.
//   - A sweep is limited to 100,000 points and file() to 64 MiB regular
//     files; going over is a diagnostic.
//
// Sensitive values (variables declared sensitive and provider attributes
// marked Sensitive) are carried with a cty mark, so anything computed from
// them is tracked. Their clear text forms are collected in Config.Secrets;
// diagnostics never contain them: their text is redacted (Redact: the value
// as it is, and as Go, JSON and HCL quoting escape it), a function that
// fails on a sensitive argument is not quoted at all (its reason may hold
// the value, in part), and var-file sources are masked in Config.Files
// (mask.go: the values of sensitive variables, read by lexing, so that a
// var-file that does not parse shows none either).
package lang
