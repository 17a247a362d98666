package conflist

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Options say what to chain and where.
type Options struct {
	// Plugin is the JSON object to insert, e.g. {"type": "ndp-announce"}. It must have a "type".
	Plugin []byte
	// After are the types of the plugins it may go right after, e.g. "bridge", "macvlan": it goes
	// right after the first plugin of the list with one of these types that Accept takes.
	After []string
	// Accept, when set, vets a plugin of one of After's types, given its type and JSON object: an
	// error says why this one cannot be followed (say, an ipvlan in l3 mode), and a refusal quotes it.
	Accept func(typ string, plugin []byte) error
}

// Result is a patched configuration.
type Result struct {
	// Data is the new file content; the input itself when nothing changed.
	Data []byte
	// Changed says whether Data differs from the input.
	Changed bool
	// Converted says that a single-plugin configuration (.conf) became a list: runtimes load a list
	// only from a .conflist file, so Data must be written under that name.
	Converted bool
	// Comments says that the input has comments, which libcni refuses: the runtime will not load it.
	Comments bool
	// Note says what was done or why nothing was, for the operator's log.
	Note string
}

// Chain inserts opts.Plugin right after the first plugin it may follow (see Options). It changes
// nothing when a plugin of that type is already chained after it, and fails, changing nothing, when
// there is no plugin it may follow or when the plugin is already there but before it.
func Chain(data []byte, opts Options) (Result, error) {
	typ := pluginType(opts.Plugin)
	if typ == "" {
		return Result{}, fmt.Errorf("plugin to chain %s: not a JSON object with a \"type\"", opts.Plugin)
	}
	if len(opts.After) == 0 {
		return Result{}, fmt.Errorf("chain %s: no plugin type to chain it after", typ)
	}
	f, err := parse(data)
	if err != nil {
		return Result{}, err
	}
	if f.plugins == nil {
		return chainSingle(f, opts, typ)
	}

	types := f.types()
	after, rejected := f.follow(types, opts)
	existing := index(types, typ)
	switch {
	case existing >= 0 && (after < 0 || existing > after):
		return f.unchanged(fmt.Sprintf("%s already chained at plugins[%d]", typ, existing)), nil
	case existing >= 0:
		return Result{}, fmt.Errorf("%s is at plugins[%d], before %s at plugins[%d]: it only works after it; move it by hand",
			typ, existing, types[after], after)
	case after < 0:
		return Result{}, noAfterError(typ, opts.After, types, rejected)
	}

	out := splice(f.data, f.insertion(after, opts.Plugin))
	return Result{Data: out, Changed: true, Comments: f.comments,
		Note: fmt.Sprintf("chained %s at plugins[%d], after %s", typ, after+1, types[after])}, nil
}

// follow is the index of the first plugin that opts allow to follow, -1 if none; rejected says why
// Accept turned down the others of the right types.
func (f *file) follow(types []string, opts Options) (int, []string) {
	var rejected []string
	for i, t := range types {
		if index(opts.After, t) < 0 {
			continue
		}
		if opts.Accept == nil {
			return i, nil
		}
		err := opts.Accept(t, f.blanked[f.plugins[i].Start:f.plugins[i].End])
		if err == nil {
			return i, nil
		}
		rejected = append(rejected, fmt.Sprintf("plugins[%d] %s: %v", i, t, err))
	}
	return -1, rejected
}

// Unchain removes every plugin of type typ from the list, with the separator before it. A single-plugin
// configuration of another type is left alone; removing the last plugin of a list is refused.
func Unchain(data []byte, typ string) (Result, error) {
	f, err := parse(data)
	if err != nil {
		return Result{}, err
	}
	if f.plugins == nil {
		if t := pluginType(f.blanked[f.top.Start:f.top.End]); t == typ {
			return Result{}, fmt.Errorf("the configuration is a single %s plugin: nothing would be left; remove the file by hand", typ)
		}
		return f.unchanged(typ + " not chained"), nil
	}
	types := f.types()
	var drop []int
	for i, t := range types {
		if t == typ {
			drop = append(drop, i)
		}
	}
	if len(drop) == 0 {
		return f.unchanged(typ + " not chained"), nil
	}
	if len(drop) == len(types) {
		return Result{}, fmt.Errorf("every plugin of the list is %s: nothing would be left; remove the file by hand", typ)
	}
	out := f.data
	// From the last, so earlier offsets stay right.
	for k := len(drop) - 1; k >= 0; k-- {
		for _, e := range f.removal(drop[k]) {
			out = splice(out, e)
		}
	}
	return Result{Data: out, Changed: true, Comments: f.comments,
		Note: fmt.Sprintf("removed %s from plugins%v", typ, drop)}, nil
}

