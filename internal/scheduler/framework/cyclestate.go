package framework

import (
	"fmt"
	"sync"
)

// StateKey names a plugin's data in the CycleState.
type StateKey string

// StateData is what plugins store in the CycleState; Clone must deep-copy what preemption may change.
type StateData interface {
	Clone() StateData
}

// CycleState carries plugin data through one scheduling cycle (PreFilter computes, Filter/Score read).
type CycleState struct {
	mu   sync.RWMutex
	data map[StateKey]StateData
	// SkipFilterPlugins and SkipScorePlugins name plugins whose PreFilter/PreScore returned Skip.
	SkipFilterPlugins map[string]bool
	SkipScorePlugins  map[string]bool
}

// NewCycleState returns an empty state.
func NewCycleState() *CycleState {
	return &CycleState{data: map[StateKey]StateData{}, SkipFilterPlugins: map[string]bool{}, SkipScorePlugins: map[string]bool{}}
}

// Read returns the data under key, or ErrNotFound.
func (c *CycleState) Read(key StateKey) (StateData, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if v, ok := c.data[key]; ok {
		return v, nil
	}
	return nil, ErrNotFound
}

// Write stores data under key.
func (c *CycleState) Write(key StateKey, v StateData) {
	c.mu.Lock()
	c.data[key] = v
	c.mu.Unlock()
}

// Clone deep-copies the state (preemption simulates removals on a copy).
func (c *CycleState) Clone() *CycleState {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := NewCycleState()
	for k, v := range c.data {
		out.data[k] = v.Clone()
	}
	for k, v := range c.SkipFilterPlugins {
		out.SkipFilterPlugins[k] = v
	}
	for k, v := range c.SkipScorePlugins {
		out.SkipScorePlugins[k] = v
	}
	return out
}

// ErrNotFound is returned by Read for a missing key.
var ErrNotFound = errNotFound{}

type errNotFound struct{}

func (errNotFound) Error() string { return "not found" }

// ReadState reads the data a plugin stored under key and checks its type, so each plugin does not repeat the
// read-and-assert dance.
func ReadState[T StateData](cs *CycleState, key StateKey) (T, error) {
	var zero T
	d, err := cs.Read(key)
	if err != nil {
		return zero, fmt.Errorf("error reading %q from cycleState: %w", key, err)
	}
	s, ok := d.(T)
	if !ok {
		return zero, fmt.Errorf("cycleState %q holds %T, not %T", key, d, zero)
	}
	return s, nil
}
