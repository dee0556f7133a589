package password

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestDefaultConcurrency(t *testing.T) {
	for _, procs := range []int{1, 2, 4, 6, 7, 64} {
		t.Run("", func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			want := min(2*procs, 13) // 256 MiB / 19 MiB
			if got := DefaultConcurrency(); got != want {
				t.Fatalf("GOMAXPROCS %d: DefaultConcurrency = %d, want %d", procs, got, want)
			}
		})
	}
}

func TestLimiterSlots(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"busy at once without a wait", func(t *testing.T) {
			l := NewLimiter(2, 0)
			for range 2 {
				if err := l.acquire(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.acquire(ctx); !errors.Is(err, ErrBusy) {
				t.Fatalf("third acquire = %v, want ErrBusy", err)
			}
			if l.InUse() != 2 || l.Size() != 2 {
				t.Fatalf("InUse %d, Size %d", l.InUse(), l.Size())
			}
			l.release()
			if err := l.acquire(ctx); err != nil {
				t.Fatalf("acquire after a release = %v", err)
			}
		}},
		{"busy after the wait", func(t *testing.T) {
			l := NewLimiter(1, 30*time.Millisecond)
			_ = l.acquire(ctx)
			start := time.Now()
			if err := l.acquire(ctx); !errors.Is(err, ErrBusy) {
				t.Fatalf("acquire = %v, want ErrBusy", err)
			}
			if d := time.Since(start); d < 30*time.Millisecond || d > time.Second {
				t.Fatalf("refused after %s, want the 30ms wait", d)
			}
		}},
		{"a slot freed within the wait is taken", func(t *testing.T) {
			l := NewLimiter(1, 5*time.Second)
			_ = l.acquire(ctx)
			time.AfterFunc(20*time.Millisecond, l.release)
			if err := l.acquire(ctx); err != nil {
				t.Fatalf("acquire = %v", err)
			}
		}},
		{"the request ends while waiting", func(t *testing.T) {
			l := NewLimiter(1, 5*time.Second)
			_ = l.acquire(ctx)
			cctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(20*time.Millisecond, cancel)
			if err := l.acquire(cctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("acquire = %v, want context.Canceled", err)
			}
		}},
		{"a held slot makes the hashes wait", func(t *testing.T) {
			l := NewLimiter(1, 0)
			release, err := l.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			before := ReadCounts().Total
			if err := l.VerifyDummy(ctx, "x"); !errors.Is(err, ErrBusy) {
				t.Fatalf("VerifyDummy = %v, want ErrBusy", err)
			}
			if _, err := l.Hash(ctx, "x"); !errors.Is(err, ErrBusy) {
				t.Fatalf("Hash = %v, want ErrBusy", err)
			}
			if n := ReadCounts().Total - before; n != 0 {
				t.Fatalf("%d hashes computed without a slot", n)
			}
			release()
			if err := l.VerifyDummy(ctx, "x"); !errors.Is(err, ErrMismatch) {
				t.Fatalf("VerifyDummy after the release = %v", err)
			}
		}},
		{"a nil limiter does not limit", func(t *testing.T) {
			var l *Limiter
			h, err := l.Hash(ctx, "correct horse battery staple")
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Verify(ctx, h, "correct horse battery staple"); err != nil {
				t.Fatal(err)
			}
			if l.Size() != 0 || l.InUse() != 0 {
				t.Fatal("a nil limiter has slots")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

// TestLimiterBoundsHashes runs more hashes than slots at once: the counts see no more than the
// slots under way and every hash done, and the limiter's methods answer as the package's do.
func TestLimiterBoundsHashes(t *testing.T) {
	ctx := context.Background()
	h, err := Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	l := NewLimiter(2, time.Minute)
	ResetPeak()
	before := ReadCounts().Total
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			switch i % 3 {
			case 0:
				errs <- l.Verify(ctx, h, "correct horse battery staple")
			case 1:
				if err := l.VerifyDummy(ctx, "x"); !errors.Is(err, ErrMismatch) {
					errs <- err
				}
			default:
				_, err := l.Hash(ctx, "another password")
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	c := ReadCounts()
	if c.Peak < 1 || c.Peak > 2 || c.Total-before != 8 || c.Running != 0 {
		t.Fatalf("counts %+v (%d hashes), want a peak of 1 or 2 and 8 hashes", c, c.Total-before)
	}
}

// TestFreeMemoryWhenIdle counts the process's releases of memory after hashes: one after a pause
// in the hashing, however many hashes ran before it, and none when it is off.
func TestFreeMemoryWhenIdle(t *testing.T) {
	var frees atomic.Int32
	freeOSMemory = func() { frees.Add(1) }
	t.Cleanup(func() {
		FreeMemoryWhenIdle(0)
		freeOSMemory = debug.FreeOSMemory
	})
	const after = 50 * time.Millisecond
	// settled waits long enough for a pending release to have happened and returns the count.
	settled := func() int32 {
		time.Sleep(10 * after)
		return frees.Swap(0)
	}
	hash := func() {
		if _, err := Hash("correct horse battery staple"); err != nil {
			t.Error(err)
		}
	}

	hash()
	if n := settled(); n != 0 {
		t.Fatalf("%d releases while off, want 0", n)
	}
	FreeMemoryWhenIdle(after)
	hash()
	if n := settled(); n != 1 {
		t.Fatalf("%d releases after one hash, want 1", n)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(hash)
	}
	wg.Wait()
	hash()
	if n := settled(); n != 1 {
		t.Fatalf("%d releases after a burst of hashes, want 1", n)
	}
	FreeMemoryWhenIdle(0)
	hash()
	if n := settled(); n != 0 {
		t.Fatalf("%d releases after turning it off, want 0", n)
	}
}