// file is a parsed configuration: the original bytes, a copy with comments blanked (same offsets),
// the top-level object and, for a list, where each plugin is.
type file struct {
	data, blanked []byte
	comments      bool
	top           span
	members       []member
	pluginsArr    span
	plugins       []span // nil for a single-plugin configuration
}

func parse(data []byte) (*file, error) {
	blanked, comments, err := blankComments(data)
	if err != nil {
		return nil, err
	}
	top, err := topLevel(blanked)
	if err != nil {
		return nil, err
	}
	members, err := objectMembers(blanked, top)
	if err != nil {
		return nil, err
	}
	f := &file{data: data, blanked: blanked, comments: comments, top: top, members: members}
	m, ok := find(members, "plugins")
	if !ok {
		if _, ok := find(members, "type"); !ok {
			return nil, fmt.Errorf("neither a plugin list (no \"plugins\") nor a single plugin (no \"type\")")
		}
		return f, nil
	}
	if blanked[m.Value.Start] != '[' {
		return nil, fmt.Errorf("\"plugins\" is not a list")
	}
	f.pluginsArr = m.Value
	if f.plugins, err = arrayElements(blanked, m.Value); err != nil {
		return nil, fmt.Errorf("\"plugins\": %w", err)
	}
	if f.plugins == nil {
		f.plugins = []span{}
	}
	for i, p := range f.plugins {
		if blanked[p.Start] != '{' {
			return nil, fmt.Errorf("plugins[%d] is not an object", i)
		}
	}
	return f, nil
}

func (f *file) types() []string {
	types := make([]string, len(f.plugins))
	for i, p := range f.plugins {
		types[i] = pluginType(f.blanked[p.Start:p.End])
	}
	return types
}

func (f *file) unchanged(note string) Result {
	return Result{Data: f.data, Comments: f.comments, Note: note}
}

// edit replaces data[From:To] with Text.
type edit struct {
	From, To int
	Text     string
}

// insertion places obj right after plugin i in the list's own layout. With one plugin a line, obj gets
// its own lines, indented like its neighbours, and a comment at the end of a line stays on that line;
// an inline list gets obj inline.
func (f *file) insertion(i int, obj []byte) edit {
	if i+1 < len(f.plugins) {
		next := f.plugins[i+1].Start
		// A comment may come before the next element on its line: it stays with that element.
		if ls, ok := f.lineStart(next, f.blanked); ok {
			indent := f.indentAt(ls)
			return edit{ls, ls, indent + indentJSON(obj, indent) + ",\n"}
		}
		gap := ""
		if f.blanked[next-1] == ' ' {
			gap = " "
		}
		return edit{next, next, indentJSON(obj, "") + "," + gap}
	}
	prev := f.plugins[i]
	ls, ownLine := f.lineStart(prev.Start, f.data)
	if !ownLine {
		gap := ""
		if prev.Start > 0 && f.blanked[prev.Start-1] == ' ' {
			gap = " "
		}
		return edit{prev.End, prev.End, "," + gap + indentJSON(obj, "")}
	}
	indent := f.indentAt(ls)
	eol := prev.End
	for eol < len(f.blanked) && (f.blanked[eol] == ' ' || f.blanked[eol] == '\t' || f.blanked[eol] == '\r') {
		eol++
	}
	if eol < len(f.blanked) && f.blanked[eol] == '\n' {
		// "{bridge} // comment\n": the comma goes after the element, the new one on the next line.
		return edit{prev.End, eol, "," + string(f.data[prev.End:eol]) + "\n" + indent + indentJSON(obj, indent)}
	}
	return edit{prev.End, prev.End, ",\n" + indent + indentJSON(obj, indent)}
}

// removal undoes insertion for plugin i: the element, its comma, and the lines it alone had. The
// edits are in descending order of offset.
func (f *file) removal(i int) []edit {
	e := f.plugins[i]
	ls, ownLine := f.lineStart(e.Start, f.data)
	if i+1 < len(f.plugins) {
		comma := e.End + bytes.IndexByte(f.blanked[e.End:], ',')
		end := comma + 1
		if !ownLine {
			for end < len(f.blanked) && f.data[end] == ' ' {
				end++
			}
			return []edit{{e.Start, end, ""}}
		}
		for end < len(f.data) && (f.data[end] == ' ' || f.data[end] == '\t' || f.data[end] == '\r') {
			end++
		}
		if end < len(f.data) && f.data[end] == '\n' {
			end++
		}
		return []edit{{ls, end, ""}}
	}
	prev := f.plugins[i-1]
	comma := prev.End + bytes.IndexByte(f.blanked[prev.End:e.Start], ',')
	if !ownLine {
		return []edit{{comma, e.End, ""}}
	}
	// ls-1 is the newline that ends the line before, where a comment may sit after the comma.
	return []edit{{ls - 1, e.End, ""}, {comma, comma + 1, ""}}
}

