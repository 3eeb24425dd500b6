package state

// What another backend needs of this package to record runs as the local
// one does.

// EncodeRun checks r as Put does and returns its JSON encoding, and the
// run a reader decodes from it: what a backend stores and keeps.
func EncodeRun(r *Run) (js string, stored *Run, err error) {
	items, err := encode([]*Run{r})
	if err != nil {
		return "", nil, err
	}
	return items[0].json, items[0].copy, nil
}

// DecodeRun decodes a run that EncodeRun encoded.
func DecodeRun(js string) (*Run, error) { return decodeRun(js) }

// CompareRuns orders runs by CreatedAt, then ID.
func CompareRuns(a, b *Run) int { return compareRuns(a, b) }

// ListSome joins the first few of names, saying how many more there are.
func ListSome(names []string) string { return listSome(names) }

// Fill completes the zero fields of h from this process: its pid, host,
// program name and the time now.
func (h Holder) Fill() Holder { return h.fill() }
