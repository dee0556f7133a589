package webhook

import (
	"cmp"
	"net/http"
	"testing"
	"time"
)

// TestLeaseCoversTheBatch: a claim lasts until the last delivery of its batch has had its turn
// and its whole timeout, so a live worker's rows are not taken by another replica while they wait
// in its queue.
func TestLeaseCoversTheBatch(t *testing.T) {
	for _, tt := range []struct {
		timeout     time.Duration
		batch, conc int
		want        time.Duration
	}{
		{0, 0, 0, 5*DefaultTimeout + 30*time.Second}, // the defaults: 32 claimed, 8 at a time
		{time.Minute, 0, 0, 5*time.Minute + 30*time.Second},
		{time.Second, 10, 10, 2*time.Second + 30*time.Second},
		{time.Second, 10, 3, 5*time.Second + 30*time.Second},
	} {
		w := &Worker{Batch: tt.batch, Concurrency: tt.conc}
		if tt.timeout > 0 {
			w.Client = &http.Client{Timeout: tt.timeout}
		}
		timeout := cmp.Or(tt.timeout, DefaultTimeout)
		rounds := time.Duration((cmp.Or(tt.batch, DefaultBatch) + cmp.Or(tt.conc, DefaultConcurrency) - 1) / cmp.Or(tt.conc, DefaultConcurrency))
		if got := w.lease(); got != tt.want || got <= rounds*timeout {
			t.Errorf("timeout %v, batch %d, %d at a time: lease %v, want %v (more than %v)", tt.timeout, tt.batch, tt.conc, got, tt.want, rounds*timeout)
		}
	}
}
