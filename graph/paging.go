package graph

// Page sizes for connections: a request without first or last gets DefaultPageSize items, and no
// request gets more than MaxPageSize.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
)

// pageSize checks first and last against MaxPageSize and fills in the default.
func pageSize(first, last *int) (*int, *int, error) {
	for name, n := range map[string]*int{"first": first, "last": last} {
		if n == nil {
			continue
		}
		if *n < 0 {
			return nil, nil, BadInput(name, "%s must not be negative", name)
		}
		if *n > MaxPageSize {
			return nil, nil, BadInput(name, "%s must be at most %d", name, MaxPageSize)
		}
	}
	if first == nil && last == nil {
		n := DefaultPageSize
		first = &n
	}
	return first, last, nil
}
