package containers

import (
	"context"
	"sync"
)

// records is the Service's Store. An ephemeral container's (Spec.Ephemeral,
// `run --rm`) record is written durably when it is created and deleted
// durably when it is removed; every change in between (started, exited,
// removing, a start's error) is kept in memory only, saving a commit (two
// fdatasyncs) each on the path of `run --rm`. Its durable record
// therefore says "created" for as long as it exists, and that is all a
// restarted apiserver needs: Recover takes over an ephemeral container
// whose program still runs and removes any other (recoverEphemeral), as
// docker removes --rm containers at its start. Other containers' changes
// are all durable.
type records struct {
	Store

	mu  sync.Mutex
	mem map[string]Container // ephemeral containers changed since their create
}

func newRecords(s Store) *records { return &records{Store: s, mem: map[string]Container{}} }

// Get returns the in-memory record of an ephemeral container, if any.
func (r *records) Get(ctx context.Context, id string) (Container, error) {
	r.mu.Lock()
	c, ok := r.mem[id]
	r.mu.Unlock()
	if ok {
		return c, nil
	}
	return r.Store.Get(ctx, id)
}

// List returns the store's records with the in-memory ones in their place.
func (r *records) List(ctx context.Context) ([]Container, error) {
	cs, err := r.Store.List(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, c := range cs {
		if m, ok := r.mem[c.ID]; ok {
			cs[i] = m
		}
	}
	return cs, err
}

// Update keeps an ephemeral container's change in memory (the durable
// record must exist: ErrNotFound otherwise) and writes any other.
func (r *records) Update(ctx context.Context, c Container) error {
	if !c.Spec.Ephemeral {
		return r.Store.Update(ctx, c)
	}
	r.mu.Lock()
	_, ok := r.mem[c.ID]
	r.mu.Unlock()
	if !ok {
		if _, err := r.Store.Get(ctx, c.ID); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.mem[c.ID] = c
	r.mu.Unlock()
	return nil
}

// Delete deletes the durable record, then the in-memory one.
func (r *records) Delete(ctx context.Context, id string) error {
	if err := r.Store.Delete(ctx, id); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.mem, id)
	r.mu.Unlock()
	return nil
}
