package authtest

import (
	"sync/atomic"
	"time"
)

// Clock is a clock a test moves: Start (the time of day when zero) plus what Advance added. Its
// Now is what the code under test takes as its clock (auth.Throttle.Now, testserver.Options.Now).
type Clock struct {
	Start  time.Time
	offset atomic.Int64
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	start := c.Start
	if start.IsZero() {
		start = time.Now()
	}
	return start.Add(time.Duration(c.offset.Load()))
}

// Advance moves the clock by d (back when d is negative).
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }
