package planner

import "sync"

// memo returns (*m)[k], working it out with f the first time and keeping
// it: what a plan asks of the host once, however many environments ask
// (mu guards m; f runs unlocked, so two callers may both work out k).
func memo[K comparable, V any](mu *sync.Mutex, m *map[K]V, k K, f func() V) V {
	mu.Lock()
	v, seen := (*m)[k]
	mu.Unlock()
	if seen {
		return v
	}
	v = f()
	mu.Lock()
	if *m == nil {
		*m = map[K]V{}
	}
	(*m)[k] = v
	mu.Unlock()
	return v
}
