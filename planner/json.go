package planner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
)

// MarshalText implements encoding.TextMarshaler.
func (s Stage) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Stage) UnmarshalText(b []byte) error {
	for i, n := range stageNames {
		if n == string(b) {
			*s = Stage(i)
			return nil
		}
	}
	return fmt.Errorf("unknown stage %q", b)
}

type wireStep struct {
	Stage  Stage           `json:"stage"`
	Origin string          `json:"origin"`
	Op     string          `json:"op"`
	Args   json.RawMessage `json:"args"`
}

// opTypes maps each operation's JSON name to its type, for decoding. Two
// operations of one name would decode as one: refused at start.
var opTypes = func() map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for _, op := range AllOps() {
		k := op.Kind()
		if t, dup := m[k]; dup {
			panic(fmt.Sprintf("planner: %v and %T are both %q in JSON", t, op, k))
		}
		m[k] = reflect.TypeOf(op)
	}
	return m
}()

// MarshalJSON writes a step as {"stage", "origin", "op", "args"}.
func (s Step) MarshalJSON() ([]byte, error) {
	args, err := json.Marshal(s.Op)
	if err != nil {
		return nil, err
	}
	return json.Marshal(wireStep{Stage: s.Stage, Origin: s.Origin, Op: s.Op.Kind(), Args: args})
}

// UnmarshalJSON reads what MarshalJSON wrote; unknown operations and
// unknown fields are errors, so a plan is never half understood.
func (s *Step) UnmarshalJSON(b []byte) error {
	var w wireStep
	if err := strictDecode(b, &w); err != nil {
		return err
	}
	t, ok := opTypes[w.Op]
	if !ok {
		return fmt.Errorf("unknown operation %q", w.Op)
	}
	v := reflect.New(t)
	if err := strictDecode(w.Args, v.Interface()); err != nil {
		return fmt.Errorf("%s: %w", w.Op, err)
	}
	*s = Step{Stage: w.Stage, Origin: w.Origin, Op: v.Elem().Interface().(Op)}
	return nil
}

func strictDecode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// MarshalIndent renders the plan as indented JSON (nsup plan --json).
func MarshalIndent(p *Plan) ([]byte, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Unmarshal reads a plan written by MarshalIndent.
func Unmarshal(b []byte) (*Plan, error) {
	var p Plan
	if err := strictDecode(b, &p); err != nil {
		return nil, fmt.Errorf("not an nsup plan: %w", err)
	}
	if p.Format != FormatVersion {
		return nil, fmt.Errorf("plan format %d, this nsup reads format %d", p.Format, FormatVersion)
	}
	return &p, nil
}
