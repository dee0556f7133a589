package password

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// MemoryBudget is what the default number of concurrent hashes may hold at once: argon2id holds
// its whole memory parameter (19 MiB under Default) for the time of one hash.
const MemoryBudget = 256 << 20 // bytes

// DefaultWait is how long a Limiter lets a hash wait for a free slot before refusing it: a few
// hashes' time, so that a handful of logins at once all get through, while a burst is refused
// within a moment. Waiting holds no hash memory.
const DefaultWait = 200 * time.Millisecond

// ErrBusy is returned by a Limiter's methods when every slot stayed taken for the limiter's wait:
// the caller answers at once (503 or 429) rather than queue behind the hashes under way.
var ErrBusy = errors.New("password: too many password hashes at once")

// DefaultConcurrency is the default number of hashes computed at once: two per GOMAXPROCS, at most
// what fits in MemoryBudget under Default (13 at 19 MiB), at least 1.
func DefaultConcurrency() int {
	n := 2 * runtime.GOMAXPROCS(0)
	if byMemory := int(MemoryBudget / (uint64(Default.Memory) * 1024)); n > byMemory {
		n = byMemory
	}
	return max(n, 1)
}

// Limiter bounds the number of password hashes (Hash, Verify, VerifyDummy) computed at once, so
// that a burst of logins cannot hold more than N times the hash's memory. A hash that finds no
// slot free waits at most Wait for one, then fails with ErrBusy without hashing. One Limiter is
// shared by everything in the process that hashes on a request's behalf. A nil *Limiter does not
// limit.
type Limiter struct {
	slots chan struct{}
	wait  time.Duration
}

// NewLimiter returns a Limiter of n slots (at least 1) whose hashes wait at most wait for one.
func NewLimiter(n int, wait time.Duration) *Limiter {
	return &Limiter{slots: make(chan struct{}, max(n, 1)), wait: wait}
}

// Size is the number of hashes the limiter lets run at once; 0 for a nil Limiter (no limit).
func (l *Limiter) Size() int {
	if l == nil {
		return 0
	}
	return cap(l.slots)
}

// InUse is the number of slots taken now.
func (l *Limiter) InUse() int {
	if l == nil {
		return 0
	}
	return len(l.slots)
}

// Hash is the package's Hash, in a slot.
func (l *Limiter) Hash(ctx context.Context, password string) (string, error) {
	if err := l.acquire(ctx); err != nil {
		return "", err
	}
	defer l.release()
	return Hash(password)
}

// Verify is the package's Verify, in a slot.
func (l *Limiter) Verify(ctx context.Context, encoded, password string) error {
	if err := l.acquire(ctx); err != nil {
		return err
	}
	defer l.release()
	return Verify(encoded, password)
}

// VerifyDummy is the package's VerifyDummy, in a slot: it returns ErrBusy or ErrMismatch.
func (l *Limiter) VerifyDummy(ctx context.Context, password string) error {
	if err := l.acquire(ctx); err != nil {
		return err
	}
	defer l.release()
	return VerifyDummy(password)
}

// Acquire takes a slot as the limiter's hashes do, for a caller that holds one across several
// steps; it returns the slot's release, or ErrBusy or the context's error.
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	if err := l.acquire(ctx); err != nil {
		return nil, err
	}
	return l.release, nil
}

// acquire takes a slot: at once when one is free, else within the limiter's wait. It fails with
// ErrBusy, or with the context's error when ctx ends first.
func (l *Limiter) acquire(ctx context.Context) error {
	if l == nil {
		return nil
	}
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	if l.wait <= 0 {
		return ErrBusy
	}
	timer := time.NewTimer(l.wait)
	defer timer.Stop()
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-timer.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Limiter) release() {
	if l != nil {
		<-l.slots
	}
}

// Counts describe the argon2id computations of the process, whether or not a Limiter admitted
// them: for metrics, and for tests that check the limit holds.
type Counts struct {
	Running int    // under way now
	Peak    int    // the most under way at once since the process started or ResetPeak
	Total   uint64 // finished or under way since the process started
}

var running, peak atomic.Int64
var total atomic.Uint64

// ReadCounts returns the process's argon2id counts.
func ReadCounts() Counts {
	return Counts{Running: int(running.Load()), Peak: int(peak.Load()), Total: total.Load()}
}

// ResetPeak sets the peak to the number of computations under way now.
func ResetPeak() { peak.Store(running.Load()) }

// idKey is argon2.IDKey, counted: every hash of the package goes through it.
func idKey(password, salt []byte, passes, memory uint32, threads uint8, keyLen uint32) []byte {
	n := running.Add(1)
	total.Add(1)
	for {
		p := peak.Load()
		if n <= p || peak.CompareAndSwap(p, n) {
			break
		}
	}
	defer func() {
		if running.Add(-1) == 0 {
			idle.arm()
		}
	}()
	return argon2.IDKey(password, salt, passes, memory, threads, keyLen)
}

// FreeMemoryWhenIdle makes the process return its free memory to the system
// (runtime/debug.FreeOSMemory) once no argon2id computation has been under way for d. Each one
// leaves its memory parameter (19 MiB under Default) behind as garbage, which an idle Go process
// keeps resident until its next collection, up to two minutes later, and then gives back only
// gradually. The release waits for a pause in the hashing, so a burst of logins pays for one
// collection at its end, not one per hash. d <= 0 turns it off, as it is by default.
func FreeMemoryWhenIdle(d time.Duration) {
	idle.mu.Lock()
	defer idle.mu.Unlock()
	idle.after = d
	if d <= 0 && idle.timer != nil {
		idle.timer.Stop()
	}
}

// freeOSMemory is debug.FreeOSMemory; tests count its calls.
var freeOSMemory = debug.FreeOSMemory

// idle is the pending release of FreeMemoryWhenIdle.
var idle idleRelease

type idleRelease struct {
	mu    sync.Mutex
	after time.Duration
	timer *time.Timer
}

// arm (re)starts the wait for the release, when one is asked for: the last computation under way
// has just ended.
func (r *idleRelease) arm() {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.after <= 0:
	case r.timer == nil:
		r.timer = time.AfterFunc(r.after, r.fire)
	default:
		r.timer.Reset(r.after)
	}
}

// fire releases the memory unless a computation started meanwhile: its end arms the wait again.
func (r *idleRelease) fire() {
	if running.Load() == 0 {
		freeOSMemory()
	}
}
