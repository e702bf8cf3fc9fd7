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
//
// An ephemeral container that exited is removed at once (auto-removal):
// its durable record is deleted as soon as the exit is known
// (deleteDurable), beside the supervisor's end and the bundle's removal
// rather than after them, while the in-memory record stays until Delete.
// A crash in between leaves a bundle and state dir that no record names,
// which Recover removes (removeOrphanDirs).
type records struct {
	Store

	mu  sync.Mutex
	mem map[string]Container // ephemeral containers changed since their create
	// early: the durable deletions started by deleteDurable; done is
	// closed once err is set.
	early map[string]*earlyDelete
}

type earlyDelete struct {
	done chan struct{}
	err  error
}

func newRecords(s Store) *records {
	return &records{Store: s, mem: map[string]Container{}, early: map[string]*earlyDelete{}}
}

// deleteDurable starts deleting the durable record of the ephemeral
// container id, whose in-memory record (it must have one) stays until
// Delete.
func (r *records) deleteDurable(id string) {
	e := &earlyDelete{done: make(chan struct{})}
	r.mu.Lock()
	if _, ok := r.mem[id]; !ok || r.early[id] != nil {
		r.mu.Unlock()
		return
	}
	r.early[id] = e
	r.mu.Unlock()
	go func() {
		defer close(e.done)
		e.err = r.Store.Delete(context.Background(), id)
	}()
}

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

// List returns the store's records with the in-memory ones in their
// place, and those whose durable record is being deleted early.
func (r *records) List(ctx context.Context) ([]Container, error) {
	cs, err := r.Store.List(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	listed := make(map[string]bool, len(cs))
	for i, c := range cs {
		listed[c.ID] = true
		if m, ok := r.mem[c.ID]; ok {
			cs[i] = m
		}
	}
	for id := range r.early {
		if m, ok := r.mem[id]; ok && !listed[id] {
			cs = append(cs, m)
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

// Delete deletes the durable record (or waits for its early deletion),
// then the in-memory one.
func (r *records) Delete(ctx context.Context, id string) error {
	r.mu.Lock()
	e := r.early[id]
	r.mu.Unlock()
	if e != nil {
		select {
		case <-e.done:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	if e == nil || e.err != nil {
		if err := r.Store.Delete(ctx, id); err != nil {
			return err
		}
	}
	r.mu.Lock()
	delete(r.mem, id)
	if r.early[id] == e {
		delete(r.early, id)
	}
	r.mu.Unlock()
	return nil
}
