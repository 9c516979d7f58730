package conntrack

// PeekTemplate returns the ID and dest ID of the hashed template for k,
// if there is one, without touching it (for tracing: whether a new
// connection will use a template or make one).
func (ts *Templates) PeekTemplate(k TemplateKey) (id, destID uint32, ok bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	id, ok = ts.index[k]
	if !ok {
		return 0, 0, false
	}
	return id, ts.slots[id-1].destID, true
}