// lineStart is the start of pos's line when only blanks come before pos on it in text (f.data: no
// comment either; f.blanked: comments allowed).
func (f *file) lineStart(pos int, text []byte) (int, bool) {
	i := pos
	for i > 0 && (text[i-1] == ' ' || text[i-1] == '\t') {
		i--
	}
	if i > 0 && text[i-1] == '\n' {
		return i, true
	}
	return pos, false
}

// indentAt is the run of blanks at ls.
func (f *file) indentAt(ls int) string {
	i := ls
	for i < len(f.data) && (f.data[i] == ' ' || f.data[i] == '\t') {
		i++
	}
	return string(f.data[ls:i])
}

// chainSingle turns a single-plugin configuration into a list of it and the new plugin, as libcni's
// ConfListFromConf reads it: the list takes the plugin's cniVersion and name, the plugin keeps
// everything it had, verbatim.
func chainSingle(f *file, opts Options, typ string) (Result, error) {
	obj := f.blanked[f.top.Start:f.top.End]
	own := pluginType(obj)
	if own == typ {
		return Result{}, fmt.Errorf("the configuration is a single %s plugin: nothing to chain it after", typ)
	}
	if index(opts.After, own) < 0 {
		return Result{}, noAfterError(typ, opts.After, []string{own}, nil)
	}
	if opts.Accept != nil {
		if err := opts.Accept(own, obj); err != nil {
			return Result{}, noAfterError(typ, opts.After, []string{own}, []string{own + ": " + err.Error()})
		}
	}
	var b strings.Builder
	b.WriteString("{\n")
	for _, key := range []string{"cniVersion", "name"} {
		if m, ok := find(f.members, key); ok {
			fmt.Fprintf(&b, "  %q: %s,\n", key, f.data[m.Value.Start:m.Value.End])
		}
	}
	b.WriteString("  \"plugins\": [\n")
	b.WriteString(indentLines(bytes.TrimSpace(f.data), "    "))
	b.WriteString(",\n    ")
	b.WriteString(indentJSON(opts.Plugin, "    "))
	b.WriteString("\n  ]\n}\n")
	return Result{Data: []byte(b.String()), Changed: true, Converted: true, Comments: f.comments,
		Note: fmt.Sprintf("converted the single %s plugin to a list and chained %s after it", own, typ)}, nil
}

func noAfterError(typ string, after, types, rejected []string) error {
	found := strings.Join(types, ", ")
	if found == "" {
		found = "none"
	}
	why := ""
	if len(rejected) > 0 {
		why = " (" + strings.Join(rejected, "; ") + ")"
	}
	return fmt.Errorf("no plugin that %s can follow in this configuration (plugin types: %s)%s: %s chains after %s; pick the file of a network that uses one of them",
		typ, found, why, typ, strings.Join(after, ", "))
}

func index(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func splice(data []byte, e edit) []byte {
	out := make([]byte, 0, len(data)-(e.To-e.From)+len(e.Text))
	out = append(out, data[:e.From]...)
	out = append(out, e.Text...)
	return append(out, data[e.To:]...)
}

// indentJSON lays out a plugin object: compact when indent is "" (an inline list), else one member a
// line with every line but the first prefixed by indent.
func indentJSON(obj []byte, indent string) string {
	var b bytes.Buffer
	if indent == "" {
		if json.Compact(&b, obj) != nil {
			return string(obj)
		}
		return b.String()
	}
	unit := "  "
	if strings.HasPrefix(indent, "\t") {
		unit = "\t"
	}
	if json.Indent(&b, obj, indent, unit) != nil {
		return string(obj)
	}
	return b.String()
}

// indentLines prefixes every line with indent. JSON strings cannot hold a raw newline, so this never
// changes a value.
func indentLines(text []byte, indent string) string {
	lines := strings.Split(string(text), "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			lines[i] = indent + l
		}
	}
	return strings.Join(lines, "\n")
}
