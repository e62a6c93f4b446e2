package garbagecollector

import (
	"container/list"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// absentKey is an owner reference (resource, name, UID) looked up in a namespace ("" for cluster-scoped owners)
// and not found there.
type absentKey struct {
	resource  schema.GroupResource
	namespace string
	name      string
	uid       types.UID
}

// absentCache remembers, least recently used first out, owners known to be absent: a UID never comes back, so
// an entry never goes stale; the cache only saves lookups when many dependents share a deleted owner.
type absentCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of absentKey, most recent at the front
	items map[absentKey]*list.Element
}

func newAbsentCache(max int) *absentCache {
	return &absentCache{max: max, order: list.New(), items: map[absentKey]*list.Element{}}
}

func (c *absentCache) has(k absentKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if ok {
		c.order.MoveToFront(e)
	}
	return ok
}

func (c *absentCache) add(k absentKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.items[k] = c.order.PushFront(k)
	if c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(absentKey))
	}
}
