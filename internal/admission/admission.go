package admission

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/auth"
)

// Operations, as upstream names them.
const (
	Create  = "CREATE"
	Update  = "UPDATE"
	Delete  = "DELETE"
	Connect = "CONNECT"
)

// Attributes describe the write being admitted.
type Attributes struct {
	Operation   string
	Resource    schema.GroupVersionResource
	Subresource string
	Kind        schema.GroupVersionKind
	Namespace   string
	Name        string
	// Object is the new object (nil on delete); mutating plugins may change it in place.
	Object    runtime.Object
	OldObject runtime.Object
	User      *auth.User
	DryRun    bool

	// undo holds what plugins did outside the object (a quota charge) to take back if the write fails.
	undo []func(context.Context)
	// reinvocation is the state of reinvocationPolicy IfNeeded across the mutating plugins.
	reinvocation Reinvocation
}

// Reinvocation is upstream's reinvocation context: a plugin that changed the object asks (ShouldReinvoke)
// for a second pass of the mutating plugins, in which IsReinvoke is true (policies and webhooks then rerun
// only their IfNeeded entries); each plugin keeps its own state under its name.
type Reinvocation struct {
	IsReinvoke, ShouldReinvoke bool
	values                     map[string]any
}

// Value is the state a plugin stored under key.
func (r *Reinvocation) Value(key string) any { return r.values[key] }

// SetValue stores a plugin's state.
func (r *Reinvocation) SetValue(key string, v any) {
	if r.values == nil {
		r.values = map[string]any{}
	}
	r.values[key] = v
}

// Reinvocation is the request's reinvocation context.
func (a *Attributes) Reinvocation() *Reinvocation { return &a.reinvocation }

// OnFailure registers undo, run by Failed when the write does not happen after all (a later plugin refuses
// it, or storage does: the name is taken, a concurrent update won).
func (a *Attributes) OnFailure(undo func(context.Context)) { a.undo = append(a.undo, undo) }

// Failed runs, once, what plugins registered with OnFailure. The server calls it when a write it admitted is
// not stored.
func (a *Attributes) Failed(ctx context.Context) {
	undo := a.undo
	a.undo = nil
	for _, f := range undo {
		f(context.WithoutCancel(ctx))
	}
}

// Mutator may change the object.
type Mutator interface {
	Admit(ctx context.Context, a *Attributes) error
}

// Validator may refuse the write; it must not change anything.
type Validator interface {
	Validate(ctx context.Context, a *Attributes) error
}

// Chain is the ordered list of plugins; each may implement Mutator, Validator or both.
type Chain []any

// Admit runs every mutating plugin in order; the first error stops the write. When a reinvocable plugin
// changed the object after an IfNeeded policy or webhook ran (ShouldReinvoke), every mutating plugin runs
// once more, as upstream: the built-in ones (idempotent on their own output) then see what the policies and
// webhooks added, e.g. a container that needs the token mount or LimitRanger's defaults; the reinvocable
// ones rerun only their IfNeeded entries.
func (c Chain) Admit(ctx context.Context, a *Attributes) error {
	for _, p := range c {
		if m, ok := p.(Mutator); ok {
			if err := m.Admit(ctx, a); err != nil {
				return err
			}
		}
	}
	r := a.Reinvocation()
	if !r.ShouldReinvoke || r.IsReinvoke {
		return nil
	}
	r.IsReinvoke = true
	for _, p := range c {
		if m, ok := p.(Mutator); ok {
			if err := m.Admit(ctx, a); err != nil {
				return err
			}
		}
	}
	return nil
}

// Validate runs every validating plugin in order; the first error stops the write.
func (c Chain) Validate(ctx context.Context, a *Attributes) error {
	for _, p := range c {
		if v, ok := p.(Validator); ok {
			if err := v.Validate(ctx, a); err != nil {
				a.Failed(ctx)
				return err
			}
		}
	}
	return nil
}
